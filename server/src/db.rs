//! Database connections. SQLite is run as a server database: WAL, `synchronous=NORMAL`, a busy
//! timeout, writing transactions that take the write lock up front (`BEGIN IMMEDIATE`), and a
//! single writer connection per process so that writes queue in the pool instead of fighting
//! over SQLite's lock (a DEFERRED transaction that upgrades to a writer can fail with SQLITE_BUSY
//! without waiting). Readers use their own pool and never block on the writer.
//! PostgreSQL uses one pool for both.

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, QuerySelect, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

#[derive(Clone)]
pub struct Db {
    /// Reads outside a transaction.
    pub read: DatabaseConnection,
    /// Every write, and reads inside a writing transaction.
    pub write: DatabaseConnection,
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
                .sqlx_logging(false);
            let conn = Database::connect(opts)
                .await
                .context("cannot connect to PostgreSQL")?;
            Ok(Db {
                read: conn.clone(),
                write: conn,
            })
        } else if url.starts_with("sqlite:") {
            let write = sqlite(url, 1).await?;
            let read = sqlite(url, SQLITE_READERS).await?;
            Ok(Db { read, write })
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

const MIGRATION_LOCK: i64 = 0x676c_6964_6570; // "glidep"

async fn sqlite(url: &str, max: u32) -> anyhow::Result<DatabaseConnection> {
    let mut opts = ConnectOptions::new(url);
    opts.max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(move |o| {
            o.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(opts)
        .await
        .with_context(|| format!("cannot open SQLite database {url}"))
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
