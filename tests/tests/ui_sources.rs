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
    let steps = browser
        .find("#business-rule-steps")
        .await
        .text()
        .await
        .unwrap();
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

#[tokio::test]
async fn admin_maps_priorities_and_picks_the_routing_field_from_the_instance() {
    let s = sim_setup(0, false).await;
    let (app, token, source) = (&s.app, &s.token, &s.source);
    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto(&format!("/sources/{}", source.id)).await;
    // Filled from the simulator's sys_choice and sys_dictionary.
    browser.find_text(".mapping", "3 - Moderate").await;
    let default = browser
        .find("#priority-map-3")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(default.as_deref(), Some("LOW"), "the default until mapped");
    browser.select("#priority-map-3", "HIGH").await;
    browser.select("#priority-map-1", "LOW").await;
    browser.click_button("Save priority mapping").await;
    browser
        .find_text("[role=status]", "Priority mapping saved")
        .await;
    let mapping = app
        .gql(
            token,
            "query($id: ID!) { alertSource(id: $id) { serviceNow { priorityMapping { serviceNowPriority alertPriority } routingField } } }",
            json!({ "id": source.id }),
        )
        .await;
    let pairs: Vec<(String, String)> = mapping["alertSource"]["serviceNow"]["priorityMapping"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                str_field(m, "serviceNowPriority"),
                str_field(m, "alertPriority"),
            )
        })
        .collect();
    assert!(pairs.contains(&("3".into(), "HIGH".into())), "{pairs:?}");
    assert!(pairs.contains(&("1".into(), "LOW".into())), "{pairs:?}");

    browser.select("#routing-field", "assignment_group").await;
    browser.click_button("Save routing field").await;
    browser
        .find_text("[role=status]", "Routing field saved")
        .await;
    let routing = app
        .gql(
            token,
            "query($id: ID!) { alertSource(id: $id) { serviceNow { routingField } } }",
            json!({ "id": source.id }),
        )
        .await;
    assert_eq!(
        routing["alertSource"]["serviceNow"]["routingField"],
        "assignment_group"
    );
    browser.screenshot("alert-source-instance-settings").await;

    // A reload shows what was saved.
    browser.goto(&format!("/sources/{}", source.id)).await;
    browser.find_text(".mapping", "3 - Moderate").await;
    let kept = browser
        .find("#priority-map-3")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("HIGH"));
    let field = browser
        .find("#routing-field")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(field.as_deref(), Some("assignment_group"));
    browser.close().await;
}

#[tokio::test]
async fn a_responder_sees_alert_sources_without_admin_forms_webhook_url_or_script() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (responder, _) = app.create_responder().await;
    let browser = Browser::start(&app.address).await;
    browser
        .sign_in(&str_field(&responder, "email"), USER_PASSWORD)
        .await;
    browser.goto("/sources").await;
    browser.find_text(".list-row", &source.name).await;
    assert!(!browser.page_text().await.contains("New alert source"));
    browser.goto(&format!("/sources/{}", source.id)).await;
    // The webhook URL and the script carry the integration key: only admins see them, and the
    // page does not ask for them (so no FORBIDDEN error shows).
    browser
        .find_text(".card", "Only admins see the business rule script")
        .await;
    browser
        .find_text(".card", "Only admins see the webhook URL")
        .await;
    let text = browser.page_text().await;
    assert!(!text.contains(&source.integration_key), "{text}");
    assert!(!text.contains("/api/v1/events/servicenow/"), "{text}");
    assert!(
        browser
            .client
            .find_all(fantoccini::Locator::Css(
                "#webhook-url, #business-rule-script"
            ))
            .await
            .unwrap()
            .is_empty(),
        "{text}"
    );
    let text = browser.page_text().await;
    assert!(!text.contains("Advanced: ServiceNow connection"), "{text}");
    assert!(
        browser
            .client
            .find_all(fantoccini::Locator::Css("[role=alert]"))
            .await
            .unwrap()
            .is_empty(),
        "no error on the page: {text}"
    );
    browser.close().await;
}

