//! The accept and resolve links of notification e-mails, over plain HTTP without signing in:
//! GET changes nothing, the POST acts as the recipient (same log entry as the UI), a link works
//! once, and a tampered, expired, cross-site, disabled user's or settled alert's link gets a clear
//! page and changes nothing.

use std::time::Duration;

use glidepath_tests::*;
use serde_json::json;

async fn spawn(sink: &SmtpSink, time_scale: &str) -> TestApp {
    spawn_app_with_options(
        SpawnOptions::default()
            .env("GLIDEPATH_TIME_SCALE", time_scale)
            .env("GLIDEPATH_SMTP_URL", &sink.url()),
    )
    .await
}

/// A client that keeps no cookies and follows no redirects: what a mail client opens.
fn browserless() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Links {
    alert_id: String,
    user_id: String,
    email: String,
    accept: String,
    resolve: String,
}

/// A responder on a one-level policy (a long timeout, so nothing else happens), a new alert, and
/// the links of the mail it sent them.
async fn mailed_links(app: &TestApp, sink: &SmtpSink) -> Links {
    let (user, _) = app.create_responder().await;
    let (user_id, email) = (id_of(&user), str_field(&user, "email"));
    let admin = app.admin_token().await;
    let policy = app.create_policy(&admin, &[&user_id]).await;
    let source = app.create_alert_source(&admin, &id_of(&policy)).await;
    let (status, body) = app
        .post_event(
            &str_field(&source, "integrationKey"),
            &incident(&new_sys_id(), state::NEW, 0),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let alert_id = str_field(&body, "alertId");
    let mail = eventually(Duration::from_secs(20), "the escalation mail", || async {
        sink.mails_to(&email).first().map(Mail::parse)
    })
    .await;
    Links {
        alert_id,
        user_id,
        email,
        accept: mail.text_link("Accept").expect("an accept link"),
        resolve: mail.text_link("Resolve").expect("a resolve link"),
    }
}

async fn get(url: &str) -> (StatusCode, String) {
    let r = browserless().get(url).send().await.unwrap();
    let status = r.status();
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        r.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (status, r.text().await.unwrap())
}

async fn post(url: &str) -> (StatusCode, String) {
    let r = browserless()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn alert(app: &TestApp, id: &str) -> serde_json::Value {
    app.alert(id).await
}

#[tokio::test]
async fn following_a_link_changes_nothing_and_the_button_accepts_as_the_recipient() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink, "1").await;
    let links = mailed_links(&app, &sink).await;

    // A mail scanner fetching the link twice changes nothing.
    for _ in 0..2 {
        let (status, page) = get(&links.accept).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Accept this alert?"), "{page}");
        assert!(page.contains(&links.email), "{page}");
        assert!(page.contains(FIXTURE_SHORT_DESCRIPTION), "{page}");
        assert!(page.contains("<form method=\"post\""), "{page}");
        assert!(page.contains("id=\"confirm\""), "{page}");
    }
    let before = alert(&app, &links.alert_id).await;
    assert_eq!(before["status"], "PENDING");
    assert!(log_entries_of(&before, "ACCEPTED").is_empty());

    let (status, page) = post(&links.accept).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Accepted"), "{page}");
    let after = alert(&app, &links.alert_id).await;
    assert_eq!(after["status"], "ACCEPTED", "{after}");
    assert_eq!(after["assignedTo"]["id"], links.user_id.as_str());
    let accepted = log_entries_of(&after, "ACCEPTED");
    assert_eq!(accepted.len(), 1, "{after}");
    assert_eq!(
        accepted[0]["message"],
        format!("Accepted by {}", links.email),
        "the UI's log entry"
    );
    assert_eq!(accepted[0]["actor"], links.email.as_str());
    assert_eq!(accepted[0]["actorKind"], "USER");

    // Used: a clear page, nothing changes, for GET and POST alike.
    let (status, page) = get(&links.accept).await;
    assert_eq!(status, StatusCode::GONE, "{page}");
    assert!(page.contains("already used"), "{page}");
    assert!(!page.contains("<form"), "{page}");
    let (status, page) = post(&links.accept).await;
    assert_eq!(status, StatusCode::GONE, "{page}");
    assert_eq!(
        log_entries_of(&alert(&app, &links.alert_id).await, "ACCEPTED").len(),
        1
    );

    // The resolve link of the same mail still works on the accepted alert.
    let (status, page) = get(&links.resolve).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Resolve this alert?"), "{page}");
    let (status, page) = post(&links.resolve).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Resolved"), "{page}");
    let resolved = alert(&app, &links.alert_id).await;
    assert_eq!(resolved["status"], "RESOLVED", "{resolved}");
    assert_eq!(
        log_entries_of(&resolved, "RESOLVED")[0]["message"],
        format!("Resolved by {}", links.email)
    );
}

