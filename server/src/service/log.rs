//! The alert log: every alert change appends an entry naming its actor, in the change's own
//! transaction. Kept apart from the alert operations so that every part of the service layer that
//! writes a log entry (escalation, notifications, the ServiceNow sync and journal) depends on this
//! small module rather than on the alert operations.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseTransaction, EntityTrait, Set};

use super::{Actor, new_id};
use crate::domain::LogKind;
use crate::entity::alert_log;
use crate::error::AppError;

/// A log entry made at `at`, ready to insert.
pub fn entry(
    at: DateTime<Utc>,
    alert_id: &str,
    kind: LogKind,
    message: String,
    actor: &Actor,
) -> alert_log::ActiveModel {
    alert_log::ActiveModel {
        id: Set(new_id()),
        alert_id: Set(alert_id.to_string()),
        kind: Set(kind),
        message: Set(message),
        actor_kind: Set(actor.kind().to_string()),
        actor_user_id: Set(actor.user_id()),
        actor_label: Set(actor.label()),
        created_at: Set(at),
    }
}

/// Appends one entry in `txn`, for a change that writes nothing else beside it.
pub async fn append(
    txn: &DatabaseTransaction,
    at: DateTime<Utc>,
    alert_id: &str,
    kind: LogKind,
    message: String,
    actor: &Actor,
) -> Result<(), AppError> {
    alert_log::Entity::insert(entry(at, alert_id, kind, message, actor))
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The log line of an event delivered with the previous integration key.
pub fn previous_key_message(valid_until: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "Received with the previous integration key (valid until {} UTC): update the webhook URL in ServiceNow",
        valid_until.format("%Y-%m-%d %H:%M:%S")
    )
}
