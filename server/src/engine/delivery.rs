//! Sends claimed notifications: e-mail over SMTP (lettre), webhooks as a JSON POST (reqwest).
//! No transaction is open while a send runs.

use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use crate::db::Db;
use crate::entity::notification;
use crate::error::AppError;
use crate::service::notifications::{self, Outcome};
use crate::service::outbox;

/// Deliveries claimed at once; they are sent concurrently.
pub const BATCH: u64 = 50;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Sender {
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    http: reqwest::Client,
}

impl Sender {
    pub fn new(smtp_url: Option<&SecretString>, from: &str) -> anyhow::Result<Sender> {
        let smtp = match smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|e| anyhow::anyhow!("GLIDEPATH_SMTP_URL is not usable: {e}"))?
                    .timeout(Some(SEND_TIMEOUT))
                    .build();
                let from: Mailbox = from
                    .parse()
                    .map_err(|e| anyhow::anyhow!("GLIDEPATH_SMTP_FROM is not an address: {e}"))?;
                Some((transport, from))
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(SEND_TIMEOUT)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))?;
        Ok(Sender { smtp, http })
    }

    async fn send(&self, n: &notification::Model) -> Outcome {
        match n.kind.as_str() {
            notifications::WEBHOOK => self.post(n).await,
            _ => self.mail(n).await,
        }
    }

    async fn post(&self, n: &notification::Model) -> Outcome {
        let response = self
            .http
            .post(&n.target)
            .header("content-type", "application/json")
            .body(n.payload.clone())
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => Outcome::Sent,
            Ok(r) => Outcome::Failed(format!("the webhook answered HTTP {}", r.status())),
            Err(e) => Outcome::Failed(format!("the webhook could not be reached: {e}")),
        }
    }

    async fn mail(&self, n: &notification::Model) -> Outcome {
        let Some((transport, from)) = &self.smtp else {
            return Outcome::NotSent(notifications::NO_SMTP.into());
        };
        let to: Mailbox = match n.target.parse() {
            Ok(to) => to,
            Err(e) => return Outcome::NotSent(format!("{:?} is not an address: {e}", n.target)),
        };
        let body = serde_json::from_str::<serde_json::Value>(&n.payload)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| n.payload.clone());
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(n.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(body);
        let message = match message {
            Ok(m) => m,
            Err(e) => return Outcome::NotSent(format!("cannot build the e-mail: {e}")),
        };
        match transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(e) => Outcome::Failed(format!("SMTP: {e}")),
        }
    }
}

/// Claims due deliveries, sends them, records each outcome (those that finish together in one
/// transaction). Returns how many were claimed.
pub async fn deliver_due(db: &Db, sender: &Sender) -> Result<usize, AppError> {
    let claimed = notifications::claim_due(db, BATCH).await?;
    let sends = claimed.iter().map(|n| async move {
        let outcome = sender.send(n).await;
        if let Outcome::Failed(why) | Outcome::NotSent(why) = &outcome {
            tracing::warn!(notification = %n.id, alert = %n.alert_id, kind = %n.kind, "notification not delivered: {why}");
        }
        (n, outcome)
    });
    outbox::as_they_finish(sends, |done| notifications::finish(db, done)).await?;
    Ok(claimed.len())
}
