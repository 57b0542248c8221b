//! Outbound ServiceNow sync: each alert change made in Glidepath, on a source whose connection is
//! bidirectional and whose publish filters allow that kind, queues an incident update in the
//! transaction of the change. The engine sends them (see `engine::sync`); this module decides
//! what each change writes, records how each attempt went, recognises the webhook echo of our
//! own updates, and answers the sync questions GraphQL asks.
//!
//! A change that came from ServiceNow (the webhook, the reconciliation poll, the journal poll)
//! queues nothing: its rows are collected with `Rows::from_servicenow`, which
//! drops every update, so nothing is ever written back to where it came from.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveEnum, ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryOrder, Set, sea_query::Expr,
};

use super::log;
use super::{Caller, new_id, outbox, servicenow};
use crate::db::{Db, for_update};
use crate::domain::{AlertId, SourceId};
use crate::domain::{Incident, IncidentState, LogKind, PriorityMapping};
use crate::entity::servicenow_sync_update::{self as row, SyncKind, SyncStatus};
use crate::entity::{alert, servicenow_connection, user};
use crate::error::AppError;
use crate::service::Ctx;
use crate::servicenow::incident::high_priority_fields;
use crate::servicenow::sync::{IncidentFields, IncidentPatch};

pub use crate::servicenow::incident::DEFAULT_CLOSE_CODE;
pub use crate::servicenow::sync::UserRef;

/// A change made in Glidepath that may be written to the incident, with what its update needs
/// from the moment it was made.
pub enum Change {
    Accept {
        user: UserRef,
    },
    Comment {
        body: String,
    },
    RaisePriority,
    Reroute {
        /// The new policy's routing key.
        routing_key: Option<String>,
    },
    Assign {
        user: UserRef,
    },
    Resolve {
        user_id: String,
        comment: Option<String>,
    },
}

/// An update decided while an alert change is made, collected by `service::rows::Rows`
/// and turned into an outbox row (or into nothing, without a bidirectional connection that
/// publishes its kind) when the rows are written, in the change's transaction. Its id is taken
/// when it is decided, so the updates of one alert keep the order in which they were made.
pub struct Pending {
    id: String,
    alert_id: String,
    alert_source_id: String,
    incident_sys_id: String,
    ticket_state: i32,
    change: Change,
}

impl Pending {
    pub fn new(alert: &alert::Model, change: Change) -> Pending {
        Pending {
            id: new_id(),
            alert_id: alert.id.clone(),
            alert_source_id: alert.alert_source_id.clone(),
            incident_sys_id: alert.alert_key.clone(),
            ticket_state: alert.ticket_state,
            change,
        }
    }
}

/// Which kinds of change a connection publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishFilters {
    pub accept: bool,
    pub resolve: bool,
    pub comment: bool,
    pub priority: bool,
    pub assignment: bool,
    pub reroute: bool,
}

impl PublishFilters {
    pub fn of(c: &servicenow_connection::Model) -> PublishFilters {
        PublishFilters {
            accept: c.publish_accept,
            resolve: c.publish_resolve,
            comment: c.publish_comment,
            priority: c.publish_priority,
            assignment: c.publish_assignment,
            reroute: c.publish_reroute,
        }
    }

    fn allows(&self, change: &Change) -> bool {
        match change {
            Change::Accept { .. } => self.accept,
            Change::Comment { .. } => self.comment,
            Change::RaisePriority => self.priority,
            Change::Reroute { .. } => self.reroute,
            Change::Assign { .. } => self.assignment,
            Change::Resolve { .. } => self.resolve,
        }
    }
}

