//! The ServiceNow connection's OAuth in the browser: the source's page warns while the instance
//! refuses the connection's credentials, shows how it signs in, and the warning goes once the
//! admin enters the new password.

use glidepath_tests::browser::Browser;
use glidepath_tests::*;
use serde_json::json;
use servicenow_sim::oauth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use servicenow_sim::{Config, Simulator};

#[tokio::test]
async fn the_source_page_shows_a_connection_that_needs_attention_until_it_is_fixed() {
    let app = spawn_app_with_options(sim_options(0)).await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    let sim = Simulator::start(Config::default())
        .await
        .expect("start the simulator");
    sim.oauth().configure(|s| s.basic_auth_enabled = false);
    expect_data(
        app.graphql(
            Some(&token),
            "mutation($id: ID!, $url: String!, $user: String!, $password: String, $clientId: String, $clientSecret: String) { \
               configureServiceNow(alertSourceId: $id, input: { instanceUrl: $url, username: $user, password: $password, \
                 authMethod: OAUTH_PASSWORD, clientId: $clientId, clientSecret: $clientSecret }) { id } }",
            json!({ "id": source.id, "url": sim.url(), "user": SIM_USER, "password": SIM_PASSWORD,
                    "clientId": DEFAULT_CLIENT_ID, "clientSecret": DEFAULT_CLIENT_SECRET }),
        )
        .await,
    );
    // The API user's password changes in ServiceNow: the grant is refused.
    sim.oauth().set_password("rotated-password");
    let test = app
        .gql(
            &token,
            "mutation($id: ID!) { testServiceNowConnection(alertSourceId: $id) { ok needsAttention } }",
            json!({ "id": source.id }),
        )
        .await;
    assert_eq!(test["testServiceNowConnection"]["needsAttention"], true);

    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto(&format!("/sources/{}", source.id)).await;
    browser.find_text("#sn-attention", "needs attention").await;
    browser.find_text("#sn-attention", "invalid_grant").await;
    let method = browser
        .find("#sn-auth-method")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(method.as_deref(), Some("OAUTH_PASSWORD"));
    let client_id = browser
        .find("#sn-client-id")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(client_id.as_deref(), Some(DEFAULT_CLIENT_ID));
    let page = browser.page_text().await;
    assert!(
        !page.contains(DEFAULT_CLIENT_SECRET),
        "the secret is never shown"
    );
    browser.screenshot("servicenow-oauth-needs-attention").await;

    browser.fill("#sn-password", "rotated-password").await;
    browser.click_button("Save connection").await;
    browser.wait_gone("#sn-attention").await;
    let conn = app
        .gql(
            &token,
            "query($id: ID!) { alertSource(id: $id) { serviceNow { authMethod needsAttention } } }",
            json!({ "id": source.id }),
        )
        .await;
    assert_eq!(conn["alertSource"]["serviceNow"]["needsAttention"], false);
    assert_eq!(
        conn["alertSource"]["serviceNow"]["authMethod"],
        "OAUTH_PASSWORD"
    );
    browser.click_button("Test connection").await;
    browser.find_text("[role=status]", "Connection works").await;
    browser.close().await;
}
