//! Account lifecycle: changing and resetting passwords, disabling, enabling and deleting users,
//! API token expiry / last use / admin listing and revocation, signing out everywhere, the
//! engine's clean-up of expired sessions, and escalation passing over disabled users.

use std::time::Duration;

use glidepath_tests::*;
use serde_json::{Value, json};

const CHANGE: &str = "mutation($c: String!, $n: String!) { \
     changePassword(currentPassword: $c, newPassword: $n) }";
const RESET: &str = "mutation($id: ID!) { resetUserPassword(userId: $id) { \
     temporaryPassword user { id mustChangePassword } } }";
const DISABLE: &str = "mutation($id: ID!) { disableUser(id: $id) { id disabled } }";
const ENABLE: &str = "mutation($id: ID!) { enableUser(id: $id) { id disabled } }";
const DELETE: &str = "mutation($id: ID!) { deleteUser(id: $id) }";
const CREATE_TOKEN: &str = "mutation($name: String!, $days: Int) { \
     createApiToken(name: $name, expiresInDays: $days) { id token expiresAt } }";
const TOKENS: &str = "query($userId: ID, $all: Boolean! = false) { \
     apiTokens(userId: $userId, allUsers: $all) { id name createdAt expiresAt lastUsedAt userId } }";
const REVOKE: &str = "mutation($id: ID!) { revokeApiToken(id: $id) }";
const ME: &str = "{ me { id email mustChangePassword disabled } }";

async fn unauthenticated(app: &TestApp, token: &str) -> bool {
    let r = app.graphql(Some(token), "{ me { id } }", json!({})).await;
    !r["errors"].is_null() && expect_error_code(&r) == "UNAUTHENTICATED"
}

async fn responder_with_email(app: &TestApp) -> (Value, String, String) {
    let admin = app.admin_token().await;
    let email = unique_email("account");
    let user = app.create_user(&admin, &email, "RESPONDER").await;
    let token = app.login_token(&email, USER_PASSWORD).await;
    (user, token, email)
}

#[tokio::test]
async fn a_user_changes_their_own_password_with_the_current_one() {
    let app = spawn_app().await;
    let (_, session, email) = responder_with_email(&app).await;
    let other_session = app.login_token(&email, USER_PASSWORD).await;

    let wrong = app
        .graphql(
            Some(&session),
            CHANGE,
            json!({ "c": "not-the-password", "n": "a-new-password-1" }),
        )
        .await;
    assert_error_code(&wrong, "BAD_USER_INPUT");
    let short = app
        .graphql(
            Some(&session),
            CHANGE,
            json!({ "c": USER_PASSWORD, "n": "short" }),
        )
        .await;
    assert_error_code(&short, "BAD_USER_INPUT");
    let same = app
        .graphql(
            Some(&session),
            CHANGE,
            json!({ "c": USER_PASSWORD, "n": USER_PASSWORD }),
        )
        .await;
    assert_error_code(&same, "BAD_USER_INPUT");
    let anonymous = app
        .graphql(
            None,
            CHANGE,
            json!({ "c": USER_PASSWORD, "n": "a-new-password-1" }),
        )
        .await;
    assert_error_code(&anonymous, "UNAUTHENTICATED");
    // Nothing changed so far.
    app.login_token(&email, USER_PASSWORD).await;

    let done = app
        .gql(
            &session,
            CHANGE,
            json!({ "c": USER_PASSWORD, "n": "a-new-password-1" }),
        )
        .await;
    assert_eq!(done["changePassword"], true);
    assert_error_code(&app.login(&email, USER_PASSWORD).await, "UNAUTHENTICATED");
    app.login_token(&email, "a-new-password-1").await;
    // This session goes on; the user's other sessions ended.
    assert!(!unauthenticated(&app, &session).await);
    assert!(unauthenticated(&app, &other_session).await);
}

