//! What a ServiceNow incident event does to the alert for its incident: create it (New), or
//! apply the status change, ticket fields, re-route, assignment and priority raise that
//! `domain::alert` decides. The webhook and the reconciliation poll reach it through
//! `service::inbound`.

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sea_orm::sea_query::{Expr, OnConflict, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    Iterable, QueryFilter, QuerySelect, Set,
};

use super::transition::{self, Cause, Move, Why};
use crate::clock::Clock;
use crate::db::event_counts::Counted;
use crate::db::journal_requests::JournalRequest;
use crate::db::{AppendOnly, WriteJob, for_update};
use crate::domain::alert::{AlertSnapshot, RoutingUpdate, decide_ingest, is_stale, routing_update};
use crate::domain::{
    AlertStatus, Incident, IncidentState, IngestDecision, IngestOutcome, LogKind, Priority,
    TicketChange, field_value,
};
use crate::entity::{alert, alert_source, escalation_policy, servicenow_connection};
use crate::error::AppError;
use crate::service::Ctx;
use crate::service::rows::Rows;
use crate::service::source_events::Received;
use crate::service::{Actor, escalation, log, new_id, people, policies, servicenow};

pub enum IngestResult {
    Applied {
        outcome: IngestOutcome,
        alert_id: String,
    },
    /// An update (not New) for an incident that has no alert.
    UnknownIncident,
}

