//! The ServiceNow sync task: every tick, or as soon as a commit queues an update, it sends the
//! queued ServiceNow updates: `PATCH /api/now/table/incident/{sys_id}` with no transaction
//! open, then records the outcome. Network errors, timeouts, 408, 5xx and answers that are not
//! the Table API are retried with backoff and jitter; a 429 waits at least as long as
//! `Retry-After` (or `X-RateLimit-Reset`) says; any other 4xx fails the update with ServiceNow's
//! message. The client caps answer size and time, so nothing an instance sends can hang or
//! crash the worker.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sea_orm::ActiveEnum;

use super::{Module, Wait};
use crate::entity::servicenow_sync_update as row;
use crate::error::AppError;
use crate::service::sync::{self, Outcome, RetryPolicy};
use crate::service::{Ctx, outbox, servicenow};
use crate::servicenow::client::{self, Client, SnError};
use crate::servicenow::sync::{IncidentPatch, UserRef};

/// Updates claimed at once (one per incident); the client lets 4 per instance run together.
pub const BATCH: u64 = 32;

/// The shortest pause of the sync task between two looks.
const MIN_SYNC_PAUSE: Duration = Duration::from_millis(10);

pub struct SyncWorker {
    pub ctx: Ctx,
    pub retry: RetryPolicy,
    /// How long one request may take (the client's timeout).
    pub request_timeout: Duration,
}

impl SyncWorker {
    /// Long enough for a whole batch queued behind the per-instance limit (each update a user
    /// look-up and a PATCH, each bounded by the timeout), so only a crashed process's claim
    /// ever lapses; then its updates are tried again by whichever process comes first.
    fn claim_for(&self) -> chrono::TimeDelta {
        let per_request = chrono::TimeDelta::from_std(self.request_timeout)
            .unwrap_or(chrono::TimeDelta::seconds(10));
        let rounds = BATCH.div_ceil(client::MAX_IN_FLIGHT as u64) as i32;
        per_request * (2 * rounds) + chrono::TimeDelta::seconds(1)
    }

    /// Claims due updates, sends them, records each outcome (those that finish together in one
    /// transaction). Returns how many were claimed.
    pub async fn deliver_due(&self) -> Result<usize, AppError> {
        let until = self.ctx.now() + self.claim_for();
        let claimed = sync::claim_due(&self.ctx, BATCH, until).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let mut clients: HashMap<String, Result<Arc<Client>, Outcome>> = HashMap::new();
        for r in &claimed {
            if !clients.contains_key(&r.alert_source_id) {
                let client = self.client(&r.alert_source_id).await;
                clients.insert(r.alert_source_id.clone(), client);
            }
        }
        let sends = claimed.iter().map(|r| {
            let client = clients.get(&r.alert_source_id);
            async move {
                let outcome = match client {
                    Some(Ok(client)) => send(&self.ctx, client, r).await,
                    Some(Err(why)) => copy(why),
                    None => Outcome::Failed("no ServiceNow connection".into()),
                };
                if !matches!(outcome, Outcome::Synced { .. }) {
                    tracing::warn!(update = %r.id, alert = %r.alert_id, kind = %r.kind.to_value(), ?outcome, "ServiceNow update not delivered");
                }
                (r, outcome)
            }
        });
        outbox::as_they_finish(sends, |done| sync::finish(&self.ctx, done, &self.retry)).await?;
        Ok(claimed.len())
    }

    /// Sends every ServiceNow update that is due, a batch at a time; says when the next retry is
    /// due, so a short backoff is not stretched to a whole tick.
    async fn sync_all_due(&self) -> Result<Option<Duration>, AppError> {
        loop {
            let claimed = self.deliver_due().await?;
            if (claimed as u64) < BATCH {
                break;
            }
        }
        let next = sync::next_attempt(&self.ctx.db).await?;
        // Never a busy loop, whatever the clock or the rows say.
        Ok(next.map(|at| {
            (at - self.ctx.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(MIN_SYNC_PAUSE)
        }))
    }

    async fn client(&self, source_id: &str) -> Result<Arc<Client>, Outcome> {
        match servicenow::connect(&self.ctx, source_id, false).await {
            Ok(Ok(c)) => Ok(Arc::new(c)),
            Ok(Err(e)) => Err(classify(e, self.ctx.now())),
            Err(AppError::NotFound(what)) => Err(Outcome::Failed(format!("{what} not found"))),
            Err(AppError::Upstream(why)) => Err(Outcome::Retry {
                error: why,
                not_before: None,
            }),
            Err(other) => Err(Outcome::Retry {
                error: format!("{other:?}"),
                not_before: None,
            }),
        }
    }
}

impl Module for SyncWorker {
    fn name(&self) -> &'static str {
        "servicenow sync"
    }

