//! Dynamic priority mapping: the instance's priority choices read from `sys_choice`, an alert
//! source's own choice of HIGH or LOW per value, and incidents from the simulator taking it.

use glidepath_tests::*;
use serde_json::{Value, json};
use servicenow_sim::RunningSimulator;

const PRIORITIES: &str =
    "query($id: ID!) { serviceNowPriorities(alertSourceId: $id) { value label } }";
const SET_MAPPING: &str = "mutation($id: ID!, $mappings: [PriorityMappingInput!]!) { \
    setPriorityMapping(alertSourceId: $id, mappings: $mappings) { \
      serviceNow { priorityMapping { serviceNowPriority alertPriority } } } }";
const MAPPING: &str = "query($id: ID!) { alertSource(id: $id) { \
    serviceNow { priorityMapping { serviceNowPriority alertPriority } } } }";

/// A server and a source connected to a simulator whose business rule posts to that source.
async fn connected() -> (TestApp, String, Source, RunningSimulator) {
    let s = sim_setup(0, true).await;
    (s.app, s.token, s.source, s.sim)
}

fn mapping(value: &str, priority: &str) -> Value {
    json!({ "serviceNowPriority": value, "alertPriority": priority })
}

/// Creates an incident with impact and urgency (ServiceNow computes the priority) and returns
/// the alert the business rule's POST made of it.
async fn alert_for_new_incident(
    app: &TestApp,
    sim: &RunningSimulator,
    source: &Source,
    impact: &str,
    urgency: &str,
) -> Value {
    let record = sim
        .state()
        .create_incident(&[
            ("short_description", "Disk full on db-01"),
            ("impact", impact),
            ("urgency", urgency),
        ])
        .expect("create the incident");
    let sys_id = record["sys_id"].clone();
    app.wait_for_incident_alert(&source.id, &sys_id, "the alert of the incident", |_| true)
        .await
}

#[tokio::test]
async fn priorities_are_read_from_sys_choice_once_per_value_in_english() {
    let (app, token, source, sim) = connected().await;
    let data = app
        .gql(&token, PRIORITIES, json!({ "id": source.id }))
        .await;
    assert_eq!(
        data["serviceNowPriorities"],
        json!([
            { "value": "1", "label": "1 - Critical" },
            { "value": "2", "label": "2 - High" },
            { "value": "3", "label": "3 - Moderate" },
            { "value": "4", "label": "4 - Low" },
            { "value": "5", "label": "5 - Planning" },
        ])
    );
    let asked = sim
        .state()
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/now/table/sys_choice")
        .expect("a sys_choice request");
    assert!(
        asked
            .query
            .contains("name%3Dincident%5Eelement%3Dpriority%5Einactive%3Dfalse"),
        "{}",
        asked.query
    );
}

#[tokio::test]
async fn the_mapping_changes_the_priority_of_new_alerts_and_unmapped_values_keep_the_default() {
    let (app, token, source, sim) = connected().await;
    let data = app
        .gql(
            &token,
            SET_MAPPING,
            json!({ "id": source.id, "mappings": [mapping("3", "HIGH"), mapping("1", "LOW")] }),
        )
        .await;
    assert_eq!(
        data["setPriorityMapping"]["serviceNow"]["priorityMapping"],
        json!([mapping("1", "LOW"), mapping("3", "HIGH")])
    );

    // 2 × 2 is priority 3 (Moderate): LOW by default, HIGH by this mapping.
    let moderate = alert_for_new_incident(&app, &sim, &source, "2", "2").await;
    assert_eq!(moderate["priority"], "HIGH", "{moderate}");
    // 1 × 1 is priority 1 (Critical), mapped to LOW.
    let critical = alert_for_new_incident(&app, &sim, &source, "1", "1").await;
    assert_eq!(critical["priority"], "LOW", "{critical}");
    // 1 × 2 is priority 2, not in the mapping: the default (HIGH).
    let high = alert_for_new_incident(&app, &sim, &source, "1", "2").await;
    assert_eq!(high["priority"], "HIGH", "{high}");
    // 3 × 3 is priority 5, not in the mapping: the default (LOW).
    let planning = alert_for_new_incident(&app, &sim, &source, "3", "3").await;
    assert_eq!(planning["priority"], "LOW", "{planning}");

    // An update to a mapped HIGH value raises a LOW alert.
    let sys_id = str_field(&planning, "alertKey");
    sim.state()
        .update_incident(&sys_id, &[("impact", "2"), ("urgency", "2")], "beth.anglin")
        .expect("update the incident");
    app.wait_for_incident_alert(&source.id, &sys_id, "the raised alert", |a| {
        a["priority"] == "HIGH"
    })
    .await;

    // An empty list returns to the default rule.
    let cleared = app
        .gql(
            &token,
            SET_MAPPING,
            json!({ "id": source.id, "mappings": [] }),
        )
        .await;
    assert_eq!(
        cleared["setPriorityMapping"]["serviceNow"]["priorityMapping"],
        json!([])
    );
    let moderate = alert_for_new_incident(&app, &sim, &source, "2", "2").await;
    assert_eq!(moderate["priority"], "LOW", "{moderate}");
}

