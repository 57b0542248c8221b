//! The rows an alert change adds beside the alert itself (log entries, responders, notification
//! deliveries, ServiceNow updates), collected while the change is decided and written with one
//! multi-row `INSERT` per table just before it commits ([`AppendOnly`]: on SQLite's writer, the
//! log entries, deliveries and ServiceNow updates of every event in a transaction together).
//!
//! Every writing transaction on SQLite holds the one writer, so each statement inside it delays
//! every other webhook event: a new alert used to cost a dozen single-row statements there, it
//! now costs one per table. Ids are UUIDv7 taken when a row is added, so the order in which rows
//! are added is the order in which they are read back, whenever they are written.

use std::sync::Arc;

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::clock::Clock;

use crate::db::AppendOnly;

use super::sync::{self, Change, Pending};
use super::{Actor, Ctx, log};
use crate::domain::LogKind;
use crate::entity::{alert, alert_log, alert_responder, notification, servicenow_connection};
use crate::error::AppError;

pub struct Rows {
    /// The time every row is stamped with, when it is added.
    clock: Arc<dyn Clock>,
    /// Whether e-mail can be sent (`Delivery::smtp_configured`).
    email: bool,
    logs: Vec<alert_log::ActiveModel>,
    responders: Vec<alert_responder::ActiveModel>,
    notifications: Vec<notification::ActiveModel>,
    sync: Vec<Pending>,
    /// The change came from ServiceNow: nothing is written back to it.
    from_servicenow: bool,
    /// The connection of the alert's source, when the caller read it before the transaction.
    connection: Option<(String, Option<servicenow_connection::Model>)>,
}

impl Rows {
    /// Rows of a change made in Glidepath, on the server of `ctx`.
    pub fn new(ctx: &Ctx) -> Rows {
        Rows {
            clock: Arc::clone(&ctx.clock),
            email: ctx.delivery.smtp_configured,
            logs: Vec::new(),
            responders: Vec::new(),
            notifications: Vec::new(),
            sync: Vec::new(),
            from_servicenow: false,
            connection: None,
        }
    }

    /// Rows of a change that ServiceNow made (an inbound event): [`Rows::sync`] drops every
    /// update, whatever the change sets in motion (a re-route restarting escalation included),
    /// so nothing echoes back to the instance.
    pub fn from_servicenow(ctx: &Ctx) -> Rows {
        Rows {
            from_servicenow: true,
            ..Rows::new(ctx)
        }
    }

    /// The clock of the change: its time now, and how long its escalation timeouts last.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// Whether an e-mail delivery can be sent at all.
    pub fn email_configured(&self) -> bool {
        self.email
    }

    /// The ServiceNow connection of `source_id` (`None`: it has none), read before the writing
    /// transaction, so writing the rows does not read it again.
    pub fn with_connection(
        mut self,
        source_id: &str,
        connection: Option<servicenow_connection::Model>,
    ) -> Rows {
        self.connection = Some((source_id.to_string(), connection));
        self
    }

    /// A ServiceNow update for `change`, written when the source's connection is bidirectional
    /// and publishes this kind of change (see [`sync::outbox_rows`]).
    pub fn sync(&mut self, alert: &alert::Model, change: Change) {
        if !self.from_servicenow {
            self.sync.push(Pending::new(alert, change));
        }
    }

    /// An alert log entry.
    pub fn log(&mut self, alert_id: &str, kind: LogKind, message: String, actor: &Actor) {
        self.logs
            .push(log::entry(self.clock.now(), alert_id, kind, message, actor));
    }

    /// A responder; one already on the alert keeps their first row (see [`Rows::write`]).
    pub fn responder(&mut self, row: alert_responder::ActiveModel) {
        self.responders.push(row);
    }

    pub fn notification(&mut self, row: notification::ActiveModel) {
        self.notifications.push(row);
    }

    /// Writes everything collected, one statement per non-empty table (plus, with ServiceNow
    /// updates, one to read the connections the caller did not read). Returns whether it wrote a
    /// ServiceNow update: after the commit, [`sync::wake`] sends it without waiting for the sync
    /// worker's next tick. A change on a source without a bidirectional connection queues none,
    /// and wakes nothing.
    pub async fn write<C: ConnectionTrait>(self, conn: &C) -> Result<bool, AppError> {
        let mut append = AppendOnly::default();
        let queued_sync = self.write_appending(conn, &mut append).await?;
        append.insert(conn).await?;
        Ok(queued_sync)
    }

    /// Writes the responders, which a later change in the same transaction may read, and hands
    /// every other row to `append`, which the caller writes before it commits (on SQLite's
    /// writer, together with the rows of every other event in the transaction). Returns whether
    /// a ServiceNow update is among them, as [`Rows::write`] does.
    pub async fn write_appending<C: ConnectionTrait>(
        self,
        conn: &C,
        append: &mut AppendOnly,
    ) -> Result<bool, AppError> {
        use sea_orm::sea_query::OnConflict;
        let known = self
            .connection
            .as_ref()
            .map(|(source, c)| (source.as_str(), c.as_ref()));
        let at = self.clock.now();
        let updates = sync::outbox_rows(conn, self.sync, known, at).await?;
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
        let queued_sync = !updates.is_empty();
        append.logs.extend(self.logs);
        append.notifications.extend(self.notifications);
        append.sync_updates.extend(updates);
        Ok(queued_sync)
    }
}
