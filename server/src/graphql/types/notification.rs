//! How a user is told: notification rules.

use async_graphql::{Enum, ID, Object};
use chrono::{DateTime, Utc};

use super::{Result, corrupt};
use crate::entity::notification_rule;
use crate::graphql::ContextExt;
use crate::graphql::error::gql;
use crate::service::notifications;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum NotificationKind {
    Email,
    /// A JSON POST of Glidepath's own (versioned, signed) body.
    Webhook,
    /// A Slack incoming webhook: a Block Kit message.
    Slack,
    /// A Microsoft Teams workflow webhook: an Adaptive Card.
    Teams,
}

/// A rule, and (only in the answer of `addNotificationRule`) a webhook's signing secret.
pub struct NotificationRule(pub notification_rule::Model, pub Option<String>);

#[Object]
impl NotificationRule {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn kind(&self) -> Result<NotificationKind> {
        gql(async move {
            match self.0.kind.as_str() {
                notifications::EMAIL => Ok(NotificationKind::Email),
                notifications::WEBHOOK => Ok(NotificationKind::Webhook),
                notifications::SLACK => Ok(NotificationKind::Slack),
                notifications::TEAMS => Ok(NotificationKind::Teams),
                other => Err(corrupt("notification kind", other)),
            }
        })
        .await
    }
    /// The e-mail address, or the URL that receives a POST (WEBHOOK, SLACK, TEAMS). A URL
    /// (stored encrypted) is shown in full to the rule's owner only; an admin reading another
    /// user's rule gets `targetLabel`.
    async fn target(&self, ctx: &async_graphql::Context<'_>) -> Result<String> {
        gql(async move {
            notifications::shown_target(&ctx.state()?.ctx.cipher, ctx.caller()?, &self.0)
        })
        .await
    }
    /// What may be shown of the target to anyone: the address, or the URL's host
    /// (`https://host/…`, without the path or query that often hold a token).
    async fn target_label(&self) -> String {
        notifications::rule_label(&self.0)
    }
    /// Also told when an alert they respond to is accepted or resolved.
    async fn on_status_change(&self) -> bool {
        self.0.on_status_change
    }
    /// Minutes an escalation notification on this rule waits (0: at once).
    async fn delay_minutes(&self) -> i32 {
        self.0.delay_minutes
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// A WEBHOOK rule's signing secret (`whsec_…`): the key of the HMAC-SHA256 in each
    /// delivery's `Glidepath-Signature` header. Shown once, in the answer of
    /// `addNotificationRule`; null everywhere else.
    async fn signing_secret(&self) -> Option<String> {
        self.1.clone()
    }
}
