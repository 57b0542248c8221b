//! The ServiceNow connection of an alert source: configuring it (the password write-only and
//! encrypted at rest), testing it against a simulated instance, and the rules that keep an
//! instance URL from reaching inside the network.

use std::time::{Duration, Instant};

use glidepath_tests::*;
use serde_json::{Value, json};
use servicenow_sim::{Config, Faults, RunningSimulator, Simulator};

const SIM_PASSWORD: &str = "glidepath-secret";

const CONFIGURE: &str = "mutation($id: ID!, $url: String!, $user: String!, $password: String, $bi: Boolean!) { \
    configureServiceNow(alertSourceId: $id, input: { instanceUrl: $url, username: $user, password: $password, bidirectional: $bi }) { \
      id serviceNow { instanceUrl username passwordSet bidirectional } } }";

const TEST: &str =
    "mutation($id: ID!) { testServiceNowConnection(alertSourceId: $id) { ok message } }";

/// A server allowed to call the simulator: plain http on loopback.
async fn app_for_sim() -> TestApp {
    spawn_app_with_options(
        SpawnOptions::default()
            .env("GLIDEPATH_ALLOW_INSECURE_SERVICENOW", "true")
            .env("GLIDEPATH_SERVICENOW_HOSTS", "127.0.0.1")
            .env("GLIDEPATH_SERVICENOW_TIMEOUT_MS", "1000"),
    )
    .await
}

async fn sim_with(config: Config) -> RunningSimulator {
    Simulator::start(config).await.expect("start the simulator")
}

async fn configure(
    app: &TestApp,
    token: &str,
    source_id: &str,
    url: &str,
    password: Option<&str>,
) -> Value {
    app.graphql(
        Some(token),
        CONFIGURE,
        json!({ "id": source_id, "url": url, "user": "glidepath", "password": password, "bi": false }),
    )
    .await
}

