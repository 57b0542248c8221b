//! The notification e-mail as a responder reads it: read back from the SMTP sink and decoded
//! (quoted-printable, base64, encoded words): subject, threading headers, the text and the HTML
//! part with the alert's facts and links, escaping of what ServiceNow sends, no header injection,
//! and who acted in accept and resolve notices.

use std::time::Duration;

use glidepath_tests::*;
use serde_json::{Value, json};

const ADD_RULE: &str = "mutation($userId: ID, $input: NotificationRuleInput!) { \
     addNotificationRule(userId: $userId, input: $input) { id } }";

async fn spawn(sink: &SmtpSink) -> TestApp {
    spawn_app_with_options(
        SpawnOptions::default()
            .env("GLIDEPATH_TIME_SCALE", "600")
            .env("GLIDEPATH_SMTP_URL", &sink.url())
            .env("GLIDEPATH_SMTP_FROM", "Glidepath <alerts@example.com>"),
    )
    .await
}

struct Setup {
    key: String,
    policy: String,
    source: String,
}

/// A policy with one-minute levels (one user each, no repeat) on a new source.
async fn source_for(app: &TestApp, levels: &[&str]) -> Setup {
    let admin = app.admin_token().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let rules: Vec<Value> = levels
        .iter()
        .map(|id| json!({ "escalationTimeoutMinutes": 1, "userIds": [id] }))
        .collect();
    let policy_name = format!("Network on-call {}", &suffix[..6]);
    let policy = app
        .gql(
            &admin,
            "mutation($input: CreateEscalationPolicyInput!) { createEscalationPolicy(input: $input) { id } }",
            json!({ "input": { "name": policy_name, "rules": rules } }),
        )
        .await;
    let source = app
        .create_alert_source(&admin, &id_of(&policy["createEscalationPolicy"]))
        .await;
    Setup {
        key: str_field(&source, "integrationKey"),
        policy: policy_name,
        source: str_field(&source, "name"),
    }
}

async fn new_alert(app: &TestApp, key: &str, summary: &str) -> String {
    let mut event = incident(&new_sys_id(), state::NEW, 0);
    event["short_description"] = json!(summary);
    let (status, body) = app.post_event(key, &event).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    str_field(&body, "alertId")
}

async fn mails_to(sink: &SmtpSink, to: &str, n: usize) -> Vec<ParsedMail> {
    eventually(
        Duration::from_secs(20),
        &format!("{n} mails to {to}"),
        || async {
            let mails = sink.mails_to(to);
            (mails.len() >= n).then(|| mails.iter().map(Mail::parse).collect())
        },
    )
    .await
}

#[tokio::test]
async fn an_escalation_mail_has_a_text_and_an_html_part_with_the_facts_and_links() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let (user, _) = app.create_responder().await;
    let (u1, email) = (id_of(&user), str_field(&user, "email"));
    let setup = source_for(&app, &[&u1]).await;
    let id = new_alert(&app, &setup.key, FIXTURE_SHORT_DESCRIPTION).await;

    let mail = mails_to(&sink, &email, 1).await.remove(0);
    assert_eq!(
        mail.subject,
        format!("[HIGH] {FIXTURE_NUMBER} {FIXTURE_SHORT_DESCRIPTION} — escalated to you (level 1)")
    );
    assert_eq!(mail.content_type, "multipart/alternative", "{mail:?}");
    assert!(!mail.text.is_empty() && !mail.html.is_empty(), "{mail:?}");

    // Facts, in both parts.
    let ticket_url = format!("{FIXTURE_SERVER_URL}nav_to.do?uri=incident.do?sys_id=");
    for part in [&mail.text, &unescape_html(&mail.html)] {
        for fact in [
            FIXTURE_SHORT_DESCRIPTION,
            "HIGH",
            "PENDING",
            FIXTURE_NUMBER,
            &setup.source,
            &setup.policy,
            "level 1",
            "CREATED",
            "ESCALATED",
            "Escalated to level 1",
        ] {
            assert!(part.contains(fact), "{fact:?} missing from {part}");
        }
    }
    assert!(mail.text.contains(&ticket_url), "{}", mail.text);
    assert!(
        mail.html_hrefs().iter().any(|h| h.starts_with(&ticket_url)),
        "{:?}",
        mail.html_hrefs()
    );

    // The alert's page, and accept and resolve links, in both parts.
    let alert_url = app.url(&format!("/alerts/{id}"));
    assert!(mail.text.contains(&alert_url), "{}", mail.text);
    assert!(mail.html_links_to(&alert_url), "{:?}", mail.html_hrefs());
    let accept = mail.text_link("Accept").expect("an accept link");
    let resolve = mail.text_link("Resolve").expect("a resolve link");
    assert!(accept.starts_with(&app.url("/act/")), "{accept}");
    assert!(resolve.starts_with(&app.url("/act/")), "{resolve}");
    assert_ne!(accept, resolve);
    assert!(mail.html_links_to(&accept), "{:?}", mail.html_hrefs());
    assert!(mail.html_links_to(&resolve), "{:?}", mail.html_hrefs());

    // Threading: one conversation per alert.
    let host = "127.0.0.1";
    assert_eq!(mail.in_reply_to, vec![format!("alert-{id}@{host}")]);
    assert_eq!(mail.references, vec![format!("alert-{id}@{host}")]);
    assert!(mail.message_id.ends_with(&format!("@{host}")), "{mail:?}");
}