#[tokio::test]
async fn unknown_or_repeated_values_are_refused_and_change_nothing() {
    let (app, token, source, _sim) = connected().await;
    app.gql(
        &token,
        SET_MAPPING,
        json!({ "id": source.id, "mappings": [mapping("2", "LOW")] }),
    )
    .await;
    for mappings in [
        json!([mapping("9", "HIGH")]),
        json!([mapping("3", "HIGH"), mapping("3", "LOW")]),
        json!([mapping("", "HIGH")]),
    ] {
        let answer = app
            .graphql(
                Some(&token),
                SET_MAPPING,
                json!({ "id": source.id, "mappings": mappings }),
            )
            .await;
        assert_error_code(&answer, "BAD_USER_INPUT");
    }
    let wrong_enum = app
        .graphql(
            Some(&token),
            SET_MAPPING,
            json!({ "id": source.id, "mappings": [mapping("3", "URGENT")] }),
        )
        .await;
    assert!(wrong_enum["errors"].is_array(), "{wrong_enum}");
    let data = app.gql(&token, MAPPING, json!({ "id": source.id })).await;
    assert_eq!(
        data["alertSource"]["serviceNow"]["priorityMapping"],
        json!([mapping("2", "LOW")])
    );
}

#[tokio::test]
async fn priority_settings_need_an_admin_and_a_connection() {
    let (app, token, source, _sim) = connected().await;
    let (_, responder) = app.create_responder().await;
    let denied = app
        .graphql(Some(&responder), PRIORITIES, json!({ "id": source.id }))
        .await;
    assert_error_code(&denied, "FORBIDDEN");
    let denied = app
        .graphql(
            Some(&responder),
            SET_MAPPING,
            json!({ "id": source.id, "mappings": [mapping("3", "HIGH")] }),
        )
        .await;
    assert_error_code(&denied, "FORBIDDEN");

    let unconnected = app.setup_source().await;
    for (query, vars) in [
        (PRIORITIES, json!({ "id": unconnected.id })),
        (
            SET_MAPPING,
            json!({ "id": unconnected.id, "mappings": [mapping("3", "HIGH")] }),
        ),
    ] {
        let answer = app.graphql(Some(&token), query, vars).await;
        assert_error_code(&answer, "NOT_FOUND");
    }
    let unknown = app
        .graphql(Some(&token), PRIORITIES, json!({ "id": uuid_like() }))
        .await;
    assert_error_code(&unknown, "NOT_FOUND");
}

#[tokio::test]
async fn an_unreachable_instance_is_a_bad_gateway() {
    let (app, token, source, sim) = connected().await;
    sim.stop().await;
    let answer = app
        .graphql(Some(&token), PRIORITIES, json!({ "id": source.id }))
        .await;
    assert_error_code(&answer, "BAD_GATEWAY");
    let answer = app
        .graphql(
            Some(&token),
            SET_MAPPING,
            json!({ "id": source.id, "mappings": [mapping("3", "HIGH")] }),
        )
        .await;
    assert_error_code(&answer, "BAD_GATEWAY");
}

fn uuid_like() -> String {
    "0190a0e0-0000-7000-8000-000000000000".into()
}
