//! Black-box harness for the Glidepath server.
//!
//! Every test starts the real `glidepath` binary on its own throwaway database and talks to it
//! over HTTP only, so the tests check the published contract (`docs/API-CONTRACT.md`) and
//! nothing else.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::OnceCell;

pub mod browser;

pub use reqwest::StatusCode;
pub use serde_json;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct-horse-battery-staple";
/// Password given to every user the helpers create.
pub const USER_PASSWORD: &str = "responder-password-1";
/// The `sys_id` shared by the three ServiceNow fixtures.
pub const FIXTURE_SYS_ID: &str = "9d385017c611228701d22104cc95c371";
pub const FIXTURE_SERVER_URL: &str = "https://dev184512.service-now.com/";
pub const FIXTURE_NUMBER: &str = "INC0010042";
pub const FIXTURE_SHORT_DESCRIPTION: &str = "Core router rtr-fra-01 packet loss";

/// ServiceNow incident states as the business rule sends them.
pub mod state {
    pub const NEW: u8 = 1;
    pub const IN_PROGRESS: u8 = 2;
    pub const ON_HOLD: u8 = 3;
    pub const RESOLVED: u8 = 6;
    pub const CLOSED: u8 = 7;
    pub const CANCELED: u8 = 8;
}

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

/// Every field of `Alert` in the contract, for queries that check a whole alert.
pub const ALERT_FIELDS: &str = "id status priority summary details alertKey createdAt acceptedAt resolvedAt \
     alertSource { id name } escalationPolicy { id name routingKey } assignedTo { id email } \
     comments { id body author { email } createdAt } \
     logEntries { kind message actor actorKind createdAt } \
     ticket { sysId number state stateLabel url }";

// ---------------------------------------------------------------------------------------------
// Binary and database
// ---------------------------------------------------------------------------------------------

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend selected by `GLIDEPATH_TEST_DB` (`sqlite`, the default, or `postgres`).
pub fn backend() -> Backend {
    match std::env::var("GLIDEPATH_TEST_DB").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
        Ok("postgres") | Ok("postgresql") => Backend::Postgres,
        Ok(other) => panic!("GLIDEPATH_TEST_DB must be sqlite or postgres, not {other:?}"),
    }
}

fn postgres_admin_url() -> String {
    std::env::var("GLIDEPATH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Replaces the database name of a PostgreSQL URL, keeping host, user and query string.
fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let prefix = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{prefix}/{name}?{query}"),
        None => format!("{prefix}/{name}"),
    }
}

/// A database that exists only for one test, plus the directory the server processes run in.
///
/// Sibling processes share it; it is dropped (and a PostgreSQL database removed) after the last
/// process using it has been killed.
pub struct TestDatabase {
    url: String,
    dir: tempfile::TempDir,
    postgres_name: Option<String>,
    processes: AtomicUsize,
}

impl TestDatabase {
    /// A fresh database on the backend chosen by `GLIDEPATH_TEST_DB`.
    pub async fn create() -> Self {
        match backend() {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A fresh SQLite database whatever `GLIDEPATH_TEST_DB` says. The file does not exist yet.
    pub fn sqlite() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("glidepath-test-")
            .tempdir()
            .expect("create temp dir");
        let url = format!("sqlite://{}", dir.path().join("glidepath.db").display());
        TestDatabase {
            url,
            dir,
            postgres_name: None,
            processes: AtomicUsize::new(0),
        }
    }

    pub async fn postgres() -> Self {
        use sqlx::Connection;
        let admin_url = postgres_admin_url();
        let name = format!("glidepath_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("connect to {admin_url}: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        let _ = conn.close().await;
        let dir = tempfile::Builder::new()
            .prefix("glidepath-test-")
            .tempdir()
            .expect("create temp dir");
        TestDatabase {
            url: with_database_name(&admin_url, &name),
            dir,
            postgres_name: Some(name),
            processes: AtomicUsize::new(0),
        }
    }

    /// The URL handed to the server as `GLIDEPATH_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Working directory of the server processes and home of the SQLite file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn next_log_path(&self) -> PathBuf {
        let n = self.processes.fetch_add(1, Ordering::SeqCst);
        self.dir().join(format!("server-{n}.log"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        let admin_url = postgres_admin_url();
        // Drop may run inside the test's runtime, which cannot be blocked on; a separate thread
        // with its own runtime can.
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

// ---------------------------------------------------------------------------------------------
// Spawning
// ---------------------------------------------------------------------------------------------

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
    admin_token: OnceCell<String>,
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

    // -- GraphQL ------------------------------------------------------------------------------

    /// Runs a GraphQL operation and returns the whole response (`data` and `errors`).
    /// Panics on a 5xx, which no request should ever cause.
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql_http(token, query, variables).await;
        assert!(
            !status.is_server_error(),
            "GraphQL request answered {status}: {body}"
        );
        body
    }

    pub async fn graphql_http(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST /graphql");
        read_json_response(response).await
    }

    /// Runs an operation that must succeed and returns its `data`.
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        expect_data(self.graphql(Some(token), query, variables).await)
    }

    /// The whole `login` response.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.graphql(
            None,
            "mutation($email: String!, $password: String!) { \
               login(email: $email, password: $password) { token user { id email } } }",
            json!({ "email": email, "password": password }),
        )
        .await
    }

