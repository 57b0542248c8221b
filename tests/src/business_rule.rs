//! The business rule, run under node against mocked Glide APIs (tests/js/run-business-rule.js).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{StatusCode, TestApp, new_sys_id, str_field};

pub fn node() -> PathBuf {
    let from_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("node"))
            .find(|candidate| candidate.is_file())
    });
    from_path.unwrap_or_else(|| PathBuf::from("/usr/bin/node"))
}

pub fn runner() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("js")
        .join("run-business-rule.js")
}

pub fn write_rule(dir: &Path, script: &str) -> PathBuf {
    let path = dir.join("business-rule.js");
    std::fs::write(&path, script).expect("write business rule");
    path
}

/// Runs the rule for `record` and returns the single REST request it made.
pub async fn run_rule(dir: &Path, rule: &Path, record: &Value) -> Value {
    let record_path = dir.join(format!("record-{}.json", new_sys_id()));
    std::fs::write(&record_path, serde_json::to_vec(record).unwrap()).unwrap();
    let output = tokio::process::Command::new(node())
        .arg(runner())
        .arg(rule)
        .arg(&record_path)
        .output()
        .await
        .expect("run node");
    assert!(
        output.status.success(),
        "business rule failed under node: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(rule).unwrap_or_default()
    );
    let captured: Value = serde_json::from_slice(&output.stdout).expect("runner output");
    let requests = captured["requests"].as_array().expect("requests");
    assert_eq!(requests.len(), 1, "expected one REST call: {captured}");
    requests[0].clone()
}

/// Sends what the rule would have sent, as ServiceNow would.
pub async fn deliver(app: &TestApp, request: &Value) -> (StatusCode, Value) {
    let method = str_field(request, "method").to_ascii_uppercase();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("HTTP method");
    let mut outgoing = app
        .client
        .request(method, str_field(request, "endpoint"))
        .body(str_field(request, "body"));
    for (name, value) in request["headers"].as_object().unwrap() {
        outgoing = outgoing.header(name.as_str(), value.as_str().unwrap());
    }
    let response = outgoing.send().await.expect("deliver captured request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub fn header<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request["headers"]
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| value.as_str())
}
