//! The delivery task: every tick it sends the notifications that are due, e-mail over SMTP
//! (lettre), webhooks as a JSON POST (reqwest). No transaction is open while a send runs.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::{Module, Wait};
use crate::entity::notification;
use crate::error::AppError;
use crate::net_guard::{Guard, MAX_ANSWER};
use crate::secrets::Cipher;
use crate::service::Ctx;
use crate::service::notice;
use crate::service::notifications::{self, Outcome};
use crate::service::outbox;

/// Deliveries claimed at once; they are sent concurrently.
pub const BATCH: u64 = 50;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Delivery {
    pub ctx: Ctx,
    pub sender: Sender,
}

impl Module for Delivery {
    fn name(&self) -> &'static str {
        "delivery"
    }

    fn wait(&self) -> Wait {
        Wait::Tick
    }

    fn run_once(&self) -> BoxFuture<'_, Result<Option<Duration>, AppError>> {
        Box::pin(async move {
            deliver_all_due(&self.ctx, &self.sender)
                .await
                .map(|()| None)
        })
    }
}

/// Sends every delivery that is due, a batch at a time.
async fn deliver_all_due(ctx: &Ctx, sender: &Sender) -> Result<(), AppError> {
    loop {
        let claimed = deliver_due(ctx, sender).await?;
        if (claimed as u64) < BATCH {
            return Ok(());
        }
    }
}

pub struct Sender {
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    guard: Guard,
    /// Opens webhook targets, sealed at rest, at send time.
    cipher: Arc<Cipher>,
    /// `GLIDEPATH_PUBLIC_URL`: the base of the links in notifications.
    public_url: url::Url,
    templates: super::email::Templates,
}

/// Refuses an SMTP URL whose credentials would cross the network unencrypted: `smtp://` with a
/// user or password and without `tls=required`, unless `allow_plaintext` says so.
pub fn check_smtp_url(url: &str, allow_plaintext: bool) -> anyhow::Result<()> {
    let parsed =
        url::Url::parse(url).map_err(|_| anyhow::anyhow!("GLIDEPATH_SMTP_URL is not a URL"))?;
    let has_credentials = !parsed.username().is_empty() || parsed.password().is_some();
    let tls_required = parsed
        .query_pairs()
        .any(|(k, v)| k == "tls" && v == "required");
    if parsed.scheme() == "smtp" && has_credentials && !tls_required && !allow_plaintext {
        anyhow::bail!(
            "GLIDEPATH_SMTP_URL sends credentials over an unencrypted connection: use smtps:// or add ?tls=required (or set GLIDEPATH_SMTP_ALLOW_PLAINTEXT_CREDENTIALS)"
        );
    }
    Ok(())
}

impl Sender {
    pub fn new(
        smtp_url: Option<&SecretString>,
        from: &str,
        allow_plaintext_credentials: bool,
        guard: Guard,
        cipher: Arc<Cipher>,
    ) -> anyhow::Result<Sender> {
        let smtp = match smtp_url {
            Some(url) => {
                check_smtp_url(url.expose_secret(), allow_plaintext_credentials)?;
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
        Ok(Sender {
            smtp,
            guard,
            cipher,
            public_url: url::Url::parse("http://localhost/").expect("a URL"),
            templates: super::email::Templates::new(),
        })
    }

    /// The base of the links notifications carry (`GLIDEPATH_PUBLIC_URL`, known once the server
    /// listens).
    pub fn with_public_url(mut self, public_url: url::Url) -> Sender {
        self.public_url = public_url;
        self
    }

    async fn send(&self, ctx: &Ctx, n: &notification::Model) -> Outcome {
        match n.kind.as_str() {
            notifications::WEBHOOK => self.post(n).await,
            _ => self.mail(ctx, n).await,
        }
    }

    /// Posts through the outbound guard. Failures name the host at most, never the path or
    /// query of the target (which often hold a token): they reach the alert log.
    async fn post(&self, n: &notification::Model) -> Outcome {
        let target = if notifications::is_plain_webhook(&n.target) {
            SecretString::from(n.target.clone())
        } else {
            match self
                .cipher
                .decrypt(&n.target, &notifications::delivery_context(n))
            {
                Ok(target) => target,
                Err(_) => {
                    return Outcome::NotSent(
                        "the target does not decrypt with the server key".into(),
                    );
                }
            }
        };
        let url = match url::Url::parse(target.expose_secret()) {
            Ok(url) => url,
            Err(_) => return Outcome::NotSent("the target is not a URL".into()),
        };
        let http = match self.guard.client_for(&url).await {
            Ok(http) => http,
            Err(why) => return Outcome::NotSent(format!("refused: {why}")),
        };
        let response = http
            .post(url)
            .header("content-type", "application/json")
            .body(n.payload.clone())
            .send()
            .await;
        let mut response = match response {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Outcome::Failed(format!(
                    "the webhook did not answer within {} ms",
                    self.guard.timeout.as_millis()
                ));
            }
            Err(_) => return Outcome::Failed("the webhook could not be reached".into()),
        };
        let status = response.status();
        // Read (and drop) at most MAX_ANSWER bytes, so the connection can be reused.
        let mut read = 0usize;
        while let Ok(Some(chunk)) = response.chunk().await {
            read += chunk.len();
            if read > MAX_ANSWER {
                break;
            }
        }
        if status.is_success() {
            Outcome::Sent
        } else if status.is_redirection() {
            Outcome::Failed(format!(
                "the webhook answered HTTP {status} (redirects are not followed)"
            ))
        } else {
            Outcome::Failed(format!("the webhook answered HTTP {status}"))
        }
    }

    async fn mail(&self, ctx: &Ctx, n: &notification::Model) -> Outcome {
        let Some((transport, from)) = &self.smtp else {
            return Outcome::NotSent(notifications::NO_SMTP.into());
        };
        let to: Mailbox = match n.target.parse() {
            Ok(to) => to,
            Err(e) => return Outcome::NotSent(format!("{:?} is not an address: {e}", n.target)),
        };
        let notice = match notice::for_delivery(ctx, &self.public_url, n).await {
            Ok(Some(notice)) => notice,
            Ok(None) => return Outcome::NotSent("the alert no longer exists".into()),
            Err(e) => {
                e.log_if_unexpected();
                return Outcome::Failed("the alert could not be read".into());
            }
        };
        let host = self.public_url.host_str().unwrap_or("glidepath.invalid");
        let message =
            match super::email::message(&self.templates, &notice, &n.id, host, from.clone(), to) {
                Ok(m) => m,
                Err(why) => return Outcome::NotSent(why),
            };
        match transport.send(message).await {
            Ok(_) => Outcome::Sent,
            Err(e) => Outcome::Failed(format!("SMTP: {e}")),
        }
    }
}

/// Claims due deliveries, sends them, records each outcome (those that finish together in one
/// transaction). Returns how many were claimed.
pub async fn deliver_due(ctx: &Ctx, sender: &Sender) -> Result<usize, AppError> {
    let claimed = notifications::claim_due(ctx, BATCH).await?;
    let sends = claimed.iter().map(|n| async move {
        let outcome = sender.send(ctx, n).await;
        if let Outcome::Failed(why) | Outcome::NotSent(why) = &outcome {
            tracing::warn!(notification = %n.id, alert = %n.alert_id, kind = %n.kind, "notification not delivered: {why}");
        }
        (n, outcome)
    });
    outbox::as_they_finish(sends, |done| notifications::finish(ctx, done)).await?;
    Ok(claimed.len())
}
