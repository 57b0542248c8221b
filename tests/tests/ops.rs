//! Process behaviour: health, metrics, logs, bootstrap admin and the CLI subcommands.

use std::sync::Arc;
use std::time::Duration;

use glidepath_tests::*;
use serde_json::{Value, json};

const WEBHOOK_EVENTS: &str = "glidepath_webhook_events_total";

#[tokio::test]
async fn healthz_reports_ok() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "status": "ok" }));
}

#[tokio::test]
async fn healthz_reports_unavailable_without_database() {
    if backend() != Backend::Postgres {
        // A SQLite file stays usable through its open handles, so only PostgreSQL can be
        // taken away from under the server.
        return;
    }
    let app = spawn_app().await;
    let db_name = app.database().url().rsplit('/').next().unwrap().to_string();
    let admin_url = std::env::var("GLIDEPATH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE \"{db_name}\" WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let response = app.client.get(app.url("/healthz")).send().await.unwrap();
        if response.status() == StatusCode::SERVICE_UNAVAILABLE {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body, json!({ "status": "unavailable" }));
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "healthz still {} without a database",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn metrics_count_webhook_outcomes() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let key = &source.integration_key;
    let sys_id = new_sys_id();
    let steps = [
        (incident(&sys_id, state::NEW, 0), "created"),
        (incident(&sys_id, state::NEW, 0), "unchanged"),
        (incident(&sys_id, state::ON_HOLD, 1), "updated"),
        (incident(&sys_id, state::IN_PROGRESS, 2), "accepted"),
        (incident(&sys_id, state::RESOLVED, 3), "resolved"),
    ];
    for (event, outcome) in &steps {
        let (_, body) = app.post_event(key, event).await;
        assert_eq!(body["outcome"], *outcome, "{body}");
    }
    let (status, _) = app
        .post_event_raw(key, "not json", "application/json")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let metrics = app.metrics().await;
    for (_, outcome) in &steps {
        assert_eq!(
            metric_value(&metrics, WEBHOOK_EVENTS, &[("outcome", outcome)]),
            Some(1.0),
            "outcome {outcome}:\n{metrics}"
        );
    }
    assert!(
        metric_value(&metrics, WEBHOOK_EVENTS, &[("outcome", "rejected")])
            .is_some_and(|v| v >= 1.0),
        "rejected:\n{metrics}"
    );
}

#[tokio::test]
async fn metrics_have_request_duration_histogram() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    app.create_alert(&source).await;
    let metrics = app.metrics().await;

    let buckets: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("glidepath_http_request_duration_seconds_bucket"))
        .collect();
    assert!(!buckets.is_empty(), "no histogram buckets:\n{metrics}");
    let webhook_bucket = buckets
        .iter()
        .find(|l| l.contains("method=\"POST\"") && l.contains("status=\"201\""))
        .unwrap_or_else(|| panic!("no bucket for the 201 webhook call:\n{metrics}"));
    assert!(webhook_bucket.contains("route=\""), "{webhook_bucket}");
    assert!(
        metrics.contains("glidepath_http_request_duration_seconds_sum")
            && metrics.contains("glidepath_http_request_duration_seconds_count"),
        "{metrics}"
    );
    // The route label is the route template; the raw path would publish the secret key.
    assert!(
        !metrics.contains(&source.integration_key),
        "metrics expose the integration key:\n{metrics}"
    );
}

#[tokio::test]
async fn logs_never_contain_admin_password_or_integration_key() {
    // The server's own debug output counts too; other crates stay at info.
    let app = spawn_app_with_options(SpawnOptions {
        rust_log: Some("info,glidepath=debug,server=debug".to_string()),
        ..SpawnOptions::default()
    })
    .await;
    let source = app.setup_source().await;
    let key = &source.integration_key;
    // Exercise the paths most likely to log: good events, bad events, failed logins.
    let sys_id = new_sys_id();
    app.post_event(key, &incident(&sys_id, state::NEW, 0)).await;
    app.post_event(key, &incident(&sys_id, state::IN_PROGRESS, 1))
        .await;
    app.post_event(key, &incident(&new_sys_id(), state::RESOLVED, 1))
        .await;
    app.post_event_raw(key, "{not json", "application/json")
        .await;
    app.login(ADMIN_EMAIL, "wrong-password").await;
    app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    app.client.get(app.url("/metrics")).send().await.unwrap();

    let logs = app.logs();
    assert!(!logs.is_empty(), "no logs captured, so nothing was checked");
    assert!(
        !logs.contains(ADMIN_PASSWORD),
        "admin password in logs:\n{logs}"
    );
    assert!(
        !logs.contains(key.as_str()),
        "integration key in logs:\n{logs}"
    );
    let token = app.admin_token().await;
    assert!(!logs.contains(&token), "session token in logs:\n{logs}");
}

/// The password from a `generated admin password: <pw>` log line.
fn generated_password(logs: &str) -> Option<String> {
    const MARKER: &str = "generated admin password: ";
    let logs = strip_ansi(logs);
    let start = logs.find(MARKER)? + MARKER.len();
    logs[start..]
        .split_whitespace()
        .next()
        .map(|pw| pw.trim_matches(|c| c == '"' || c == '\'').to_string())
}

