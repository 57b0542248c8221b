//! The yardstick: the least an actix-web + SQLite service can do per webhook delivery
//! (parse the JSON, one INSERT, answer), with SQLite configured as Glidepath configures it.
//! Glidepath's cost above this is what its own logic, ORM and bookkeeping add.

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::{Context, Result};
use serde_json::{Value, json};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use tokio::task::JoinHandle;

pub struct Baseline {
    handle: ServerHandle,
    task: JoinHandle<std::io::Result<()>>,
    pub url: String,
}

impl Baseline {
    pub async fn start(db_path: &Path, pool_size: u32) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .context("SQLite options")?
            .filename(db_path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(pool_size)
            .connect_with(options)
            .await
            .with_context(|| format!("opening {}", db_path.display()))?;
        sqlx::query("CREATE TABLE events (id INTEGER PRIMARY KEY, sys_id TEXT, body TEXT)")
            .execute(&pool)
            .await
            .context("creating the baseline table")?;

        let data = web::Data::new(pool);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/api/v1/events/servicenow/{key}", web::post().to(ingest))
        })
        .bind(("127.0.0.1", 0))
        .context("binding the baseline server")?;
        let addr: SocketAddr = *server
            .addrs()
            .first()
            .context("the baseline server has no address")?;
        let server = server.disable_signals().run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(Self {
            handle,
            task,
            url: format!("http://{addr}/api/v1/events/servicenow/baseline"),
        })
    }

    pub async fn stop(self) -> Result<()> {
        self.handle.stop(true).await;
        self.task
            .await
            .context("the baseline server task panicked")?
            .context("the baseline server failed")
    }
}

async fn ingest(pool: web::Data<SqlitePool>, body: web::Bytes) -> HttpResponse {
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => return error(HttpResponse::BadRequest(), &err.to_string()),
    };
    let Some(sys_id) = parsed.get("sys_id").and_then(Value::as_str) else {
        return error(HttpResponse::BadRequest(), "missing sys_id");
    };
    // Valid UTF-8 is guaranteed: serde_json just accepted it.
    let text = String::from_utf8_lossy(&body);
    let inserted = sqlx::query("INSERT INTO events (sys_id, body) VALUES (?, ?)")
        .bind(sys_id)
        .bind(text.as_ref())
        .execute(pool.get_ref())
        .await;
    match inserted {
        Ok(_) => HttpResponse::Ok().json(json!({ "ok": true })),
        Err(err) => error(HttpResponse::InternalServerError(), &err.to_string()),
    }
}

fn error(mut builder: actix_web::HttpResponseBuilder, message: &str) -> HttpResponse {
    builder.json(json!({ "error": { "message": message } }))
}
