//! Webhook events counted per alert source and hour (`webhook_event_hours`). A transaction that
//! applies events collects one [`EventCount`] each in its [`super::AppendOnly`]; just before the
//! commit they are folded into one upsert per source and hour. On SQLite the writer's batch of
//! events so costs one statement per source, on PostgreSQL one per event, and the hour's row is
//! locked only from that statement to the commit.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

/// How an event ended, as counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counted {
    Created,
    Accepted,
    Resolved,
    Updated,
    Unchanged,
    Rejected,
}

impl Counted {
    pub fn as_str(self) -> &'static str {
        match self {
            Counted::Created => "created",
            Counted::Accepted => "accepted",
            Counted::Resolved => "resolved",
            Counted::Updated => "updated",
            Counted::Unchanged => "unchanged",
            Counted::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Counted> {
        Some(match s {
            "created" => Counted::Created,
            "accepted" => Counted::Accepted,
            "resolved" => Counted::Resolved,
            "updated" => Counted::Updated,
            "unchanged" => Counted::Unchanged,
            "rejected" => Counted::Rejected,
            _ => return None,
        })
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The longest `server_url` and rejection reason kept (longer ones are cut).
pub const MAX_SERVER_URL: usize = 300;
pub const MAX_REASON: usize = 500;

/// One webhook event to count.
#[derive(Clone, Debug)]
pub struct EventCount {
    pub alert_source_id: String,
    /// When it arrived, Unix milliseconds.
    pub at_ms: i64,
    pub outcome: Counted,
    /// The payload's `server_url` (applied events only).
    pub server_url: Option<String>,
    /// Why it was rejected (rejected events only).
    pub reason: Option<String>,
}

fn cut(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// One source's hour, folded from its events.
#[derive(Default)]
struct Hour {
    counts: [i64; 6],
    last_at: i64,
    last_outcome: Option<Counted>,
    server_url: Option<String>,
    rejected_at: Option<i64>,
    rejection: Option<String>,
}

/// Upserts `events` into their hours: one statement per source and hour.
pub async fn upsert<C: ConnectionTrait>(conn: &C, events: Vec<EventCount>) -> Result<(), DbErr> {
    if events.is_empty() {
        return Ok(());
    }
    let mut hours: BTreeMap<(String, i64), Hour> = BTreeMap::new();
    for e in events {
        let hour = e.at_ms.div_euclid(3_600_000) * 3600;
        let h = hours.entry((e.alert_source_id, hour)).or_default();
        h.counts[e.outcome.index()] += 1;
        if e.at_ms >= h.last_at {
            h.last_at = e.at_ms;
            h.last_outcome = Some(e.outcome);
        }
        if let Some(url) = e.server_url {
            h.server_url = Some(cut(&url, MAX_SERVER_URL));
        }
        if let Some(reason) = e.reason {
            h.rejected_at = Some(e.at_ms);
            h.rejection = Some(cut(&reason, MAX_REASON));
        }
    }
    let backend = conn.get_database_backend();
    for ((source, hour), h) in hours {
        let p: Vec<String> = (1..=13)
            .map(|i| match backend {
                DbBackend::Postgres => format!("${i}"),
                _ => "?".to_string(),
            })
            .collect();
        let sql = format!(
            "INSERT INTO webhook_event_hours (alert_source_id, hour, created, accepted, resolved, \
               updated, unchanged, rejected, last_event_at, last_outcome, last_server_url, \
               last_rejected_at, last_rejection) \
             VALUES ({}) \
             ON CONFLICT (alert_source_id, hour) DO UPDATE SET \
               created = webhook_event_hours.created + excluded.created, \
               accepted = webhook_event_hours.accepted + excluded.accepted, \
               resolved = webhook_event_hours.resolved + excluded.resolved, \
               updated = webhook_event_hours.updated + excluded.updated, \
               unchanged = webhook_event_hours.unchanged + excluded.unchanged, \
               rejected = webhook_event_hours.rejected + excluded.rejected, \
               last_outcome = CASE WHEN excluded.last_event_at >= webhook_event_hours.last_event_at \
                 THEN excluded.last_outcome ELSE webhook_event_hours.last_outcome END, \
               last_event_at = CASE WHEN excluded.last_event_at >= webhook_event_hours.last_event_at \
                 THEN excluded.last_event_at ELSE webhook_event_hours.last_event_at END, \
               last_server_url = COALESCE(excluded.last_server_url, webhook_event_hours.last_server_url), \
               last_rejection = COALESCE(excluded.last_rejection, webhook_event_hours.last_rejection), \
               last_rejected_at = COALESCE(excluded.last_rejected_at, webhook_event_hours.last_rejected_at)",
            p.join(", ")
        );
        let [created, accepted, resolved, updated, unchanged, rejected] = h.counts;
        let values: Vec<Value> = vec![
            source.into(),
            hour.into(),
            created.into(),
            accepted.into(),
            resolved.into(),
            updated.into(),
            unchanged.into(),
            rejected.into(),
            h.last_at.into(),
            h.last_outcome.unwrap_or(Counted::Rejected).as_str().into(),
            h.server_url.into(),
            h.rejected_at.into(),
            h.rejection.into(),
        ];
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}
