//! Alerts: the webhook's create-or-update and every responder action. Each runs in one
//! transaction that locks the alert row (PostgreSQL) or holds the single SQLite writer, so an
//! event and an action on the same alert never interleave.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{Expr, OnConflict, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    Iterable, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::notifications::{self, Event};
use super::rows::Rows;
use super::sync::{self, Change, UserRef};
use super::{Actor, Caller, escalation, new_id, now, people, policies, servicenow};
use crate::db::{AppendOnly, Db, WriteJob, for_update};
use crate::domain::alert::{
    AlertSnapshot, RoutingUpdate, check_accept, check_raise, check_reroute, check_resolve,
    decide_ingest, is_stale, routing_update,
};
use crate::domain::{
    AlertStatus, Incident, IncidentState, IngestDecision, IngestOutcome, Priority, field_value,
};
use crate::entity::{
    alert, alert_comment, alert_log, alert_source, escalation_policy, servicenow_connection,
};
use crate::error::AppError;

/// Log entry kinds.
pub mod log_kind {
    pub const CREATED: &str = "CREATED";
    pub const ACCEPTED: &str = "ACCEPTED";
    pub const RESOLVED: &str = "RESOLVED";
    pub const PRIORITY_RAISED: &str = "PRIORITY_RAISED";
    pub const REROUTED: &str = "REROUTED";
    pub const COMMENTED: &str = "COMMENTED";
    pub const TICKET_UPDATED: &str = "TICKET_UPDATED";
    pub const ESCALATED: &str = "ESCALATED";
    pub const NOTIFIED: &str = "NOTIFIED";
    pub const NOTIFICATION_FAILED: &str = "NOTIFICATION_FAILED";
    pub const SYNC_FAILED: &str = "SYNC_FAILED";
    pub const SYNC_USER_UNMAPPED: &str = "SYNC_USER_UNMAPPED";
    pub const SYNC_RETRIED: &str = "SYNC_RETRIED";
    /// The event came with the integration key a rotation replaced, within its grace period.
    pub const PREVIOUS_KEY_USED: &str = "PREVIOUS_KEY_USED";
}

/// The log line of an event delivered with the previous integration key.
pub fn previous_key_message(valid_until: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "Received with the previous integration key (valid until {} UTC): update the webhook URL in ServiceNow",
        valid_until.format("%Y-%m-%d %H:%M:%S")
    )
}

pub enum IngestResult {
    Applied {
        outcome: IngestOutcome,
        alert_id: String,
    },
    /// An update (not New) for an incident that has no alert.
    UnknownIncident,
}

pub(crate) async fn append_log(
    txn: &DatabaseTransaction,
    alert_id: &str,
    kind: &str,
    message: String,
    actor: &Actor,
) -> Result<(), AppError> {
    let mut rows = Rows::default();
    rows.log(alert_id, kind, message, actor);
    rows.write(txn).await?;
    Ok(())
}

/// Logs `note` on an alert an event reached without changing it in a transaction of its own (the
/// echo of our own update, which [`sync::absorb_echo`] took).
pub async fn note_event(
    db: &Db,
    alert_id: &str,
    note: String,
    incident: &Incident,
) -> Result<(), AppError> {
    let actor = Actor::ServiceNow {
        updated_by: incident.updated_by.clone(),
    };
    let txn = db.begin_write().await?;
    append_log(&txn, alert_id, log_kind::PREVIOUS_KEY_USED, note, &actor).await?;
    txn.commit().await?;
    Ok(())
}

fn snapshot(a: &alert::Model) -> Result<AlertSnapshot, AppError> {
    Ok(AlertSnapshot {
        status: status_of(a)?,
        priority: priority_of(a)?,
        ticket_state: a.ticket_state,
        ticket_mod_count: a.ticket_mod_count,
        routing_value: a.routing_value.clone(),
        routing_field: a.routing_field.clone(),
    })
}

pub fn status_of(a: &alert::Model) -> Result<AlertStatus, AppError> {
    AlertStatus::parse(&a.status)
        .ok_or_else(|| anyhow::anyhow!("alert {} has unknown status {}", a.id, a.status).into())
}

pub fn priority_of(a: &alert::Model) -> Result<Priority, AppError> {
    Priority::parse(&a.priority)
        .ok_or_else(|| anyhow::anyhow!("alert {} has unknown priority {}", a.id, a.priority).into())
}

