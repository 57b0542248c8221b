//! Routing by incident field: the incident's fields and a reference field's options read from
//! the instance, new alerts routed to the policy whose routing key is the incident's value (a
//! reference field's sys_id or a plain field's text), the source's own policy otherwise, and a
//! changed value re-routing an existing alert with escalation restarted at level 1.

use glidepath_tests::*;
use serde_json::{Value, json};
use servicenow_sim::NETWORK_GROUP_SYS_ID;

const DATABASE_GROUP_SYS_ID: &str = "d625dccec0a8016700a222a0f7900d06";
const HARDWARE_GROUP_SYS_ID: &str = "8a5055c9c61122780043563ef53438e3";

const FIELDS: &str =
    "query($id: ID!) { serviceNowFields(alertSourceId: $id) { name label type reference } }";
const OPTIONS: &str = "query($id: ID!, $field: String!) { \
    serviceNowReferenceOptions(alertSourceId: $id, field: $field) { sysId name } }";
const SET_FIELD: &str = "mutation($id: ID!, $field: String) { \
    setRoutingField(alertSourceId: $id, field: $field) { serviceNow { routingField } } }";
const REROUTE: &str = "mutation($id: ID!, $policy: ID!) { \
    rerouteAlert(id: $id, escalationPolicyId: $policy) { escalationPolicy { id } } }";

async fn connected() -> SimSetup {
    sim_setup(0, true).await
}

#[allow(async_fn_in_trait)]
trait Routing {
    async fn route_by(&self, field: Option<&str>);
    async fn policy_for(&self, routing_key: &str) -> (Value, String);
    async fn new_incident(&self, fields: &[(&str, &str)]) -> (String, Value);
}

impl Routing for SimSetup {
    async fn route_by(&self, field: Option<&str>) {
        let data = self
            .app
            .gql(
                &self.token,
                SET_FIELD,
                json!({ "id": self.source.id, "field": field }),
            )
            .await;
        assert_eq!(
            data["setRoutingField"]["serviceNow"]["routingField"].as_str(),
            field
        );
    }

    /// A policy with `routing_key` whose one level calls a new responder; (policy, user email).
    async fn policy_for(&self, routing_key: &str) -> (Value, String) {
        let email = unique_email("oncall");
        let user = self.app.create_user(&self.token, &email, "RESPONDER").await;
        let data = self
            .app
            .gql(
                &self.token,
                CREATE_POLICY_MUTATION,
                json!({
                    "name": format!("Policy {routing_key}"),
                    "routingKey": routing_key,
                    "timeout": 30,
                    "userIds": [id_of(&user)],
                }),
            )
            .await;
        (data["createEscalationPolicy"].clone(), email)
    }

    async fn new_incident(&self, fields: &[(&str, &str)]) -> (String, Value) {
        let mut all = vec![("short_description", "Switch sw-3 unreachable")];
        all.extend_from_slice(fields);
        let record = self
            .sim
            .state()
            .create_incident(&all)
            .expect("create the incident");
        let sys_id = record["sys_id"].clone();
        let alert = self
            .app
            .wait_for_incident_alert(&self.source.id, &sys_id, "the new alert", |_| true)
            .await;
        (sys_id, alert)
    }
}

