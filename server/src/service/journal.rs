//! The inbound journal: work notes and additional comments written in ServiceNow become alert
//! comments. An async business rule does not carry them reliably, so the engine polls
//! `sys_journal_field` for the open alerts of each source with a connection: one query per
//! connection (`element_idIN…^sys_created_on>=…`), from the oldest per-alert watermark. Each
//! entry is recorded as seen in the transaction that imports it, under a unique key, so it is
//! imported once even when two processes race; a per-connection lease keeps them from polling
//! the same instance in the same interval at all. Entries written by the connection's own user
//! (the updates Glidepath sent) are seen but not imported.

use std::collections::HashMap;

use chrono::TimeDelta;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement, TryInsertResult, sea_query::Expr,
};
use serde_json::Value;

use super::log;
use super::people::{self, Person};
use super::{Actor, new_id, servicenow};
use crate::db::Db;
use crate::domain::AlertStatus;
use crate::domain::LogKind;
use crate::entity::{alert, alert_comment, servicenow_connection, servicenow_journal_seen as seen};
use crate::error::AppError;
use crate::service::Ctx;
use crate::servicenow::client::{Client, TableQuery};

/// Incidents per query: keeps the URL well under the limits of proxies in front of instances.
const CHUNK: usize = 100;
/// Open alerts looked at per connection and poll.
const MAX_ALERTS: u64 = 1000;
/// Journal rows read per query.
const MAX_ROWS: usize = 2000;

/// Polls every connection whose lease is free; returns how many entries were imported.
pub async fn poll_all(ctx: &Ctx, interval: TimeDelta) -> Result<usize, AppError> {
    let db = &ctx.db;
    let conns = servicenow_connection::Entity::find()
        .order_by_asc(servicenow_connection::Column::AlertSourceId)
        .all(&db.read)
        .await?;
    let mut imported = 0;
    for conn in conns {
        if !take_lease(ctx, &conn.alert_source_id, interval).await? {
            continue;
        }
        match poll(ctx, &conn).await {
            Ok(n) => imported += n,
            Err(e) => {
                tracing::warn!(source = %conn.alert_source_id, error = ?e, "journal poll failed")
            }
        }
    }
    Ok(imported)
}

/// Takes the connection's poll for this interval, unless another process has it.
async fn take_lease(ctx: &Ctx, source_id: &str, interval: TimeDelta) -> Result<bool, AppError> {
    let db = &ctx.db;
    let at = ctx.now();
    // A little short of the interval, so the same process's next tick finds it free.
    let until = at + interval - TimeDelta::milliseconds(interval.num_milliseconds() / 10);
    let result = servicenow_connection::Entity::update_many()
        .col_expr(
            servicenow_connection::Column::JournalLeaseUntil,
            Expr::value(Some(until)),
        )
        .filter(servicenow_connection::Column::AlertSourceId.eq(source_id))
        .filter(
            Condition::any()
                .add(servicenow_connection::Column::JournalLeaseUntil.is_null())
                .add(servicenow_connection::Column::JournalLeaseUntil.lte(at)),
        )
        .exec(&db.write)
        .await?;
    Ok(result.rows_affected == 1)
}

struct Entry {
    sys_id: String,
    element_id: String,
    value: String,
    created_on: String,
    created_by: String,
}

fn entry(row: &serde_json::Map<String, Value>) -> Option<Entry> {
    let text = |f: &str| row.get(f).and_then(Value::as_str).map(str::to_string);
    Some(Entry {
        sys_id: text("sys_id").filter(|s| !s.is_empty())?,
        element_id: text("element_id")?,
        value: text("value")?,
        created_on: text("sys_created_on")?,
        created_by: text("sys_created_by").unwrap_or_default(),
    })
}

async fn poll(ctx: &Ctx, conn: &servicenow_connection::Model) -> Result<usize, AppError> {
    let db = &ctx.db;
    let open = alert::Entity::find()
        .filter(alert::Column::AlertSourceId.eq(conn.alert_source_id.clone()))
        .filter(alert::Column::Status.ne(AlertStatus::Resolved))
        .order_by_desc(alert::Column::Id)
        .limit(MAX_ALERTS)
        .all(&db.read)
        .await?;
    if open.is_empty() {
        return Ok(0);
    }
    let client = servicenow::client(ctx, &conn.alert_source_id).await?;
    let mut imported = 0;
    for chunk in open.chunks(CHUNK) {
        imported += read_and_import(ctx, conn, &client, chunk).await?;
    }
    Ok(imported)
}

