//! Throttling: at most one notification per contact (rule) per alert per minute. What comes
//! within the minute is folded into one digest, sent when the minute ends, and the alert log
//! says how many were folded. Decided in the database, so two processes sharing it agree.

use std::time::Duration;

use glidepath_tests::*;
use serde_json::{Value, json};

#[tokio::test]
async fn notifications_within_a_minute_become_one_digest_across_processes() {
    let receiver = HttpReceiver::start(200).await;
    let app = spawn_app_with_options(
        SpawnOptions::default()
            // A minute lasts 2 s.
            .env("GLIDEPATH_TIME_SCALE", "30")
            .env("GLIDEPATH_ALLOW_INSECURE_OUTBOUND", "true"),
    )
    .await;
    // A second process on the same database: both deliver.
    let sibling = app.spawn_sibling().await;
    let (user, token) = app.create_responder().await;
    app.gql(
        &token,
        "mutation($input: NotificationRuleInput!) { addNotificationRule(input: $input) { id } }",
        json!({ "input": { "kind": "WEBHOOK", "target": receiver.url(), "onStatusChange": true } }),
    )
    .await;
    let admin = app.admin_token().await;
    let policy = app.create_policy(&admin, &[&id_of(&user)]).await;
    let source = app.create_alert_source(&admin, &id_of(&policy)).await;
    let (_, body) = app
        .post_event(
            &str_field(&source, "integrationKey"),
            &incident(&new_sys_id(), state::NEW, 0),
        )
        .await;
    let alert_id = str_field(&body, "alertId");
    let first = eventually(Duration::from_secs(10), "the escalation POST", || async {
        receiver.bodies().first().cloned()
    })
    .await;
    assert_eq!(first["event"], "ESCALATED");

    // Within the minute: accepted, then resolved (through both processes).
    app.gql(
        &admin,
        "mutation($id: ID!) { acceptAlert(id: $id) { id } }",
        json!({ "id": alert_id }),
    )
    .await;
    sibling
        .gql(
            &admin,
            "mutation($id: ID!) { resolveAlert(id: $id, comment: \"done\") { id } }",
            json!({ "id": alert_id }),
        )
        .await;

    let digest = eventually(Duration::from_secs(15), "the digest POST", || async {
        receiver.bodies().get(1).cloned()
    })
    .await;
    assert_eq!(digest["event"], "DIGEST", "{digest}");
    assert_eq!(
        digest["digest"],
        json!([
            format!("accepted by {ADMIN_EMAIL}"),
            format!("resolved by {ADMIN_EMAIL}")
        ]),
        "{digest}"
    );
    assert!(
        digest["message"]
            .as_str()
            .unwrap()
            .contains("2 updates in the last minute"),
        "{digest}"
    );
    assert_eq!(digest["alert"]["status"], "RESOLVED");

    // Nothing else comes: two POSTs in all.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(receiver.bodies().len(), 2, "{:?}", receiver.bodies());

    let alert = app.alert(&alert_id).await;
    let notified: Vec<String> = log_entries_of(&alert, "NOTIFIED")
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    let host = format!("http://127.0.0.1:{}/…", receiver.port);
    assert!(
        notified.contains(&format!(
            "2 notifications to {host} by webhook folded into a digest (at most one per contact and alert per minute)"
        )),
        "{notified:?}"
    );
    assert!(
        notified.contains(&format!("Notified {host} by webhook (DIGEST)")),
        "{notified:?}"
    );
    assert_eq!(notified.len(), 3, "{notified:?}");
    let _: Value = alert;
}

#[tokio::test]
async fn another_alert_or_contact_is_not_throttled() {
    let receiver = HttpReceiver::start(200).await;
    let other = HttpReceiver::start(200).await;
    let app = spawn_app_with_options(
        SpawnOptions::default()
            // A minute lasts a minute: anything throttled would not arrive within the test.
            .env("GLIDEPATH_ALLOW_INSECURE_OUTBOUND", "true"),
    )
    .await;
    let (user, token) = app.create_responder().await;
    for target in [receiver.url(), other.url()] {
        app.gql(
            &token,
            "mutation($input: NotificationRuleInput!) { addNotificationRule(input: $input) { id } }",
            json!({ "input": { "kind": "WEBHOOK", "target": target } }),
        )
        .await;
    }
    let admin = app.admin_token().await;
    let policy = app.create_policy(&admin, &[&id_of(&user)]).await;
    let source = app.create_alert_source(&admin, &id_of(&policy)).await;
    for _ in 0..2 {
        app.post_event(
            &str_field(&source, "integrationKey"),
            &incident(&new_sys_id(), state::NEW, 0),
        )
        .await;
    }
    for r in [&receiver, &other] {
        eventually(Duration::from_secs(10), "one POST per alert", || async {
            (r.bodies().len() == 2).then_some(())
        })
        .await;
    }
}
