//! Account lifecycle in a real browser: an admin disables, enables, resets and deletes users on
//! the Users page; a user changes their password, manages API tokens and signs out everywhere on
//! My account; a user whose password was reset is kept on My account until they change it.
//! Each step is checked through GraphQL as well.

use std::time::{Duration, Instant};

use glidepath_tests::browser::{Browser, WAIT};
use glidepath_tests::*;
use serde_json::{Value, json};

const USERS: &str = "{ users { id email disabled mustChangePassword } }";

async fn unauthenticated(app: &TestApp, token: &str) -> bool {
    let r = app.graphql(Some(token), "{ me { id } }", json!({})).await;
    !r["errors"].is_null() && expect_error_code(&r) == "UNAUTHENTICATED"
}

/// The user record as an admin sees it, `None` once deleted.
async fn user(app: &TestApp, id: &str) -> Option<Value> {
    let admin = app.admin_token().await;
    app.gql(&admin, USERS, json!({})).await["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == json!(id))
        .cloned()
}

/// Waits until `check` holds for the user record (the UI acts asynchronously).
async fn wait_for_user(
    app: &TestApp,
    id: &str,
    what: &str,
    check: impl Fn(Option<&Value>) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        let u = user(app, id).await;
        if check(u.as_ref()) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: user is {u:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_out(browser: &Browser) {
    browser.click(".account button").await;
    browser.find("#email").await;
}

/// Fills the sign-in form and waits for its error message: the sign-in was refused.
async fn refused_sign_in(browser: &Browser, email: &str, password: &str, why: &str) {
    browser.goto("/").await;
    browser.fill("#email", email).await;
    browser.fill("#password", password).await;
    browser.click("form button[type=submit]").await;
    browser.find_text("[role=alert]", why).await;
    assert!(
        browser
            .client
            .find_all(fantoccini::Locator::Css("nav[aria-label=Main]"))
            .await
            .unwrap()
            .is_empty(),
        "signed in although refused"
    );
}

#[tokio::test]
async fn admin_disables_enables_and_deletes_a_user_on_the_users_page() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let email = unique_email("disabled");
    let id = id_of(&app.create_user(&admin, &email, "RESPONDER").await);
    let their_session = app.login_token(&email, USER_PASSWORD).await;
    assert!(!unauthenticated(&app, &their_session).await);

    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto("/users").await;
    browser
        .click(&format!("button[aria-label='Disable {email}']"))
        .await;
    browser.find_text("[role=status]", "is disabled").await;
    browser.find_text(".list-row", "Disabled").await;
    wait_for_user(&app, &id, "disabled", |u| {
        u.is_some_and(|u| u["disabled"] == json!(true))
    })
    .await;
    browser.screenshot("users-disabled").await;
    assert!(
        unauthenticated(&app, &their_session).await,
        "the disabled user's session still works"
    );
    assert!(app.login(&email, USER_PASSWORD).await["errors"].is_array());

    sign_out(&browser).await;
    refused_sign_in(&browser, &email, USER_PASSWORD, "account is disabled").await;
    refused_sign_in(
        &browser,
        &email,
        "not-the-password",
        "Wrong e-mail or password",
    )
    .await;

    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto("/users").await;
    browser
        .click(&format!("button[aria-label='Enable {email}']"))
        .await;
    browser.find_text("[role=status]", "enabled again").await;
    wait_for_user(&app, &id, "enabled", |u| {
        u.is_some_and(|u| u["disabled"] == json!(false))
    })
    .await;
    sign_out(&browser).await;
    browser.sign_in(&email, USER_PASSWORD).await;
    sign_out(&browser).await;

    // Deleting takes a second click; Cancel keeps the user.
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto("/users").await;
    browser
        .click(&format!("button[aria-label='Delete {email}']"))
        .await;
    browser
        .find_text(".confirm-delete", "cannot be undone")
        .await;
    browser.click_button("Cancel").await;
    browser.wait_gone(".confirm-delete").await;
    assert!(user(&app, &id).await.is_some(), "Cancel deleted the user");
    browser
        .click(&format!("button[aria-label='Delete {email}']"))
        .await;
    browser.click_button("Delete user").await;
    browser.find_text("[role=status]", "is deleted").await;
    wait_for_user(&app, &id, "deleted", |u| u.is_none()).await;
    assert!(app.login(&email, USER_PASSWORD).await["errors"].is_array());

    // The last admin cannot disable themself: the refusal is shown in words.
    let admin_id = app.admin_id().await;
    browser
        .click(&format!("button[aria-label='Disable {ADMIN_EMAIL}']"))
        .await;
    browser.find(".message.error[role=alert]").await;
    assert_eq!(
        user(&app, &admin_id).await.unwrap()["disabled"],
        json!(false)
    );
    browser.close().await;
}

#[tokio::test]
async fn a_user_changes_their_password_and_manages_tokens_and_sessions_on_my_account() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let email = unique_email("account");
    app.create_user(&admin, &email, "RESPONDER").await;
    let new_password = "a-brand-new-password-7";

    let browser = Browser::start(&app.address).await;
    browser.sign_in(&email, USER_PASSWORD).await;
    browser
        .find_text("nav a", "My account")
        .await
        .click()
        .await
        .unwrap();
    browser.find_text("h1", "My account").await;

    // Confirmation differs: refused before asking the server.
    browser.fill("#current-password", USER_PASSWORD).await;
    browser.fill("#new-password", new_password).await;
    browser.fill("#confirm-password", "something-else-1").await;
    browser.click_button("Change password").await;
    browser.find_text("[role=alert]", "differ").await;
    // Wrong current password: the server refuses, in words.
    browser.fill("#current-password", "not-my-password").await;
    browser.fill("#confirm-password", new_password).await;
    browser.click_button("Change password").await;
    browser
        .find_text("[role=alert]", "not the current password")
        .await;
    assert!(app.login(&email, USER_PASSWORD).await["errors"].is_null());

    browser.fill("#current-password", USER_PASSWORD).await;
    browser.click_button("Change password").await;
    browser
        .find_text("[role=status]", "password has been changed")
        .await;
    browser.screenshot("my-account").await;
    assert!(
        app.login(&email, USER_PASSWORD).await["errors"].is_array(),
        "the old password still works"
    );
    let session = app.login_token(&email, new_password).await;

    // A token that expires in 30 days is shown once and listed with its expiry.
    browser.find_text(".muted", "You have no API tokens").await;
    browser.fill("#token-name", "nightly report").await;
    browser.fill("#token-days", "30").await;
    browser.click_button("Create token").await;
    let shown = browser
        .find_text(".message.success", "not shown again")
        .await;
    let secret = shown
        .find(fantoccini::Locator::Css("code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(app.me(&secret).await["email"], json!(email));
    let row = browser.find_text(".token-list", "nightly report").await;
    let text = row.text().await.unwrap();
    assert!(text.contains("expires"), "{text}");
    let tokens = app
        .gql(&session, "{ apiTokens { name expiresAt } }", json!({}))
        .await;
    assert!(tokens["apiTokens"][0]["expiresAt"].is_string(), "{tokens}");

    // Sign out everywhere: this browser and the other session end; the API token stays.
    browser.click_button("Sign out everywhere").await;
    browser.find("#email").await;
    assert!(unauthenticated(&app, &session).await);
    assert!(!unauthenticated(&app, &secret).await);
    browser.goto("/account").await;
    browser.find("#email").await;
    browser.close().await;
}

#[tokio::test]
async fn a_reset_user_signs_in_with_the_temporary_password_and_must_change_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let email = unique_email("reset");
    let id = id_of(&app.create_user(&admin, &email, "RESPONDER").await);

    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto("/users").await;
    browser
        .click(&format!("button[aria-label='Reset password of {email}']"))
        .await;
    let shown = browser
        .find_text(".temporary-password", "not shown again")
        .await;
    let temporary = shown
        .find(fantoccini::Locator::Css("code"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!temporary.is_empty());
    browser
        .find_text(".list-row", "Password reset pending")
        .await;
    wait_for_user(&app, &id, "reset", |u| {
        u.is_some_and(|u| u["mustChangePassword"] == json!(true))
    })
    .await;
    sign_out(&browser).await;

    // Signing in with it lands on My account with a notice, whatever page is asked for.
    browser.sign_in(&email, &temporary).await;
    browser
        .find_text(".must-change", "reset by an administrator")
        .await;
    browser.find_text("h1", "My account").await;
    browser.goto("/alerts").await;
    browser
        .find_text(".must-change", "reset by an administrator")
        .await;
    browser.screenshot("must-change-password").await;

    let new_password = "my-own-password-42";
    browser.fill("#current-password", &temporary).await;
    browser.fill("#new-password", new_password).await;
    browser.fill("#confirm-password", new_password).await;
    browser.click_button("Change password").await;
    browser
        .find_text("[role=status]", "password has been changed")
        .await;
    browser.wait_gone(".must-change").await;
    wait_for_user(&app, &id, "changed", |u| {
        u.is_some_and(|u| u["mustChangePassword"] == json!(false))
    })
    .await;
    // Everything works again, in this same session.
    browser
        .find_text("nav a", "Alerts")
        .await
        .click()
        .await
        .unwrap();
    browser.find_text("h1", "Alerts").await;
    assert!(app.login(&email, &temporary).await["errors"].is_array());
    app.login_token(&email, new_password).await;
    browser.close().await;
}

#[tokio::test]
async fn admin_revokes_another_users_api_token_on_the_users_page() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let email = unique_email("tokens");
    app.create_user(&admin, &email, "RESPONDER").await;
    let session = app.login_token(&email, USER_PASSWORD).await;
    let created = app
        .gql(
            &session,
            "mutation { createApiToken(name: \"pager bridge\", expiresInDays: 30) { token } }",
            json!({}),
        )
        .await;
    let secret = str_field(&created["createApiToken"], "token");
    assert!(!unauthenticated(&app, &secret).await);

    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto("/users").await;
    let row = browser.find_text(".all-token-list", "pager bridge").await;
    let text = row.text().await.unwrap();
    assert!(text.contains(&email), "{text}");
    assert!(
        text.contains("never used") || text.contains("last used"),
        "{text}"
    );
    assert!(text.contains("expires"), "{text}");
    browser.screenshot("users-api-tokens").await;
    browser
        .click(&format!(
            "button[aria-label='Revoke pager bridge of {email}']"
        ))
        .await;
    browser.find_text("[role=status]", "is revoked").await;
    browser
        .find_text(".muted", "No user has an API token")
        .await;
    eventually(WAIT, "the revoked token is refused", || async {
        unauthenticated(&app, &secret).await.then_some(())
    })
    .await;
    // The responder's own session is untouched.
    assert!(!unauthenticated(&app, &session).await);
    browser.close().await;
}
