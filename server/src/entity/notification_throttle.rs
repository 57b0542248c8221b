//! The `notification_throttles` table: per alert and notification rule (a contact), until when
//! the minute after its last notification lasts, and the digest collecting what came meanwhile.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_throttles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub alert_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub rule_id: String,
    /// Another notification to this contact about this alert before then goes into the digest.
    pub window_until: DateTimeUtc,
    /// The PENDING digest delivery of the current minute, if anything was folded yet.
    pub digest_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
