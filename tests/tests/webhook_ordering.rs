//! Duplicate, replayed, out-of-order and concurrent deliveries.

use glidepath_tests::*;
use serde_json::{Value, json};
use tokio::task::JoinSet;

/// Posts `event` `count` times at once and returns every (status, body).
async fn post_concurrently(
    app: &TestApp,
    integration_key: &str,
    event: &Value,
    count: usize,
) -> Vec<(StatusCode, Value)> {
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let client = app.client.clone();
        let url = app.events_url(integration_key);
        let event = event.clone();
        tasks.spawn(post(client, url, event));
    }
    let mut results = Vec::new();
    while let Some(result) = tasks.join_next().await {
        results.push(result.expect("event task"));
    }
    results
}

/// Posts `event` to `url` and returns the status and the JSON answer.
async fn post(client: reqwest::Client, url: String, event: Value) -> (StatusCode, Value) {
    let response = client
        .post(url)
        .json(&event)
        .send()
        .await
        .expect("POST event");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn duplicate_event_is_unchanged_and_creates_one_alert() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let event = fixture("incident-new.json");
    let (first, created) = app.post_event(&source.integration_key, &event).await;
    assert_eq!(first, StatusCode::CREATED, "{created}");
    let (second, duplicate) = app.post_event(&source.integration_key, &event).await;
    assert_eq!(second, StatusCode::OK, "{duplicate}");
    assert_eq!(duplicate["outcome"], "unchanged", "{duplicate}");
    assert_eq!(duplicate["alertId"], created["alertId"]);
    assert_eq!(app.alerts_total().await, 1);
    let alert = app.alert(&str_field(&created, "alertId")).await;
    assert_eq!(
        log_kinds(&alert),
        vec!["CREATED", "ESCALATED", "NOTIFICATION_FAILED"],
        "{alert}"
    );
}

#[tokio::test]
async fn replayed_event_stream_is_idempotent() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let stream = [
        fixture("incident-new.json"),
        fixture("incident-in-progress.json"),
        fixture("incident-resolved.json"),
    ];
    let mut alert_id = String::new();
    for event in &stream {
        let (status, body) = app.post_event(&source.integration_key, event).await;
        assert!(status.is_success(), "{body}");
        alert_id = str_field(&body, "alertId");
    }
    let before = app.alert(&alert_id).await;
    assert_eq!(before["status"], "RESOLVED", "{before}");

    for event in &stream {
        let (status, body) = app.post_event(&source.integration_key, event).await;
        assert_eq!(status, StatusCode::OK, "replay: {body}");
        assert_eq!(body["outcome"], "unchanged", "replay: {body}");
        assert_eq!(body["alertId"], alert_id.as_str());
    }
    let after = app.alert(&alert_id).await;
    assert_eq!(
        after["logEntries"].as_array().map(Vec::len),
        before["logEntries"].as_array().map(Vec::len),
        "replay wrote log entries: {after}"
    );
    assert_eq!(after, before, "replay changed the alert");
    assert_eq!(app.alerts_total().await, 1);
}