#[tokio::test]
async fn mails_of_one_alert_share_a_thread_and_each_has_its_own_message_id() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let (user, _) = app.create_responder().await;
    let (u1, email) = (id_of(&user), str_field(&user, "email"));
    // The same user on two levels: two mails for one alert.
    let setup = source_for(&app, &[&u1, &u1]).await;
    let id = new_alert(&app, &setup.key, "Disk full on db-07").await;
    let other = new_alert(&app, &setup.key, "Disk full on db-08").await;
    let mails = mails_to(&sink, &email, 4).await;
    let of = |alert: &str| -> Vec<&ParsedMail> {
        mails
            .iter()
            .filter(|m| m.references == vec![format!("alert-{alert}@127.0.0.1")])
            .collect()
    };
    let (first, second) = (of(&id), of(&other));
    assert_eq!(first.len(), 2, "{mails:?}");
    assert_eq!(second.len(), 2, "{mails:?}");
    assert_ne!(first[0].message_id, first[1].message_id);
    let subjects: Vec<&str> = first.iter().map(|m| m.subject.as_str()).collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.ends_with("escalated to you (level 2)")),
        "{subjects:?}"
    );
}

#[tokio::test]
async fn what_servicenow_sends_is_escaped_in_html_and_cannot_add_headers() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let (user, _) = app.create_responder().await;
    let (u1, email) = (id_of(&user), str_field(&user, "email"));
    let setup = source_for(&app, &[&u1]).await;
    let summary = "<script>alert(1)</script> <img src=x onerror=alert(2)>\r\nBcc: thief@example.com\r\nX-Evil: 1";
    new_alert(&app, &setup.key, summary).await;

    let raw = eventually(Duration::from_secs(20), "the mail", || async {
        sink.mails_to(&email).first().cloned()
    })
    .await;
    let mail = raw.parse();
    assert_eq!(raw.to, vec![email.clone()], "one recipient only");
    for name in &mail.header_names {
        assert!(
            !name.eq_ignore_ascii_case("bcc") && !name.eq_ignore_ascii_case("x-evil"),
            "injected header {name}: {}",
            raw.data
        );
    }
    assert!(
        mail.subject
            .starts_with("[HIGH] INC0010042 <script>alert(1)</script> <img src=x onerror=alert(2)> Bcc: thief@example.com X-Evil: 1"),
        "{}",
        mail.subject
    );
    assert!(!mail.html.contains("<script"), "{}", mail.html);
    assert!(!mail.html.contains("<img"), "{}", mail.html);
    assert!(mail.html.contains("&lt;script&gt;"), "{}", mail.html);
    // The text part says it as it is.
    assert!(
        mail.text.contains("<script>alert(1)</script>"),
        "{}",
        mail.text
    );
}

#[tokio::test]
async fn accept_and_resolve_notices_say_who_did_it() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink).await;
    let (user, token) = app.create_responder().await;
    let (u1, email) = (id_of(&user), str_field(&user, "email"));
    app.gql(
        &token,
        ADD_RULE,
        json!({ "input": { "kind": "EMAIL", "target": email, "onStatusChange": true } }),
    )
    .await;
    let setup = source_for(&app, &[&u1]).await;
    let id = new_alert(&app, &setup.key, "Core router packet loss").await;
    let admin = app.admin_token().await;
    // Each step after the throttle's minute (0.1 s here), so none is folded into a digest.
    mails_to(&sink, &email, 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.gql(
        &admin,
        "mutation($id: ID!) { acceptAlert(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    mails_to(&sink, &email, 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.gql(
        &admin,
        "mutation($id: ID!) { resolveAlert(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;
    // Two escalation mails (two rules) and one per status change.
    let mails = mails_to(&sink, &email, 4).await;
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    let accepted = mails
        .iter()
        .find(|m| m.subject.ends_with(&format!("accepted by {ADMIN_EMAIL}")))
        .unwrap_or_else(|| panic!("no accept notice: {subjects:?}"));
    assert!(
        accepted
            .text
            .contains(&format!("Alert accepted by {ADMIN_EMAIL}.")),
        "{}",
        accepted.text
    );
    let resolved = mails
        .iter()
        .find(|m| m.subject.ends_with(&format!("resolved by {ADMIN_EMAIL}")))
        .unwrap_or_else(|| panic!("no resolve notice: {subjects:?}"));
    assert!(
        unescape_html(&resolved.html).contains(&format!("Alert resolved by {ADMIN_EMAIL}.")),
        "{}",
        resolved.html
    );
    // Nothing left to do on a resolved alert: no accept or resolve link.
    assert_eq!(resolved.text_link("Accept"), None);
    assert_eq!(resolved.text_link("Resolve"), None);
    assert!(
        resolved.references == vec![format!("alert-{id}@127.0.0.1")],
        "{resolved:?}"
    );
}