/// Logs `note` on an alert an event reached without changing it in a transaction of its own (the
/// echo of our own update, which [`sync::absorb_echo`] took).
pub async fn note_event(
    ctx: &Ctx,
    alert_id: &str,
    note: String,
    incident: &Incident,
) -> Result<(), AppError> {
    let db = &ctx.db;
    let actor = Actor::ServiceNow {
        updated_by: incident.updated_by.clone(),
    };
    let txn = db.begin_write().await?;
    log::append(
        &txn,
        ctx.now(),
        alert_id,
        LogKind::PreviousKeyUsed,
        note,
        &actor,
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

fn snapshot(a: &alert::Model) -> AlertSnapshot {
    AlertSnapshot {
        status: a.status,
        priority: a.priority,
        ticket_state: a.ticket_state,
        ticket_mod_count: a.ticket_mod_count,
        routing_value: a.routing_value.clone(),
        routing_field: a.routing_field.clone(),
    }
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

/// One incident event as [`ingest`] applies it.
pub struct IngestEvent<'a> {
    pub source: &'a alert_source::Model,
    /// The source's ServiceNow connection as the caller read it: its priority mapping and routing
    /// field apply.
    pub connection: Option<&'a servicenow_connection::Model>,
    pub incident: &'a Incident,
    /// Who the event's `assigned_to` is, when it differs from the one last seen
    /// ([`people::map_inbound`]).
    pub assignee: Option<&'a people::Assignee>,
    /// The whole payload, for the routing field's value.
    pub body: &'a serde_json::Value,
    /// A line for the log of the alert the event creates or reaches, in the same transaction (an
    /// event delivered with the previous integration key).
    pub key_note: Option<String>,
    /// A webhook event: its outcome is counted on the source in the same transaction.
    pub received: Option<Received>,
}

/// Applies one ServiceNow incident event to the alert source's alerts; `service::inbound` calls
/// it for the webhook and the reconciliation poll alike.
///
/// Everything that can be read before the writing transaction is (the source's settings and, for a
/// New incident, the policy it routes to and that policy's level 1: users, notification rules),
/// and the rows the change adds are written together at the end (see [`Rows`]): the transaction
/// holds SQLite's single writer for as few statements as the change needs.
pub async fn ingest(ctx: &Ctx, event: IngestEvent<'_>) -> Result<IngestResult, AppError> {
    let db = &ctx.db;
    let IngestEvent {
        source,
        connection,
        incident,
        assignee,
        body,
        key_note,
        received,
    } = event;
    // A webhook event for an incident on a connected source: its journal is read right away.
    let event_has_journal = received.is_some() && connection.is_some();
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
        let clock = ctx.clock.as_ref();
        Some(first_step(&db.read, source, routing_value.as_deref(), clock).await?)
    } else {
        None
    };
    let job = Ingest {
        ctx: ctx.clone(),
        source: source.clone(),
        incident: incident.clone(),
        assignee: assignee.cloned(),
        settings,
        routing_value,
        actor,
        first,
        key_note,
        received,
        journal: event_has_journal,
    };
    let (result, queued_sync) = db.write(job).await?;
    if queued_sync {
        ctx.wake_sync();
    }
    if event_has_journal && journal_requested(&result) {
        ctx.wake_journal();
    }
    Ok(result)
}

/// The writing half of [`ingest`], with what it needs owned: on SQLite it runs on the writer
/// thread, possibly in a transaction shared with other events ([`Db::write`]).
struct Ingest {
    /// The server's context: its clock stamps the rows, as it would outside the writer.
    ctx: Ctx,
    source: alert_source::Model,
    incident: Incident,
    assignee: Option<people::Assignee>,
    settings: servicenow::InboundSettings,
    routing_value: Option<String>,
    actor: Actor,
    /// Level 1 of the policy a new alert goes to, read ahead (`None`: not a new incident).
    first: Option<FirstStep>,
    /// A log line for the alert the event reaches ([`IngestEvent::key_note`]).
    key_note: Option<String>,
    received: Option<Received>,
    /// Whether the event asks for its incident's journal to be read now
    /// ([`journal_requested`]).
    journal: bool,
}

impl Ingest {
    /// The key note in `rows`, if the event has one.
    fn note(&self, alert_id: &str, rows: &mut Rows) {
        if let Some(note) = &self.key_note {
            rows.log(
                alert_id,
                LogKind::PreviousKeyUsed,
                note.clone(),
                &self.actor,
            );
        }
    }
}

/// The result, and whether an update for ServiceNow was queued.
type Applied = (IngestResult, bool);

impl WriteJob for Ingest {
    type Output = Applied;

    fn run<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        append: &'a mut AppendOnly,
    ) -> BoxFuture<'a, Result<Applied, AppError>> {
        Box::pin(async move {
            let applied = apply(txn, self, append).await?;
            if self.journal
                && journal_requested(&applied.0)
                && let IngestResult::Applied { alert_id, .. } = &applied.0
            {
                append.journal_requests.push(JournalRequest {
                    alert_id: alert_id.clone(),
                    alert_source_id: self.source.id.clone(),
                    at_ms: self.ctx.now().timestamp_millis(),
                });
            }
            if let Some(received) = &self.received {
                let source = &self.source.id;
                append.event_counts.push(match &applied.0 {
                    IngestResult::Applied { outcome, .. } => {
                        received.count(source, counted(*outcome), None)
                    }
                    IngestResult::UnknownIncident => {
                        let message = unknown_incident_message(&self.incident);
                        let reason = format!("400 unknown_incident: {message}");
                        received.count(source, Counted::Rejected, Some(reason))
                    }
                });
            }
            Ok(applied)
        })
    }
}

