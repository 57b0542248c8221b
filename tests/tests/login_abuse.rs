//! Sign-in abuse: batches are capped and need a caller, one request signs in at most once,
//! password hashes wait in a bounded queue (full: 429 at once), failed sign-ins are throttled
//! per client address (X-Forwarded-For only from trusted proxies) and per account (a silent
//! back-off during which even the right password fails).

use std::time::{Duration, Instant};

use glidepath_tests::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

const LOGIN: &str = "mutation($email: String!, $password: String!) { \
     login(email: $email, password: $password) { token } }";

async fn post(
    app: &TestApp,
    token: Option<&str>,
    forwarded_for: Option<&str>,
    body: &Value,
) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url("/graphql")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(xff) = forwarded_for {
        request = request.header("X-Forwarded-For", xff);
    }
    let response = request.send().await.expect("POST /graphql");
    let status = response.status();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn login_body(email: &str, password: &str) -> Value {
    json!({"query": LOGIN, "variables": {"email": email, "password": password}})
}

fn code(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
        .to_string()
}

#[tokio::test]
async fn batch_of_more_than_ten_is_refused() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let op = json!({"query": "{ me { id } }"});
    let ten = Value::Array(vec![op.clone(); 10]);
    let (status, body) = post(&app, Some(&token), None, &ten).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(10), "{body}");

    let eleven = Value::Array(vec![op; 11]);
    let (status, body) = post(&app, Some(&token), None, &eleven).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body), "BAD_REQUEST");
}

#[tokio::test]
async fn unauthenticated_batch_is_refused_without_signing_in() {
    let app = spawn_app().await;
    let batch = json!([
        login_body(ADMIN_EMAIL, ADMIN_PASSWORD),
        {"query": "{ me { id } }"}
    ]);
    let (status, body) = post(&app, None, None, &batch).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(code(&body), "UNAUTHENTICATED");
    assert!(!body.to_string().contains("gp_"), "a token leaked: {body}");

    let two_queries = json!([{"query": "{ me { id } }"}, {"query": "{ me { id } }"}]);
    let (status, _) = post(&app, None, None, &two_queries).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A single operation still works unauthenticated (it is how one signs in).
    app.login_token(ADMIN_EMAIL, ADMIN_PASSWORD).await;
}

#[tokio::test]
async fn more_than_one_login_per_request_is_refused_before_hashing() {
    let app = spawn_app().await;
    let aliased = format!(
        "mutation {{ a: login(email: \"{ADMIN_EMAIL}\", password: \"wrong-one\") {{ token }} \
                    b: login(email: \"{ADMIN_EMAIL}\", password: \"{ADMIN_PASSWORD}\") {{ token }} }}"
    );
    let (status, body) = post(&app, None, None, &json!({"query": aliased})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(code(&body), "BAD_REQUEST");
    assert!(body.get("data").is_none(), "{body}");
    assert!(!body.to_string().contains("gp_"), "a token leaked: {body}");

    // Through fragments too.
    let fragments = format!(
        "mutation {{ ...A ... on MutationRoot {{ b: login(email: \"{ADMIN_EMAIL}\", password: \"{ADMIN_PASSWORD}\") {{ token }} }} }} \
         fragment A on MutationRoot {{ a: login(email: \"{ADMIN_EMAIL}\", password: \"{ADMIN_PASSWORD}\") {{ token }} }}"
    );
    let (status, body) = post(&app, None, None, &json!({"query": fragments})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!body.to_string().contains("gp_"), "a token leaked: {body}");

    // And across an (authenticated) batch.
    let token = app.admin_token().await;
    let batch = json!([
        login_body(ADMIN_EMAIL, ADMIN_PASSWORD),
        login_body(ADMIN_EMAIL, ADMIN_PASSWORD)
    ]);
    let (status, body) = post(&app, Some(&token), None, &batch).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!body.to_string().contains("gp_"), "a token leaked: {body}");

    // No hash was done for any of them: no failure counted, the next sign-in just works.
    app.login_token(ADMIN_EMAIL, ADMIN_PASSWORD).await;
}

