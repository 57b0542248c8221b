//! The outbound guard: webhook targets on internal addresses are refused when a rule is added
//! and again when a delivery resolves its host, the alert log names the host but never the
//! path or query, proxies are ignored, GLIDEPATH_WEBHOOK_HOSTS allows an internal host, SMTP
//! credentials never go out in plain text, and the SQLite files are private.

use std::time::Duration;

use glidepath_tests::*;
use serde_json::{Value, json};

const RULES: &str = "{ me { notificationRules { id kind target } } }";
const ADD_RULE: &str = "mutation($input: NotificationRuleInput!) { \
     addNotificationRule(input: $input) { id kind target } }";
const LOG: &str = "query($id: ID!) { alert(id: $id) { id logEntries { kind message } } }";

async fn spawn(env: &[(&str, &str)]) -> TestApp {
    let mut options = SpawnOptions::default().env("GLIDEPATH_TIME_SCALE", "600");
    for (k, v) in env {
        options = options.env(k, v);
    }
    spawn_app_with_options(options).await
}

async fn add_webhook(app: &TestApp, token: &str, target: &str) -> Value {
    app.graphql(
        Some(token),
        ADD_RULE,
        json!({ "input": { "kind": "WEBHOOK", "target": target } }),
    )
    .await
}

/// A policy whose level 1 is `user_id`, on a new source; an alert on it; returns its id.
async fn alert_for(app: &TestApp, user_id: &str) -> String {
    let admin = app.admin_token().await;
    let policy = app.create_policy(&admin, &[user_id]).await;
    let source = app.create_alert_source(&admin, &id_of(&policy)).await;
    let key = str_field(&source, "integrationKey");
    let (status, body) = app
        .post_event(&key, &incident(&new_sys_id(), state::NEW, 0))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    str_field(&body, "alertId")
}

async fn messages(app: &TestApp, id: &str, kind: &str) -> Vec<String> {
    let admin = app.admin_token().await;
    let alert = app.gql(&admin, LOG, json!({ "id": id })).await["alert"].clone();
    log_entries_of(&alert, kind)
        .iter()
        .map(|e| str_field(e, "message"))
        .collect()
}

#[tokio::test]
async fn webhook_targets_on_internal_addresses_or_plain_http_are_refused() {
    let app = spawn(&[]).await;
    let (_, token) = app.create_responder().await;
    for target in [
        "http://chat.example.com/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/hook",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[fd00:ec2::254]/hook",
        "https://[fec0::1]/hook",
        "https://[2002:7f00:1::1]/hook",
        "https://[::a9fe:a9fe]/hook",
        "https://[64:ff9b:1::a00:1]/hook",
    ] {
        let refused = add_webhook(&app, &token, target).await;
        assert_error_code(&refused, "BAD_USER_INPUT");
    }
    let rules = app.gql(&token, RULES, json!({})).await;
    let rules = rules["me"]["notificationRules"].as_array().unwrap().clone();
    assert_eq!(rules.len(), 1, "only the e-mail rule: {rules:?}");
    expect_data(add_webhook(&app, &token, "https://chat.example.com/hook").await);
}

#[tokio::test]
async fn a_host_resolving_to_loopback_is_refused_at_delivery_and_the_log_hides_the_path() {
    let receiver = HttpReceiver::start(200).await;
    let app = spawn(&[]).await;
    let (user, token) = app.create_responder().await;
    let target = format!(
        "https://localhost:{}/hook/T0KEN?token=S3CRET",
        receiver.port
    );
    expect_data(add_webhook(&app, &token, &target).await);
    let id = alert_for(&app, &id_of(&user)).await;
    let failed = eventually(Duration::from_secs(10), "the refused delivery", || async {
        messages(&app, &id, "NOTIFICATION_FAILED")
            .await
            .into_iter()
            .find(|m| m.contains("webhook"))
    })
    .await;
    assert!(
        failed.contains(&format!("https://localhost:{}/…", receiver.port)),
        "{failed}"
    );
    assert!(failed.contains("loopback"), "{failed}");
    assert!(
        !failed.contains("T0KEN") && !failed.contains("S3CRET"),
        "{failed}"
    );
    assert!(!app.logs().contains("S3CRET"), "target logged");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.bodies().is_empty(), "nothing reached the receiver");
}