/// Applies the event in `txn`, which the caller commits after writing `append`. Writes nothing
/// else anywhere, so a run whose transaction rolls back can run again.
async fn apply(
    txn: &DatabaseTransaction,
    job: &Ingest,
    append: &mut AppendOnly,
) -> Result<Applied, AppError> {
    let mut first = job.first.as_ref();
    // A level 1 read ahead means the reader found no alert for the incident: try the insert
    // straight away. When it inserts nothing, a concurrent delivery of the same new incident
    // inserted first (the unique index) and the event is applied to that alert in the next round,
    // or the policy was deleted since and the next round routes afresh. Three rounds at most.
    let mut absent = first.is_some();
    for _ in 0..3 {
        let existing = if std::mem::take(&mut absent) {
            None
        } else {
            find_by_key(txn, &job.source.id, job.incident.sys_id.as_str()).await?
        };
        let snap = existing.as_ref().map(snapshot);
        let priority_mapping = &job.settings.priority_mapping;
        match decide_ingest(snap.as_ref(), &job.incident, priority_mapping) {
            IngestDecision::RejectUnknown { .. } => {
                return Ok((IngestResult::UnknownIncident, false));
            }
            IngestDecision::Create { priority } => {
                match create(txn, job, first, priority, append).await? {
                    Created::Inserted(applied) => return Ok(applied),
                    // Deleted since it was read: route afresh.
                    Created::PolicyGone => first = None,
                    Created::Conflict => {}
                }
            }
            IngestDecision::Update {
                status,
                raise_priority,
                ticket,
                outcome,
            } => {
                let (Some(model), Some(snap)) = (existing, snap) else {
                    return Err(anyhow::anyhow!("update decided without an alert").into());
                };
                let decision = Decided {
                    model,
                    snap,
                    status,
                    raise_priority,
                    ticket,
                    outcome,
                };
                return update(txn, job, decision, append).await;
            }
        }
    }
    Err(anyhow::anyhow!("alert for incident vanished between insert and select").into())
}

/// What an attempt to insert a new alert came to.
enum Created {
    Inserted(Applied),
    /// A concurrent delivery of the same incident inserted its alert first.
    Conflict,
    /// The policy the alert was to go to was deleted since it was read.
    PolicyGone,
}

/// Inserts the alert for a New incident, with level 1 of its policy reached at once.
async fn create(
    txn: &DatabaseTransaction,
    job: &Ingest,
    first: Option<&FirstStep>,
    priority: Priority,
    append: &mut AppendOnly,
) -> Result<Created, AppError> {
    let Ingest {
        source,
        incident,
        settings,
        routing_value,
        actor,
        ..
    } = job;
    let fresh;
    let FirstStep {
        routed,
        policy_id,
        step,
    } = match first {
        Some(first) => first,
        None => {
            // Routed inside the transaction, with the source as it is now: an admin may have
            // given it another policy since it was read.
            let current = alert_source::Entity::find_by_id(source.id.clone())
                .one(txn)
                .await?;
            let current = current.as_ref().unwrap_or(source);
            let clock = job.ctx.clock.as_ref();
            fresh = first_step(txn, current, routing_value.as_deref(), clock).await?;
            &fresh
        }
    };
    let new = NewAlert {
        priority,
        policy_id,
        routing_value: routing_value.clone(),
        routing_field: settings.routing_field.clone(),
    };
    let mut am = new_alert(source, incident, new, job.ctx.now());
    let alert_id = new_id();
    am.id = Set(alert_id.clone());
    // Level 1's assignee is Glidepath's choice: written to the incident like any later
    // escalation step.
    let mut rows = Rows::new(&job.ctx).with_connection(&source.id, settings.connection.clone());
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
    rows.log(&alert_id, LogKind::Created, msg, actor);
    job.note(&alert_id, &mut rows);
    escalation::begin(step.as_ref(), &mut am, &mut rows)?;
    if insert_new(txn, am, policy_id).await? {
        let queued_sync = rows.write_appending(txn, append).await?;
        let outcome = IngestOutcome::Created;
        return Ok(Created::Inserted((
            IngestResult::Applied { outcome, alert_id },
            queued_sync,
        )));
    }
    Ok(if policy_live(txn, policy_id).await? {
        Created::Conflict
    } else {
        Created::PolicyGone
    })
}

/// What `decide_ingest` decided for an alert that exists.
struct Decided {
    model: alert::Model,
    snap: AlertSnapshot,
    status: Option<AlertStatus>,
    raise_priority: bool,
    ticket: TicketChange,
    outcome: IngestOutcome,
}

