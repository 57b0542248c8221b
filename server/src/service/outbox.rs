//! What every durable outbox here shares (notifications, ServiceNow sync): rows move
//! `PENDING → (claimed: attempt counted, next_attempt_at = claim deadline) → done | failed | due
//! again later`. A claim is its own short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL;
//! SQLite's single writer already serialises it), the send runs with no transaction open, and
//! the outcome is written only if the claim is still ours (same status, same attempt count), so
//! a process that stalled past its claim never overwrites the one that took the row over. The
//! outcomes of sends that finish together are written in one transaction ([`as_they_finish`],
//! [`settle_all`]).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    ModelTrait, QueryFilter, QueryOrder, QuerySelect, Value,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, SimpleExpr},
};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};

use super::{Actor, log};
use crate::clock::Clock;
use crate::db::{AppendOnly, WriteJob};
use crate::domain::LogKind;
use crate::error::AppError;
use crate::service::Ctx;

/// A row status every outbox has.
pub const PENDING: &str = "PENDING";

/// The columns the shared code works on.
pub struct Columns<E: EntityTrait> {
    pub id: E::Column,
    pub status: E::Column,
    pub attempts: E::Column,
    pub next_attempt_at: E::Column,
}

/// Claims up to `limit` pending rows whose attempt is due and that satisfy `extra`, oldest due
/// first: each gets its attempt counted and `next_attempt_at` moved to `claim_until`. Returns
/// them as claimed.
pub async fn claim_due<E>(
    ctx: &Ctx,
    cols: &Columns<E>,
    extra: Condition,
    limit: u64,
    claim_until: DateTime<Utc>,
) -> Result<Vec<E::Model>, AppError>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let db = &ctx.db;
    let txn = db.begin_write().await?;
    let mut query = E::find()
        .filter(cols.status.eq(PENDING))
        .filter(cols.next_attempt_at.lte(ctx.now()))
        .filter(extra)
        .order_by_asc(cols.next_attempt_at)
        .order_by_asc(cols.id)
        .limit(limit);
    if db.backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let due = query.all(&txn).await?;
    if due.is_empty() {
        txn.commit().await?;
        return Ok(due);
    }
    let ids: Vec<Value> = due.iter().map(|m| m.get(cols.id)).collect();
    E::update_many()
        .col_expr(cols.attempts, Expr::col(cols.attempts).add(1))
        .col_expr(cols.next_attempt_at, Expr::value(Some(claim_until)))
        .filter(cols.id.is_in(ids.clone()))
        .exec(&txn)
        .await?;
    let claimed = E::find()
        .filter(cols.id.is_in(ids))
        .order_by_asc(cols.id)
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(claimed)
}

/// How a claimed row's send went, as it is to be written: the changes to the row, and the alert
/// log entry that goes with them.
pub struct Settlement<C> {
    pub id: String,
    /// The attempt count of the claim: the changes are written only if the claim is still it.
    pub attempts: i32,
    pub alert_id: String,
    pub changes: Vec<(C, SimpleExpr)>,
    pub log: Option<(LogKind, String)>,
}

/// Writes `settlements` in one writing transaction (on SQLite, on the batching writer beside the
/// webhook's events), each only if its claim is still this process's: a process that stalled
/// past its claim never overwrites the one that took the row over.
///
/// One transaction for the lot, not one per row: on SQLite every writing transaction takes the
/// one writer, and a batch of deliveries that all finish at once (an unreachable host) would
/// otherwise queue dozens of them ahead of the webhook's events. The price: when the write fails,
/// none of the lot is recorded, and all of it is sent again once the claim lapses (delivery is
/// at least once either way).
pub async fn settle_all<E>(
    ctx: &Ctx,
    cols: &'static Columns<E>,
    settlements: Vec<Settlement<E::Column>>,
) -> Result<(), AppError>
where
    E: EntityTrait,
    E::Column: Sync,
{
    let db = &ctx.db;
    if settlements.is_empty() {
        return Ok(());
    }
    let clock = Arc::clone(&ctx.clock);
    db.write(Settle {
        cols,
        settlements,
        clock,
    })
    .await
}

struct Settle<E: EntityTrait> {
    cols: &'static Columns<E>,
    settlements: Vec<Settlement<E::Column>>,
    /// Stamps the log entries when the job runs (on SQLite's writer, after any wait).
    clock: Arc<dyn Clock>,
}

impl<E> WriteJob for Settle<E>
where
    E: EntityTrait,
    E::Column: Sync,
{
    type Output = ();

    fn run<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        append: &'a mut AppendOnly,
    ) -> BoxFuture<'a, Result<(), AppError>> {
        Box::pin(async move {
            for s in &self.settlements {
                let mut update = E::update_many()
                    .filter(self.cols.id.eq(s.id.as_str()))
                    .filter(self.cols.status.eq(PENDING))
                    .filter(self.cols.attempts.eq(s.attempts));
                for (col, expr) in &s.changes {
                    update = update.col_expr(*col, expr.clone());
                }
                let still_ours = update.exec(txn).await?.rows_affected == 1;
                if still_ours && let Some((kind, message)) = &s.log {
                    let (id, message) = (&s.alert_id, message.clone());
                    let entry = log::entry(self.clock.now(), id, *kind, message, &Actor::System);
                    append.logs.push(entry);
                }
            }
            Ok(())
        })
    }
}

