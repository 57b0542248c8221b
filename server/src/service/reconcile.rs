//! The reconciliation poll. ServiceNow's business rule is fire-and-forget: a POST that fails is
//! never retried. So for every alert source with a connection, each server process in turn reads
//! the incidents updated since a stored watermark and feeds each through the webhook's own
//! lifecycle code ([`alerts::ingest`]); `sys_mod_count` ordering makes re-applying an event it
//! already saw change nothing.
//!
//! Which incidents count: those that already have an alert on the source, and New ones created
//! after the connection was configured. Older New incidents are left alone: configuring a
//! connection must not page anyone for a backlog the webhook never announced.
//!
//! One poll is one request when nothing changed (the overlap window is usually short of a page).
//! A connection is leased before it is polled (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single
//! writer on SQLite), so several processes never poll one connection at once; the lease also
//! bounds a poll against a slow instance, which never holds a transaction open.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::Value;

use super::{alerts, servicenow, sync};
use crate::clock;
use crate::db::Db;
use crate::domain::{Incident, IncidentState};
use crate::entity::{alert, alert_source, servicenow_connection};
use crate::error::AppError;
use crate::secrets::Cipher;
use crate::servicenow::client::{Connector, TableQuery};

/// ServiceNow's date-time format (`sys_updated_on`), always UTC through the Table API.
pub const SN_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
/// Re-read this far behind the watermark: an update committed late, with an earlier
/// `sys_updated_on`, is still seen.
pub const OVERLAP: TimeDelta = TimeDelta::minutes(3);
pub const PAGE: u32 = 100;
/// Pages per poll; a larger backlog continues at the next poll from the advanced watermark.
pub const MAX_PAGES: u32 = 10;

pub fn sn_time(at: DateTime<Utc>) -> String {
    at.format(SN_FORMAT).to_string()
}