    /// A token for `email`, panicking when login fails.
    pub async fn login_token(&self, email: &str, password: &str) -> String {
        let data = expect_data(self.login(email, password).await);
        data["login"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login returned no token: {data}"))
            .to_string()
    }

    /// A session token for the bootstrap admin (logged in once per app).
    /// Everything the database holds, as bytes: the SQLite files (with the WAL), or every row of
    /// every table on PostgreSQL as JSON. What a stolen backup would reveal.
    pub async fn database_dump(&self) -> Vec<u8> {
        match backend() {
            Backend::Sqlite => {
                let mut out = Vec::new();
                for entry in std::fs::read_dir(self.db.dir()).expect("read test dir") {
                    let path = entry.expect("dir entry").path();
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default();
                    if name.starts_with("glidepath.db") {
                        out.extend(std::fs::read(&path).expect("read database file"));
                    }
                }
                out
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(self.db.url())
                    .await
                    .expect("connect to the test database");
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
                )
                .fetch_all(&mut conn)
                .await
                .expect("list tables");
                let mut out = Vec::new();
                for (table,) in tables {
                    let sql = format!(
                        "SELECT coalesce(string_agg(row_to_json(t)::text, '\n'), '') FROM \"{table}\" t"
                    );
                    let (rows,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .fetch_one(&mut conn)
                        .await
                        .expect("dump table");
                    out.extend(rows.into_bytes());
                }
                out
            }
        }
    }

    pub async fn admin_token(&self) -> String {
        self.admin_token
            .get_or_init(|| self.login_token(ADMIN_EMAIL, ADMIN_PASSWORD))
            .await
            .clone()
    }

    pub async fn me(&self, token: &str) -> Value {
        self.gql(token, "{ me { id email name role createdAt } }", json!({}))
            .await["me"]
            .clone()
    }

    pub async fn admin_id(&self) -> String {
        let token = self.admin_token().await;
        id_of(&self.me(&token).await)
    }

    // -- fixtures through the API -------------------------------------------------------------

    /// Creates a user with `USER_PASSWORD`. `role` is `ADMIN` or `RESPONDER`.
    pub async fn create_user(&self, token: &str, email: &str, role: &str) -> Value {
        self.gql(token, &create_user_mutation(role), user_vars(email))
            .await["createUser"]
            .clone()
    }

    /// A new RESPONDER with a unique email, and a session token for it.
    pub async fn create_responder(&self) -> (Value, String) {
        let admin = self.admin_token().await;
        let email = unique_email("responder");
        let user = self.create_user(&admin, &email, "RESPONDER").await;
        let token = self.login_token(&email, USER_PASSWORD).await;
        (user, token)
    }

    /// An escalation policy with one 5-minute rule notifying `user_ids`.
    pub async fn create_policy(&self, token: &str, user_ids: &[&str]) -> Value {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        self.gql(
            token,
            CREATE_POLICY_MUTATION,
            json!({
                "name": format!("Policy {}", &suffix[..8]),
                "routingKey": format!("rk-{suffix}"),
                "timeout": 5,
                "userIds": user_ids,
            }),
        )
        .await["createEscalationPolicy"]
            .clone()
    }

    pub async fn create_alert_source(&self, token: &str, policy_id: &str) -> Value {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        self.gql(
            token,
            CREATE_SOURCE_MUTATION,
            json!({ "name": format!("ServiceNow {}", &suffix[..8]), "policyId": policy_id }),
        )
        .await["createAlertSource"]
            .clone()
    }

    /// An alert source on a fresh policy whose only rule notifies the admin.
    pub async fn setup_source(&self) -> Source {
        let token = self.admin_token().await;
        let admin_id = self.admin_id().await;
        let policy = self.create_policy(&token, &[&admin_id]).await;
        let source = self.create_alert_source(&token, &id_of(&policy)).await;
        Source::from_json(&source, &policy)
    }

    /// Posts a New incident with a fresh sys_id and returns (sys_id, alert id).
    pub async fn create_alert(&self, source: &Source) -> (String, String) {
        self.create_alert_with_priority(source, "1").await
    }

    pub async fn create_alert_with_priority(
        &self,
        source: &Source,
        priority: &str,
    ) -> (String, String) {
        let sys_id = new_sys_id();
        let (status, body) = self
            .post_event(
                &source.integration_key,
                &incident_with_priority(&sys_id, state::NEW, 0, priority),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create alert: {body}");
        assert_eq!(body["outcome"], "created", "{body}");
        (sys_id, str_field(&body, "alertId"))
    }

    /// The whole alert (every contract field), or `Value::Null` if it does not exist.
    pub async fn alert(&self, id: &str) -> Value {
        let token = self.admin_token().await;
        self.gql(
            &token,
            &format!("query($id: ID!) {{ alert(id: $id) {{ {ALERT_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await["alert"]
            .clone()
    }

    /// `alerts.totalCount` with no filter.
    pub async fn alerts_total(&self) -> i64 {
        let token = self.admin_token().await;
        self.gql(&token, "{ alerts { totalCount } }", json!({}))
            .await["alerts"]["totalCount"]
            .as_i64()
            .expect("totalCount is an integer")
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

async fn read_json_response(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.expect("read response body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

/// An alert source as the tests use it.
#[derive(Clone, Debug)]
pub struct Source {
    pub id: String,
    pub name: String,
    pub integration_key: String,
    pub webhook_url: String,
    pub business_rule_script: String,
    pub policy_id: String,
    pub policy_name: String,
    pub policy_routing_key: String,
}

impl Source {
    pub fn from_json(source: &Value, policy: &Value) -> Source {
        Source {
            id: str_field(source, "id"),
            name: str_field(source, "name"),
            integration_key: str_field(source, "integrationKey"),
            webhook_url: str_field(source, "webhookUrl"),
            business_rule_script: str_field(source, "businessRuleScript"),
            policy_id: str_field(policy, "id"),
            policy_name: str_field(policy, "name"),
            policy_routing_key: str_field(policy, "routingKey"),
        }
    }
}

pub const CREATE_POLICY_MUTATION: &str = "mutation($name: String!, $routingKey: String!, $timeout: Int!, $userIds: [ID!]!) { \
       createEscalationPolicy(input: { name: $name, routingKey: $routingKey, \
         rules: [{ escalationTimeoutMinutes: $timeout, userIds: $userIds }] }) { \
         id name routingKey rules { escalationTimeoutMinutes users { id email } } } }";

pub const CREATE_SOURCE_MUTATION: &str = "mutation($name: String!, $policyId: ID!) { \
       createAlertSource(input: { name: $name, escalationPolicyId: $policyId, integrationType: SERVICENOW }) { \
         id name integrationType integrationKey webhookUrl businessRuleScript \
         escalationPolicy { id name } createdAt } }";

/// `createUser` with the role inlined, since the contract does not name the role enum type.
pub fn create_user_mutation(role: &str) -> String {
    format!(
        "mutation($email: String!, $name: String!, $password: String!) {{ \
           createUser(input: {{ email: $email, name: $name, password: $password, role: {role} }}) {{ \
             id email name role createdAt }} }}"
    )
}

pub fn user_vars(email: &str) -> Value {
    json!({ "email": email, "name": format!("User {email}"), "password": USER_PASSWORD })
}

// ---------------------------------------------------------------------------------------------
// GraphQL response helpers
// ---------------------------------------------------------------------------------------------

/// `data` of a response that must have no errors.
pub fn expect_data(response: Value) -> Value {
    let errors = &response["errors"];
    assert!(
        errors.is_null() || errors.as_array().is_some_and(|e| e.is_empty()),
        "unexpected GraphQL errors: {response}"
    );
    assert!(
        response["data"].is_object(),
        "GraphQL response has no data: {response}"
    );
    response["data"].clone()
}

/// `extensions.code` of the first error of a response that must have failed.
pub fn expect_error_code(response: &Value) -> String {
    let first = &response["errors"][0];
    assert!(first.is_object(), "expected a GraphQL error: {response}");
    first["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("GraphQL error without extensions.code: {response}"))
        .to_string()
}

pub fn assert_error_code(response: &Value, code: &str) {
    assert_eq!(expect_error_code(response), code, "{response}");
}

pub fn error_message(response: &Value) -> String {
    response["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn str_field(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {value}"))
        .to_string()
}

pub fn id_of(value: &Value) -> String {
    str_field(value, "id")
}

/// The kinds of an alert's log entries, oldest first.
pub fn log_kinds(alert: &Value) -> Vec<String> {
    alert["logEntries"]
        .as_array()
        .unwrap_or_else(|| panic!("logEntries missing: {alert}"))
        .iter()
        .map(|entry| str_field(entry, "kind"))
        .collect()
}

/// The log entries of one kind.
pub fn log_entries_of(alert: &Value, kind: &str) -> Vec<Value> {
    alert["logEntries"]
        .as_array()
        .unwrap_or_else(|| panic!("logEntries missing: {alert}"))
        .iter()
        .filter(|entry| entry["kind"] == kind)
        .cloned()
        .collect()
}

/// The webhook's error code from an error body `{"error":{"code","message"}}`.
pub fn webhook_error_code(body: &Value) -> String {
    assert!(
        body["error"]["message"].is_string(),
        "error body without error.message: {body}"
    );
    str_field(&body["error"], "code")
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("servicenow")
}

/// Loads `fixtures/servicenow/<name>` (`.json` may be left off).
pub fn fixture(name: &str) -> Value {
    let mut path = fixtures_dir().join(name);
    if path.extension().is_none() {
        path.set_extension("json");
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse fixture {}: {e}", path.display()))
}

/// A 32-hex sys_id nobody else uses.
pub fn new_sys_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn unique_email(prefix: &str) -> String {
    format!("{prefix}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// The New fixture turned into another incident, in another state, at another revision.
pub fn incident(sys_id: &str, state: u8, mod_count: u32) -> Value {
    let mut event = fixture("incident-new.json");
    let state = state.to_string();
    event["sys_id"] = json!(sys_id);
    event["state"] = json!(state);
    event["incident_state"] = json!(state);
    event["sys_mod_count"] = json!(mod_count.to_string());
    event
}

pub fn incident_with_priority(sys_id: &str, state: u8, mod_count: u32, priority: &str) -> Value {
    let mut event = incident(sys_id, state, mod_count);
    event["priority"] = json!(priority);
    event
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database_name("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database_name("postgres://u:p@h:1/db?sslmode=disable", "x"),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(with_database_name("postgres://h", "x"), "postgres://h/x");
    }

    #[test]
    fn incident_overrides_identity_and_state() {
        let event = incident_with_priority("0123456789abcdef0123456789abcdef", 6, 4, "5");
        assert_eq!(event["sys_id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(event["state"], "6");
        assert_eq!(event["incident_state"], "6");
        assert_eq!(event["sys_mod_count"], "4");
        assert_eq!(event["priority"], "5");
        assert_eq!(event["number"], FIXTURE_NUMBER);
    }

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

// ---------------------------------------------------------------------------------------------
// Receivers for notifications
// ---------------------------------------------------------------------------------------------

/// One e-mail as an SMTP client handed it over.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent after DATA (headers and body).
    pub data: String,
}

/// A minimal SMTP server that accepts every message and keeps it: enough for lettre's client
/// (EHLO, MAIL, RCPT, DATA, QUIT), no TLS, no authentication.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&mails);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                        return;
                    }
                    let (mut from, mut to) = (String::new(), Vec::new());
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO")
                        {
                            b"250 sink\r\n"
                        } else if upper.starts_with("MAIL FROM:") {
                            from = line[10..].trim().trim_matches(['<', '>']).to_string();
                            to.clear();
                            b"250 OK\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            to.push(line[8..].trim().trim_matches(['<', '>']).to_string());
                            b"250 OK\r\n"
                        } else if upper == "DATA" {
                            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                                return;
                            }
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                data.push_str(&l);
                                data.push('\n');
                            }
                            store.lock().unwrap().push(Mail {
                                from: from.clone(),
                                to: to.clone(),
                                data,
                            });
                            b"250 OK queued\r\n"
                        } else if upper == "QUIT" {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 OK\r\n"
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        SmtpSink { port, mails }
    }

    /// The value for `GLIDEPATH_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Mails addressed to `to`.
    pub fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .collect()
    }
}

/// An HTTP server that keeps every request body (as JSON) and answers with a fixed status.
pub struct HttpReceiver {
    pub port: u16,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl HttpReceiver {
    pub async fn start(status: u16) -> HttpReceiver {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the HTTP receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&bodies);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
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
        HttpReceiver { port, bodies }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
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

// ---------------------------------------------------------------------------------------------
// The business rule, run under node against mocked Glide APIs (tests/js/run-business-rule.js)
// ---------------------------------------------------------------------------------------------

pub mod business_rule {
    use std::path::{Path, PathBuf};

    use serde_json::Value;

    use super::{StatusCode, TestApp, new_sys_id, str_field};

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
}

// ---------------------------------------------------------------------------------------------
// ServiceNow: a server allowed to call the simulator, its connection, alerts by incident
// ---------------------------------------------------------------------------------------------

pub const SIM_USER: &str = "glidepath";
pub const SIM_PASSWORD: &str = "glidepath-secret";

/// Options for a server that may call the simulator (plain http on loopback), with a short
/// request timeout and the reconciliation poll every `poll_seconds` (0 turns it off).
pub fn sim_options(poll_seconds: u64) -> SpawnOptions {
    SpawnOptions::default()
        .env("GLIDEPATH_ALLOW_INSECURE_SERVICENOW", "true")
        .env("GLIDEPATH_SERVICENOW_HOSTS", "127.0.0.1")
        .env("GLIDEPATH_SERVICENOW_TIMEOUT_MS", "2000")
        .env(
            "GLIDEPATH_SERVICENOW_POLL_SECONDS",
            &poll_seconds.to_string(),
        )
}

pub const CONFIGURE_SERVICENOW: &str = "mutation($id: ID!, $url: String!, $user: String!, $password: String) { \
    configureServiceNow(alertSourceId: $id, input: { instanceUrl: $url, username: $user, password: $password }) { id } }";

/// A server, an admin token, an alert source and a simulator the source is connected to.
pub struct SimSetup {
    pub app: TestApp,
    pub token: String,
    pub source: Source,
    pub sim: servicenow_sim::RunningSimulator,
}

/// A server (reconciliation poll every `poll_seconds`, 0 = off) with a source connected to a new
/// simulator; with `webhooks`, the simulator's business rule posts to that source.
pub async fn sim_setup(poll_seconds: u64, webhooks: bool) -> SimSetup {
    sim_setup_with(sim_options(poll_seconds), webhooks).await
}

/// [`sim_setup`] with a server started with `options`.
pub async fn sim_setup_with(options: SpawnOptions, webhooks: bool) -> SimSetup {
    let app = spawn_app_with_options(options).await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    let sim = servicenow_sim::Simulator::start(servicenow_sim::Config {
        webhooks: if webhooks {
            vec![source.webhook_url.clone()]
        } else {
            Vec::new()
        },
        ..servicenow_sim::Config::default()
    })
    .await
    .expect("start the simulator");
    app.connect_to_sim(&token, &source.id, &sim.url()).await;
    SimSetup {
        app,
        token,
        source,
        sim,
    }
}

impl TestApp {
    /// Connects the alert source to the simulator at `sim_url` with its default credentials.
    pub async fn connect_to_sim(&self, token: &str, source_id: &str, sim_url: &str) {
        self.gql(
            token,
            CONFIGURE_SERVICENOW,
            json!({ "id": source_id, "url": sim_url, "user": SIM_USER, "password": SIM_PASSWORD }),
        )
        .await;
    }

    /// The alert of the source for the incident `sys_id` (every contract field plus responders
    /// and escalation), if there is one.
    pub async fn alert_for_incident(&self, source_id: &str, sys_id: &str) -> Option<Value> {
        let token = self.admin_token().await;
        // Find the alert by its key first, then read it whole: a page of 100 alerts with every
        // field would cost more than one query may.
        let data = self
            .gql(
                &token,
                "query($source: ID!) { alerts(alertSourceId: $source, first: 100) { nodes { id alertKey } } }",
                json!({ "source": source_id }),
            )
            .await;
        let id = data["alerts"]["nodes"]
            .as_array()?
            .iter()
            .find(|a| a["alertKey"] == sys_id)?["id"]
            .clone();
        let query = format!(
            "query($id: ID!) {{ alert(id: $id) {{ {ALERT_FIELDS} responders {{ id email }} escalationLevel }} }}"
        );
        let data = self.gql(&token, &query, json!({ "id": id })).await;
        Some(data["alert"].clone()).filter(|a| !a.is_null())
    }

    /// Waits (up to 10 s) for the alert of the incident `sys_id` to satisfy `check`.
    pub async fn wait_for_incident_alert(
        &self,
        source_id: &str,
        sys_id: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let check = &check;
        eventually(Duration::from_secs(10), what, || async move {
            self.alert_for_incident(source_id, sys_id)
                .await
                .filter(|a| check(a))
        })
        .await
    }
}
