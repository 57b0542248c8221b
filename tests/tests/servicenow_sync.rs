//! Bidirectional sync against the simulated instance: every alert change made in Glidepath
//! reaches the incident as the mapping table says, publish filters hold changes back, users map
//! by e-mail, and nothing that came from ServiceNow (or echoes our own update) goes back.

mod sync_support;

use std::time::Duration;

use glidepath_tests::*;
use serde_json::json;
use servicenow_sim::{BETH_ANGLIN_SYS_ID, NETWORK_GROUP_SYS_ID};
use sync_support::*;

const SETTLE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn every_glidepath_change_is_written_to_the_incident() {
    let w = World::start().await;
    let (sys_id, alert_id) = w.incident().await;

    // Level 1 of the policy assigns the admin: assigned_to is the admin's sys_user.
    let sync = w.settled(&alert_id, SETTLE).await;
    assert_eq!(kinds(&sync), vec!["ASSIGN"], "{sync}");
    assert_eq!(field(&w.record(&sys_id), "assigned_to"), SIM_ADMIN_SYS_ID);

    w.accept(&w.token, &alert_id).await;
    w.settled(&alert_id, SETTLE).await;
    let r = w.record(&sys_id);
    assert_eq!(field(&r, "state"), "2", "accept sets In Progress");
    assert_eq!(field(&r, "assigned_to"), SIM_ADMIN_SYS_ID);

    w.comment(&w.token, &alert_id, "Failing over to the standby switch")
        .await;
    w.settled(&alert_id, SETTLE).await;
    assert_eq!(
        w.work_notes(&sys_id),
        vec!["Failing over to the standby switch"]
    );

    w.raise(&w.token, &alert_id).await;
    w.settled(&alert_id, SETTLE).await;
    assert_eq!(
        impact_urgency_priority(&w.record(&sys_id)),
        ["1", "1", "1"],
        "raised to the priority mapped to HIGH"
    );

    w.resolve(&w.token, &alert_id, Some("Replaced the line card"))
        .await;
    let sync = w.settled(&alert_id, SETTLE).await;
    let r = w.record(&sys_id);
    assert_eq!(field(&r, "state"), "6");
    assert_eq!(field(&r, "close_code"), "Solved (Permanently)");
    assert_eq!(field(&r, "close_notes"), "Replaced the line card");

    assert_eq!(
        kinds(&sync),
        vec!["ASSIGN", "ACCEPT", "COMMENT", "PRIORITY", "RESOLVE"]
    );
    assert!(states(&sync).iter().all(|s| s == "SYNCED"), "{sync}");
    assert_eq!(sync["syncStatus"]["state"], "SYNCED");
    assert!(
        sync["syncUpdates"]
            .as_array()
            .is_some_and(|u| u.iter().all(|u| u["deliveredAt"].is_string()))
    );
    assert_eq!(w.patches(), 5, "one PATCH per change");
}

#[tokio::test]
async fn resolving_without_a_comment_names_who_resolved_with_the_configured_close_code() {
    let w = World::start().await;
    let data = w
        .app
        .gql(
            &w.token,
            CONFIGURE,
            json!({ "id": w.source.id, "url": w.sim.url(), "user": SIM_USER, "bi": true,
                    "closeCode": "Workaround provided" }),
        )
        .await;
    assert_eq!(
        data["configureServiceNow"]["serviceNow"]["closeCode"],
        "Workaround provided"
    );
    let too_long = w
        .app
        .graphql(
            Some(&w.token),
            CONFIGURE,
            json!({ "id": w.source.id, "url": w.sim.url(), "user": SIM_USER, "bi": true,
                    "closeCode": "x".repeat(101) }),
        )
        .await;
    assert_error_code(&too_long, "BAD_USER_INPUT");
    let (sys_id, alert_id) = w.incident().await;
    w.resolve(&w.token, &alert_id, None).await;
    w.settled(&alert_id, SETTLE).await;
    let r = w.record(&sys_id);
    assert_eq!(field(&r, "state"), "6");
    assert_eq!(field(&r, "close_code"), "Workaround provided");
    assert!(
        field(&r, "close_notes").starts_with("Resolved in Glidepath by ")
            && field(&r, "close_notes").contains(ADMIN_EMAIL),
        "{r:?}"
    );
    let reset = w
        .app
        .gql(
            &w.token,
            CONFIGURE,
            json!({ "id": w.source.id, "url": w.sim.url(), "user": SIM_USER, "bi": true,
                    "closeCode": "" }),
        )
        .await;
    assert_eq!(
        reset["configureServiceNow"]["serviceNow"]["closeCode"],
        "Solved (Permanently)"
    );
}

