//! Per-rule delay: an escalation notification on a rule with `delayMinutes` waits that long, and
//! is not sent (the alert log says why) when the alert was accepted before the delay passed.

use std::time::Duration;

use glidepath_tests::*;
use serde_json::json;

const ADD_RULE: &str = "mutation($input: NotificationRuleInput!) { \
     addNotificationRule(input: $input) { id delayMinutes } }";

#[tokio::test]
async fn a_delayed_notification_waits_and_is_dropped_once_the_alert_is_accepted() {
    let receiver = HttpReceiver::start(200).await;
    let app = spawn_app_with_options(
        SpawnOptions::default()
            // A minute passes in 0.1 s.
            .env("GLIDEPATH_TIME_SCALE", "600")
            .env("GLIDEPATH_ALLOW_INSECURE_OUTBOUND", "true"),
    )
    .await;
    let (user, token) = app.create_responder().await;
    let rule = app
        .gql(
            &token,
            ADD_RULE,
            json!({ "input": { "kind": "WEBHOOK", "target": receiver.url(), "delayMinutes": 20 } }),
        )
        .await;
    assert_eq!(rule["addNotificationRule"]["delayMinutes"], 20);
    for bad in [-1, 1441] {
        let refused = app
            .graphql(
                Some(&token),
                ADD_RULE,
                json!({ "input": { "kind": "WEBHOOK", "target": receiver.url(), "delayMinutes": bad } }),
            )
            .await;
        assert_error_code(&refused, "BAD_USER_INPUT");
    }
    let admin = app.admin_token().await;
    let policy = app.create_policy(&admin, &[&id_of(&user)]).await;
    let source = app.create_alert_source(&admin, &id_of(&policy)).await;
    let key = str_field(&source, "integrationKey");

    // Left alone, the notification goes out once the 20 minutes (2 s) have passed, not before.
    let (_, body) = app
        .post_event(&key, &incident(&new_sys_id(), state::NEW, 0))
        .await;
    let waited = str_field(&body, "alertId");
    let started = std::time::Instant::now();
    let posted = eventually(Duration::from_secs(20), "the delayed POST", || async {
        receiver.bodies().first().cloned()
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "sent after {:?}, before its delay",
        started.elapsed()
    );
    assert_eq!(posted["alert"]["id"], waited.as_str());

    // Accepted before the delay passes: not sent, and the log says why.
    let (_, body) = app
        .post_event(&key, &incident(&new_sys_id(), state::NEW, 0))
        .await;
    let accepted = str_field(&body, "alertId");
    app.gql(
        &admin,
        "mutation($id: ID!) { acceptAlert(id: $id) { id } }",
        json!({ "id": accepted }),
    )
    .await;
    // (The responder's e-mail rule logs "no SMTP configured" at once: look for the webhook.)
    let dropped = eventually(
        Duration::from_secs(20),
        "the dropped notification",
        || async {
            let alert = app.alert(&accepted).await;
            log_entries_of(&alert, "NOTIFICATION_FAILED")
                .iter()
                .map(|e| str_field(e, "message"))
                .find(|m| m.contains("delay"))
        },
    )
    .await;
    assert!(
        dropped.contains("not sent: the alert was accepted before the 20-minute delay passed"),
        "{dropped}"
    );
    assert!(
        receiver
            .bodies()
            .iter()
            .all(|b| b["alert"]["id"] != accepted.as_str()),
        "{:?}",
        receiver.bodies()
    );
}
