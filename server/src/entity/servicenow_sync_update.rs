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
    pub kind: SyncKind,
    /// A [`crate::servicenow::sync::IncidentPatch`]: `{"assignTo": {"email", "userId"},
    /// "fields": {...}}`; the user is mapped when sent.
    pub payload: String,
    /// The incident state this update writes, if it writes one.
    pub written_state: Option<i32>,
    pub status: SyncStatus,
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

/// What change an update writes, stored (and named over GraphQL) as its upper-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum SyncKind {
    #[sea_orm(string_value = "ACCEPT")]
    Accept,
    #[sea_orm(string_value = "COMMENT")]
    Comment,
    #[sea_orm(string_value = "PRIORITY")]
    Priority,
    #[sea_orm(string_value = "REROUTE")]
    Reroute,
    #[sea_orm(string_value = "ASSIGN")]
    Assign,
    #[sea_orm(string_value = "RESOLVE")]
    Resolve,
}

/// Where an update stands. `PENDING` is the status every outbox shares
/// ([`crate::service::outbox::PENDING`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum SyncStatus {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "SYNCED")]
    Synced,
    #[sea_orm(string_value = "FAILED")]
    Failed,
}
