//! What every durable outbox here shares (notifications, ServiceNow sync): rows move
//! `PENDING → (claimed: attempt counted, next_attempt_at = claim deadline) → done | failed | due
//! again later`. A claim is its own short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL;
//! SQLite's single writer already serialises it), the send runs with no transaction open, and
//! the outcome is written only if the claim is still ours (same status, same attempt count), so
//! a process that stalled past its claim never overwrites the one that took the row over.

use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    ModelTrait, QueryFilter, QueryOrder, QuerySelect, Value,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType, SimpleExpr},
};

use super::now;
use crate::db::Db;
use crate::error::AppError;

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
    db: &Db,
    cols: &Columns<E>,
    extra: Condition,
    limit: u64,
    claim_until: DateTime<Utc>,
) -> Result<Vec<E::Model>, AppError>
where
    E: EntityTrait,
    E::Model: Sync,
{
    let txn = db.begin_write().await?;
    let mut query = E::find()
        .filter(cols.status.eq(PENDING))
        .filter(cols.next_attempt_at.lte(now()))
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

/// Writes the outcome of a claimed row, in the caller's transaction, only if the claim is still
/// this one's. Returns whether it was (the caller then logs the outcome).
pub async fn settle<E>(
    txn: &DatabaseTransaction,
    cols: &Columns<E>,
    id: &str,
    claimed_attempts: i32,
    changes: Vec<(E::Column, SimpleExpr)>,
) -> Result<bool, AppError>
where
    E: EntityTrait,
{
    let mut update = E::update_many()
        .filter(cols.id.eq(id))
        .filter(cols.status.eq(PENDING))
        .filter(cols.attempts.eq(claimed_attempts));
    for (col, expr) in changes {
        update = update.col_expr(col, expr);
    }
    Ok(update.exec(txn).await?.rows_affected == 1)
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
}
