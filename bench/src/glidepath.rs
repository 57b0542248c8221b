//! Running the release `glidepath` binary as a child process and preparing an alert source
//! on it through the public GraphQL API, exactly as an operator would.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use reqwest::Client;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const ADMIN_EMAIL: &str = "bench-admin@localhost";
const ADMIN_PASSWORD: &str = "bench-admin-password";
/// Generous because the first start runs every migration on an empty database.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Server {
    child: Child,
    pid: u32,
    pub base_url: String,
    pub log_path: PathBuf,
}

impl Server {
    pub async fn start(bin: &Path, dir: &Path) -> Result<Self> {
        Self::start_with(bin, dir, &[]).await
    }

    /// Like [`Server::start`] with more environment variables.
    pub async fn start_with(bin: &Path, dir: &Path, env: &[(&str, &str)]) -> Result<Self> {
        let db_path = dir.join("glidepath.db");
        let log_path = dir.join("glidepath.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        let mut child = Command::new(bin)
            .arg("serve")
            .env("GLIDEPATH_LISTEN", "127.0.0.1:0")
            .env(
                "GLIDEPATH_DATABASE_URL",
                format!("sqlite://{}", db_path.display()),
            )
            .env("GLIDEPATH_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("GLIDEPATH_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .env_remove("GLIDEPATH_PUBLIC_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (build it with `cargo build --release -p server`)",
                    bin.display()
                )
            })?;
        let pid = child
            .id()
            .ok_or_else(|| anyhow!("glidepath exited right after starting"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("glidepath's stdout was not captured"))?;
        let mut lines = BufReader::new(stdout).lines();

        let wait_for_banner = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.trim().strip_prefix("listening on ") {
                    return Ok::<_, std::io::Error>(Some(url.trim_end_matches('/').to_owned()));
                }
            }
            Ok(None)
        };
        let banner = tokio::time::timeout(STARTUP_TIMEOUT, wait_for_banner).await;
        let base_url = match banner {
            Ok(Ok(Some(url))) => url,
            Ok(Ok(None)) => bail!(
                "glidepath closed stdout without printing `listening on …`; its log: {}\n{}",
                log_path.display(),
                tail(&log_path)
            ),
            Ok(Err(err)) => return Err(err).context("reading glidepath's stdout"),
            Err(_) => bail!(
                "glidepath printed no `listening on …` within {STARTUP_TIMEOUT:?}; its log: {}\n{}",
                log_path.display(),
                tail(&log_path)
            ),
        };
        // Nothing else is expected on stdout, but a full pipe would block the server.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        Ok(Self {
            child,
            pid,
            base_url,
            log_path,
        })
    }

    /// Peak resident set size in KiB, from the kernel's high-water mark for the process.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid);
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| anyhow!("no VmHWM line in {path}"))
    }

    /// Fails if the process already exited, which would otherwise surface only as a pile of
    /// connection errors.
    pub fn ensure_running(&mut self) -> Result<()> {
        match self.child.try_wait().context("checking on glidepath")? {
            None => Ok(()),
            Some(status) => bail!(
                "glidepath exited ({status}); its log: {}\n{}",
                self.log_path.display(),
                tail(&self.log_path)
            ),
        }
    }

    pub async fn stop(mut self) -> Result<()> {
        self.child.start_kill().context("stopping glidepath")?;
        self.child.wait().await.context("waiting for glidepath")?;
        Ok(())
    }

    pub async fn wait_healthy(&self, client: &Client) -> Result<()> {
        let url = format!("{}/healthz", self.base_url);
        let mut last = String::new();
        for _ in 0..50 {
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => return Ok(()),
                Ok(r) => last = format!("HTTP {}", r.status()),
                Err(err) => last = format!("{err:#}"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("{url} never answered 200 (last: {last})")
    }

    /// Logs in as the bootstrap admin and creates an escalation policy (one level of 15 minutes)
    /// and a ServiceNow alert source, returning the webhook URL for it.
    pub async fn create_alert_source(&self, client: &Client) -> Result<String> {
        self.create_alert_source_with_levels(client, &[15]).await
    }

    /// As [`Server::create_alert_source`], with one policy level per timeout (in minutes), each
    /// calling the admin.
    pub async fn create_alert_source_with_levels(
        &self,
        client: &Client,
        level_minutes: &[i32],
    ) -> Result<String> {
        Ok(self
            .setup_with_levels(client, level_minutes)
            .await?
            .webhook_url)
    }

    pub fn gql<'a>(&self, client: &'a Client) -> Gql<'a> {
        Gql {
            client,
            url: format!("{}/graphql", self.base_url),
        }
    }

    /// [`Server::create_alert_source`], also returning the admin's token and the source's id.
    pub async fn setup(&self, client: &Client) -> Result<Setup> {
        self.setup_with_levels(client, &[15]).await
    }

    async fn setup_with_levels(&self, client: &Client, level_minutes: &[i32]) -> Result<Setup> {
        let gql = self.gql(client);
        let login = gql
            .call(
                None,
                "mutation($email: String!, $password: String!) {
                    login(email: $email, password: $password) { token user { id } }
                }",
                json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD }),
            )
            .await
            .context("logging in as the admin")?;
        let token = str_at(&login, "/login/token")?;
        let rules = level_minutes
            .iter()
            .map(|m| format!("{{ escalationTimeoutMinutes: {m}, userIds: [$userId] }}"))
            .collect::<Vec<_>>()
            .join(", ");
        let user_id = str_at(&login, "/login/user/id")?;

        let policy = gql
            .call(
                Some(&token),
                // Input objects are written inline so that the query does not depend on
                // the names the schema gives its input types.
                &format!(
                    "mutation($userId: ID!) {{
                        createEscalationPolicy(input: {{
                            name: \"Bench on-call\", routingKey: \"bench\", rules: [{rules}]
                        }}) {{ id }}
                    }}"
                ),
                json!({ "userId": user_id }),
            )
            .await
            .context("creating the escalation policy")?;
        let policy_id = str_at(&policy, "/createEscalationPolicy/id")?;

        let source = gql
            .call(
                Some(&token),
                "mutation($policyId: ID!) {
                    createAlertSource(input: {
                        name: \"Bench ServiceNow\", escalationPolicyId: $policyId,
                        integrationType: SERVICENOW
                    }) { id integrationKey }
                }",
                json!({ "policyId": policy_id }),
            )
            .await
            .context("creating the alert source")?;
        let key = str_at(&source, "/createAlertSource/integrationKey")?;
        Ok(Setup {
            token,
            source_id: str_at(&source, "/createAlertSource/id")?,
            webhook_url: format!("{}/api/v1/events/servicenow/{key}", self.base_url),
        })
    }

    /// The server's own count of webhook outcomes, a cross-check that the load did what it
    /// was meant to (one `created` per incident, duplicates mostly `unchanged`).
    pub async fn webhook_outcomes(&self, client: &Client) -> Result<Vec<(String, f64)>> {
        let url = format!("{}/metrics", self.base_url);
        let text = client
            .get(&url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .with_context(|| format!("fetching {url}"))?
            .text()
            .await
            .with_context(|| format!("reading {url}"))?;
        let mut outcomes = Vec::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("glidepath_webhook_events_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.split_once('}') else {
                continue;
            };
            let outcome = labels
                .split(',')
                .find_map(|l| l.strip_prefix("outcome="))
                .map(|v| v.trim_matches('"').to_owned());
            if let (Some(outcome), Ok(value)) = (outcome, value.trim().parse::<f64>()) {
                outcomes.push((outcome, value));
            }
        }
        Ok(outcomes)
    }
}

pub struct Setup {
    pub token: String,
    pub source_id: String,
    pub webhook_url: String,
}

pub struct Gql<'a> {
    client: &'a Client,
    url: String,
}

impl Gql<'_> {
    pub async fn call(&self, token: Option<&str>, query: &str, variables: Value) -> Result<Value> {
        let mut request = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {}", self.url))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .with_context(|| format!("POST {} answered HTTP {status} without JSON", self.url))?;
        if let Some(errors) = body.get("errors").filter(|e| !e.is_null()) {
            bail!("GraphQL errors (HTTP {status}): {errors}");
        }
        body.get("data")
            .filter(|d| !d.is_null())
            .cloned()
            .ok_or_else(|| anyhow!("GraphQL answer without data (HTTP {status}): {body}"))
    }
}

pub fn str_at(value: &Value, pointer: &str) -> Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("GraphQL answer has no string at {pointer}: {value}"))
}

/// The last lines of a log, for error messages.
pub fn tail(path: &Path) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        }
        Err(err) => format!("(cannot read {}: {err})", path.display()),
    }
}
