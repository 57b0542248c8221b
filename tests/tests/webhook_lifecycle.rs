//! The ServiceNow state → alert status table of the webhook.

use glidepath_tests::*;
use serde_json::json;

async fn accept_via_event(app: &TestApp, source: &Source, sys_id: &str, mod_count: u32) {
    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident(sys_id, state::IN_PROGRESS, mod_count),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "accepted", "{body}");
}

async fn resolve_via_event(app: &TestApp, source: &Source, sys_id: &str, mod_count: u32) {
    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident(sys_id, state::RESOLVED, mod_count),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "resolved", "{body}");
}

/// An event for an unknown sys_id in a non-New state must be refused and create nothing.
async fn assert_unknown_incident_rejected(state: u8) {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (status, body) = app
        .post_event(&source.integration_key, &incident(&new_sys_id(), state, 1))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "state {state}: {body}");
    assert_eq!(webhook_error_code(&body), "unknown_incident", "{body}");
    assert_eq!(
        app.alerts_total().await,
        0,
        "state {state} created an alert"
    );
}

/// A closing state must resolve an existing alert, from PENDING or ACCEPTED.
async fn assert_state_resolves(state: u8, accept_first: bool) {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    if accept_first {
        accept_via_event(&app, &source, &sys_id, 1).await;
    }
    let (status, body) = app
        .post_event(&source.integration_key, &incident(&sys_id, state, 2))
        .await;
    assert_eq!(status, StatusCode::OK, "state {state}: {body}");
    assert_eq!(body["outcome"], "resolved", "state {state}: {body}");
    assert_eq!(body["alertId"], alert_id.as_str());

    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "RESOLVED", "{alert}");
    assert!(alert["resolvedAt"].is_string(), "resolvedAt unset: {alert}");
    let resolved = log_entries_of(&alert, "RESOLVED");
    assert_eq!(resolved.len(), 1, "{alert}");
    assert_eq!(resolved[0]["actorKind"], "SERVICENOW", "{alert}");
    assert_eq!(alert["ticket"]["state"], json!(state), "{alert}");
}

#[tokio::test]
async fn new_event_without_alert_creates_pending_alert() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (status, body) = app
        .post_event(&source.integration_key, &fixture("incident-new.json"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["outcome"], "created", "{body}");
    let alert_id = str_field(&body, "alertId");

    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["id"], alert_id.as_str(), "{alert}");
    assert_eq!(alert["status"], "PENDING");
    assert!(alert["createdAt"].is_string(), "{alert}");
    assert!(alert["acceptedAt"].is_null(), "{alert}");
    assert!(alert["resolvedAt"].is_null(), "{alert}");
    // Level 1 of the policy (the admin) is assigned at once.
    assert_eq!(alert["assignedTo"]["email"], ADMIN_EMAIL, "{alert}");
    assert_eq!(
        log_kinds(&alert),
        vec!["CREATED", "ESCALATED", "NOTIFICATION_FAILED"],
        "{alert}"
    );
    let created = &alert["logEntries"][0];
    assert_eq!(created["actorKind"], "SERVICENOW", "{alert}");
    assert_eq!(created["actor"], "ServiceNow (admin)", "{alert}");
    assert_eq!(app.alerts_total().await, 1);
}

#[tokio::test]
async fn new_event_for_pending_alert_keeps_it_pending() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;

    let (status, body) = app
        .post_event(&source.integration_key, &incident(&sys_id, state::NEW, 1))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "unchanged", "{body}");
    assert_eq!(body["alertId"], alert_id.as_str());
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "PENDING", "{alert}");
    assert_eq!(app.alerts_total().await, 1);
}

#[tokio::test]
async fn new_event_for_accepted_alert_keeps_it_accepted() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    accept_via_event(&app, &source, &sys_id, 1).await;

    let (status, body) = app
        .post_event(&source.integration_key, &incident(&sys_id, state::NEW, 2))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["outcome"], "created", "{body}");
    assert_eq!(body["alertId"], alert_id.as_str());
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "ACCEPTED", "{alert}");
    assert!(alert["acceptedAt"].is_string(), "{alert}");
    assert_eq!(app.alerts_total().await, 1);
}

