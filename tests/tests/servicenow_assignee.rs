//! Assignments made in ServiceNow: an incident's new `assigned_to` is logged naming the person
//! (the Glidepath user's e-mail, else the ServiceNow user name), makes a Glidepath user with that
//! e-mail the alert's assignee, is logged once, and is never written back; the reconciliation
//! poll names people as the webhook does.

mod sync_support;

use std::time::Duration;

use glidepath_tests::*;
use serde_json::Value;
use servicenow_sim::BETH_ANGLIN_SYS_ID;
use sync_support::*;

const SETTLE: Duration = Duration::from_secs(15);
const FRED_LUDDY_SYS_ID: &str = "5137153cc611227c000bbd1bd8cd2005";
const ABEL_TUTER_SYS_ID: &str = "46d44a23a9fe19810012d100cca80666";

fn assignments(alert: &Value) -> Vec<String> {
    log_entries_of(alert, "TICKET_UPDATED")
        .iter()
        .map(|e| str_field(e, "message").to_string())
        .filter(|m| m.starts_with("Assigned in ServiceNow"))
        .collect()
}

/// Waits until the alert's `sys_mod_count` reached the incident's: every event was applied.
async fn caught_up(w: &World, sys_id: &str, alert_id: &str) -> Value {
    let target = field(&w.record(sys_id), "sys_mod_count");
    eventually(SETTLE, "the event applied", || async {
        let deliveries = w.sim.state().deliveries();
        let delivered = deliveries
            .iter()
            .any(|d| d.sys_id == sys_id && d.sys_mod_count == target && d.status.is_some());
        delivered.then_some(())
    })
    .await;
    w.app.alert(alert_id).await
}

#[tokio::test]
async fn an_assignment_in_servicenow_names_the_person_and_is_not_written_back() {
    let w = World::start().await;
    w.app
        .create_user(&w.token, "beth.anglin@example.com", "RESPONDER")
        .await;
    let (sys_id, alert_id) = w.incident().await;
    // Level 1 assigned the admin and wrote it to the incident.
    w.settled(&alert_id, SETTLE).await;
    let patches = w.patches();
    let state = w.sim.state();

    // An event that carries Glidepath's own assignee is no assignment in ServiceNow.
    state
        .update_incident(
            &sys_id,
            &[("short_description", "Core switch down!")],
            "fred.luddy",
        )
        .expect("edit");
    let alert = caught_up(&w, &sys_id, &alert_id).await;
    assert_eq!(assignments(&alert), Vec::<String>::new(), "{alert}");

    // Assigned to a person who is a Glidepath user: named by e-mail, made the assignee.
    state
        .update_incident(
            &sys_id,
            &[("assigned_to", BETH_ANGLIN_SYS_ID)],
            "fred.luddy",
        )
        .expect("assign");
    // The alert row and its log are separate reads of one query: wait for both.
    let alert = eventually(SETTLE, "the assignment", || async {
        let alert = w.app.alert(&alert_id).await;
        let assigned = alert["assignedTo"]["email"] == "beth.anglin@example.com";
        (assigned && !assignments(&alert).is_empty()).then_some(alert)
    })
    .await;
    assert_eq!(
        assignments(&alert),
        vec!["Assigned in ServiceNow to beth.anglin@example.com"]
    );
    let entry = log_entries_of(&alert, "TICKET_UPDATED")
        .into_iter()
        .find(|e| str_field(e, "message").starts_with("Assigned"))
        .unwrap();
    assert_eq!(str_field(&entry, "actor"), "ServiceNow (fred.luddy)");
    assert_eq!(alert["assignedTo"]["email"], "beth.anglin@example.com");

    // The same assignee again: nothing new in the log.
    state
        .update_incident(
            &sys_id,
            &[("short_description", "Core switch still down")],
            "fred.luddy",
        )
        .expect("edit again");
    let alert = caught_up(&w, &sys_id, &alert_id).await;
    assert_eq!(assignments(&alert).len(), 1, "{alert}");

    // Someone with no Glidepath account: named by ServiceNow user name; the assignee stays.
    state
        .update_incident(&sys_id, &[("assigned_to", ABEL_TUTER_SYS_ID)], "fred.luddy")
        .expect("reassign");
    let alert = eventually(SETTLE, "the second assignment", || async {
        let alert = w.app.alert(&alert_id).await;
        (assignments(&alert).len() == 2).then_some(alert)
    })
    .await;
    assert_eq!(
        assignments(&alert)[1],
        "Assigned in ServiceNow to abel.tuter"
    );
    assert_eq!(alert["assignedTo"]["email"], "beth.anglin@example.com");

    // Nothing that came from ServiceNow went back.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        w.patches(),
        patches,
        "no PATCH for a change made in ServiceNow"
    );
    let sync = w.sync(&alert_id).await;
    assert_eq!(kinds(&sync), vec!["ASSIGN"], "{sync}");
}

