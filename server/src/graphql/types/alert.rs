//! An alert and what hangs off it: comments, log entries, the ServiceNow ticket, and the page of
//! alerts `alerts` answers.

use async_graphql::{ComplexObject, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use super::source::{AlertSource, SyncStatus, SyncUpdate};
use super::{
    AlertStatusGql, EscalationPolicy, LIST_COST, PageInfo, PriorityGql, Result, User, corrupt,
};
use crate::domain::{IncidentState, LogKind};
use crate::entity::{alert, alert_comment, alert_log};
use crate::error::AppError;
use crate::graphql::ContextExt;
use crate::graphql::error::gql;
use crate::graphql::loaders;
use crate::service::{alerts, sync, users};

#[derive(SimpleObject)]
pub struct Ticket {
    sys_id: String,
    number: Option<String>,
    /// ServiceNow's incident state: 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled.
    state: i32,
    state_label: String,
    /// Opens the incident in ServiceNow.
    url: Option<String>,
}

pub struct Alert(pub alert::Model);

#[Object]
impl Alert {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn status(&self) -> AlertStatusGql {
        self.0.status.into()
    }
    async fn priority(&self) -> PriorityGql {
        self.0.priority.into()
    }
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    async fn details(&self) -> Option<&str> {
        self.0.details.as_deref()
    }
    /// The incident's sys_id: at most one alert per alert source has a given key.
    async fn alert_key(&self) -> &str {
        &self.0.alert_key
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn accepted_at(&self) -> Option<DateTime<Utc>> {
        self.0.accepted_at
    }
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
    async fn alert_source(&self, ctx: &async_graphql::Context<'_>) -> Result<AlertSource> {
        gql(async move {
            let id = &self.0.alert_source_id;
            lookups(ctx)?
                .load_one(loaders::SourceId(id.clone()))
                .await?
                .map(AlertSource)
                .ok_or_else(|| corrupt("alert source id", id))
        })
        .await
    }
    async fn escalation_policy(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<EscalationPolicy> {
        gql(async move {
            let id = &self.0.escalation_policy_id;
            lookups(ctx)?
                .load_one(loaders::PolicyId(id.clone()))
                .await?
                .map(EscalationPolicy)
                .ok_or_else(|| corrupt("escalation policy id", id))
        })
        .await
    }
    async fn assigned_to(&self, ctx: &async_graphql::Context<'_>) -> Result<Option<User>> {
        gql(async move {
            match &self.0.assigned_to_id {
                Some(id) => Ok(lookups(ctx)?
                    .load_one(loaders::UserId(id.clone()))
                    .await?
                    .map(User)),
                None => Ok(None),
            }
        })
        .await
    }
    /// Everyone escalation (or a re-route) has called, in the order they were added.
    #[graphql(complexity = "LIST_COST * child_complexity")]
    async fn responders(&self, ctx: &async_graphql::Context<'_>) -> Result<Vec<User>> {
        gql(async move {
            let users = lookups(ctx)?
                .load_one(loaders::RespondersOf(self.0.id.clone()))
                .await?
                .unwrap_or_default();
            Ok(users.into_iter().map(User).collect())
        })
        .await
    }
    /// The level of the escalation policy last reached (1-based); 0 before the first.
    async fn escalation_level(&self) -> i32 {
        self.0.escalation_level
    }
    /// 0 on the first walk through the policy's levels, 1 on the first repeat, …
    async fn escalation_round(&self) -> i32 {
        self.0.escalation_round
    }
    /// When the next level is due; null once the alert is accepted or resolved, or escalation
    /// has ended.
    async fn next_escalation_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_escalation_at
    }
    /// Oldest first.
    #[graphql(complexity = "LIST_COST * child_complexity")]
    async fn comments(&self, ctx: &async_graphql::Context<'_>) -> Result<Vec<Comment>> {
        gql(async move {
            let rows = lookups(ctx)?
                .load_one(loaders::CommentsOf(self.0.id.clone()))
                .await?
                .unwrap_or_default();
            Ok(rows.into_iter().map(Comment).collect())
        })
        .await
    }
    /// Every change to the alert, oldest first, with who or what caused it.
    #[graphql(complexity = "LIST_COST * child_complexity")]
    async fn log_entries(&self, ctx: &async_graphql::Context<'_>) -> Result<Vec<LogEntry>> {
        gql(async move {
            let rows = alerts::log_entries(&ctx.state()?.ctx.db, &self.0.id).await?;
            Ok(rows.into_iter().map(LogEntry).collect())
        })
        .await
    }
    /// How the alert's changes reached ServiceNow; null when none was ever queued.
    async fn sync_status(&self, ctx: &async_graphql::Context<'_>) -> Result<Option<SyncStatus>> {
        gql(async move {
            let rows = sync::updates(&ctx.state()?.ctx.db, &self.0.id).await?;
            match sync::status(&rows) {
                Some((state, r)) => Ok(Some(SyncStatus {
                    state: state.into(),
                    attempts: r.attempts,
                    last_error: r.last_error.clone(),
                    updated_at: r.updated_at,
                })),
                None => Ok(None),
            }
        })
        .await
    }
    /// Every update queued for the incident, oldest first.
    #[graphql(complexity = "LIST_COST * child_complexity")]
    async fn sync_updates(&self, ctx: &async_graphql::Context<'_>) -> Result<Vec<SyncUpdate>> {
        gql(async move {
            let rows = sync::updates(&ctx.state()?.ctx.db, &self.0.id).await?;
            Ok(rows.into_iter().map(SyncUpdate).collect())
        })
        .await
    }
    async fn ticket(&self) -> Ticket {
        Ticket {
            sys_id: self.0.alert_key.clone(),
            number: self.0.ticket_number.clone(),
            state: self.0.ticket_state,
            state_label: IncidentState::from_code(self.0.ticket_state.into())
                .map(|s| s.label().to_string())
                .unwrap_or_else(|| format!("State {}", self.0.ticket_state)),
            url: self.0.ticket_url.clone(),
        }
    }
}

pub struct Comment(pub alert_comment::Model);

#[Object]
impl Comment {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn body(&self) -> &str {
        &self.0.body
    }
    async fn author(&self, ctx: &async_graphql::Context<'_>) -> Result<Option<User>> {
        gql(async move {
            match &self.0.author_id {
                Some(id) => Ok(users::get(&ctx.state()?.ctx.db, id).await?.map(User)),
                None => Ok(None),
            }
        })
        .await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The ServiceNow user name of a comment imported from the journal when no Glidepath user
    /// has that user's e-mail (then `author` is null).
    async fn external_author(&self) -> Option<&str> {
        self.0.external_author.as_deref()
    }
    /// Who wrote it, as stored with the comment (an e-mail, or the ServiceNow user name): still
    /// there when the author has been deleted and `author` is null.
    async fn author_label(&self) -> Option<&str> {
        self.0.author_label.as_deref()
    }
}

pub struct LogEntry(pub alert_log::Model);

#[Object]
impl LogEntry {
    async fn kind(&self) -> LogEntryKind {
        self.0.kind.into()
    }
    async fn message(&self) -> &str {
        &self.0.message
    }
    /// The user's e-mail, `ServiceNow (<sys_updated_by>)`, or `system`.
    async fn actor(&self) -> &str {
        &self.0.actor_label
    }
    async fn actor_kind(&self) -> Result<ActorKind> {
        gql(async move {
            Ok(match self.0.actor_kind.as_str() {
                "USER" => ActorKind::User,
                "SERVICENOW" => ActorKind::ServiceNow,
                "SYSTEM" => ActorKind::System,
                other => return Err(corrupt("actor kind", other)),
            })
        })
        .await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AlertConnection {
    pub nodes: Vec<Alert>,
    pub page_info: PageInfo,
    #[graphql(skip)]
    pub total: u64,
}

#[ComplexObject]
impl AlertConnection {
    /// How many alerts match the filters, across all pages.
    async fn total_count(&self) -> i64 {
        i64::try_from(self.total).unwrap_or(i64::MAX)
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "LogKind")]
pub enum LogEntryKind {
    Created,
    Accepted,
    Resolved,
    PriorityRaised,
    Rerouted,
    Commented,
    TicketUpdated,
    Escalated,
    Notified,
    NotificationFailed,
    /// An update could not be written to the ServiceNow incident.
    SyncFailed,
    /// An assignment was written without `assigned_to`: no ServiceNow user has the e-mail.
    SyncUserUnmapped,
    /// Failed ServiceNow updates were queued again (`retrySync`).
    SyncRetried,
    /// The event came with the integration key `rotateIntegrationKey` replaced, during its grace
    /// period: ServiceNow still posts to the old webhook URL.
    PreviousKeyUsed,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ActorKind {
    User,
    #[graphql(name = "SERVICENOW")]
    ServiceNow,
    System,
}

fn lookups<'a>(
    ctx: &'a async_graphql::Context<'_>,
) -> std::result::Result<&'a async_graphql::dataloader::DataLoader<loaders::Lookups>, AppError> {
    ctx.data::<async_graphql::dataloader::DataLoader<loaders::Lookups>>()
        .map_err(|e| anyhow::anyhow!("data loader missing: {}", e.message).into())
}
