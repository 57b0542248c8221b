//! The status changes of an alert and its re-route, each written once: a responder's action and a
//! ServiceNow event that means the same change both go through these functions, and differ only
//! in who caused it and what else they write (a responder's change is written back to ServiceNow).

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, EntityTrait, Set};

use crate::domain::{AlertStatus, LogKind, Priority};
use crate::entity::{alert, escalation_policy};
use crate::error::AppError;
use crate::service::notifications::{self, Event};
use crate::service::rows::Rows;
use crate::service::{Actor, Ctx, escalation};

/// Who causes a change, when, and the log line that says so.
pub(super) struct Cause<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a Actor,
    pub message: String,
}

impl<'a> Cause<'a> {
    /// A cause at the clock's time now.
    pub fn new(ctx: &Ctx, actor: &'a Actor, message: String) -> Cause<'a> {
        Cause {
            at: ctx.now(),
            actor,
            message,
        }
    }
}

/// PENDING → ACCEPTED: escalation stops, and whoever is told of status changes is told.
pub(super) async fn accept(
    txn: &DatabaseTransaction,
    before: &alert::Model,
    am: &mut alert::ActiveModel,
    cause: Cause<'_>,
    rows: &mut Rows,
) -> Result<(), AppError> {
    am.accepted_at = Set(Some(cause.at));
    settle(txn, before, am, Settled::Accepted, cause, rows).await
}

/// → RESOLVED (final): escalation stops, and whoever is told of status changes is told.
pub(super) async fn resolve(
    txn: &DatabaseTransaction,
    before: &alert::Model,
    am: &mut alert::ActiveModel,
    cause: Cause<'_>,
    rows: &mut Rows,
) -> Result<(), AppError> {
    am.resolved_at = Set(Some(cause.at));
    settle(txn, before, am, Settled::Resolved, cause, rows).await
}

/// The two status changes that end escalation.
#[derive(Clone, Copy)]
enum Settled {
    Accepted,
    Resolved,
}

/// What accepting and resolving share: the status, the end of escalation, the log entry, the
/// notifications.
async fn settle(
    txn: &DatabaseTransaction,
    before: &alert::Model,
    am: &mut alert::ActiveModel,
    to: Settled,
    cause: Cause<'_>,
    rows: &mut Rows,
) -> Result<(), AppError> {
    let (status, kind, event) = match to {
        Settled::Accepted => (AlertStatus::Accepted, LogKind::Accepted, Event::Accepted),
        Settled::Resolved => (AlertStatus::Resolved, LogKind::Resolved, Event::Resolved),
    };
    am.status = Set(status);
    escalation::stop(am);
    rows.log(&before.id, kind, cause.message, cause.actor);
    notifications::status_changed(txn, before, event, cause.actor, rows).await
}

/// LOW → HIGH.
pub(super) fn raise_priority(
    alert_id: &str,
    am: &mut alert::ActiveModel,
    cause: Cause<'_>,
    rows: &mut Rows,
) {
    am.priority = Set(Priority::High);
    rows.log(
        alert_id,
        LogKind::PriorityRaised,
        cause.message,
        cause.actor,
    );
}

/// The alert a re-route moves, as it was before.
pub(super) struct Move<'a> {
    pub alert_id: &'a str,
    pub status: AlertStatus,
    pub from_policy_id: &'a str,
}

/// Who re-routes, and the words of the log line around the policy names: "Re-routed {by}from A
/// to B{reason}".
pub(super) struct Why<'a> {
    pub actor: &'a Actor,
    pub by: &'a str,
    pub reason: &'a str,
}

/// Moves a live alert to another policy: the REROUTED log entry, then level 1 of the new policy
/// for a PENDING alert (an accepted one keeps its assignee; earlier responders stay). The one path
/// of `rerouteAlert` and of a routing field change in ServiceNow.
pub(super) async fn move_to_policy(
    txn: &DatabaseTransaction,
    from: Move<'_>,
    target: &escalation_policy::Model,
    why: Why<'_>,
    am: &mut alert::ActiveModel,
    rows: &mut Rows,
) -> Result<(), AppError> {
    let from_name = escalation_policy::Entity::find_by_id(from.from_policy_id.to_string())
        .one(txn)
        .await?
        .map(|p| p.name)
        .unwrap_or_else(|| "a deleted policy".into());
    am.escalation_policy_id = Set(target.id.clone());
    let msg = format!(
        "Re-routed {}from {from_name} to {}{}",
        why.by, target.name, why.reason
    );
    rows.log(from.alert_id, LogKind::Rerouted, msg, why.actor);
    if from.status == AlertStatus::Pending {
        escalation::start(txn, &target.id, am, rows).await?;
    }
    Ok(())
}
