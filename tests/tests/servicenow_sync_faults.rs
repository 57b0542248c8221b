//! The outbound sync when the instance misbehaves: down for a while, rate limiting, refusing,
//! answering garbage or not at all; a restart with updates pending; two processes on one
//! PostgreSQL. Every update arrives once, in order, or is marked FAILED with the reason.

mod sync_support;

use std::time::{Duration, Instant};

use glidepath_tests::*;
use serde_json::{Value, json};
use servicenow_sim::Faults;
use sync_support::*;

const SETTLE: Duration = Duration::from_secs(15);

/// The work notes the instance accepted for the incident, in the order it accepted them.
fn delivered_notes(w: &World, sys_id: &str) -> Vec<String> {
    w.patch_bodies(sys_id)
        .iter()
        .filter_map(|b| {
            b.get("work_notes")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .collect()
}

async fn wait_attempts(w: &World, alert_id: &str, at_least: i64) -> Value {
    eventually(SETTLE, "failed attempts", || async {
        let sync = w.sync(alert_id).await;
        let status = &sync["syncStatus"];
        // A last error means the attempt is over (not in flight).
        (status["state"] == "PENDING"
            && status["attempts"].as_i64() >= Some(at_least)
            && status["lastError"].is_string())
        .then_some(sync)
    })
    .await
}

#[tokio::test]
async fn an_instance_down_for_a_while_gets_every_update_once_in_order() {
    let w = World::start().await;
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;

    w.sim.set_fault(Faults::error(503, None));
    let notes: Vec<String> = (1..=4).map(|i| format!("note {i}")).collect();
    w.comment(&w.token, &alert_id, &notes[0]).await;
    w.comment(&w.token, &alert_id, &notes[1]).await;
    let sync = wait_attempts(&w, &alert_id, 3).await;
    assert!(
        sync["syncStatus"]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{sync}"
    );
    // Then connections dropped without an answer.
    w.sim.set_fault(Faults::drop_connection(None));
    w.comment(&w.token, &alert_id, &notes[2]).await;
    let before = w.sim.state().requests().len();
    eventually(SETTLE, "dropped attempts", || async {
        (w.sim.state().requests().len() >= before + 2).then_some(())
    })
    .await;
    w.sim.set_fault(Faults::none());
    w.comment(&w.token, &alert_id, &notes[3]).await;

    let sync = w.settled(&alert_id, SETTLE).await;
    assert!(states(&sync).iter().all(|s| s == "SYNCED"), "{sync}");
    assert_eq!(delivered_notes(&w, &sys_id), notes, "each once, in order");
    let journal: Vec<String> = w
        .sim
        .state()
        .journal(&sys_id)
        .iter()
        .map(|j| field(j, "value"))
        .collect();
    assert_eq!(journal, notes);
}

#[tokio::test]
async fn garbage_and_hanging_answers_are_retried_until_the_instance_recovers() {
    let w = World::start().await;
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;

    // A hibernating instance answers 200 with an HTML page.
    w.sim.set_fault(Faults::hibernate());
    w.comment(&w.token, &alert_id, "during hibernation").await;
    let sync = wait_attempts(&w, &alert_id, 2).await;
    assert!(
        sync["syncStatus"]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("hibernating")),
        "{sync}"
    );
    // An instance that takes longer than the timeout (1 s) to answer.
    w.sim.set_fault(Faults::latency(1500));
    let sync = eventually(SETTLE, "a timeout", || async {
        let sync = w.sync(&alert_id).await;
        sync["syncStatus"]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("did not answer"))
            .then_some(sync)
    })
    .await;
    assert_eq!(sync["syncStatus"]["state"], "PENDING");
    w.sim.set_fault(Faults::none());
    let sync = w.settled(&alert_id, SETTLE).await;
    assert_eq!(sync["syncStatus"]["state"], "SYNCED", "{sync}");
    let journal = w.sim.state().journal(&sys_id);
    let copies = journal
        .iter()
        .filter(|j| field(j, "value") == "during hibernation")
        .count();
    // A request that timed out may still have been applied by the instance; ServiceNow's
    // journal would then show the note twice, as it would for any client. The HTML answers
    // wrote nothing.
    assert!((1..=2).contains(&copies), "{journal:?}");
    // The server is still healthy.
    let health = w
        .app
        .client
        .get(w.app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn a_429_is_retried_no_sooner_than_retry_after() {
    let w = World::start().await;
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;
    w.sim.set_fault(Faults::rate_limit(2, Some(1)));
    let started = Instant::now();
    w.comment(&w.token, &alert_id, "rate limited").await;
    let sync = w.settled(&alert_id, SETTLE).await;
    let waited = started.elapsed();
    let update = sync["syncUpdates"]
        .as_array()
        .and_then(|u| u.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(update["state"], "SYNCED", "{sync}");
    assert_eq!(update["attempts"], 2);
    assert!(
        waited >= Duration::from_millis(1900),
        "delivered after {waited:?}, before Retry-After"
    );
    let requests = w.sim.state().requests();
    let patches: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with(&sys_id))
        .map(|r| r.status)
        .collect();
    assert_eq!(patches[patches.len() - 2..], [Some(429), Some(200)]);
}

#[tokio::test]
async fn a_refused_update_fails_with_servicenows_message_and_retry_sync_sends_it() {
    let w = World::start().await;
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;
    w.sim.set_fault(Faults::error(400, Some(1)));
    w.comment(&w.token, &alert_id, "first").await;
    let sync = eventually(SETTLE, "a failure", || async {
        let sync = w.sync(&alert_id).await;
        (sync["syncStatus"]["state"] == "FAILED").then_some(sync)
    })
    .await;
    let status = &sync["syncStatus"];
    assert_eq!(status["attempts"], 1, "a 4xx is not retried: {sync}");
    assert!(
        status["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("400") && e.contains("Bad Request")),
        "{sync}"
    );
    let alert = w.app.alert(&alert_id).await;
    assert_eq!(log_entries_of(&alert, "SYNC_FAILED").len(), 1, "{alert}");

    // A later update is not held back by a failed one; the alert stays FAILED until retried.
    w.comment(&w.token, &alert_id, "second").await;
    let sync = eventually(SETTLE, "the second update", || async {
        let sync = w.sync(&alert_id).await;
        (states(&sync).last().map(String::as_str) == Some("SYNCED")).then_some(sync)
    })
    .await;
    assert_eq!(sync["syncStatus"]["state"], "FAILED");

    let retried = w
        .app
        .gql(
            &w.token,
            &format!("mutation($id: ID!) {{ retrySync(alertId: $id) {{ {SYNC_FIELDS} }} }}"),
            json!({ "id": alert_id }),
        )
        .await;
    assert_ne!(retried["retrySync"]["syncStatus"]["state"], "FAILED");
    let sync = w.settled(&alert_id, SETTLE).await;
    assert_eq!(sync["syncStatus"]["state"], "SYNCED", "{sync}");
    assert_eq!(delivered_notes(&w, &sys_id), vec!["second", "first"]);
    let alert = w.app.alert(&alert_id).await;
    assert_eq!(log_entries_of(&alert, "SYNC_RETRIED").len(), 1);
}

#[tokio::test]
async fn a_restarted_server_delivers_the_updates_left_pending() {
    let World {
        app,
        sim,
        token,
        source,
    } = World::start_with(
        // A short timeout keeps the claim of an update in flight at the kill short (16 × it).
        options().env("GLIDEPATH_SERVICENOW_TIMEOUT_MS", "250"),
    )
    .await;
    let w = World {
        app,
        sim,
        token,
        source,
    };
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;
    w.sim.set_fault(Faults::error(503, None));
    w.comment(&w.token, &alert_id, "before the crash").await;
    w.raise(&w.token, &alert_id).await;
    // Killed while the instance is down: an update in flight at that moment is tried again
    // once its claim lapses.
    wait_attempts(&w, &alert_id, 2).await;

    let World {
        app,
        sim,
        token: _,
        source,
    } = w;
    let options = app.options().clone();
    let db = app.stop().await;
    sim.set_fault(Faults::none());
    let app = spawn_app_with(db, options).await;
    let token = app.admin_token().await;
    let w = World {
        app,
        sim,
        token,
        source,
    };
    let sync = w.settled(&alert_id, SETTLE).await;
    assert_eq!(sync["syncStatus"]["state"], "SYNCED", "{sync}");
    assert_eq!(delivered_notes(&w, &sys_id), vec!["before the crash"]);
    assert_eq!(field(&w.record(&sys_id), "priority"), "1");
}

#[tokio::test]
async fn two_processes_deliver_each_update_exactly_once() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: several processes share a database only on PostgreSQL");
        return;
    }
    let w = World::start().await;
    let sibling = w.app.spawn_sibling().await;
    let (sys_a, alert_a) = w.incident().await;
    let (sys_b, alert_b) = w.incident().await;
    w.settled(&alert_a, SETTLE).await;
    w.settled(&alert_b, SETTLE).await;
    w.sim.set_fault(Faults::latency(30));
    let sibling_token = sibling.admin_token().await;
    let mut expected_a = Vec::new();
    let mut expected_b = Vec::new();
    for i in 0..10 {
        let (a, b) = (format!("a{i}"), format!("b{i}"));
        // Changes arrive through both processes.
        w.comment(&w.token, &alert_a, &a).await;
        sibling
            .gql(
                &sibling_token,
                "mutation($id: ID!, $b: String!) { addComment(alertId: $id, body: $b) { id } }",
                json!({ "id": alert_b, "b": b }),
            )
            .await;
        expected_a.push(a);
        expected_b.push(b);
    }
    w.settled(&alert_a, SETTLE).await;
    w.settled(&alert_b, SETTLE).await;
    assert_eq!(delivered_notes(&w, &sys_a), expected_a);
    assert_eq!(delivered_notes(&w, &sys_b), expected_b);
    let sent = w.sim.state().patch_count();
    assert_eq!(
        sent,
        2 + 20,
        "two assignments and twenty comments, no duplicate"
    );
}
