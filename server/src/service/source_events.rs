//! What an alert source's webhook has received: when the last event arrived, from which
//! ServiceNow instance (`server_url`), and how many events came to each outcome over the last 24
//! hours, rejected ones included with the last reason. It is what the source's set-up page shows
//! to confirm that the business rule reaches Glidepath.
//!
//! Events are counted per source and hour (`db::event_counts`): an applied event in the
//! transaction that applies it (`alerts::ingest`), an echo or a rejected event in a small
//! transaction of its own (on SQLite it shares the writer's batch with the other events). A
//! request refused for a wrong or missing credential counts as rejected on its source's row of
//! the hour: it never adds a row. An unknown integration key names no source and is not counted.
//! The clean-up task drops hours older than [`KEEP_DAYS`] days, except each source's latest, so
//! the time of the last event is never forgotten.

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::db::event_counts::{Counted, EventCount};
use crate::db::{AppendOnly, Db, WriteJob};
use crate::entity::webhook_event_hour as hour;
use crate::error::AppError;
use crate::service::Ctx;

/// Hours kept (besides each source's latest): the last rejection is shown for as long.
pub const KEEP_DAYS: i64 = 8;

/// A webhook event as it arrived, to count once its outcome is known.
#[derive(Clone, Debug)]
pub struct Received {
    pub at: DateTime<Utc>,
    /// The payload's `server_url` (the instance), when it carried a valid one.
    pub server_url: Option<String>,
}

impl Received {
    pub fn count(&self, source_id: &str, outcome: Counted, reason: Option<String>) -> EventCount {
        EventCount {
            alert_source_id: source_id.to_string(),
            at_ms: self.at.timestamp_millis(),
            outcome,
            server_url: self.server_url.clone(),
            reason,
        }
    }
}

/// Counts one event outside an ingest (an echo, a rejected request) in a transaction of its own.
/// A failure is logged, never returned: the event itself was already answered for.
pub async fn record(ctx: &Ctx, event: EventCount) {
    if let Err(e) = ctx.db.write(Count(event)).await {
        tracing::warn!(error = ?e, "a webhook event could not be counted");
    }
}

/// A rejected event of `source_id` (before or after its body was read).
pub async fn record_rejected(ctx: &Ctx, source_id: &str, reason: String) {
    let at = ctx.now();
    let received = Received {
        at,
        server_url: None,
    };
    record(
        ctx,
        received.count(source_id, Counted::Rejected, Some(reason)),
    )
    .await
}

struct Count(EventCount);

impl WriteJob for Count {
    type Output = ();

    fn run<'a>(
        &'a self,
        _txn: &'a DatabaseTransaction,
        append: &'a mut AppendOnly,
    ) -> BoxFuture<'a, Result<(), AppError>> {
        Box::pin(async move {
            append.event_counts.push(self.0.clone());
            Ok(())
        })
    }
}

/// Events counted by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: i64,
    pub accepted: i64,
    pub resolved: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
}

/// A source's webhook activity.
#[derive(Clone, Debug, Default)]
pub struct Activity {
    pub last_event_at: Option<DateTime<Utc>>,
    pub last_outcome: Option<Counted>,
    /// The `server_url` of the latest applied event (of the kept hours).
    pub last_server_url: Option<String>,
    /// The current hour and the 23 before it.
    pub counts: Counts,
    pub last_rejected_at: Option<DateTime<Utc>>,
    pub last_rejection: Option<String>,
}

fn from_ms(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

/// The source's activity at `now`: one read of its kept hours.
pub async fn activity(db: &Db, source_id: &str, now: DateTime<Utc>) -> Result<Activity, AppError> {
    let rows = hour::Entity::find()
        .filter(hour::Column::AlertSourceId.eq(source_id))
        .order_by_desc(hour::Column::Hour)
        .limit((KEEP_DAYS * 24 + 2) as u64)
        .all(&db.read)
        .await?;
    let mut a = Activity::default();
    let current_hour = now.timestamp().div_euclid(3600) * 3600;
    let since = current_hour - 23 * 3600;
    if let Some(latest) = rows.first() {
        a.last_event_at = from_ms(latest.last_event_at);
        a.last_outcome = Counted::parse(&latest.last_outcome);
    }
    for r in &rows {
        if r.hour >= since {
            a.counts.created += r.created;
            a.counts.accepted += r.accepted;
            a.counts.resolved += r.resolved;
            a.counts.updated += r.updated;
            a.counts.unchanged += r.unchanged;
            a.counts.rejected += r.rejected;
        }
        if a.last_server_url.is_none() {
            a.last_server_url = r.last_server_url.clone();
        }
        if a.last_rejected_at.is_none()
            && let Some(at) = r.last_rejected_at
        {
            a.last_rejected_at = from_ms(at);
            a.last_rejection = r.last_rejection.clone();
        }
    }
    Ok(a)
}

/// Deletes hours older than [`KEEP_DAYS`] days, except each source's latest; returns how many.
pub async fn prune(ctx: &Ctx) -> Result<u64, AppError> {
    let db = &ctx.db;
    let cutoff = (ctx.now() - TimeDelta::days(KEEP_DAYS)).timestamp();
    let backend = db.backend();
    let p = match backend {
        sea_orm::DbBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!(
        "DELETE FROM webhook_event_hours WHERE hour < {p} AND hour < \
           (SELECT MAX(h.hour) FROM webhook_event_hours h \
            WHERE h.alert_source_id = webhook_event_hours.alert_source_id)"
    );
    let done = db
        .write
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [cutoff.into()],
        ))
        .await?;
    Ok(done.rows_affected())
}
