//! Outgoing webhooks: the versioned JSON body (version, event, alert with links, actor) and the
//! `Glidepath-Signature` header, verified in the receiver with the secret shown once when the
//! rule was added.

use std::time::Duration;

use glidepath_tests::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

const ADD_RULE: &str = "mutation($input: NotificationRuleInput!) { \
     addNotificationRule(input: $input) { id kind signingSecret } }";

/// What a receiver does (see the README): split the header, recompute the HMAC over
/// "t.body", compare in constant time.
fn verify(secret: &str, header: &str, body: &str) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&expected).is_ok()
}

#[tokio::test]
async fn a_webhook_gets_a_versioned_body_signed_with_the_rules_secret() {
    let receiver = HttpReceiver::start(200).await;
    let app = spawn_app_with_options(
        SpawnOptions::default()
            .env("GLIDEPATH_TIME_SCALE", "600")
            .env("GLIDEPATH_ALLOW_INSECURE_OUTBOUND", "true"),
    )
    .await;
    let (user, token) = app.create_responder().await;
    let rule = app
        .gql(
            &token,
            ADD_RULE,
            json!({ "input": { "kind": "WEBHOOK", "target": receiver.url(), "onStatusChange": true } }),
        )
        .await["addNotificationRule"]
        .clone();
    let secret = str_field(&rule, "signingSecret");
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    // Shown once: reading the rules again never shows it.
    let rules = app
        .gql(
            &token,
            "{ me { notificationRules { kind signingSecret } } }",
            json!({}),
        )
        .await;
    for r in rules["me"]["notificationRules"].as_array().unwrap() {
        assert_eq!(r["signingSecret"], Value::Null, "{rules}");
    }
    // An e-mail rule has none.
    let email_rule = app
        .gql(
            &token,
            ADD_RULE,
            json!({ "input": { "kind": "EMAIL", "target": "pager@example.com" } }),
        )
        .await;
    assert_eq!(
        email_rule["addNotificationRule"]["signingSecret"],
        Value::Null
    );

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
    let escalated = eventually(Duration::from_secs(10), "the escalation POST", || async {
        receiver.received().first().cloned()
    })
    .await;

    let signature = escalated
        .header("glidepath-signature")
        .expect("a Glidepath-Signature header");
    assert!(
        verify(&secret, signature, &escalated.body),
        "{signature} over {}",
        escalated.body
    );
    assert!(!verify("whsec_wrong", signature, &escalated.body));
    assert!(!verify(
        &secret,
        signature,
        &escalated.body.replace("ESCALATED", "RESOLVED")
    ));
    let t: i64 = signature
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .and_then(|t| t.parse().ok())
        .expect("a timestamp");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - t).abs() < 60, "t={t} now={now}");

    let payload: Value = serde_json::from_str(&escalated.body).unwrap();
    assert_eq!(payload["version"], 1, "{payload}");
    assert_eq!(payload["event"], "ESCALATED");
    assert_eq!(
        escalated.header("glidepath-delivery"),
        payload["id"].as_str()
    );
    assert_eq!(escalated.header("glidepath-event"), Some("ESCALATED"));
    assert_eq!(
        payload["actor"],
        json!({ "kind": "SYSTEM", "label": "system" })
    );
    let alert = &payload["alert"];
    assert_eq!(alert["id"], alert_id.as_str());
    assert_eq!(alert["summary"], FIXTURE_SHORT_DESCRIPTION);
    assert_eq!(alert["priority"], "HIGH");
    assert_eq!(alert["status"], "PENDING");
    assert_eq!(alert["ticketNumber"], FIXTURE_NUMBER);
    assert_eq!(alert["level"], 1);
    assert_eq!(alert["source"], source["name"]);
    assert_eq!(
        alert["links"]["alert"],
        app.url(&format!("/alerts/{alert_id}"))
    );
    let accept = alert["links"]["accept"].as_str().expect("an accept link");
    assert!(accept.starts_with(&app.url("/act/")), "{accept}");

    // Accepted by the admin (after the throttle's minute, 0.1 s here): the actor says who.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.gql(
        &admin,
        "mutation($id: ID!) { acceptAlert(id: $id) { id } }",
        json!({ "id": alert_id }),
    )
    .await;
    let accepted = eventually(Duration::from_secs(10), "the accept POST", || async {
        receiver.received().get(1).cloned()
    })
    .await;
    assert!(verify(
        &secret,
        accepted.header("glidepath-signature").unwrap(),
        &accepted.body
    ));
    let payload: Value = serde_json::from_str(&accepted.body).unwrap();
    assert_eq!(payload["event"], "ACCEPTED");
    assert_eq!(
        payload["actor"],
        json!({ "kind": "USER", "label": ADMIN_EMAIL })
    );
    assert_eq!(payload["alert"]["links"]["accept"], Value::Null);
}