/// A routing key that can be written to a reference field: a sys_id.
fn is_sys_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The outbox rows of `pending`, for the alerts whose source has a bidirectional connection that
/// publishes the kind of change; the others are dropped. `known` is the connection of one source
/// (or `None` when it has none) when the caller read it already: then nothing is read for it.
pub async fn outbox_rows<C: ConnectionTrait>(
    conn: &C,
    pending: Vec<Pending>,
    known: Option<(&str, Option<&servicenow_connection::Model>)>,
    at: DateTime<Utc>,
) -> Result<Vec<row::ActiveModel>, AppError> {
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let mut connections: Vec<servicenow_connection::Model> = Vec::new();
    let unknown: BTreeSet<&str> = pending
        .iter()
        .map(|p| p.alert_source_id.as_str())
        .filter(|s| known.is_none_or(|(k, _)| k != *s))
        .collect();
    if let Some((_, Some(c))) = known
        && c.bidirectional
    {
        connections.push(c.clone());
    }
    if !unknown.is_empty() {
        // One statement, and none at all for the source the caller read already.
        connections.extend(
            servicenow_connection::Entity::find()
                .filter(servicenow_connection::Column::AlertSourceId.is_in(unknown))
                .filter(servicenow_connection::Column::Bidirectional.eq(true))
                .all(conn)
                .await?,
        );
    }
    let mut rows = Vec::new();
    for p in pending {
        let Some(c) = connections
            .iter()
            .find(|c| c.alert_source_id == p.alert_source_id)
        else {
            continue;
        };
        if !PublishFilters::of(c).allows(&p.change) {
            continue;
        }
        if let Some(row) = outbox_row(conn, c, p, at).await? {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// What one change writes to the incident, if anything.
async fn outbox_row<C: ConnectionTrait>(
    conn: &C,
    c: &servicenow_connection::Model,
    p: Pending,
    at: DateTime<Utc>,
) -> Result<Option<row::ActiveModel>, AppError> {
    let mut fields = IncidentFields::default();
    let mut assign_to = None;
    let kind = match p.change {
        Change::Accept { user } => {
            if p.ticket_state < IncidentState::InProgress.code() {
                fields.set_state(IncidentState::InProgress);
            }
            assign_to = Some(user);
            SyncKind::Accept
        }
        Change::Comment { body } => {
            fields.work_notes = Some(body);
            SyncKind::Comment
        }
        Change::RaisePriority => {
            let mapping = PriorityMapping::with_overrides(
                servicenow::stored_mapping(c).into_iter().collect(),
            );
            let (impact, urgency) = high_priority_fields(&mapping);
            fields.impact = Some(impact.into());
            fields.urgency = Some(urgency.into());
            SyncKind::Priority
        }
        Change::Reroute { routing_key } => {
            if c.routing_field.as_deref() != Some("assignment_group") {
                return Ok(None);
            }
            let Some(group) = routing_key.filter(|k| is_sys_id(k)) else {
                return Ok(None);
            };
            fields.assignment_group = Some(group);
            SyncKind::Reroute
        }
        Change::Assign { user } => {
            assign_to = Some(user);
            SyncKind::Assign
        }
        Change::Resolve { user_id, comment } => {
            if IncidentState::from_code(p.ticket_state.into())
                .is_some_and(IncidentState::is_terminal)
            {
                return Ok(None);
            }
            let notes = match comment {
                Some(c) => c,
                None => {
                    let who = user::Entity::find_by_id(user_id)
                        .one(conn)
                        .await?
                        .map(|u| format!("{} ({})", u.name, u.email))
                        .unwrap_or_else(|| "a Glidepath user".into());
                    format!("Resolved in Glidepath by {who}")
                }
            };
            let code = c
                .close_code
                .clone()
                .unwrap_or_else(|| DEFAULT_CLOSE_CODE.into());
            fields.set_state(IncidentState::Resolved);
            fields.close_code = Some(code);
            fields.close_notes = Some(notes);
            SyncKind::Resolve
        }
    };
    let written_state = fields.written_state();
    let payload = IncidentPatch { assign_to, fields };
    Ok(Some(row::ActiveModel {
        id: Set(p.id),
        alert_id: Set(p.alert_id),
        alert_source_id: Set(p.alert_source_id),
        incident_sys_id: Set(p.incident_sys_id),
        kind: Set(kind),
        payload: Set(payload.to_stored()),
        written_state: Set(written_state),
        status: Set(SyncStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(Some(at)),
        last_error: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        delivered_at: Set(None),
    }))
}

// -- delivery ---------------------------------------------------------------------------------

const COLUMNS: outbox::Columns<row::Entity> = outbox::Columns {
    id: row::Column::Id,
    status: row::Column::Status,
    attempts: row::Column::Attempts,
    next_attempt_at: row::Column::NextAttemptAt,
};

/// How the sync worker retries.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub base: TimeDelta,
    pub cap: TimeDelta,
    pub max_attempts: i32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: TimeDelta::seconds(2),
            cap: TimeDelta::minutes(5),
            max_attempts: 20,
        }
    }
}

/// Claims up to `limit` due updates, at most one per incident: an update waits while an earlier
/// one of its alert is pending (queued, in flight or waiting for a retry), so each incident sees
/// its updates in the order they were made.
pub async fn claim_due(
    ctx: &Ctx,
    limit: u64,
    claim_until: DateTime<Utc>,
) -> Result<Vec<row::Model>, AppError> {
    outbox::claim_due(
        ctx,
        &COLUMNS,
        Condition::all()
            .add(first_of_its_alert())
            .add(connection_usable()),
        limit,
        claim_until,
    )
    .await
}

/// The update's connection does not wait for an admin (`auth_attention`): updates of one that
/// does stay queued, untried, until its credentials are fixed.
fn connection_usable() -> Expr {
    Expr::cust(
        "NOT EXISTS (SELECT 1 FROM servicenow_connections attention \
         WHERE attention.alert_source_id = servicenow_sync_updates.alert_source_id \
         AND attention.auth_attention IS NOT NULL)",
    )
}

/// The update is the earliest pending one of its alert.
fn first_of_its_alert() -> Expr {
    Expr::cust(format!(
        "NOT EXISTS (SELECT 1 FROM servicenow_sync_updates earlier \
         WHERE earlier.alert_id = servicenow_sync_updates.alert_id \
         AND earlier.status = '{}' AND earlier.id < servicenow_sync_updates.id)",
        SyncStatus::Pending.to_value()
    ))
}

/// When the next update may be tried: the earliest retry time (or claim deadline) among the
/// updates at the head of their alert's queue. Updates waiting behind another do not count,
/// however long they have waited.
pub async fn next_attempt(db: &Db) -> Result<Option<DateTime<Utc>>, AppError> {
    Ok(row::Entity::find()
        .filter(row::Column::Status.eq(SyncStatus::Pending))
        .filter(first_of_its_alert())
        .filter(connection_usable())
        .order_by_asc(row::Column::NextAttemptAt)
        .one(&db.read)
        .await?
        .and_then(|r| r.next_attempt_at))
}

/// How one attempt went.
#[derive(Debug)]
pub enum Outcome {
    /// Written; `note` is logged on the alert (e.g. an unmapped user).
    Synced { note: Option<String> },
    /// Will not succeed by trying again (a 4xx other than 408 and 429).
    Failed(String),
    /// Try again after the backoff, and not before `not_before` (a 429's Retry-After).
    Retry {
        error: String,
        not_before: Option<DateTime<Utc>>,
    },
    /// Not tried: the connection needs an admin. The update stays queued with its attempt not
    /// counted, and goes once the connection is usable again.
    Wait(String),
}

fn kind_label(kind: SyncKind) -> &'static str {
    match kind {
        SyncKind::Accept => "accept",
        SyncKind::Comment => "comment",
        SyncKind::Priority => "priority",
        SyncKind::Reroute => "re-route",
        SyncKind::Assign => "assignment",
        SyncKind::Resolve => "resolve",
    }
}