#[tokio::test]
async fn an_admin_resets_a_password_and_the_user_must_change_it_first() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (user, session, email) = responder_with_email(&app).await;
    let (_, other) = app.create_responder().await;

    let refused = app
        .graphql(Some(&other), RESET, json!({ "id": id_of(&user) }))
        .await;
    assert_error_code(&refused, "FORBIDDEN");
    let unknown = app
        .graphql(
            Some(&admin),
            RESET,
            json!({ "id": "0192f7d0-0000-7000-8000-000000000000" }),
        )
        .await;
    assert_error_code(&unknown, "NOT_FOUND");

    let reset = app.gql(&admin, RESET, json!({ "id": id_of(&user) })).await;
    let temporary = str_field(&reset["resetUserPassword"], "temporaryPassword");
    assert!(temporary.len() >= 16);
    assert_eq!(
        reset["resetUserPassword"]["user"]["mustChangePassword"],
        true
    );
    // The old password and the user's sessions are gone.
    assert!(unauthenticated(&app, &session).await);
    assert_error_code(&app.login(&email, USER_PASSWORD).await, "UNAUTHENTICATED");

    let temp_session = app.login_token(&email, &temporary).await;
    let blocked = app
        .graphql(Some(&temp_session), "{ alerts { totalCount } }", json!({}))
        .await;
    assert_error_code(&blocked, "PASSWORD_CHANGE_REQUIRED");
    let blocked = app
        .graphql(
            Some(&temp_session),
            "mutation { createApiToken(name: \"x\") { id } }",
            json!({}),
        )
        .await;
    assert_error_code(&blocked, "PASSWORD_CHANGE_REQUIRED");
    let me = app.gql(&temp_session, ME, json!({})).await;
    assert_eq!(me["me"]["mustChangePassword"], true);

    app.gql(
        &temp_session,
        CHANGE,
        json!({ "c": temporary, "n": "chosen-by-the-user" }),
    )
    .await;
    let me = app.gql(&temp_session, ME, json!({})).await;
    assert_eq!(me["me"]["mustChangePassword"], false);
    app.gql(&temp_session, "{ alerts { totalCount } }", json!({}))
        .await;
    app.login_token(&email, "chosen-by-the-user").await;
}

#[tokio::test]
async fn the_bootstrap_admin_changes_the_generated_password() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.gql(
        &admin,
        CHANGE,
        json!({ "c": ADMIN_PASSWORD, "n": "the-admins-own-password" }),
    )
    .await;
    assert_error_code(
        &app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await,
        "UNAUTHENTICATED",
    );
    app.login_token(ADMIN_EMAIL, "the-admins-own-password")
        .await;
}

#[tokio::test]
async fn a_disabled_user_is_locked_out_at_once_and_enabling_restores_tokens() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (user, session, email) = responder_with_email(&app).await;
    let created = app
        .gql(&session, CREATE_TOKEN, json!({ "name": "script" }))
        .await;
    let api_token = str_field(&created["createApiToken"], "token");
    assert!(!unauthenticated(&app, &api_token).await);

    let (_, other) = app.create_responder().await;
    let refused = app
        .graphql(Some(&other), DISABLE, json!({ "id": id_of(&user) }))
        .await;
    assert_error_code(&refused, "FORBIDDEN");
    assert!(!unauthenticated(&app, &session).await);

    let disabled = app
        .gql(&admin, DISABLE, json!({ "id": id_of(&user) }))
        .await;
    assert_eq!(disabled["disableUser"]["disabled"], true);
    assert!(unauthenticated(&app, &session).await);
    assert!(unauthenticated(&app, &api_token).await);
    let login = app.login(&email, USER_PASSWORD).await;
    assert_error_code(&login, "UNAUTHENTICATED");
    assert!(error_message(&login).contains("disabled"), "{login}");
    let listed = app
        .gql(&admin, "{ users { email disabled } }", json!({}))
        .await;
    assert!(
        listed["users"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["email"] == email.as_str() && u["disabled"] == true),
        "{listed}"
    );

    let enabled = app.gql(&admin, ENABLE, json!({ "id": id_of(&user) })).await;
    assert_eq!(enabled["enableUser"]["disabled"], false);
    assert!(!unauthenticated(&app, &api_token).await);
    // Sessions ended for good; signing in works again.
    assert!(unauthenticated(&app, &session).await);
    app.login_token(&email, USER_PASSWORD).await;
}

#[tokio::test]
async fn an_admin_cannot_disable_or_delete_themselves_and_unknown_users_are_not_found() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let admin_id = app.admin_id().await;
    for mutation in [DISABLE, DELETE] {
        let refused = app
            .graphql(Some(&admin), mutation, json!({ "id": admin_id }))
            .await;
        assert_error_code(&refused, "CONFLICT");
        let unknown = app
            .graphql(
                Some(&admin),
                mutation,
                json!({ "id": "0192f7d0-0000-7000-8000-000000000000" }),
            )
            .await;
        assert_error_code(&unknown, "NOT_FOUND");
    }
    assert!(!unauthenticated(&app, &admin).await);
    // Another admin may disable this one: two enabled admins are left... one.
    let second_email = unique_email("second-admin");
    let second = app.create_user(&admin, &second_email, "ADMIN").await;
    let second_token = app.login_token(&second_email, USER_PASSWORD).await;
    app.gql(&second_token, DISABLE, json!({ "id": admin_id }))
        .await;
    assert!(unauthenticated(&app, &admin).await);
    // The remaining enabled admin cannot be demoted: nobody could manage users any more.
    let demote = app
        .graphql(
            Some(&second_token),
            "mutation($id: ID!) { updateUserRole(id: $id, role: RESPONDER) { id } }",
            json!({ "id": id_of(&second) }),
        )
        .await;
    assert_error_code(&demote, "CONFLICT");
}