fn emails(users: &Value) -> Vec<String> {
    users
        .as_array()
        .map(|a| a.iter().map(|u| str_field(u, "email")).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn fields_come_from_incident_and_task_with_incident_winning_sorted_by_label() {
    let s = connected().await;
    let state = s.sim.state();
    let row = |fields: &[(&str, &str)]| {
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<servicenow_sim::Record>()
    };
    // incident's own dictionary entry for a task field, and a collection row (no element).
    state
        .insert(
            "sys_dictionary",
            &row(&[
                ("name", "incident"),
                ("element", "short_description"),
                ("column_label", "Incident summary"),
                ("internal_type", "string"),
            ]),
            "admin",
        )
        .expect("insert a dictionary row");
    state
        .insert(
            "sys_dictionary",
            &row(&[
                ("name", "incident"),
                ("element", ""),
                ("internal_type", "collection"),
            ]),
            "admin",
        )
        .expect("insert a collection row");

    let data = s
        .app
        .gql(&s.token, FIELDS, json!({ "id": s.source.id }))
        .await;
    let fields = data["serviceNowFields"].as_array().expect("a list").clone();
    let find = |name: &str| fields.iter().find(|f| f["name"] == name).cloned();
    assert_eq!(
        find("assignment_group"),
        Some(
            json!({ "name": "assignment_group", "label": "Assignment group", "type": "reference", "reference": "sys_user_group" })
        )
    );
    assert_eq!(
        find("category"),
        Some(
            json!({ "name": "category", "label": "Category", "type": "string", "reference": null })
        )
    );
    assert_eq!(
        find("short_description").map(|f| f["label"].clone()),
        Some(json!("Incident summary"))
    );
    let names: Vec<&str> = fields.iter().filter_map(|f| f["name"].as_str()).collect();
    assert!(!names.contains(&""), "{names:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "one entry per field: {names:?}");
    let labels: Vec<String> = fields
        .iter()
        .map(|f| str_field(f, "label").to_lowercase())
        .collect();
    let mut sorted = labels.clone();
    sorted.sort();
    assert_eq!(labels, sorted);
}

#[tokio::test]
async fn reference_options_list_the_referenced_records_by_name_across_pages() {
    let s = connected().await;
    let data = s
        .app
        .gql(
            &s.token,
            OPTIONS,
            json!({ "id": s.source.id, "field": "assignment_group" }),
        )
        .await;
    assert_eq!(
        data["serviceNowReferenceOptions"],
        json!([
            { "sysId": DATABASE_GROUP_SYS_ID, "name": "Database" },
            { "sysId": HARDWARE_GROUP_SYS_ID, "name": "Hardware" },
            { "sysId": NETWORK_GROUP_SYS_ID, "name": "Network" },
            { "sysId": "287ebd7da9fe198100f92cc8d1d2154e", "name": "Service Desk" },
        ])
    );

    // More groups than one page: every one is listed, read page by page.
    let state = s.sim.state();
    for n in 0..250 {
        let mut group = servicenow_sim::Record::new();
        group.insert("name".into(), format!("Team {n:03}"));
        state
            .insert("sys_user_group", &group, "admin")
            .expect("insert a group");
    }
    let before = state.requests().len();
    let data = s
        .app
        .gql(
            &s.token,
            OPTIONS,
            json!({ "id": s.source.id, "field": "assignment_group" }),
        )
        .await;
    let options = data["serviceNowReferenceOptions"].as_array().unwrap();
    assert_eq!(options.len(), 254);
    assert_eq!(options[4]["name"], "Team 000");
    let group_pages = state.requests()[before..]
        .iter()
        .filter(|r| r.path == "/api/now/table/sys_user_group")
        .count();
    assert!(group_pages >= 2, "read in pages: {group_pages}");

    for (field, code) in [
        ("category", "BAD_USER_INPUT"),
        ("no_such_field", "BAD_USER_INPUT"),
        ("Assignment Group", "BAD_USER_INPUT"),
    ] {
        let answer = s
            .app
            .graphql(
                Some(&s.token),
                OPTIONS,
                json!({ "id": s.source.id, "field": field }),
            )
            .await;
        assert_error_code(&answer, code);
    }
}

#[tokio::test]
async fn a_reference_field_routes_new_alerts_to_the_policy_with_that_sys_id() {
    let s = connected().await;
    s.route_by(Some("assignment_group")).await;
    let (network, network_oncall) = s.policy_for(NETWORK_GROUP_SYS_ID).await;

    let (_, alert) = s
        .new_incident(&[("assignment_group", NETWORK_GROUP_SYS_ID)])
        .await;
    assert_eq!(alert["escalationPolicy"]["id"], network["id"], "{alert}");
    assert_eq!(alert["assignedTo"]["email"], network_oncall.as_str());
    assert_eq!(alert["escalationLevel"], 1);
    let created = &log_entries_of(&alert, "CREATED")[0];
    assert!(
        str_field(created, "message").contains(&format!(
            "routed to {} by assignment_group = {NETWORK_GROUP_SYS_ID}",
            network["name"].as_str().unwrap()
        )),
        "{created}"
    );

    // A group no policy has, and no group at all: the source's own policy.
    let (_, other) = s
        .new_incident(&[("assignment_group", HARDWARE_GROUP_SYS_ID)])
        .await;
    assert_eq!(other["escalationPolicy"]["id"], s.source.policy_id.as_str());
    let (_, none) = s.new_incident(&[]).await;
    assert_eq!(none["escalationPolicy"]["id"], s.source.policy_id.as_str());

    // The Table API's reference object {link, value} routes too.
    let sys_id = new_sys_id();
    let mut event = incident(&sys_id, state::NEW, 0);
    event["assignment_group"] = json!({
        "link": format!("{}/api/now/table/sys_user_group/{NETWORK_GROUP_SYS_ID}", s.sim.url()),
        "value": NETWORK_GROUP_SYS_ID,
    });
    let (status, body) = s.app.post_event(&s.source.integration_key, &event).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let alert = s.app.alert(&str_field(&body, "alertId")).await;
    assert_eq!(alert["escalationPolicy"]["id"], network["id"], "{alert}");
}

#[tokio::test]
async fn a_plain_field_routes_by_its_text_and_falls_back_to_the_source_policy() {
    let s = connected().await;
    s.route_by(Some("category")).await;
    let key = format!("storage-{}", &new_sys_id()[..8]);
    let (storage, oncall) = s.policy_for(&key).await;

    let (_, alert) = s.new_incident(&[("category", &key)]).await;
    assert_eq!(alert["escalationPolicy"]["id"], storage["id"], "{alert}");
    assert_eq!(alert["assignedTo"]["email"], oncall.as_str());

    let (_, other) = s.new_incident(&[("category", "software")]).await;
    assert_eq!(other["escalationPolicy"]["id"], s.source.policy_id.as_str());

    // Without a routing field, the value is ignored.
    s.route_by(None).await;
    let (_, unrouted) = s.new_incident(&[("category", &key)]).await;
    assert_eq!(
        unrouted["escalationPolicy"]["id"],
        s.source.policy_id.as_str()
    );
}

#[tokio::test]
async fn a_changed_routing_value_reroutes_the_alert_and_restarts_escalation() {
    let s = connected().await;
    s.route_by(Some("assignment_group")).await;
    let (network, network_oncall) = s.policy_for(NETWORK_GROUP_SYS_ID).await;
    let (database, database_oncall) = s.policy_for(DATABASE_GROUP_SYS_ID).await;
    let (sys_id, alert) = s
        .new_incident(&[("assignment_group", NETWORK_GROUP_SYS_ID)])
        .await;
    assert_eq!(alert["escalationPolicy"]["id"], network["id"]);

    s.sim
        .state()
        .update_incident(
            &sys_id,
            &[("assignment_group", DATABASE_GROUP_SYS_ID)],
            "beth.anglin",
        )
        .expect("reassign the incident");
    let moved = s
        .app
        .wait_for_incident_alert(&s.source.id, &sys_id, "the re-routed alert", |a| {
            a["escalationPolicy"]["id"] == database["id"]
        })
        .await;
    assert_eq!(moved["status"], "PENDING");
    assert_eq!(moved["escalationLevel"], 1);
    assert_eq!(moved["assignedTo"]["email"], database_oncall.as_str());
    assert_eq!(
        emails(&moved["responders"]),
        vec![network_oncall.clone(), database_oncall.clone()]
    );
    let rerouted = log_entries_of(&moved, "REROUTED");
    assert_eq!(rerouted.len(), 1, "{moved}");
    assert_eq!(rerouted[0]["actorKind"], "SERVICENOW");
    assert_eq!(rerouted[0]["actor"], "ServiceNow (beth.anglin)");
    let message = str_field(&rerouted[0], "message");
    assert!(
        message.contains(network["name"].as_str().unwrap())
            && message.contains(database["name"].as_str().unwrap())
            && message.contains("assignment_group"),
        "{message}"
    );
    let kinds: Vec<String> = log_kinds(&moved)
        .into_iter()
        .filter(|k| !k.starts_with("NOTIFI"))
        .collect();
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["REROUTED".to_string(), "ESCALATED".to_string()]
    );
    let escalated = log_entries_of(&moved, "ESCALATED");
    let last = str_field(escalated.last().unwrap(), "message");
    assert!(
        last.contains("level 1") && last.contains(&database_oncall),
        "{last}"
    );

    // A responder moves it back by hand; an update that leaves the group alone keeps it there.
    let alert_id = str_field(&moved, "id");
    s.app
        .gql(
            &s.token,
            REROUTE,
            json!({ "id": alert_id, "policy": network["id"] }),
        )
        .await;
    s.sim
        .state()
        .update_incident(
            &sys_id,
            &[("short_description", "Still down")],
            "beth.anglin",
        )
        .expect("update the incident");
    let deliveries = s
        .sim
        .state()
        .wait_for_deliveries(3, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(deliveries.len(), 3);
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == Some(200) || d.status == Some(201)),
        "{deliveries:?}"
    );
    let after = s.app.alert(&alert_id).await;
    assert_eq!(after["escalationPolicy"]["id"], network["id"], "{after}");

    // A group no policy routes on: no move.
    s.sim
        .state()
        .update_incident(
            &sys_id,
            &[("assignment_group", HARDWARE_GROUP_SYS_ID)],
            "beth.anglin",
        )
        .expect("reassign the incident");
    s.sim
        .state()
        .wait_for_deliveries(4, std::time::Duration::from_secs(10))
        .await;
    let after = s.app.alert(&alert_id).await;
    assert_eq!(after["escalationPolicy"]["id"], network["id"], "{after}");
    assert_eq!(log_entries_of(&after, "REROUTED").len(), 2, "{after}");
}

#[tokio::test]
async fn routing_field_names_are_checked_and_settings_need_an_admin_and_a_connection() {
    let s = connected().await;
    for bad in ["Assignment Group", "assignment-group", "1st", "a.b"] {
        let answer = s
            .app
            .graphql(
                Some(&s.token),
                SET_FIELD,
                json!({ "id": s.source.id, "field": bad }),
            )
            .await;
        assert_error_code(&answer, "BAD_USER_INPUT");
    }
    let data = s
        .app
        .gql(
            &s.token,
            "query($id: ID!) { alertSource(id: $id) { serviceNow { routingField } } }",
            json!({ "id": s.source.id }),
        )
        .await;
    assert!(data["alertSource"]["serviceNow"]["routingField"].is_null());

    let (_, responder) = s.app.create_responder().await;
    for (query, vars) in [
        (SET_FIELD, json!({ "id": s.source.id, "field": "category" })),
        (FIELDS, json!({ "id": s.source.id })),
        (
            OPTIONS,
            json!({ "id": s.source.id, "field": "assignment_group" }),
        ),
    ] {
        let answer = s.app.graphql(Some(&responder), query, vars).await;
        assert_error_code(&answer, "FORBIDDEN");
    }
    let unconnected = s.app.setup_source().await;
    for (query, vars) in [
        (
            SET_FIELD,
            json!({ "id": unconnected.id, "field": "category" }),
        ),
        (FIELDS, json!({ "id": unconnected.id })),
        (
            OPTIONS,
            json!({ "id": unconnected.id, "field": "assignment_group" }),
        ),
    ] {
        let answer = s.app.graphql(Some(&s.token), query, vars).await;
        assert_error_code(&answer, "NOT_FOUND");
    }
}
