//! Database connections. SQLite is run as a server database: WAL, `synchronous=NORMAL`, a busy
//! timeout, writing transactions that take the write lock up front (`BEGIN IMMEDIATE`), and a
//! single writer connection per process so that writes queue in the pool instead of fighting
//! over SQLite's lock (a DEFERRED transaction that upgrades to a writer can fail with SQLITE_BUSY
//! without waiting). Readers use their own pool and never block on the writer.
//! PostgreSQL uses one pool for both.
//!
//! On SQLite the webhook's writing transactions go through [`writer`]: a task on a thread of its
//! own that commits them in batches ([`Db::write`]).

pub mod event_counts;
pub mod journal_requests;
mod writer;

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, QuerySelect, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use writer::Writer;
pub use writer::{AppendOnly, WriteJob};

use crate::error::AppError;

#[derive(Clone)]
pub struct Db {
    /// Reads outside a transaction.
    pub read: DatabaseConnection,
    /// Every write, and reads inside a writing transaction.
    pub write: DatabaseConnection,
    /// SQLite: the batching writer (see [`Db::write`]).
    writer: Option<Writer>,
}

const SQLITE_READERS: u32 = 8;
const POSTGRES_POOL: u32 = 16;

impl Db {
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut opts = ConnectOptions::new(url);
            opts.max_connections(POSTGRES_POOL)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                // A connection the server or a firewall may have dropped is checked before use
                // once it has been idle a while, not on every checkout (a round trip each).
                .test_before_acquire_if_idle_for(Duration::from_secs(30))
                .sqlx_logging(false);
            let mut conn = Database::connect(opts)
                .await
                .context("cannot connect to PostgreSQL")?;
            count_queries(&mut conn);
            Ok(Db {
                read: conn.clone(),
                write: conn,
                writer: None,
            })
        } else if url.starts_with("sqlite:") {
            private_files(url)?;
            let mut write = sqlite(url, 1, Role::Writer).await?;
            let mut read = sqlite(url, SQLITE_READERS, Role::Reader).await?;
            count_queries(&mut write);
            count_queries(&mut read);
            let checkpointer = sqlite(url, 1, Role::Checkpointer).await?;
            let runtime = writer_thread()?;
            runtime.spawn(checkpoints(checkpointer));
            let mut db = Db {
                read,
                write,
                writer: None,
            };
            db.writer = Some(Writer::start(&runtime, db.clone()));
            Ok(db)
        } else {
            anyhow::bail!("GLIDEPATH_DATABASE_URL must start with sqlite: or postgres://")
        }
    }

    /// A writing transaction. On SQLite it is `BEGIN IMMEDIATE`: it takes the write lock up front
    /// (waiting up to the busy timeout), because a DEFERRED transaction that reads first and then
    /// writes fails at once with SQLITE_BUSY when another process wrote in between.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction, DbErr> {
        self.write
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
    }

    /// Runs `job` in a writing transaction and commits it. On SQLite the job goes to the
    /// [`writer`], which may share the transaction with other jobs (and run the job again in a
    /// transaction of its own when another fails); on PostgreSQL, where writers do not queue for
    /// one connection, it runs in place. On SQLite the job finishes even when the caller stops
    /// waiting for it.
    pub async fn write<J: WriteJob>(&self, job: J) -> Result<J::Output, AppError> {
        if let Some(writer) = &self.writer {
            return writer.submit(job).await;
        }
        let txn = self.begin_write().await?;
        let mut append = AppendOnly::default();
        let out = job.run(&txn, &mut append).await?;
        append.insert(&txn).await?;
        txn.commit().await?;
        Ok(out)
    }

    pub fn backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }

    pub async fn ping(&self) -> bool {
        self.read.ping().await.is_ok()
    }

    /// Runs pending migrations. On PostgreSQL an advisory lock, held on a connection of its own,
    /// keeps several processes starting at once from migrating the same schema concurrently.
    pub async fn migrate(&self, url: &str) -> anyhow::Result<()> {
        if self.backend() == DbBackend::Postgres {
            let mut opts = ConnectOptions::new(url);
            opts.max_connections(1).sqlx_logging(false);
            let conn = Database::connect(opts).await?;
            let lock = Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"),
            );
            conn.execute_raw(lock).await?;
            let result = Migrator::up(&conn, None).await;
            let unlock = Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"),
            );
            let _ = conn.execute_raw(unlock).await;
            let _ = conn.close().await;
            result.context("migration failed")
        } else {
            Migrator::up(&self.write, None)
                .await
                .context("migration failed")
        }
    }
}

