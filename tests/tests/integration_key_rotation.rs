//! `rotateIntegrationKey`: a new integration key at once, the replaced one still delivering for a
//! grace period (noted in the log of each alert an event with it reaches), refused after it;
//! ADMIN only, and a grace period outside 0..=10080 minutes changes nothing.

use std::time::{Duration, Instant};

use glidepath_tests::*;
use serde_json::{Value, json};

const ROTATE: &str = "mutation($id: ID!, $grace: Int) { \
    rotateIntegrationKey(alertSourceId: $id, graceMinutes: $grace) { \
      id integrationKey webhookUrl businessRuleScript keyRotation { previousKeyExpiresAt } } }";
const ROTATE_DEFAULT: &str = "mutation($id: ID!) { rotateIntegrationKey(alertSourceId: $id) { \
      integrationKey keyRotation { previousKeyExpiresAt } } }";
const SOURCE: &str = "query($id: ID!) { alertSource(id: $id) { \
      integrationKey webhookUrl keyRotation { previousKeyExpiresAt } } }";
const NOTE: &str = "received with the previous integration key (valid until";

async fn rotate(app: &TestApp, source: &Source, grace: Option<i64>) -> Value {
    let token = app.admin_token().await;
    let data = app
        .gql(&token, ROTATE, json!({ "id": source.id, "grace": grace }))
        .await;
    data["rotateIntegrationKey"].clone()
}

async fn source_state(app: &TestApp, source: &Source) -> Value {
    let token = app.admin_token().await;
    app.gql(&token, SOURCE, json!({ "id": source.id })).await["alertSource"].clone()
}

/// Posts a New incident with `key`; the status and the alert id (if any).
async fn post_new(app: &TestApp, key: &str) -> (StatusCode, Option<String>) {
    let (status, body) = app
        .post_event(key, &incident(&new_sys_id(), state::NEW, 0))
        .await;
    (status, body["alertId"].as_str().map(str::to_string))
}

/// The messages of the alert's PREVIOUS_KEY_USED log entries.
async fn key_notes(app: &TestApp, alert_id: &str) -> Vec<String> {
    let alert = app.alert(alert_id).await;
    alert["logEntries"]
        .as_array()
        .expect("log entries")
        .iter()
        .filter(|e| e["kind"] == "PREVIOUS_KEY_USED")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Seconds since the epoch of an RFC 3339 UTC time (`2026-12-06T02:50:45.123Z`), to the second.
fn epoch_seconds(time: &str) -> i64 {
    let n = |range: std::ops::Range<usize>| -> i64 {
        time[range]
            .parse()
            .unwrap_or_else(|_| panic!("not a time: {time}"))
    };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

#[tokio::test]
async fn both_keys_deliver_until_the_grace_period_ends_and_the_old_one_is_logged() {
    // 60: a minute of grace lasts a second.
    let app =
        spawn_app_with_options(SpawnOptions::default().env("GLIDEPATH_TIME_SCALE", "60")).await;
    let source = app.setup_source().await;
    let old_key = source.integration_key.clone();
    let (sys_id, alert_id) = app.create_alert(&source).await;
    assert!(key_notes(&app, &alert_id).await.is_empty());

    let started = Instant::now();
    let rotated = rotate(&app, &source, Some(10)).await;
    let new_key = str_field(&rotated, "integrationKey");
    assert_ne!(new_key, old_key, "a new key");
    assert!(str_field(&rotated, "webhookUrl").ends_with(&new_key));
    assert!(str_field(&rotated, "businessRuleScript").contains(&new_key));
    assert!(!str_field(&rotated, "businessRuleScript").contains(&old_key));
    let until = str_field(&rotated["keyRotation"], "previousKeyExpiresAt");

    // The old key: an update of the existing alert, an unchanged replay, a new incident.
    let (status, body) = app
        .post_event(&old_key, &incident(&sys_id, state::IN_PROGRESS, 1))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["alertId"], alert_id.as_str());
    let (status, body) = app
        .post_event(&old_key, &incident(&sys_id, state::IN_PROGRESS, 1))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "unchanged");
    let (status, old_alert) = post_new(&app, &old_key).await;
    assert_eq!(status, StatusCode::CREATED);
    // The new key at the same time.
    let (status, new_alert) = post_new(&app, &new_key).await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the deliveries took too long to prove anything about the grace period"
    );

    let notes = key_notes(&app, &alert_id).await;
    assert_eq!(notes.len(), 2, "one line per old-key event: {notes:?}");
    for note in &notes {
        assert!(note.to_lowercase().contains(NOTE), "{note}");
        assert!(
            note.contains(&until[..19].replace('T', " ")),
            "names the end of the grace period {until}: {note}"
        );
        assert!(!note.contains(&old_key) && !note.contains(&new_key));
    }
    let notes = key_notes(&app, &old_alert.expect("alert id")).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        key_notes(&app, &new_alert.expect("alert id"))
            .await
            .is_empty()
    );
    let alert = app.alert(&alert_id).await;
    let note = alert["logEntries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "PREVIOUS_KEY_USED")
        .unwrap();
    assert_eq!(note["actorKind"], "SERVICENOW");
    assert!(
        !app.logs().contains(&old_key),
        "the old key in the server log"
    );

    // Ten scaled minutes are ten seconds: then the old key is refused, the new one is not.
    let refused_at = loop {
        let (status, _) = post_new(&app, &old_key).await;
        if status == StatusCode::NOT_FOUND {
            break started.elapsed();
        }
        assert_eq!(status, StatusCode::CREATED);
        assert!(started.elapsed() < Duration::from_secs(60), "never expired");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        refused_at >= Duration::from_secs(9),
        "refused after {refused_at:?}, before the grace period ended"
    );
    let (status, _) = post_new(&app, &new_key).await;
    assert_eq!(status, StatusCode::CREATED);
    let state = source_state(&app, &source).await;
    assert!(state["keyRotation"].is_null(), "{state}");
    assert_eq!(str_field(&state, "integrationKey"), new_key);
}