async fn find_by_key(
    txn: &DatabaseTransaction,
    source_id: &str,
    key: &str,
) -> Result<Option<alert::Model>, AppError> {
    let query = alert::Entity::find()
        .filter(alert::Column::AlertSourceId.eq(source_id))
        .filter(alert::Column::AlertKey.eq(key));
    Ok(for_update(query, txn.get_database_backend())
        .one(txn)
        .await?)
}

/// Applies one ServiceNow incident event to the alert source's alerts: what the webhook and the
/// reconciliation poll both call. `connection` is the source's ServiceNow connection as the
/// caller read it (its priority mapping and routing field apply); `body` is the whole payload,
/// for the routing field's value; `assignee` is who the event's `assigned_to` is, when it differs
/// from the one last seen ([`people::map_inbound`]).
///
/// Everything that can be read before the writing transaction is (the source's settings and, for a
/// New incident, the policy it routes to and that policy's level 1: users, notification rules),
/// and the rows the change adds are written together at the end (see [`Rows`]): the transaction
/// holds SQLite's single writer for as few statements as the change needs.
pub async fn ingest(
    db: &Db,
    (source, connection): (&alert_source::Model, Option<&servicenow_connection::Model>),
    incident: &Incident,
    assignee: Option<&people::Assignee>,
    body: &serde_json::Value,
) -> Result<IngestResult, AppError> {
    ingest_noted(db, (source, connection), incident, assignee, body, None).await
}

/// [`ingest`], adding `key_note` (an event delivered with the previous integration key,
/// [`previous_key_message`]) to the log of the alert the event creates or reaches, in the same
/// transaction.
pub async fn ingest_noted(
    db: &Db,
    (source, connection): (&alert_source::Model, Option<&servicenow_connection::Model>),
    incident: &Incident,
    assignee: Option<&people::Assignee>,
    body: &serde_json::Value,
    key_note: Option<String>,
) -> Result<IngestResult, AppError> {
    let settings = servicenow::InboundSettings::of(connection);
    let routing_value = settings
        .routing_field
        .as_deref()
        .and_then(|field| field_value(body, field));
    let actor = Actor::ServiceNow {
        updated_by: incident.updated_by.clone(),
    };
    // Only a New incident without an alert yet can create one: read its policy and first step
    // ahead (a replay of the New event reads nothing more). A policy changed in between is as if
    // the event had arrived a moment earlier; one deleted in between is checked for below.
    let first = if incident.state == IncidentState::New
        && !exists(&db.read, &source.id, incident.sys_id.as_str()).await?
    {
        Some(first_step(&db.read, source, routing_value.as_deref()).await?)
    } else {
        None
    };
    let job = Ingest {
        source: source.clone(),
        incident: incident.clone(),
        assignee: assignee.cloned(),
        settings,
        routing_value,
        actor,
        first,
        key_note,
    };
    let (result, queued_sync) = db.write(job).await?;
    if queued_sync {
        sync::wake();
    }
    Ok(result)
}

/// The writing half of [`ingest`], with what it needs owned: on SQLite it runs on the writer
/// thread, possibly in a transaction shared with other events ([`Db::write`]).
struct Ingest {
    source: alert_source::Model,
    incident: Incident,
    assignee: Option<people::Assignee>,
    settings: servicenow::InboundSettings,
    routing_value: Option<String>,
    actor: Actor,
    /// Level 1 of the policy a new alert goes to, read ahead (`None`: not a new incident).
    first: Option<FirstStep>,
    /// A log line for the alert the event reaches ([`ingest_noted`]).
    key_note: Option<String>,
}

impl WriteJob for Ingest {
    /// The result, and whether an update for ServiceNow was queued.
    type Output = (IngestResult, bool);

    fn run<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        append: &'a mut AppendOnly,
    ) -> BoxFuture<'a, Result<(IngestResult, bool), AppError>> {
        Box::pin(apply(txn, self, append))
    }
}

