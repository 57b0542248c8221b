//! The `servicenow_connections` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "servicenow_connections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub alert_source_id: String,
    pub instance_url: String,
    pub username: String,
    pub password_encrypted: String,
    pub bidirectional: bool,
    pub priority_mapping: Option<String>,
    pub routing_field: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The reconciliation poll's `sys_updated_on` high-water mark (ServiceNow format, UTC).
    pub poll_watermark: Option<String>,
    pub poll_next_at: Option<DateTimeUtc>,
    pub poll_lease_until: Option<DateTimeUtc>,
    /// The `sys_id` of the last incident read when a poll stopped at its page cap: the next poll
    /// continues after (`poll_watermark`, `poll_cursor`) without overlap.
    pub poll_cursor: Option<String>,
    /// When the connection was configured or moved to another instance (ServiceNow format, UTC):
    /// only New incidents created since then page anyone.
    pub poll_since: Option<String>,
    /// Publish filters: which kinds of alert change are written to the incident.
    pub publish_accept: bool,
    pub publish_resolve: bool,
    pub publish_comment: bool,
    pub publish_priority: bool,
    pub publish_assignment: bool,
    pub publish_reroute: bool,
    /// The incident's `close_code` when Glidepath resolves it; `None` = `Solved (Permanently)`.
    pub close_code: Option<String>,
    /// While set and in the future, one process polls this instance's journal.
    pub journal_lease_until: Option<DateTimeUtc>,
    /// How Glidepath signs in to the instance.
    pub auth_method: AuthMethod,
    /// The OAuth client (Application Registry) of the OAuth methods.
    pub oauth_client_id: Option<String>,
    /// Its secret, encrypted with `service::servicenow::client_secret_context`.
    pub oauth_client_secret_encrypted: Option<String>,
    /// A new value whenever the credentials change: tokens obtained under another are not used.
    pub auth_version: String,
    /// Why the connection needs an admin (every grant Glidepath could try was refused); while
    /// set, nothing is sent to the instance and outbound updates wait.
    pub auth_attention: Option<String>,
    pub auth_attention_at: Option<DateTimeUtc>,
}

/// How Glidepath signs in to the instance's Table API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum AuthMethod {
    /// Basic auth with the user name and password on every request.
    #[sea_orm(string_value = "BASIC")]
    Basic,
    /// OAuth 2.0 password grant (client id and secret, user name and password), renewed with
    /// the refresh token.
    #[sea_orm(string_value = "OAUTH_PASSWORD")]
    OauthPassword,
    /// OAuth 2.0 client credentials grant (client id and secret; the OAuth application user).
    #[sea_orm(string_value = "OAUTH_CLIENT_CREDENTIALS")]
    OauthClientCredentials,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::alert_source::Entity",
        from = "Column::AlertSourceId",
        to = "super::alert_source::Column::Id"
    )]
    AlertSource,
}

impl Related<super::alert_source::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::AlertSource.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
