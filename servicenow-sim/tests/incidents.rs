mod common;

use common::{Sn, start};
use serde_json::{Value, json};

fn is_timestamp(s: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_generates_identity_and_defaults() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let (status, v) = sn
        .post_json(
            "/api/now/table/incident",
            json!({"short_description": "disk full"}),
        )
        .await;
    assert_eq!(status, 201);
    let r = &v["result"];
    let sys_id = r["sys_id"].as_str().unwrap();
    assert_eq!(sys_id.len(), 32);
    assert!(sys_id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(r["number"], "INC0010001");
    assert_eq!(r["state"], "1");
    assert_eq!(r["incident_state"], "1");
    assert_eq!(r["priority"], "5");
    assert_eq!(r["sys_mod_count"], "0");
    assert_eq!(r["sys_created_by"], "glidepath");
    assert!(is_timestamp(r["sys_created_on"].as_str().unwrap()));
    let (_, v) = sn
        .post_json(
            "/api/now/table/incident",
            json!({"short_description": "second"}),
        )
        .await;
    assert_eq!(v["result"]["number"], "INC0010002");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priority_follows_impact_and_urgency_and_is_read_only() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let id = sn
        .create_incident(json!({"impact": "2", "urgency": "2", "priority": "1"}))
        .await;
    assert_eq!(
        sim.state().incident(&id).unwrap()["priority"],
        "3",
        "a written priority is ignored on insert"
    );
    let path = format!("/api/now/table/incident/{id}");
    let table = [
        ("1", "1", "1"),
        ("1", "2", "2"),
        ("2", "1", "2"),
        ("1", "3", "3"),
        ("2", "2", "3"),
        ("3", "1", "3"),
        ("2", "3", "4"),
        ("3", "2", "4"),
        ("3", "3", "5"),
    ];
    for (impact, urgency, priority) in table {
        let (status, v) = sn
            .patch_json(&path, json!({"impact": impact, "urgency": urgency}))
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            v["result"]["priority"], priority,
            "impact {impact} urgency {urgency}"
        );
    }
    let before = sim.state().incident(&id).unwrap();
    let (status, v) = sn.patch_json(&path, json!({"priority": "1"})).await;
    assert_eq!(status, 200);
    assert_eq!(v["result"]["priority"], "5");
    let after = sim.state().incident(&id).unwrap();
    assert_eq!(before, after, "an ignored write is not an update");
    // Raising priority the way a client has to: through impact and urgency.
    let (_, v) = sn
        .patch_json(&path, json!({"impact": 1, "urgency": 1}))
        .await;
    assert_eq!(v["result"]["priority"], "1");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_track_state_mod_count_and_user() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let id = sim
        .state()
        .create_incident(&[("short_description", "x")])
        .unwrap()["sys_id"]
        .clone();
    assert_eq!(
        sim.state().incident(&id).unwrap()["sys_updated_by"],
        "admin"
    );
    let path = format!("/api/now/table/incident/{id}");
    let (_, v) = sn.patch_json(&path, json!({"state": "2"})).await;
    let r = &v["result"];
    assert_eq!(r["state"], "2");
    assert_eq!(r["incident_state"], "2");
    assert_eq!(r["sys_mod_count"], "1");
    assert_eq!(r["sys_updated_by"], "glidepath");
    assert!(is_timestamp(r["sys_updated_on"].as_str().unwrap()));
    let (_, v) = sn
        .patch_json(&path, json!({"incident_state": "3", "hold_reason": "1"}))
        .await;
    assert_eq!(v["result"]["state"], "3");
    assert_eq!(v["result"]["sys_mod_count"], "2");
    let resp = sn
        .client
        .put(format!("{}{path}", sn.base))
        .basic_auth(common::USER, Some(common::PASSWORD))
        .json(&json!({"state": "2", "sys_mod_count": "99", "unknown_field": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["result"]["sys_mod_count"], "3");
    assert!(v["result"].get("unknown_field").is_none());
    let r = sim
        .state()
        .update_incident(
            &id,
            &[("assigned_to", "6816f79cc0a8016401c5a33be04be441")],
            "beth.anglin",
        )
        .unwrap();
    assert_eq!(r["sys_updated_by"], "beth.anglin");
    assert_eq!(r["sys_mod_count"], "4");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolving_needs_close_code_and_notes() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let id = sn.create_incident(json!({"short_description": "x"})).await;
    let path = format!("/api/now/table/incident/{id}");
    let (status, v) = sn.patch_json(&path, json!({"state": "6"})).await;
    assert_eq!(status, 400);
    assert_eq!(v["status"], "failure");
    assert_eq!(v["error"]["message"], "Data Policy Exception");
    assert!(
        v["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("Resolution code")
    );
    let (status, v) = sn
        .patch_json(
            &path,
            json!({"state": "6", "close_code": "Solved (Permanently)"}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        v["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("Resolution notes")
    );
    assert_eq!(
        sim.state().incident(&id).unwrap()["state"],
        "1",
        "a rejected update changes nothing"
    );
    assert_eq!(sim.state().incident(&id).unwrap()["sys_mod_count"], "0");
    let (status, v) = sn
        .patch_json(
            &format!("{path}?sysparm_exclude_reference_link=true"),
            json!({"state": "6", "close_code": "Solved (Permanently)", "close_notes": "Replaced faulty line card."}),
        )
        .await;
    assert_eq!(status, 200);
    let r = &v["result"];
    assert_eq!(r["state"], "6");
    assert_eq!(r["incident_state"], "6");
    assert_eq!(r["resolved_by"], servicenow_sim::GLIDEPATH_USER_SYS_ID);
    assert!(is_timestamp(r["resolved_at"].as_str().unwrap()));
    assert_eq!(r["active"], "true");
    let (status, v) = sn.patch_json(&path, json!({"state": "7"})).await;
    assert_eq!(status, 200);
    assert_eq!(v["result"]["active"], "false");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_fields_append_entries() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let id = sn
        .create_incident(json!({"short_description": "x", "comments": "opened by monitoring"}))
        .await;
    let path = format!("/api/now/table/incident/{id}");
    let (status, v) = sn
        .patch_json(
            &path,
            json!({"work_notes": "Acknowledged in Glidepath by beth"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["result"]["work_notes"], "");
    assert_eq!(
        v["result"]["sys_mod_count"], "1",
        "a journal entry is an update"
    );
    sn.patch_json(&path, json!({"comments": "Resolved: line card replaced"}))
        .await;
    let journal = sim.state().journal(&id);
    let entries: Vec<(&str, &str)> = journal
        .iter()
        .map(|r| (r["element"].as_str(), r["value"].as_str()))
        .collect();
    assert_eq!(
        entries,
        [
            ("comments", "opened by monitoring"),
            ("work_notes", "Acknowledged in Glidepath by beth"),
            ("comments", "Resolved: line card replaced")
        ]
    );
    assert!(
        journal
            .iter()
            .all(|r| r["name"] == "incident" && r["element_id"] == id)
    );
    assert_eq!(journal[1]["sys_created_by"], "glidepath");
    assert!(is_timestamp(&journal[1]["sys_created_on"]));
    let (_, v) = sn
        .get_json(&format!("{path}?sysparm_fields=work_notes,comments"))
        .await;
    assert_eq!(v["result"], json!({"work_notes": "", "comments": ""}));
    let (_, v) = sn
        .get_json(&format!(
            "/api/now/table/sys_journal_field?sysparm_query=element_id={id}^element=work_notes"
        ))
        .await;
    assert_eq!(v["result"][0]["value"], "Acknowledged in Glidepath by beth");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_log_counts_patches() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let id = sn.create_incident(json!({"short_description": "x"})).await;
    let path = format!("/api/now/table/incident/{id}");
    sn.patch_json(&path, json!({"state": "2"})).await;
    sn.patch_json(&path, json!({"work_notes": "hi"})).await;
    sn.get_json(&path).await;
    assert_eq!(sim.state().patch_count(), 2);
    let log = sim.state().requests();
    let patches: Vec<_> = log.iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches[0].path, path);
    assert_eq!(patches[0].user.as_deref(), Some("glidepath"));
    assert_eq!(patches[0].body, Some(json!({"state": "2"})));
    assert_eq!(patches[0].status, Some(200));
    let over_http: Value = sn
        .client
        .get(format!("{}/__sim/requests", sn.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http.as_array().unwrap().len(), log.len());
    sim.stop().await;
}
