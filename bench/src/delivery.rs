//! Delivery lag: how long after an alert escalates its e-mail reaches the SMTP server. A phase
//! opens `alerts` alerts on a policy of two levels (level 1 pages the admin, level 2 a second
//! user, whose default rule is an e-mail) and lets them all reach level 2 together; the lag of
//! each is from the level-2 step the server logged (`alert_log`, read from its SQLite file) to
//! the moment an SMTP sink in this process received that alert's mail to the level-2 user (the
//! mail's `In-Reply-To` names the alert). The server runs with `GLIDEPATH_TIME_SCALE=60`, so the
//! 15-minute level 1 lasts 15 s: long enough for the level-1 mails of the opening to be out of
//! the way. Both stamps come from this machine's clock.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use reqwest::Client;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::escalation::{level_two_lags, open_database};
use crate::glidepath::{self, str_at};
use crate::{driver, workload};

const LEVEL_ONE_MINUTES: i32 = 15;
const RESPONDER_EMAIL: &str = "bench-responder@localhost";

pub struct DeliveryLag {
    pub alerts: usize,
    pub delivered: u64,
    pub lag_ms: Histogram<u64>,
}

impl DeliveryLag {
    pub fn quantile_ms(&self, q: f64) -> f64 {
        self.lag_ms.value_at_quantile(q) as f64
    }
}

/// One mail as the sink received it.
struct Received {
    to: Vec<String>,
    data: String,
    at: DateTime<Utc>,
}

type Inbox = Arc<Mutex<Vec<Received>>>;

/// A minimal SMTP server (EHLO, MAIL, RCPT, DATA, QUIT; no TLS) that keeps what it receives.
async fn start_sink() -> Result<(u16, Inbox)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the SMTP sink")?;
    let port = listener.local_addr()?.port();
    let inbox: Inbox = Arc::default();
    let kept = Arc::clone(&inbox);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(session(stream, Arc::clone(&kept)));
        }
    });
    Ok((port, inbox))
}

async fn session(stream: tokio::net::TcpStream, inbox: Inbox) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let (mut to, mut data, mut in_data) = (Vec::new(), String::new(), false);
    while let Some(line) = lines.next_line().await? {
        if in_data {
            if line == "." {
                let mail = Received {
                    to: std::mem::take(&mut to),
                    data: std::mem::take(&mut data),
                    at: Utc::now(),
                };
                inbox
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?
                    .push(mail);
                in_data = false;
                write.write_all(b"250 OK\r\n").await?;
            } else {
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push('\n');
            }
            continue;
        }
        let command = line.to_ascii_uppercase();
        let answer: &[u8] = if command.starts_with("EHLO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if command.starts_with("RCPT TO:") {
            to.push(line[8..].trim().trim_matches(['<', '>']).to_string());
            b"250 OK\r\n"
        } else if command.starts_with("DATA") {
            in_data = true;
            b"354 go on\r\n"
        } else if command.starts_with("QUIT") {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 OK\r\n"
        };
        write.write_all(answer).await?;
    }
    Ok(())
}

/// The alert a mail is about: the id in its `In-Reply-To: <alert-{id}@host>`.
fn alert_of(data: &str) -> Option<String> {
    let header = data
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_ascii_lowercase().starts_with("in-reply-to:"))?;
    let rest = header.split("<alert-").nth(1)?;
    Some(rest.split('@').next()?.to_string())
}

