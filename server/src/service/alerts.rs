//! Alerts: the webhook's create-or-update and every responder action. Each runs in one
//! transaction that locks the alert row (PostgreSQL) or holds the single SQLite writer, so an
//! event and an action on the same alert never interleave.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TryInsertResult,
};

use super::notifications::{self, Event};
use super::sync::{self, Change};
use super::{Actor, Caller, escalation, new_id, now, policies};
use crate::db::{Db, for_update};
use crate::domain::alert::{
    AlertSnapshot, check_accept, check_raise, check_reroute, check_resolve, decide_ingest,
};
use crate::domain::{
    AlertStatus, Incident, IngestDecision, IngestOutcome, Priority, PriorityMapping,
};
use crate::entity::{alert, alert_comment, alert_log, alert_source};
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
    alert_log::ActiveModel {
        id: Set(new_id()),
        alert_id: Set(alert_id.to_string()),
        kind: Set(kind.to_string()),
        message: Set(message),
        actor_kind: Set(actor.kind().to_string()),
        actor_user_id: Set(actor.user_id()),
        actor_label: Set(actor.label()),
        created_at: Set(now()),
    }
    .insert(txn)
    .await?;
    Ok(())
}

fn snapshot(a: &alert::Model) -> Result<AlertSnapshot, AppError> {
    Ok(AlertSnapshot {
        status: status_of(a)?,
        priority: priority_of(a)?,
        ticket_state: a.ticket_state,
        ticket_mod_count: a.ticket_mod_count,
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

/// Applies one ServiceNow incident event to the alert source's alerts.
pub async fn ingest(
    db: &Db,
    source: &alert_source::Model,
    incident: &Incident,
) -> Result<IngestResult, AppError> {
    let mapping = PriorityMapping::default();
    let actor = Actor::ServiceNow {
        updated_by: incident.updated_by.clone(),
    };
    let txn = db.begin_write().await?;
    // Two rounds at most: when a concurrent delivery of the same new incident inserts first, the
    // unique index turns our insert into a no-op and the event is applied to that alert instead.
    for _ in 0..2 {
        let existing = find_by_key(&txn, &source.id, incident.sys_id.as_str()).await?;
        let snap = existing.as_ref().map(snapshot).transpose()?;
        match decide_ingest(snap.as_ref(), incident, &mapping) {
            IngestDecision::RejectUnknown { .. } => return Ok(IngestResult::UnknownIncident),
            IngestDecision::Create { priority } => {
                if let Some(alert_id) = insert_alert(&txn, source, incident, priority).await? {
                    let number = incident.number.as_deref().unwrap_or("an incident");
                    append_log(
                        &txn,
                        &alert_id,
                        log_kind::CREATED,
                        format!(
                            "Created from {number} (New, ServiceNow priority {})",
                            incident.priority.as_deref().unwrap_or("none")
                        ),
                        &actor,
                    )
                    .await?;
                    // Level 1 is reached at once, in the transaction that creates the alert.
                    let Some(created) = alert::Entity::find_by_id(alert_id.clone())
                        .one(&txn)
                        .await?
                    else {
                        return Err(
                            anyhow::anyhow!("alert {alert_id} vanished after insert").into()
                        );
                    };
                    let mut am: alert::ActiveModel = created.into();
                    escalation::start(&txn, &alert_id, &source.escalation_policy_id, &mut am)
                        .await?;
                    am.update(&txn).await?;
                    txn.commit().await?;
                    return Ok(IngestResult::Applied {
                        outcome: IngestOutcome::Created,
                        alert_id,
                    });
                }
            }
            IngestDecision::Update {
                status,
                raise_priority,
                ticket,
                outcome,
            } => {
                let Some(model) = existing else {
                    return Err(anyhow::anyhow!("update decided without an alert").into());
                };
                let alert_id = model.id.clone();
                if outcome == IngestOutcome::Unchanged && ticket.mod_count.is_none() {
                    return Ok(IngestResult::Applied { outcome, alert_id });
                }
                let at = now();
                let mut am: alert::ActiveModel = model.into();
                if let Some(state) = ticket.state {
                    am.ticket_state = Set(state.code());
                }
                if let Some(m) = ticket.mod_count {
                    am.ticket_mod_count = Set(Some(m));
                }
                let state_label = incident.state.label();
                match status {
                    Some(AlertStatus::Accepted) => {
                        am.status = Set(AlertStatus::Accepted.as_str().into());
                        am.accepted_at = Set(Some(at));
                        escalation::stop(&mut am);
                        let msg = format!("Accepted: the ticket is {state_label} in ServiceNow");
                        append_log(&txn, &alert_id, log_kind::ACCEPTED, msg, &actor).await?;
                        notifications::status_changed(&txn, &alert_id, Event::Accepted, &actor)
                            .await?;
                    }
                    Some(AlertStatus::Resolved) => {
                        am.status = Set(AlertStatus::Resolved.as_str().into());
                        am.resolved_at = Set(Some(at));
                        escalation::stop(&mut am);
                        let msg = format!("Resolved: the ticket is {state_label} in ServiceNow");
                        append_log(&txn, &alert_id, log_kind::RESOLVED, msg, &actor).await?;
                        notifications::status_changed(&txn, &alert_id, Event::Resolved, &actor)
                            .await?;
                    }
                    _ => {
                        if ticket.state.is_some() {
                            let msg = format!("The ticket is now {state_label} in ServiceNow");
                            append_log(&txn, &alert_id, log_kind::TICKET_UPDATED, msg, &actor)
                                .await?;
                        }
                    }
                }
                if raise_priority {
                    am.priority = Set(Priority::High.as_str().into());
                    let msg = format!(
                        "Priority raised to HIGH: ServiceNow priority is {}",
                        incident.priority.as_deref().unwrap_or("none")
                    );
                    append_log(&txn, &alert_id, log_kind::PRIORITY_RAISED, msg, &actor).await?;
                }
                am.updated_at = Set(at);
                am.update(&txn).await?;
                txn.commit().await?;
                return Ok(IngestResult::Applied { outcome, alert_id });
            }
        }
    }
    Err(anyhow::anyhow!("alert for incident vanished between insert and select").into())
}

/// Inserts the alert unless one exists for the sys_id; `None` when another delivery won.
async fn insert_alert(
    txn: &DatabaseTransaction,
    source: &alert_source::Model,
    incident: &Incident,
    priority: Priority,
) -> Result<Option<String>, AppError> {
    let at = now();
    let id = new_id();
    let model = alert::ActiveModel {
        id: Set(id.clone()),
        alert_source_id: Set(source.id.clone()),
        alert_key: Set(incident.sys_id.as_str().to_string()),
        summary: Set(incident.summary()),
        details: Set(incident.description.clone()),
        status: Set(AlertStatus::Pending.as_str().into()),
        priority: Set(priority.as_str().into()),
        escalation_policy_id: Set(source.escalation_policy_id.clone()),
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
    };
    let result = alert::Entity::insert(model)
        .on_conflict_do_nothing_on([alert::Column::AlertSourceId, alert::Column::AlertKey])
        .exec_without_returning(txn)
        .await?;
    Ok(match result {
        TryInsertResult::Inserted(n) if n > 0 => Some(id),
        _ => None,
    })
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
        let mut am: alert::ActiveModel = model.into();
        am.status = Set(AlertStatus::Accepted.as_str().into());
        am.accepted_at = Set(Some(now()));
        am.assigned_to_id = Set(Some(caller.user_id.clone()));
        escalation::stop(&mut am);
        let msg = format!("Accepted by {}", caller.email);
        append_log(txn, &id, log_kind::ACCEPTED, msg, &caller.actor()).await?;
        notifications::status_changed(txn, &id, Event::Accepted, &caller.actor()).await?;
        let user_id = &caller.user_id;
        sync::enqueue(txn, &id, Change::Accept { user_id }).await?;
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
        append_log(txn, &id, log_kind::RESOLVED, msg, &caller.actor()).await?;
        notifications::status_changed(txn, &id, Event::Resolved, &caller.actor()).await?;
        let change = Change::Resolve {
            user_id: &caller.user_id,
            comment: comment.as_deref(),
        };
        sync::enqueue(txn, &id, change).await?;
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
        let from = policies::get_any(db, &model.escalation_policy_id)
            .await?
            .map(|p| p.name)
            .unwrap_or_else(|| "a deleted policy".into());
        let mut am: alert::ActiveModel = model.into();
        am.escalation_policy_id = Set(target.id.clone());
        let msg = format!(
            "Re-routed by {} from {from} to {}",
            caller.email, target.name
        );
        append_log(txn, &id, log_kind::REROUTED, msg, &caller.actor()).await?;
        let policy_id = &target.id;
        sync::enqueue(txn, &id, Change::Reroute { policy_id }).await?;
        // An accepted alert has its responder already; only a PENDING one escalates again.
        if status == AlertStatus::Pending {
            escalation::start(txn, &id, &target.id, &mut am).await?;
        }
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
        let id = model.id.clone();
        let mut am: alert::ActiveModel = model.into();
        am.priority = Set(Priority::High.as_str().into());
        let msg = format!("Priority raised to HIGH by {}", caller.email);
        append_log(txn, &id, log_kind::PRIORITY_RAISED, msg, &caller.actor()).await?;
        sync::enqueue(txn, &id, Change::RaisePriority).await?;
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
    if for_update(query, db.backend()).one(&txn).await?.is_none() {
        return Err(AppError::NotFound("alert"));
    }
    let created = insert_comment(&txn, alert_id, caller, body).await?;
    let msg = format!("Comment by {}", caller.email);
    append_log(&txn, alert_id, log_kind::COMMENTED, msg, &caller.actor()).await?;
    sync::enqueue(&txn, alert_id, Change::Comment { body }).await?;
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
