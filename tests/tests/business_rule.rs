//! The ServiceNow business rule an alert source hands out: it must be valid JavaScript and,
//! run against mocked Glide APIs, post an incident the webhook turns into an alert.

use glidepath_tests::business_rule::*;
use glidepath_tests::*;
use serde_json::Value;

#[tokio::test]
async fn business_rule_script_calls_the_rest_message_api() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let script = source.business_rule_script.replace('\'', "\"");
    assert!(
        script.contains(&source.webhook_url),
        "script does not contain the webhook URL {}:\n{script}",
        source.webhook_url
    );
    for call in [
        "sn_ws.RESTMessageV2",
        "setEndpoint(",
        "setHttpMethod(\"post\")",
        "setRequestBody(",
        "execute",
    ] {
        assert!(script.contains(call), "script lacks {call}:\n{script}");
    }
}

#[tokio::test]
async fn business_rule_script_is_valid_javascript() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let dir = tempfile::tempdir().unwrap();
    let rule = write_rule(dir.path(), &source.business_rule_script);
    let output = tokio::process::Command::new(node())
        .arg("--check")
        .arg(&rule)
        .output()
        .await
        .expect("run node --check");
    assert!(
        output.status.success(),
        "node --check failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        source.business_rule_script
    );
}

#[tokio::test]
async fn business_rule_posts_incidents_that_drive_the_alert() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let dir = tempfile::tempdir().unwrap();
    let rule = write_rule(dir.path(), &source.business_rule_script);
    let sys_id = new_sys_id();

    let new = incident(&sys_id, state::NEW, 0);
    let request = run_rule(dir.path(), &rule, &new).await;
    assert_eq!(request["endpoint"], source.webhook_url.as_str());
    assert!(
        request["method"]
            .as_str()
            .is_some_and(|m| m.eq_ignore_ascii_case("post")),
        "{request}"
    );
    assert!(
        header(&request, "content-type").is_some_and(|v| v.starts_with("application/json")),
        "rule must send JSON: {request}"
    );
    let body: Value = serde_json::from_str(&str_field(&request, "body")).expect("JSON body");
    for field in [
        "sys_id",
        "state",
        "sys_mod_count",
        "number",
        "short_description",
        "description",
        "priority",
        "sys_updated_by",
        "server_url",
    ] {
        assert_eq!(body[field], new[field], "{field} in {body}");
    }

    let (status, response) = deliver(&app, &request).await;
    assert_eq!(status, StatusCode::CREATED, "{response}");
    assert_eq!(response["outcome"], "created", "{response}");
    let alert_id = str_field(&response, "alertId");
    let alert = app.alert(&alert_id).await;
    assert_eq!(alert["summary"], FIXTURE_SHORT_DESCRIPTION, "{alert}");
    assert_eq!(alert["alertSource"]["id"], source.id.as_str(), "{alert}");
    assert_eq!(
        alert["ticket"]["url"],
        format!("{FIXTURE_SERVER_URL}nav_to.do?uri=incident.do?sys_id={sys_id}"),
        "{alert}"
    );

    let in_progress = incident(&sys_id, state::IN_PROGRESS, 1);
    let request = run_rule(dir.path(), &rule, &in_progress).await;
    let (status, response) = deliver(&app, &request).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(response["outcome"], "accepted", "{response}");

    let resolved = incident(&sys_id, state::RESOLVED, 2);
    let request = run_rule(dir.path(), &rule, &resolved).await;
    let (status, response) = deliver(&app, &request).await;
    assert_eq!(status, StatusCode::OK, "{response}");
    assert_eq!(response["outcome"], "resolved", "{response}");
    assert_eq!(app.alert(&alert_id).await["status"], "RESOLVED");
}

#[tokio::test]
async fn business_rule_of_each_source_targets_its_own_webhook() {
    let app = spawn_app().await;
    let first = app.setup_source().await;
    let second = app.setup_source().await;
    assert!(first.business_rule_script.contains(&first.webhook_url));
    assert!(!first.business_rule_script.contains(&second.integration_key));
    assert!(second.business_rule_script.contains(&second.webhook_url));

    let dir = tempfile::tempdir().unwrap();
    let rule = write_rule(dir.path(), &second.business_rule_script);
    let request = run_rule(dir.path(), &rule, &incident(&new_sys_id(), state::NEW, 0)).await;
    let (status, response) = deliver(&app, &request).await;
    assert_eq!(status, StatusCode::CREATED, "{response}");
    let alert = app.alert(&str_field(&response, "alertId")).await;
    assert_eq!(alert["alertSource"]["id"], second.id.as_str(), "{alert}");
}