#[tokio::test]
async fn zero_grace_refuses_the_old_key_at_once() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let rotated = rotate(&app, &source, Some(0)).await;
    let new_key = str_field(&rotated, "integrationKey");
    assert!(rotated["keyRotation"].is_null(), "{rotated}");
    let (status, _) = post_new(&app, &source.integration_key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = post_new(&app, &new_key).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn default_grace_is_a_day_and_rotating_again_replaces_the_previous_key() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let token = app.admin_token().await;
    let data = app
        .gql(&token, ROTATE_DEFAULT, json!({ "id": source.id }))
        .await;
    let first = &data["rotateIntegrationKey"];
    let key1 = str_field(first, "integrationKey");
    let until = str_field(&first["keyRotation"], "previousKeyExpiresAt");
    let (_, alert_id) = app
        .create_alert(&Source {
            integration_key: key1.clone(),
            ..source.clone()
        })
        .await;
    let created = str_field(&app.alert(&alert_id).await, "createdAt");
    let grace = epoch_seconds(&until) - epoch_seconds(&created);
    assert!(
        (24 * 3600 - 120..=24 * 3600).contains(&grace),
        "a grace period of 24 h, not {grace} s ({created} → {until})"
    );
    let state = source_state(&app, &source).await;
    assert_eq!(state["keyRotation"]["previousKeyExpiresAt"], until.as_str());

    // Both the original key and key 1 deliver; a second rotation keeps only key 1 beside key 2.
    let (status, _) = post_new(&app, &source.integration_key).await;
    assert_eq!(status, StatusCode::CREATED);
    let second = rotate(&app, &source, Some(60)).await;
    let key2 = str_field(&second, "integrationKey");
    assert!(second["keyRotation"]["previousKeyExpiresAt"].is_string());
    let (status, _) = post_new(&app, &source.integration_key).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the original key is replaced"
    );
    for key in [&key1, &key2] {
        let (status, _) = post_new(&app, key).await;
        assert_eq!(status, StatusCode::CREATED);
    }

    // Nothing of either key in clear in the database.
    let dump = app.database_dump().await;
    for key in [&source.integration_key, &key1, &key2] {
        assert!(
            !dump.windows(key.len()).any(|w| w == key.as_bytes()),
            "an integration key in clear in the database"
        );
    }
}

#[tokio::test]
async fn a_responder_is_forbidden_and_nothing_changes() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (_, responder) = app.create_responder().await;
    for (query, grace) in [(ROTATE_DEFAULT, None), (ROTATE, Some(0))] {
        let response = app
            .graphql(
                Some(&responder),
                query,
                json!({ "id": source.id, "grace": grace }),
            )
            .await;
        assert_error_code(&response, "FORBIDDEN");
    }
    let response = app
        .graphql(
            Some(&responder),
            "query($id: ID!) { alertSource(id: $id) { keyRotation { previousKeyExpiresAt } } }",
            json!({ "id": source.id }),
        )
        .await;
    assert_error_code(&response, "FORBIDDEN");
    assert!(response["data"]["alertSource"]["keyRotation"].is_null());
    let state = source_state(&app, &source).await;
    assert_eq!(str_field(&state, "integrationKey"), source.integration_key);
    assert!(state["keyRotation"].is_null());
    let (status, _) = post_new(&app, &source.integration_key).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_grace_period_out_of_range_is_bad_user_input_and_changes_nothing() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let token = app.admin_token().await;
    for grace in [-1, 10_081, i64::from(i32::MAX)] {
        let response = app
            .graphql(
                Some(&token),
                ROTATE,
                json!({ "id": source.id, "grace": grace }),
            )
            .await;
        assert_error_code(&response, "BAD_USER_INPUT");
    }
    let state = source_state(&app, &source).await;
    assert_eq!(str_field(&state, "integrationKey"), source.integration_key);
    assert!(state["keyRotation"].is_null());
    let (status, _) = post_new(&app, &source.integration_key).await;
    assert_eq!(status, StatusCode::CREATED);

    let response = app
        .graphql(
            Some(&token),
            ROTATE,
            json!({ "id": "00000000-0000-0000-0000-000000000000", "grace": 5 }),
        )
        .await;
    assert_error_code(&response, "NOT_FOUND");
    // The longest grace period is accepted.
    let rotated = rotate(&app, &source, Some(10_080)).await;
    assert!(rotated["keyRotation"]["previousKeyExpiresAt"].is_string());
}
