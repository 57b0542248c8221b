mod common;

use common::{PASSWORD, Sn, USER, client, start, start_with};
use serde_json::{Value, json};
use servicenow_sim::Config;

fn values(result: &Value, field: &str) -> Vec<String> {
    result["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[field].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_is_required_and_checked() {
    let sim = start().await;
    let url = format!("{}/api/now/table/sys_user", sim.url());
    let expected = json!({
        "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
        "status": "failure"
    });
    let none = client().get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers().contains_key("www-authenticate"));
    assert_eq!(none.json::<Value>().await.unwrap(), expected);
    let wrong = client()
        .get(&url)
        .basic_auth(USER, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap(), expected);
    let garbage = client()
        .get(&url)
        .header("Authorization", "Basic !!!")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 401);
    let ok = client()
        .get(&url)
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_credentials_and_read_acl() {
    let sim = start_with(Config {
        user: "svc".into(),
        password: "pw".into(),
        denied_tables: vec!["sys_dictionary".into()],
        ..Config::default()
    })
    .await;
    let url = format!("{}/api/now/table/sys_dictionary", sim.url());
    let resp = client()
        .get(&url)
        .basic_auth("svc", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "failure");
    assert_eq!(body["error"]["message"], "User Not Authorized");
    let resp = client()
        .get(format!("{url}/d1c70000000000000000000000000001"))
        .basic_auth("svc", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = client()
        .get(format!("{}/api/now/table/sys_choice", sim.url()))
        .basic_auth("svc", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    sim.state().set_table_readable("sys_dictionary", true);
    sim.state().set_table_readable("sys_user", false);
    let resp = client()
        .get(&url)
        .basic_auth("svc", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client()
        .get(format!("{}/api/now/table/sys_user", sim.url()))
        .basic_auth("svc", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = client()
        .get(&url)
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_choices_dictionary_users_groups_services() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let (status, v) = sn
        .get_json("/api/now/table/sys_choice?sysparm_query=name=incident^element=priority^language=en^inactive=false^ORDERBYvalue&sysparm_fields=value,label")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        values(&v, "label"),
        [
            "1 - Critical",
            "2 - High",
            "3 - Moderate",
            "4 - Low",
            "5 - Planning"
        ]
    );
    assert_eq!(values(&v, "value"), ["1", "2", "3", "4", "5"]);
    assert_eq!(
        v["result"][0].as_object().unwrap().len(),
        2,
        "sysparm_fields limits the fields"
    );
    let (_, v) = sn
        .get_json("/api/now/table/sys_choice?sysparm_query=element=priority")
        .await;
    assert_eq!(
        v["result"].as_array().unwrap().len(),
        10,
        "one row per language"
    );
    let (_, v) = sn
        .get_json("/api/now/table/sys_choice?sysparm_query=element=state^language=en")
        .await;
    assert_eq!(values(&v, "value"), ["1", "2", "3", "6", "7", "8"]);

    let (_, v) = sn
        .get_json("/api/now/table/sys_dictionary?sysparm_query=name=incident^ORname=task")
        .await;
    let elements = values(&v, "element");
    for field in [
        "assignment_group",
        "business_service",
        "cmdb_ci",
        "category",
        "priority",
        "impact",
        "urgency",
        "short_description",
        "assigned_to",
    ] {
        assert!(
            elements.iter().any(|e| e == field),
            "{field} missing from {elements:?}"
        );
    }
    let (_, v) = sn
        .get_json("/api/now/table/sys_dictionary?sysparm_query=element=assignment_group^name=task")
        .await;
    assert_eq!(v["result"][0]["internal_type"], "reference");
    assert_eq!(v["result"][0]["reference"], "sys_user_group");

    let (_, v) = sn
        .get_json("/api/now/table/sys_user?sysparm_query=email=beth.anglin@example.com")
        .await;
    assert_eq!(v["result"][0]["sys_id"], "6816f79cc0a8016401c5a33be04be441");
    assert_eq!(v["result"][0]["user_name"], "beth.anglin");
    let (_, v) = sn
        .get_json("/api/now/table/sys_user?sysparm_query=user_name=glidepath")
        .await;
    assert_eq!(v["result"].as_array().unwrap().len(), 1);
    let (status, v) = sn
        .get_json("/api/now/table/sys_user_group/8a4dde73c6112278017a6a4baf547aa7")
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["result"]["name"], "Network");
    let (_, v) = sn.get_json("/api/now/table/cmdb_ci_service").await;
    assert!(v["result"].as_array().unwrap().len() >= 3);
    let (_, v) = sn
        .get_json("/api/now/table/service_offering?sysparm_exclude_reference_link=true")
        .await;
    assert!(v["result"][0]["parent"].is_string());
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_operators_ordering_and_paging() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let (_, v) = sn.get_json("/api/now/table/sys_user?sysparm_query=nameLIKEanglin^ORuser_name=admin^ORDERBYuser_name").await;
    assert_eq!(values(&v, "user_name"), ["admin", "beth.anglin"]);
    let (_, v) = sn.get_json("/api/now/table/sys_user?sysparm_query=active=true^ORDERBYDESCuser_name&sysparm_fields=user_name").await;
    let all = values(&v, "user_name");
    let mut sorted = all.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(all, sorted);

    let resp = sn.get("/api/now/table/sys_user?sysparm_query=ORDERBYuser_name&sysparm_limit=2&sysparm_offset=1").await;
    assert_eq!(
        resp.headers()["x-total-count"],
        all.len().to_string().as_str()
    );
    let page: Value = resp.json().await.unwrap();
    let mut asc = all.clone();
    asc.reverse();
    assert_eq!(values(&page, "user_name"), asc[1..3]);
    let resp = sn.get("/api/now/table/sys_user?sysparm_offset=100").await;
    assert_eq!(
        resp.headers()["x-total-count"],
        all.len().to_string().as_str()
    );
    assert_eq!(resp.json::<Value>().await.unwrap()["result"], json!([]));

    // sys_updated_on comparisons, the shape a poller uses.
    let first = sn
        .create_incident(json!({"short_description": "first"}))
        .await;
    sim.state()
        .update_incident(&first, &[("short_description", "first, edited")], "admin")
        .unwrap();
    let updated_on = sim.state().incident(&first).unwrap()["sys_updated_on"].clone();
    let q = format!("/api/now/table/incident?sysparm_query=sys_updated_on>={updated_on}");
    let (_, v) = sn.get_json(&q).await;
    assert_eq!(v["result"].as_array().unwrap().len(), 1);
    let q = format!("/api/now/table/incident?sysparm_query=sys_updated_on>{updated_on}");
    let (_, v) = sn.get_json(&q).await;
    assert_eq!(v["result"], json!([]));
    let (_, v) = sn
        .get_json("/api/now/table/incident?sysparm_query=sys_updated_on>2000-01-01 00:00:00")
        .await;
    assert_eq!(v["result"].as_array().unwrap().len(), 1);

    let (status, v) = sn
        .get_json("/api/now/table/sys_user?sysparm_limit=ten")
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["status"], "failure");
    let (status, v) = sn
        .get_json("/api/now/table/sys_user?sysparm_query=%3D%3D")
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["status"], "failure");
    let (status, v) = sn.get_json("/api/now/table/no_such_table").await;
    assert_eq!(status, 400);
    assert_eq!(v["error"]["message"], "Invalid table no_such_table");
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_record_and_not_found() {
    let sim = start().await;
    let sn = Sn::new(&sim);
    let (status, v) = sn
        .get_json("/api/now/table/incident/00000000000000000000000000000000")
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        v,
        json!({"error": {"message": "No Record found", "detail": "Record doesn't exist or ACL restricts the record retrieval"}, "status": "failure"})
    );
    let (status, _) = sn
        .patch_json(
            "/api/now/table/incident/00000000000000000000000000000000",
            json!({"state": "2"}),
        )
        .await;
    assert_eq!(status, 404);

    let id = sn.create_incident(json!({"short_description": "x", "assignment_group": "8a4dde73c6112278017a6a4baf547aa7"})).await;
    let (status, v) = sn.get_json(&format!("/api/now/table/incident/{id}")).await;
    assert_eq!(status, 200);
    // Reference fields carry a link unless the client opts out, as on a real instance.
    assert_eq!(
        v["result"]["assignment_group"]["value"],
        "8a4dde73c6112278017a6a4baf547aa7"
    );
    assert_eq!(
        v["result"]["assignment_group"]["link"],
        format!(
            "{}/api/now/table/sys_user_group/8a4dde73c6112278017a6a4baf547aa7",
            sim.url()
        )
    );
    let (_, v) = sn.get_json(&format!("/api/now/table/incident/{id}?sysparm_exclude_reference_link=true&sysparm_fields=assignment_group,number")).await;
    assert_eq!(
        v["result"],
        json!({"assignment_group": "8a4dde73c6112278017a6a4baf547aa7", "number": "INC0010001"})
    );
    let (_, v) = sn.get_json(&format!("/api/now/table/incident/{id}")).await;
    for (k, value) in v["result"].as_object().unwrap() {
        assert!(value.is_string() || value.is_object(), "{k} is {value}");
    }

    let (status, v) = sn
        .patch_json(
            &format!("/api/now/table/incident/{id}"),
            json!(["not", "an", "object"]),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(v["status"], "failure");
    let resp = client()
        .patch(format!("{}/api/now/table/incident/{id}", sim.url()))
        .basic_auth(USER, Some(PASSWORD))
        .header("Content-Type", "application/json")
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["status"], "failure");
    sim.stop().await;
}
