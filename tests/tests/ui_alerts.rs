//! Working alerts in a real browser: the live list and every action on the detail page, each
//! checked through GraphQL afterwards.

use glidepath_tests::browser::Browser;
use glidepath_tests::*;
use serde_json::json;

#[tokio::test]
async fn incident_posted_to_the_webhook_appears_in_the_open_list_without_a_reload() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.select("#filter-status", "PENDING").await;
    browser.find_text(".empty", "No alerts match").await;
    // Marks this page load: a reload would lose it.
    browser
        .execute("window.__sameLoad = true; return null")
        .await;

    let (_, alert_id) = app.create_alert(&source).await;
    let row = browser
        .find(&format!("li[data-alert-id='{alert_id}']"))
        .await;
    let text = row.text().await.unwrap();
    assert!(text.contains(FIXTURE_SHORT_DESCRIPTION), "{text}");
    assert!(text.contains(FIXTURE_NUMBER), "{text}");
    assert!(text.contains(&source.name), "{text}");
    assert!(text.contains(&source.policy_name), "{text}");
    assert!(
        text.contains("Pending") && text.contains("High priority"),
        "{text}"
    );
    let assignee = &app.alert(&alert_id).await["assignedTo"];
    match assignee["email"].as_str() {
        Some(_) => assert!(
            text.contains("Administrator") || text.contains(ADMIN_EMAIL),
            "{text}"
        ),
        None => assert!(text.contains("Unassigned"), "{text}"),
    }
    assert_eq!(
        browser.execute("return window.__sameLoad === true").await,
        json!(true),
        "the page was reloaded"
    );
    let ticket = row
        .find(fantoccini::Locator::Css("a.ticket"))
        .await
        .expect("ticket link");
    let href = ticket.attr("href").await.unwrap().unwrap();
    assert!(
        href.starts_with(FIXTURE_SERVER_URL) && href.contains("incident.do"),
        "{href}"
    );

    // The priority filter narrows the list.
    browser.select("#filter-priority", "LOW").await;
    browser.find_text(".empty", "No alerts match").await;
    browser.select("#filter-priority", "HIGH").await;
    browser
        .find(&format!("li[data-alert-id='{alert_id}']"))
        .await;
    browser.select("#filter-status", "").await;
    browser.select("#filter-priority", "").await;
    browser
        .find(&format!("li[data-alert-id='{alert_id}']"))
        .await;
    browser.screenshot("alert-list").await;
    // A phone: the same list, one column, nothing wider than the screen.
    browser.client.set_window_size(360, 780).await.unwrap();
    browser
        .find(&format!("li[data-alert-id='{alert_id}']"))
        .await;
    let overflow = browser
        .execute("return document.documentElement.scrollWidth > window.innerWidth")
        .await;
    assert_eq!(
        overflow,
        json!(false),
        "the page scrolls sideways at 360 px"
    );
    browser.screenshot("alert-list-360px").await;
    browser.close().await;
}

#[tokio::test]
async fn responder_accepts_comments_reroutes_raises_and_resolves_from_the_detail_page() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let token = app.admin_token().await;
    let admin_id = app.admin_id().await;
    let other = app.create_policy(&token, &[&admin_id]).await;
    let (other_id, other_name) = (id_of(&other), str_field(&other, "name"));
    let (_, alert_id) = app.create_alert_with_priority(&source, "4").await;

    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto(&format!("/alerts/{alert_id}")).await;
    browser
        .find_text(".detail-title", FIXTURE_SHORT_DESCRIPTION)
        .await;
    browser.find_text(".timeline", "Created").await;
    browser.find_text(".facts", FIXTURE_NUMBER).await;
    browser.screenshot("alert-detail").await;

    browser.click_button("Accept").await;
    browser.find(".detail-head .status-accepted").await;
    browser.wait_gone("button.primary[type=button]").await; // Accept is gone once accepted
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "ACCEPTED");
    assert_eq!(alert["assignedTo"]["email"], ADMIN_EMAIL);

    browser.add_comment("Looking at the line card").await;
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["comments"][0]["body"], "Looking at the line card");

    browser.reroute(&other_id, &other_name).await;
    assert_eq!(
        app.alert(&alert_id).await["escalationPolicy"]["id"],
        json!(other_id)
    );

    browser.click_button("Raise priority").await;
    browser.find(".detail-head .priority-high").await;
    assert_eq!(app.alert(&alert_id).await["priority"], "HIGH");

    browser.resolve_with("Replaced the line card").await;
    browser
        .find_text(".actions", "only comments can be added")
        .await;
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["status"], "RESOLVED");
    let comments: Vec<&str> = alert["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert!(comments.contains(&"Replaced the line card"), "{comments:?}");
    let buttons = browser
        .find_text(".actions", "only comments")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !buttons.contains("Resolve…") && !buttons.contains("Raise priority"),
        "{buttons}"
    );
    browser.find_text(".timeline", "Resolved").await;
    browser.screenshot("alert-detail-resolved").await;
    browser.close().await;
}

#[tokio::test]
async fn an_action_refused_by_the_server_is_shown_in_words() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (_, alert_id) = app.create_alert(&source).await;
    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto(&format!("/alerts/{alert_id}")).await;
    browser.find("#comment-body").await;
    // Longer than the server takes (10,000 characters); typed as one input event.
    browser
        .execute(
            "const t = document.querySelector('#comment-body'); t.value = 'x'.repeat(10001); \
             t.dispatchEvent(new Event('input', { bubbles: true })); return null",
        )
        .await;
    browser.click_button("Add comment").await;
    let error = browser
        .find_text("[role=alert]", "10000")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !error.contains('{') && !error.contains("BAD_USER_INPUT"),
        "{error}"
    );
    assert_eq!(app.alert(&alert_id).await["comments"], json!([]));
    browser.close().await;
}
