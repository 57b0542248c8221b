//! SQLite's writer: one task on a thread of its own that runs the webhook's writing transactions
//! in batches (group commit).
//!
//! Every statement is a round trip to sqlx's connection thread. A transaction awaited on an HTTP
//! worker waits behind that worker's other requests at each of them, all the while holding the
//! one writer; here the next statement goes out as soon as the last one is answered.
//!
//! Jobs that are waiting when a transaction starts share it: one `BEGIN`, one `COMMIT`, and one
//! copy of each page they all change in the WAL, instead of one per job. Each job's answer is
//! handed back only once its transaction has committed. When a job fails inside a shared
//! transaction, that transaction is rolled back and each of its jobs runs again in a transaction
//! of its own, so one job's failure never undoes or fails another. That is why a job can run more
//! than once and takes `&self`.
//!
//! Rows that nothing inside a writing transaction reads back (alert log entries, notification
//! deliveries, ServiceNow updates) are not written by each job: a job hands them to the batch's
//! [`AppendOnly`], and the batch writes them with one multi-row `INSERT` per table just before it
//! commits. Ten events then cost one statement per such table instead of ten.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, Iterable,
};
use tokio::sync::{mpsc, oneshot};

use super::Db;
use crate::entity::{alert_log, notification, servicenow_sync_update};
use crate::error::AppError;

/// A writing transaction's work, given the open transaction; the caller commits. It must be
/// repeatable: a run whose transaction was rolled back leaves no trace, and it runs again. Rows
/// it adds to `append` are written in the same transaction, after it and before the commit.
pub trait WriteJob: Send + Sync + 'static {
    type Output: Send + 'static;
    fn run<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        append: &'a mut AppendOnly,
    ) -> BoxFuture<'a, Result<Self::Output, AppError>>;
}

/// Rows that no writing transaction reads back, collected from every job of a transaction and
/// written together just before it commits ([`AppendOnly::insert`]).
#[derive(Default)]
pub struct AppendOnly {
    pub logs: Vec<alert_log::ActiveModel>,
    pub notifications: Vec<notification::ActiveModel>,
    pub sync_updates: Vec<servicenow_sync_update::ActiveModel>,
    /// Webhook events to count ([`super::event_counts`]): one upsert per source and hour.
    pub event_counts: Vec<super::event_counts::EventCount>,
    /// Alerts whose journal is to be read now ([`super::journal_requests`]).
    pub journal_requests: Vec<super::journal_requests::JournalRequest>,
}

/// Bound parameters per statement at most: SQLite allows 32,766, PostgreSQL 65,535.
const MAX_PARAMS: usize = 30_000;

impl AppendOnly {
    /// Writes every row collected: one statement per non-empty table (more only for rows that
    /// would bind over [`MAX_PARAMS`] parameters in one).
    pub async fn insert<C: ConnectionTrait>(self, conn: &C) -> Result<(), DbErr> {
        insert_all(conn, self.logs).await?;
        insert_all(conn, self.notifications).await?;
        insert_all(conn, self.sync_updates).await?;
        super::event_counts::upsert(conn, self.event_counts).await?;
        super::journal_requests::upsert(conn, self.journal_requests).await
    }
}

/// Multi-row `INSERT`s of `rows`, none binding over [`MAX_PARAMS`] parameters.
async fn insert_all<A, C>(conn: &C, rows: Vec<A>) -> Result<(), DbErr>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    let per_row = <A::Entity as EntityTrait>::Column::iter().count().max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let part: Vec<A> = rows.by_ref().take((MAX_PARAMS / per_row).max(1)).collect();
        A::Entity::insert_many(part)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// At most this many jobs share one transaction.
const MAX_BATCH: usize = 64;
/// A job still queued after this long is answered with an error instead of run, as a caller
/// waiting for the writer connection would be (its pool's acquire timeout).
const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);