#[tokio::test]
async fn a_tampered_or_cross_site_link_changes_nothing() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink, "1").await;
    let links = mailed_links(&app, &sink).await;
    let token = links.accept.rsplit('/').next().unwrap().to_string();
    let (payload, tag) = token.split_once('.').unwrap();
    // The resolve link's signature on the accept link's claims; a changed character; garbage.
    let other_tag = links.resolve.rsplit('.').next().unwrap();
    let mut changed = payload.to_string().into_bytes();
    changed[3] = if changed[3] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(changed).unwrap();
    for bad in [
        format!("{payload}.{other_tag}"),
        format!("{changed}.{tag}"),
        format!("{payload}."),
        "nothing-here".to_string(),
        "a".repeat(2000),
    ] {
        let url = app.url(&format!("/act/{bad}"));
        let (status, page) = get(&url).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
        assert!(page.contains("This link is not valid"), "{page}");
        let (status, page) = post(&url).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    }
    // A POST from another site's page is refused.
    let r = browserless()
        .post(&links.accept)
        .header("origin", "https://evil.example.com")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(alert(&app, &links.alert_id).await["status"], "PENDING");
    // The genuine link still works, and an Origin of the server itself is fine.
    let r = browserless()
        .post(&links.accept)
        .header("origin", app.url("").trim_end_matches('/'))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(alert(&app, &links.alert_id).await["status"], "ACCEPTED");
}

#[tokio::test]
async fn an_expired_link_changes_nothing() {
    let sink = SmtpSink::start().await;
    // 24 hours pass in about a second.
    let app = spawn(&sink, "86400").await;
    let links = mailed_links(&app, &sink).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, page) = get(&links.accept).await;
    assert_eq!(status, StatusCode::GONE, "{page}");
    assert!(page.contains("expired"), "{page}");
    let (status, _) = post(&links.resolve).await;
    assert_eq!(status, StatusCode::GONE);
    let after = alert(&app, &links.alert_id).await;
    assert_eq!(after["status"], "PENDING", "{after}");
}

#[tokio::test]
async fn a_disabled_users_links_stop_working() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink, "1").await;
    let links = mailed_links(&app, &sink).await;
    let admin = app.admin_token().await;
    let disable = "mutation($id: ID!) { disableUser(id: $id) { id } }";
    app.gql(&admin, disable, json!({ "id": links.user_id }))
        .await;
    let (status, page) = get(&links.accept).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("disabled"), "{page}");
    let (status, _) = post(&links.accept).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(alert(&app, &links.alert_id).await["status"], "PENDING");
    // Enabled again, the link works again (it was never used).
    let enable = "mutation($id: ID!) { enableUser(id: $id) { id } }";
    app.gql(&admin, enable, json!({ "id": links.user_id }))
        .await;
    let (status, _) = post(&links.accept).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alert(&app, &links.alert_id).await["status"], "ACCEPTED");
}

#[tokio::test]
async fn links_of_a_settled_alert_say_so_and_change_nothing() {
    let sink = SmtpSink::start().await;
    let app = spawn(&sink, "1").await;
    let links = mailed_links(&app, &sink).await;
    let admin = app.admin_token().await;
    app.gql(
        &admin,
        "mutation($id: ID!) { acceptAlert(id: $id) { id } }",
        json!({ "id": links.alert_id }),
    )
    .await;
    // Accepted by someone else: nothing to accept, but it can still be resolved.
    let (status, page) = get(&links.accept).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(
        page.contains(&format!("already accepted by {ADMIN_EMAIL}")),
        "{page}"
    );
    let (status, _) = post(&links.accept).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let after = alert(&app, &links.alert_id).await;
    assert_eq!(after["assignedTo"]["email"], ADMIN_EMAIL, "{after}");

    app.gql(
        &admin,
        "mutation($id: ID!) { resolveAlert(id: $id) { id } }",
        json!({ "id": links.alert_id }),
    )
    .await;
    let (status, page) = get(&links.resolve).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("already resolved"), "{page}");
    let (status, _) = post(&links.resolve).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let after = alert(&app, &links.alert_id).await;
    assert_eq!(log_entries_of(&after, "RESOLVED").len(), 1, "{after}");
    assert_eq!(
        log_entries_of(&after, "RESOLVED")[0]["actor"],
        ADMIN_EMAIL,
        "{after}"
    );
}
