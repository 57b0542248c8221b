//! The inbound journal: work notes and comments written in ServiceNow become alert comments,
//! once, by the Glidepath user with the writer's e-mail (or named by the ServiceNow user), and
//! the notes Glidepath wrote itself are not imported back.

mod sync_support;

use std::time::Duration;

use glidepath_tests::*;
use serde_json::{Value, json};
use sync_support::*;

const SETTLE: Duration = Duration::from_secs(10);

fn journal_options() -> SpawnOptions {
    options().env("GLIDEPATH_SERVICENOW_JOURNAL_POLL_SECONDS", "1")
}

async fn comments(w: &World, alert_id: &str) -> Vec<Value> {
    w.app
        .gql(
            &w.token,
            "query($id: ID!) { alert(id: $id) { comments { body externalAuthor author { email } } } }",
            json!({ "id": alert_id }),
        )
        .await["alert"]["comments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn wait_comments(w: &World, alert_id: &str, n: usize) -> Vec<Value> {
    eventually(SETTLE, "imported comments", || async {
        let c = comments(w, alert_id).await;
        (c.len() >= n).then_some(c)
    })
    .await
}

#[tokio::test]
async fn journal_entries_become_comments_once_by_the_mapped_user() {
    let w = World::start_with(journal_options()).await;
    w.app
        .create_user(&w.token, "beth.anglin@example.com", "RESPONDER")
        .await;
    let (sys_id, alert_id) = w.incident().await;
    let state = w.sim.state();
    state
        .update_incident(
            &sys_id,
            &[("work_notes", "Rebooted the switch")],
            "beth.anglin",
        )
        .expect("work note");
    state
        .update_incident(
            &sys_id,
            &[("comments", "Users report it is back")],
            "fred.luddy",
        )
        .expect("comment");

    let imported = wait_comments(&w, &alert_id, 2).await;
    assert_eq!(imported[0]["body"], "Rebooted the switch");
    assert_eq!(imported[0]["author"]["email"], "beth.anglin@example.com");
    assert!(imported[0]["externalAuthor"].is_null());
    assert_eq!(imported[1]["body"], "Users report it is back");
    assert!(
        imported[1]["author"].is_null(),
        "fred has no Glidepath account"
    );
    assert_eq!(imported[1]["externalAuthor"], "fred.luddy");

    // Later polls find nothing new.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(comments(&w, &alert_id).await.len(), 2, "imported once");
    let alert = w.app.alert(&alert_id).await;
    let logged: Vec<String> = log_entries_of(&alert, "COMMENTED")
        .iter()
        .map(|e| str_field(e, "actor"))
        .collect();
    assert_eq!(
        logged,
        vec![
            "ServiceNow (beth.anglin@example.com)",
            "ServiceNow (fred.luddy)"
        ]
    );
    // Nothing imported is written back.
    assert_eq!(kinds(&w.sync(&alert_id).await), vec!["ASSIGN"]);

    // A note added after the first import is picked up too.
    state
        .update_incident(
            &sys_id,
            &[("work_notes", "Root cause: bad optic")],
            "beth.anglin",
        )
        .expect("another work note");
    let imported = wait_comments(&w, &alert_id, 3).await;
    assert_eq!(imported[2]["body"], "Root cause: bad optic");
}

#[tokio::test]
async fn work_notes_glidepath_wrote_are_not_imported_back() {
    let w = World::start_with(journal_options()).await;
    let (sys_id, alert_id) = w.incident().await;
    w.comment(&w.token, &alert_id, "Written in Glidepath").await;
    w.settled(&alert_id, SETTLE).await;
    assert_eq!(
        w.sim.state().journal(&sys_id).len(),
        1,
        "the note reached ServiceNow"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let c = comments(&w, &alert_id).await;
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["author"]["email"], ADMIN_EMAIL);
    let polls = w
        .sim
        .state()
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/sys_journal_field"))
        .count();
    assert!(polls >= 2, "the journal was polled ({polls} times)");
}

#[tokio::test]
async fn two_processes_import_each_entry_once() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: several processes share a database only on PostgreSQL");
        return;
    }
    let w = World::start_with(journal_options()).await;
    let _sibling = w.app.spawn_sibling().await;
    let (sys_id, alert_id) = w.incident().await;
    let state = w.sim.state();
    for i in 0..5 {
        state
            .update_incident(
                &sys_id,
                &[("work_notes", &format!("note {i}"))],
                "beth.anglin",
            )
            .expect("work note");
    }
    wait_comments(&w, &alert_id, 5).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let bodies: Vec<Value> = comments(&w, &alert_id)
        .await
        .iter()
        .map(|c| c["body"].clone())
        .collect();
    assert_eq!(
        bodies,
        (0..5)
            .map(|i| json!(format!("note {i}")))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_work_note_arrives_with_its_webhook_event_not_at_the_next_poll() {
    // The journal poll runs once at start and then not for an hour: only the webhook event
    // the note's update fires can bring the note in.
    let w = World::start().await;
    w.app
        .create_user(&w.token, "beth.anglin@example.com", "RESPONDER")
        .await;
    let (sys_id, alert_id) = w.incident().await;
    let state = w.sim.state();
    state
        .update_incident(
            &sys_id,
            &[("work_notes", "Swapped the optic")],
            "beth.anglin",
        )
        .expect("work note");
    let imported = wait_comments(&w, &alert_id, 1).await;
    assert_eq!(imported[0]["body"], "Swapped the optic");
    assert_eq!(imported[0]["author"]["email"], "beth.anglin@example.com");

    // Several notes in a row: each imported once.
    for i in 0..4 {
        state
            .update_incident(
                &sys_id,
                &[("work_notes", &format!("step {i}"))],
                "fred.luddy",
            )
            .expect("work note");
    }
    wait_comments(&w, &alert_id, 5).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let bodies: Vec<Value> = comments(&w, &alert_id)
        .await
        .iter()
        .map(|c| c["body"].clone())
        .collect();
    assert_eq!(
        bodies,
        vec![
            json!("Swapped the optic"),
            json!("step 0"),
            json!("step 1"),
            json!("step 2"),
            json!("step 3")
        ]
    );
}

#[tokio::test]
async fn journal_reads_asked_for_by_webhook_events_are_shared_by_processes() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: several processes share a database only on PostgreSQL");
        return;
    }
    // The journal poll runs only at start: every note comes in through a webhook event's read,
    // claimed by whichever process gets to it first, and each is imported once.
    let w = World::start().await;
    let _sibling = w.app.spawn_sibling().await;
    let (sys_id, alert_id) = w.incident().await;
    let state = w.sim.state();
    for i in 0..6 {
        state
            .update_incident(
                &sys_id,
                &[("work_notes", &format!("shared {i}"))],
                "beth.anglin",
            )
            .expect("work note");
    }
    wait_comments(&w, &alert_id, 6).await;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let bodies: Vec<Value> = comments(&w, &alert_id)
        .await
        .iter()
        .map(|c| c["body"].clone())
        .collect();
    assert_eq!(
        bodies,
        (0..6)
            .map(|i| json!(format!("shared {i}")))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn the_work_note_written_with_the_resolution_reaches_the_resolved_alert() {
    // As above, only the webhook event can bring the note in; this event also resolves.
    let w = World::start().await;
    let (sys_id, alert_id) = w.incident().await;
    w.sim
        .state()
        .update_incident(
            &sys_id,
            &[
                ("state", "6"),
                ("close_code", "Solved (Permanently)"),
                ("close_notes", "Replaced the power supply"),
                ("work_notes", "PSU swapped, monitoring green"),
            ],
            "beth.anglin",
        )
        .expect("resolve with a work note");
    let imported = wait_comments(&w, &alert_id, 1).await;
    assert_eq!(imported[0]["body"], "PSU swapped, monitoring green");
}