#[tokio::test]
async fn deliveries_ignore_proxy_variables_and_do_not_follow_redirects() {
    let receiver = HttpReceiver::start(200).await;
    let redirecting = HttpReceiver::start(307).await;
    // A proxy that does not exist: a client honouring it could not deliver.
    let app = spawn(&[
        ("GLIDEPATH_ALLOW_INSECURE_OUTBOUND", "true"),
        ("HTTP_PROXY", "http://127.0.0.1:9"),
        ("http_proxy", "http://127.0.0.1:9"),
        ("ALL_PROXY", "http://127.0.0.1:9"),
    ])
    .await;
    let (user, token) = app.create_responder().await;
    expect_data(add_webhook(&app, &token, &format!("{}?token=S3CRET", receiver.url())).await);
    expect_data(add_webhook(&app, &token, &redirecting.url()).await);
    let id = alert_for(&app, &id_of(&user)).await;
    eventually(Duration::from_secs(10), "the direct delivery", || async {
        receiver.bodies().first().cloned()
    })
    .await;
    let notified = eventually(Duration::from_secs(10), "the NOTIFIED entry", || async {
        messages(&app, &id, "NOTIFIED").await.into_iter().next()
    })
    .await;
    assert!(
        notified.contains(&format!("http://127.0.0.1:{}/…", receiver.port)),
        "{notified}"
    );
    assert!(!notified.contains("S3CRET"), "{notified}");
    let redirect = eventually(Duration::from_secs(10), "the redirect failure", || async {
        messages(&app, &id, "NOTIFICATION_FAILED")
            .await
            .into_iter()
            .find(|m| m.contains(&redirecting.port.to_string()))
    })
    .await;
    assert!(
        redirect.contains("redirects are not followed"),
        "{redirect}"
    );
}

#[tokio::test]
async fn webhook_hosts_lets_an_admin_allow_an_internal_host() {
    let app = spawn(&[("GLIDEPATH_WEBHOOK_HOSTS", "10.0.0.5, chat.internal")]).await;
    let (_, token) = app.create_responder().await;
    expect_data(add_webhook(&app, &token, "https://10.0.0.5/hook").await);
    // Listed or not, plain http and metadata addresses stay refused.
    assert_error_code(
        &add_webhook(&app, &token, "http://10.0.0.5/hook").await,
        "BAD_USER_INPUT",
    );
    assert_error_code(
        &add_webhook(&app, &token, "https://10.0.0.6/hook").await,
        "BAD_USER_INPUT",
    );
    assert_error_code(
        &add_webhook(&app, &token, "https://169.254.169.254/hook").await,
        "BAD_USER_INPUT",
    );
}

#[tokio::test]
async fn smtp_credentials_in_plain_text_are_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/g.db", dir.path().display());
    let out = run_glidepath(
        &["serve", "--listen", "127.0.0.1:0", "--database-url", &db],
        &[
            ("GLIDEPATH_SMTP_URL", "smtp://user:pa55word@127.0.0.1:2525"),
            ("GLIDEPATH_ADMIN_PASSWORD", "change-me-please"),
        ],
        dir.path(),
    )
    .await;
    assert!(!out.status.success(), "the server must not start");
    let stderr = strip_ansi(&String::from_utf8_lossy(&out.stderr));
    assert!(stderr.contains("tls=required"), "{stderr}");
    assert!(!stderr.contains("pa55word"), "{stderr}");

    let sink = SmtpSink::start().await;
    let url = sink.url().replace("smtp://", "smtp://user:pa55word@");
    let app = spawn(&[
        ("GLIDEPATH_SMTP_URL", &url),
        ("GLIDEPATH_SMTP_ALLOW_PLAINTEXT_CREDENTIALS", "true"),
    ])
    .await;
    app.admin_token().await;
}

#[cfg(unix)]
#[tokio::test]
async fn sqlite_files_are_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let db = std::sync::Arc::new(TestDatabase::sqlite());
    let app = spawn_app_with(db.clone(), SpawnOptions::default()).await;
    let (user, _) = app.create_responder().await;
    alert_for(&app, &id_of(&user)).await;
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(db.dir()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".db") || name.ends_with("-wal") || name.ends_with("-shm") {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
            seen.push(name);
        }
    }
    assert!(seen.iter().any(|n| n.ends_with("-wal")), "{seen:?}");
    assert!(seen.iter().any(|n| n.ends_with(".db")), "{seen:?}");
}
