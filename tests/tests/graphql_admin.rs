//! Users, API tokens, escalation policies and alert sources.

use glidepath_tests::*;
use serde_json::{Value, json};

#[tokio::test]
async fn me_returns_the_caller() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let me = app.me(&token).await;
    assert_eq!(me["email"], ADMIN_EMAIL);
    assert_eq!(me["role"], "ADMIN");
    assert!(me["id"].is_string() && me["createdAt"].is_string(), "{me}");
    assert!(me["name"].is_string(), "{me}");
}

#[tokio::test]
async fn create_user_returns_the_user_and_lists_it() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let email = unique_email("new");
    let user = app.create_user(&token, &email, "RESPONDER").await;
    assert_eq!(user["email"], email.as_str());
    assert_eq!(user["name"], format!("User {email}"));
    assert_eq!(user["role"], "RESPONDER");
    assert!(
        user["id"].is_string() && user["createdAt"].is_string(),
        "{user}"
    );

    let admin = app
        .create_user(&token, &unique_email("admin2"), "ADMIN")
        .await;
    assert_eq!(admin["role"], "ADMIN");

    let data = app
        .gql(&token, "{ users { id email role } }", json!({}))
        .await;
    let users = data["users"].as_array().unwrap();
    assert_eq!(users.len(), 3, "{data}");
    assert!(
        users
            .iter()
            .any(|u| u["id"] == user["id"] && u["email"] == email.as_str()),
        "{data}"
    );
    assert!(users.iter().any(|u| u["email"] == ADMIN_EMAIL), "{data}");
}

#[tokio::test]
async fn created_admin_can_create_users() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let email = unique_email("admin2");
    app.create_user(&token, &email, "ADMIN").await;
    let second = app.login_token(&email, USER_PASSWORD).await;
    let user = app
        .create_user(&second, &unique_email("made-by-admin2"), "RESPONDER")
        .await;
    assert_eq!(user["role"], "RESPONDER");
}

#[tokio::test]
async fn create_user_with_duplicate_email_conflicts() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let email = unique_email("dup");
    app.create_user(&token, &email, "RESPONDER").await;
    let response = app
        .graphql(
            Some(&token),
            &create_user_mutation("ADMIN"),
            user_vars(&email),
        )
        .await;
    assert_error_code(&response, "CONFLICT");
    let response = app
        .graphql(
            Some(&token),
            &create_user_mutation("RESPONDER"),
            user_vars(ADMIN_EMAIL),
        )
        .await;
    assert_error_code(&response, "CONFLICT");
    let data = app.gql(&token, "{ users { id } }", json!({})).await;
    assert_eq!(data["users"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn create_user_with_short_password_is_bad_input() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let email = unique_email("short");
    let response = app
        .graphql(
            Some(&token),
            &create_user_mutation("RESPONDER"),
            json!({ "email": email, "name": "Short", "password": "1234567" }),
        )
        .await;
    assert_error_code(&response, "BAD_USER_INPUT");
    assert_error_code(&app.login(&email, "1234567").await, "UNAUTHENTICATED");

    // Eight characters is enough.
    let response = app
        .graphql(
            Some(&token),
            &create_user_mutation("RESPONDER"),
            json!({ "email": email, "name": "Eight", "password": "12345678" }),
        )
        .await;
    expect_data(response);
}

#[tokio::test]
async fn create_api_token_returns_its_fields() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let data = app
        .gql(
            &token,
            "mutation($name: String!) { createApiToken(name: $name) { id name token createdAt } }",
            json!({ "name": "deploy bot" }),
        )
        .await;
    let created = &data["createApiToken"];
    assert_eq!(created["name"], "deploy bot");
    for field in ["id", "token", "createdAt"] {
        assert!(
            created[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}: {created}"
        );
    }
    let again = app
        .gql(
            &token,
            "mutation { createApiToken(name: \"deploy bot\") { token } }",
            json!({}),
        )
        .await;
    assert_ne!(again["createApiToken"]["token"], created["token"]);
}