#[tokio::test]
async fn admin_requires_basic_credentials_on_the_webhook_and_the_script_carries_them() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto(&format!("/sources/{}", source.id)).await;
    let before = browser
        .find("#business-rule-script")
        .await
        .text()
        .await
        .unwrap();
    assert!(!before.contains("setBasicAuth"), "{before}");
    browser.click("details.advanced summary h2").await;
    browser.select("#hook-auth-kind", "BASIC").await;
    browser.fill("#hook-auth-user", "servicenow").await;
    browser.fill("#hook-auth-secret", "webhook-secret-1").await;
    browser.click_button("Save webhook authentication").await;
    browser
        .find_text("[role=status]", "Webhook authentication saved")
        .await;
    browser
        .find_text("#business-rule-script", "setBasicAuth")
        .await;

    let token = app.admin_token().await;
    let auth = app
        .gql(
            &token,
            "query($id: ID!) { alertSource(id: $id) { webhookAuth { kind username } } }",
            json!({ "id": source.id }),
        )
        .await;
    assert_eq!(
        auth["alertSource"]["webhookAuth"],
        json!({ "kind": "BASIC", "username": "servicenow" })
    );
    // The webhook now refuses a delivery without the credentials.
    let (status, _) = app
        .post_event(
            &source.integration_key,
            &incident(&new_sys_id(), state::NEW, 0),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    browser.close().await;
}

#[tokio::test]
async fn admin_rotates_the_integration_key_and_sees_when_the_old_one_stops() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto(&format!("/sources/{}", source.id)).await;
    browser
        .find_text("#webhook-url", &source.integration_key)
        .await;
    browser.fill("#rotate-grace", "60").await;
    browser.click_button("Rotate key").await;
    browser.find_text("[role=status]", "New key issued").await;
    browser
        .find_text("#key-grace-end", "The previous key still delivers until")
        .await;
    browser.screenshot("alert-source-key-rotated").await;

    let token = app.admin_token().await;
    let now = app
        .gql(
            &token,
            "query($id: ID!) { alertSource(id: $id) { integrationKey webhookUrl } }",
            json!({ "id": source.id }),
        )
        .await;
    let new_key = str_field(&now["alertSource"], "integrationKey");
    assert_ne!(new_key, source.integration_key);
    browser.find_text("#webhook-url", &new_key).await;
    for key in [&source.integration_key, &new_key] {
        let (status, body) = app
            .post_event(key, &incident(&new_sys_id(), state::NEW, 0))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    browser.close().await;
}

#[tokio::test]
async fn the_setup_page_waits_for_the_first_event_and_flips_when_it_arrives() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto(&format!("/sources/{}", source.id)).await;
    browser
        .find_text(
            "#event-status",
            "Waiting for the first event from ServiceNow…",
        )
        .await;
    browser
        .execute("document.getElementById('events-title').scrollIntoView()")
        .await;
    browser.screenshot("source-waiting-for-events").await;
    browser
        .execute("document.getElementById('setup-title').scrollIntoView()")
        .await;
    browser.screenshot("source-update-set").await;

    // The update set is offered as a download, webhook URL inside.
    let href = browser
        .find("#download-update-set")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap_or_default();
    let xml = browser
        .execute(&format!(
            "return decodeURIComponent({:?}.split(',').slice(1).join(','))",
            href
        ))
        .await;
    let xml = xml.as_str().unwrap_or_default();
    assert!(
        xml.starts_with("<?xml") && xml.contains("<sys_remote_update_set"),
        "{xml}"
    );
    assert!(
        xml.contains(&source.webhook_url),
        "the rule posts to the webhook"
    );

    // The page flips by itself (no reload: the marker set now survives) once an event arrives.
    browser
        .execute("window.glidepathMarker = 'same page'; return null")
        .await;
    let (status, _) = app
        .post_event(&source.integration_key, &fixture("incident-new.json"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    browser.find_text("#event-status", "Receiving events").await;
    browser
        .find_text("#event-instance", FIXTURE_SERVER_URL)
        .await;
    browser.find_text("#event-counts", "1").await;
    assert_eq!(
        browser.execute("return window.glidepathMarker").await,
        json!("same page")
    );

    // A rejected event is counted and its reason shown.
    let (status, _) = app
        .post_event(&source.integration_key, &json!({ "state": "1" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    browser
        .find_text("#last-rejection", "400 invalid_payload")
        .await;
    browser
        .execute("document.getElementById('events-title').scrollIntoView()")
        .await;
    browser.screenshot("source-receiving-events").await;
    browser.close().await;
}