/// Records how claimed updates went, in one writing transaction (each unless its claim was
/// taken over meanwhile).
pub async fn finish(
    ctx: &Ctx,
    outcomes: Vec<(&row::Model, Outcome)>,
    retry: &RetryPolicy,
) -> Result<(), AppError> {
    let at = ctx.now();
    let settlements = outcomes
        .into_iter()
        .map(|(claimed, outcome)| settlement(claimed, outcome, retry, at))
        .collect();
    outbox::settle_all(ctx, &COLUMNS, settlements).await
}

fn settlement(
    claimed: &row::Model,
    outcome: Outcome,
    retry: &RetryPolicy,
    at: DateTime<Utc>,
) -> outbox::Settlement<row::Column> {
    let what = format!(
        "ServiceNow update ({}) of {}",
        kind_label(claimed.kind),
        claimed.incident_sys_id
    );
    let (changes, log) = match outcome {
        Outcome::Synced { note } => (
            vec![
                (row::Column::Status, Expr::value(SyncStatus::Synced)),
                (row::Column::DeliveredAt, Expr::value(Some(at))),
                (row::Column::NextAttemptAt, outbox::no_time()),
                (row::Column::LastError, Expr::value(Option::<String>::None)),
            ],
            note.map(|n| (LogKind::SyncUserUnmapped, n)),
        ),
        Outcome::Retry { error, .. } if claimed.attempts >= retry.max_attempts => {
            let msg = format!("{what} failed after {} attempts: {error}", claimed.attempts);
            (
                vec![
                    (row::Column::Status, Expr::value(SyncStatus::Failed)),
                    (row::Column::LastError, Expr::value(error)),
                    (row::Column::NextAttemptAt, outbox::no_time()),
                ],
                Some((LogKind::SyncFailed, msg)),
            )
        }
        Outcome::Failed(error) => {
            let msg = format!("{what} failed: {error}");
            (
                vec![
                    (row::Column::Status, Expr::value(SyncStatus::Failed)),
                    (row::Column::LastError, Expr::value(error)),
                    (row::Column::NextAttemptAt, outbox::no_time()),
                ],
                Some((LogKind::SyncFailed, msg)),
            )
        }
        Outcome::Wait(error) => (
            vec![
                (row::Column::Attempts, Expr::value(claimed.attempts - 1)),
                (row::Column::LastError, Expr::value(error)),
                (row::Column::NextAttemptAt, Expr::value(Some(at))),
            ],
            None,
        ),
        Outcome::Retry { error, not_before } => {
            let mut next = at + outbox::backoff(claimed.attempts, retry.base, retry.cap, 0.5);
            if let Some(nb) = not_before {
                next = next.max(nb);
            }
            (
                vec![
                    (row::Column::LastError, Expr::value(error)),
                    (row::Column::NextAttemptAt, Expr::value(Some(next))),
                ],
                None,
            )
        }
    };
    let mut changes = changes;
    changes.push((row::Column::UpdatedAt, Expr::value(at)));
    outbox::Settlement {
        id: claimed.id.clone(),
        attempts: claimed.attempts,
        alert_id: claimed.alert_id.clone(),
        changes,
        log,
    }
}

