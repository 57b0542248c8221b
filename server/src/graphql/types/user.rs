//! Users, their sign-in and their API tokens.

use async_graphql::{ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::{NotificationRule, Result, RoleGql, UserShift, corrupt};
use crate::domain;
use crate::entity::user;
use crate::graphql::ContextExt;
use crate::graphql::error::gql;
use crate::service::{notifications, schedules};

pub struct User(pub user::Model);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn email(&self) -> &str {
        &self.0.email
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn role(&self) -> Result<RoleGql> {
        gql(async move {
            match domain::Role::parse(&self.0.role) {
                Some(domain::Role::Admin) => Ok(RoleGql::Admin),
                Some(domain::Role::Responder) => Ok(RoleGql::Responder),
                None => Err(corrupt("role", &self.0.role)),
            }
        })
        .await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// A disabled user cannot sign in and escalation skips them.
    async fn disabled(&self) -> bool {
        self.0.disabled
    }
    /// An admin reset the password; the user must change it before anything else.
    async fn must_change_password(&self) -> bool {
        self.0.must_change_password
    }
    /// The user's shifts in every schedule over `[from, to)` (at most 31 days), by start.
    #[graphql(complexity = "super::SHIFTS_COST + child_complexity")]
    async fn on_call_shifts(
        &self,
        ctx: &async_graphql::Context<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<UserShift>> {
        gql(async move {
            let found = schedules::user_shifts(&ctx.state()?.ctx.db, &self.0.id, from, to).await?;
            Ok(found
                .into_iter()
                .map(|(schedule, shift)| UserShift::new(schedule, shift))
                .collect())
        })
        .await
    }
    /// How the user is told; visible to the user and to admins.
    async fn notification_rules(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<Vec<NotificationRule>> {
        gql(async move {
            let rules =
                notifications::rules(&ctx.state()?.ctx.db, ctx.caller()?, &self.0.id).await?;
            Ok(rules
                .into_iter()
                .map(|r| NotificationRule(r, None))
                .collect())
        })
        .await
    }
}

#[derive(SimpleObject)]
pub struct LoginPayload {
    pub token: String,
    pub user: User,
}

/// An API token of the signed-in user; the token itself is never shown again.
#[derive(SimpleObject)]
pub struct ApiToken {
    pub id: ID,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Null: the token does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (to the minute); null if never.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Whose token it is.
    pub user_id: ID,
}

impl From<crate::entity::auth_token::Model> for ApiToken {
    fn from(t: crate::entity::auth_token::Model) -> Self {
        ApiToken {
            id: ID(t.id),
            name: t.name,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            user_id: ID(t.user_id),
        }
    }
}

/// The answer to resetUserPassword: shown once, never stored in clear.
#[derive(SimpleObject)]
pub struct PasswordReset {
    pub user: User,
    /// The one-time password to hand to the user; they must change it at the next sign-in.
    pub temporary_password: String,
}

#[derive(SimpleObject)]
pub struct CreatedApiToken {
    pub id: ID,
    pub name: String,
    /// Shown once: only its hash is stored.
    pub token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}