/// Applies the event in `txn`, which the caller commits after writing `append`. Writes nothing
/// else anywhere, so a run whose transaction rolls back can run again.
async fn apply(
    txn: &DatabaseTransaction,
    job: &Ingest,
    append: &mut AppendOnly,
) -> Result<(IngestResult, bool), AppError> {
    let Ingest {
        source,
        incident,
        assignee,
        settings,
        routing_value,
        actor,
        first,
        key_note,
    } = job;
    let assignee = assignee.as_ref();
    let mut first = first.as_ref();
    // A level 1 read ahead means the reader found no alert for the incident: try the insert
    // straight away. When it inserts nothing, a concurrent delivery of the same new incident
    // inserted first (the unique index) and the event is applied to that alert in the next round,
    // or the policy was deleted since and the next round routes afresh. Three rounds at most.
    let mut absent = first.is_some();
    for _ in 0..3 {
        let existing = if std::mem::take(&mut absent) {
            None
        } else {
            find_by_key(txn, &source.id, incident.sys_id.as_str()).await?
        };
        let snap = existing.as_ref().map(snapshot).transpose()?;
        match decide_ingest(snap.as_ref(), incident, &settings.priority_mapping) {
            IngestDecision::RejectUnknown { .. } => {
                return Ok((IngestResult::UnknownIncident, false));
            }
            IngestDecision::Create { priority } => {
                let fresh;
                let FirstStep {
                    routed,
                    policy_id,
                    step,
                } = match first {
                    Some(first) => first,
                    None => {
                        // Routed inside the transaction, with the source as it is now: an admin
                        // may have given it another policy since it was read.
                        let current = alert_source::Entity::find_by_id(source.id.clone())
                            .one(txn)
                            .await?;
                        let current = current.as_ref().unwrap_or(source);
                        fresh = first_step(txn, current, routing_value.as_deref()).await?;
                        &fresh
                    }
                };
                let new = NewAlert {
                    priority,
                    policy_id,
                    routing_value: routing_value.clone(),
                    routing_field: settings.routing_field.clone(),
                };
                let mut am = new_alert(source, incident, new);
                let alert_id = new_id();
                am.id = Set(alert_id.clone());
                // Level 1's assignee is Glidepath's choice: written to the incident like any
                // later escalation step.
                let mut rows =
                    Rows::default().with_connection(&source.id, settings.connection.clone());
                let number = incident.number.as_deref().unwrap_or("an incident");
                let mut msg = format!(
                    "Created from {number} (New, ServiceNow priority {})",
                    incident.priority.as_deref().unwrap_or("none")
                );
                if let (Some(policy), Some(field), Some(value)) =
                    (&routed, &settings.routing_field, &routing_value)
                {
                    msg.push_str(&format!("; routed to {} by {field} = {value}", policy.name));
                }
                rows.log(&alert_id, log_kind::CREATED, msg, actor);
                if let Some(note) = key_note {
                    rows.log(&alert_id, log_kind::PREVIOUS_KEY_USED, note.clone(), actor);
                }
                // Level 1 is reached at once, in the transaction that creates the alert.
                escalation::begin(step.as_ref(), &mut am, &mut rows)?;
                if insert_new(txn, am, policy_id).await? {
                    let queued_sync = rows.write_appending(txn, append).await?;
                    let outcome = IngestOutcome::Created;
                    return Ok((IngestResult::Applied { outcome, alert_id }, queued_sync));
                }
                if !policy_live(txn, policy_id).await? {
                    // Deleted since it was read: route afresh.
                    first = None;
                }
            }
            IngestDecision::Update {
                status,
                raise_priority,
                ticket,
                mut outcome,
            } => {
                let (Some(model), Some(snap)) = (existing, snap) else {
                    return Err(anyhow::anyhow!("update decided without an alert").into());
                };
                let routing = routing_update(
                    &snap,
                    incident,
                    settings.routing_field.as_deref(),
                    routing_value.as_deref(),
                );
                let alert_id = model.id.clone();
                // An older event than the last one applied says nothing about who is assigned now.
                let assigned = match &incident.assigned_to {
                    Some(id) if !is_stale(&snap, incident) => {
                        let id = id.as_ref().map(|id| id.as_str().to_string());
                        (id != model.ticket_assignee).then_some(id)
                    }
                    _ => None,
                };
                if outcome == IngestOutcome::Unchanged
                    && ticket.mod_count.is_none()
                    && routing.is_none()
                    && assigned.is_none()
                {
                    if let Some(note) = key_note {
                        let mut rows = Rows::from_servicenow();
                        rows.log(&alert_id, log_kind::PREVIOUS_KEY_USED, note.clone(), actor);
                        rows.write_appending(txn, append).await?;
                    }
                    return Ok((IngestResult::Applied { outcome, alert_id }, false));
                }
                let at = now();
                // A change made in ServiceNow: nothing it sets in motion is written back.
                let mut rows = Rows::from_servicenow();
                if let Some(note) = key_note {
                    rows.log(&alert_id, log_kind::PREVIOUS_KEY_USED, note.clone(), actor);
                }
                let current_policy = model.escalation_policy_id.clone();
                let before = model.clone();
                let mut am: alert::ActiveModel = model.into();
                if let Some(state) = ticket.state {
                    am.ticket_state = Set(state.code());
                }
                if let Some(m) = ticket.mod_count {
                    am.ticket_mod_count = Set(Some(m));
                }
                let state_label = incident.state.label();
                let event = match status {
                    Some(AlertStatus::Accepted) => {
                        am.status = Set(AlertStatus::Accepted.as_str().into());
                        am.accepted_at = Set(Some(at));
                        escalation::stop(&mut am);
                        let msg = format!("Accepted: the ticket is {state_label} in ServiceNow");
                        rows.log(&alert_id, log_kind::ACCEPTED, msg, actor);
                        Some(Event::Accepted)
                    }
                    Some(AlertStatus::Resolved) => {
                        am.status = Set(AlertStatus::Resolved.as_str().into());
                        am.resolved_at = Set(Some(at));
                        escalation::stop(&mut am);
                        let msg = format!("Resolved: the ticket is {state_label} in ServiceNow");
                        rows.log(&alert_id, log_kind::RESOLVED, msg, actor);
                        Some(Event::Resolved)
                    }
                    _ => {
                        if ticket.state.is_some() {
                            let msg = format!("The ticket is now {state_label} in ServiceNow");
                            rows.log(&alert_id, log_kind::TICKET_UPDATED, msg, actor);
                        }
                        None
                    }
                };
                if let Some(event) = event {
                    notifications::status_changed(txn, &before, event, actor, &mut rows).await?;
                }
                if let Some(RoutingUpdate::Record(value)) = &routing {
                    am.routing_value = Set(value.clone());
                    am.routing_field = Set(settings.routing_field.clone());
                }
                if let Some(RoutingUpdate::Reroute(change)) = routing {
                    am.routing_value = Set(change.clone());
                    let status_now = status.unwrap_or(snap.status);
                    let target = match &change {
                        Some(value) if status_now != AlertStatus::Resolved => {
                            policies::by_routing_key(txn, value).await?
                        }
                        _ => None,
                    };
                    if let (Some(target), Some(field), Some(value)) =
                        (target, &settings.routing_field, &change)
                        && target.id != current_policy
                    {
                        let why = format!(": {field} is now {value} in ServiceNow");
                        let from = Move {
                            alert_id: &alert_id,
                            status: status_now,
                            from_policy_id: &current_policy,
                        };
                        let change = (actor, ("", why.as_str()));
                        move_to_policy(txn, from, &target, change, &mut am, &mut rows).await?;
                        if outcome == IngestOutcome::Unchanged {
                            outcome = IngestOutcome::Updated;
                        }
                    }
                }
                if let Some(Some(sys_id)) = &assigned {
                    let status_now = status.unwrap_or(snap.status);
                    let assignee = assignee.filter(|a| a.sys_id == *sys_id);
                    let user = assignee.and_then(|a| a.user.as_ref());
                    // Glidepath's own assignment coming back (an accept or an escalation step
                    // wrote it): recorded, not logged again.
                    let own = user.is_some_and(|u| Some(&u.id) == before.assigned_to_id.as_ref());
                    if !own {
                        let label = assignee.map_or(sys_id.as_str(), |a| a.label.as_str());
                        let msg = format!("Assigned in ServiceNow to {label}");
                        rows.log(&alert_id, log_kind::TICKET_UPDATED, msg, actor);
                        if let Some(user) = user
                            && status_now != AlertStatus::Resolved
                        {
                            am.assigned_to_id = Set(Some(user.id.clone()));
                        }
                        if outcome == IngestOutcome::Unchanged {
                            outcome = IngestOutcome::Updated;
                        }
                    }
                }
                if let Some(id) = assigned {
                    am.ticket_assignee = Set(id);
                }
                if raise_priority {
                    am.priority = Set(Priority::High.as_str().into());
                    let msg = format!(
                        "Priority raised to HIGH: ServiceNow priority is {}",
                        incident.priority.as_deref().unwrap_or("none")
                    );
                    rows.log(&alert_id, log_kind::PRIORITY_RAISED, msg, actor);
                }
                am.updated_at = Set(at);
                am.update(txn).await?;
                let queued_sync = rows.write_appending(txn, append).await?;
                return Ok((IngestResult::Applied { outcome, alert_id }, queued_sync));
            }
        }
    }
    Err(anyhow::anyhow!("alert for incident vanished between insert and select").into())
}