#[tokio::test]
async fn create_escalation_policy_returns_rules_with_users() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let admin_id = app.admin_id().await;
    let (responder, _) = app.create_responder().await;
    let responder_id = id_of(&responder);
    let data = app
        .gql(
            &token,
            "mutation($first: [ID!]!, $second: [ID!]!) { createEscalationPolicy(input: { \
               name: \"Network\", routingKey: \"network\", rules: [ \
                 { escalationTimeoutMinutes: 5, userIds: $first }, \
                 { escalationTimeoutMinutes: 30, userIds: $second } ] }) { \
               id name routingKey rules { escalationTimeoutMinutes users { id email } } } }",
            json!({ "first": [responder_id], "second": [admin_id, responder_id] }),
        )
        .await;
    let policy = &data["createEscalationPolicy"];
    assert_eq!(policy["name"], "Network");
    assert_eq!(policy["routingKey"], "network");
    let rules = policy["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 2, "{policy}");
    assert_eq!(rules[0]["escalationTimeoutMinutes"], 5);
    assert_eq!(
        rules[0]["users"],
        json!([{ "id": responder_id, "email": responder["email"] }])
    );
    assert_eq!(rules[1]["escalationTimeoutMinutes"], 30);
    let emails: Vec<_> = rules[1]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].clone())
        .collect();
    assert_eq!(emails.len(), 2, "{policy}");
    assert!(emails.contains(&json!(ADMIN_EMAIL)), "{policy}");

    let data = app
        .gql(&token, "{ escalationPolicies { id name routingKey rules { escalationTimeoutMinutes users { id } } } }", json!({}))
        .await;
    assert_eq!(
        data["escalationPolicies"],
        json!([{
            "id": policy["id"],
            "name": "Network",
            "routingKey": "network",
            "rules": [
                { "escalationTimeoutMinutes": 5, "users": [{ "id": responder_id }] },
                { "escalationTimeoutMinutes": 30, "users": rules[1]["users"].as_array().unwrap().iter().map(|u| json!({ "id": u["id"] })).collect::<Vec<_>>() },
            ],
        }])
    );
}

#[tokio::test]
async fn duplicate_routing_key_conflicts() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let admin_id = app.admin_id().await;
    let policy = app.create_policy(&token, &[&admin_id]).await;
    let response = app
        .graphql(
            Some(&token),
            CREATE_POLICY_MUTATION,
            json!({ "name": "Other name", "routingKey": policy["routingKey"], "timeout": 5, "userIds": [admin_id] }),
        )
        .await;
    assert_error_code(&response, "CONFLICT");
    let data = app
        .gql(&token, "{ escalationPolicies { id } }", json!({}))
        .await;
    assert_eq!(data["escalationPolicies"].as_array().unwrap().len(), 1);
}

/// Invalid policies: each is refused and nothing is stored.
async fn assert_policy_refused(app: &TestApp, rules: &str, variables: Value) {
    let token = app.admin_token().await;
    // GraphQL refuses a declared but unused variable, so declare it only when used.
    let declaration = if rules.contains("$ids") {
        "($ids: [ID!]!)"
    } else {
        ""
    };
    let query = format!(
        "mutation{declaration} {{ createEscalationPolicy(input: {{ name: \"Bad\", \
           routingKey: \"rk-{}\", rules: {rules} }}) {{ id }} }}",
        uuid::Uuid::new_v4().simple()
    );
    let response = app.graphql(Some(&token), &query, variables).await;
    assert!(
        response["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{rules}: accepted: {response}"
    );
    // Input coercion errors may come without a code; a code, when present, must fit.
    if let Some(code) = response["errors"][0]["extensions"]["code"].as_str() {
        assert!(
            ["BAD_USER_INPUT", "NOT_FOUND"].contains(&code),
            "{rules}: {response}"
        );
    }
    let data = app
        .gql(&token, "{ escalationPolicies { id } }", json!({}))
        .await;
    assert_eq!(data["escalationPolicies"], json!([]), "{rules}");
}

#[tokio::test]
async fn policy_with_unknown_user_is_refused() {
    let app = spawn_app().await;
    let admin_id = app.admin_id().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_policy_refused(
        &app,
        "[{ escalationTimeoutMinutes: 5, userIds: $ids }]",
        json!({ "ids": [admin_id, unknown] }),
    )
    .await;
    assert_policy_refused(
        &app,
        "[{ escalationTimeoutMinutes: 5, userIds: $ids }]",
        json!({ "ids": ["not-a-uuid"] }),
    )
    .await;
}

#[tokio::test]
async fn policy_without_rules_or_users_or_timeout_is_refused() {
    let app = spawn_app().await;
    let admin_id = app.admin_id().await;
    assert_policy_refused(&app, "[]", json!({})).await;
    assert_policy_refused(
        &app,
        "[{ escalationTimeoutMinutes: 5, userIds: $ids }]",
        json!({ "ids": [] }),
    )
    .await;
    assert_policy_refused(
        &app,
        "[{ escalationTimeoutMinutes: 0, userIds: $ids }]",
        json!({ "ids": [admin_id] }),
    )
    .await;
    assert_policy_refused(
        &app,
        "[{ escalationTimeoutMinutes: -5, userIds: $ids }]",
        json!({ "ids": [admin_id] }),
    )
    .await;
}

#[tokio::test]
async fn create_alert_source_returns_webhook_url_and_script() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let admin_id = app.admin_id().await;
    let policy = app.create_policy(&token, &[&admin_id]).await;
    let data = app
        .gql(
            &token,
            CREATE_SOURCE_MUTATION,
            json!({ "name": "Prod ServiceNow", "policyId": policy["id"] }),
        )
        .await;
    let source = &data["createAlertSource"];
    assert_eq!(source["name"], "Prod ServiceNow");
    assert_eq!(source["integrationType"], "SERVICENOW");
    assert_eq!(
        source["escalationPolicy"],
        json!({ "id": policy["id"], "name": policy["name"] })
    );
    assert!(source["createdAt"].is_string(), "{source}");
    let key = str_field(source, "integrationKey");
    assert!(key.len() >= 16, "integration key too guessable: {key}");
    assert_eq!(
        source["webhookUrl"],
        app.events_url(&key),
        "webhook URL must be the public URL of the events route"
    );
    assert!(
        str_field(source, "businessRuleScript").contains(&app.events_url(&key)),
        "{source}"
    );

    let other = app.create_alert_source(&token, &id_of(&policy)).await;
    assert_ne!(other["integrationKey"], source["integrationKey"]);
}

