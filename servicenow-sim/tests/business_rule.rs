mod common;

use std::time::Duration;

use common::{Receiver, Sn, start_with};
use serde_json::{Value, json};
use servicenow_sim::Config;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_fixture_shaped_records_on_insert_and_update() {
    let receiver = Receiver::start(201).await;
    let sim = start_with(Config {
        webhooks: vec![receiver.url.clone()],
        ..Config::default()
    })
    .await;
    let sn = Sn::new(&sim);
    let state = sim.state();
    let created = state
        .create_incident(&[
            ("short_description", "Core router rtr-fra-01 packet loss"),
            ("impact", "1"),
            ("urgency", "1"),
            ("assignment_group", "8a4dde73c6112278017a6a4baf547aa7"),
            ("contact_type", "monitoring"),
        ])
        .unwrap();
    let id = created["sys_id"].clone();
    state
        .update_incident(
            &id,
            &[
                ("state", "2"),
                ("assigned_to", servicenow_sim::BETH_ANGLIN_SYS_ID),
            ],
            "beth.anglin",
        )
        .unwrap();
    sn.patch_json(
        &format!("/api/now/table/incident/{id}"),
        json!({"work_notes": "seen"}),
    )
    .await;
    sn.patch_json(
        &format!("/api/now/table/incident/{id}"),
        json!({"state": "6", "close_code": "Solved (Permanently)", "close_notes": "Replaced faulty line card."}),
    )
    .await;

    let got = receiver.wait_for(4).await;
    assert_eq!(got.len(), 4);
    let new = fixture("incident-new.json");
    for r in &got {
        assert_eq!(r.content_type.as_deref(), Some("application/json"));
        assert_eq!(keys(&r.body), keys(&new), "same fields as the fixture");
        for (k, v) in r.body.as_object().unwrap() {
            assert!(v.is_string() || v.is_null(), "{k} is {v}");
            if let Some(s) = v.as_str() {
                assert!(!s.is_empty(), "{k}: empty values post as null");
            }
        }
        assert_eq!(r.body["server_url"], format!("{}/", sim.url()));
        assert_eq!(r.body["sys_id"], id.as_str());
        assert_eq!(r.body["work_notes"], Value::Null);
    }
    // Deliveries are spawned per change, so compare them by modification count, not arrival order.
    let mut bodies: Vec<Value> = got.iter().map(|r| r.body.clone()).collect();
    bodies.sort_by_key(|b| b["sys_mod_count"].as_str().unwrap().parse::<u32>().unwrap());
    let counts: Vec<&str> = bodies
        .iter()
        .map(|b| b["sys_mod_count"].as_str().unwrap())
        .collect();
    assert_eq!(counts, ["0", "1", "2", "3"]);
    assert_eq!(bodies[0]["state"], "1");
    assert_eq!(bodies[0]["priority"], "1");
    assert_eq!(bodies[0]["sys_updated_by"], "admin");
    assert_eq!(bodies[0]["close_code"], Value::Null);
    assert_eq!(bodies[1]["state"], "2");
    assert_eq!(bodies[1]["incident_state"], "2");
    assert_eq!(bodies[1]["sys_updated_by"], "beth.anglin");
    assert_eq!(bodies[1]["assigned_to"], servicenow_sim::BETH_ANGLIN_SYS_ID);
    assert_eq!(bodies[2]["sys_updated_by"], "glidepath");
    let resolved = &bodies[3];
    assert_eq!(resolved["state"], "6");
    assert_eq!(resolved["close_code"], "Solved (Permanently)");
    assert!(resolved["resolved_at"].is_string());
    assert_eq!(keys(resolved), keys(&fixture("incident-resolved.json")));

    let deliveries = state.wait_for_deliveries(4, Duration::from_secs(5)).await;
    assert_eq!(deliveries.len(), 4);
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == Some(201) && d.error.is_none() && d.url == receiver.url)
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_change_no_post_and_failures_are_recorded_without_retry() {
    let good = Receiver::start(500).await;
    // A port nobody listens on: bind then drop to get one.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    };
    let sim = start_with(Config {
        webhooks: vec![good.url.clone(), dead.clone()],
        ..Config::default()
    })
    .await;
    let sn = Sn::new(&sim);
    let id = sn.create_incident(json!({"short_description": "x"})).await;
    let deliveries = sim
        .state()
        .wait_for_deliveries(2, Duration::from_secs(5))
        .await;
    assert_eq!(deliveries.len(), 2);
    let to_good = deliveries.iter().find(|d| d.url == good.url).unwrap();
    assert_eq!(to_good.status, Some(500));
    let to_dead = deliveries.iter().find(|d| d.url == dead).unwrap();
    assert!(to_dead.status.is_none() && to_dead.error.is_some());

    // Writing the values a record already has is not an update, so the rule does not run.
    sn.patch_json(
        &format!("/api/now/table/incident/{id}"),
        json!({"short_description": "x", "priority": "1"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sim.state().deliveries().len(),
        2,
        "no retry and no post for a no-op"
    );
    assert_eq!(good.received().len(), 1);

    sim.state().set_webhooks(vec![]);
    sn.patch_json(
        &format!("/api/now/table/incident/{id}"),
        json!({"state": "2"}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sim.state().deliveries().len(), 2);
    let over_http: Value = sn
        .client
        .get(format!("{}/__sim/deliveries", sn.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http.as_array().unwrap().len(), 2);
    sim.stop().await;
}

#[tokio::test]
async fn delayed_rule_posts_after_the_api_answer() {
    let receiver = Receiver::start(201).await;
    let sim = start_with(Config {
        webhooks: vec![receiver.url.clone()],
        business_rule_delay: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let sn = Sn::new(&sim);
    sn.create_incident(json!({"short_description": "x"})).await;
    assert!(receiver.received().is_empty(), "the API answer comes first");
    assert_eq!(receiver.wait_for(1).await.len(), 1);
    sim.stop().await;
}
