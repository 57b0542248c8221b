//! The `notifications` table: the outbox of deliveries.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub alert_id: String,
    pub user_id: Option<String>,
    pub kind: String,
    /// The e-mail address, or the webhook URL sealed as on its rule (`rule_id`), or bound to
    /// this row's id when `rule_id` is empty (a clear target of an older version, sealed at start).
    pub target: String,
    /// The rule whose sealed target this delivery copies.
    pub rule_id: Option<String>,
    /// What the alert log may show of the target (see `notification_rule::Model::target_label`).
    pub target_label: Option<String>,
    pub event: String,
    pub subject: String,
    /// The JSON a webhook receives; its text is the e-mail body too.
    pub payload: String,
    pub status: DeliveryState,
    pub attempts: i32,
    /// When the next attempt may start; while an attempt runs, when its claim lapses.
    pub next_attempt_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
    /// A FOLDED delivery: the digest delivery it went into (see `notification_throttle`).
    pub digest_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Where a delivery stands. `PENDING` is the status every outbox shares
/// ([`crate::service::outbox::PENDING`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum DeliveryState {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "SENT")]
    Sent,
    /// Given up, or never sendable (an e-mail without SMTP).
    #[sea_orm(string_value = "FAILED")]
    Failed,
    /// Not sent on its own: its contact was notified about the alert less than a minute before,
    /// so it went into a digest (`digest_id`).
    #[sea_orm(string_value = "FOLDED")]
    Folded,
}
