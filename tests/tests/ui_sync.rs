//! The ServiceNow sync panel of the alert page, against the simulator with a bidirectional
//! connection.

mod sync_support;

use glidepath_tests::browser::Browser;
use glidepath_tests::*;
use serde_json::json;
use sync_support::World;

#[tokio::test]
async fn accepting_in_the_browser_shows_the_update_synced_to_servicenow() {
    let world = World::start().await;
    let (sys_id, alert_id) = world.incident().await;
    let browser = Browser::start(&world.app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto(&format!("/alerts/{alert_id}")).await;
    browser.click_button("Accept").await;
    browser.find(".detail-head .status-accepted").await;
    // The panel refreshes with the page until the instance has the change.
    let deadline = std::time::Instant::now() + glidepath_tests::browser::WAIT;
    loop {
        let rows = browser
            .execute(
                "return [...document.querySelectorAll('.sync-updates .list-row')].map(r => r.innerText)",
            )
            .await;
        let synced = rows.as_array().into_iter().flatten().any(|r| {
            let r = r.as_str().unwrap_or_default();
            r.contains("Accept") && r.contains("Synced") && r.contains("delivered")
        });
        if synced {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no synced Accept row: {rows}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    browser.find_text("#sync-title", "ServiceNow sync").await;
    browser.screenshot("alert-detail-sync").await;

    let data = world
        .app
        .gql(
            &world.token,
            "query($id: ID!) { alert(id: $id) { syncStatus { state } syncUpdates { kind state } } }",
            json!({ "id": alert_id }),
        )
        .await;
    assert_eq!(data["alert"]["syncStatus"]["state"], "SYNCED");
    let accept = data["alert"]["syncUpdates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["kind"] == "ACCEPT")
        .cloned();
    assert_eq!(
        accept,
        Some(json!({ "kind": "ACCEPT", "state": "SYNCED" })),
        "{data}"
    );
    assert_eq!(
        world.record(&sys_id)["state"],
        "2",
        "In Progress in ServiceNow"
    );
    browser.close().await;
}