async fn test_connection(app: &TestApp, token: &str, source_id: &str) -> (bool, String) {
    let data = app.gql(token, TEST, json!({ "id": source_id })).await;
    let result = &data["testServiceNowConnection"];
    (
        result["ok"].as_bool().expect("ok is a boolean"),
        str_field(result, "message"),
    )
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A configured source on a fresh server, pointing at `sim` with `password`.
async fn connected(sim: &RunningSimulator, password: &str) -> (TestApp, String, Source) {
    let app = app_for_sim().await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    expect_data(configure(&app, &token, &source.id, &sim.url(), Some(password)).await);
    (app, token, source)
}

#[tokio::test]
async fn configuring_stores_the_connection_and_never_returns_the_password() {
    let sim = sim_with(Config::default()).await;
    let app = app_for_sim().await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;

    let before = app
        .gql(
            &token,
            "query($id: ID!) { alertSource(id: $id) { serviceNow { instanceUrl } } }",
            json!({ "id": source.id }),
        )
        .await;
    assert!(before["alertSource"]["serviceNow"].is_null(), "{before}");

    let answer = configure(
        &app,
        &token,
        &source.id,
        &format!("{}/", sim.url()),
        Some(SIM_PASSWORD),
    )
    .await;
    let data = expect_data(answer.clone());
    let conn = &data["configureServiceNow"]["serviceNow"];
    assert_eq!(conn["instanceUrl"], json!(sim.url()));
    assert_eq!(conn["username"], json!("glidepath"));
    assert_eq!(conn["passwordSet"], json!(true));
    assert_eq!(conn["bidirectional"], json!(false));
    assert!(!answer.to_string().contains(SIM_PASSWORD));

    // The schema has no way to read the password back.
    let probe = app
        .graphql(
            Some(&token),
            "query($id: ID!) { alertSource(id: $id) { serviceNow { password } } }",
            json!({ "id": source.id }),
        )
        .await;
    assert_error_code(&probe, "GRAPHQL_VALIDATION_FAILED");

    // Reconfiguring without a password keeps the stored one.
    let again = app
        .graphql(
            Some(&token),
            CONFIGURE,
            json!({ "id": source.id, "url": sim.url(), "user": "glidepath", "bi": true }),
        )
        .await;
    let again = expect_data(again);
    assert_eq!(
        again["configureServiceNow"]["serviceNow"]["bidirectional"],
        json!(true)
    );
    assert!(test_connection(&app, &token, &source.id).await.0);

    // The stored password goes only where it was entered for: another user name or instance
    // needs it again.
    let other_user = app
        .graphql(
            Some(&token),
            CONFIGURE,
            json!({ "id": source.id, "url": sim.url(), "user": "someone-else", "bi": true }),
        )
        .await;
    assert_error_code(&other_user, "BAD_USER_INPUT");
    assert!(
        error_message(&other_user).contains("password"),
        "{other_user}"
    );
    let other_instance = app
        .graphql(
            Some(&token),
            CONFIGURE,
            json!({ "id": source.id, "url": "https://acme.service-now.com", "user": "glidepath", "bi": true }),
        )
        .await;
    assert_error_code(&other_instance, "BAD_USER_INPUT");
    assert!(test_connection(&app, &token, &source.id).await.0);

    let dump = app.database_dump().await;
    assert!(
        contains(&dump, &sim.url()),
        "the dump should hold the connection"
    );
    assert!(
        !contains(&dump, SIM_PASSWORD),
        "ServiceNow password stored in clear"
    );
    assert!(
        !app.logs().contains(SIM_PASSWORD),
        "ServiceNow password logged"
    );
    sim.stop().await;
}

#[tokio::test]
async fn only_admins_configure_and_a_new_connection_needs_a_password() {
    let sim = sim_with(Config::default()).await;
    let app = app_for_sim().await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    let (_, responder) = app.create_responder().await;

    let denied = configure(&app, &responder, &source.id, &sim.url(), Some(SIM_PASSWORD)).await;
    assert_error_code(&denied, "FORBIDDEN");
    let denied = app
        .graphql(Some(&responder), TEST, json!({ "id": source.id }))
        .await;
    assert_error_code(&denied, "FORBIDDEN");

    let missing = configure(&app, &token, &source.id, &sim.url(), None).await;
    assert_error_code(&missing, "BAD_USER_INPUT");
    let unknown = configure(
        &app,
        &token,
        "00000000-0000-0000-0000-000000000000",
        &sim.url(),
        Some("x"),
    )
    .await;
    assert_error_code(&unknown, "NOT_FOUND");
    let untested = app
        .graphql(Some(&token), TEST, json!({ "id": source.id }))
        .await;
    assert_error_code(&untested, "NOT_FOUND");
    sim.stop().await;
}

#[tokio::test]
async fn a_working_connection_tests_ok() {
    let sim = sim_with(Config::default()).await;
    let (app, token, source) = connected(&sim, SIM_PASSWORD).await;
    let (ok, message) = test_connection(&app, &token, &source.id).await;
    assert!(ok, "{message}");
    // The probe asked for plain sys_ids, with the integration user.
    let requests = sim.state().requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(r.user.as_deref(), Some("glidepath"), "{r:?}");
        assert!(
            r.query.contains("sysparm_exclude_reference_link=true"),
            "{r:?}"
        );
    }
    sim.stop().await;
}

#[tokio::test]
async fn a_wrong_password_is_reported_as_bad_credentials() {
    let sim = sim_with(Config::default()).await;
    let (app, token, source) = connected(&sim, "not-the-password").await;
    let (ok, message) = test_connection(&app, &token, &source.id).await;
    assert!(!ok);
    assert!(
        message.contains("401") && message.contains("credentials"),
        "{message}"
    );
    assert!(!message.contains("not-the-password"));
    sim.stop().await;
}

#[tokio::test]
async fn a_closed_port_is_reported_as_unreachable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let app = app_for_sim().await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    expect_data(
        configure(
            &app,
            &token,
            &source.id,
            &format!("http://127.0.0.1:{port}"),
            Some("pw"),
        )
        .await,
    );
    let (ok, message) = test_connection(&app, &token, &source.id).await;
    assert!(!ok);
    assert!(message.contains("unreachable"), "{message}");
}

#[tokio::test]
async fn a_hibernating_instance_is_named_as_such() {
    let sim = sim_with(Config::default()).await;
    let (app, token, source) = connected(&sim, SIM_PASSWORD).await;
    sim.set_fault(Faults::hibernate());
    let (ok, message) = test_connection(&app, &token, &source.id).await;
    assert!(!ok);
    assert!(message.contains("hibernating"), "{message}");
    sim.stop().await;
}