#[tokio::test]
async fn the_poll_names_the_people_as_the_webhook_does() {
    let w = World::start_with(options().env("GLIDEPATH_SERVICENOW_POLL_SECONDS", "1")).await;
    w.sim.state().set_webhooks(Vec::new());
    w.app
        .create_user(&w.token, "beth.anglin@example.com", "RESPONDER")
        .await;
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;
    let patches = w.patches();

    w.sim
        .state()
        .update_incident(
            &sys_id,
            &[("assigned_to", FRED_LUDDY_SYS_ID)],
            "beth.anglin",
        )
        .expect("assign");
    let alert = eventually(SETTLE, "the polled assignment", || async {
        let alert = w.app.alert(&alert_id).await;
        (!assignments(&alert).is_empty()).then_some(alert)
    })
    .await;
    assert_eq!(
        assignments(&alert),
        vec!["Assigned in ServiceNow to fred.luddy"]
    );
    let entry = log_entries_of(&alert, "TICKET_UPDATED")
        .into_iter()
        .find(|e| str_field(e, "message").starts_with("Assigned"))
        .unwrap();
    assert_eq!(
        str_field(&entry, "actor"),
        "ServiceNow (beth.anglin@example.com)",
        "the poll maps sys_updated_by to the Glidepath user"
    );
    assert!(w.sim.state().deliveries().is_empty(), "the webhook is off");

    w.sim
        .state()
        .update_incident(
            &sys_id,
            &[("assigned_to", BETH_ANGLIN_SYS_ID)],
            "fred.luddy",
        )
        .expect("reassign");
    let alert = eventually(SETTLE, "the second polled assignment", || async {
        let alert = w.app.alert(&alert_id).await;
        let assigned = alert["assignedTo"]["email"] == "beth.anglin@example.com";
        (assigned && assignments(&alert).len() == 2).then_some(alert)
    })
    .await;
    assert_eq!(
        assignments(&alert)[1],
        "Assigned in ServiceNow to beth.anglin@example.com"
    );
    assert_eq!(alert["assignedTo"]["email"], "beth.anglin@example.com");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(assignments(&w.app.alert(&alert_id).await).len(), 2);
    assert_eq!(w.patches(), patches);
}

#[tokio::test]
async fn without_a_connection_the_assignee_is_named_by_sys_id() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    let link =
        format!("https://example.service-now.com/api/now/table/sys_user/{BETH_ANGLIN_SYS_ID}");
    let mut event = incident(&sys_id, state::ON_HOLD, 5);
    event["assigned_to"] = serde_json::json!({ "value": BETH_ANGLIN_SYS_ID, "link": link });
    let (status, body) = app.post_event(&source.integration_key, &event).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(
        assignments(&alert),
        vec![format!("Assigned in ServiceNow to {BETH_ANGLIN_SYS_ID}")]
    );
    // Level 1's assignee stays: no user is known for the sys_id.
    assert_eq!(alert["assignedTo"]["email"], "admin@example.com", "{alert}");
}

#[tokio::test]
async fn an_assigned_to_that_is_no_sys_id_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    let before = app.alert(&alert_id).await;
    for bad in [
        serde_json::json!("beth.anglin"),
        serde_json::json!(42),
        serde_json::json!({ "value": ["x"] }),
        serde_json::json!({ "value": "x^ORactive=true" }),
    ] {
        let mut event = incident(&sys_id, state::ON_HOLD, 5);
        event["assigned_to"] = bad;
        let (status, body) = app.post_event(&source.integration_key, &event).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(webhook_error_code(&body), "invalid_payload", "{body}");
    }
    assert_eq!(app.alert(&alert_id).await, before);
}
