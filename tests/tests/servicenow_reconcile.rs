//! The reconciliation poll: an incident whose webhook never arrived (the simulator's business
//! rule off) still becomes an alert, and its later changes still apply, through the webhook's own
//! lifecycle code; a poll with nothing new is one request; an old backlog is not paged; a dead
//! instance holds up no other connection; several processes share the polling.

use std::time::Duration;

use glidepath_tests::*;
use serde_json::json;
use servicenow_sim::{Faults, RequestRecord, RunningSimulator, Simulator};

const POLL_WAIT: Duration = Duration::from_secs(15);

fn incident_reads(sim: &RunningSimulator) -> Vec<RequestRecord> {
    sim.state()
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/api/now/table/incident")
        .collect()
}

fn decoded(query: &str) -> String {
    query
        .replace("%3E", ">")
        .replace("%3D", "=")
        .replace("%5E", "^")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace('+', " ")
}

#[tokio::test]
async fn an_incident_whose_webhook_never_arrived_is_picked_up_by_the_poll() {
    let s = sim_setup(1, false).await;
    let key = format!("cat-{}", &new_sys_id()[..8]);
    let email = unique_email("oncall");
    let user = s.app.create_user(&s.token, &email, "RESPONDER").await;
    let policy = s
        .app
        .gql(
            &s.token,
            CREATE_POLICY_MUTATION,
            json!({ "name": "Storage", "routingKey": key, "timeout": 30, "userIds": [id_of(&user)] }),
        )
        .await["createEscalationPolicy"]
        .clone();
    s.app
        .gql(
            &s.token,
            "mutation($id: ID!) { setRoutingField(alertSourceId: $id, field: \"category\") { id } }",
            json!({ "id": s.source.id }),
        )
        .await;

    let record = s
        .sim
        .state()
        .create_incident(&[
            ("short_description", "Backup job failed"),
            ("impact", "1"),
            ("urgency", "1"),
            ("category", &key),
        ])
        .expect("create the incident");
    let sys_id = record["sys_id"].clone();
    assert!(s.sim.state().deliveries().is_empty(), "the webhook is off");

    let alert = eventually(POLL_WAIT, "the polled alert", || async {
        s.app.alert_for_incident(&s.source.id, &sys_id).await
    })
    .await;
    assert_eq!(alert["status"], "PENDING");
    assert_eq!(alert["priority"], "HIGH");
    assert_eq!(alert["summary"], "Backup job failed");
    assert_eq!(alert["ticket"]["number"], record["number"].as_str());
    assert_eq!(
        alert["ticket"]["url"],
        format!("{}/nav_to.do?uri=incident.do?sys_id={sys_id}", s.sim.url())
    );
    assert_eq!(alert["escalationPolicy"]["id"], policy["id"], "{alert}");
    assert_eq!(alert["assignedTo"]["email"], email.as_str());

    s.sim
        .state()
        .update_incident(&sys_id, &[("state", "2")], "beth.anglin")
        .expect("work the incident");
    let accepted = s
        .app
        .wait_for_incident_alert(&s.source.id, &sys_id, "the accepted alert", |a| {
            a["status"] == "ACCEPTED"
        })
        .await;
    let entry = &log_entries_of(&accepted, "ACCEPTED")[0];
    assert_eq!(entry["actor"], "ServiceNow (beth.anglin)");
    // Applied once: later polls re-read the overlap and change nothing.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = s
        .app
        .alert_for_incident(&s.source.id, &sys_id)
        .await
        .unwrap();
    assert_eq!(later["logEntries"], accepted["logEntries"]);

    let reads = incident_reads(&s.sim);
    let query = decoded(&reads[0].query);
    assert!(
        query.contains("sysparm_query=sys_updated_on>=")
            && query.contains("^ORDERBYsys_updated_on"),
        "{query}"
    );
    assert!(
        query.contains("category"),
        "the routing field is read: {query}"
    );
}