/// Where a new alert goes and its level 1, read before the writing transaction.
struct FirstStep {
    /// The policy the routing value names, if any.
    routed: Option<escalation_policy::Model>,
    /// The policy the alert goes to: `routed`, else the source's own.
    policy_id: String,
    step: Option<escalation::PreparedStep>,
}

/// Whether the source already has an alert for the incident (on a reader: a hint only).
pub async fn exists<C: ConnectionTrait>(
    conn: &C,
    source_id: &str,
    key: &str,
) -> Result<bool, AppError> {
    Ok(alert::Entity::find()
        .select_only()
        .column(alert::Column::Id)
        .filter(alert::Column::AlertSourceId.eq(source_id))
        .filter(alert::Column::AlertKey.eq(key))
        .into_tuple::<String>()
        .one(conn)
        .await?
        .is_some())
}

/// The policy `id` if it is still live, as a query for inside the writing transaction. On
/// PostgreSQL the row is share-locked, so a concurrent delete (which locks it for update and then
/// counts the open alerts on it) waits for this transaction and sees the alert it creates.
fn live_policy(backend: DbBackend, id: &str) -> SelectStatement {
    let mut query = Query::select()
        .column(escalation_policy::Column::Id)
        .from(escalation_policy::Entity)
        .and_where(escalation_policy::Column::Id.eq(id))
        .and_where(escalation_policy::Column::DeletedAt.is_null())
        .to_owned();
    if backend == DbBackend::Postgres {
        query.lock_shared();
    }
    query
}

