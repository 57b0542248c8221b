//! Spawning the real `glidepath` binary: `serve` processes on port 0 (sharing a test database
//! when asked), one-off subcommands, and what the processes print (logs, stdout, metrics).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

use crate::{StatusCode, TestDatabase, str_field};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct-horse-battery-staple";

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const CLI_TIMEOUT: Duration = Duration::from_secs(60);
const LISTENING_PREFIX: &str = "listening on ";

/// Server variables a developer may have exported; a test must never inherit them.
const SERVER_ENV: &[&str] = &[
    "GLIDEPATH_LISTEN",
    "GLIDEPATH_DATABASE_URL",
    "GLIDEPATH_PUBLIC_URL",
    "GLIDEPATH_ADMIN_EMAIL",
    "GLIDEPATH_ADMIN_PASSWORD",
    "GLIDEPATH_SECRET_KEY",
    "GLIDEPATH_SECRET_KEY_FILE",
    "GLIDEPATH_SECRET_KEY_PREVIOUS",
    "GLIDEPATH_TIME_SCALE",
    "GLIDEPATH_SMTP_URL",
    "GLIDEPATH_SMTP_FROM",
    "GLIDEPATH_SERVICENOW_HOSTS",
    "GLIDEPATH_ALLOW_INSECURE_SERVICENOW",
    "GLIDEPATH_ALLOW_INSECURE_OUTBOUND",
    "GLIDEPATH_WEBHOOK_HOSTS",
    "GLIDEPATH_WEBHOOK_TIMEOUT_MS",
    "GLIDEPATH_SMTP_ALLOW_PLAINTEXT_CREDENTIALS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "GLIDEPATH_SERVICENOW_TIMEOUT_MS",
    "GLIDEPATH_SERVICENOW_POLL_SECONDS",
    "GLIDEPATH_BODY_TIMEOUT_MS",
    "GLIDEPATH_MAX_CONNECTIONS",
    "GLIDEPATH_WORKERS",
    "GLIDEPATH_METRICS_TOKEN",
    "GLIDEPATH_GRAPHIQL",
    "GLIDEPATH_LOGIN_ATTEMPTS_PER_MINUTE",
    "GLIDEPATH_LOGIN_LOCKOUT_SECONDS",
    "GLIDEPATH_PASSWORD_HASH_WORKERS",
    "GLIDEPATH_PASSWORD_HASH_QUEUE",
    "GLIDEPATH_TRUSTED_PROXIES",
];

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Path of the server binary under test.
pub fn binary_path() -> PathBuf {
    if let Some(bin) = std::env::var_os("GLIDEPATH_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target"));
    let bin = target.join("debug").join("glidepath");
    assert!(
        bin.exists(),
        "{} does not exist; build it first: cargo build -p server",
        bin.display()
    );
    bin
}

#[derive(Clone, Debug)]
pub struct SpawnOptions {
    /// `None` leaves `GLIDEPATH_ADMIN_PASSWORD` unset so the server generates one.
    pub admin_password: Option<String>,
    pub rust_log: Option<String>,
    pub env: Vec<(String, String)>,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        SpawnOptions {
            admin_password: Some(ADMIN_PASSWORD.to_string()),
            rust_log: None,
            env: Vec::new(),
        }
    }
}

impl SpawnOptions {
    pub fn without_admin_password(mut self) -> Self {
        self.admin_password = None;
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }
}

/// Starts the server on a fresh database with the default options.
pub async fn spawn_app() -> TestApp {
    spawn_app_with_options(SpawnOptions::default()).await
}

pub async fn spawn_app_with_options(options: SpawnOptions) -> TestApp {
    let db = Arc::new(TestDatabase::create().await);
    spawn_app_with(db, options).await
}

/// Starts a server process on an existing database (shared with other processes).
pub async fn spawn_app_with(db: Arc<TestDatabase>, options: SpawnOptions) -> TestApp {
    TestApp::start(db, options).await
}

/// A running `glidepath serve` process.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    db: Arc<TestDatabase>,
    options: SpawnOptions,
    child: Child,
    log_path: PathBuf,
    extra_stdout: Arc<Mutex<Vec<String>>>,
    pub(crate) admin_token: OnceCell<String>,
}