#[tokio::test]
async fn a_denied_table_is_named() {
    let sim = sim_with(Config {
        denied_tables: vec!["cmdb_ci_service".into()],
        ..Config::default()
    })
    .await;
    let (app, token, source) = connected(&sim, SIM_PASSWORD).await;
    let (ok, message) = test_connection(&app, &token, &source.id).await;
    assert!(!ok);
    assert!(message.contains("cmdb_ci_service"), "{message}");
    for readable in [
        "sys_user_group",
        "sys_choice",
        "sys_dictionary",
        "service_offering",
    ] {
        assert!(
            !message.contains(readable),
            "{readable} is readable: {message}"
        );
    }
    sim.stop().await;
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_reported() {
    let sim = sim_with(Config::default()).await;
    let (app, token, source) = connected(&sim, SIM_PASSWORD).await;
    sim.set_fault(Faults::error(503, Some(1)));
    let (ok, message) = test_connection(&app, &token, &source.id).await;
    assert!(!ok);
    assert!(message.contains("503"), "{message}");
    sim.set_fault(Faults::rate_limit(7, Some(1)));
    let (ok, message) = test_connection(&app, &token, &source.id).await;
    assert!(!ok);
    assert!(
        message.contains("429") && message.contains('7'),
        "{message}"
    );
    sim.set_fault(Faults::drop_connection(Some(1)));
    let (ok, message) = test_connection(&app, &token, &source.id).await;
    assert!(!ok, "{message}");
    let (ok, message) = test_connection(&app, &token, &source.id).await;
    assert!(ok, "{message}");
    sim.stop().await;
}

#[tokio::test]
async fn a_slow_instance_times_out_with_a_clear_message() {
    let sim = sim_with(Config::default()).await;
    let (app, token, source) = connected(&sim, SIM_PASSWORD).await;
    sim.set_fault(Faults::latency(4000));
    let started = Instant::now();
    let (ok, message) = test_connection(&app, &token, &source.id).await;
    assert!(!ok);
    assert!(
        message.contains("did not answer within 1000 ms"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    sim.stop().await;
}

#[tokio::test]
async fn without_the_insecure_setting_http_and_loopback_are_refused() {
    let app = spawn_app_with_options(
        SpawnOptions::default().env("GLIDEPATH_SERVICENOW_HOSTS", "localhost,127.0.0.1"),
    )
    .await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;

    let http = configure(
        &app,
        &token,
        &source.id,
        "http://acme.service-now.com",
        Some("pw"),
    )
    .await;
    assert_error_code(&http, "BAD_USER_INPUT");
    assert!(error_message(&http).contains("https"), "{http}");

    // Allowed by the host rule, refused once resolved.
    for url in ["https://localhost:9", "https://127.0.0.1:9"] {
        expect_data(configure(&app, &token, &source.id, url, Some("pw")).await);
        let (ok, message) = test_connection(&app, &token, &source.id).await;
        assert!(!ok);
        assert!(
            message.contains("refused") && message.contains("loopback"),
            "{url}: {message}"
        );
    }
}

#[tokio::test]
async fn hosts_outside_service_now_need_to_be_listed() {
    let app = spawn_app_with_options(
        SpawnOptions::default().env("GLIDEPATH_SERVICENOW_HOSTS", "sn.example.test"),
    )
    .await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;

    for url in [
        "https://evil.example.com",
        "https://service-now.com.evil.example.com",
        "https://acme.service-now.com/api/now/table/incident",
        "https://user:pw@acme.service-now.com",
    ] {
        let refused = configure(&app, &token, &source.id, url, Some("pw")).await;
        assert_error_code(&refused, "BAD_USER_INPUT");
    }
    let refused = configure(
        &app,
        &token,
        &source.id,
        "https://evil.example.com",
        Some("pw"),
    )
    .await;
    assert!(
        error_message(&refused).contains("GLIDEPATH_SERVICENOW_HOSTS"),
        "{refused}"
    );

    for url in ["https://acme.service-now.com", "https://sn.example.test"] {
        let data = expect_data(configure(&app, &token, &source.id, url, Some("pw")).await);
        assert_eq!(
            data["configureServiceNow"]["serviceNow"]["instanceUrl"],
            json!(url)
        );
    }
}
