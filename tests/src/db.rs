//! A throwaway database per test: a SQLite file in a temporary directory or a PostgreSQL
//! database created for the test and dropped after it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::TestApp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backend selected by `GLIDEPATH_TEST_DB` (`sqlite`, the default, or `postgres`).
pub fn backend() -> Backend {
    match std::env::var("GLIDEPATH_TEST_DB").as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => Backend::Sqlite,
        Ok("postgres") | Ok("postgresql") => Backend::Postgres,
        Ok(other) => panic!("GLIDEPATH_TEST_DB must be sqlite or postgres, not {other:?}"),
    }
}

fn postgres_admin_url() -> String {
    std::env::var("GLIDEPATH_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Replaces the database name of a PostgreSQL URL, keeping host, user and query string.
fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let prefix = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{prefix}/{name}?{query}"),
        None => format!("{prefix}/{name}"),
    }
}

/// A database that exists only for one test, plus the directory the server processes run in.
///
/// Sibling processes share it; it is dropped (and a PostgreSQL database removed) after the last
/// process using it has been killed.
pub struct TestDatabase {
    url: String,
    dir: tempfile::TempDir,
    postgres_name: Option<String>,
    processes: AtomicUsize,
}

impl TestDatabase {
    /// A fresh database on the backend chosen by `GLIDEPATH_TEST_DB`.
    pub async fn create() -> Self {
        match backend() {
            Backend::Sqlite => Self::sqlite(),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A fresh SQLite database whatever `GLIDEPATH_TEST_DB` says. The file does not exist yet.
    pub fn sqlite() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("glidepath-test-")
            .tempdir()
            .expect("create temp dir");
        let url = format!("sqlite://{}", dir.path().join("glidepath.db").display());
        TestDatabase {
            url,
            dir,
            postgres_name: None,
            processes: AtomicUsize::new(0),
        }
    }

    pub async fn postgres() -> Self {
        use sqlx::Connection;
        let admin_url = postgres_admin_url();
        let name = format!("glidepath_t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("connect to {admin_url}: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        let _ = conn.close().await;
        let dir = tempfile::Builder::new()
            .prefix("glidepath-test-")
            .tempdir()
            .expect("create temp dir");
        TestDatabase {
            url: with_database_name(&admin_url, &name),
            dir,
            postgres_name: Some(name),
            processes: AtomicUsize::new(0),
        }
    }

    /// The URL handed to the server as `GLIDEPATH_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Working directory of the server processes and home of the SQLite file.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn next_log_path(&self) -> PathBuf {
        let n = self.processes.fetch_add(1, Ordering::SeqCst);
        self.dir().join(format!("server-{n}.log"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        let admin_url = postgres_admin_url();
        // Drop may run inside the test's runtime, which cannot be blocked on; a separate thread
        // with its own runtime can.
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

impl TestApp {
    /// The result of a query that returns one integer (`SELECT COUNT(*) …`), read from the
    /// test database directly.
    pub async fn query_i64(&self, sql: &str) -> i64 {
        match backend() {
            Backend::Sqlite => {
                let path = self.database().dir().join("glidepath.db");
                let out = std::process::Command::new("sqlite3")
                    .arg("-cmd")
                    .arg(".timeout 5000")
                    .arg(&path)
                    .arg(sql)
                    .output()
                    .expect("run sqlite3");
                assert!(out.status.success(), "sqlite3 failed: {sql}");
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("not an integer from {sql}"))
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(self.database().url())
                    .await
                    .expect("connect to the test database");
                let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
                    .fetch_one(&mut conn)
                    .await
                    .expect("run SQL");
                n
            }
        }
    }

    /// Runs SQL on the test database directly (rows a test needs that the API cannot make,
    /// such as old ones).
    pub async fn execute_sql(&self, sql: &str) {
        match backend() {
            Backend::Sqlite => {
                let path = self.database().dir().join("glidepath.db");
                let status = std::process::Command::new("sqlite3")
                    .arg("-cmd")
                    .arg(".timeout 5000")
                    .arg(&path)
                    .arg(sql)
                    .status()
                    .expect("run sqlite3");
                assert!(status.success(), "sqlite3 failed: {sql}");
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(self.database().url())
                    .await
                    .expect("connect to the test database");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut conn)
                    .await
                    .expect("run SQL");
            }
        }
    }

    /// Everything the database holds, as bytes: the SQLite files (with the WAL), or every row of
    /// every table on PostgreSQL as JSON. What a stolen backup would reveal.
    pub async fn database_dump(&self) -> Vec<u8> {
        match backend() {
            Backend::Sqlite => {
                let mut out = Vec::new();
                for entry in std::fs::read_dir(self.database().dir()).expect("read test dir") {
                    let path = entry.expect("dir entry").path();
                    let name = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or_default();
                    if name.starts_with("glidepath.db") {
                        out.extend(std::fs::read(&path).expect("read database file"));
                    }
                }
                out
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(self.database().url())
                    .await
                    .expect("connect to the test database");
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
                )
                .fetch_all(&mut conn)
                .await
                .expect("list tables");
                let mut out = Vec::new();
                for (table,) in tables {
                    let sql = format!(
                        "SELECT coalesce(string_agg(row_to_json(t)::text, '\n'), '') FROM \"{table}\" t"
                    );
                    let (rows,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                        .fetch_one(&mut conn)
                        .await
                        .expect("dump table");
                    out.extend(rows.into_bytes());
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database_name("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database_name("postgres://u:p@h:1/db?sslmode=disable", "x"),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(with_database_name("postgres://h", "x"), "postgres://h/x");
    }
}
