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
        match notifications::moot(ctx, n).await {
            Ok(Some(why)) => return Outcome::NotSent(why),
            Ok(None) => {}
            Err(e) => {
                e.log_if_unexpected();
                return Outcome::Failed("the alert could not be read".into());
            }
        }
        let digest = match notifications::gate(ctx, n).await {
            Ok(notifications::Gate::Send) => None,
            Ok(notifications::Gate::Digest(folded)) => Some(folded),
            Ok(notifications::Gate::Folded) => return Outcome::Folded,
            Err(e) => {
                e.log_if_unexpected();
                return Outcome::Failed("the throttle could not be read".into());
            }
        };
        let digest = digest.as_deref();
        match n.kind.as_str() {
            kind if notifications::is_url_kind(kind) => self.post(ctx, n, digest).await,
            _ => self.mail(ctx, n, digest).await,
        }
    }

    /// Posts through the outbound guard. Failures name the host at most, never the path or
    /// query of the target (which often hold a token): they reach the alert log. The body is the
    /// versioned JSON of [`notice::Notice::webhook_body`], built now; a rule with a signing
    /// secret signs it (`Glidepath-Signature`, see [`signature`]). SLACK and TEAMS rules get the
    /// product's message instead ([`super::chat`]), unsigned.
    async fn post(
        &self,
        ctx: &Ctx,
        n: &notification::Model,
        digest: Option<&[notification::Model]>,
    ) -> Outcome {
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
        let notice = match notice_of(ctx, &self.public_url, n, digest).await {
            Ok(Some(notice)) => notice,
            Ok(None) => return Outcome::NotSent("the alert no longer exists".into()),
            Err(e) => {
                e.log_if_unexpected();
                return Outcome::Failed("the alert could not be read".into());
            }
        };
        let body = match n.kind.as_str() {
            notifications::SLACK => super::chat::slack_message(&notice),
            notifications::TEAMS => super::chat::teams_message(&notice),
            _ => notice.webhook_body(&n.id, n.created_at),
        }
        .to_string();
        let secret = match notifications::signing_secret(ctx, n).await {
            Ok(secret) => secret,
            Err(_) => {
                return Outcome::NotSent(
                    "the signing secret does not decrypt with the server key".into(),
                );
            }
        };
        let http = match self.guard.client_for(&url).await {
            Ok(http) => http,
            Err(why) => return Outcome::NotSent(format!("refused: {why}")),
        };
        let mut request = http
            .post(url)
            .header("content-type", "application/json")
            .header("glidepath-delivery", n.id.as_str())
            .header("glidepath-event", n.event.as_str());
        if let Some(secret) = &secret {
            let t = ctx.now().timestamp();
            request = request.header(
                "glidepath-signature",
                signature(secret.expose_secret(), t, &body),
            );
        }
        let response = request.body(body).send().await;
        let what = notifications::channel_name(&n.kind);
        let what = if what == "webhook" {
            "the webhook".to_string()
        } else {
            format!("the {what} webhook")
        };
        let mut response = match response {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Outcome::Failed(format!(
                    "{what} did not answer within {} ms",
                    self.guard.timeout.as_millis()
                ));
            }
            Err(_) => return Outcome::Failed(format!("{what} could not be reached")),
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
                "{what} answered HTTP {status} (redirects are not followed)"
            ))
        } else {
            Outcome::Failed(format!("{what} answered HTTP {status}"))
        }
    }

    async fn mail(
        &self,
        ctx: &Ctx,
        n: &notification::Model,
        digest: Option<&[notification::Model]>,
    ) -> Outcome {
        let Some((transport, from)) = &self.smtp else {
            return Outcome::NotSent(notifications::NO_SMTP.into());
        };
        let to: Mailbox = match n.target.parse() {
            Ok(to) => to,
            Err(e) => return Outcome::NotSent(format!("{:?} is not an address: {e}", n.target)),
        };
        let notice = match notice_of(ctx, &self.public_url, n, digest).await {
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

/// The notice of delivery `n`; for a digest, of the one notification it folded (sent as it
/// was, only later), or listing the several it folded.
async fn notice_of(
    ctx: &Ctx,
    public_url: &url::Url,
    n: &notification::Model,
    digest: Option<&[notification::Model]>,
) -> Result<Option<notice::Notice>, AppError> {
    Ok(match digest {
        None => notice::for_delivery(ctx, public_url, n).await?,
        Some([one]) => notice::for_delivery(ctx, public_url, one).await?,
        Some(folded) => notice::for_delivery(ctx, public_url, n)
            .await?
            .map(|notice| notice.into_digest(folded)),
    })
}

/// The `Glidepath-Signature` header of a webhook body sent at unix time `t`:
/// `t=<t>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the rule's secret>` (the scheme of Stripe's
/// and GitHub's webhooks: the receiver recomputes it, compares in constant time and refuses an
/// old `t`, so a captured delivery cannot be replayed later).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            super::signature("whsec_test", 1_700_000_000, r#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }
}