#[tokio::test]
async fn alert_sources_are_listed_and_fetched_by_id() {
    let app = spawn_app().await;
    let first = app.setup_source().await;
    let second = app.setup_source().await;
    let token = app.admin_token().await;
    let data = app
        .gql(
            &token,
            "{ alertSources { id name integrationKey escalationPolicy { id } } }",
            json!({}),
        )
        .await;
    let sources = data["alertSources"].as_array().unwrap();
    assert_eq!(sources.len(), 2, "{data}");
    for source in [&first, &second] {
        assert!(
            sources.iter().any(|s| s["id"] == source.id.as_str()
                && s["integrationKey"] == source.integration_key.as_str()
                && s["escalationPolicy"]["id"] == source.policy_id.as_str()),
            "{data}"
        );
    }

    let query = "query($id: ID!) { alertSource(id: $id) { id name webhookUrl } }";
    let data = app.gql(&token, query, json!({ "id": first.id })).await;
    assert_eq!(data["alertSource"]["name"], first.name.as_str());
    assert_eq!(
        data["alertSource"]["webhookUrl"],
        first.webhook_url.as_str()
    );
    let data = app
        .gql(
            &token,
            query,
            json!({ "id": uuid::Uuid::new_v4().to_string() }),
        )
        .await;
    assert!(data["alertSource"].is_null(), "{data}");
}

#[tokio::test]
async fn alert_source_with_unknown_policy_is_refused() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let response = app
        .graphql(
            Some(&token),
            CREATE_SOURCE_MUTATION,
            json!({ "name": "Orphan", "policyId": uuid::Uuid::new_v4().to_string() }),
        )
        .await;
    let code = expect_error_code(&response);
    assert!(
        ["NOT_FOUND", "BAD_USER_INPUT"].contains(&code.as_str()),
        "{response}"
    );
    let data = app.gql(&token, "{ alertSources { id } }", json!({})).await;
    assert_eq!(data["alertSources"], json!([]));
}

#[tokio::test]
async fn public_url_setting_shapes_the_webhook_url() {
    let app = spawn_app_with_options(
        SpawnOptions::default().env("GLIDEPATH_PUBLIC_URL", "https://glidepath.example.com"),
    )
    .await;
    let source = app.setup_source().await;
    assert_eq!(
        source.webhook_url.trim_end_matches('/'),
        format!(
            "https://glidepath.example.com/api/v1/events/servicenow/{}",
            source.integration_key
        )
    );
    assert!(source.business_rule_script.contains(&source.webhook_url));
}