#[tokio::test]
async fn ten_failures_lock_an_account_silently_until_the_back_off_passes() {
    let app =
        spawn_app_with_options(SpawnOptions::default().env("GLIDEPATH_LOGIN_LOCKOUT_SECONDS", "4"))
            .await;
    let wrong = app.login(ADMIN_EMAIL, "not-the-password").await;
    assert_error_code(&wrong, "UNAUTHENTICATED");
    for _ in 1..10 {
        assert_eq!(app.login(ADMIN_EMAIL, "not-the-password").await, wrong);
    }
    // Locked: the right password gets exactly the answer of a wrong one.
    let refused = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(
        refused, wrong,
        "a locked account must answer like a wrong password"
    );
    // Another e-mail still gets the ordinary answer.
    let other = app.login("nobody@example.com", "whatever-password").await;
    assert_eq!(other["errors"][0]["message"], wrong["errors"][0]["message"]);

    tokio::time::sleep(Duration::from_millis(4_500)).await;
    let data = expect_data(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await);
    assert!(data["login"]["token"].as_str().is_some(), "{data}");
}

#[tokio::test]
async fn failures_from_one_address_are_throttled_and_forwarded_for_needs_a_trusted_proxy() {
    // No trusted proxy: X-Forwarded-For is ignored, every attempt counts on 127.0.0.1.
    let app = spawn_app_with_options(
        SpawnOptions::default().env("GLIDEPATH_LOGIN_ATTEMPTS_PER_MINUTE", "3"),
    )
    .await;
    for i in 0..3 {
        let xff = format!("198.51.100.{i}");
        let (status, body) = post(
            &app,
            None,
            Some(&xff),
            &login_body(&format!("u{i}@example.com"), "wrong-password"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(code(&body), "UNAUTHENTICATED");
    }
    let (status, body) = post(
        &app,
        None,
        Some("198.51.100.99"),
        &login_body(ADMIN_EMAIL, ADMIN_PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(code(&body), "TOO_MANY_REQUESTS");
    assert!(!body.to_string().contains("gp_"), "a token leaked: {body}");
    drop(app);

    // Behind a trusted proxy (the test client's 127.0.0.1), X-Forwarded-For names the client.
    let app = spawn_app_with_options(
        SpawnOptions::default()
            .env("GLIDEPATH_LOGIN_ATTEMPTS_PER_MINUTE", "3")
            .env("GLIDEPATH_TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1"),
    )
    .await;
    for i in 0..3 {
        let (_, body) = post(
            &app,
            None,
            Some("203.0.113.5"),
            &login_body(&format!("u{i}@example.com"), "wrong-password"),
        )
        .await;
        assert_eq!(code(&body), "UNAUTHENTICATED");
    }
    let (status, body) = post(
        &app,
        None,
        Some("203.0.113.5"),
        &login_body("u9@example.com", "wrong-password"),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Another client behind the same proxy is not throttled.
    let (status, body) = post(
        &app,
        None,
        Some("203.0.113.6"),
        &login_body(ADMIN_EMAIL, ADMIN_PASSWORD),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["data"]["login"]["token"].as_str().is_some(), "{body}");
}

#[tokio::test]
async fn a_full_hash_queue_answers_429_at_once() {
    let app = spawn_app_with_options(
        SpawnOptions::default()
            .env("GLIDEPATH_PASSWORD_HASH_WORKERS", "1")
            .env("GLIDEPATH_PASSWORD_HASH_QUEUE", "0"),
    )
    .await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let request = app
            .client
            .post(app.url("/graphql"))
            .json(&login_body(ADMIN_EMAIL, "wrong-password"));
        tasks.spawn(async move {
            let started = Instant::now();
            let response = request.send().await.expect("POST /graphql");
            let status = response.status();
            let body: Value = response.json().await.expect("JSON body");
            (status, body, started.elapsed())
        });
    }
    let results = tasks.join_all().await;
    let busy: Vec<_> = results
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        !busy.is_empty(),
        "16 concurrent sign-ins with one hash worker and no queue: none was refused"
    );
    for (status, body, elapsed) in &results {
        match *status {
            StatusCode::TOO_MANY_REQUESTS => assert_eq!(code(body), "TOO_MANY_REQUESTS"),
            StatusCode::OK => assert_eq!(code(body), "UNAUTHENTICATED"),
            other => panic!("unexpected {other}: {body}"),
        }
        assert!(*elapsed < Duration::from_secs(10), "{elapsed:?}");
    }
    let slowest_ok = results
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::OK)
        .map(|(_, _, e)| *e)
        .max();
    let fastest_busy = busy.iter().map(|(_, _, e)| *e).min().expect("one 429");
    if let Some(slowest_ok) = slowest_ok {
        assert!(
            fastest_busy <= slowest_ok,
            "a refusal ({fastest_busy:?}) should not wait for hashes ({slowest_ok:?})"
        );
    }
}