impl TestApp {
    async fn start(db: Arc<TestDatabase>, options: SpawnOptions) -> TestApp {
        let log_path = db.next_log_path();
        // The server writes straight into the file, so `logs()` sees every line the server
        // flushed, with no copying thread lagging behind.
        let log_file = std::fs::File::create(&log_path).expect("create server log file");
        let mut cmd = Command::new(binary_path());
        cmd.arg("serve").current_dir(db.dir());
        for key in SERVER_ENV {
            cmd.env_remove(key);
        }
        let rust_log = options
            .rust_log
            .clone()
            .or_else(|| std::env::var("RUST_LOG").ok())
            .unwrap_or_else(|| "info".to_string());
        cmd.env("GLIDEPATH_LISTEN", "127.0.0.1:0")
            .env("GLIDEPATH_DATABASE_URL", db.url())
            .env("GLIDEPATH_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("RUST_LOG", rust_log)
            .env("NO_COLOR", "1")
            // Every test signs in from 127.0.0.1; tests of the per-address limit set it low.
            .env("GLIDEPATH_LOGIN_ATTEMPTS_PER_MINUTE", "100000");
        if let Some(password) = &options.admin_password {
            cmd.env("GLIDEPATH_ADMIN_PASSWORD", password);
        }
        for (key, value) in &options.env {
            cmd.env(key, value);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary_path().display()));

        let stdout = child.stdout.take().expect("piped stdout");
        let extra_stdout = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(stdout).lines();
        let early = Arc::clone(&extra_stdout);
        let wait_for_listening = async {
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => match line.trim_end().strip_prefix(LISTENING_PREFIX) {
                        Some(address) => return Ok(address.trim().to_string()),
                        None => early.lock().unwrap().push(line),
                    },
                    Ok(None) => return Err("stdout closed before the listening line".to_string()),
                    Err(e) => return Err(format!("reading stdout: {e}")),
                }
            }
        };
        let address = match tokio::time::timeout(STARTUP_TIMEOUT, wait_for_listening).await {
            Ok(Ok(address)) => address,
            Ok(Err(why)) => startup_failure(&mut child, &log_path, &why).await,
            Err(_) => startup_failure(&mut child, &log_path, "timed out after 30 s").await,
        };
        let address = address.trim_end_matches('/').to_string();
        let port = address
            .rsplit(':')
            .next()
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no port in listening address {address:?}"));

        // Keep draining stdout so a chatty server never blocks on a full pipe, and keep what it
        // printed: the contract allows only the one listening line.
        let late = Arc::clone(&extra_stdout);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                late.lock().unwrap().push(line);
            }
        });

        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build HTTP client");
        TestApp {
            address,
            port,
            client,
            db,
            options,
            child,
            log_path,
            extra_stdout,
            admin_token: OnceCell::new(),
        }
    }

    /// Starts another server process on the same database, with the same options.
    pub async fn spawn_sibling(&self) -> TestApp {
        TestApp::start(Arc::clone(&self.db), self.options.clone()).await
    }

    /// Like [`TestApp::spawn_sibling`] with other options.
    pub async fn spawn_sibling_with(&self, options: SpawnOptions) -> TestApp {
        TestApp::start(Arc::clone(&self.db), options).await
    }

    /// Kills the process (as a crash or a power cut would) and waits until it has exited. The
    /// database stays: `spawn_sibling` on a clone of [`TestApp::database`] starts a new process.
    pub async fn stop(mut self) -> Arc<TestDatabase> {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        Arc::clone(&self.db)
    }

    pub fn options(&self) -> &SpawnOptions {
        &self.options
    }

    pub fn database(&self) -> &Arc<TestDatabase> {
        &self.db
    }

    /// Everything the server has written to stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// Polls the logs until `needle` shows up; returns the logs, or `None` after `timeout`.
    pub async fn wait_for_log(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let logs = self.logs();
            if logs.contains(needle) {
                return Some(logs);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Lines printed to stdout other than the listening line.
    pub fn extra_stdout(&self) -> Vec<String> {
        self.extra_stdout.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn events_url(&self, integration_key: &str) -> String {
        self.url(&format!("/api/v1/events/servicenow/{integration_key}"))
    }

    // -- webhook ------------------------------------------------------------------------------

    pub async fn post_event(&self, integration_key: &str, body: &Value) -> (StatusCode, Value) {
        let body = serde_json::to_vec(body).expect("serialize event");
        self.post_event_raw(integration_key, body, "application/json")
            .await
    }

    /// Posts arbitrary bytes. A response body that is not JSON comes back as a JSON string.
    pub async fn post_event_raw(
        &self,
        integration_key: &str,
        body: impl Into<reqwest::Body>,
        content_type: &str,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .post(self.events_url(integration_key))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("POST event");
        read_json_response(response).await
    }

    // -- ops ----------------------------------------------------------------------------------

    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("metrics body")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        // Reap the process before the database goes away, so dropping it finds no client.
        for _ in 0..500 {
            match self.child.try_wait() {
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                _ => break,
            }
        }
        if std::env::var_os("TEST_LOG").is_some_and(|v| !v.is_empty() && v != "0") {
            eprintln!(
                "----- glidepath stderr ({}) -----\n{}----- end -----",
                self.log_path.display(),
                self.logs()
            );
        }
    }
}

async fn startup_failure(child: &mut Child, log_path: &Path, why: &str) -> ! {
    // A process that closed stdout is usually exiting: its own exit status says more than the
    // SIGKILL it would otherwise get.
    let status = match tokio::time::timeout(Duration::from_secs(2), child.wait()).await {
        Ok(status) => Ok(status),
        Err(_) => {
            let _ = child.start_kill();
            tokio::time::timeout(Duration::from_secs(5), child.wait()).await
        }
    };
    let stderr = std::fs::read(log_path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    panic!(
        "glidepath serve did not print `{LISTENING_PREFIX}http://…` ({why}); exit: {status:?}\n\
         ----- stderr -----\n{stderr}"
    );
}

pub(crate) async fn read_json_response(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.expect("read response body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

/// The webhook's error code from an error body `{"error":{"code","message"}}`.
pub fn webhook_error_code(body: &Value) -> String {
    assert!(
        body["error"]["message"].is_string(),
        "error body without error.message: {body}"
    );
    str_field(&body["error"], "code")
}

/// Runs a one-off subcommand such as `migrate` or `schema` and returns its output.
pub async fn run_glidepath(
    args: &[&str],
    envs: &[(&str, &str)],
    cwd: &Path,
) -> std::process::Output {
    let mut cmd = Command::new(binary_path());
    cmd.args(args).current_dir(cwd);
    for key in SERVER_ENV {
        cmd.env_remove(key);
    }
    cmd.env("NO_COLOR", "1").env(
        "RUST_LOG",
        std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string()),
    );
    for (key, value) in envs {
        cmd.env(key, value);
    }
    cmd.stdin(Stdio::null()).kill_on_drop(true);
    match tokio::time::timeout(CLI_TIMEOUT, cmd.output()).await {
        Ok(output) => output.expect("run glidepath"),
        Err(_) => panic!("glidepath {args:?} did not finish in {CLI_TIMEOUT:?}"),
    }
}

/// Removes ANSI colour sequences, in case the server colours its logs anyway.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The value of the first sample of `name` whose labels contain every `labels` pair.
pub fn metric_value(metrics: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().find_map(|line| {
        if line.starts_with('#') {
            return None;
        }
        let (series, value) = line.rsplit_once(' ')?;
        let rest = series.strip_prefix(name)?;
        if !(rest.is_empty() || rest.starts_with('{')) {
            return None;
        }
        let all = labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
        if all { value.trim().parse().ok() } else { None }
    })
}

/// Polls `check` every 20 ms until it returns `Some`; panics with `what` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, check: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_value_matches_labels() {
        let text = "# HELP x\nglidepath_webhook_events_total{outcome=\"created\"} 3\n\
                    glidepath_webhook_events_total{outcome=\"rejected\"} 1\n";
        assert_eq!(
            metric_value(
                text,
                "glidepath_webhook_events_total",
                &[("outcome", "rejected")]
            ),
            Some(1.0)
        );
        assert_eq!(
            metric_value(
                text,
                "glidepath_webhook_events_total",
                &[("outcome", "updated")]
            ),
            None
        );
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(strip_ansi("\u{1b}[32mINFO\u{1b}[0m ok"), "INFO ok");
    }
}
