//! Optional webhook authentication on top of the integration key: HTTP Basic or a bearer token
//! per alert source, checked on every event (401 and nothing created when missing or wrong), sent
//! by the generated business rule, and never shown except inside that script, to admins.

use glidepath_tests::business_rule::{deliver, header, run_rule, write_rule};
use glidepath_tests::*;
use serde_json::{Value, json};

const SET_AUTH: &str = "mutation($id: ID!, $input: WebhookAuthInput!) { \
    setWebhookAuth(alertSourceId: $id, input: $input) { webhookAuth { kind username } } }";
const SCRIPT: &str = "query($id: ID!) { alertSource(id: $id) { businessRuleScript } }";

const PASSWORD: &str = "n0t-in-any-dump-7f3a";
const TOKEN: &str = "tok-9c1e2b7d4a6f8e0b3c5d7a9f1e2d4c6b";

/// Posts a New incident with `authorization` (if any) as the Authorization header.
async fn post(app: &TestApp, source: &Source, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut request =
        app.client
            .post(&source.webhook_url)
            .json(&incident(&new_sys_id(), state::NEW, 0));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("POST event");
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED {
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(!challenge.is_empty(), "a 401 names its scheme");
    }
    (status, response.json().await.unwrap_or(Value::Null))
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

async fn set_auth(app: &TestApp, token: &str, source: &Source, input: Value) -> Value {
    app.graphql(
        Some(token),
        SET_AUTH,
        json!({ "id": source.id, "input": input }),
    )
    .await
}

async fn script(app: &TestApp, token: &str, source: &Source) -> String {
    let data = app.gql(token, SCRIPT, json!({ "id": source.id })).await;
    str_field(&data["alertSource"], "businessRuleScript")
}

fn assert_refused(answer: (StatusCode, Value), what: &str) {
    assert_eq!(answer.0, StatusCode::UNAUTHORIZED, "{what}: {}", answer.1);
    assert_eq!(webhook_error_code(&answer.1), "unauthorized", "{what}");
}

#[tokio::test]
async fn basic_credentials_are_required_checked_and_sent_by_the_business_rule() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    let answer = set_auth(
        &app,
        &token,
        &source,
        json!({ "kind": "BASIC", "username": "servicenow", "password": PASSWORD }),
    )
    .await;
    let data = expect_data(answer.clone());
    assert_eq!(
        data["setWebhookAuth"]["webhookAuth"],
        json!({ "kind": "BASIC", "username": "servicenow" })
    );
    assert!(!answer.to_string().contains(PASSWORD));

    assert_refused(post(&app, &source, None).await, "no credentials");
    assert_refused(
        post(&app, &source, Some(&basic("servicenow", "wrong-password"))).await,
        "wrong password",
    );
    assert_refused(
        post(&app, &source, Some(&basic("someone", PASSWORD))).await,
        "wrong user",
    );
    assert_refused(
        post(&app, &source, Some(&format!("Bearer {PASSWORD}"))).await,
        "wrong scheme",
    );
    assert_refused(
        post(&app, &source, Some("Basic !!not-base64")).await,
        "garbage",
    );
    assert_eq!(
        app.alerts_total().await,
        0,
        "a refused event creates nothing"
    );

    let (status, body) = post(&app, &source, Some(&basic("servicenow", PASSWORD))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The generated rule, run under node, sends the credentials and gets through.
    let rule_text = script(&app, &token, &source).await;
    assert!(rule_text.contains("setBasicAuth("), "{rule_text}");
    let dir = tempfile::tempdir().unwrap();
    let rule = write_rule(dir.path(), &rule_text);
    let request = run_rule(dir.path(), &rule, &incident(&new_sys_id(), state::NEW, 0)).await;
    assert_eq!(
        header(&request, "authorization"),
        Some(basic("servicenow", PASSWORD).as_str())
    );
    let (status, body) = deliver(&app, &request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.alerts_total().await, 2);
}

#[tokio::test]
async fn a_bearer_token_is_required_checked_and_sent_by_the_business_rule() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    let data = expect_data(
        set_auth(
            &app,
            &token,
            &source,
            json!({ "kind": "BEARER", "token": TOKEN }),
        )
        .await,
    );
    assert_eq!(
        data["setWebhookAuth"]["webhookAuth"],
        json!({ "kind": "BEARER", "username": null })
    );

    assert_refused(post(&app, &source, None).await, "no token");
    assert_refused(
        post(&app, &source, Some(&format!("Bearer {TOKEN}x"))).await,
        "wrong token",
    );
    assert_refused(
        post(&app, &source, Some(&basic("user", TOKEN))).await,
        "basic instead",
    );
    assert_eq!(app.alerts_total().await, 0);
    let (status, body) = post(&app, &source, Some(&format!("bearer {TOKEN}"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let dir = tempfile::tempdir().unwrap();
    let rule = write_rule(dir.path(), &script(&app, &token, &source).await);
    let request = run_rule(dir.path(), &rule, &incident(&new_sys_id(), state::NEW, 0)).await;
    assert_eq!(
        header(&request, "authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let (status, body) = deliver(&app, &request).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // NONE lifts the requirement, and the script stops sending anything.
    let data = expect_data(set_auth(&app, &token, &source, json!({ "kind": "NONE" })).await);
    assert_eq!(
        data["setWebhookAuth"]["webhookAuth"],
        json!({ "kind": "NONE", "username": null })
    );
    let (status, body) = post(&app, &source, None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rule_text = script(&app, &token, &source).await;
    assert!(!rule_text.contains(TOKEN) && !rule_text.contains("Authorization"));
}

#[tokio::test]
async fn webhook_secrets_stay_out_of_answers_logs_and_the_database() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let basic_source = app.setup_source().await;
    let bearer_source = app.setup_source().await;
    expect_data(
        set_auth(
            &app,
            &token,
            &basic_source,
            json!({ "kind": "BASIC", "username": "servicenow", "password": PASSWORD }),
        )
        .await,
    );
    expect_data(
        set_auth(
            &app,
            &token,
            &bearer_source,
            json!({ "kind": "BEARER", "token": TOKEN }),
        )
        .await,
    );
    post(
        &app,
        &basic_source,
        Some(&basic("servicenow", "wrong-password")),
    )
    .await;
    post(&app, &bearer_source, Some(&format!("Bearer {TOKEN}"))).await;

    let everything = app
        .gql(
            &token,
            "{ alertSources { id webhookAuth { kind username } serviceNow { instanceUrl } } }",
            json!({}),
        )
        .await;
    let text = everything.to_string();
    assert!(!text.contains(PASSWORD) && !text.contains(TOKEN), "{text}");

    // A responder reads every other field of the source; the URL and the script, carrying the
    // integration key (and the webhook's credentials), are FORBIDDEN.
    let (_, responder) = app.create_responder().await;
    let plain = app.setup_source().await;
    for source in [&basic_source, &bearer_source, &plain] {
        let answer = app
            .graphql(
                Some(&responder),
                "query($id: ID!) { alertSource(id: $id) { id name webhookUrl businessRuleScript } }",
                json!({ "id": source.id }),
            )
            .await;
        assert_eq!(answer["data"]["alertSource"]["id"], source.id.as_str());
        assert_eq!(answer["data"]["alertSource"]["webhookUrl"], Value::Null);
        assert_eq!(
            answer["data"]["alertSource"]["businessRuleScript"],
            Value::Null
        );
        let errors = answer["errors"].as_array().expect("FORBIDDEN errors");
        assert_eq!(errors.len(), 2, "{answer}");
        assert!(
            errors
                .iter()
                .all(|e| e["extensions"]["code"] == "FORBIDDEN"),
            "{answer}"
        );
        let text = answer.to_string();
        assert!(!text.contains(PASSWORD) && !text.contains(TOKEN), "{text}");
        assert!(!text.contains(&source.integration_key), "{text}");
    }
    let denied = app
        .graphql(
            Some(&responder),
            SET_AUTH,
            json!({ "id": basic_source.id, "input": { "kind": "NONE" } }),
        )
        .await;
    assert_error_code(&denied, "FORBIDDEN");

    let dump = app.database_dump().await;
    for secret in [PASSWORD, TOKEN] {
        assert!(
            !dump.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} stored in clear"
        );
    }
    let logs = app.logs();
    assert!(!logs.contains(PASSWORD) && !logs.contains(TOKEN));
}

#[tokio::test]
async fn bad_webhook_auth_input_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    for input in [
        json!({ "kind": "BASIC", "username": "servicenow" }),
        json!({ "kind": "BASIC", "password": PASSWORD }),
        json!({ "kind": "BASIC", "username": "a:b", "password": PASSWORD }),
        json!({ "kind": "BASIC", "username": "servicenow", "password": "short" }),
        json!({ "kind": "BEARER" }),
        json!({ "kind": "BEARER", "token": "too-short" }),
        json!({ "kind": "BEARER", "token": "has spaces in the token!!" }),
    ] {
        let answer = set_auth(&app, &token, &source, input.clone()).await;
        assert_error_code(&answer, "BAD_USER_INPUT");
    }
    let unknown = app
        .graphql(
            Some(&token),
            SET_AUTH,
            json!({ "id": "0190a0e0-0000-7000-8000-000000000000", "input": { "kind": "NONE" } }),
        )
        .await;
    assert_error_code(&unknown, "NOT_FOUND");
    let (status, body) = post(&app, &source, None).await;
    assert_eq!(status, StatusCode::CREATED, "still open: {body}");
}
