//! Read operations. Every one needs an authenticated caller.

use async_graphql::{Context, ID, Object};

use super::ContextExt;
use super::types::{
    Alert, AlertConnection, AlertSource, AlertStatusGql, ApiToken, EscalationPolicy, OnCallEntry,
    PageInfo, PriorityGql, Schedule, ServiceNowChoice, ServiceNowField, ServiceNowReferenceOption,
    User,
};
use crate::domain::SourceId;
use crate::error::AppError;
use crate::service::{alerts, auth, escalation, policies, schedules, servicenow, sources, users};

type Result<T> = std::result::Result<T, async_graphql::Error>;
use super::error::gql;

pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// The signed-in user (answers even while a password change is pending).
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        gql(async move {
            let caller = ctx.caller_any()?;
            users::get(&ctx.state()?.ctx.db, &caller.user_id)
                .await?
                .map(User)
                .ok_or(AppError::Unauthorized("the user no longer exists"))
        })
        .await
    }

    /// API tokens (names and dates; the tokens were shown once): the caller's own, or with
    /// `userId` another user's, or with `allUsers` everyone's (both ADMIN only).
    async fn api_tokens(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
        #[graphql(default)] all_users: bool,
    ) -> Result<Vec<ApiToken>> {
        gql(async move {
            let caller = ctx.caller()?;
            let owner = match (&user_id, all_users) {
                (Some(id), false) if id.0 == caller.user_id => auth::TokenOwner::User(&id.0),
                (Some(id), false) => {
                    users::require_admin(caller)?;
                    auth::TokenOwner::User(&id.0)
                }
                (None, true) => {
                    users::require_admin(caller)?;
                    auth::TokenOwner::Everyone
                }
                (None, false) => auth::TokenOwner::User(&caller.user_id),
                (Some(_), true) => {
                    return Err(AppError::validation(
                        "allUsers",
                        "cannot be combined with userId",
                    ));
                }
            };
            Ok(auth::api_tokens(&ctx.state()?.ctx.db, owner)
                .await?
                .into_iter()
                .map(ApiToken::from)
                .collect())
        })
        .await
    }

    async fn users(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        gql(async move {
            ctx.caller()?;
            Ok(users::list(&ctx.state()?.ctx.db)
                .await?
                .into_iter()
                .map(User)
                .collect())
        })
        .await
    }

    async fn escalation_policies(&self, ctx: &Context<'_>) -> Result<Vec<EscalationPolicy>> {
        gql(async move {
            ctx.caller()?;
            Ok(policies::list(&ctx.state()?.ctx.db)
                .await?
                .into_iter()
                .map(EscalationPolicy)
                .collect())
        })
        .await
    }

    /// On-call schedules, by name.
    #[graphql(complexity = "super::types::LIST_COST * child_complexity")]
    async fn schedules(&self, ctx: &Context<'_>) -> Result<Vec<Schedule>> {
        gql(async move {
            ctx.caller()?;
            Ok(schedules::list(&ctx.state()?.ctx.db)
                .await?
                .into_iter()
                .map(Schedule)
                .collect())
        })
        .await
    }

    async fn schedule(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Schedule>> {
        gql(async move {
            ctx.caller()?;
            Ok(schedules::get(&ctx.state()?.ctx.db.read, &id.0)
                .await?
                .map(Schedule))
        })
        .await
    }

    /// Whom each level of an escalation policy would page if it started now: its users and
    /// whoever its schedules put on call (disabled users left out).
    #[graphql(complexity = "super::types::SHIFTS_COST + child_complexity")]
    async fn who_is_on_call(
        &self,
        ctx: &Context<'_>,
        escalation_policy_id: ID,
    ) -> Result<Vec<OnCallEntry>> {
        gql(async move {
            ctx.caller()?;
            let c = &ctx.state()?.ctx;
            if policies::get(&c.db, &escalation_policy_id.0)
                .await?
                .is_none()
            {
                return Err(AppError::NotFound("escalation policy"));
            }
            Ok(escalation::who_is_on_call(c, &escalation_policy_id.0)
                .await?
                .into_iter()
                .map(|e| OnCallEntry::new(e.level, e.user, e.schedule))
                .collect())
        })
        .await
    }

    async fn alert_sources(&self, ctx: &Context<'_>) -> Result<Vec<AlertSource>> {
        gql(async move {
            ctx.caller()?;
            Ok(sources::list(&ctx.state()?.ctx.db)
                .await?
                .into_iter()
                .map(AlertSource)
                .collect())
        })
        .await
    }

    /// The instance's incident priority choices, one per value (English labels), sorted by
    /// value. ADMIN only; NOT_FOUND without a connection, BAD_GATEWAY when the instance fails.
    async fn service_now_priorities(
        &self,
        ctx: &Context<'_>,
        alert_source_id: ID,
    ) -> Result<Vec<ServiceNowChoice>> {
        gql(async move {
            users::require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            let choices =
                servicenow::priorities(&state.ctx, &SourceId::from(alert_source_id.as_str()))
                    .await?;
            Ok(choices
                .into_iter()
                .map(|c| ServiceNowChoice {
                    value: c.value,
                    label: c.label,
                })
                .collect())
        })
        .await
    }

    /// The incident's fields (its own and those inherited from task), sorted by label. ADMIN only.
    async fn service_now_fields(
        &self,
        ctx: &Context<'_>,
        alert_source_id: ID,
    ) -> Result<Vec<ServiceNowField>> {
        gql(async move {
            users::require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            let fields =
                servicenow::fields(&state.ctx, &SourceId::from(alert_source_id.as_str())).await?;
            Ok(fields
                .into_iter()
                .map(|f| ServiceNowField {
                    name: f.name,
                    label: f.label,
                    kind: f.kind,
                    reference: f.reference,
                })
                .collect())
        })
        .await
    }

    /// The records a reference field of incident can point at (e.g. the groups for
    /// `assignment_group`), up to 1000, sorted by name. ADMIN only.
    async fn service_now_reference_options(
        &self,
        ctx: &Context<'_>,
        alert_source_id: ID,
        field: String,
    ) -> Result<Vec<ServiceNowReferenceOption>> {
        gql(async move {
            users::require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            let options = servicenow::reference_options(
                &state.ctx,
                &SourceId::from(alert_source_id.as_str()),
                &field,
            )
            .await?;
            Ok(options
                .into_iter()
                .map(|o| ServiceNowReferenceOption {
                    sys_id: o.sys_id,
                    name: o.name,
                })
                .collect())
        })
        .await
    }

    async fn alert_source(&self, ctx: &Context<'_>, id: ID) -> Result<Option<AlertSource>> {
        gql(async move {
            ctx.caller()?;
            Ok(sources::get(&ctx.state()?.ctx.db, &id)
                .await?
                .map(AlertSource))
        })
        .await
    }

    /// Alerts, newest first, filtered by status, priority and alert source; `first` is 1 to 100.
    /// Counts `first` times its selection towards the query's complexity.
    #[graphql(
        complexity = "usize::try_from(first.unwrap_or(25).clamp(1, 100)).unwrap_or(100) * child_complexity"
    )]
    async fn alerts(
        &self,
        ctx: &Context<'_>,
        status: Option<AlertStatusGql>,
        priority: Option<PriorityGql>,
        alert_source_id: Option<ID>,
        #[graphql(default = 25)] first: Option<i32>,
        after: Option<String>,
    ) -> Result<AlertConnection> {
        gql(async move {
            ctx.caller()?;
            let first = u64::try_from(first.unwrap_or(25)).unwrap_or(0);
            let filter = alerts::AlertFilter {
                status: status.map(Into::into),
                priority: priority.map(Into::into),
                alert_source_id: alert_source_id.map(|id| id.0),
            };
            let page = alerts::list(&ctx.state()?.ctx.db, filter, first, after.as_deref()).await?;
            Ok(AlertConnection {
                nodes: page.nodes.into_iter().map(Alert).collect(),
                page_info: PageInfo {
                    has_next_page: page.has_next_page,
                    end_cursor: page.end_cursor,
                },
                total: page.total_count,
            })
        })
        .await
    }

    async fn alert(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Alert>> {
        gql(async move {
            ctx.caller()?;
            Ok(alerts::get(&ctx.state()?.ctx.db, &id).await?.map(Alert))
        })
        .await
    }
}
