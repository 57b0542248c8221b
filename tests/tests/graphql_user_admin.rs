//! Managing users and API tokens: `updateUserRole` (ADMIN only, never leaving no ADMIN) and
//! `apiTokens` / `revokeApiToken` (each user their own tokens).

use glidepath_tests::*;
use serde_json::json;

const UPDATE_ROLE: &str =
    "mutation($id: ID!, $role: Role!) { updateUserRole(id: $id, role: $role) { id email role } }";

#[tokio::test]
async fn admin_promotes_and_demotes_a_user_and_it_applies_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (user, token) = app.create_responder().await;

    let promoted = app
        .gql(
            &admin,
            UPDATE_ROLE,
            json!({ "id": id_of(&user), "role": "ADMIN" }),
        )
        .await;
    assert_eq!(promoted["updateUserRole"]["role"], "ADMIN");
    // The same session now may do admin things.
    assert_eq!(app.me(&token).await["role"], "ADMIN");
    app.create_user(&token, &unique_email("made-by-new-admin"), "RESPONDER")
        .await;

    let demoted = app
        .gql(
            &token,
            UPDATE_ROLE,
            json!({ "id": id_of(&user), "role": "RESPONDER" }),
        )
        .await;
    assert_eq!(demoted["updateUserRole"]["role"], "RESPONDER");
    let refused = app
        .graphql(
            Some(&token),
            UPDATE_ROLE,
            json!({ "id": id_of(&user), "role": "ADMIN" }),
        )
        .await;
    assert_error_code(&refused, "FORBIDDEN");
    assert_eq!(app.me(&token).await["role"], "RESPONDER");
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let admin_id = app.admin_id().await;
    let refused = app
        .graphql(
            Some(&admin),
            UPDATE_ROLE,
            json!({ "id": admin_id, "role": "RESPONDER" }),
        )
        .await;
    assert_error_code(&refused, "CONFLICT");
    assert!(error_message(&refused).contains("last ADMIN"), "{refused}");
    assert_eq!(app.me(&admin).await["role"], "ADMIN");

    // With a second admin, the first may step down.
    let (other, _) = app.create_responder().await;
    app.gql(
        &admin,
        UPDATE_ROLE,
        json!({ "id": id_of(&other), "role": "ADMIN" }),
    )
    .await;
    let stepped_down = app
        .gql(
            &admin,
            UPDATE_ROLE,
            json!({ "id": admin_id, "role": "RESPONDER" }),
        )
        .await;
    assert_eq!(stepped_down["updateUserRole"]["role"], "RESPONDER");
    let refused = app
        .graphql(
            Some(&admin),
            UPDATE_ROLE,
            json!({ "id": id_of(&other), "role": "RESPONDER" }),
        )
        .await;
    assert_error_code(&refused, "FORBIDDEN");
}

#[tokio::test]
async fn update_user_role_refuses_unknown_users_and_roles() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let unknown = app
        .graphql(
            Some(&admin),
            UPDATE_ROLE,
            json!({ "id": "0192f7d0-0000-7000-8000-000000000000", "role": "ADMIN" }),
        )
        .await;
    assert_error_code(&unknown, "NOT_FOUND");
    let bad_role = app
        .graphql(
            Some(&admin),
            UPDATE_ROLE,
            json!({ "id": app.admin_id().await, "role": "OWNER" }),
        )
        .await;
    assert_error_code(&bad_role, "GRAPHQL_VALIDATION_FAILED");
}

const TOKENS: &str = "{ apiTokens { id name createdAt } }";
const CREATE_TOKEN: &str =
    "mutation($name: String!) { createApiToken(name: $name) { id name token } }";
const REVOKE: &str = "mutation($id: ID!) { revokeApiToken(id: $id) }";

#[tokio::test]
async fn users_list_and_revoke_their_own_api_tokens_only() {
    let app = spawn_app().await;
    let (_, session) = app.create_responder().await;
    let created = app
        .gql(&session, CREATE_TOKEN, json!({ "name": "monitoring" }))
        .await;
    let token_id = id_of(&created["createApiToken"]);
    let api_token = str_field(&created["createApiToken"], "token");
    assert!(app.me(&api_token).await["email"].is_string());

    // Sessions are not API tokens, and the token itself is never listed.
    let listed = app.gql(&session, TOKENS, json!({})).await;
    assert_eq!(listed["apiTokens"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["apiTokens"][0]["name"], "monitoring");
    assert!(!listed.to_string().contains(&api_token));

    // Another responder neither sees nor revokes it; an admin's own list does not show it
    // (admins may list and revoke anyone's on request: tests/tests/account_lifecycle.rs).
    let admin = app.admin_token().await;
    assert_eq!(
        app.gql(&admin, TOKENS, json!({})).await["apiTokens"],
        json!([])
    );
    let (_, other) = app.create_responder().await;
    assert_eq!(
        app.gql(&other, TOKENS, json!({})).await["apiTokens"],
        json!([])
    );
    let refused = app
        .graphql(Some(&other), REVOKE, json!({ "id": token_id }))
        .await;
    assert_error_code(&refused, "NOT_FOUND");
    assert!(app.me(&api_token).await["email"].is_string());

    assert_eq!(
        app.gql(&session, REVOKE, json!({ "id": token_id })).await["revokeApiToken"],
        true
    );
    let gone = app
        .graphql(Some(&api_token), "{ me { id } }", json!({}))
        .await;
    assert_error_code(&gone, "UNAUTHENTICATED");
    assert_eq!(
        app.gql(&session, TOKENS, json!({})).await["apiTokens"],
        json!([])
    );
    let again = app
        .graphql(Some(&session), REVOKE, json!({ "id": token_id }))
        .await;
    assert_error_code(&again, "NOT_FOUND");
}