#[tokio::test]
async fn deleting_a_user_keeps_alert_history_readable() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (user, session, email) = responder_with_email(&app).await;
    let source = app.setup_source().await;
    let (_, alert_id) = app.create_alert(&source).await;
    app.gql(
        &session,
        "mutation($id: ID!) { acceptAlert(id: $id) { id } }",
        json!({ "id": alert_id }),
    )
    .await;
    app.gql(
        &session,
        "mutation($id: ID!) { addComment(alertId: $id, body: \"on it\") { id authorLabel } }",
        json!({ "id": alert_id }),
    )
    .await;

    let (_, other) = app.create_responder().await;
    let refused = app
        .graphql(Some(&other), DELETE, json!({ "id": id_of(&user) }))
        .await;
    assert_error_code(&refused, "FORBIDDEN");
    assert_eq!(
        app.gql(&admin, DELETE, json!({ "id": id_of(&user) })).await["deleteUser"],
        true
    );
    assert!(unauthenticated(&app, &session).await);

    let alert = app
        .gql(
            &admin,
            "query($id: ID!) { alert(id: $id) { status assignedTo { email } \
               comments { body author { email } authorLabel } \
               logEntries { kind actor actorKind } } }",
            json!({ "id": alert_id }),
        )
        .await["alert"]
        .clone();
    assert_eq!(alert["status"], "ACCEPTED");
    assert!(alert["assignedTo"].is_null(), "{alert}");
    assert_eq!(alert["comments"][0]["body"], "on it");
    assert!(alert["comments"][0]["author"].is_null(), "{alert}");
    assert_eq!(alert["comments"][0]["authorLabel"], email.as_str());
    let accepted = log_entries_of(&alert, "ACCEPTED");
    assert_eq!(accepted[0]["actor"], email.as_str(), "{alert}");
    assert_eq!(accepted[0]["actorKind"], "USER");
    // The e-mail is free again.
    app.create_user(&admin, &email, "RESPONDER").await;
}

#[tokio::test]
async fn api_tokens_expire_record_their_last_use_and_admins_manage_everyones() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (user, session, _) = responder_with_email(&app).await;
    for days in [0, -1, 3651] {
        let bad = app
            .graphql(
                Some(&session),
                CREATE_TOKEN,
                json!({ "name": "bad", "days": days }),
            )
            .await;
        assert_error_code(&bad, "BAD_USER_INPUT");
    }
    let own = app.gql(&session, TOKENS, json!({})).await;
    assert_eq!(own["apiTokens"], json!([]), "bad input created nothing");

    let created = app
        .gql(&session, CREATE_TOKEN, json!({ "name": "ci", "days": 30 }))
        .await;
    let token_id = id_of(&created["createApiToken"]);
    let api_token = str_field(&created["createApiToken"], "token");
    assert!(created["createApiToken"]["expiresAt"].is_string());
    let own = app.gql(&session, TOKENS, json!({})).await;
    assert!(own["apiTokens"][0]["lastUsedAt"].is_null(), "{own}");
    assert!(own["apiTokens"][0]["expiresAt"].is_string(), "{own}");
    app.me(&api_token).await;
    let own = app.gql(&session, TOKENS, json!({})).await;
    assert!(own["apiTokens"][0]["lastUsedAt"].is_string(), "{own}");

    // A responder sees only their own; an admin sees anyone's on request.
    let (_, other) = app.create_responder().await;
    let refused = app
        .graphql(Some(&other), TOKENS, json!({ "userId": id_of(&user) }))
        .await;
    assert_error_code(&refused, "FORBIDDEN");
    let refused = app
        .graphql(Some(&other), TOKENS, json!({ "all": true }))
        .await;
    assert_error_code(&refused, "FORBIDDEN");
    let theirs = app
        .gql(&admin, TOKENS, json!({ "userId": id_of(&user) }))
        .await;
    assert_eq!(theirs["apiTokens"][0]["id"], token_id.as_str());
    assert_eq!(theirs["apiTokens"][0]["userId"], id_of(&user).as_str());
    let all = app.gql(&admin, TOKENS, json!({ "all": true })).await;
    assert!(
        all["apiTokens"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == token_id.as_str()),
        "{all}"
    );
    assert!(!all.to_string().contains(&api_token));

    let refused = app
        .graphql(Some(&other), REVOKE, json!({ "id": token_id }))
        .await;
    assert_error_code(&refused, "NOT_FOUND");
    assert_eq!(
        app.gql(&admin, REVOKE, json!({ "id": token_id })).await["revokeApiToken"],
        true
    );
    assert!(unauthenticated(&app, &api_token).await);
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_session_but_keeps_api_tokens() {
    let app = spawn_app().await;
    let (_, session, email) = responder_with_email(&app).await;
    let second = app.login_token(&email, USER_PASSWORD).await;
    let created = app
        .gql(&session, CREATE_TOKEN, json!({ "name": "script" }))
        .await;
    let api_token = str_field(&created["createApiToken"], "token");
    let ended = app
        .gql(&second, "mutation { signOutEverywhere }", json!({}))
        .await;
    assert_eq!(ended["signOutEverywhere"], 2);
    assert!(unauthenticated(&app, &session).await);
    assert!(unauthenticated(&app, &second).await);
    assert!(!unauthenticated(&app, &api_token).await);
}

