//! The reconciliation poll. ServiceNow's business rule is fire-and-forget: a POST that fails is
//! never retried. So for every alert source with a connection, each server process in turn reads
//! the incidents updated since a stored watermark and feeds each through the webhook's own
//! lifecycle code ([`inbound::apply`]); `sys_mod_count` ordering makes re-applying an event it
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

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::Value;

use super::{inbound, servicenow};
use crate::db::Db;
use crate::domain::{Incident, IncidentState, field_value};
use crate::entity::{alert, alert_source, servicenow_connection};
use crate::error::AppError;
use crate::service::Ctx;
use crate::servicenow::client::TableQuery;
use crate::servicenow::time as sn_time;

/// Re-read this far behind the watermark: an update committed late, with an earlier
/// `sys_updated_on`, is still seen.
pub const OVERLAP: TimeDelta = TimeDelta::minutes(3);
/// How far past now a watermark may be stored (the instance's clock may run a little ahead).
pub const FUTURE_MARGIN: TimeDelta = TimeDelta::minutes(5);

/// Page size and pages per poll; a larger backlog continues at the next poll exactly where this
/// one stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollLimits {
    pub page: u32,
    pub max_pages: u32,
}

impl Default for PollLimits {
    fn default() -> PollLimits {
        PollLimits {
            page: 100,
            max_pages: 10,
        }
    }
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
    ctx: &Ctx,
    lease: Duration,
    interval: Duration,
    limit: u64,
) -> Result<Vec<Lease>, AppError> {
    let db = &ctx.db;
    let now = ctx.now();
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
    ctx: &Ctx,
    lease: Lease,
    interval: Duration,
    limits: PollLimits,
) -> Result<PollReport, AppError> {
    let db = &ctx.db;
    let result = read_and_apply(ctx, &lease, limits).await;
    let (position, report) = match result {
        Ok((position, report)) => (Some(position), Ok(report)),
        Err(e) => (None, Err(e)),
    };
    let next = ctx.now() + TimeDelta::from_std(interval).unwrap_or(TimeDelta::minutes(5));
    let mut update = servicenow_connection::Entity::update_many()
        .col_expr(
            servicenow_connection::Column::PollNextAt,
            sea_orm::sea_query::Expr::value(Some(next)),
        )
        .col_expr(
            servicenow_connection::Column::PollLeaseUntil,
            sea_orm::sea_query::Expr::value(Option::<DateTime<Utc>>::None),
        );
    if let Some(p) = position {
        update = update
            .col_expr(
                servicenow_connection::Column::PollWatermark,
                sea_orm::sea_query::Expr::value(Some(p.watermark)),
            )
            .col_expr(
                servicenow_connection::Column::PollCursor,
                sea_orm::sea_query::Expr::value(p.cursor),
            );
    }
    // Only while the lease is still ours: a poll that outlived it, or a connection reconfigured
    // meanwhile (which clears the lease), leaves the row alone.
    update
        .filter(servicenow_connection::Column::AlertSourceId.eq(&lease.source.id))
        .filter(servicenow_connection::Column::PollLeaseUntil.eq(lease.lease_until))
        .exec(&db.write)
        .await?;
    report
}

/// Where the next poll starts: after the exact key (`cursor`) when the last poll stopped at its
/// page cap, else at `watermark` minus the overlap.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    /// `YYYY-MM-DD HH:MM:SS`, normalised and never later than now plus [`FUTURE_MARGIN`].
    pub watermark: String,
    pub cursor: Option<String>,
}

