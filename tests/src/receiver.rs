//! An HTTP receiver that keeps the bodies the server posts to webhook notification targets.

use std::sync::{Arc, Mutex};

use serde_json::Value;

/// One request as it arrived: its headers (names lower-cased) and its body, byte for byte.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP server that keeps every request body (as JSON) and answers with a fixed status.
pub struct HttpReceiver {
    pub port: u16,
    bodies: Arc<Mutex<Vec<Value>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl HttpReceiver {
    pub async fn start(status: u16) -> HttpReceiver {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the HTTP receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&bodies);
        let raw_store = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                let raw_store = Arc::clone(&raw_store);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    // Headers first, then as many body bytes as Content-Length says.
                    let body_start = loop {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..body_start]).to_ascii_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    while buf.len() < body_start + length {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body = &buf[body_start..buf.len().min(body_start + length)];
                    let headers = String::from_utf8_lossy(&buf[..body_start])
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                        .collect();
                    raw_store.lock().unwrap().push(Received {
                        headers,
                        body: String::from_utf8_lossy(body).into_owned(),
                    });
                    store
                        .lock()
                        .unwrap()
                        .push(serde_json::from_slice(body).unwrap_or_else(|_| {
                            Value::String(String::from_utf8_lossy(body).into_owned())
                        }));
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        HttpReceiver {
            port,
            bodies,
            received,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Every request with its headers and raw body, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}
