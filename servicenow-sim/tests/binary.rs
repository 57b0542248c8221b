use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_its_address_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_servicenow-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--webhook",
            "http://127.0.0.1:9/a",
            "--webhook",
            "http://127.0.0.1:9/b",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .map(str::to_string);
    let result = match &url {
        Some(url) => reqwest::Client::new()
            .get(format!("{url}/api/now/table/sys_user_group"))
            .basic_auth("glidepath", Some("glidepath-secret"))
            .send()
            .await
            .map(|r| r.status().as_u16()),
        None => Ok(0),
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        url.as_deref()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
        "printed {line:?}"
    );
    assert_eq!(result.unwrap(), 200);
}