/// A current-thread runtime on a thread of its own that runs until the process exits.
fn writer_thread() -> anyhow::Result<tokio::runtime::Handle> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the SQLite writer runtime")?;
    let handle = runtime.handle().clone();
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || runtime.block_on(std::future::pending::<()>()))
        .context("cannot start the SQLite writer thread")?;
    Ok(handle)
}

/// A WAL longer than this (pages) after a passive checkpoint gets a RESTART checkpoint: readers
/// that never let go (a backup tool, a `sqlite3` shell) would otherwise grow it without bound.
/// A RESTART or TRUNCATE checkpoint holds up the writer while it waits for readers, so it waits
/// at most `CHECKPOINT_BUSY_TIMEOUT`, and after a failed try the next waits `BLOCKED_RETRY`.
const WAL_RESTART_PAGES: i64 = 50_000;
const BLOCKED_RETRY: Duration = Duration::from_secs(60);
/// The checkpointer's busy timeout: how long a RESTART or TRUNCATE checkpoint may hold up the
/// writer waiting for a reader. (A PASSIVE one never waits.)
const CHECKPOINT_BUSY_TIMEOUT: Duration = Duration::from_millis(50);
/// How often the WAL is checkpointed. A tenth of a second keeps each checkpoint's copy and fsync
/// short: at 2,300 webhook events/s the p99 was 14 to 19 ms at 100 ms, 19 to 26 ms at one
/// second (BENCHMARKS.md). On an idle server a checkpoint finds nothing to copy.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// How long the WAL must be fully copied, with its length unchanged, before the WAL file is
/// shrunk to nothing. (A length unchanged for so long means no writes in practice; a write that
/// restarted the WAL and happened to reach the same length only costs a truncation of a small
/// file.)
const WAL_TRUNCATE_AFTER_IDLE: Duration = Duration::from_secs(10);

/// Checkpoints the WAL into the database file every `CHECKPOINT_EVERY`, on a connection of its
/// own (`checkpointer`). SQLite's automatic checkpoint would run on the writer after a commit,
/// copying pages and syncing the file while every other writing transaction waits; a PASSIVE
/// checkpoint on another connection runs beside the writer.
///
/// The WAL file is reused from its start, not shrunk, while writes go on: no connection sets
/// `journal_size_limit`, because shrinking a WAL of a few hundred MiB (a burst leaves one that
/// large) stalled the writer's commit for about 60 ms on an ext4 disk, which was most of the
/// webhook's p99 at a sustained 2,500 events/s (BENCHMARKS.md). The file is truncated instead
/// once writes have stopped for `WAL_TRUNCATE_AFTER_IDLE`, so an idle server does not keep the
/// space.
async fn checkpoints(checkpointer: DatabaseConnection) {
    let passive = Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_checkpoint(PASSIVE)");
    let restart = Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_checkpoint(RESTART)");
    let truncate = Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_checkpoint(TRUNCATE)");
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When a RESTART or TRUNCATE may next be tried.
    let mut next_blocking = tokio::time::Instant::now();
    // The WAL's length at the last checkpoint, and since when it has been fully copied and
    // unchanged.
    let mut last_pages = -1;
    let mut idle_since: Option<tokio::time::Instant> = None;
    loop {
        tick.tick().await;
        // Columns: blocked (0 or 1), WAL pages, pages checkpointed.
        let Some((_, log_pages, copied)) = checkpoint(&checkpointer, &passive, "PASSIVE").await
        else {
            continue;
        };
        let unchanged = log_pages > 0 && log_pages == copied && log_pages == last_pages;
        idle_since = if unchanged {
            idle_since.or(Some(tokio::time::Instant::now()))
        } else {
            None
        };
        last_pages = log_pages;
        let idle = idle_since.is_some_and(|at| at.elapsed() >= WAL_TRUNCATE_AFTER_IDLE);
        let (mode, statement) = if idle {
            ("TRUNCATE", &truncate)
        } else if log_pages > WAL_RESTART_PAGES {
            ("RESTART", &restart)
        } else {
            continue;
        };
        if tokio::time::Instant::now() < next_blocking {
            continue;
        }
        match checkpoint(&checkpointer, statement, mode).await {
            Some((false, _, _)) if idle => {
                idle_since = None;
                last_pages = 0;
            }
            Some((false, _, _)) => {}
            Some((true, _, _)) => {
                tracing::warn!(
                    log_pages,
                    "a reader or a long transaction keeps the WAL from being reset ({mode} checkpoint); trying again in {}s",
                    BLOCKED_RETRY.as_secs()
                );
                next_blocking = tokio::time::Instant::now() + BLOCKED_RETRY;
            }
            None => next_blocking = tokio::time::Instant::now() + BLOCKED_RETRY,
        }
    }
}

