//! Escalation policies and their rules.

use async_graphql::{ID, Object, SimpleObject};

use super::{Result, Schedule, User, corrupt};
use crate::entity::escalation_policy;
use crate::error::AppError;
use crate::graphql::ContextExt;
use crate::graphql::error::gql;
use crate::service::policies;

#[derive(SimpleObject)]
pub struct EscalationRule {
    escalation_timeout_minutes: i32,
    users: Vec<User>,
    /// On-call schedules the level pages: whoever is on call when the level starts.
    schedules: Vec<Schedule>,
}

pub struct EscalationPolicy(pub escalation_policy::Model);

#[Object]
impl EscalationPolicy {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Alerts whose routing field carries this value go to this policy.
    async fn routing_key(&self) -> Option<&str> {
        self.0.routing_key.as_deref()
    }
    /// How many more times the rules are walked after the first time; 0 = no repeat.
    async fn repeat(&self) -> i32 {
        self.0.repeat_count
    }
    async fn rules(&self, ctx: &async_graphql::Context<'_>) -> Result<Vec<EscalationRule>> {
        gql(async move {
            let rules = policies::rules(&ctx.state()?.ctx.db, &self.0.id).await?;
            Ok(rules
                .into_iter()
                .map(|r| EscalationRule {
                    escalation_timeout_minutes: r.escalation_timeout_minutes,
                    users: r.users.into_iter().map(User).collect(),
                    schedules: r.schedules.into_iter().map(Schedule).collect(),
                })
                .collect())
        })
        .await
    }
}

pub(super) async fn load_policy(
    ctx: &async_graphql::Context<'_>,
    id: &str,
) -> std::result::Result<EscalationPolicy, AppError> {
    policies::get_any(&ctx.state()?.ctx.db, id)
        .await?
        .map(EscalationPolicy)
        .ok_or_else(|| corrupt("escalation policy id", id))
}
