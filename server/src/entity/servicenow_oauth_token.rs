//! The `servicenow_oauth_tokens` table: the current OAuth tokens of a ServiceNow connection,
//! encrypted, shared by every process.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "servicenow_oauth_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub alert_source_id: String,
    /// The connection's `auth_version` the tokens were obtained under.
    pub auth_version: String,
    pub access_token_encrypted: String,
    pub access_expires_at: DateTimeUtc,
    /// When to renew the access token: shortly before it expires.
    pub renew_at: DateTimeUtc,
    /// Absent for the client credentials grant, which issues none.
    pub refresh_token_encrypted: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
