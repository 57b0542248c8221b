//! Setting up ServiceNow from the browser: an admin creates an alert source and reads the
//! webhook URL, the business rule and the steps from the page.

use glidepath_tests::browser::Browser;
use glidepath_tests::*;
use serde_json::json;

#[tokio::test]
async fn admin_creates_an_alert_source_and_reads_the_webhook_url_and_script() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let admin_id = app.admin_id().await;
    let policy = app.create_policy(&token, &[&admin_id]).await;
    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto("/sources").await;
    browser.find_text(".empty", "No alert sources yet").await;
    browser.fill("#source-name", "ServiceNow production").await;
    browser.select("#source-policy", &id_of(&policy)).await;
    browser.screenshot("alert-sources").await;
    browser.click_button("Create alert source").await;

    let url = browser.find("#webhook-url").await.text().await.unwrap();
    let script = browser
        .find("#business-rule-script")
        .await
        .text()
        .await
        .unwrap();
    let steps = browser.find("ol.steps").await.text().await.unwrap();
    browser.screenshot("alert-source-setup").await;

    let sources = app
        .gql(
            &token,
            "{ alertSources { id name webhookUrl businessRuleScript escalationPolicy { id } } }",
            json!({}),
        )
        .await;
    let source = &sources["alertSources"][0];
    assert_eq!(source["name"], "ServiceNow production");
    assert_eq!(source["escalationPolicy"]["id"], policy["id"]);
    assert_eq!(url, str_field(source, "webhookUrl"));
    assert!(
        url.starts_with(&app.url("/api/v1/events/servicenow/")),
        "{url}"
    );
    assert_eq!(
        script.trim(),
        str_field(source, "businessRuleScript").trim()
    );
    assert!(script.contains(&url), "the script posts to the webhook");
    for words in [
        "Incidents",
        "Configure → Business Rules",
        "New",
        "Advanced",
        "When: async",
        "Insert",
        "Update",
    ] {
        assert!(steps.contains(words), "steps lack {words:?}: {steps}");
    }
    let current = browser.client.current_url().await.unwrap();
    assert_eq!(current.path(), format!("/sources/{}", id_of(source)));

    // The list shows it too.
    browser.click("a[href='/sources']").await;
    browser
        .find_text(".list-row", "ServiceNow production")
        .await;
    browser.close().await;
}