    /// Woken by the commits that queue updates.
    fn wait(&self) -> Wait {
        Wait::TickOrWake(Arc::clone(&self.ctx.sync_wake))
    }

    fn run_once(&self) -> BoxFuture<'_, Result<Option<Duration>, AppError>> {
        Box::pin(self.sync_all_due())
    }
}

fn copy(o: &Outcome) -> Outcome {
    match o {
        Outcome::Synced { note } => Outcome::Synced { note: note.clone() },
        Outcome::Failed(e) => Outcome::Failed(e.clone()),
        Outcome::Retry { error, not_before } => Outcome::Retry {
            error: error.clone(),
            not_before: *not_before,
        },
        Outcome::Wait(e) => Outcome::Wait(e.clone()),
    }
}

/// What an error means for the update: retry later, or give up with ServiceNow's message.
pub fn classify(e: SnError, now: DateTime<Utc>) -> Outcome {
    let retry = |error: String| Outcome::Retry {
        error,
        not_before: None,
    };
    match e {
        SnError::RateLimited { retry_after } => Outcome::Retry {
            error: e.to_string(),
            not_before: retry_after.map(|s| now + chrono::TimeDelta::seconds(s as i64)),
        },
        // The connection waits for an admin: the update waits with it, its attempt not counted.
        SnError::NeedsAttention(_) | SnError::Reconfigured => Outcome::Wait(e.to_string()),
        SnError::Timeout(_)
        | SnError::Unreachable(_)
        | SnError::NotServiceNow
        | SnError::TooLarge
        | SnError::Internal(_) => retry(e.to_string()),
        SnError::Server { status, .. } if status >= 500 || status == 408 => retry(e.to_string()),
        SnError::Forbidden { .. } => Outcome::Failed(
            "ServiceNow refused the update (403): the user may not write this incident".into(),
        ),
        SnError::NotFound => {
            Outcome::Failed("the incident does not exist in ServiceNow (404)".into())
        }
        other => Outcome::Failed(other.to_string()),
    }
}

async fn send(ctx: &Ctx, client: &Client, r: &row::Model) -> Outcome {
    let IncidentPatch {
        assign_to,
        mut fields,
    } = match IncidentPatch::from_stored(&r.payload) {
        Ok(p) => p,
        Err(why) => return Outcome::Failed(why),
    };
    let mut note = None;
    if let Some(UserRef { email, .. }) = assign_to {
        let users = &ctx.servicenow.users;
        match users.by_email(client, client.instance(), &email).await {
            Ok(Some(user)) => {
                fields.assigned_to = Some(user.sys_id);
            }
            Ok(None) => {
                note = Some(format!(
                    "No ServiceNow user has the e-mail {email}: the incident's assigned_to was left alone"
                ));
            }
            Err(e) => return classify(e, ctx.now()),
        }
    }
    if fields.is_empty() {
        return Outcome::Synced { note };
    }
    let body = match serde_json::to_value(&fields) {
        Ok(body) => body,
        Err(e) => return Outcome::Failed(format!("the update cannot be sent: {e}")),
    };
    match client.patch("incident", &r.incident_sys_id, &body).await {
        Ok(_) => Outcome::Synced { note },
        Err(e) => classify(e, ctx.now()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_are_retried_and_refusals_fail() {
        let retried = |e| matches!(classify(e, Utc::now()), Outcome::Retry { .. });
        assert!(retried(SnError::Timeout(10)));
        assert!(retried(SnError::NotServiceNow));
        assert!(retried(SnError::Server {
            status: 503,
            message: "x".into()
        }));
        assert!(retried(SnError::Server {
            status: 408,
            message: "x".into()
        }));
        assert!(retried(SnError::RateLimited { retry_after: None }));
        assert!(!retried(SnError::Server {
            status: 400,
            message: "Data Policy Exception".into()
        }));
        assert!(!retried(SnError::Unauthorized));
        assert!(!retried(SnError::NotFound));
        assert!(matches!(
            classify(SnError::NeedsAttention("x".into()), Utc::now()),
            Outcome::Wait(_)
        ));
    }

    #[test]
    fn a_429_sets_the_earliest_next_attempt() {
        let before = Utc::now();
        let classified = classify(
            SnError::RateLimited {
                retry_after: Some(3),
            },
            before,
        );
        match classified {
            Outcome::Retry {
                not_before: Some(at),
                ..
            } => assert!(at >= before + chrono::TimeDelta::seconds(3)),
            other => panic!("expected a retry, got {other:?}"),
        }
    }
}