#[tokio::test]
async fn new_event_for_resolved_alert_keeps_it_resolved() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    resolve_via_event(&app, &source, &sys_id, 1).await;

    let (status, body) = app
        .post_event(&source.integration_key, &incident(&sys_id, state::NEW, 2))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["outcome"], "created", "{body}");
    assert_eq!(body["alertId"], alert_id.as_str());
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "RESOLVED", "{alert}");
    assert_eq!(app.alerts_total().await, 1, "a second alert was opened");
}

#[tokio::test]
async fn in_progress_event_without_alert_is_rejected_as_unknown_incident() {
    assert_unknown_incident_rejected(state::IN_PROGRESS).await;
}

#[tokio::test]
async fn in_progress_fixture_without_alert_is_rejected_as_unknown_incident() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (status, body) = app
        .post_event(
            &source.integration_key,
            &fixture("incident-in-progress.json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(webhook_error_code(&body), "unknown_incident");
    assert_eq!(app.alerts_total().await, 0);
}

#[tokio::test]
async fn in_progress_event_accepts_pending_alert() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (status, body) = app
        .post_event(&source.integration_key, &fixture("incident-new.json"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let alert_id = str_field(&body, "alertId");

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &fixture("incident-in-progress.json"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "accepted", "{body}");
    assert_eq!(body["alertId"], alert_id.as_str());

    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "ACCEPTED", "{alert}");
    assert!(alert["acceptedAt"].is_string(), "acceptedAt unset: {alert}");
    assert!(alert["resolvedAt"].is_null(), "{alert}");
    assert_eq!(alert["ticket"]["state"], 2, "{alert}");
    let accepted = log_entries_of(&alert, "ACCEPTED");
    assert_eq!(accepted.len(), 1, "{alert}");
    assert_eq!(accepted[0]["actorKind"], "SERVICENOW", "{alert}");
    assert_eq!(accepted[0]["actor"], "ServiceNow (beth.anglin)", "{alert}");
    assert_eq!(
        log_kinds(&alert)[0],
        "CREATED",
        "log is oldest first: {alert}"
    );
}

#[tokio::test]
async fn on_hold_event_without_alert_is_rejected_as_unknown_incident() {
    assert_unknown_incident_rejected(state::ON_HOLD).await;
}

#[tokio::test]
async fn on_hold_event_keeps_pending_alert_pending() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident(&sys_id, state::ON_HOLD, 1),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The ticket's state changed, which is an update but no status change.
    assert_eq!(body["outcome"], "updated", "{body}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "PENDING", "{alert}");
    assert!(alert["acceptedAt"].is_null(), "{alert}");
    assert!(alert["resolvedAt"].is_null(), "{alert}");
    assert_eq!(alert["ticket"]["state"], 3, "{alert}");
}

#[tokio::test]
async fn on_hold_event_keeps_accepted_alert_accepted() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    accept_via_event(&app, &source, &sys_id, 1).await;

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident(&sys_id, state::ON_HOLD, 2),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "updated", "{body}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "ACCEPTED", "{alert}");
    assert!(alert["resolvedAt"].is_null(), "{alert}");
}

#[tokio::test]
async fn ticket_state_change_is_logged_as_ticket_update() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    let (_, body) = app
        .post_event(
            &source.integration_key,
            &incident(&sys_id, state::ON_HOLD, 1),
        )
        .await;
    assert_eq!(body["outcome"], "updated", "{body}");
    let alert = app.alert(&alert_id).await;
    let updates = log_entries_of(&alert, "TICKET_UPDATED");
    assert_eq!(updates.len(), 1, "{alert}");
    assert_eq!(updates[0]["actorKind"], "SERVICENOW", "{alert}");
}

#[tokio::test]
async fn resolved_event_without_alert_is_rejected_as_unknown_incident() {
    assert_unknown_incident_rejected(state::RESOLVED).await;
}

#[tokio::test]
async fn closed_event_without_alert_is_rejected_as_unknown_incident() {
    assert_unknown_incident_rejected(state::CLOSED).await;
}

#[tokio::test]
async fn canceled_event_without_alert_is_rejected_as_unknown_incident() {
    assert_unknown_incident_rejected(state::CANCELED).await;
}

#[tokio::test]
async fn resolved_event_resolves_pending_alert() {
    assert_state_resolves(state::RESOLVED, false).await;
}

#[tokio::test]
async fn resolved_event_resolves_accepted_alert() {
    assert_state_resolves(state::RESOLVED, true).await;
}

#[tokio::test]
async fn closed_event_resolves_pending_alert() {
    assert_state_resolves(state::CLOSED, false).await;
}