/// Reads the incidents updated since the stored position, a page at a time by key
/// (`sys_updated_on`, `sys_id`), so incidents updated while the poll pages are read again later
/// instead of shifting others out of view, and any number of incidents with one
/// `sys_updated_on` are all read; returns where the next poll starts and what was done.
async fn read_and_apply(
    ctx: &Ctx,
    lease: &Lease,
    limits: PollLimits,
) -> Result<(Position, PollReport), AppError> {
    let conn = &lease.connection;
    let client = servicenow::client(ctx, &conn.alert_source_id).await?;
    let poll_since = conn
        .poll_since
        .as_deref()
        .and_then(sn_time::parse)
        .map_or_else(|| sn_time::format(conn.created_at), sn_time::format);
    let stored = conn
        .poll_watermark
        .as_deref()
        .and_then(sn_time::parse)
        .map(sn_time::format)
        .unwrap_or_else(|| poll_since.clone());
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
        "assigned_to",
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
    // The key of the last incident read; the first page starts after the stored cursor, or at
    // the watermark minus the overlap after a poll that finished its window.
    let mut key: Option<(String, String)> = conn
        .poll_cursor
        .clone()
        .filter(|id| is_sys_id(id))
        .map(|id| (stored.clone(), id));
    let window_start =
        sn_time::parse(&stored).map_or(stored.clone(), |t| sn_time::format(t - OVERLAP));
    let mut finished = false;
    for _ in 0..limits.max_pages.max(1) {
        let filter = match &key {
            Some((at, id)) => format!("sys_updated_on>{at}^NQsys_updated_on={at}^sys_id>{id}"),
            None => format!("sys_updated_on>={window_start}"),
        };
        let query = TableQuery {
            query: Some(format!("{filter}^ORDERBYsys_updated_on^ORDERBYsys_id")),
            fields: fields.clone(),
            limit: Some(limits.page),
            offset: None,
        };
        report.requests += 1;
        let rows = client.list("incident", &query).await?;
        let count = rows.len();
        for row in rows {
            report.seen += 1;
            let mut body = Value::Object(row);
            let raw = body["sys_updated_on"].as_str().unwrap_or_default();
            let Some(at) = sn_time::parse(raw) else {
                // An integration user with another date format or time zone: every time would be
                // wrong, so the poll stops and says why rather than guessing.
                return Err(anyhow::anyhow!(
                    "the instance answered sys_updated_on {raw:?}, not YYYY-MM-DD HH:MM:SS: give \
                     the integration user the system date format and the UTC time zone"
                )
                .into());
            };
            let id = body["sys_id"].as_str().unwrap_or_default().to_string();
            if !is_sys_id(&id) {
                return Err(anyhow::anyhow!("the instance answered sys_id {id:?}").into());
            }
            key = Some((sn_time::format(at), id));
            body["server_url"] = Value::String(server_url.clone());
            if apply(ctx, lease, &body, &poll_since).await? {
                report.applied += 1;
            }
        }
        if count < limits.page as usize {
            finished = true;
            break;
        }
    }
    let position = match key {
        // Stopped at the page cap: continue exactly after the last incident read.
        Some((at, id)) if !finished => Position {
            watermark: at,
            cursor: Some(id),
        },
        // The window is done: the next poll re-reads the overlap behind the latest time seen.
        Some((at, _)) => Position {
            watermark: at.max(stored),
            cursor: None,
        },
        None => Position {
            watermark: stored,
            cursor: None,
        },
    };
    Ok((capped(position, ctx.now()), report))
}

/// An instance whose clock runs ahead must not push the watermark past incidents it has yet to
/// update: the stored watermark is at most [`FUTURE_MARGIN`] after now.
fn capped(position: Position, now: DateTime<Utc>) -> Position {
    let limit = sn_time::format(now + FUTURE_MARGIN);
    if position.watermark > limit {
        Position {
            watermark: limit,
            cursor: None,
        }
    } else {
        position
    }
}

fn is_sys_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

type Known = (Option<i64>, Option<String>, Option<String>);

/// Applies one polled incident if it concerns the source; true when it was applied.
async fn apply(ctx: &Ctx, lease: &Lease, body: &Value, poll_since: &str) -> Result<bool, AppError> {
    let db = &ctx.db;
    let Ok(incident) = Incident::parse(body) else {
        return Ok(false);
    };
    // Checked on a reader first: most incidents of a busy instance concern no alert here, and
    // those the overlap re-reads unchanged must not queue for the writer either.
    let source = &lease.source;
    match known(db, &source.id, incident.sys_id.as_str()).await? {
        Some((mod_count, routing_value, routing_field)) => {
            let seen = matches!((incident.mod_count, mod_count), (Some(m), Some(at)) if m <= at);
            let field = &lease.connection.routing_field;
            let same_route = *field == routing_field
                && field
                    .as_ref()
                    .is_none_or(|f| field_value(body, f) == routing_value);
            if seen && same_route {
                return Ok(false);
            }
        }
        None => {
            let created = body["sys_created_on"].as_str().unwrap_or_default();
            if incident.state != IncidentState::New || created < poll_since {
                return Ok(false);
            }
        }
    }
    // The change Glidepath itself wrote (its webhook echo missed) is recorded as the webhook
    // records it, nothing applied; people are named as the webhook names them.
    let event = inbound::Event {
        source,
        connection: Some(&lease.connection),
        incident,
        body,
        key_note: None,
        received: None,
    };
    Ok(matches!(
        inbound::apply(ctx, event).await?,
        inbound::Outcome::Applied { .. }
    ))
}

/// The `sys_mod_count`, routing value and routing field last applied to the incident's alert, if
/// it has one.
async fn known(db: &Db, source_id: &str, sys_id: &str) -> Result<Option<Known>, AppError> {
    Ok(alert::Entity::find()
        .select_only()
        .column(alert::Column::TicketModCount)
        .column(alert::Column::RoutingValue)
        .column(alert::Column::RoutingField)
        .filter(alert::Column::AlertSourceId.eq(source_id))
        .filter(alert::Column::AlertKey.eq(sys_id))
        .into_tuple()
        .one(&db.read)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watermark_ahead_of_now_is_capped_and_loses_its_cursor() {
        let now = sn_time::parse("2026-11-28 09:00:00").unwrap();
        let ahead = Position {
            watermark: "2027-01-01 00:00:00".into(),
            cursor: Some("0".repeat(32)),
        };
        assert_eq!(
            capped(ahead, now),
            Position {
                watermark: "2026-11-28 09:05:00".into(),
                cursor: None
            }
        );
        let fine = Position {
            watermark: "2026-11-28 09:04:59".into(),
            cursor: Some("0".repeat(32)),
        };
        assert_eq!(capped(fine.clone(), now), fine);
    }
}