/// Runs `sends` concurrently and hands their results to `record` as they come in: every result
/// that is in when `record` is free goes in one call. Sends that finish together (the common
/// case) are recorded together, and a slow send holds back neither the others nor their record;
/// the sends go on while `record` runs. A failed `record` cancels no send: the rest are still
/// recorded, and the first error is returned once all are in.
pub async fn as_they_finish<T, S, R, RFut>(
    sends: impl IntoIterator<Item = S>,
    mut record: R,
) -> Result<(), AppError>
where
    S: Future<Output = T>,
    R: FnMut(Vec<T>) -> RFut,
    RFut: Future<Output = Result<(), AppError>>,
{
    let mut pending: FuturesUnordered<S> = sends.into_iter().collect();
    let mut done = Vec::new();
    let mut first_error = None;
    loop {
        if done.is_empty() {
            match pending.next().await {
                Some(result) => done.push(result),
                None => return first_error.map_or(Ok(()), Err),
            }
        }
        while let Some(Some(result)) = pending.next().now_or_never() {
            done.push(result);
        }
        let recording = record(std::mem::take(&mut done));
        tokio::pin!(recording);
        loop {
            tokio::select! {
                recorded = &mut recording => {
                    if let Err(e) = recorded {
                        if first_error.is_some() {
                            tracing::warn!(error = %e, "outcomes not recorded; their rows are tried again when the claim lapses");
                        } else {
                            first_error = Some(e);
                        }
                    }
                    break;
                }
                Some(result) = pending.next(), if !pending.is_empty() => done.push(result),
            }
        }
    }
}

/// `base` after the first failure, doubling with each attempt up to `cap`; `jitter` (0 to 1)
/// takes a random share off, so many rows failing together do not come back together.
pub fn backoff(attempts: i32, base: TimeDelta, cap: TimeDelta, jitter: f64) -> TimeDelta {
    let factor = 1i32 << (attempts.clamp(1, 20) - 1);
    let delay = base.checked_mul(factor).unwrap_or(cap).min(cap);
    if jitter <= 0.0 {
        return delay;
    }
    let keep = 1.0 - rand::thread_rng().gen_range(0.0..jitter.min(1.0));
    TimeDelta::microseconds((delay.num_microseconds().unwrap_or(i64::MAX) as f64 * keep) as i64)
}

/// `Expr::value(None)` for a nullable timestamp column.
pub fn no_time() -> SimpleExpr {
    Expr::value(Option::<DateTime<Utc>>::None)
}

/// Whether a connection is PostgreSQL (for lock clauses built by hand).
pub fn is_postgres<C: ConnectionTrait>(conn: &C) -> bool {
    conn.get_database_backend() == DbBackend::Postgres
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let base = TimeDelta::seconds(2);
        let cap = TimeDelta::seconds(30);
        let secs: Vec<i64> = (1..=6)
            .map(|n| backoff(n, base, cap, 0.0).num_seconds())
            .collect();
        assert_eq!(secs, vec![2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(0, base, cap, 0.0), base);
    }

    #[test]
    fn jitter_only_shortens() {
        for _ in 0..100 {
            let d = backoff(3, TimeDelta::seconds(2), TimeDelta::seconds(60), 0.5);
            assert!(
                d <= TimeDelta::seconds(8) && d >= TimeDelta::seconds(4),
                "{d}"
            );
        }
    }

    /// Results that are in together are recorded together; a slow send is recorded on its own
    /// and later; nothing is lost or recorded twice; an error from `record` is returned after
    /// every send is in and recorded.
    #[tokio::test]
    async fn results_are_recorded_as_they_come_in() {
        use std::time::Duration;
        let sends = [(1, 0), (2, 0), (3, 0), (4, 50)].map(|(id, ms)| async move {
            if ms > 0 {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            id
        });
        let mut calls: Vec<Vec<i32>> = Vec::new();
        as_they_finish(sends, |mut done| {
            done.sort();
            calls.push(done);
            async { Ok(()) }
        })
        .await
        .unwrap();
        assert_eq!(calls, vec![vec![1, 2, 3], vec![4]]);

        let sends = [(1, 0), (2, 50)].map(|(id, ms)| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            id
        });
        let mut recorded = Vec::new();
        let failed = as_they_finish(sends, |done| {
            recorded.extend(done.iter().copied());
            let first = done.contains(&1);
            async move {
                if first {
                    Err(AppError::Conflict("record failed".into()))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        assert!(failed.is_err());
        assert_eq!(recorded, vec![1, 2]);
    }
}
