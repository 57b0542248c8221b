//! What an alert takes from the incident and from its alert source.

use glidepath_tests::*;
use serde_json::{Value, json};

const FIXTURE_DESCRIPTION: &str = "Packet loss above 20% on core router rtr-fra-01 since 09:10 UTC. Customers in EU-West report timeouts.";

async fn create_from(app: &TestApp, source: &Source, event: &Value) -> Value {
    let (status, body) = app.post_event(&source.integration_key, event).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    app.alert(&str_field(&body, "alertId")).await
}

#[tokio::test]
async fn alert_fields_come_from_the_incident() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let alert = create_from(&app, &source, &fixture("incident-new.json")).await;

    assert_eq!(alert["summary"], FIXTURE_SHORT_DESCRIPTION, "{alert}");
    assert_eq!(alert["details"], FIXTURE_DESCRIPTION, "{alert}");
    assert_eq!(alert["alertKey"], FIXTURE_SYS_ID, "{alert}");
    assert_eq!(alert["priority"], "HIGH", "{alert}");
    let ticket = &alert["ticket"];
    assert_eq!(ticket["sysId"], FIXTURE_SYS_ID, "{alert}");
    assert_eq!(ticket["number"], FIXTURE_NUMBER, "{alert}");
    assert_eq!(ticket["state"], 1, "{alert}");
    assert_eq!(
        ticket["url"],
        "https://dev184512.service-now.com/nav_to.do?uri=incident.do?sys_id=9d385017c611228701d22104cc95c371",
        "{alert}"
    );
}

#[tokio::test]
async fn alert_takes_policy_and_source_from_its_alert_source() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    // A second source on another policy makes sure the alert did not pick just any policy.
    let other = app.setup_source().await;
    let alert = create_from(&app, &source, &fixture("incident-new.json")).await;

    assert_eq!(alert["alertSource"]["id"], source.id.as_str(), "{alert}");
    assert_eq!(
        alert["alertSource"]["name"],
        source.name.as_str(),
        "{alert}"
    );
    assert_eq!(
        alert["escalationPolicy"],
        json!({
            "id": source.policy_id,
            "name": source.policy_name,
            "routingKey": source.policy_routing_key,
        }),
        "{alert}"
    );
    assert_ne!(alert["escalationPolicy"]["id"], other.policy_id.as_str());
}

#[tokio::test]
async fn summary_falls_back_to_number_when_short_description_is_null() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let mut event = incident(&new_sys_id(), state::NEW, 0);
    event["short_description"] = Value::Null;
    let alert = create_from(&app, &source, &event).await;
    assert_eq!(alert["summary"], FIXTURE_NUMBER, "{alert}");
}

#[tokio::test]
async fn summary_falls_back_to_number_when_short_description_is_empty() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let mut event = incident(&new_sys_id(), state::NEW, 0);
    event["short_description"] = json!("");
    let alert = create_from(&app, &source, &event).await;
    assert_eq!(alert["summary"], FIXTURE_NUMBER, "{alert}");
}

#[tokio::test]
async fn summary_falls_back_to_number_when_short_description_is_missing() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let mut event = incident(&new_sys_id(), state::NEW, 0);
    event.as_object_mut().unwrap().remove("short_description");
    let alert = create_from(&app, &source, &event).await;
    assert_eq!(alert["summary"], FIXTURE_NUMBER, "{alert}");
}

#[tokio::test]
async fn ticket_url_follows_the_event_server_url() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let sys_id = new_sys_id();
    let mut event = incident(&sys_id, state::NEW, 0);
    event["server_url"] = json!("https://acme.service-now.com/");
    let alert = create_from(&app, &source, &event).await;
    assert_eq!(
        alert["ticket"]["url"],
        format!("https://acme.service-now.com/nav_to.do?uri=incident.do?sys_id={sys_id}"),
        "{alert}"
    );
    assert_eq!(alert["alertKey"], sys_id.as_str());
}

#[tokio::test]
async fn alert_has_no_comments_and_is_assigned_to_level_one_when_created() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let alert = create_from(&app, &source, &fixture("incident-new.json")).await;
    assert_eq!(alert["comments"], json!([]), "{alert}");
    // The source's policy has one level: the admin.
    assert_eq!(alert["assignedTo"]["email"], ADMIN_EMAIL, "{alert}");
}

#[tokio::test]
async fn ticket_state_follows_later_events() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (sys_id, alert_id) = app.create_alert(&source).await;
    for (state, mod_count) in [
        (state::ON_HOLD, 1),
        (state::IN_PROGRESS, 2),
        (state::CLOSED, 3),
    ] {
        let (status, body) = app
            .post_event(
                &source.integration_key,
                &incident(&sys_id, state, mod_count),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(app.alert(&alert_id).await["ticket"]["state"], json!(state));
    }
}
