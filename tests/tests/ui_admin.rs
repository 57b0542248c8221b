//! Admin screens in a real browser: escalation policies (create, edit), users (role) and API
//! tokens (My account), each checked through GraphQL.

use glidepath_tests::browser::Browser;
use glidepath_tests::*;
use serde_json::json;

const POLICIES: &str = "{ escalationPolicies { id name routingKey repeat rules { escalationTimeoutMinutes users { id } } } }";

#[tokio::test]
async fn admin_creates_and_edits_an_escalation_policy_with_ordered_levels() {
    let app = spawn_app().await;
    let admin_id = app.admin_id().await;
    let (responder, _) = app.create_responder().await;
    let responder_id = id_of(&responder);
    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto("/policies").await;
    browser
        .find_text(".empty", "No escalation policies yet")
        .await;
    browser.click_button("New policy").await;
    browser.fill("#policy-name", "Network on-call").await;
    browser.fill("#policy-key", "network").await;
    browser.fill("#level-0-minutes", "10").await;
    browser.click(&format!("#level-0-user-{admin_id}")).await;
    browser.click_button("Add level").await;
    browser.fill("#level-1-minutes", "20").await;
    browser
        .click(&format!("#level-1-user-{responder_id}"))
        .await;
    browser.fill("#policy-repeat", "1").await;
    browser.screenshot("escalation-policy-form").await;
    browser.click_button("Save policy").await;
    browser.find_text(".policy", "Network on-call").await;
    browser.screenshot("escalation-policies").await;

    let token = app.admin_token().await;
    let policy = app.gql(&token, POLICIES, json!({})).await["escalationPolicies"][0].clone();
    assert_eq!(policy["name"], "Network on-call");
    assert_eq!(policy["routingKey"], "network");
    assert_eq!(policy["repeat"], 1);
    assert_eq!(
        policy["rules"],
        json!([
            { "escalationTimeoutMinutes": 10, "users": [{ "id": admin_id }] },
            { "escalationTimeoutMinutes": 20, "users": [{ "id": responder_id }] },
        ])
    );

    // Edit: rename, and swap the levels.
    browser.click_button("Edit Network on-call").await;
    browser.fill("#policy-name", "Network primary").await;
    browser.find_text(".level-edit", "Level 2").await;
    let move_up = browser
        .client
        .find_all(fantoccini::Locator::Css(".level-edit button"))
        .await
        .unwrap();
    // Buttons per level: Move up, Move down, Remove level; the second level's "Move up".
    move_up[3].click().await.unwrap();
    browser.click_button("Save policy").await;
    browser.find_text(".policy", "Network primary").await;
    let policy = app.gql(&token, POLICIES, json!({})).await["escalationPolicies"][0].clone();
    assert_eq!(policy["name"], "Network primary");
    assert_eq!(policy["rules"][0]["users"][0]["id"], json!(responder_id));
    assert_eq!(policy["rules"][1]["users"][0]["id"], json!(admin_id));
    browser.close().await;
}

#[tokio::test]
async fn admin_changes_roles_and_a_user_manages_api_tokens() {
    let app = spawn_app().await;
    let (responder, _) = app.create_responder().await;
    let responder_id = id_of(&responder);
    let admin_id = app.admin_id().await;
    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto("/users").await;

    // The only admin cannot step down: the server's refusal is shown in words.
    browser
        .select(&format!("#role-{admin_id}"), "RESPONDER")
        .await;
    browser.find_text("[role=alert]", "last ADMIN").await;
    assert_eq!(app.me(&app.admin_token().await).await["role"], "ADMIN");

    browser
        .select(&format!("#role-{responder_id}"), "ADMIN")
        .await;
    let token = app.admin_token().await;
    let deadline = std::time::Instant::now() + browser_wait();
    loop {
        let users = app.gql(&token, "{ users { id role } }", json!({})).await;
        let role = users["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == json!(responder_id))
            .map(|u| u["role"].clone());
        if role == Some(json!("ADMIN")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "role not changed: {users}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    browser.screenshot("users").await;
    // Each user's own API tokens are on the My account page.
    browser.goto("/account").await;
    browser.find_text(".muted", "You have no API tokens").await;
    browser.fill("#token-name", "monitoring script").await;
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
    assert!(
        app.me(&secret).await["email"] == ADMIN_EMAIL,
        "the shown token works"
    );
    browser.find_text(".token-list", "monitoring script").await;
    browser.screenshot("api-tokens").await;
    browser
        .click("button[aria-label='Revoke monitoring script']")
        .await;
    browser.wait_gone(".token-list").await;
    let gone = app.graphql(Some(&secret), "{ me { id } }", json!({})).await;
    assert_error_code(&gone, "UNAUTHENTICATED");
    browser.close().await;
}

fn browser_wait() -> std::time::Duration {
    glidepath_tests::browser::WAIT
}

#[tokio::test]
async fn policy_routing_key_is_picked_from_the_instances_assignment_groups() {
    let s = sim_setup(0, false).await;
    let (app, token, source) = (&s.app, &s.token, &s.source);
    app.gql(
        token,
        "mutation($id: ID!) { setRoutingField(alertSourceId: $id, field: \"assignment_group\") { id } }",
        json!({ "id": source.id }),
    )
    .await;
    let groups = app
        .gql(
            token,
            "query($id: ID!) { serviceNowReferenceOptions(alertSourceId: $id, field: \"assignment_group\") { sysId name } }",
            json!({ "id": source.id }),
        )
        .await;
    let group = groups["serviceNowReferenceOptions"][0].clone();
    let admin_id = app.admin_id().await;

    let browser = Browser::start(&app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto("/policies").await;
    browser.click_button("New policy").await;
    browser.fill("#policy-name", "Routed by group").await;
    browser
        .find_text("#policy-key-picker", &str_field(&group, "name"))
        .await;
    browser
        .select("#policy-key-picker", &str_field(&group, "sysId"))
        .await;
    let key = browser
        .find("#policy-key")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(key, Some(str_field(&group, "sysId")));
    browser.click(&format!("#level-0-user-{admin_id}")).await;
    browser.click_button("Save policy").await;
    browser.find_text(".policy", "Routed by group").await;
    let policies = app
        .gql(
            token,
            "{ escalationPolicies { name routingKey } }",
            json!({}),
        )
        .await;
    let routed = policies["escalationPolicies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Routed by group")
        .cloned()
        .expect("the new policy");
    assert_eq!(routed["routingKey"], group["sysId"]);
    browser.close().await;
}
