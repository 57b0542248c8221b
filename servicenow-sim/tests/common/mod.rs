#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use serde_json::Value;
use servicenow_sim::{Config, RunningSimulator, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const USER: &str = "glidepath";
pub const PASSWORD: &str = "glidepath-secret";

pub async fn start() -> RunningSimulator {
    start_with(Config::default()).await
}

pub async fn start_with(config: Config) -> RunningSimulator {
    match Simulator::start(config).await {
        Ok(sim) => sim,
        Err(e) => panic!("simulator did not start: {e}"),
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub struct Sn {
    pub base: String,
    pub client: reqwest::Client,
}

impl Sn {
    pub fn new(sim: &RunningSimulator) -> Sn {
        Sn {
            base: sim.url(),
            client: client(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let resp = self.get(path).await;
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    pub async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .basic_auth(USER, Some(PASSWORD))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    pub async fn patch_json(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .client
            .patch(format!("{}{path}", self.base))
            .basic_auth(USER, Some(PASSWORD))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// Creates an incident over the API and returns its sys_id.
    pub async fn create_incident(&self, body: Value) -> String {
        let (status, v) = self
            .post_json(
                "/api/now/table/incident?sysparm_exclude_reference_link=true",
                body,
            )
            .await;
        assert_eq!(status, 201, "{v}");
        v["result"]["sys_id"].as_str().unwrap().to_string()
    }
}

/// One POST received by the webhook receiver.
#[derive(Debug, Clone)]
pub struct Received {
    pub content_type: Option<String>,
    pub body: Value,
}

/// A minimal HTTP listener standing in for Glidepath's webhook endpoint.
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start(status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/api/v1/events/servicenow/key-1",
            listener.local_addr().unwrap()
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 8192];
                    let (head_end, content_length, content_type) = loop {
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..pos]).to_string();
                            let header = |name: &str| {
                                head.lines()
                                    .filter_map(|l| l.split_once(':'))
                                    .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                                    .map(|(_, v)| v.trim().to_string())
                            };
                            let len = header("content-length")
                                .and_then(|v| v.parse::<usize>().ok())
                                .unwrap_or(0);
                            break (pos + 4, len, header("content-type"));
                        }
                    };
                    while buf.len() < head_end + content_length {
                        let n = socket.read(&mut chunk).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
                    store.lock().unwrap().push(Received { content_type, body });
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        Receiver { url, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..500 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.received()
    }
}