/// Reads the new journal entries of `chunk` (at most [`CHUNK`] alerts of the connection's
/// source) in one query and imports them.
async fn read_and_import(
    ctx: &Ctx,
    conn: &servicenow_connection::Model,
    client: &Client,
    chunk: &[alert::Model],
) -> Result<usize, AppError> {
    let db = &ctx.db;
    let mut imported = 0;
    let ids: Vec<String> = chunk.iter().map(|a| a.id.clone()).collect();
    let marks = watermarks(db, &ids).await?;
    // The oldest watermark bounds the query; an alert never polled reads its whole journal.
    let since = if marks.len() == chunk.len() {
        marks.values().min().cloned()
    } else {
        None
    };
    let sys_ids: Vec<&str> = chunk
        .iter()
        .map(|a| a.alert_key.as_str())
        .filter(|k| k.bytes().all(|b| b.is_ascii_alphanumeric()))
        .collect();
    let mut query = format!(
        "element_idIN{}^elementINwork_notes,comments",
        sys_ids.join(",")
    );
    if let Some(since) = &since {
        query.push_str(&format!("^sys_created_on>={since}"));
    }
    query.push_str("^ORDERBYsys_created_on");
    let rows = client
        .list_all(
            "sys_journal_field",
            &TableQuery {
                query: Some(query),
                fields: [
                    "sys_id",
                    "element_id",
                    "element",
                    "value",
                    "sys_created_on",
                    "sys_created_by",
                ]
                .map(String::from)
                .to_vec(),
                ..TableQuery::default()
            },
            200,
            MAX_ROWS,
        )
        .await?;
    let by_key: HashMap<&str, &alert::Model> =
        chunk.iter().map(|a| (a.alert_key.as_str(), a)).collect();
    for e in rows.iter().filter_map(entry) {
        let Some(alert) = by_key.get(e.element_id.as_str()) else {
            continue;
        };
        if marks.get(&alert.id).is_some_and(|m| e.created_on < *m) {
            continue;
        }
        let own = e.created_by == conn.username;
        let author = if own {
            None
        } else {
            Some(people::by_user_name(ctx, client, &e.created_by).await?)
        };
        if import(ctx, alert, &e, author).await? {
            imported += 1;
        }
    }
    Ok(imported)
}

/// The latest `sys_created_on` seen per alert.
async fn watermarks(db: &Db, alert_ids: &[String]) -> Result<HashMap<String, String>, AppError> {
    let rows = seen::Entity::find()
        .filter(seen::Column::AlertId.is_in(alert_ids.iter().cloned()))
        .all(&db.read)
        .await?;
    let mut marks: HashMap<String, String> = HashMap::new();
    for r in rows {
        let mark = marks.entry(r.alert_id).or_default();
        if r.created_on > *mark {
            *mark = r.created_on;
        }
    }
    Ok(marks)
}

/// Records the entry as seen and, unless it is our own, imports it; in one transaction, once.
async fn import(
    ctx: &Ctx,
    alert: &alert::Model,
    e: &Entry,
    author: Option<Person>,
) -> Result<bool, AppError> {
    let db = &ctx.db;
    let txn = db.begin_write().await?;
    let mark = seen::ActiveModel {
        alert_id: Set(alert.id.clone()),
        journal_sys_id: Set(e.sys_id.clone()),
        created_on: Set(e.created_on.clone()),
        imported: Set(author.is_some()),
    };
    let inserted = seen::Entity::insert(mark)
        .on_conflict_do_nothing_on([seen::Column::AlertId, seen::Column::JournalSysId])
        .exec_without_returning(&txn)
        .await?;
    if !matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(false);
    }
    let Some(author) = author else {
        txn.commit().await?;
        return Ok(false);
    };
    let body: String = e.value.trim().chars().take(10_000).collect();
    if body.is_empty() {
        txn.commit().await?;
        return Ok(false);
    }
    let (author_id, external, label) = match &author {
        Person::User(u) => (Some(u.id.clone()), None, u.email.clone()),
        Person::External(name) => (None, Some(name.clone()), name.clone()),
    };
    alert_comment::ActiveModel {
        id: Set(new_id()),
        alert_id: Set(alert.id.clone()),
        author_id: Set(author_id),
        body: Set(body),
        created_at: Set(ctx.now()),
        external_author: Set(external),
        author_label: Set(Some(label.clone())),
    }
    .insert(&txn)
    .await?;
    let actor = Actor::ServiceNow {
        updated_by: Some(label.clone()),
    };
    let msg = format!("Comment by {label} imported from the ServiceNow journal");
    log::append(&txn, ctx.now(), &alert.id, LogKind::Commented, msg, &actor).await?;
    txn.commit().await?;
    Ok(true)
}

/// Requests claimed per round.
const FETCH_BATCH: i64 = 100;
/// How long a claimed request is left to its process before another may take it.
const FETCH_LEASE_MS: i64 = 60_000;