#[tokio::test]
async fn missing_admin_password_is_generated_and_logged_once() {
    let app = spawn_app_with_options(SpawnOptions::default().without_admin_password()).await;
    let logs = app
        .wait_for_log("generated admin password: ", Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no generated password logged:\n{}", app.logs()));
    assert_eq!(
        logs.matches("generated admin password").count(),
        1,
        "{logs}"
    );
    let password = generated_password(&logs).expect("password after the marker");
    assert!(
        password.len() >= 12,
        "generated password too short: {password:?}"
    );
    let token = app.login_token(ADMIN_EMAIL, &password).await;
    assert_eq!(app.me(&token).await["role"], "ADMIN");
    assert_error_code(
        &app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await,
        "UNAUTHENTICATED",
    );

    // A restart on the same database already has a user: no new password.
    let restarted = app
        .spawn_sibling_with(SpawnOptions::default().without_admin_password())
        .await;
    assert!(
        !restarted.logs().contains("generated admin password"),
        "{}",
        restarted.logs()
    );
    let token = restarted.login_token(ADMIN_EMAIL, &password).await;
    assert_eq!(restarted.me(&token).await["email"], ADMIN_EMAIL);
}

#[tokio::test]
async fn admin_password_setting_does_not_reset_existing_admin() {
    let app = spawn_app().await;
    let restarted = app
        .spawn_sibling_with(
            SpawnOptions::default().env("GLIDEPATH_ADMIN_PASSWORD", "another-password-42"),
        )
        .await;
    restarted.login_token(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_error_code(
        &restarted.login(ADMIN_EMAIL, "another-password-42").await,
        "UNAUTHENTICATED",
    );
}

#[tokio::test]
async fn data_survives_a_restart() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    let db = Arc::clone(app.database());
    drop(app);

    let restarted = spawn_app_with(db, SpawnOptions::default()).await;
    let alert = restarted.alert(&alert_id).await;
    assert_eq!(alert["alertKey"], sys_id.as_str(), "{alert}");
    let (status, body) = restarted
        .post_event(
            &source.integration_key,
            &incident(&sys_id, state::IN_PROGRESS, 1),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "accepted", "{body}");
}

#[tokio::test]
async fn stdout_has_only_the_listening_line() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    app.create_alert(&source).await;
    app.post_event_raw(&source.integration_key, "nope", "application/json")
        .await;
    assert_eq!(app.extra_stdout(), Vec::<String>::new());
}

#[tokio::test]
async fn the_query_page_is_served_on_get() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/graphql")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("/graphql/query.js"), "{html}");
}

#[tokio::test]
async fn schema_subcommand_prints_the_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_glidepath(&["schema"], &[], dir.path()).await;
    assert!(output.status.success(), "{output:?}");
    let sdl = String::from_utf8_lossy(&output.stdout);
    for name in [
        "type Alert",
        "type AlertConnection",
        "acceptAlert",
        "rerouteAlert",
        "raiseAlertPriority",
        "businessRuleScript",
        "PRIORITY_RAISED",
    ] {
        assert!(sdl.contains(name), "SDL lacks {name}:\n{sdl}");
    }
}

#[tokio::test]
async fn migrate_runs_alone_against_fresh_sqlite_database() {
    let db = TestDatabase::sqlite();
    let envs = [("GLIDEPATH_DATABASE_URL", db.url())];
    let output = run_glidepath(&["migrate"], &envs, db.dir()).await;
    assert!(output.status.success(), "first migrate: {output:?}");
    assert!(
        db.dir().join("glidepath.db").exists(),
        "no database file created"
    );
    // Running it again finds nothing to do.
    let output = run_glidepath(&["migrate"], &envs, db.dir()).await;
    assert!(output.status.success(), "second migrate: {output:?}");

    let app = spawn_app_with(Arc::new(db), SpawnOptions::default()).await;
    let me = app.me(&app.admin_token().await).await;
    assert_eq!(me["email"], ADMIN_EMAIL);
}

#[tokio::test]
async fn migrate_runs_alone_against_the_test_database() {
    let db = TestDatabase::create().await;
    let envs = [("GLIDEPATH_DATABASE_URL", db.url())];
    let output = run_glidepath(&["migrate"], &envs, db.dir()).await;
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .all(|l| !l.starts_with("listening on")),
        "migrate started a server: {output:?}"
    );
}

#[tokio::test]
async fn web_ui_is_served_at_the_root_and_unknown_api_paths_are_json_404() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/")).send().await.expect("GET /");
    assert_eq!(page.status(), StatusCode::OK);
    let content_type = page.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(page.text().await.expect("body").contains("Glidepath"));

    // A path of the UI's own (client-side route) gets the page too, so a reload works.
    let deep = app
        .client
        .get(app.url("/alerts/123"))
        .send()
        .await
        .expect("GET deep");
    assert_eq!(deep.status(), StatusCode::OK);

    let api = app
        .client
        .get(app.url("/api/v1/nope"))
        .send()
        .await
        .expect("GET api");
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = api.json().await.expect("JSON 404");
    assert_eq!(body["error"]["code"], "not_found");
}

/// Under load the WAL file is reused, not shrunk (shrinking it stalls the writer); once writes
/// stop for ten seconds it is truncated, and the data is all still there.
#[tokio::test]
async fn an_idle_sqlite_server_shrinks_its_wal() {
    let db = Arc::new(TestDatabase::sqlite());
    let app = spawn_app_with(Arc::clone(&db), SpawnOptions::default()).await;
    let source = app.setup_source().await;
    let (_, alert_id) = app.create_alert(&source).await;
    let wal = db.dir().join("glidepath.db-wal");
    let size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(size() > 0, "writes go to the WAL first");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while size() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the WAL of an idle server was not truncated: {} bytes",
            size()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["id"], alert_id.as_str(), "{alert}");
    app.create_alert(&source).await;
    assert!(size() > 0, "the WAL is used again after it was truncated");
}