/// A queued job with the way back to its caller.
trait Queued: Send {
    /// Runs the job in `txn` and keeps its result; `false` when it failed (or panicked).
    fn run<'a>(
        &'a mut self,
        txn: &'a DatabaseTransaction,
        append: &'a mut AppendOnly,
    ) -> BoxFuture<'a, bool>;
    /// Hands the kept result to the caller, or `error` when the transaction did not commit.
    fn answer(self: Box<Self>, error: Option<AppError>);
    /// When the job was queued.
    fn queued_at(&self) -> Instant;
}

struct Pending<J: WriteJob> {
    job: J,
    result: Option<Result<J::Output, AppError>>,
    reply: oneshot::Sender<Result<J::Output, AppError>>,
    queued_at: Instant,
}

impl<J: WriteJob> Queued for Pending<J> {
    fn run<'a>(
        &'a mut self,
        txn: &'a DatabaseTransaction,
        append: &'a mut AppendOnly,
    ) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let run = self.job.run(txn, append);
            let result = match AssertUnwindSafe(run).catch_unwind().await {
                Ok(result) => result,
                Err(_) => Err(anyhow::anyhow!("a writing transaction panicked").into()),
            };
            let ok = result.is_ok();
            self.result = Some(result);
            ok
        })
    }

    fn answer(self: Box<Self>, error: Option<AppError>) {
        let result = match (error, self.result) {
            (Some(e), _) => Err(e),
            (None, Some(result)) => result,
            (None, None) => Err(anyhow::anyhow!("a writing transaction did not run").into()),
        };
        // The caller may have stopped waiting: the work is done either way.
        let _ = self.reply.send(result);
    }

    fn queued_at(&self) -> Instant {
        self.queued_at
    }
}

/// The queue's sending end, held by [`Db`].
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::UnboundedSender<Box<dyn Queued>>,
}

impl Writer {
    /// Starts the writer task on `runtime` (the writer thread's).
    pub fn start(runtime: &tokio::runtime::Handle, db: Db) -> Writer {
        let (jobs, queue) = mpsc::unbounded_channel();
        runtime.spawn(supervise(db, queue));
        Writer { jobs }
    }

    pub async fn submit<J: WriteJob>(&self, job: J) -> Result<J::Output, AppError> {
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            job,
            result: None,
            reply,
            queued_at: Instant::now(),
        };
        self.jobs
            .send(Box::new(pending))
            .map_err(|_| anyhow::anyhow!("the SQLite writer has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the SQLite writer dropped a transaction"))?
    }
}

type Queue = mpsc::UnboundedReceiver<Box<dyn Queued>>;

/// Runs the writer until every [`Writer`] is gone; a panic outside a job (each job's own is
/// caught) is logged and the writer goes on with the next jobs. The jobs it was running get an
/// error.
async fn supervise(db: Db, mut queue: Queue) {
    loop {
        match AssertUnwindSafe(run(&db, &mut queue)).catch_unwind().await {
            Ok(()) => return,
            Err(_) => tracing::error!("the SQLite writer panicked; it goes on with the next jobs"),
        }
    }
}

async fn run(db: &Db, queue: &mut Queue) {
    let mut batch: Vec<Box<dyn Queued>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        for job in batch.extract_if(.., |job| job.queued_at().elapsed() > QUEUE_TIMEOUT) {
            job.answer(Some(
                anyhow::anyhow!("the SQLite writer is overloaded: waited over 30 s").into(),
            ));
        }
        if batch.len() > 1 {
            match together(db, &mut batch).await {
                Together::Committed => {
                    for job in batch.drain(..) {
                        job.answer(None);
                    }
                    continue;
                }
                // No transaction to run them in: each job would wait as long again.
                Together::NotBegun(e) => {
                    for job in batch.drain(..) {
                        job.answer(Some(
                            anyhow::anyhow!("cannot begin a transaction: {e}").into(),
                        ));
                    }
                    continue;
                }
                Together::RolledBack => {}
            }
        }
        for job in batch.drain(..) {
            alone(db, job).await;
        }
    }
}

enum Together {
    Committed,
    NotBegun(sea_orm::DbErr),
    /// A job failed or the commit did: nothing of the batch is written.
    RolledBack,
}

