//! Requests to read an alert's ServiceNow journal now (`journal_fetches`), collected in a
//! transaction's [`super::AppendOnly`] and written just before its commit: one row per alert, a
//! newer request only moves `requested_at` (see `service::journal::fetch_requested`).

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

/// A request to read one alert's journal.
#[derive(Clone, Debug)]
pub struct JournalRequest {
    pub alert_id: String,
    pub alert_source_id: String,
    /// Unix milliseconds.
    pub at_ms: i64,
}

/// Rows per statement.
const PER_STATEMENT: usize = 500;

pub async fn upsert<C: ConnectionTrait>(
    conn: &C,
    requests: Vec<JournalRequest>,
) -> Result<(), DbErr> {
    if requests.is_empty() {
        return Ok(());
    }
    // One row per alert (a statement may not name a conflicting row twice), the latest time.
    let mut latest: BTreeMap<String, JournalRequest> = BTreeMap::new();
    for r in requests {
        match latest.get(&r.alert_id) {
            Some(have) if have.at_ms >= r.at_ms => {}
            _ => {
                latest.insert(r.alert_id.clone(), r);
            }
        }
    }
    let backend = conn.get_database_backend();
    let rows: Vec<JournalRequest> = latest.into_values().collect();
    for part in rows.chunks(PER_STATEMENT) {
        let mut n = 0;
        let mut next = || {
            n += 1;
            match backend {
                DbBackend::Postgres => format!("${n}"),
                _ => "?".to_string(),
            }
        };
        let mut tuples = Vec::with_capacity(part.len());
        let mut values: Vec<Value> = Vec::with_capacity(part.len() * 3);
        for r in part {
            tuples.push(format!("({}, {}, {}, NULL, NULL)", next(), next(), next()));
            values.push(r.alert_id.clone().into());
            values.push(r.alert_source_id.clone().into());
            values.push(r.at_ms.into());
        }
        let sql = format!(
            "INSERT INTO journal_fetches (alert_id, alert_source_id, requested_at, claimed_at, \
               claimed_until) VALUES {} \
             ON CONFLICT (alert_id) DO UPDATE SET requested_at = CASE \
               WHEN excluded.requested_at > journal_fetches.requested_at \
               THEN excluded.requested_at ELSE journal_fetches.requested_at END",
            tuples.join(", ")
        );
        conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}