fn parse_sn_time(raw: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(raw.trim(), SN_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

/// A connection leased to this process until `lease_until`.
pub struct Lease {
    pub source: alert_source::Model,
    pub connection: servicenow_connection::Model,
    pub lease_until: DateTime<Utc>,
}

/// Leases up to `limit` connections whose poll is due and that no live lease holds. A connection
/// never polled gets its first poll scheduled one `interval` from now: the webhook is the normal
/// path, the poll only catches what it missed.
pub async fn claim_due(
    db: &Db,
    lease: Duration,
    interval: Duration,
    limit: u64,
) -> Result<Vec<Lease>, AppError> {
    let now = clock::now();
    let lease_until = now + TimeDelta::from_std(lease).unwrap_or(TimeDelta::minutes(5));
    let first = now + TimeDelta::from_std(interval).unwrap_or(TimeDelta::minutes(5));
    let txn = db.begin_write().await?;
    let mut query = servicenow_connection::Entity::find()
        .filter(
            Condition::any()
                .add(servicenow_connection::Column::PollNextAt.is_null())
                .add(servicenow_connection::Column::PollNextAt.lte(now)),
        )
        .filter(
            Condition::any()
                .add(servicenow_connection::Column::PollLeaseUntil.is_null())
                .add(servicenow_connection::Column::PollLeaseUntil.lt(now)),
        )
        .order_by_asc(servicenow_connection::Column::PollNextAt)
        .limit(limit);
    if db.backend() == DbBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let due = query.all(&txn).await?;
    let mut leases = Vec::with_capacity(due.len());
    for conn in due {
        if conn.poll_next_at.is_none() {
            let mut active: servicenow_connection::ActiveModel = conn.into();
            active.poll_next_at = Set(Some(first));
            active.update(&txn).await?;
            continue;
        }
        let Some(source) = alert_source::Entity::find_by_id(conn.alert_source_id.clone())
            .one(&txn)
            .await?
        else {
            continue;
        };
        let mut active: servicenow_connection::ActiveModel = conn.into();
        active.poll_lease_until = Set(Some(lease_until));
        let connection = active.update(&txn).await?;
        leases.push(Lease {
            source,
            connection,
            lease_until,
        });
    }
    txn.commit().await?;
    Ok(leases)
}

/// What one poll did.
#[derive(Debug, Default)]
pub struct PollReport {
    pub requests: u32,
    pub seen: usize,
    pub applied: usize,
}

/// Polls one leased connection, then releases it with the next poll `interval` from now. A
/// failed poll keeps its watermark, so the next one reads the same window again.
pub async fn poll(
    db: &Db,
    cipher: &Cipher,
    connector: &Connector,
    lease: Lease,
    interval: Duration,
) -> Result<PollReport, AppError> {
    let result = read_and_apply(db, cipher, connector, &lease).await;
    let (watermark, report) = match result {
        Ok((watermark, report)) => (watermark, Ok(report)),
        Err(e) => (None, Err(e)),
    };
    let next = clock::now() + TimeDelta::from_std(interval).unwrap_or(TimeDelta::minutes(5));
    let mut update = servicenow_connection::Entity::update_many()
        .col_expr(
            servicenow_connection::Column::PollNextAt,
            sea_orm::sea_query::Expr::value(Some(next)),
        )
        .col_expr(
            servicenow_connection::Column::PollLeaseUntil,
            sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
        );
    if let Some(w) = watermark {
        update = update.col_expr(
            servicenow_connection::Column::PollWatermark,
            sea_orm::sea_query::Expr::value(Some(w)),
        );
    }
    // Only while the lease is still ours: a poll that outlived it leaves the row to its new owner.
    update
        .filter(servicenow_connection::Column::AlertSourceId.eq(&lease.source.id))
        .filter(servicenow_connection::Column::PollLeaseUntil.eq(lease.lease_until))
        .exec(&db.write)
        .await?;
    report
}

/// Reads the incidents updated since the watermark (minus the overlap) and applies each;
/// returns the new watermark (the latest `sys_updated_on` seen) and what was done.
async fn read_and_apply(
    db: &Db,
    cipher: &Cipher,
    connector: &Connector,
    lease: &Lease,
) -> Result<(Option<String>, PollReport), AppError> {
    let conn = &lease.connection;
    let client = servicenow::client(db, cipher, connector, &conn.alert_source_id).await?;
    let configured = sn_time(conn.created_at);
    let watermark = conn
        .poll_watermark
        .clone()
        .unwrap_or_else(|| configured.clone());
    let since = parse_sn_time(&watermark).map_or(watermark.clone(), |t| sn_time(t - OVERLAP));
    let mut fields: Vec<String> = [
        "sys_id",
        "number",
        "state",
        "short_description",
        "description",
        "priority",
        "sys_mod_count",
        "sys_updated_by",
        "sys_updated_on",
        "sys_created_on",
    ]
    .map(String::from)
    .to_vec();
    if let Some(field) = &conn.routing_field
        && !fields.contains(field)
    {
        fields.push(field.clone());
    }
    let server_url = format!("{}/", conn.instance_url.trim_end_matches('/'));
    let mut report = PollReport::default();
    let mut latest = watermark.clone();
    for page in 0..MAX_PAGES {
        let query = TableQuery {
            query: Some(format!("sys_updated_on>={since}^ORDERBYsys_updated_on")),
            fields: fields.clone(),
            limit: Some(PAGE),
            offset: Some(page * PAGE),
        };
        report.requests += 1;
        let rows = client.list("incident", &query).await?;
        let count = rows.len();
        for row in rows {
            report.seen += 1;
            let mut body = Value::Object(row);
            body["server_url"] = Value::String(server_url.clone());
            if let Some(updated) = body["sys_updated_on"].as_str()
                && parse_sn_time(updated).is_some()
                && updated > latest.as_str()
            {
                latest = updated.to_string();
            }
            if apply(db, &lease.source, conn, &body, &configured).await? {
                report.applied += 1;
            }
        }
        if count < PAGE as usize {
            break;
        }
    }
    let advanced = (latest != watermark || conn.poll_watermark.is_none()).then_some(latest);
    Ok((advanced, report))
}

/// Applies one polled incident if it concerns the source; true when it was applied.
async fn apply(
    db: &Db,
    source: &alert_source::Model,
    conn: &servicenow_connection::Model,
    body: &Value,
    configured: &str,
) -> Result<bool, AppError> {
    let Ok(incident) = Incident::parse(body) else {
        return Ok(false);
    };
    // Checked on a reader first: most incidents of a busy instance concern no alert here, and
    // must not queue for the writer.
    let created = body["sys_created_on"].as_str().unwrap_or_default();
    let fresh = incident.state == IncidentState::New && created >= configured;
    if !fresh && !has_alert(db, &source.id, incident.sys_id.as_str()).await? {
        return Ok(false);
    }
    // The change Glidepath itself wrote (its webhook echo missed): recorded as the webhook
    // records it, nothing applied.
    if sync::absorb_echo(db, Some(conn), &incident)
        .await?
        .is_some()
    {
        return Ok(false);
    }
    Ok(matches!(
        alerts::ingest(db, source, &incident, body).await?,
        alerts::IngestResult::Applied { .. }
    ))
}

async fn has_alert(db: &Db, source_id: &str, sys_id: &str) -> Result<bool, AppError> {
    Ok(alert::Entity::find()
        .filter(alert::Column::AlertSourceId.eq(source_id))
        .filter(alert::Column::AlertKey.eq(sys_id))
        .one(&db.read)
        .await?
        .is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servicenow_times_round_trip() {
        let t = parse_sn_time("2026-11-28 09:15:02").unwrap();
        assert_eq!(sn_time(t), "2026-11-28 09:15:02");
        assert_eq!(sn_time(t - OVERLAP), "2026-11-28 09:12:02");
        assert!(parse_sn_time("28/11/2026").is_none());
    }
}
