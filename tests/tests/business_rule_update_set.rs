//! The business rule as an update set: `AlertSource.businessRuleUpdateSet` is the XML that
//! ServiceNow's *Import Update Set from XML* accepts. The simulator imports it like an instance
//! does, installs the rule, and an incident created afterwards reaches Glidepath through it.

use glidepath_tests::*;
use serde_json::{Value, json};

const UPDATE_SET: &str =
    "query($id: ID!) { alertSource(id: $id) { businessRuleScript businessRuleUpdateSet } }";
const SET_AUTH: &str = "mutation($id: ID!, $input: WebhookAuthInput!) { \
    setWebhookAuth(alertSourceId: $id, input: $input) { webhookAuth { kind } } }";

async fn import(sim_url: &str, xml: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{sim_url}/__sim/update_sets"))
        .header("content-type", "application/xml")
        .body(xml.to_string())
        .send()
        .await
        .expect("upload the update set");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_imported_update_set_installs_the_rule_and_incidents_reach_glidepath() {
    let s = sim_setup(0, false).await;
    let (app, token, source) = (&s.app, &s.token, &s.source);
    // The webhook requires Basic credentials: the rule in the update set carries them.
    app.gql(
        token,
        SET_AUTH,
        json!({ "id": source.id, "input": { "kind": "BASIC", "username": "servicenow", "password": "update-set-pass-1" } }),
    )
    .await;
    let data = app.gql(token, UPDATE_SET, json!({ "id": source.id })).await;
    let xml = str_field(&data["alertSource"], "businessRuleUpdateSet");
    let script = str_field(&data["alertSource"], "businessRuleScript");
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        "{xml}"
    );
    for part in [
        "<unload unload_date=",
        "<sys_remote_update_set action=\"INSERT_OR_UPDATE\">",
        "<sys_update_xml action=\"INSERT_OR_UPDATE\">",
        "<type>Business Rule</type>",
        "<table>incident</table>",
        "&lt;record_update table=",
        "&lt;when&gt;async&lt;/when&gt;",
    ] {
        assert!(xml.contains(part), "{part} missing from {xml}");
    }
    // The payload is the text of its element, escaped, never elements of the update set.
    assert!(!xml.contains("<record_update"), "{xml}");

    let (status, body) = import(&s.sim.url(), &xml).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rule = &body["result"]["rules"][0];
    assert_eq!(rule["endpoint"], source.webhook_url.as_str());
    assert_eq!(
        rule["script"],
        script.as_str(),
        "the rule runs the same script"
    );
    assert_eq!(rule["name"], format!("Glidepath: {}", source.name));

    let record = s
        .sim
        .state()
        .create_incident(&[
            ("short_description", "Imported rule works"),
            ("impact", "1"),
            ("urgency", "1"),
        ])
        .expect("create an incident");
    let sys_id = record.get("sys_id").cloned().unwrap();
    let alert = app
        .wait_for_incident_alert(
            &source.id,
            &sys_id,
            "the alert the imported rule created",
            |_| true,
        )
        .await;
    assert_eq!(alert["summary"], "Imported rule works");
    assert_eq!(alert["priority"], "HIGH");

    // Importing the update set again (after a key rotation, say) replaces the rule: one post
    // per incident change, not two.
    let (status, _) = import(&s.sim.url(), &xml).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.sim.state().installed_rules().len(), 1);
}

#[tokio::test]
async fn only_admins_read_the_update_set() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (_, responder) = app.create_responder().await;
    let answer = app
        .graphql(
            Some(&responder),
            "query($id: ID!) { alertSource(id: $id) { name businessRuleUpdateSet } }",
            json!({ "id": source.id }),
        )
        .await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{answer}"
    );
    assert!(answer["data"]["alertSource"]["businessRuleUpdateSet"].is_null());
    assert_eq!(answer["data"]["alertSource"]["name"], source.name.as_str());
}

#[tokio::test]
async fn the_simulator_refuses_what_is_not_an_incident_rule() {
    let sim = servicenow_sim::Simulator::start(servicenow_sim::Config::default())
        .await
        .expect("start the simulator");
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let token = app.admin_token().await;
    let data = app
        .gql(&token, UPDATE_SET, json!({ "id": source.id }))
        .await;
    let xml = str_field(&data["alertSource"], "businessRuleUpdateSet");

    let (status, _) = import(&sim.url(), "<unload><nothing/></unload>").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = import(&sim.url(), "not xml at all <").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let before = xml.replace(
        "&lt;when&gt;async&lt;/when&gt;",
        "&lt;when&gt;before&lt;/when&gt;",
    );
    let (status, body) = import(&sim.url(), &before).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("when"), "{body}");
    assert!(sim.state().installed_rules().is_empty());
    sim.stop().await;
}