async fn policy_live(txn: &DatabaseTransaction, id: &str) -> Result<bool, AppError> {
    let query = live_policy(txn.get_database_backend(), id);
    Ok(txn.query_one(&query).await?.is_some())
}

/// Inserts a new alert, every column of `am` set, in one statement, unless the incident has an
/// alert already (the unique index) or its policy `policy_id` is no longer live
/// ([`live_policy`]). Whether it inserted.
async fn insert_new(
    txn: &DatabaseTransaction,
    am: alert::ActiveModel,
    policy_id: &str,
) -> Result<bool, AppError> {
    let (columns, values): (Vec<_>, Vec<_>) = alert::Column::iter()
        .filter_map(|c| am.get(c).into_value().map(|v| (c, Expr::val(v))))
        .unzip();
    let live = live_policy(txn.get_database_backend(), policy_id);
    // The WHERE also keeps SQLite from reading `ON CONFLICT` as a join's `ON`.
    let row = Query::select()
        .exprs(values)
        .and_where(Expr::exists(live))
        .to_owned();
    let insert = Query::insert()
        .into_table(alert::Entity)
        .columns(columns)
        .select_from(row)
        .map_err(|e| anyhow::anyhow!("cannot build the alert insert: {e}"))?
        .on_conflict(
            OnConflict::columns([alert::Column::AlertSourceId, alert::Column::AlertKey])
                .do_nothing()
                .to_owned(),
        )
        .to_owned();
    Ok(txn.execute(&insert).await?.rows_affected() > 0)
}

async fn first_step<C: ConnectionTrait>(
    conn: &C,
    source: &alert_source::Model,
    routing_value: Option<&str>,
) -> Result<FirstStep, AppError> {
    // The policy whose routing key is the incident's value gets the alert, else the source's own.
    let routed = match routing_value {
        Some(value) => policies::by_routing_key(conn, value).await?,
        None => None,
    };
    let policy_id = routed
        .as_ref()
        .map_or(source.escalation_policy_id.clone(), |p| p.id.clone());
    let step = escalation::prepare_first(conn, &policy_id).await?;
    Ok(FirstStep {
        routed,
        policy_id,
        step,
    })
}