#[tokio::test]
async fn accepting_leaves_a_ticket_already_past_new_in_its_state() {
    let w = World::start().await;
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;
    // On Hold in ServiceNow: the alert stays PENDING, the ticket state is 3.
    w.sim
        .state()
        .update_incident(
            &sys_id,
            &[("state", "3"), ("hold_reason", "1")],
            "beth.anglin",
        )
        .expect("put on hold");
    let deadline = std::time::Instant::now() + SETTLE;
    while w.app.alert(&alert_id).await["ticket"]["state"] != 3 {
        assert!(std::time::Instant::now() < deadline, "webhook not applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.accept(&w.token, &alert_id).await;
    w.settled(&alert_id, SETTLE).await;
    let bodies = w.patch_bodies(&sys_id);
    let last = bodies.last().expect("the accept was sent");
    assert!(last.get("state").is_none(), "no state written: {last}");
    assert_eq!(field(&w.record(&sys_id), "state"), "3");
}

#[tokio::test]
async fn escalation_to_a_new_responder_assigns_their_servicenow_user() {
    let w = World::start_with(options().env("GLIDEPATH_TIME_SCALE", "600")).await;
    let beth = w
        .app
        .create_user(&w.token, "beth.anglin@example.com", "RESPONDER")
        .await;
    let admin_id = w.app.admin_id().await;
    let policy = w
        .app
        .gql(
            &w.token,
            "mutation($u1: ID!, $u2: ID!) { createEscalationPolicy(input: { name: \"Two levels\", routingKey: \"two-levels\", \
               rules: [{ escalationTimeoutMinutes: 1, userIds: [$u1] }, { escalationTimeoutMinutes: 60, userIds: [$u2] }] }) { id name routingKey } }",
            json!({ "u1": admin_id, "u2": id_of(&beth) }),
        )
        .await;
    let source = w
        .app
        .create_alert_source(&w.token, &id_of(&policy["createEscalationPolicy"]))
        .await;
    let w = {
        let mut w = w;
        expect_data(
            w.app
                .graphql(
                    Some(&w.token),
                    CONFIGURE,
                    json!({ "id": id_of(&source), "url": w.sim.url(), "user": SIM_USER,
                            "password": SIM_PASSWORD, "bi": true }),
                )
                .await,
        );
        w.source = Source::from_json(&source, &policy["createEscalationPolicy"]);
        w.sim
            .state()
            .set_webhooks(vec![w.source.webhook_url.clone()]);
        w
    };
    let (sys_id, alert_id) = w.incident().await;
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        let sync = w.settled(&alert_id, SETTLE).await;
        if kinds(&sync) == vec!["ASSIGN", "ASSIGN"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no second assignment: {sync}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(field(&w.record(&sys_id), "assigned_to"), BETH_ANGLIN_SYS_ID);
}

#[tokio::test]
async fn an_unmapped_user_leaves_assigned_to_alone_and_the_log_says_so() {
    let w = World::start().await;
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;
    let (_, responder_token) = w.app.create_responder().await;
    w.accept(&responder_token, &alert_id).await;
    w.settled(&alert_id, SETTLE).await;
    let r = w.record(&sys_id);
    assert_eq!(field(&r, "state"), "2", "the state is still written");
    assert_eq!(
        field(&r, "assigned_to"),
        SIM_ADMIN_SYS_ID,
        "assigned_to left as it was"
    );
    let alert = w.app.alert(&alert_id).await;
    let unmapped = log_entries_of(&alert, "SYNC_USER_UNMAPPED");
    assert_eq!(unmapped.len(), 1, "{alert}");
    assert!(str_field(&unmapped[0], "message").contains("No ServiceNow user has the e-mail"));
}

#[tokio::test]
async fn reroute_writes_the_new_policys_group_when_routing_by_assignment_group() {
    let w = World::start().await;
    let admin_id = w.app.admin_id().await;
    let network = w.network_policy(&admin_id).await;
    let reroute =
        "mutation($id: ID!, $p: ID!) { rerouteAlert(id: $id, escalationPolicyId: $p) { id } }";

    let rerouted = async |w: &World| {
        let (sys_id, alert_id) = w.incident().await;
        let vars = json!({ "id": alert_id, "p": network });
        w.act(&w.token, reroute, vars).await;
        let sync = w.settled(&alert_id, SETTLE).await;
        (kinds(&sync), field(&w.record(&sys_id), "assignment_group"))
    };

    // Without the routing field, a re-route has nothing to write.
    let (kinds_sent, group) = rerouted(&w).await;
    assert!(
        !kinds_sent.contains(&"REROUTE".to_string()),
        "{kinds_sent:?}"
    );
    assert_eq!(group, "");

    w.route_by_assignment_group().await;
    let (kinds_sent, group) = rerouted(&w).await;
    assert!(
        kinds_sent.contains(&"REROUTE".to_string()),
        "{kinds_sent:?}"
    );
    assert_eq!(group, NETWORK_GROUP_SYS_ID);
}

#[tokio::test]
async fn a_reroute_made_in_servicenow_is_not_written_back() {
    let w = World::start().await;
    let beth = w
        .app
        .create_user(&w.token, "beth.anglin@example.com", "RESPONDER")
        .await;
    // The network policy calls someone else than the source's policy: had the restarted
    // escalation been written back, an ASSIGN would be queued.
    let network = w.network_policy(&id_of(&beth)).await;
    w.route_by_assignment_group().await;
    let (sys_id, alert_id) = w.incident().await;
    let sync = w.settled(&alert_id, SETTLE).await;
    assert_eq!(kinds(&sync), vec!["ASSIGN"], "{sync}");
    let patches = w.patches();

    w.sim
        .state()
        .update_incident(
            &sys_id,
            &[("assignment_group", NETWORK_GROUP_SYS_ID)],
            "beth.anglin",
        )
        .expect("reassign");
    let alert = eventually(SETTLE, "the re-route", || async {
        let alert = w.app.alert(&alert_id).await;
        (alert["escalationPolicy"]["id"] == network.as_str()
            && alert["assignedTo"]["email"] == "beth.anglin@example.com")
            .then_some(alert)
    })
    .await;
    assert_eq!(log_entries_of(&alert, "REROUTED").len(), 1, "{alert}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(kinds(&w.sync(&alert_id).await), vec!["ASSIGN"]);
    assert_eq!(w.patches(), patches, "nothing written back");
}

#[tokio::test]
async fn publish_filters_hold_back_the_kinds_switched_off() {
    let w = World::start().await;
    let on = w.set_filters(json!({})).await;
    assert_eq!(
        on["setPublishFilters"]["serviceNow"]["publishFilters"],
        json!({ "accept": true, "resolve": true, "comment": true, "priority": true,
                "assignment": true, "reroute": true }),
        "all on by default"
    );
    let off = w
        .set_filters(json!({ "accept": false, "comment": false, "assignment": false }))
        .await;
    assert_eq!(
        off["setPublishFilters"]["serviceNow"]["publishFilters"]["comment"],
        false
    );
    let (sys_id, alert_id) = w.incident().await;
    w.accept(&w.token, &alert_id).await;
    w.comment(&w.token, &alert_id, "kept in Glidepath").await;
    w.raise(&w.token, &alert_id).await;
    let sync = w.settled(&alert_id, SETTLE).await;
    assert_eq!(kinds(&sync), vec!["PRIORITY"], "{sync}");
    let r = w.record(&sys_id);
    assert_eq!(field(&r, "state"), "1", "accept not written");
    assert_eq!(field(&r, "priority"), "1", "priority written");
    assert!(
        w.sim.state().journal(&sys_id).is_empty(),
        "comment not written"
    );
    assert_eq!(w.patches(), 1);

    // Only admins set them; an unknown source is NOT_FOUND.
    let (_, responder) = w.app.create_responder().await;
    let denied = w
        .app
        .graphql(
            Some(&responder),
            "mutation($id: ID!) { setPublishFilters(alertSourceId: $id, filters: {}) { id } }",
            json!({ "id": w.source.id }),
        )
        .await;
    assert_error_code(&denied, "FORBIDDEN");
    let missing = w
        .app
        .graphql(
            Some(&w.token),
            "mutation { setPublishFilters(alertSourceId: \"nope\", filters: {}) { id } }",
            json!({}),
        )
        .await;
    assert_error_code(&missing, "NOT_FOUND");
}

#[tokio::test]
async fn a_one_way_connection_queues_nothing() {
    let w = World::start().await;
    expect_data(
        w.app
            .graphql(
                Some(&w.token),
                CONFIGURE,
                json!({ "id": w.source.id, "url": w.sim.url(), "user": SIM_USER, "bi": false }),
            )
            .await,
    );
    let (_, alert_id) = w.incident().await;
    w.accept(&w.token, &alert_id).await;
    w.comment(&w.token, &alert_id, "local only").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sync = w.sync(&alert_id).await;
    assert!(sync["syncStatus"].is_null(), "{sync}");
    assert_eq!(sync["syncUpdates"], json!([]));
    assert_eq!(w.patches(), 0);
}

#[tokio::test]
async fn changes_made_in_servicenow_apply_and_are_not_written_back() {
    let w = World::start().await;
    w.app
        .create_user(&w.token, "beth.anglin@example.com", "RESPONDER")
        .await;
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;
    let patches = w.patches();

    let state = w.sim.state();
    state
        .update_incident(&sys_id, &[("impact", "1"), ("urgency", "2")], "beth.anglin")
        .expect("raise");
    state
        .update_incident(&sys_id, &[("state", "2")], "beth.anglin")
        .expect("work it");
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        let alert = w.app.alert(&alert_id).await;
        if alert["status"] == "ACCEPTED" && alert["priority"] == "HIGH" {
            let accepted = log_entries_of(&alert, "ACCEPTED");
            assert_eq!(
                str_field(&accepted[0], "actor"),
                "ServiceNow (beth.anglin@example.com)",
                "the log names the Glidepath user with that e-mail"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not applied: {alert}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A user with no Glidepath account is named by their ServiceNow user name.
    state
        .update_incident(
            &sys_id,
            &[
                ("state", "6"),
                ("close_code", "Solved (Permanently)"),
                ("close_notes", "fixed"),
            ],
            "fred.luddy",
        )
        .expect("resolve");
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        let alert = w.app.alert(&alert_id).await;
        if alert["status"] == "RESOLVED" {
            let resolved = log_entries_of(&alert, "RESOLVED");
            assert_eq!(str_field(&resolved[0], "actor"), "ServiceNow (fred.luddy)");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not resolved: {alert}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.patches(), patches, "nothing written back");
    assert_eq!(kinds(&w.sync(&alert_id).await), vec!["ASSIGN"]);
}

#[tokio::test]
async fn the_echo_of_our_own_update_changes_nothing_and_sends_nothing() {
    let w = World::start().await;
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;
    let state = w.sim.state();
    // Wait for the echo of the level-1 assignment to be delivered and absorbed.
    eventually(SETTLE, "the assignment's echo", || async {
        (state.deliveries().len() >= 2).then_some(())
    })
    .await;

    w.accept(&w.token, &alert_id).await;
    w.comment(&w.token, &alert_id, "on it").await;
    w.resolve(&w.token, &alert_id, Some("done")).await;
    w.settled(&alert_id, SETTLE).await;
    // Creation, the assignment and our three updates each fire the business rule.
    eventually(SETTLE, "the echoes", || async {
        (state.deliveries().len() >= 5).then_some(())
    })
    .await;
    let deliveries = state.deliveries();
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == Some(200) || d.status == Some(201)),
        "every echo answered 2xx: {deliveries:?}"
    );
    let echo_bodies: Vec<_> = deliveries
        .iter()
        .filter(|d| d.body["sys_updated_by"] == SIM_USER)
        .collect();
    assert_eq!(echo_bodies.len(), 4, "four echoes of our own updates");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let alert = w.app.alert(&alert_id).await;
    let kinds_logged: Vec<String> = log_kinds(&alert)
        .into_iter()
        .filter(|k| !k.starts_with("NOTIFI"))
        .collect();
    assert_eq!(
        kinds_logged,
        vec!["CREATED", "ESCALATED", "ACCEPTED", "COMMENTED", "RESOLVED"],
        "no entry for an echo: {alert}"
    );
    assert_eq!(w.patches(), 4, "nothing sent for an echo");
    assert_eq!(kinds(&w.sync(&alert_id).await).len(), 4);
    assert_eq!(
        alert["ticket"]["state"], 6,
        "the ticket's state is still recorded"
    );
    assert_eq!(field(&w.record(&sys_id), "state"), "6");
}

#[tokio::test]
async fn sync_state_is_only_for_signed_in_users_and_retry_needs_a_failure() {
    let w = World::start().await;
    let (_, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;
    let retry = "mutation($id: ID!) { retrySync(alertId: $id) { id } }";
    let nothing = w
        .app
        .graphql(Some(&w.token), retry, json!({ "id": alert_id }))
        .await;
    assert_error_code(&nothing, "CONFLICT");
    let unknown = w
        .app
        .graphql(
            Some(&w.token),
            retry,
            json!({ "id": "00000000-0000-0000-0000-000000000000" }),
        )
        .await;
    assert_error_code(&unknown, "NOT_FOUND");
    let anonymous = w.app.graphql(None, retry, json!({ "id": alert_id })).await;
    assert_error_code(&anonymous, "UNAUTHENTICATED");
}