/// A claimed request: the alert, its source, and when it was claimed.
struct Claimed {
    alert_id: String,
    source_id: String,
    claimed_at: i64,
}

fn params(backend: sea_orm::DbBackend, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| match backend {
            sea_orm::DbBackend::Postgres => format!("${i}"),
            _ => "?".to_string(),
        })
        .collect()
}

/// Claims requested fetches whose lease is free (`SKIP LOCKED` on PostgreSQL; SQLite's single
/// writer serialises the claim).
async fn claim_requested(ctx: &Ctx) -> Result<Vec<Claimed>, AppError> {
    let db = &ctx.db;
    let backend = db.backend();
    let now = ctx.now().timestamp_millis();
    let p = params(backend, 3);
    let lock = if backend == sea_orm::DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE journal_fetches SET claimed_at = {now}, claimed_until = {until} \
         WHERE alert_id IN (SELECT alert_id FROM journal_fetches \
           WHERE claimed_until IS NULL OR claimed_until < {now2} \
           ORDER BY requested_at LIMIT {FETCH_BATCH}{lock}) \
         RETURNING alert_id, alert_source_id, claimed_at",
        now = p[0],
        until = p[1],
        now2 = p[2],
    );
    let rows = db
        .write
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [now.into(), (now + FETCH_LEASE_MS).into(), now.into()],
        ))
        .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for r in rows {
        claimed.push(Claimed {
            alert_id: r.try_get("", "alert_id")?,
            source_id: r.try_get("", "alert_source_id")?,
            claimed_at: r.try_get("", "claimed_at")?,
        });
    }
    Ok(claimed)
}

/// Settles a claimed request: deleted when no newer request came since it was claimed, else
/// freed for the next round.
async fn settle(ctx: &Ctx, c: &Claimed) -> Result<(), AppError> {
    let db = &ctx.db;
    let backend = db.backend();
    let p = params(backend, 2);
    let delete = format!(
        "DELETE FROM journal_fetches WHERE alert_id = {} AND requested_at <= {}",
        p[0], p[1]
    );
    let done = db
        .write
        .execute_raw(Statement::from_sql_and_values(
            backend,
            delete,
            [c.alert_id.clone().into(), c.claimed_at.into()],
        ))
        .await?;
    if done.rows_affected() == 0 {
        let p = params(backend, 1);
        let free = format!(
            "UPDATE journal_fetches SET claimed_until = NULL WHERE alert_id = {}",
            p[0]
        );
        db.write
            .execute_raw(Statement::from_sql_and_values(
                backend,
                free,
                [c.alert_id.clone().into()],
            ))
            .await?;
    }
    Ok(())
}

/// Reads the journals webhook events asked for: the claimed alerts of each source in one query
/// per [`CHUNK`], the sources side by side (each instance's own limit of requests in flight
/// applies, in the `Connector`). A failed read is logged and dropped: the journal poll reads the
/// entries later. Returns how many requests were settled, so the caller goes on while rounds are
/// full.
pub async fn fetch_requested(ctx: &Ctx) -> Result<usize, AppError> {
    let claimed = claim_requested(ctx).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let mut by_source: HashMap<String, Vec<&Claimed>> = HashMap::new();
    for c in &claimed {
        by_source.entry(c.source_id.clone()).or_default().push(c);
    }
    let reads = by_source.into_iter().map(|(source_id, requests)| async move {
        if let Err(e) = fetch_source(ctx, &source_id, &requests).await {
            tracing::warn!(source = %source_id, error = ?e, "journal read after a webhook event failed");
        }
    });
    futures_util::future::join_all(reads).await;
    for c in &claimed {
        settle(ctx, c).await?;
    }
    Ok(claimed.len())
}

async fn fetch_source(ctx: &Ctx, source_id: &str, requests: &[&Claimed]) -> Result<(), AppError> {
    let db = &ctx.db;
    let Some(conn) = servicenow_connection::Entity::find_by_id(source_id.to_string())
        .one(&db.read)
        .await?
    else {
        return Ok(());
    };
    let ids: Vec<String> = requests.iter().map(|c| c.alert_id.clone()).collect();
    // Resolved alerts too: the event that resolves an incident often carries the last work
    // note (written with the resolution), and the request names the alert it is for.
    let alerts = alert::Entity::find()
        .filter(alert::Column::Id.is_in(ids))
        .filter(alert::Column::AlertSourceId.eq(source_id))
        .all(&db.read)
        .await?;
    if alerts.is_empty() {
        return Ok(());
    }
    let client = servicenow::client(ctx, source_id).await?;
    for chunk in alerts.chunks(CHUNK) {
        read_and_import(ctx, &conn, &client, chunk).await?;
    }
    Ok(())
}