struct NewAlert<'a> {
    priority: Priority,
    policy_id: &'a str,
    routing_value: Option<String>,
    routing_field: Option<String>,
}

/// The alert a re-route moves, as it was before.
struct Move<'a> {
    alert_id: &'a str,
    status: AlertStatus,
    from_policy_id: &'a str,
}

/// Moves a live alert to another policy: the REROUTED log entry, then level 1 of the new policy
/// for a PENDING alert (an accepted one keeps its assignee; earlier responders stay). The one path
/// of `rerouteAlert` and of a routing field change in ServiceNow.
async fn move_to_policy(
    txn: &DatabaseTransaction,
    from: Move<'_>,
    target: &escalation_policy::Model,
    (actor, (by, reason)): (&Actor, (&str, &str)),
    am: &mut alert::ActiveModel,
    rows: &mut Rows,
) -> Result<(), AppError> {
    let from_name = escalation_policy::Entity::find_by_id(from.from_policy_id.to_string())
        .one(txn)
        .await?
        .map(|p| p.name)
        .unwrap_or_else(|| "a deleted policy".into());
    am.escalation_policy_id = Set(target.id.clone());
    let msg = format!("Re-routed {by}from {from_name} to {}{reason}", target.name);
    rows.log(from.alert_id, log_kind::REROUTED, msg, actor);
    if from.status == AlertStatus::Pending {
        escalation::start(txn, &target.id, am, rows).await?;
    }
    Ok(())
}

/// A new PENDING alert for the incident, every column set (the id by the caller).
fn new_alert(
    source: &alert_source::Model,
    incident: &Incident,
    new: NewAlert<'_>,
) -> alert::ActiveModel {
    let at = now();
    alert::ActiveModel {
        id: Set(String::new()),
        alert_source_id: Set(source.id.clone()),
        alert_key: Set(incident.sys_id.as_str().to_string()),
        summary: Set(incident.summary()),
        details: Set(incident.description.clone()),
        status: Set(AlertStatus::Pending.as_str().into()),
        priority: Set(new.priority.as_str().into()),
        escalation_policy_id: Set(new.policy_id.to_string()),
        assigned_to_id: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        accepted_at: Set(None),
        resolved_at: Set(None),
        ticket_number: Set(incident.number.clone()),
        ticket_state: Set(incident.state.code()),
        ticket_url: Set(incident.ticket_url()),
        ticket_mod_count: Set(incident.mod_count),
        escalation_level: Set(0),
        escalation_round: Set(0),
        next_escalation_at: Set(None),
        routing_value: Set(new.routing_value),
        routing_field: Set(new.routing_field),
        ticket_assignee: Set(incident
            .assigned_to
            .clone()
            .flatten()
            .map(|id| id.as_str().into())),
    }
}

/// Runs a responder's action on a locked alert, in one transaction.
async fn act<F>(db: &Db, alert_id: &str, f: F) -> Result<alert::Model, AppError>
where
    F: AsyncFnOnce(&DatabaseTransaction, alert::Model) -> Result<alert::ActiveModel, AppError>,
{
    let txn = db.begin_write().await?;
    let query = alert::Entity::find_by_id(alert_id.to_string());
    let Some(model) = for_update(query, db.backend()).one(&txn).await? else {
        return Err(AppError::NotFound("alert"));
    };
    let mut am = f(&txn, model).await?;
    am.updated_at = Set(now());
    let updated = am.update(&txn).await?;
    txn.commit().await?;
    sync::wake();
    Ok(updated)
}