/// Applies an event to the alert that exists for its incident: the status change the domain
/// decided, the ticket fields, a re-route by the routing field, an assignment made in
/// ServiceNow, a priority raise. Nothing it sets in motion is written back to ServiceNow.
async fn update(
    txn: &DatabaseTransaction,
    job: &Ingest,
    decided: Decided,
    append: &mut AppendOnly,
) -> Result<Applied, AppError> {
    let Ingest {
        incident,
        settings,
        routing_value,
        actor,
        ..
    } = job;
    let Decided {
        model,
        snap,
        status,
        raise_priority,
        ticket,
        mut outcome,
    } = decided;
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
    // A change made in ServiceNow: nothing it sets in motion is written back.
    let mut rows = Rows::from_servicenow(&job.ctx);
    job.note(&alert_id, &mut rows);
    if outcome == IngestOutcome::Unchanged
        && ticket.mod_count.is_none()
        && routing.is_none()
        && assigned.is_none()
    {
        if job.key_note.is_some() {
            rows.write_appending(txn, append).await?;
        }
        return Ok((IngestResult::Applied { outcome, alert_id }, false));
    }
    let at = job.ctx.now();
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
    let cause = |message: String| Cause { at, actor, message };
    match status {
        Some(AlertStatus::Accepted) => {
            let msg = format!("Accepted: the ticket is {state_label} in ServiceNow");
            transition::accept(txn, &before, &mut am, cause(msg), &mut rows).await?;
        }
        Some(AlertStatus::Resolved) => {
            let msg = format!("Resolved: the ticket is {state_label} in ServiceNow");
            transition::resolve(txn, &before, &mut am, cause(msg), &mut rows).await?;
        }
        _ => {
            if ticket.state.is_some() {
                let msg = format!("The ticket is now {state_label} in ServiceNow");
                rows.log(&alert_id, LogKind::TicketUpdated, msg, actor);
            }
        }
    }
    let status_now = status.unwrap_or(snap.status);
    match routing {
        Some(RoutingUpdate::Record(value)) => {
            am.routing_value = Set(value);
            am.routing_field = Set(settings.routing_field.clone());
        }
        Some(RoutingUpdate::Reroute(change)) => {
            am.routing_value = Set(change.clone());
            let from = Move {
                alert_id: &alert_id,
                status: status_now,
                from_policy_id: &current_policy,
            };
            if reroute_by_field(txn, job, change, from, &mut am, &mut rows).await?
                && outcome == IngestOutcome::Unchanged
            {
                outcome = IngestOutcome::Updated;
            }
        }
        None => {}
    }
    if let Some(Some(sys_id)) = &assigned
        && assign_from_servicenow(job, sys_id, &before, status_now, &mut am, &mut rows)
        && outcome == IngestOutcome::Unchanged
    {
        outcome = IngestOutcome::Updated;
    }
    if let Some(id) = assigned {
        am.ticket_assignee = Set(id);
    }
    if raise_priority {
        let msg = format!(
            "Priority raised to HIGH: ServiceNow priority is {}",
            incident.priority.as_deref().unwrap_or("none")
        );
        transition::raise_priority(&alert_id, &mut am, cause(msg), &mut rows);
    }
    am.updated_at = Set(at);
    am.update(txn).await?;
    let queued_sync = rows.write_appending(txn, append).await?;
    Ok((IngestResult::Applied { outcome, alert_id }, queued_sync))
}

