//! `glidepath serve --demo`: the server with the simulator wired in. Creating an incident in the
//! simulator, as the printed instructions say, pages the demo admin.

use std::process::Stdio;
use std::time::Duration;

use glidepath_tests::*;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::test]
async fn demo_mode_wires_the_simulator_to_an_alert_source() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tokio::process::Command::new(binary_path())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
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
            let done = line.contains("/api/now/table/incident/SYS_ID");
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