#[tokio::test]
async fn in_progress_event_older_than_resolution_is_unchanged() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (status, body) = app
        .post_event(&source.integration_key, &fixture("incident-new.json"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let alert_id = str_field(&body, "alertId");
    let (_, body) = app
        .post_event(&source.integration_key, &fixture("incident-resolved.json"))
        .await;
    assert_eq!(body["outcome"], "resolved", "{body}");

    // sys_mod_count 1 arrives after sys_mod_count 3.
    let (status, body) = app
        .post_event(
            &source.integration_key,
            &fixture("incident-in-progress.json"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "unchanged", "{body}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "RESOLVED", "{alert}");
    assert_eq!(
        alert["ticket"]["state"], 6,
        "stale event rewrote the ticket: {alert}"
    );
}

#[tokio::test]
async fn stale_in_progress_event_does_not_accept_alert() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    let (_, body) = app
        .post_event(
            &source.integration_key,
            &incident(&sys_id, state::ON_HOLD, 5),
        )
        .await;
    assert_eq!(body["outcome"], "updated", "{body}");

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident(&sys_id, state::IN_PROGRESS, 2),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "unchanged", "{body}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "PENDING", "{alert}");
    assert_eq!(alert["ticket"]["state"], 3, "{alert}");
}

#[tokio::test]
async fn stale_event_does_not_raise_priority() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert_with_priority(&source, "4").await;
    let (_, body) = app
        .post_event(
            &source.integration_key,
            &incident_with_priority(&sys_id, state::ON_HOLD, 4, "4"),
        )
        .await;
    assert_eq!(body["outcome"], "updated", "{body}");

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident_with_priority(&sys_id, state::NEW, 3, "1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "unchanged", "{body}");
    assert_eq!(app.alert(&alert_id).await["priority"], "LOW");
}

#[tokio::test]
async fn stale_resolution_does_not_resolve_alert() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    let (_, body) = app
        .post_event(
            &source.integration_key,
            &incident(&sys_id, state::IN_PROGRESS, 7),
        )
        .await;
    assert_eq!(body["outcome"], "accepted", "{body}");

    let (status, body) = app
        .post_event(
            &source.integration_key,
            &incident(&sys_id, state::RESOLVED, 6),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "unchanged", "{body}");
    assert_eq!(app.alert(&alert_id).await["status"], "ACCEPTED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deliveries_of_new_incident_create_one_alert() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let results = post_concurrently(
        &app,
        &source.integration_key,
        &incident(&new_sys_id(), state::NEW, 0),
        20,
    )
    .await;

    let created = results
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    let repeated = results
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    assert_eq!(created, 1, "{results:?}");
    assert_eq!(repeated, 19, "{results:?}");
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|(_, body)| body["alertId"].clone())
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "deliveries named different alerts: {results:?}"
    );
    assert_eq!(app.alerts_total().await, 1);
    let alert = app
        .alert(ids.iter().next().unwrap().as_str().unwrap())
        .await;
    assert_eq!(
        log_kinds(&alert),
        vec!["CREATED", "ESCALATED", "NOTIFICATION_FAILED"],
        "{alert}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_in_progress_deliveries_accept_once() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    let results = post_concurrently(
        &app,
        &source.integration_key,
        &incident(&sys_id, state::IN_PROGRESS, 1),
        20,
    )
    .await;

    assert!(
        results.iter().all(|(status, _)| *status == StatusCode::OK),
        "{results:?}"
    );
    let accepted = results
        .iter()
        .filter(|(_, body)| body["outcome"] == "accepted")
        .count();
    assert_eq!(accepted, 1, "{results:?}");
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "ACCEPTED", "{alert}");
    assert_eq!(log_entries_of(&alert, "ACCEPTED").len(), 1, "{alert}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_distinct_incidents_each_create_an_alert() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = app.events_url(&source.integration_key);
        tasks.spawn(post(client, url, incident(&new_sys_id(), state::NEW, 0)));
    }
    let mut alert_ids = Vec::new();
    while let Some(result) = tasks.join_next().await {
        let (status, body) = result.expect("event task");
        assert_eq!(status, StatusCode::CREATED, "{body}");
        alert_ids.push(str_field(&body, "alertId"));
    }
    assert_eq!(app.alerts_total().await, 20);
    // Events that shared a writing transaction wrote their log entries in one statement: each
    // alert still has exactly its own.
    for id in alert_ids {
        let alert = app.alert(&id).await;
        assert_eq!(log_entries_of(&alert, "CREATED").len(), 1, "{alert}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_database_create_one_alert_per_incident() {
    let app = spawn_app().await;
    let sibling = app.spawn_sibling().await;
    let source = app.setup_source().await;
    let event = incident(&new_sys_id(), state::NEW, 0);

    let (first, second) = tokio::join!(
        post_concurrently(&app, &source.integration_key, &event, 10),
        post_concurrently(&sibling, &source.integration_key, &event, 10),
    );
    let results: Vec<_> = first.into_iter().chain(second).collect();
    let created = results
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(status, _)| *status == StatusCode::CREATED || *status == StatusCode::OK),
        "{results:?}"
    );
    assert_eq!(app.alerts_total().await, 1);

    // The sibling serves the same data and accepts the first process's sessions.
    let token = app.admin_token().await;
    let data = sibling
        .gql(&token, "{ alerts { totalCount } }", json!({}))
        .await;
    assert_eq!(data["alerts"]["totalCount"], 1);
}