// -- the echo of our own updates ---------------------------------------------------------------

/// Whether a webhook event is ServiceNow telling us about an update Glidepath wrote: made by
/// the connection's user, and leaving the incident in the state we last wrote (or, when we
/// wrote no state, the state we already knew). Such an event changes nothing visible: only the
/// ticket's last seen state and modification count are recorded, with no log entry, no status
/// change and nothing queued. Returns the alert's id when the event was an echo.
pub async fn absorb_echo(
    db: &Db,
    conn: Option<&servicenow_connection::Model>,
    incident: &Incident,
) -> Result<Option<String>, AppError> {
    let Some(conn) = conn else {
        return Ok(None);
    };
    let source_id = conn.alert_source_id.as_str();
    if incident.updated_by.as_deref() != Some(conn.username.as_str()) {
        return Ok(None);
    }
    let txn = db.begin_write().await?;
    let query = alert::Entity::find()
        .filter(alert::Column::AlertSourceId.eq(source_id))
        .filter(alert::Column::AlertKey.eq(incident.sys_id.as_str()));
    let Some(model) = for_update(query, db.backend()).one(&txn).await? else {
        return Ok(None);
    };
    let last_written = row::Entity::find()
        .filter(row::Column::AlertId.eq(model.id.clone()))
        .filter(row::Column::WrittenState.is_not_null())
        .filter(
            Condition::any()
                .add(row::Column::Status.eq(SyncStatus::Synced))
                .add(
                    Condition::all()
                        .add(row::Column::Status.eq(SyncStatus::Pending))
                        .add(row::Column::Attempts.gt(0)),
                ),
        )
        .order_by_desc(row::Column::Id)
        .one(&txn)
        .await?
        .and_then(|r| r.written_state);
    let expected = last_written.unwrap_or(model.ticket_state);
    if incident.state.code() != expected {
        return Ok(None);
    }
    let newer = match (incident.mod_count, model.ticket_mod_count) {
        (Some(new), Some(old)) => new > old,
        _ => true,
    };
    let alert_id = model.id.clone();
    if newer {
        let mut am: alert::ActiveModel = model.into();
        am.ticket_state = Set(expected);
        if let Some(m) = incident.mod_count {
            am.ticket_mod_count = Set(Some(m));
        }
        am.update(&txn).await?;
    }
    txn.commit().await?;
    Ok(Some(alert_id))
}

