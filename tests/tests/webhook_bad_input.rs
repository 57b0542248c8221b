//! Malformed or hostile webhook requests: refused with the right status, never a 5xx, and
//! never a change to the alerts.

use glidepath_tests::*;
use serde_json::{Value, json};

const MIB: usize = 1024 * 1024;

/// Posts `body` and checks the status and error code, and that the server still has exactly
/// the alert it had before.
async fn assert_rejected(
    app: &TestApp,
    key: &str,
    body: impl Into<reqwest::Body>,
    content_type: &str,
    expected: StatusCode,
    code: &str,
) {
    let before = app.alerts_total().await;
    let (status, response) = app.post_event_raw(key, body, content_type).await;
    assert_eq!(status, expected, "{response}");
    assert_eq!(webhook_error_code(&response), code, "{response}");
    assert_eq!(
        app.alerts_total().await,
        before,
        "a rejected event changed the alerts"
    );
}

async fn assert_invalid(app: &TestApp, source: &Source, event: &Value) {
    let body = serde_json::to_vec(event).unwrap();
    assert_rejected(
        app,
        &source.integration_key,
        body,
        "application/json",
        StatusCode::BAD_REQUEST,
        "invalid_payload",
    )
    .await;
}

/// An app with one existing alert, so "changes nothing" also covers the existing alert.
async fn app_with_alert() -> (TestApp, Source, String, Value) {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["alertKey"], sys_id.as_str());
    (app, source, alert_id, alert)
}

#[tokio::test]
async fn unknown_integration_key_is_not_found() {
    let (app, _source, alert_id, before) = app_with_alert().await;
    let event = serde_json::to_vec(&fixture("incident-new.json")).unwrap();
    for key in ["does-not-exist", "0123456789abcdef0123456789abcdef"] {
        assert_rejected(
            &app,
            key,
            event.clone(),
            "application/json",
            StatusCode::NOT_FOUND,
            "unknown_integration_key",
        )
        .await;
    }
    assert_eq!(app.alert(&alert_id).await, before);
}

#[tokio::test]
async fn unknown_integration_key_cannot_touch_existing_alert() {
    let (app, _source, alert_id, before) = app_with_alert().await;
    let sys_id = str_field(&before, "alertKey");
    let (status, body) = app
        .post_event("not-the-key", &incident(&sys_id, state::RESOLVED, 1))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(app.alert(&alert_id).await["status"], "PENDING");
}

#[tokio::test]
async fn body_that_is_not_json_is_invalid() {
    let (app, source, alert_id, before) = app_with_alert().await;
    for (body, content_type) in [
        ("this is not json", "application/json"),
        ("{\"sys_id\": ", "application/json"),
        ("", "application/json"),
        (
            "sys_id=9d385017c611228701d22104cc95c371&state=1",
            "application/x-www-form-urlencoded",
        ),
        ("<xml/>", "text/plain"),
    ] {
        assert_rejected(
            &app,
            &source.integration_key,
            body,
            content_type,
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        )
        .await;
    }
    assert_eq!(app.alert(&alert_id).await, before);
}

#[tokio::test]
async fn json_that_is_not_an_object_is_invalid() {
    let (app, source, alert_id, before) = app_with_alert().await;
    let array = json!([fixture("incident-new.json")]);
    for value in [
        array,
        json!("9d385017c611228701d22104cc95c371"),
        json!(42),
        json!(null),
        json!(true),
    ] {
        assert_invalid(&app, &source, &value).await;
    }
    assert_eq!(app.alert(&alert_id).await, before);
}

#[tokio::test]
async fn missing_sys_id_is_invalid() {
    let (app, source, _, _) = app_with_alert().await;
    let mut event = fixture("incident-new.json");
    event.as_object_mut().unwrap().remove("sys_id");
    assert_invalid(&app, &source, &event).await;
}

#[tokio::test]
async fn malformed_sys_id_is_invalid() {
    let (app, source, alert_id, before) = app_with_alert().await;
    let short = &FIXTURE_SYS_ID[..31];
    let long = format!("{FIXTURE_SYS_ID}0");
    let non_hex = format!("{}g", &FIXTURE_SYS_ID[..31]);
    for sys_id in [
        json!(short),
        json!(long),
        json!(non_hex),
        json!(""),
        json!("../../../../etc/passwd0000000000"),
        json!(null),
        json!(12345678901234567890u64),
        json!({ "value": FIXTURE_SYS_ID }),
    ] {
        let mut event = incident(FIXTURE_SYS_ID, state::NEW, 0);
        event["sys_id"] = sys_id;
        assert_invalid(&app, &source, &event).await;
    }
    assert_eq!(app.alert(&alert_id).await, before);
}

#[tokio::test]
async fn malformed_sys_id_cannot_touch_existing_alert() {
    let (app, source, alert_id, before) = app_with_alert().await;
    let sys_id = str_field(&before, "alertKey");
    let mut event = incident(&sys_id, state::RESOLVED, 1);
    event["sys_id"] = json!(format!(" {sys_id}"));
    assert_invalid(&app, &source, &event).await;
    assert_eq!(app.alert(&alert_id).await["status"], "PENDING");
}

