//! The `notification_rules` table: how a user wants to be told.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    /// `EMAIL`, `WEBHOOK`, `SLACK` or `TEAMS`.
    pub kind: String,
    /// An e-mail address, or an http(s) URL sealed with the server key (bound to the rule id,
    /// see `service::notifications::target_context`).
    pub target: String,
    /// What may be shown of the target: the address, or the webhook's `https://host/…`. Empty
    /// only on a row written by an older version, until the next start fills it.
    pub target_label: Option<String>,
    /// Also tell the user when an alert they respond to is accepted or resolved.
    pub on_status_change: bool,
    pub created_at: DateTimeUtc,
    /// A WEBHOOK rule's signing secret, sealed with the server key (bound to the rule id, see
    /// `service::notifications::secret_context`); shown once, when the rule is added. Empty for
    /// e-mail rules and for webhook rules older than signing.
    pub signing_secret: Option<String>,
    /// Minutes an escalation notification waits before it goes out (0: at once); it is not sent
    /// when the alert was accepted or resolved meanwhile.
    pub delay_minutes: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
