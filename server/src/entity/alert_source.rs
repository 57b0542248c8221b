//! The `alert_sources` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_sources")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub integration_type: String,
    #[sea_orm(unique)]
    pub integration_key_hash: String,
    pub integration_key_encrypted: String,
    pub escalation_policy_id: String,
    pub created_at: DateTimeUtc,
    /// `NONE`, `BASIC` or `BEARER`.
    pub webhook_auth_kind: String,
    pub webhook_auth_username: Option<String>,
    pub webhook_auth_secret_encrypted: Option<String>,
    /// SHA-256 of the integration key a rotation replaced; it still delivers events until
    /// `previous_key_expires_at`. The replaced key itself is kept nowhere.
    pub previous_key_hash: Option<String>,
    pub previous_key_expires_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_one = "super::servicenow_connection::Entity")]
    ServicenowConnection,
}

impl Related<super::servicenow_connection::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ServicenowConnection.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
