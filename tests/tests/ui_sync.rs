//! The ServiceNow sync panel of the alert page, against the simulator with a bidirectional
//! connection: each action taken on the page reaches the incident, and a refused update shows
//! as failed with ServiceNow's error until Retry sync delivers it.

mod sync_support;

use std::time::{Duration, Instant};

use glidepath_tests::browser::{Browser, WAIT};
use glidepath_tests::*;
use serde_json::{Value, json};
use servicenow_sim::{Faults, NETWORK_GROUP_SYS_ID};
use sync_support::{World, field, impact_urgency_priority};

/// How long a change may take to reach the simulator once the page shows it.
const SETTLE: Duration = Duration::from_secs(10);

/// Waits until the sync panel lists a `label` row (Accept, Comment, Re-route, Priority,
/// Resolve) that shows `state` ("Synced", "Failed") and also `also`; returns the row's text.
/// The panel refreshes with the page, so this can take a poll interval.
async fn wait_row(browser: &Browser, label: &str, state: &str, also: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let rows = browser
            .execute(
                "return [...document.querySelectorAll('.sync-updates .list-row')].map(r => r.innerText)",
            )
            .await;
        let found = rows
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|r| r.contains(label) && r.contains(state) && r.contains(also))
            .map(String::from);
        if let Some(row) = found {
            return row;
        }
        assert!(
            Instant::now() < deadline,
            "no {state} {label} row showing {also:?} within {WAIT:?}: {rows}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the simulator's incident satisfies `check`.
async fn incident_where(
    world: &World,
    sys_id: &str,
    what: &str,
    check: impl Fn(&servicenow_sim::Record) -> bool,
) {
    eventually(SETTLE, what, || async {
        check(&world.record(sys_id)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn accepting_in_the_browser_shows_the_update_synced_to_servicenow() {
    let world = World::start().await;
    let (sys_id, alert_id) = world.incident().await;
    let browser = Browser::start(&world.app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto(&format!("/alerts/{alert_id}")).await;
    browser.click_button("Accept").await;
    browser.find(".detail-head .status-accepted").await;
    wait_row(&browser, "Accept", "Synced", "delivered").await;
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

#[tokio::test]
async fn comment_reroute_raise_and_resolve_from_the_detail_page_reach_the_servicenow_incident() {
    let world = World::start().await;
    let admin_id = world.app.admin_id().await;
    // Routing by assignment group: a re-route writes the new policy's group to the incident.
    world.route_by_assignment_group().await;
    let network_id = world.network_policy(&admin_id).await;
    // Impact and urgency 3: a LOW alert on the source's own policy.
    let (sys_id, alert_id) = world.incident().await;
    assert_eq!(world.app.alert(&alert_id).await["priority"], "LOW");

    let browser = Browser::start(&world.app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto(&format!("/alerts/{alert_id}")).await;
    browser.find_text("#sync-title", "ServiceNow sync").await;

    browser
        .add_comment("Failing over to the standby switch")
        .await;
    assert_eq!(
        world.app.alert(&alert_id).await["comments"][0]["body"],
        "Failing over to the standby switch"
    );
    wait_row(&browser, "Comment", "Synced", "delivered").await;
    assert_eq!(
        world.work_notes(&sys_id),
        vec!["Failing over to the standby switch"]
    );

    browser.reroute(&network_id, "Network").await;
    assert_eq!(
        world.app.alert(&alert_id).await["escalationPolicy"]["id"],
        json!(network_id)
    );
    wait_row(&browser, "Re-route", "Synced", "delivered").await;
    incident_where(&world, &sys_id, "the Network group on the incident", |r| {
        field(r, "assignment_group") == NETWORK_GROUP_SYS_ID
    })
    .await;

    browser.click_button("Raise priority").await;
    browser.find(".detail-head .priority-high").await;
    assert_eq!(world.app.alert(&alert_id).await["priority"], "HIGH");
    wait_row(&browser, "Priority", "Synced", "delivered").await;
    assert_eq!(
        impact_urgency_priority(&world.record(&sys_id)),
        ["1", "1", "1"],
        "raised to the priority mapped to HIGH"
    );

    browser.resolve_with("Replaced the line card").await;
    assert_eq!(world.app.alert(&alert_id).await["status"], "RESOLVED");
    wait_row(&browser, "Resolve", "Synced", "delivered").await;
    let r = world.record(&sys_id);
    assert_eq!(field(&r, "state"), "6", "Resolved in ServiceNow");
    assert_eq!(field(&r, "close_notes"), "Replaced the line card");

    let sync = world.settled(&alert_id, SETTLE).await;
    assert_eq!(sync["syncStatus"]["state"], "SYNCED", "{sync}");
    browser.find_text(".sync-summary", "Synced").await;
    browser.close().await;
}

#[tokio::test]
async fn a_refused_update_shows_failed_with_the_error_and_retry_sync_delivers_it() {
    let world = World::start().await;
    let (sys_id, alert_id) = world.incident().await;
    world.settled(&alert_id, SETTLE).await;
    // The instance refuses every request until the fault is cleared.
    world.sim.set_fault(Faults::error(400, None));

    let browser = Browser::start(&world.app.address).await;
    browser.sign_in(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    browser.goto(&format!("/alerts/{alert_id}")).await;
    browser.add_comment("Checking the uplink").await;

    // A 4xx is not retried: the page shows the failure and ServiceNow's error in words.
    browser.find_text(".sync-summary", "Failed").await;
    let row = wait_row(&browser, "Comment", "Failed", "400").await;
    assert!(row.contains("Bad Request"), "{row}");
    let summary = browser
        .find_text("#sync-title ~ .message.error", "failed")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        summary.contains("400") && !summary.contains('{'),
        "{summary}"
    );
    let sync = world.sync(&alert_id).await;
    assert_eq!(sync["syncStatus"]["state"], "FAILED", "{sync}");
    assert!(world.work_notes(&sys_id).is_empty());
    browser.screenshot("alert-detail-sync-failed").await;

    world.sim.set_fault(Faults::none());
    browser.click_button("Retry sync").await;
    wait_row(&browser, "Comment", "Synced", "delivered").await;
    browser.find_text(".sync-summary", "Synced").await;
    browser.wait_gone(".sync-summary ~ .button-row").await; // no Retry sync once synced
    assert_eq!(world.work_notes(&sys_id), vec!["Checking the uplink"]);
    let sync = world.sync(&alert_id).await;
    assert_eq!(sync["syncStatus"]["state"], "SYNCED", "{sync}");
    let alert = world.app.alert(&alert_id).await;
    assert_eq!(log_entries_of(&alert, "SYNC_RETRIED").len(), 1, "{alert}");
    browser.close().await;
}