#[tokio::test]
async fn new_incidents_from_before_the_connection_are_not_paged() {
    let app = spawn_app_with_options(sim_options(1)).await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    let sim = Simulator::start(servicenow_sim::Config::default())
        .await
        .expect("start the simulator");
    let old = sim
        .state()
        .create_incident(&[("short_description", "Old backlog item")])
        .expect("create the incident");
    // ServiceNow keeps whole seconds: the connection must be configured in a later one.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.connect_to_sim(&token, &source.id, &sim.url()).await;
    let new = sim
        .state()
        .create_incident(&[("short_description", "Fresh outage")])
        .expect("create the incident");
    eventually(POLL_WAIT, "the new incident's alert", || async {
        app.alert_for_incident(&source.id, &new["sys_id"]).await
    })
    .await;
    assert!(
        app.alert_for_incident(&source.id, &old["sys_id"])
            .await
            .is_none(),
        "an incident created before the connection is not paged"
    );
    assert_eq!(app.alerts_total().await, 1);
}

#[tokio::test]
async fn a_poll_with_nothing_new_makes_one_request() {
    let s = sim_setup(2, false).await;
    eventually(POLL_WAIT, "the first poll", || async {
        (!incident_reads(&s.sim).is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(incident_reads(&s.sim).len(), 1, "one request per poll");
    eventually(POLL_WAIT, "the second poll", || async {
        (incident_reads(&s.sim).len() >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(incident_reads(&s.sim).len(), 2, "one request per poll");
    let other = s
        .sim
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.path != "/api/now/table/incident")
        .count();
    assert_eq!(other, 0, "nothing else is read");
    assert_eq!(s.app.alerts_total().await, 0);
}

#[tokio::test]
async fn a_dead_instance_holds_up_neither_other_connections_nor_the_webhook() {
    let dead = sim_setup(1, false).await;
    dead.sim.set_fault(Faults::latency(30_000));
    // A second source on the same server, connected to a healthy instance.
    let app = &dead.app;
    let source = app.setup_source().await;
    let healthy = Simulator::start(servicenow_sim::Config::default())
        .await
        .expect("start the simulator");
    app.connect_to_sim(&dead.token, &source.id, &healthy.url())
        .await;
    let record = healthy
        .state()
        .create_incident(&[("short_description", "Printer on fire")])
        .expect("create the incident");
    eventually(POLL_WAIT, "the healthy instance's alert", || async {
        app.alert_for_incident(&source.id, &record["sys_id"]).await
    })
    .await;
    let started = std::time::Instant::now();
    let (status, body) = app
        .post_event(
            &dead.source.integration_key,
            &incident(&new_sys_id(), state::NEW, 0),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(started.elapsed() < Duration::from_secs(2));
    let failed = app
        .wait_for_log("ServiceNow reconciliation poll failed", POLL_WAIT)
        .await
        .expect("the dead instance's poll times out and says so");
    assert!(failed.contains("did not answer within"), "{failed}");
}

#[tokio::test]
async fn two_processes_share_the_polling_of_a_connection() {
    let s = sim_setup(2, false).await;
    let sibling = s.app.spawn_sibling().await;
    eventually(POLL_WAIT, "the first poll", || async {
        (!incident_reads(&s.sim).is_empty()).then_some(())
    })
    .await;
    let first = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(6500)).await;
    let polls = incident_reads(&s.sim).len();
    // One poll, then one every 2 s at most (each ends by scheduling the next): 4 within 6.5 s,
    // whichever process takes it. Without the lease each process would poll on its own.
    assert!(
        (2..=4).contains(&polls),
        "{polls} polls in {:?}",
        first.elapsed()
    );
    let record = s
        .sim
        .state()
        .create_incident(&[("short_description", "Seen once")])
        .expect("create the incident");
    let alert = eventually(POLL_WAIT, "the polled alert", || async {
        sibling
            .alert_for_incident(&s.source.id, &record["sys_id"])
            .await
    })
    .await;
    assert_eq!(log_entries_of(&alert, "CREATED").len(), 1);
    assert_eq!(s.app.alerts_total().await, 1);
}
