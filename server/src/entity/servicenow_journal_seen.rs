//! The `servicenow_journal_seen` table: journal entries of synced incidents already looked at.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "servicenow_journal_seen")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub alert_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub journal_sys_id: String,
    /// ServiceNow's `sys_created_on` (UTC, `YYYY-MM-DD HH:MM:SS`): the per-alert watermark.
    pub created_on: String,
    /// False for entries Glidepath wrote itself, which are seen but not imported.
    pub imported: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