#[tokio::test]
async fn the_engine_deletes_expired_sessions() {
    let app = spawn_app_with_options(
        SpawnOptions::default()
            .env("GLIDEPATH_SESSION_SECONDS", "1")
            .env("GLIDEPATH_TOKEN_CLEANUP_SECONDS", "1"),
    )
    .await;
    let session = app.login_token(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert!(!unauthenticated(&app, &session).await);
    let logs = app
        .wait_for_log(
            "expired sessions and API tokens deleted",
            Duration::from_secs(10),
        )
        .await;
    assert!(logs.is_some(), "no clean-up logged: {}", app.logs());
    assert!(unauthenticated(&app, &session).await);
}

#[tokio::test]
async fn escalation_passes_over_disabled_users_and_empty_levels() {
    let app =
        spawn_app_with_options(SpawnOptions::default().env("GLIDEPATH_TIME_SCALE", "600")).await;
    let admin = app.admin_token().await;
    let mut people = Vec::new();
    for i in 0..3 {
        let email = unique_email(&format!("esc{i}"));
        let user = app.create_user(&admin, &email, "RESPONDER").await;
        people.push((id_of(&user), email));
    }
    // Level 1: only people[0], disabled. Level 2: people[1] (disabled) and people[2].
    for p in &people[..2] {
        app.gql(&admin, DISABLE, json!({ "id": p.0 })).await;
    }
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let policy = app
        .gql(
            &admin,
            "mutation($input: CreateEscalationPolicyInput!) { \
               createEscalationPolicy(input: $input) { id } }",
            json!({ "input": {
                "name": format!("Skip {}", &suffix[..8]),
                "routingKey": format!("rk-{suffix}"),
                "rules": [
                    { "escalationTimeoutMinutes": 10, "userIds": [people[0].0] },
                    { "escalationTimeoutMinutes": 10, "userIds": [people[1].0, people[2].0] },
                ],
            }}),
        )
        .await;
    let source = app
        .create_alert_source(&admin, &id_of(&policy["createEscalationPolicy"]))
        .await;
    let key = str_field(&source, "integrationKey");
    let (status, body) = app
        .post_event(&key, &incident(&new_sys_id(), state::NEW, 0))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let alert_id = str_field(&body, "alertId");
    let alert = app
        .gql(
            &admin,
            "query($id: ID!) { alert(id: $id) { escalationLevel assignedTo { email } \
               responders { email } logEntries { kind message } } }",
            json!({ "id": alert_id }),
        )
        .await["alert"]
        .clone();
    assert_eq!(alert["escalationLevel"], 2, "{alert}");
    assert_eq!(
        alert["assignedTo"]["email"],
        people[2].1.as_str(),
        "{alert}"
    );
    assert_eq!(alert["responders"].as_array().unwrap().len(), 1, "{alert}");
    let escalated = log_entries_of(&alert, "ESCALATED");
    let message = str_field(&escalated[0], "message");
    assert!(
        message.contains(&people[0].1) && message.contains(&people[1].1),
        "{message}"
    );
    let logs = app
        .wait_for_log("escalation skipped disabled users", Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert!(logs.contains(&people[0].1), "the log line names them");
}
