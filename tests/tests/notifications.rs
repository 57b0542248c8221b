//! Notifications: rules, e-mail through a real SMTP listener, webhooks to a test HTTP receiver,
//! the log without SMTP, retries and failure, and one delivery per step with two processes.

use std::time::Duration;

use glidepath_tests::*;
use serde_json::{Value, json};

const RULES: &str = "{ me { notificationRules { id kind target onStatusChange } } }";
const ADD_RULE: &str = "mutation($userId: ID, $input: NotificationRuleInput!) { \
     addNotificationRule(userId: $userId, input: $input) { id kind target onStatusChange } }";
const LOG: &str =
    "query($id: ID!) { alert(id: $id) { id status logEntries { kind message actor } } }";

async fn spawn(env: &[(&str, &str)]) -> TestApp {
    let mut options = SpawnOptions::default().env("GLIDEPATH_TIME_SCALE", "600");
    for (k, v) in env {
        options = options.env(k, v);
    }
    spawn_app_with_options(options).await
}

/// A responder: (id, email, token).
async fn responder(app: &TestApp) -> (String, String, String) {
    let (user, token) = app.create_responder().await;
    (id_of(&user), str_field(&user, "email"), token)
}

/// A policy with one-minute levels, one user each, on a new source; returns the integration key.
async fn source_for(app: &TestApp, levels: &[&str], repeat: i32) -> String {
    let admin = app.admin_token().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let rules: Vec<Value> = levels
        .iter()
        .map(|id| json!({ "escalationTimeoutMinutes": 1, "userIds": [id] }))
        .collect();
    let policy = app
        .gql(
            &admin,
            "mutation($input: CreateEscalationPolicyInput!) { createEscalationPolicy(input: $input) { id } }",
            json!({ "input": { "name": format!("P {}", &suffix[..8]), "rules": rules, "repeat": repeat } }),
        )
        .await;
    let source = app
        .create_alert_source(&admin, &id_of(&policy["createEscalationPolicy"]))
        .await;
    str_field(&source, "integrationKey")
}

async fn new_alert(app: &TestApp, key: &str) -> String {
    let (status, body) = app
        .post_event(key, &incident(&new_sys_id(), state::NEW, 0))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    str_field(&body, "alertId")
}

async fn log(app: &TestApp, id: &str) -> Value {
    let admin = app.admin_token().await;
    app.gql(&admin, LOG, json!({ "id": id })).await["alert"].clone()
}

fn messages(alert: &Value, kind: &str) -> Vec<String> {
    log_entries_of(alert, kind)
        .iter()
        .map(|e| str_field(e, "message"))
        .collect()
}

#[tokio::test]
async fn a_new_user_starts_with_email_to_their_address_and_manages_rules() {
    let app = spawn_app().await;
    let (id, email, token) = responder(&app).await;
    let rules = app.gql(&token, RULES, json!({})).await["me"]["notificationRules"].clone();
    assert_eq!(rules.as_array().map(Vec::len), Some(1), "{rules}");
    assert_eq!(rules[0]["kind"], "EMAIL");
    assert_eq!(rules[0]["target"], email.as_str());
    assert_eq!(rules[0]["onStatusChange"], false);

    let added = app
        .gql(
            &token,
            ADD_RULE,
            json!({ "input": { "kind": "WEBHOOK", "target": "https://chat.example.com/hook", "onStatusChange": true } }),
        )
        .await["addNotificationRule"]
        .clone();
    assert_eq!(added["kind"], "WEBHOOK");
    assert_eq!(added["onStatusChange"], true);
    let rules = app.gql(&token, RULES, json!({})).await["me"]["notificationRules"].clone();
    assert_eq!(rules.as_array().map(Vec::len), Some(2), "{rules}");

    for bad in [
        json!({ "kind": "WEBHOOK", "target": "ftp://x.example.com" }),
        json!({ "kind": "WEBHOOK", "target": "not a url" }),
        json!({ "kind": "EMAIL", "target": "nobody" }),
    ] {
        let response = app
            .graphql(Some(&token), ADD_RULE, json!({ "input": bad }))
            .await;
        assert_error_code(&response, "BAD_USER_INPUT");
    }
    // Another responder cannot touch these rules; an admin can.
    let (_, _, other) = responder(&app).await;
    let forbidden = app
        .graphql(
            Some(&other),
            ADD_RULE,
            json!({ "userId": id, "input": { "kind": "EMAIL", "target": "x@example.com" } }),
        )
        .await;
    assert_error_code(&forbidden, "FORBIDDEN");
    let remove = "mutation($id: ID!) { removeNotificationRule(id: $id) }";
    let forbidden = app
        .graphql(Some(&other), remove, json!({ "id": added["id"] }))
        .await;
    assert_error_code(&forbidden, "FORBIDDEN");
    let admin = app.admin_token().await;
    app.gql(&admin, remove, json!({ "id": added["id"] })).await;
    let rules = app.gql(&token, RULES, json!({})).await["me"]["notificationRules"].clone();
    assert_eq!(rules.as_array().map(Vec::len), Some(1), "{rules}");
}

#[tokio::test]
async fn without_smtp_the_alert_log_says_not_sent() {
    let app = spawn(&[]).await;
    let (u1, email, _) = responder(&app).await;
    let key = source_for(&app, &[&u1], 0).await;
    let id = new_alert(&app, &key).await;
    let alert = log(&app, &id).await;
    let failed = messages(&alert, "NOTIFICATION_FAILED");
    assert_eq!(failed.len(), 1, "{alert}");
    assert!(failed[0].contains(&email), "{failed:?}");
    assert!(
        failed[0].contains("not sent: no SMTP configured"),
        "{failed:?}"
    );
    // The server's log says so once, at start-up, not once per alert.
    assert!(
        app.logs().contains("GLIDEPATH_SMTP_URL is not set"),
        "the server log says e-mail is not configured"
    );
}

