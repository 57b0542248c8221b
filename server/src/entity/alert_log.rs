//! The `alert_log` table.

use sea_orm::entity::prelude::*;

use crate::domain::LogKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub alert_id: String,
    pub kind: LogKind,
    pub message: String,
    pub actor_kind: String,
    pub actor_user_id: Option<String>,
    pub actor_label: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