pub async fn accept(db: &Db, caller: &Caller, alert_id: &str) -> Result<alert::Model, AppError> {
    act(db, alert_id, async |txn, model| {
        check_accept(status_of(&model)?)?;
        let id = model.id.clone();
        let mut rows = Rows::default();
        let actor = caller.actor();
        let before = model.clone();
        let mut am: alert::ActiveModel = model.into();
        am.status = Set(AlertStatus::Accepted.as_str().into());
        am.accepted_at = Set(Some(now()));
        am.assigned_to_id = Set(Some(caller.user_id.clone()));
        escalation::stop(&mut am);
        let msg = format!("Accepted by {}", caller.email);
        rows.log(&id, log_kind::ACCEPTED, msg, &actor);
        notifications::status_changed(txn, &before, Event::Accepted, &actor, &mut rows).await?;
        let user = UserRef {
            id: caller.user_id.clone(),
            email: caller.email.clone(),
        };
        rows.sync(&before, Change::Accept { user });
        rows.write(txn).await?;
        Ok(am)
    })
    .await
}

pub async fn resolve(
    db: &Db,
    caller: &Caller,
    alert_id: &str,
    comment: Option<String>,
) -> Result<alert::Model, AppError> {
    let comment = comment
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    if let Some(c) = &comment {
        check_comment(c)?;
    }
    act(db, alert_id, async |txn, model| {
        check_resolve(status_of(&model)?)?;
        let id = model.id.clone();
        let mut rows = Rows::default();
        let actor = caller.actor();
        let before = model.clone();
        let mut am: alert::ActiveModel = model.into();
        am.status = Set(AlertStatus::Resolved.as_str().into());
        am.resolved_at = Set(Some(now()));
        escalation::stop(&mut am);
        let msg = match &comment {
            Some(c) => {
                insert_comment(txn, &id, caller, c).await?;
                format!("Resolved by {}: {c}", caller.email)
            }
            None => format!("Resolved by {}", caller.email),
        };
        rows.log(&id, log_kind::RESOLVED, msg, &actor);
        notifications::status_changed(txn, &before, Event::Resolved, &actor, &mut rows).await?;
        let change = Change::Resolve {
            user_id: caller.user_id.clone(),
            comment: comment.clone(),
        };
        rows.sync(&before, change);
        rows.write(txn).await?;
        Ok(am)
    })
    .await
}

pub async fn reroute(
    db: &Db,
    caller: &Caller,
    alert_id: &str,
    policy_id: &str,
) -> Result<alert::Model, AppError> {
    let Some(target) = policies::get(db, policy_id).await? else {
        return Err(AppError::NotFound("escalation policy"));
    };
    act(db, alert_id, async |txn, model| {
        let status = status_of(&model)?;
        check_reroute(status, &model.escalation_policy_id, &target.id)?;
        let id = model.id.clone();
        let from_policy_id = model.escalation_policy_id.clone();
        let mut rows = Rows::default();
        // The user's re-route goes to the incident (here only: a re-route that ServiceNow made
        // goes through `move_to_policy` from `ingest` and is not written back). Queued before
        // the new policy's level 1, so the incident gets its group before its assignee.
        let routing_key = target.routing_key.clone();
        rows.sync(&model, Change::Reroute { routing_key });
        let mut am: alert::ActiveModel = model.into();
        let from = Move {
            alert_id: &id,
            status,
            from_policy_id: &from_policy_id,
        };
        let by = format!("by {} ", caller.email);
        let actor = caller.actor();
        move_to_policy(txn, from, &target, (&actor, (&by, "")), &mut am, &mut rows).await?;
        rows.write(txn).await?;
        Ok(am)
    })
    .await
}

pub async fn raise_priority(
    db: &Db,
    caller: &Caller,
    alert_id: &str,
) -> Result<alert::Model, AppError> {
    act(db, alert_id, async |txn, model| {
        check_raise(status_of(&model)?, priority_of(&model)?)?;
        let mut rows = Rows::default();
        let msg = format!("Priority raised to HIGH by {}", caller.email);
        rows.log(&model.id, log_kind::PRIORITY_RAISED, msg, &caller.actor());
        rows.sync(&model, Change::RaisePriority);
        rows.write(txn).await?;
        let mut am: alert::ActiveModel = model.into();
        am.priority = Set(Priority::High.as_str().into());
        Ok(am)
    })
    .await
}

const MAX_COMMENT: usize = 10_000;

fn check_comment(body: &str) -> Result<(), AppError> {
    if body.is_empty() || body.chars().count() > MAX_COMMENT {
        return Err(AppError::validation(
            "comment",
            format!("must be 1 to {MAX_COMMENT} characters"),
        ));
    }
    Ok(())
}