/// Runs every job of `batch` in one transaction.
async fn together(db: &Db, batch: &mut [Box<dyn Queued>]) -> Together {
    let txn = match db.begin_write().await {
        Ok(txn) => txn,
        Err(e) => return Together::NotBegun(e),
    };
    let mut append = AppendOnly::default();
    for job in batch.iter_mut() {
        if !job.run(&txn, &mut append).await {
            return Together::RolledBack;
        }
    }
    if let Err(e) = append.insert(&txn).await {
        tracing::warn!(error = %e, "a shared transaction failed writing its rows; its jobs run alone");
        return Together::RolledBack;
    }
    match txn.commit().await {
        Ok(()) => Together::Committed,
        Err(_) => Together::RolledBack,
    }
}

async fn alone(db: &Db, mut job: Box<dyn Queued>) {
    let txn = match db.begin_write().await {
        Ok(txn) => txn,
        Err(e) => return job.answer(Some(e.into())),
    };
    let mut append = AppendOnly::default();
    if !job.run(&txn, &mut append).await {
        drop(txn);
        return job.answer(None);
    }
    if let Err(e) = append.insert(&txn).await {
        drop(txn);
        return job.answer(Some(e.into()));
    }
    match txn.commit().await {
        Ok(()) => job.answer(None),
        Err(e) => job.answer(Some(e.into())),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    use super::*;

    /// Inserts `n` into `t`, then holds the transaction, fails or panics as told.
    #[derive(Default)]
    struct Insert {
        n: i64,
        hold: Duration,
        fail: bool,
        panic: bool,
    }

    impl WriteJob for Insert {
        type Output = i64;

        fn run<'a>(
            &'a self,
            txn: &'a DatabaseTransaction,
            _: &'a mut AppendOnly,
        ) -> BoxFuture<'a, Result<i64, AppError>> {
            Box::pin(async move {
                let insert = format!("INSERT INTO t (n) VALUES ({})", self.n);
                txn.execute_unprepared(&insert).await?;
                tokio::time::sleep(self.hold).await;
                assert!(!self.panic, "job {} panics", self.n);
                if self.fail {
                    return Err(anyhow::anyhow!("job {} fails", self.n).into());
                }
                Ok(self.n)
            })
        }
    }

    async fn rows(db: &Db) -> Vec<i64> {
        let select = Statement::from_string(DbBackend::Sqlite, "SELECT n FROM t ORDER BY n");
        db.read
            .query_all_raw(select)
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get_by_index::<i64>(0).unwrap())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_that_fails_in_a_shared_transaction_takes_no_other_job_with_it() {
        let dir = std::env::temp_dir().join(format!("glidepath-writer-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&format!("sqlite:{}", dir.join("test.db").display()))
            .await
            .unwrap();
        db.write
            .execute_unprepared("CREATE TABLE t (n INTEGER NOT NULL)")
            .await
            .unwrap();

        // Job 0 holds the writer while the others queue: they share the next transaction, in
        // which job 7 fails and job 13 panics.
        let hold = Insert {
            n: 0,
            hold: Duration::from_millis(300),
            ..Insert::default()
        };
        let first = tokio::spawn({
            let db = db.clone();
            async move { db.write(hold).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let queued: Vec<_> = (1..=20)
            .map(|n| {
                let db = db.clone();
                let job = Insert {
                    n,
                    fail: n == 7,
                    panic: n == 13,
                    ..Insert::default()
                };
                tokio::spawn(async move { (n, db.write(job).await) })
            })
            .collect();

        assert_eq!(first.await.unwrap().unwrap(), 0);
        for handle in queued {
            let (n, result) = handle.await.unwrap();
            match n {
                7 | 13 => assert!(result.is_err(), "job {n} should have failed"),
                _ => assert_eq!(result.unwrap(), n, "job {n}"),
            }
        }
        // Every answered job is committed (the answer comes after the commit); the failed ones
        // left nothing.
        let expected: Vec<i64> = (0..=20).filter(|n| *n != 7 && *n != 13).collect();
        assert_eq!(rows(&db).await, expected);
        let _ = std::fs::remove_dir_all(dir);
    }
}
