//! The `webhook_event_hours` table: an alert source's webhook events of one hour, counted by
//! outcome (written by `db::event_counts`, read by `service::source_events`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_event_hours")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub alert_source_id: String,
    /// The hour's start, Unix seconds.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hour: i64,
    pub created: i64,
    pub accepted: i64,
    pub resolved: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
    /// The hour's last event, Unix milliseconds.
    pub last_event_at: i64,
    /// Its outcome: `created`, `accepted`, `resolved`, `updated`, `unchanged` or `rejected`.
    pub last_outcome: String,
    /// The `server_url` the hour's last applied event carried.
    pub last_server_url: Option<String>,
    /// The hour's last rejected event, Unix milliseconds, and why it was rejected.
    pub last_rejected_at: Option<i64>,
    pub last_rejection: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