/// One phase: `alerts` alerts escalating to level 2 together, each mailing the level-2 user.
pub async fn measure(
    bin: &Path,
    dir: &Path,
    client: &Client,
    alerts: usize,
    concurrency: usize,
    seed: u64,
) -> Result<DeliveryLag> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let (port, inbox) = start_sink().await?;
    let smtp = format!("smtp://127.0.0.1:{port}");
    let server = glidepath::Server::start_with(
        bin,
        dir,
        &[
            ("GLIDEPATH_SMTP_URL", smtp.as_str()),
            ("GLIDEPATH_TIME_SCALE", "60"),
        ],
    )
    .await?;
    server.wait_healthy(client).await?;
    let setup = server.setup(client).await?;
    let gql = server.gql(client);
    let admin = gql
        .call(Some(&setup.token), "{ me { id } }", json!({}))
        .await?;
    let admin_id = str_at(&admin, "/me/id")?;
    let responder = gql
        .call(
            Some(&setup.token),
            "mutation($email: String!) { createUser(input: { email: $email, name: \"Bench responder\",
                password: \"bench-responder-password\", role: RESPONDER }) { id } }",
            json!({ "email": RESPONDER_EMAIL }),
        )
        .await
        .context("creating the level-2 user")?;
    let responder_id = str_at(&responder, "/createUser/id")?;
    let policy = gql
        .call(
            Some(&setup.token),
            &format!(
                "mutation($admin: ID!, $responder: ID!) {{ createEscalationPolicy(input: {{
                    name: \"Bench delivery\", routingKey: \"bench-delivery\", rules: [
                        {{ escalationTimeoutMinutes: {LEVEL_ONE_MINUTES}, userIds: [$admin] }},
                        {{ escalationTimeoutMinutes: {LEVEL_ONE_MINUTES}, userIds: [$responder] }}
                    ] }}) {{ id }} }}"
            ),
            json!({ "admin": admin_id, "responder": responder_id }),
        )
        .await
        .context("creating the two-level policy")?;
    let policy_id = str_at(&policy, "/createEscalationPolicy/id")?;
    let source = gql
        .call(
            Some(&setup.token),
            "mutation($policyId: ID!) { createAlertSource(input: { name: \"Bench delivery\",
                escalationPolicyId: $policyId, integrationType: SERVICENOW }) { integrationKey } }",
            json!({ "policyId": policy_id }),
        )
        .await
        .context("creating the alert source")?;
    let key = str_at(&source, "/createAlertSource/integrationKey")?;
    let url = format!("{}/api/v1/events/servicenow/{key}", server.base_url);

    let opened = Instant::now();
    let plan = workload::new_incidents(alerts, concurrency, seed)?;
    let stats = driver::drive(client, &url, &plan, driver::Pace::Flat, None).await?;
    if stats.errors() > 0 {
        bail!("{} of {alerts} alerts could not be opened", stats.errors());
    }
    let level_one = Duration::from_secs(u64::try_from(LEVEL_ONE_MINUTES)?);
    if opened.elapsed() >= level_one {
        bail!("opening {alerts} alerts took longer than level 1 ({level_one:?})");
    }
    // Every level-2 mail, or a generous margin past level 1.
    let deadline = opened + level_one + Duration::from_secs(180);
    let received = loop {
        let got = inbox
            .lock()
            .map_err(|_| anyhow::anyhow!("the sink's inbox is poisoned"))?
            .iter()
            .filter(|m| m.to.iter().any(|t| t == RESPONDER_EMAIL))
            .filter_map(|m| Some((alert_of(&m.data)?, m.at)))
            .collect::<HashMap<String, DateTime<Utc>>>();
        if got.len() >= alerts {
            break got;
        }
        if Instant::now() > deadline {
            bail!("only {} of {alerts} level-2 mails arrived", got.len());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    let pool = open_database(&dir.join("glidepath.db")).await?;
    let (delivered, lag_ms) =
        level_two_lags(&pool, &received, |escalated, at| at - escalated).await?;
    pool.close().await;
    server.stop().await?;
    Ok(DeliveryLag {
        alerts,
        delivered,
        lag_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::alert_of;

    #[test]
    fn reads_the_alert_from_in_reply_to() {
        let mail =
            "Subject: x\nIn-Reply-To: <alert-01abc@glidepath.example>\n\nbody <alert-zzz@x>\n";
        assert_eq!(alert_of(mail).as_deref(), Some("01abc"));
        assert_eq!(alert_of("Subject: x\n\nIn-Reply-To: <alert-1@x>\n"), None);
    }
}