/// Runs one `PRAGMA wal_checkpoint`: whether it was blocked, the WAL's pages, the pages copied.
/// `None` (logged) when it failed or its answer is unreadable.
async fn checkpoint(
    conn: &DatabaseConnection,
    statement: &Statement,
    mode: &str,
) -> Option<(bool, i64, i64)> {
    let row = match conn.query_one_raw(statement.clone()).await {
        Ok(Some(row)) => row,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "WAL checkpoint ({mode}) failed");
            return None;
        }
    };
    let columns = (
        row.try_get_by_index::<i64>(0),
        row.try_get_by_index::<i64>(1),
        row.try_get_by_index::<i64>(2),
    );
    match columns {
        (Ok(blocked), Ok(pages), Ok(copied)) => Some((blocked != 0, pages, copied)),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            tracing::warn!(error = %e, "unreadable WAL checkpoint ({mode}) result");
            None
        }
    }
}

const MIGRATION_LOCK: i64 = 0x676c_6964_6570; // "glidep"

/// What a SQLite connection pool is for.
#[derive(Clone, Copy, PartialEq)]
enum Role {
    Writer,
    Reader,
    Checkpointer,
}

/// Creates the SQLite file with mode 0600 before SQLite opens it (SQLite gives the WAL and
/// shared-memory files the mode of the database file), and narrows an existing database and
/// its WAL and SHM files to 0600: they hold every secret's ciphertext and every user's data.
fn private_files(url: &str) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path.starts_with(':') {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {path}")),
        }
        for file in [
            path.to_string(),
            format!("{path}-wal"),
            format!("{path}-shm"),
        ] {
            if std::path::Path::new(&file).exists() {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("cannot make {file} private (mode 0600)"))?;
            }
        }
    }
    Ok(())
}

async fn sqlite(url: &str, max: u32, role: Role) -> anyhow::Result<DatabaseConnection> {
    let busy_timeout = match role {
        Role::Writer | Role::Reader => Duration::from_secs(10),
        Role::Checkpointer => CHECKPOINT_BUSY_TIMEOUT,
    };
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        // A connection to a local file cannot be dropped by a server or a firewall: a ping on
        // every checkout would only add a round trip to the connection's thread to each read
        // and each writing transaction.
        .test_before_acquire(false)
        .map_sqlx_sqlite_opts(move |o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(busy_timeout)
                .foreign_keys(true)
                // The writer leaves checkpoints to `checkpoints` (on a connection of its own).
                .pragma(
                    "wal_autocheckpoint",
                    if role == Role::Writer { "0" } else { "1000" },
                )
        });
    Database::connect(opts)
        .await
        .with_context(|| format!("cannot open SQLite database {url}"))
}

/// Counts every statement in `glidepath_db_queries_total` (on /metrics): how many queries an
/// operation costs is measurable from outside.
fn count_queries(conn: &mut DatabaseConnection) {
    conn.set_metric_callback(|_| metrics::counter!("glidepath_db_queries_total").increment(1));
}

/// `SELECT … FOR UPDATE` where the backend has it. SQLite needs none: its single writer already
/// serialises every writing transaction.
pub fn for_update<Q: QuerySelect>(query: Q, backend: DbBackend) -> Q {
    if backend == DbBackend::Postgres {
        query.lock_exclusive()
    } else {
        query
    }
}
