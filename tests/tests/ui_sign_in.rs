//! Signing in and out in a real browser (headless Chromium).

use glidepath_tests::browser::Browser;
use glidepath_tests::*;
use serde_json::json;

#[tokio::test]
async fn sign_in_keeps_the_session_in_an_http_only_cookie_and_sign_out_ends_it() {
    let app = spawn_app().await;
    let browser = Browser::start(&app.address).await;
    browser.goto("/").await;
    browser.find("#email").await;
    browser.screenshot("sign-in").await;

    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.find_text(".account .who", ADMIN_EMAIL).await;
    // The page's script cannot read the session; the browser sends it by itself.
    let visible = browser.execute("return document.cookie").await;
    assert!(
        !visible
            .as_str()
            .unwrap_or_default()
            .contains("glidepath_session")
    );
    let cookie = browser
        .client
        .get_named_cookie("glidepath_session")
        .await
        .expect("login set the session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    let session = cookie.value().to_string();
    assert_eq!(app.me(&session).await["email"], ADMIN_EMAIL);

    // A reload stays signed in.
    browser.goto("/alerts").await;
    browser.find("nav[aria-label=Main]").await;

    browser.click_button("Sign out").await;
    browser.find("#email").await;
    let response = app
        .graphql(Some(&session), "{ me { id } }", json!({}))
        .await;
    assert_error_code(&response, "UNAUTHENTICATED");
    browser.close().await;
}

#[tokio::test]
async fn wrong_password_shows_an_error_in_words() {
    let app = spawn_app().await;
    let browser = Browser::start(&app.address).await;
    browser.goto("/").await;
    browser.fill("#email", ADMIN_EMAIL).await;
    browser.fill("#password", "not-the-password").await;
    browser.click("form button[type=submit]").await;
    browser
        .find_text("[role=alert]", "Wrong e-mail or password")
        .await;
    assert!(
        browser
            .client
            .get_named_cookie("glidepath_session")
            .await
            .is_err(),
        "no session for a wrong password"
    );
    browser.find("#password").await;
    browser.close().await;
}

#[tokio::test]
async fn an_ended_session_returns_to_the_sign_in_form() {
    let app = spawn_app().await;
    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.find("#filter-status").await;
    let session = browser
        .client
        .get_named_cookie("glidepath_session")
        .await
        .expect("session cookie")
        .value()
        .to_string();
    // Ended elsewhere (another tab's sign out, an expiry): the next refresh notices.
    app.gql(&session, "mutation { logout }", json!({})).await;
    browser.find("#email").await;
    browser.close().await;
}