/// A new value of the routing field: the alert moves to the policy the value names, if there is
/// one and it is another (never a RESOLVED alert). Whether it moved.
async fn reroute_by_field(
    txn: &DatabaseTransaction,
    job: &Ingest,
    value: Option<String>,
    from: Move<'_>,
    am: &mut alert::ActiveModel,
    rows: &mut Rows,
) -> Result<bool, AppError> {
    let (Some(value), Some(field)) = (value, &job.settings.routing_field) else {
        return Ok(false);
    };
    if from.status == AlertStatus::Resolved {
        return Ok(false);
    }
    let Some(target) = policies::by_routing_key(txn, &value).await? else {
        return Ok(false);
    };
    if target.id == from.from_policy_id {
        return Ok(false);
    }
    let why = Why {
        actor: &job.actor,
        by: "",
        reason: &format!(": {field} is now {value} in ServiceNow"),
    };
    transition::move_to_policy(txn, from, &target, why, am, rows).await?;
    Ok(true)
}

/// An `assigned_to` set in ServiceNow (`sys_id`): logged, and the alert's assignee when the
/// `sys_user` maps to a Glidepath user and the alert is not RESOLVED. Glidepath's own assignment
/// coming back (an accept or an escalation step wrote it) is recorded, not logged again. Whether
/// it was logged.
fn assign_from_servicenow(
    job: &Ingest,
    sys_id: &str,
    before: &alert::Model,
    status_now: AlertStatus,
    am: &mut alert::ActiveModel,
    rows: &mut Rows,
) -> bool {
    let assignee = job.assignee.as_ref().filter(|a| a.sys_id == sys_id);
    let user = assignee.and_then(|a| a.user.as_ref());
    if user.is_some_and(|u| Some(&u.id) == before.assigned_to_id.as_ref()) {
        return false;
    }
    let label = assignee.map_or(sys_id, |a| a.label.as_str());
    let msg = format!("Assigned in ServiceNow to {label}");
    rows.log(&before.id, LogKind::TicketUpdated, msg, &job.actor);
    if let Some(user) = user
        && status_now != AlertStatus::Resolved
    {
        am.assigned_to_id = Set(Some(user.id.clone()));
    }
    true
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
    clock: &dyn Clock,
) -> Result<FirstStep, AppError> {
    // The policy whose routing key is the incident's value gets the alert, else the source's own.
    let routed = match routing_value {
        Some(value) => policies::by_routing_key(conn, value).await?,
        None => None,
    };
    let policy_id = routed
        .as_ref()
        .map_or(source.escalation_policy_id.clone(), |p| p.id.clone());
    let step = escalation::prepare_first(conn, &policy_id, clock).await?;
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

/// A new PENDING alert for the incident, every column set (the id by the caller).
fn new_alert(
    source: &alert_source::Model,
    incident: &Incident,
    new: NewAlert<'_>,
    at: DateTime<Utc>,
) -> alert::ActiveModel {
    alert::ActiveModel {
        id: Set(String::new()),
        alert_source_id: Set(source.id.clone()),
        alert_key: Set(incident.sys_id.as_str().to_string()),
        summary: Set(incident.summary()),
        details: Set(incident.description.clone()),
        status: Set(AlertStatus::Pending),
        priority: Set(new.priority),
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

/// Whether an applied webhook event reads its incident's journal now: any event for an alert
/// that existed before it (a new alert's journal is read by the next journal poll).
fn journal_requested(result: &IngestResult) -> bool {
    matches!(result, IngestResult::Applied { outcome, .. } if *outcome != IngestOutcome::Created)
}

fn counted(outcome: IngestOutcome) -> Counted {
    match outcome {
        IngestOutcome::Created => Counted::Created,
        IngestOutcome::Accepted => Counted::Accepted,
        IngestOutcome::Resolved => Counted::Resolved,
        IngestOutcome::Updated => Counted::Updated,
        IngestOutcome::Unchanged => Counted::Unchanged,
    }
}

/// Why an update for an incident without an alert is refused (the webhook's 400 answer).
pub fn unknown_incident_message(incident: &Incident) -> String {
    format!(
        "no alert exists for incident {} and its state is {}: only a New incident creates an alert",
        incident.sys_id.as_str(),
        incident.state.label(),
    )
}