// -- reading and retrying ----------------------------------------------------------------------

/// Every update queued for the alert, oldest first.
pub async fn updates(db: &Db, alert_id: &str) -> Result<Vec<row::Model>, AppError> {
    Ok(row::Entity::find()
        .filter(row::Column::AlertId.eq(alert_id))
        .order_by_asc(row::Column::Id)
        .all(&db.read)
        .await?)
}

/// The alert's sync at a glance: FAILED if an update failed (and was not retried), else PENDING
/// if one is waiting, else SYNCED; with the row that decides it. `None` if nothing was queued.
pub fn status(rows: &[row::Model]) -> Option<(SyncStatus, &row::Model)> {
    if let Some(r) = rows.iter().rev().find(|r| r.status == SyncStatus::Failed) {
        return Some((SyncStatus::Failed, r));
    }
    if let Some(r) = rows.iter().find(|r| r.status == SyncStatus::Pending) {
        return Some((SyncStatus::Pending, r));
    }
    rows.last().map(|r| (SyncStatus::Synced, r))
}

/// Queues the alert's failed updates again, in their original order.
pub async fn retry(ctx: &Ctx, caller: &Caller, alert_id: &AlertId) -> Result<(), AppError> {
    let db = &ctx.db;
    let txn = db.begin_write().await?;
    let query = alert::Entity::find_by_id(alert_id.to_string());
    if for_update(query, db.backend()).one(&txn).await?.is_none() {
        return Err(AppError::NotFound("alert"));
    }
    let at = ctx.now();
    let result = row::Entity::update_many()
        .col_expr(row::Column::Status, Expr::value(SyncStatus::Pending))
        .col_expr(row::Column::Attempts, Expr::value(0))
        .col_expr(row::Column::NextAttemptAt, Expr::value(Some(at)))
        .col_expr(row::Column::UpdatedAt, Expr::value(at))
        .filter(row::Column::AlertId.eq(alert_id))
        .filter(row::Column::Status.eq(SyncStatus::Failed))
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::Conflict(
            "the alert has no failed ServiceNow update to retry".into(),
        ));
    }
    let msg = format!(
        "{} failed ServiceNow update(s) queued again by {}",
        result.rows_affected, caller.email
    );
    let actor = caller.actor();
    log::append(&txn, ctx.now(), alert_id, LogKind::SyncRetried, msg, &actor).await?;
    txn.commit().await?;
    ctx.wake_sync();
    Ok(())
}

/// Sets which kinds of change the source's connection writes to ServiceNow (ADMIN).
pub async fn set_publish_filters(
    ctx: &Ctx,
    source_id: &SourceId,
    filters: PublishFilters,
) -> Result<(), AppError> {
    let db = &ctx.db;
    let Some(conn) = servicenow_connection::Entity::find_by_id(source_id.to_string())
        .one(&db.read)
        .await?
    else {
        return Err(AppError::NotFound("ServiceNow connection"));
    };
    let mut am: servicenow_connection::ActiveModel = conn.into();
    am.publish_accept = Set(filters.accept);
    am.publish_resolve = Set(filters.resolve);
    am.publish_comment = Set(filters.comment);
    am.publish_priority = Set(filters.priority);
    am.publish_assignment = Set(filters.assignment);
    am.publish_reroute = Set(filters.reroute);
    am.updated_at = Set(ctx.now());
    am.update(&db.write).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_is_the_status_every_outbox_shares() {
        assert_eq!(SyncStatus::Pending.to_value(), outbox::PENDING);
    }

    #[test]
    fn routing_keys_are_written_only_as_sys_ids() {
        assert!(is_sys_id("8a4dde73c6112278017a6a4baf547aa7"));
        assert!(!is_sys_id("network"));
    }
}
