//! `glidepath serve --demo`: the server with the simulator wired in. Creating an incident in the
//! simulator, as the printed instructions say, pages the demo admin.

use std::process::Stdio;
use std::time::Duration;

use glidepath_tests::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A running `glidepath serve --demo` in `dir`, with what it printed up to its last instruction.
struct Demo {
    child: tokio::process::Child,
    printed: Vec<String>,
    app_url: String,
    sim_url: String,
}

async fn start_demo(dir: &std::path::Path) -> Demo {
    let mut child = tokio::process::Command::new(binary_path())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .env_remove("GLIDEPATH_DATABASE_URL")
        .env_remove("GLIDEPATH_ADMIN_PASSWORD")
        .env_remove("GLIDEPATH_ADMIN_EMAIL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start glidepath serve --demo");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            let done = line.contains("-X PATCH");
            printed.push(line);
            if done {
                break;
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the demo did not print its instructions: {printed:?}"
    );
    let find = |prefix: &str| {
        printed
            .iter()
            .find_map(|l| l.split(prefix).nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .map(|url| url.trim_end_matches('/').to_string())
            .unwrap_or_else(|| panic!("no {prefix} in {printed:?}"))
    };
    let app_url = find("listening on ");
    let sim_url = find("ServiceNow simulator: ");
    Demo {
        child,
        printed,
        app_url,
        sim_url,
    }
}

#[tokio::test]
async fn demo_mode_wires_the_simulator_to_an_alert_source() {
    let dir = tempfile::tempdir().unwrap();
    let Demo {
        mut child,
        printed,
        app_url,
        sim_url,
    } = start_demo(dir.path()).await;
    assert!(
        printed
            .iter()
            .any(|l| l.contains("password glidepath-demo")),
        "{printed:?}"
    );
    assert!(dir.path().join("glidepath-demo.db").exists());

    let client = reqwest::Client::new();
    let created = client
        .post(format!("{sim_url}/api/now/table/incident"))
        .basic_auth(SIM_USER, Some(SIM_PASSWORD))
        .json(&json!({ "short_description": "Core router down", "impact": "1", "urgency": "1" }))
        .send()
        .await
        .expect("create an incident in the simulator");
    assert_eq!(created.status(), StatusCode::CREATED);

    let graphql = format!("{app_url}/graphql");
    let login: serde_json::Value = client
        .post(&graphql)
        .json(&json!({ "query": "mutation { login(email: \"admin@localhost\", password: \"glidepath-demo\") { token } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = str_field(&login["data"]["login"], "token");
    let alert = eventually(Duration::from_secs(10), "the demo alert", || async {
        let answer: serde_json::Value = client
            .post(&graphql)
            .bearer_auth(&token)
            .json(&json!({ "query": "{ alerts { nodes { summary priority status } } }" }))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        answer["data"]["alerts"]["nodes"].get(0).cloned()
    })
    .await;
    assert_eq!(
        alert,
        json!({ "summary": "Core router down", "priority": "HIGH", "status": "PENDING" })
    );
    let _ = child.kill().await;
}

#[tokio::test]
async fn the_demo_writes_accept_work_notes_and_resolve_back_to_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let Demo {
        mut child,
        printed,
        app_url,
        sim_url,
    } = start_demo(dir.path()).await;
    // The demo prints how to read the incident (and its journal) back.
    let read_back = printed
        .iter()
        .find(|l| l.contains("/api/now/table/incident/SYS_ID?sysparm_fields="))
        .unwrap_or_else(|| panic!("no read-back curl in {printed:?}"))
        .clone();
    assert!(
        printed
            .iter()
            .any(|l| l.contains("/api/now/table/sys_journal_field?sysparm_query=element_id=SYS_ID")),
        "{printed:?}"
    );

    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{sim_url}/api/now/table/incident"))
        .basic_auth(SIM_USER, Some(SIM_PASSWORD))
        .json(&json!({ "short_description": "Core router down", "impact": "1", "urgency": "1" }))
        .send()
        .await
        .expect("create an incident in the simulator")
        .json()
        .await
        .unwrap();
    let sys_id = str_field(&created["result"], "sys_id");
    let graphql = format!("{app_url}/graphql");
    let gql = |query: String, variables: serde_json::Value, token: Option<String>| {
        let client = client.clone();
        let graphql = graphql.clone();
        async move {
            let mut request = client
                .post(&graphql)
                .json(&json!({ "query": query, "variables": variables }));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let login = gql(
        "mutation { login(email: \"admin@localhost\", password: \"glidepath-demo\") { token } }"
            .into(),
        json!({}),
        None,
    )
    .await;
    let token = str_field(&login["data"]["login"], "token");
    let alert_id = eventually(Duration::from_secs(10), "the demo alert", || async {
        let answer = gql(
            "{ alerts { nodes { id } } }".into(),
            json!({}),
            Some(token.clone()),
        )
        .await;
        answer["data"]["alerts"]["nodes"][0]["id"]
            .as_str()
            .map(String::from)
    })
    .await;
    for mutation in [
        "mutation($id: ID!) { acceptAlert(id: $id) { id } }",
        "mutation($id: ID!) { addComment(alertId: $id, body: \"Rebooting the router\") { id } }",
        "mutation($id: ID!) { resolveAlert(id: $id, comment: \"Replaced the line card\") { id } }",
    ] {
        let answer = gql(
            mutation.into(),
            json!({ "id": alert_id }),
            Some(token.clone()),
        )
        .await;
        assert!(answer["errors"].is_null(), "{mutation}: {answer}");
    }

    // Read the incident back as the printed curl does.
    let url = read_back
        .split('\'')
        .nth(1)
        .unwrap_or_else(|| panic!("no quoted URL in {read_back}"))
        .replace("SYS_ID", &sys_id);
    let incident = eventually(
        Duration::from_secs(15),
        "the resolve in ServiceNow",
        || async {
            let answer: serde_json::Value = client
                .get(&url)
                .basic_auth(SIM_USER, Some(SIM_PASSWORD))
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (answer["result"]["state"] == "6").then(|| answer["result"].clone())
        },
    )
    .await;
    assert_eq!(incident["close_notes"], "Replaced the line card");
    assert!(
        incident["close_code"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );
    // The assignee maps to the simulator's user with the admin's e-mail.
    let users: serde_json::Value = client
        .get(format!(
            "{sim_url}/api/now/table/sys_user?sysparm_query=email=admin@localhost"
        ))
        .basic_auth(SIM_USER, Some(SIM_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let admin_sys_id = str_field(&users["result"][0], "sys_id");
    assert_eq!(incident["assigned_to"], admin_sys_id.as_str());
    let journal: serde_json::Value = client
        .get(format!(
            "{sim_url}/api/now/table/sys_journal_field?sysparm_query=element_id={sys_id}&sysparm_fields=element,value"
        ))
        .basic_auth(SIM_USER, Some(SIM_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        journal["result"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["element"] == "work_notes" && e["value"] == "Rebooting the router"),
        "{journal}"
    );
    let _ = child.kill().await;
}

#[tokio::test]
async fn demo_mode_refuses_a_listen_address_other_machines_reach() {
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(binary_path())
            .args(["serve", "--demo", "--listen", "0.0.0.0:0"])
            .current_dir(dir.path())
            .env_remove("GLIDEPATH_DATABASE_URL")
            .env_remove("GLIDEPATH_ADMIN_PASSWORD")
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("glidepath serve --demo exits")
    .expect("run glidepath serve --demo");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--demo listens on a loopback address only")
            && stderr.contains("0.0.0.0:0"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
    assert!(!dir.path().join("glidepath-demo.db").exists());
}
