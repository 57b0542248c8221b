//! The rows an alert change adds beside the alert itself (log entries, responders, notification
//! deliveries), collected while the change is decided and written with one multi-row `INSERT` per
//! table just before it commits.
//!
//! Every writing transaction on SQLite holds the one writer, so each statement inside it delays
//! every other webhook event: a new alert used to cost a dozen single-row statements there, it
//! now costs one per table. Ids are UUIDv7 taken when a row is added, so the order in which rows
//! are added is the order in which they are read back, whenever they are written.

use sea_orm::{ConnectionTrait, EntityTrait, Set};

use super::{Actor, new_id, now};
use crate::entity::{alert_log, alert_responder, notification};
use crate::error::AppError;

#[derive(Default)]
pub struct Rows {
    logs: Vec<alert_log::ActiveModel>,
    responders: Vec<alert_responder::ActiveModel>,
    notifications: Vec<notification::ActiveModel>,
}

impl Rows {
    /// An alert log entry.
    pub fn log(&mut self, alert_id: &str, kind: &str, message: String, actor: &Actor) {
        self.logs.push(alert_log::ActiveModel {
            id: Set(new_id()),
            alert_id: Set(alert_id.to_string()),
            kind: Set(kind.to_string()),
            message: Set(message),
            actor_kind: Set(actor.kind().to_string()),
            actor_user_id: Set(actor.user_id()),
            actor_label: Set(actor.label()),
            created_at: Set(now()),
        });
    }

    /// A responder; one already on the alert keeps their first row (see [`Rows::write`]).
    pub fn responder(&mut self, row: alert_responder::ActiveModel) {
        self.responders.push(row);
    }

    pub fn notification(&mut self, row: notification::ActiveModel) {
        self.notifications.push(row);
    }

    /// Writes everything collected, one statement per non-empty table.
    pub async fn write<C: ConnectionTrait>(self, conn: &C) -> Result<(), AppError> {
        use sea_orm::sea_query::OnConflict;
        alert_log::Entity::insert_many(self.logs)
            .exec_without_returning(conn)
            .await?;
        // Someone a level or round already called stays a responder from their first level.
        alert_responder::Entity::insert_many(self.responders)
            .on_conflict(
                OnConflict::columns([
                    alert_responder::Column::AlertId,
                    alert_responder::Column::UserId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
        notification::Entity::insert_many(self.notifications)
            .exec_without_returning(conn)
            .await?;
        Ok(())
    }
}
