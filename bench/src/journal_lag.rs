//! Inbound journal lag: how long after a work note is written in the ServiceNow instance it is
//! visible as an alert comment through GraphQL. The instance is the project's simulator, in this
//! process, so the note's write and its sighting are stamped by one clock.
//!
//! Setup: a (one-way) connection to the simulator, whose business rule creates one alert per
//! incident through the webhook, and the journal poll at its interval (`poll_seconds`, the
//! default 60 s unless given). Measured phase: notes written one every `spacing`, spread over the
//! incidents; each note's update fires the business rule, whose webhook event makes Glidepath
//! read the incident's journal at once. Baseline, in the same run and on the same server: the
//! same notes with the business rule turned off, so only the periodic poll brings them in.
//! One observer reads every alert's comments through GraphQL every 25 ms and stamps when each
//! note first shows, so the figures include up to 25 ms of sighting delay.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdrhistogram::Histogram;
use reqwest::Client;
use serde_json::{Value, json};
use servicenow_sim::{Config, RunningSimulator, Simulator};
use tokio::sync::Mutex;

use crate::glidepath::{self, Server, str_at};

pub struct Spec {
    pub incidents: usize,
    pub notes: usize,
    pub baseline_notes: usize,
    pub poll_seconds: u64,
}

pub struct Phase {
    pub notes: usize,
    pub lag: Histogram<u64>,
}

impl Phase {
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.lag.value_at_quantile(q) as f64 / 1000.0
    }
}

pub struct JournalLag {
    pub with_webhook: Phase,
    pub poll_only: Phase,
}

const OBSERVE_EVERY: Duration = Duration::from_millis(25);

pub async fn run(
    bin: &std::path::Path,
    dir: &std::path::Path,
    client: &Client,
    spec: &Spec,
) -> Result<JournalLag> {
    let sim = Simulator::start(Config::default())
        .await
        .context("starting the ServiceNow simulator")?;
    let poll = spec.poll_seconds.to_string();
    let server = Server::start_with(
        bin,
        dir,
        &[
            ("GLIDEPATH_ALLOW_INSECURE_SERVICENOW", "true"),
            ("GLIDEPATH_SERVICENOW_HOSTS", "127.0.0.1"),
            ("GLIDEPATH_SERVICENOW_JOURNAL_POLL_SECONDS", &poll),
            ("GLIDEPATH_SERVICENOW_POLL_SECONDS", "0"),
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
                bidirectional: false
            }) { id }
        }",
        json!({ "id": setup.source_id, "url": sim.url() }),
    )
    .await
    .context("configuring the connection")?;
    sim.state().set_webhooks(vec![setup.webhook_url.clone()]);
    let incidents = create_incidents(&sim, spec.incidents)?;
    wait_alerts(&gql, &setup, spec.incidents).await?;

    // The webhook on: each note's update posts the incident, and its journal is read at once.
    let spacing = Duration::from_millis(50);
    let with_webhook = phase(&sim, &gql, &setup, &incidents, spec.notes, spacing, "w").await?;
    // The webhook off: only the periodic poll reads the notes. Spread over two intervals.
    sim.state().set_webhooks(Vec::new());
    let spread = Duration::from_secs(spec.poll_seconds * 2);
    let spacing = spread / spec.baseline_notes.max(1) as u32;
    let poll_only = phase(
        &sim,
        &gql,
        &setup,
        &incidents,
        spec.baseline_notes,
        spacing,
        "p",
    )
    .await?;
    server.stop().await?;
    sim.stop().await;
    Ok(JournalLag {
        with_webhook,
        poll_only,
    })
}

fn create_incidents(sim: &RunningSimulator, n: usize) -> Result<Vec<String>> {
    (0..n)
        .map(|i| {
            let record = sim
                .state()
                .create_incident(&[
                    ("short_description", &format!("Journal bench incident {i}")),
                    ("impact", "2"),
                    ("urgency", "2"),
                ])
                .map_err(|e| anyhow::anyhow!("creating an incident: {e}"))?;
            record
                .get("sys_id")
                .cloned()
                .context("an incident without sys_id")
        })
        .collect()
}

async fn wait_alerts(gql: &glidepath::Gql<'_>, setup: &glidepath::Setup, n: usize) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let page = gql
            .call(
                Some(&setup.token),
                "query($s: ID) { alerts(alertSourceId: $s) { totalCount } }",
                json!({ "s": setup.source_id }),
            )
            .await?;
        if page.pointer("/alerts/totalCount").and_then(Value::as_u64) >= Some(n as u64) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("the alerts of the bench incidents were not created");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes `notes` work notes, one every `spacing`, and measures when each shows as a comment.
async fn phase(
    sim: &RunningSimulator,
    gql: &glidepath::Gql<'_>,
    setup: &glidepath::Setup,
    incidents: &[String],
    notes: usize,
    spacing: Duration,
    tag: &str,
) -> Result<Phase> {
    let written: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let seen: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let done = Arc::new(tokio::sync::Notify::new());
    let observer = {
        let (written, seen, done) = (written.clone(), seen.clone(), done.clone());
        async move {
            loop {
                let page = gql
                    .call(
                        Some(&setup.token),
                        "query($s: ID) { alerts(alertSourceId: $s, first: 100) { nodes { comments { body } } } }",
                        json!({ "s": setup.source_id }),
                    )
                    .await?;
                let at = Instant::now();
                let bodies: Vec<String> = page
                    .pointer("/alerts/nodes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .flat_map(|n| n["comments"].as_array().cloned().unwrap_or_default())
                    .filter_map(|c| str_at(&c, "/body").ok())
                    .collect();
                {
                    let mut seen = seen.lock().await;
                    for body in bodies {
                        seen.entry(body).or_insert(at);
                    }
                    let written = written.lock().await;
                    if written.len() == notes && written.keys().all(|k| seen.contains_key(k)) {
                        done.notify_one();
                        return Ok::<_, anyhow::Error>(());
                    }
                }
                tokio::time::sleep(OBSERVE_EVERY).await;
            }
        }
    };
    let writer = {
        let written = written.clone();
        async move {
            for i in 0..notes {
                let body = format!("journal bench {tag} {i}");
                let sys_id = &incidents[i % incidents.len()];
                written.lock().await.insert(body.clone(), Instant::now());
                sim.state()
                    .update_incident(sys_id, &[("work_notes", &body)], "beth.anglin")
                    .map_err(|e| anyhow::anyhow!("writing a work note: {e}"))?;
                tokio::time::sleep(spacing).await;
            }
            Ok::<_, anyhow::Error>(())
        }
    };
    let limit = spacing * notes as u32 + Duration::from_secs(180);
    let (observed, wrote) = tokio::time::timeout(limit, async { tokio::join!(observer, writer) })
        .await
        .context("the notes did not all show as comments in time")?;
    observed?;
    wrote?;
    let written = written.lock().await;
    let seen = seen.lock().await;
    let mut lag = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    for (body, at) in written.iter() {
        let shown = seen.get(body).context("a note never showed")?;
        let micros = shown.saturating_duration_since(*at).as_micros().max(1);
        lag.record(micros as u64)?;
    }
    Ok(Phase {
        notes: written.len(),
        lag,
    })
}