#[tokio::test]
async fn closed_event_resolves_accepted_alert() {
    assert_state_resolves(state::CLOSED, true).await;
}

#[tokio::test]
async fn canceled_event_resolves_pending_alert() {
    assert_state_resolves(state::CANCELED, false).await;
}

#[tokio::test]
async fn canceled_event_resolves_accepted_alert() {
    assert_state_resolves(state::CANCELED, true).await;
}

#[tokio::test]
async fn resolved_fixture_resolves_alert_from_new_fixture() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (status, body) = app
        .post_event(&source.integration_key, &fixture("incident-new.json"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post_event(&source.integration_key, &fixture("incident-resolved.json"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "resolved", "{body}");
    let alert = app.alert(&str_field(&body, "alertId")).await;
    assert_eq!(alert["status"], "RESOLVED", "{alert}");
    assert_eq!(
        log_entries_of(&alert, "RESOLVED")[0]["actor"],
        "ServiceNow (beth.anglin)",
        "{alert}"
    );
}

#[tokio::test]
async fn resolved_alert_stays_resolved_on_later_in_progress_event() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    resolve_via_event(&app, &source, &sys_id, 1).await;
    let resolved_at = app.alert(&alert_id).await["resolvedAt"].clone();

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident(&sys_id, state::IN_PROGRESS, 2),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["outcome"], "accepted", "{body}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "RESOLVED", "{alert}");
    assert_eq!(alert["resolvedAt"], resolved_at, "{alert}");
    assert!(log_entries_of(&alert, "ACCEPTED").is_empty(), "{alert}");
}

#[tokio::test]
async fn resolved_alert_stays_resolved_on_later_new_event() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    resolve_via_event(&app, &source, &sys_id, 1).await;

    let (status, body) = app
        .post_event(&source.integration_key, &incident(&sys_id, state::NEW, 2))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["alertId"], alert_id.as_str(), "{body}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "RESOLVED", "{alert}");
    assert_eq!(app.alerts_total().await, 1);
}

#[tokio::test]
async fn resolved_alert_stays_resolved_on_repeated_resolution() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    resolve_via_event(&app, &source, &sys_id, 1).await;

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident(&sys_id, state::CLOSED, 2),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["outcome"], "resolved", "{body}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(log_entries_of(&alert, "RESOLVED").len(), 1, "{alert}");
}

#[tokio::test]
async fn user_accepted_alert_is_resolved_by_servicenow() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let token = app.admin_token().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    app.gql(
        &token,
        "mutation($id: ID!) { acceptAlert(id: $id) { id } }",
        json!({ "id": alert_id }),
    )
    .await;

    // ServiceNow still reports In Progress after a user accepted in Glidepath: no change.
    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident(&sys_id, state::IN_PROGRESS, 1),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(body["outcome"], "accepted", "{body}");
    resolve_via_event(&app, &source, &sys_id, 2).await;
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "RESOLVED", "{alert}");
    assert_eq!(alert["assignedTo"]["email"], ADMIN_EMAIL, "{alert}");
}

#[tokio::test]
async fn servicenow_actor_without_updated_by_is_plain_servicenow() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let mut event = incident(&new_sys_id(), state::NEW, 0);
    event["sys_updated_by"] = serde_json::Value::Null;
    let (status, body) = app.post_event(&source.integration_key, &event).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let alert = app.alert(&str_field(&body, "alertId")).await;
    assert_eq!(alert["logEntries"][0]["actor"], "ServiceNow", "{alert}");
    assert_eq!(alert["logEntries"][0]["actorKind"], "SERVICENOW", "{alert}");
}

#[tokio::test]
async fn ticket_state_label_names_the_servicenow_state() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    let mut labels = vec![app.alert(&alert_id).await["ticket"]["stateLabel"].clone()];
    for (state, mod_count) in [
        (state::ON_HOLD, 1),
        (state::IN_PROGRESS, 2),
        (state::RESOLVED, 3),
    ] {
        app.post_event(
            &source.integration_key,
            &incident(&sys_id, state, mod_count),
        )
        .await;
        labels.push(app.alert(&alert_id).await["ticket"]["stateLabel"].clone());
    }
    assert_eq!(
        labels,
        vec![
            json!("New"),
            json!("On Hold"),
            json!("In Progress"),
            json!("Resolved")
        ]
    );
}