#[tokio::test]
async fn missing_state_is_invalid() {
    let (app, source, _, _) = app_with_alert().await;
    let mut event = incident(&new_sys_id(), state::NEW, 0);
    event.as_object_mut().unwrap().remove("state");
    assert_invalid(&app, &source, &event).await;
}

#[tokio::test]
async fn state_outside_the_known_set_is_invalid() {
    let (app, source, alert_id, before) = app_with_alert().await;
    let existing = str_field(&before, "alertKey");
    for state in [
        json!("4"),
        json!("5"),
        json!("0"),
        json!("9"),
        json!("-1"),
        json!("abc"),
        json!(""),
        json!(null),
    ] {
        // For a new sys_id and for the existing alert alike.
        for sys_id in [new_sys_id(), existing.clone()] {
            let mut event = incident(&sys_id, state::NEW, 1);
            event["state"] = state.clone();
            assert_invalid(&app, &source, &event).await;
        }
    }
    assert_eq!(app.alert(&alert_id).await, before);
}

#[tokio::test]
async fn malformed_sys_mod_count_is_invalid() {
    let (app, source, alert_id, before) = app_with_alert().await;
    let existing = str_field(&before, "alertKey");
    for mod_count in [json!("abc"), json!("-1"), json!("1.5")] {
        let mut event = incident(&existing, state::RESOLVED, 0);
        event["sys_mod_count"] = mod_count;
        assert_invalid(&app, &source, &event).await;
    }
    assert_eq!(app.alert(&alert_id).await, before);
}

#[tokio::test]
async fn body_over_one_mebibyte_is_too_large() {
    let (app, source, _, _) = app_with_alert().await;
    let mut event = incident(&new_sys_id(), state::NEW, 0);
    event["description"] = json!("x".repeat(MIB + 1024));
    let body = serde_json::to_vec(&event).unwrap();
    assert!(body.len() > MIB);
    assert_rejected(
        &app,
        &source.integration_key,
        body,
        "application/json",
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
}

#[tokio::test]
async fn body_just_under_one_mebibyte_is_accepted() {
    let (app, source, _, _) = app_with_alert().await;
    let mut event = incident(&new_sys_id(), state::NEW, 0);
    event["description"] = json!("");
    let overhead = serde_json::to_vec(&event).unwrap().len();
    event["description"] = json!("y".repeat(MIB - overhead - 16));
    let body = serde_json::to_vec(&event).unwrap();
    assert!(body.len() < MIB);
    let (status, response) = app
        .post_event_raw(&source.integration_key, body, "application/json")
        .await;
    assert_eq!(status, StatusCode::CREATED, "{response}");
}

#[tokio::test]
async fn deeply_nested_json_does_not_cause_server_error() {
    let (app, source, alert_id, before) = app_with_alert().await;
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let mut event = serde_json::to_string(&incident(&new_sys_id(), state::NEW, 0)).unwrap();
    event.truncate(event.len() - 1);
    event.push_str(&format!(",\"work_notes\":{nested}}}"));
    let (status, response) = app
        .post_event_raw(&source.integration_key, event, "application/json")
        .await;
    assert!(
        status.is_client_error() || status.is_success(),
        "{status}: {response}"
    );
    if status.is_client_error() {
        assert_eq!(app.alerts_total().await, 1);
    }
    assert_eq!(app.alert(&alert_id).await, before);
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn nested_objects_in_incident_fields_do_not_cause_server_error() {
    let (app, source, _, _) = app_with_alert().await;
    let mut value = json!("leaf");
    for _ in 0..100 {
        value = json!({ "a": value });
    }
    for field in [
        "short_description",
        "description",
        "number",
        "priority",
        "server_url",
    ] {
        let mut event = incident(&new_sys_id(), state::NEW, 0);
        event[field] = value.clone();
        let (status, response) = app.post_event(&source.integration_key, &event).await;
        assert!(!status.is_server_error(), "{field}: {status}: {response}");
    }
}

#[tokio::test]
async fn huge_string_values_do_not_cause_server_error() {
    let (app, source, _, _) = app_with_alert().await;
    let huge = "\u{00e9}\u{1F525}\"\\<script>".repeat(40_000);
    for field in [
        "short_description",
        "number",
        "sys_updated_by",
        "server_url",
        "priority",
    ] {
        let mut event = incident(&new_sys_id(), state::NEW, 0);
        event[field] = json!(huge);
        let (status, response) = app.post_event(&source.integration_key, &event).await;
        assert!(!status.is_server_error(), "{field}: {status}: {response}");
    }
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn events_only_accept_post() {
    let (app, source, _, _) = app_with_alert().await;
    let response = app
        .client
        .get(app.events_url(&source.integration_key))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
}
