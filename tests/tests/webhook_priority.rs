//! ServiceNow priority → alert priority, and raising on later events.

use glidepath_tests::*;
use serde_json::{Value, json};

async fn created_priority(app: &TestApp, source: &Source, priority: Value) -> String {
    let mut event = incident(&new_sys_id(), state::NEW, 0);
    event["priority"] = priority.clone();
    let (status, body) = app.post_event(&source.integration_key, &event).await;
    assert_eq!(status, StatusCode::CREATED, "priority {priority}: {body}");
    let alert = app.alert(&str_field(&body, "alertId")).await;
    str_field(&alert, "priority")
}

#[tokio::test]
async fn priority_1_and_2_create_high_alerts() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    for priority in ["1", "2"] {
        assert_eq!(
            created_priority(&app, &source, json!(priority)).await,
            "HIGH",
            "ServiceNow priority {priority}"
        );
    }
}

#[tokio::test]
async fn priority_3_4_and_5_create_low_alerts() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    for priority in ["3", "4", "5"] {
        assert_eq!(
            created_priority(&app, &source, json!(priority)).await,
            "LOW",
            "ServiceNow priority {priority}"
        );
    }
}

#[tokio::test]
async fn missing_or_unknown_priority_creates_low_alert() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    for priority in [Value::Null, json!("9"), json!("")] {
        assert_eq!(
            created_priority(&app, &source, priority.clone()).await,
            "LOW",
            "ServiceNow priority {priority}"
        );
    }
}

#[tokio::test]
async fn priority_1_event_raises_low_alert_to_high() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert_with_priority(&source, "4").await;
    assert_eq!(app.alert(&alert_id).await["priority"], "LOW");

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident_with_priority(&sys_id, state::NEW, 1, "1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "updated", "{body}");
    assert_eq!(body["alertId"], alert_id.as_str());
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["priority"], "HIGH", "{alert}");
    assert_eq!(alert["status"], "PENDING", "{alert}");
    let raised = log_entries_of(&alert, "PRIORITY_RAISED");
    assert_eq!(raised.len(), 1, "{alert}");
    assert_eq!(raised[0]["actorKind"], "SERVICENOW", "{alert}");
}

#[tokio::test]
async fn priority_2_event_raises_low_alert_while_accepting_it() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert_with_priority(&source, "3").await;

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident_with_priority(&sys_id, state::IN_PROGRESS, 1, "2"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A status change wins over the priority raise when naming the outcome.
    assert_eq!(body["outcome"], "accepted", "{body}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "ACCEPTED", "{alert}");
    assert_eq!(alert["priority"], "HIGH", "{alert}");
    assert_eq!(
        log_entries_of(&alert, "PRIORITY_RAISED").len(),
        1,
        "{alert}"
    );
}

#[tokio::test]
async fn priority_5_event_never_lowers_high_alert() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert_with_priority(&source, "1").await;

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident_with_priority(&sys_id, state::NEW, 1, "5"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "unchanged", "{body}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["priority"], "HIGH", "{alert}");
    assert_eq!(
        log_kinds(&alert),
        vec!["CREATED", "ESCALATED", "NOTIFICATION_FAILED"],
        "{alert}"
    );
}

#[tokio::test]
async fn resolved_alert_is_not_raised() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert_with_priority(&source, "5").await;
    let (_, body) = app
        .post_event(
            &source.integration_key,
            &incident_with_priority(&sys_id, state::RESOLVED, 1, "5"),
        )
        .await;
    assert_eq!(body["outcome"], "resolved", "{body}");

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident_with_priority(&sys_id, state::RESOLVED, 2, "1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "unchanged", "{body}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["priority"], "LOW", "{alert}");
    assert!(
        log_entries_of(&alert, "PRIORITY_RAISED").is_empty(),
        "{alert}"
    );
}
