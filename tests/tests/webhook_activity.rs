//! What an alert source's webhook has received, as the set-up page shows it: the last event (when,
//! what it came to, from which instance), the last 24 hours by outcome, and the last rejection
//! with its reason. Rejected requests count without adding rows.

use glidepath_tests::*;
use serde_json::{Value, json};

const ACTIVITY: &str = "query($id: ID!) { alertSource(id: $id) { \
    lastEventAt lastEventOutcome lastEventServerUrl \
    eventCounts { created accepted resolved updated unchanged rejected } \
    lastRejection { at reason } } }";

const SET_AUTH: &str = "mutation($id: ID!, $input: WebhookAuthInput!) { \
    setWebhookAuth(alertSourceId: $id, input: $input) { webhookAuth { kind } } }";

async fn activity(app: &TestApp, token: &str, source: &Source) -> Value {
    app.gql(token, ACTIVITY, json!({ "id": source.id })).await["alertSource"].clone()
}

fn counts(a: &Value) -> [i64; 6] {
    let c = &a["eventCounts"];
    [
        "created",
        "accepted",
        "resolved",
        "updated",
        "unchanged",
        "rejected",
    ]
    .map(|k| c[k].as_i64().unwrap_or(-1))
}

#[tokio::test]
async fn the_webhook_records_each_outcome_and_the_last_rejection() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;

    let a = activity(&app, &token, &source).await;
    assert!(a["lastEventAt"].is_null(), "{a}");
    assert!(a["lastEventOutcome"].is_null());
    assert!(a["lastRejection"].is_null());
    assert_eq!(counts(&a), [0; 6]);

    let (status, _) = app
        .post_event(&source.integration_key, &fixture("incident-new.json"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let a = activity(&app, &token, &source).await;
    assert!(a["lastEventAt"].is_string(), "{a}");
    assert_eq!(a["lastEventOutcome"], "CREATED");
    assert_eq!(a["lastEventServerUrl"], FIXTURE_SERVER_URL);
    assert_eq!(counts(&a), [1, 0, 0, 0, 0, 0]);

    for (name, code) in [
        ("incident-in-progress.json", StatusCode::OK),
        ("incident-in-progress.json", StatusCode::OK),
        ("incident-resolved.json", StatusCode::OK),
    ] {
        let (status, body) = app
            .post_event(&source.integration_key, &fixture(name))
            .await;
        assert_eq!(status, code, "{name}: {body}");
    }
    let a = activity(&app, &token, &source).await;
    assert_eq!(a["lastEventOutcome"], "RESOLVED");
    assert_eq!(counts(&a), [1, 1, 1, 0, 1, 0]);

    // An update for an incident Glidepath never saw: 400, counted, and the reason kept.
    let unknown = new_sys_id();
    let (status, _) = app
        .post_event(
            &source.integration_key,
            &incident(&unknown, state::IN_PROGRESS, 1),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let a = activity(&app, &token, &source).await;
    assert_eq!(a["lastEventOutcome"], "REJECTED");
    assert_eq!(counts(&a)[5], 1);
    let reason = str_field(&a["lastRejection"], "reason");
    assert!(
        reason.starts_with("400 unknown_incident") && reason.contains(&unknown),
        "{reason}"
    );

    // A body that is not an incident.
    let (status, _) = app
        .post_event_raw(&source.integration_key, "{not json", "application/json")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app
        .post_event(
            &source.integration_key,
            &json!({ "sys_id": "short", "state": "1" }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let a = activity(&app, &token, &source).await;
    assert_eq!(counts(&a)[5], 3);
    let reason = str_field(&a["lastRejection"], "reason");
    assert!(
        reason.starts_with("400 invalid_payload") && reason.contains("sys_id"),
        "{reason}"
    );

    // Missing credentials on a source that requires them: 401, counted.
    app.gql(
        &token,
        SET_AUTH,
        json!({ "id": source.id, "input": { "kind": "BEARER", "token": "tok-0123456789abcdef0123" } }),
    )
    .await;
    let (status, _) = app
        .post_event(&source.integration_key, &fixture("incident-new.json"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let a = activity(&app, &token, &source).await;
    assert_eq!(counts(&a), [1, 1, 1, 0, 1, 4]);
    assert!(
        str_field(&a["lastRejection"], "reason").starts_with("401 unauthorized"),
        "{a}"
    );

    // An unknown key names no source: nothing is counted anywhere.
    let (status, _) = app
        .post_event("no-such-key", &fixture("incident-new.json"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        counts(&activity(&app, &token, &source).await),
        [1, 1, 1, 0, 1, 4]
    );

    // Another source's counts are its own.
    let other = app.setup_source().await;
    let o = activity(&app, &token, &other).await;
    assert!(o["lastEventAt"].is_null() && counts(&o) == [0; 6], "{o}");
}

#[tokio::test]
async fn rejected_requests_count_without_adding_rows() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    app.gql(
        &token,
        SET_AUTH,
        json!({ "id": source.id, "input": { "kind": "BEARER", "token": "tok-0123456789abcdef0123" } }),
    )
    .await;
    let attempts = 40;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..attempts {
        let client = app.client.clone();
        let url = source.webhook_url.clone();
        tasks.spawn(async move {
            client
                .post(url)
                .header("authorization", format!("Bearer wrong-{i}"))
                .json(&incident(&new_sys_id(), state::NEW, 0))
                .send()
                .await
                .expect("POST")
                .status()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.expect("task"), StatusCode::UNAUTHORIZED);
    }
    let a = activity(&app, &token, &source).await;
    assert_eq!(counts(&a), [0, 0, 0, 0, 0, attempts]);
    let rows = app
        .query_i64("SELECT COUNT(*) FROM webhook_event_hours")
        .await;
    assert_eq!(
        rows, 1,
        "one row per source and hour, whatever the number of events"
    );
    assert_eq!(app.alerts_total().await, 0);
}

#[tokio::test]
async fn responders_see_the_activity_too() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (_, responder_token) = app.create_responder().await;
    app.post_event(&source.integration_key, &fixture("incident-new.json"))
        .await;
    let a = activity(&app, &responder_token, &source).await;
    assert_eq!(a["lastEventOutcome"], "CREATED");
    assert_eq!(counts(&a)[0], 1);
}

#[tokio::test]
async fn the_clean_up_drops_old_hours_but_keeps_each_sources_latest() {
    let app =
        spawn_app_with_options(SpawnOptions::default().env("GLIDEPATH_TOKEN_CLEANUP_SECONDS", "1"))
            .await;
    let token = app.admin_token().await;
    let busy = app.setup_source().await;
    let idle = app.setup_source().await;
    app.post_event(&busy.integration_key, &fixture("incident-new.json"))
        .await;
    // Hours from ten and eleven days ago: the busy source's go, the idle source's latest stays
    // (its last event is still known).
    let day = 86_400;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let old = (now - 10 * day) / 3600 * 3600;
    let older = old - day;
    for (source, hour) in [(&busy, old), (&idle, old), (&idle, older)] {
        app.execute_sql(&format!(
            "INSERT INTO webhook_event_hours (alert_source_id, hour, created, accepted, resolved, \
               updated, unchanged, rejected, last_event_at, last_outcome) \
             VALUES ('{}', {hour}, 1, 0, 0, 0, 0, 0, {}, 'created')",
            source.id,
            hour * 1000
        ))
        .await;
    }
    let count = |id: String| {
        let app = &app;
        async move {
            app.query_i64(&format!(
                "SELECT COUNT(*) FROM webhook_event_hours WHERE alert_source_id = '{id}'"
            ))
            .await
        }
    };
    eventually(
        std::time::Duration::from_secs(10),
        "the clean-up of old hours",
        || async {
            (count(busy.id.clone()).await == 1 && count(idle.id.clone()).await == 1).then_some(())
        },
    )
    .await;
    let a = activity(&app, &token, &busy).await;
    assert_eq!(counts(&a)[0], 1, "the current hour stays: {a}");
    let i = activity(&app, &token, &idle).await;
    assert_eq!(
        counts(&i),
        [0; 6],
        "old hours are not in the last 24 hours: {i}"
    );
    assert!(
        i["lastEventAt"].is_string(),
        "the last event is still known: {i}"
    );
}

#[tokio::test]
async fn a_body_too_large_for_a_known_source_counts_as_rejected() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    let mut event = incident(&new_sys_id(), state::NEW, 0);
    event["description"] = json!("x".repeat(1024 * 1024 + 1024));
    let response = app
        .client
        .post(source.webhook_url.clone())
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&event).expect("JSON"))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let a = activity(&app, &token, &source).await;
    assert_eq!(counts(&a), [0, 0, 0, 0, 0, 1]);
    assert_eq!(str_field(&a, "lastEventOutcome"), "REJECTED");
    let reason = str_field(&a["lastRejection"], "reason");
    assert!(reason.starts_with("413"), "reason: {reason}");
    assert_eq!(app.alerts_total().await, 0);
}
