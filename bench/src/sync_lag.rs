//! Outbound sync lag: how long after an alert change is committed in Glidepath the ServiceNow
//! instance receives the PATCH that carries it. The instance is the project's simulator, in
//! this process, so the change's commit (the GraphQL answer) and the PATCH's arrival are
//! stamped by one clock.
//!
//! Setup: a bidirectional connection to the simulator, whose business rule creates one alert
//! per incident through the webhook. Load: `concurrency` clients each add comments in a closed
//! loop, spread over the incidents; every comment becomes one `work_notes` PATCH. Updates of one
//! incident are delivered one after the other, and at most 4 requests run against the
//! instance at a time, so the lag includes the wait behind earlier updates.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use hdrhistogram::Histogram;
use reqwest::Client;
use serde_json::{Value, json};
use servicenow_sim::{Config, Faults, RunningSimulator, Simulator};
use tokio::sync::Mutex;

use crate::glidepath::{self, Server, str_at};

pub struct Spec {
    pub changes: usize,
    pub concurrency: usize,
    pub incidents: usize,
    pub instance_latency_ms: u64,
}

pub struct Lag {
    pub changes: usize,
    pub changes_per_s: f64,
    pub lag: Histogram<u64>,
}

impl Lag {
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.lag.value_at_quantile(q) as f64 / 1000.0
    }
}

const SETTLE: Duration = Duration::from_secs(180);

pub async fn run(
    bin: &std::path::Path,
    dir: &std::path::Path,
    client: &Client,
    spec: &Spec,
) -> Result<Lag> {
    let sim = Simulator::start(Config::default())
        .await
        .context("starting the ServiceNow simulator")?;
    let server = Server::start_with(
        bin,
        dir,
        &[
            ("GLIDEPATH_ALLOW_INSECURE_SERVICENOW", "true"),
            ("GLIDEPATH_SERVICENOW_HOSTS", "127.0.0.1"),
            ("GLIDEPATH_SERVICENOW_JOURNAL_POLL_SECONDS", "3600"),
        ],
    )
    .await?;
    server.wait_healthy(client).await?;
    let setup = server.setup(client).await?;
    let gql = server.gql(client);
    gql.call(
        Some(&setup.token),
        "mutation($id: ID!, $url: String!) {
            configureServiceNow(alertSourceId: $id, input: {
                instanceUrl: $url, username: \"glidepath\", password: \"glidepath-secret\",
                bidirectional: true
            }) { id }
        }",
        json!({ "id": setup.source_id, "url": sim.url() }),
    )
    .await
    .context("configuring the connection")?;
    // The admin the alerts are assigned to exists in the instance too, so assignments PATCH.
    let admin: servicenow_sim::Record = [
        ("user_name", "bench.admin"),
        ("name", "Bench Admin"),
        ("email", glidepath::ADMIN_EMAIL),
        ("active", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    sim.state()
        .insert("sys_user", &admin, "admin")
        .map_err(|e| anyhow::anyhow!("creating the admin's sys_user: {e}"))?;
    sim.state().set_webhooks(vec![setup.webhook_url.clone()]);

    let alerts = create_incidents(&sim, &gql, &setup, spec.incidents).await?;
    // Each new alert's first assignment is written before timing starts.
    wait_for(SETTLE, "the assignments of the new alerts", || {
        sim.state().patch_count() >= alerts.len()
    })
    .await?;
    if spec.instance_latency_ms > 0 {
        sim.set_fault(Faults::latency(spec.instance_latency_ms));
    }

    let committed: Arc<Mutex<HashMap<String, DateTime<Utc>>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let alerts = Arc::new(alerts);
    let started = Instant::now();
    let workers = (0..spec.concurrency).map(|_| {
        let (committed, next, alerts) = (committed.clone(), next.clone(), alerts.clone());
        let gql = server.gql(client);
        let token = setup.token.clone();
        let total = spec.changes;
        async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, anyhow::Error>(());
                }
                let body = format!("bench change {i}");
                // Stamped when the change is asked for: the lag includes the GraphQL call.
                committed.lock().await.insert(body.clone(), Utc::now());
                gql.call(
                    Some(&token),
                    "mutation($id: ID!, $b: String!) { addComment(alertId: $id, body: $b) { id } }",
                    json!({ "id": alerts[i % alerts.len()], "b": body }),
                )
                .await?;
            }
        }
    });
    for result in join_all(workers).await {
        result?;
    }
    let sent_in = started.elapsed();

    let committed = committed.lock().await.clone();
    let received = wait_received(&sim, &committed).await?;
    let mut lag = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    for (body, at) in &committed {
        let Some(arrived) = received.get(body) else {
            bail!("no PATCH carried {body:?}");
        };
        let micros = (*arrived - *at).num_microseconds().unwrap_or(0).max(1);
        lag.record(micros as u64)?;
    }
    server.stop().await?;
    sim.stop().await;
    Ok(Lag {
        changes: committed.len(),
        changes_per_s: committed.len() as f64 / sent_in.as_secs_f64(),
        lag,
    })
}

/// Creates incidents in the instance and returns their alerts' ids, once the business rule
/// has created them all.
async fn create_incidents(
    sim: &RunningSimulator,
    gql: &glidepath::Gql<'_>,
    setup: &glidepath::Setup,
    n: usize,
) -> Result<Vec<String>> {
    for i in 0..n {
        sim.state()
            .create_incident(&[
                ("short_description", &format!("Bench incident {i}")),
                ("impact", "2"),
                ("urgency", "2"),
            ])
            .map_err(|e| anyhow::anyhow!("creating an incident: {e}"))?;
    }
    let deadline = Instant::now() + SETTLE;
    loop {
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = gql
                .call(
                    Some(&setup.token),
                    "query($s: ID, $after: String) { alerts(alertSourceId: $s, first: 100, after: $after) {
                        nodes { id } pageInfo { hasNextPage endCursor } } }",
                    json!({ "s": setup.source_id, "after": after }),
                )
                .await?;
            for node in page
                .pointer("/alerts/nodes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                ids.push(str_at(node, "/id")?);
            }
            if page.pointer("/alerts/pageInfo/hasNextPage") != Some(&Value::Bool(true)) {
                break;
            }
            after = Some(str_at(&page, "/alerts/pageInfo/endCursor")?);
        }
        if ids.len() >= n {
            return Ok(ids);
        }
        if Instant::now() >= deadline {
            bail!("only {} of {n} alerts were created", ids.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// When the instance first accepted each change's PATCH (answered 200).
async fn wait_received(
    sim: &RunningSimulator,
    committed: &HashMap<String, DateTime<Utc>>,
) -> Result<HashMap<String, DateTime<Utc>>> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let mut received = HashMap::new();
        for r in sim.state().requests() {
            if r.method != "PATCH" || r.status != Some(200) {
                continue;
            }
            if let Some(note) = r
                .body
                .as_ref()
                .and_then(|b| b.get("work_notes"))
                .and_then(Value::as_str)
            {
                received.entry(note.to_string()).or_insert(r.received_at);
            }
        }
        if committed.keys().all(|k| received.contains_key(k)) {
            return Ok(received);
        }
        if Instant::now() >= deadline {
            bail!(
                "only {} of {} changes reached the instance within {SETTLE:?}",
                received.len(),
                committed.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for(timeout: Duration, what: &str, check: impl Fn() -> bool) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while !check() {
        if Instant::now() >= deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
