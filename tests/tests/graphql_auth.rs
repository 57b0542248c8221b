//! Authentication and authorization of the GraphQL API.

use glidepath_tests::*;
use serde_json::{Value, json};

const LOGIN: &str = "mutation($email: String!, $password: String!) { \
    login(email: $email, password: $password) { token user { id email } } }";
const ME: &str = "{ me { id email role } }";

/// Logs in with a raw request and returns the session cookie (`name=value`) and the full
/// `Set-Cookie` header.
async fn login_cookie(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .json(&json!({ "query": LOGIN, "variables": { "email": email, "password": password } }))
        .send()
        .await
        .unwrap();
    let set_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("glidepath_session="))
        .unwrap_or_else(|| {
            panic!(
                "login set no glidepath_session cookie: {:?}",
                response.headers()
            )
        })
        .to_string();
    let body: Value = response.json().await.unwrap();
    expect_data(body);
    let pair = set_cookie.split(';').next().unwrap().trim().to_string();
    (pair, set_cookie)
}

async fn cookie_request(
    app: &TestApp,
    cookie: &str,
    content_type: &str,
    body: String,
) -> (StatusCode, String) {
    let response = app
        .client
        .post(app.url("/graphql"))
        .header("cookie", cookie)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn query_without_token_is_unauthenticated() {
    let app = spawn_app().await;
    for query in [
        ME,
        "{ users { id } }",
        "{ alerts { totalCount } }",
        "{ alertSources { id } }",
    ] {
        let response = app.graphql(None, query, json!({})).await;
        assert_error_code(&response, "UNAUTHENTICATED");
        assert!(
            response["data"].is_null() || response["data"]["me"].is_null(),
            "{response}"
        );
    }
}

#[tokio::test]
async fn mutation_without_token_is_unauthenticated() {
    let app = spawn_app().await;
    let response = app
        .graphql(
            None,
            &create_user_mutation("ADMIN"),
            user_vars(&unique_email("intruder")),
        )
        .await;
    assert_error_code(&response, "UNAUTHENTICATED");
    let response = app
        .graphql(
            None,
            "mutation { createApiToken(name: \"x\") { token } }",
            json!({}),
        )
        .await;
    assert_error_code(&response, "UNAUTHENTICATED");
}

#[tokio::test]
async fn unknown_bearer_token_is_unauthenticated() {
    let app = spawn_app().await;
    for token in ["not-a-token", "Zm9vYmFy", &"a".repeat(4096)] {
        let response = app.graphql(Some(token), ME, json!({})).await;
        assert_error_code(&response, "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn admin_login_returns_working_token() {
    let app = spawn_app().await;
    let data = expect_data(app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await);
    assert_eq!(data["login"]["user"]["email"], ADMIN_EMAIL);
    let token = str_field(&data["login"], "token");
    let me = app.me(&token).await;
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["role"], "ADMIN");
    assert_eq!(me["id"], data["login"]["user"]["id"]);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_fail_alike() {
    let app = spawn_app().await;
    let wrong_password = app.login(ADMIN_EMAIL, "not-the-password").await;
    let unknown_email = app.login("nobody@example.com", ADMIN_PASSWORD).await;
    for response in [&wrong_password, &unknown_email] {
        assert_error_code(response, "UNAUTHENTICATED");
        assert_eq!(
            error_message(response),
            "invalid email or password",
            "{response}"
        );
    }
    assert_eq!(
        wrong_password["errors"][0]["message"],
        unknown_email["errors"][0]["message"]
    );
}

#[tokio::test]
async fn responder_cannot_run_admin_mutations() {
    let app = spawn_app().await;
    let (responder, token) = app.create_responder().await;
    assert_eq!(responder["role"], "RESPONDER");

    let response = app
        .graphql(
            Some(&token),
            &create_user_mutation("ADMIN"),
            user_vars(&unique_email("x")),
        )
        .await;
    assert_error_code(&response, "FORBIDDEN");

    let response = app
        .graphql(
            Some(&token),
            CREATE_POLICY_MUTATION,
            json!({ "name": "p", "routingKey": "rk-forbidden", "timeout": 5, "userIds": [id_of(&responder)] }),
        )
        .await;
    assert_error_code(&response, "FORBIDDEN");

    let admin = app.admin_token().await;
    let admin_id = app.admin_id().await;
    let policy = app.create_policy(&admin, &[&admin_id]).await;
    let response = app
        .graphql(
            Some(&token),
            CREATE_SOURCE_MUTATION,
            json!({ "name": "s", "policyId": id_of(&policy) }),
        )
        .await;
    assert_error_code(&response, "FORBIDDEN");

    // Nothing was created by the refused calls.
    let data = app
        .gql(
            &admin,
            "{ users { email } escalationPolicies { id } alertSources { id } }",
            json!({}),
        )
        .await;
    assert_eq!(data["users"].as_array().unwrap().len(), 2, "{data}");
    assert_eq!(
        data["escalationPolicies"].as_array().unwrap().len(),
        1,
        "{data}"
    );
    assert_eq!(data["alertSources"].as_array().unwrap().len(), 0, "{data}");
}

#[tokio::test]
async fn responder_can_work_alerts() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (responder, token) = app.create_responder().await;
    let (_, alert_id) = app.create_alert(&source).await;
    let data = app
        .gql(
            &token,
            "mutation($id: ID!) { acceptAlert(id: $id) { status assignedTo { email } } }",
            json!({ "id": alert_id }),
        )
        .await;
    assert_eq!(data["acceptAlert"]["status"], "ACCEPTED");
    assert_eq!(
        data["acceptAlert"]["assignedTo"]["email"],
        responder["email"]
    );
    let data = app
        .gql(&token, "{ alerts { totalCount } }", json!({}))
        .await;
    assert_eq!(data["alerts"]["totalCount"], 1);
}

#[tokio::test]
async fn created_user_can_log_in_with_own_password_only() {
    let app = spawn_app().await;
    let (responder, _) = app.create_responder().await;
    let email = str_field(&responder, "email");
    let token = app.login_token(&email, USER_PASSWORD).await;
    assert_eq!(app.me(&token).await["email"], email.as_str());
    let response = app.login(&email, ADMIN_PASSWORD).await;
    assert_error_code(&response, "UNAUTHENTICATED");
}

#[tokio::test]
async fn session_cookie_authenticates_json_requests() {
    let app = spawn_app().await;
    let (cookie, set_cookie) = login_cookie(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let lower = set_cookie.to_ascii_lowercase();
    assert!(lower.contains("httponly"), "{set_cookie}");
    assert!(lower.contains("samesite=strict"), "{set_cookie}");

    let body = json!({ "query": ME }).to_string();
    let (status, text) = cookie_request(&app, &cookie, "application/json", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let response: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(expect_data(response)["me"]["email"], ADMIN_EMAIL);

    let (status, text) =
        cookie_request(&app, &cookie, "application/json; charset=utf-8", body).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(text.contains(ADMIN_EMAIL), "{text}");
}

#[tokio::test]
async fn cookie_request_without_json_content_type_is_rejected() {
    let app = spawn_app().await;
    let (cookie, _) = login_cookie(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let query = "mutation { createApiToken(name: \"csrf\") { token } }";
    let json_body = json!({ "query": query }).to_string();
    for (content_type, body) in [
        ("text/plain", json_body.clone()),
        ("text/plain;charset=UTF-8", json_body.clone()),
        (
            "application/x-www-form-urlencoded",
            format!("query={query}"),
        ),
        (
            "multipart/form-data; boundary=x",
            format!(
                "--x\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{json_body}\r\n--x--\r\n"
            ),
        ),
    ] {
        let (status, text) = cookie_request(&app, &cookie, content_type, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{content_type}: {text}");
        assert!(
            !text.contains("\"token\""),
            "{content_type} ran the mutation: {text}"
        );
    }
}

#[tokio::test]
async fn api_token_works_as_bearer() {
    let app = spawn_app().await;
    let (responder, session) = app.create_responder().await;
    let data = app
        .gql(
            &session,
            "mutation { createApiToken(name: \"ci\") { id name token createdAt } }",
            json!({}),
        )
        .await;
    let created = &data["createApiToken"];
    assert_eq!(created["name"], "ci");
    assert!(
        created["id"].is_string() && created["createdAt"].is_string(),
        "{created}"
    );
    let api_token = str_field(created, "token");
    assert_ne!(api_token, session);
    let me = app.me(&api_token).await;
    assert_eq!(me["email"], responder["email"]);
}

#[tokio::test]
async fn logout_revokes_session_token() {
    let app = spawn_app().await;
    let token = app.login_token(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let other = app.login_token(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let data = app.gql(&token, "mutation { logout }", json!({})).await;
    assert_eq!(data["logout"], true);
    let response = app.graphql(Some(&token), ME, json!({})).await;
    assert_error_code(&response, "UNAUTHENTICATED");
    // Only that session ends.
    assert_eq!(app.me(&other).await["email"], ADMIN_EMAIL);
}

#[tokio::test]
async fn logout_revokes_session_cookie() {
    let app = spawn_app().await;
    let (cookie, _) = login_cookie(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, text) = cookie_request(
        &app,
        &cookie,
        "application/json",
        json!({ "query": "mutation { logout }" }).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        expect_data(serde_json::from_str(&text).unwrap())["logout"],
        true
    );
    let (_, text) = cookie_request(
        &app,
        &cookie,
        "application/json",
        json!({ "query": ME }).to_string(),
    )
    .await;
    let response: Value = serde_json::from_str(&text).unwrap();
    assert_error_code(&response, "UNAUTHENTICATED");
}

/// The integration key (and the webhook URL and business rule script that carry it) lets whoever
/// holds it create alerts: only an ADMIN reads them.
#[tokio::test]
async fn only_an_admin_reads_the_integration_key() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (_, responder) = app.create_responder().await;
    for query in [
        "query($id: ID!) { alertSource(id: $id) { id integrationKey } }",
        "query($id: ID!) { alertSource(id: $id) { id webhookUrl } }",
        "query($id: ID!) { alertSource(id: $id) { id businessRuleScript } }",
    ] {
        let answer = app
            .graphql(Some(&responder), query, json!({ "id": source.id }))
            .await;
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{answer}"
        );
        assert!(
            !answer.to_string().contains(&source.integration_key),
            "{answer}"
        );
    }
    let answer = app
        .graphql(
            Some(&responder),
            "{ alertSources { id name integrationKey } }",
            json!({}),
        )
        .await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{answer}"
    );
    assert!(
        !answer.to_string().contains(&source.integration_key),
        "{answer}"
    );
    // Every other field of the source still answers.
    let data = app
        .gql(
            &responder,
            "query($id: ID!) { alertSource(id: $id) { id name escalationPolicy { id } } }",
            json!({ "id": source.id }),
        )
        .await;
    assert_eq!(data["alertSource"]["name"], source.name.as_str());
    // The admin reads them.
    let token = app.admin_token().await;
    let data = app
        .gql(
            &token,
            "query($id: ID!) { alertSource(id: $id) { integrationKey webhookUrl businessRuleScript } }",
            json!({ "id": source.id }),
        )
        .await;
    assert_eq!(
        data["alertSource"]["integrationKey"],
        source.integration_key.as_str()
    );
}