#[tokio::test]
async fn each_level_is_emailed_once_through_smtp_with_two_processes() {
    let sink = SmtpSink::start().await;
    let app = spawn(&[
        ("GLIDEPATH_SMTP_URL", &sink.url()),
        ("GLIDEPATH_SMTP_FROM", "Glidepath <alerts@example.com>"),
    ])
    .await;
    let sibling = app.spawn_sibling().await;
    let (u1, e1, _) = responder(&app).await;
    let (u2, e2, _) = responder(&app).await;
    let key = source_for(&app, &[&u1, &u2], 1).await;
    let id = new_alert(&app, &key).await;

    // Two levels, walked twice: each user is told twice, once per step.
    eventually(Duration::from_secs(20), "four e-mails", || async {
        (sink.mails_to(&e1).len() >= 2 && sink.mails_to(&e2).len() >= 2).then_some(())
    })
    .await;
    let alert = eventually(Duration::from_secs(10), "four NOTIFIED entries", || async {
        let alert = log(&app, &id).await;
        (messages(&alert, "NOTIFIED").len() >= 4).then_some(alert)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sink.mails_to(&e1).len(), 2, "{:?}", sink.mails());
    assert_eq!(sink.mails_to(&e2).len(), 2, "{:?}", sink.mails());
    let mail = &sink.mails_to(&e1)[0];
    assert_eq!(mail.from, "alerts@example.com");
    assert!(
        mail.data.contains(FIXTURE_SHORT_DESCRIPTION),
        "{}",
        mail.data
    );
    assert!(mail.data.contains(&id), "{}", mail.data);
    assert!(
        messages(&alert, "NOTIFICATION_FAILED").is_empty(),
        "{alert}"
    );
    assert_eq!(messages(&log(&app, &id).await, "NOTIFIED").len(), 4);
    drop(sibling);
}

#[tokio::test]
async fn webhooks_get_a_json_post_and_status_changes_when_asked() {
    let receiver = HttpReceiver::start(200).await;
    let app = spawn(&[("GLIDEPATH_ALLOW_INSECURE_OUTBOUND", "true")]).await;
    let (u1, _, token) = responder(&app).await;
    app.gql(
        &token,
        ADD_RULE,
        json!({ "input": { "kind": "WEBHOOK", "target": receiver.url(), "onStatusChange": true } }),
    )
    .await;
    let key = source_for(&app, &[&u1], 0).await;
    let id = new_alert(&app, &key).await;
    let first = eventually(Duration::from_secs(10), "the escalation POST", || async {
        receiver.bodies().first().cloned()
    })
    .await;
    assert_eq!(first["event"], "ESCALATED", "{first}");
    assert_eq!(first["alert"]["id"], id.as_str(), "{first}");
    assert_eq!(first["alert"]["summary"], FIXTURE_SHORT_DESCRIPTION);

    // The admin accepts (after the throttle's minute, 0.1 s here, so it is not folded into a
    // digest): u1 responds and asked for status changes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let admin = app.admin_token().await;
    app.gql(
        &admin,
        "mutation($id: ID!) { acceptAlert(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    let accepted = eventually(Duration::from_secs(10), "the accept POST", || async {
        receiver.bodies().get(1).cloned()
    })
    .await;
    assert_eq!(accepted["event"], "ACCEPTED", "{accepted}");
    let alert = eventually(Duration::from_secs(10), "two NOTIFIED entries", || async {
        let alert = log(&app, &id).await;
        (messages(&alert, "NOTIFIED").len() == 2).then_some(alert)
    })
    .await;
    let host = format!("http://127.0.0.1:{}/…", receiver.port);
    assert!(messages(&alert, "NOTIFIED")[0].contains(&host), "{alert}");
    assert!(!alert.to_string().contains("/hook"), "{alert}");
}

#[tokio::test]
async fn a_failing_webhook_is_retried_then_marked_failed() {
    let receiver = HttpReceiver::start(500).await;
    let app = spawn(&[("GLIDEPATH_ALLOW_INSECURE_OUTBOUND", "true")]).await;
    let (u1, _, token) = responder(&app).await;
    app.gql(
        &token,
        ADD_RULE,
        json!({ "input": { "kind": "WEBHOOK", "target": receiver.url() } }),
    )
    .await;
    let key = source_for(&app, &[&u1], 0).await;
    let id = new_alert(&app, &key).await;
    // At 600, backoff is 0.1, 0.2, 0.4, 0.8 s.
    let alert = eventually(Duration::from_secs(20), "the final failure", || async {
        let alert = log(&app, &id).await;
        messages(&alert, "NOTIFICATION_FAILED")
            .iter()
            .any(|m| m.contains("failed after 5 attempts"))
            .then_some(alert)
    })
    .await;
    let failed = messages(&alert, "NOTIFICATION_FAILED");
    let webhook: Vec<&String> = failed
        .iter()
        .filter(|m| m.contains(&format!("127.0.0.1:{}/…", receiver.port)))
        .collect();
    assert_eq!(webhook.len(), 5, "four retries and the end: {webhook:?}");
    assert!(
        webhook[0].contains("attempt 1 of 5 failed, retrying"),
        "{webhook:?}"
    );
    assert!(webhook[4].contains("HTTP 500"), "{webhook:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.bodies().len(), 5, "no attempt after the last");
}