async fn insert_comment(
    txn: &DatabaseTransaction,
    alert_id: &str,
    caller: &Caller,
    body: &str,
) -> Result<alert_comment::Model, AppError> {
    Ok(alert_comment::ActiveModel {
        id: Set(new_id()),
        alert_id: Set(alert_id.to_string()),
        author_id: Set(Some(caller.user_id.clone())),
        body: Set(body.to_string()),
        created_at: Set(now()),
        external_author: Set(None),
        author_label: Set(Some(caller.email.clone())),
    }
    .insert(txn)
    .await?)
}

/// Comments are allowed on resolved alerts too: notes for the post-mortem.
pub async fn comment(
    db: &Db,
    caller: &Caller,
    alert_id: &str,
    body: &str,
) -> Result<alert_comment::Model, AppError> {
    let body = body.trim();
    check_comment(body)?;
    let txn = db.begin_write().await?;
    let query = alert::Entity::find_by_id(alert_id.to_string());
    let Some(model) = for_update(query, db.backend()).one(&txn).await? else {
        return Err(AppError::NotFound("alert"));
    };
    let created = insert_comment(&txn, alert_id, caller, body).await?;
    let mut rows = Rows::default();
    let msg = format!("Comment by {}", caller.email);
    rows.log(alert_id, log_kind::COMMENTED, msg, &caller.actor());
    let body = body.to_string();
    rows.sync(&model, Change::Comment { body });
    rows.write(&txn).await?;
    txn.commit().await?;
    sync::wake();
    Ok(created)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<alert::Model>, AppError> {
    Ok(alert::Entity::find_by_id(id.to_string())
        .one(&db.read)
        .await?)
}

pub async fn comments(db: &Db, alert_id: &str) -> Result<Vec<alert_comment::Model>, AppError> {
    Ok(alert_comment::Entity::find()
        .filter(alert_comment::Column::AlertId.eq(alert_id))
        .order_by_asc(alert_comment::Column::Id)
        .all(&db.read)
        .await?)
}

pub async fn log_entries(db: &Db, alert_id: &str) -> Result<Vec<alert_log::Model>, AppError> {
    Ok(alert_log::Entity::find()
        .filter(alert_log::Column::AlertId.eq(alert_id))
        .order_by_asc(alert_log::Column::Id)
        .all(&db.read)
        .await?)
}

pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub priority: Option<Priority>,
    pub alert_source_id: Option<String>,
}

pub struct AlertPage {
    pub nodes: Vec<alert::Model>,
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
    pub total_count: u64,
}

pub const MAX_PAGE: u64 = 100;

/// Newest first. The cursor is the last alert's id, opaque to clients; ids are time-ordered.
pub async fn list(
    db: &Db,
    filter: AlertFilter,
    first: u64,
    after: Option<&str>,
) -> Result<AlertPage, AppError> {
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(AppError::validation(
            "first",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let mut query = alert::Entity::find();
    if let Some(status) = filter.status {
        query = query.filter(alert::Column::Status.eq(status.as_str()));
    }
    if let Some(priority) = filter.priority {
        query = query.filter(alert::Column::Priority.eq(priority.as_str()));
    }
    if let Some(source) = &filter.alert_source_id {
        query = query.filter(alert::Column::AlertSourceId.eq(source.as_str()));
    }
    let total_count = query.clone().count(&db.read).await?;
    if let Some(cursor) = after {
        query = query.filter(alert::Column::Id.lt(decode_cursor(cursor)?));
    }
    let mut nodes = query
        .order_by_desc(alert::Column::Id)
        .limit(first + 1)
        .all(&db.read)
        .await?;
    let has_next_page = nodes.len() as u64 > first;
    nodes.truncate(first as usize);
    let end_cursor = nodes.last().map(|a| encode_cursor(&a.id));
    Ok(AlertPage {
        nodes,
        has_next_page,
        end_cursor,
        total_count,
    })
}

fn encode_cursor(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("alert:{id}"))
}

fn decode_cursor(cursor: &str) -> Result<String, AppError> {
    let invalid = || AppError::validation("after", "is not a cursor this server issued");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let id = text.strip_prefix("alert:").ok_or_else(invalid)?;
    uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
    Ok(id.to_string())
}
