//! The `servicenow_sync_updates` table: the outbox of incident updates.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "servicenow_sync_updates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub alert_id: String,
    pub alert_source_id: String,
    pub incident_sys_id: String,
    /// `ACCEPT`, `COMMENT`, `PRIORITY`, `REROUTE`, `ASSIGN` or `RESOLVE`.
    pub kind: String,
    /// `{"fields": {...}, "assignTo": {"userId", "email"}}`; the user is mapped when sent.
    pub payload: String,
    /// The incident state this update writes, if it writes one.
    pub written_state: Option<i32>,
    /// `PENDING`, `SYNCED` or `FAILED`.
    pub status: String,
    pub attempts: i32,
    /// When the next attempt may start; while an attempt runs, when its claim lapses.
    pub next_attempt_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
