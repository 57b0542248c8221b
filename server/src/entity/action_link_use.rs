//! The `action_link_uses` table: the accept and resolve links of notification e-mails that were
//! used (see `service::action_links`); one row per link, keyed by its nonce.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "action_link_uses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub nonce: String,
    pub alert_id: String,
    pub user_id: String,
    /// `ACCEPT` or `RESOLVE`.
    pub action: String,
    pub used_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
