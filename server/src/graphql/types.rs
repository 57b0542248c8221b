//! GraphQL output types. They wrap database models privately, so the schema is chosen here and
//! not by the tables.

use async_graphql::{ComplexObject, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use super::ContextExt;
use super::loaders;
use crate::domain::webhook_auth::WebhookAuthKind as WebhookAuthKindDomain;
use crate::domain::{self, IncidentState};
use crate::entity::{
    alert, alert_comment, alert_log, alert_source, escalation_policy, notification_rule,
    servicenow_connection, servicenow_sync_update, user,
};
use crate::error::AppError;
use crate::service::{alerts, notifications, policies, servicenow, sources, sync, users};
use crate::servicenow::business_rule;

type Result<T> = std::result::Result<T, async_graphql::Error>;
use crate::error::gql;

/// What a list under an alert (comments, log entries, responders, sync updates) counts for in a
/// query's complexity: its child complexity times this many entries.
pub const LIST_COST: usize = 10;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "Role")]
pub enum RoleGql {
    Admin,
    Responder,
}

impl From<RoleGql> for domain::Role {
    fn from(r: RoleGql) -> Self {
        match r {
            RoleGql::Admin => domain::Role::Admin,
            RoleGql::Responder => domain::Role::Responder,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "AlertStatus")]
pub enum AlertStatusGql {
    Pending,
    Accepted,
    Resolved,
}

impl From<AlertStatusGql> for domain::AlertStatus {
    fn from(s: AlertStatusGql) -> Self {
        match s {
            AlertStatusGql::Pending => domain::AlertStatus::Pending,
            AlertStatusGql::Accepted => domain::AlertStatus::Accepted,
            AlertStatusGql::Resolved => domain::AlertStatus::Resolved,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "AlertPriority")]
pub enum PriorityGql {
    High,
    Low,
}

impl From<PriorityGql> for domain::Priority {
    fn from(p: PriorityGql) -> Self {
        match p {
            PriorityGql::High => domain::Priority::High,
            PriorityGql::Low => domain::Priority::Low,
        }
    }
}

impl From<domain::Priority> for PriorityGql {
    fn from(p: domain::Priority) -> Self {
        match p {
            domain::Priority::High => PriorityGql::High,
            domain::Priority::Low => PriorityGql::Low,
        }
    }
}

/// What the webhook requires on top of the integration key.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum WebhookAuthKind {
    None,
    Basic,
    Bearer,
}

impl From<WebhookAuthKindDomain> for WebhookAuthKind {
    fn from(k: WebhookAuthKindDomain) -> Self {
        match k {
            WebhookAuthKindDomain::None => WebhookAuthKind::None,
            WebhookAuthKindDomain::Basic => WebhookAuthKind::Basic,
            WebhookAuthKindDomain::Bearer => WebhookAuthKind::Bearer,
        }
    }
}

/// The webhook's authentication as admins see it: the password or token is never shown (only
/// the business rule script, for admins, carries it).
#[derive(SimpleObject)]
pub struct WebhookAuth {
    pub kind: WebhookAuthKind,
    /// The Basic user name; null otherwise.
    pub username: Option<String>,
}

/// A running grace period after `rotateIntegrationKey`.
#[derive(SimpleObject)]
pub struct KeyRotation {
    /// Until when the replaced integration key still delivers events.
    pub previous_key_expires_at: DateTime<Utc>,
}

/// One incident priority choice of the instance (`sys_choice`).
#[derive(SimpleObject)]
#[graphql(name = "ServiceNowChoice")]
pub struct ServiceNowChoice {
    pub value: String,
    pub label: String,
}

/// Which alert priority a ServiceNow priority value gets.
#[derive(SimpleObject)]
pub struct PriorityMapping {
    #[graphql(name = "serviceNowPriority")]
    pub service_now_priority: String,
    pub alert_priority: PriorityGql,
}

/// One incident field from the instance's dictionary.
#[derive(SimpleObject)]
#[graphql(name = "ServiceNowField")]
pub struct ServiceNowField {
    pub name: String,
    pub label: String,
    /// The dictionary's internal type (`string`, `reference`, `integer`, …).
    #[graphql(name = "type")]
    pub kind: String,
    /// The table a reference field points at; null for other fields.
    pub reference: Option<String>,
}

/// A record a reference field can point at.
#[derive(SimpleObject)]
#[graphql(name = "ServiceNowReferenceOption")]
pub struct ServiceNowReferenceOption {
    pub sys_id: String,
    pub name: String,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum IntegrationType {
    #[graphql(name = "SERVICENOW")]
    ServiceNow,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
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

fn corrupt(what: &str, value: &str) -> AppError {
    AppError::Unexpected(anyhow::anyhow!("stored {what} {value:?} is not known"))
}

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
    /// How the user is told; visible to the user and to admins.
    async fn notification_rules(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<Vec<NotificationRule>> {
        gql(async move {
            let rules = notifications::rules(&ctx.state()?.db, ctx.caller()?, &self.0.id).await?;
            Ok(rules.into_iter().map(NotificationRule).collect())
        })
        .await
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum NotificationKind {
    Email,
    Webhook,
}

pub struct NotificationRule(pub notification_rule::Model);

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
                other => Err(corrupt("notification kind", other)),
            }
        })
        .await
    }
    /// The e-mail address, or the URL that receives a JSON POST. A webhook's URL (stored
    /// encrypted) is shown in full to the rule's owner only; an admin reading another user's
    /// rule gets `targetLabel`.
    async fn target(&self, ctx: &async_graphql::Context<'_>) -> Result<String> {
        gql(async move {
            notifications::shown_target(&ctx.state()?.cipher, ctx.caller()?, &self.0)
        })
        .await
    }
    /// What may be shown of the target to anyone: the address, or the webhook's host
    /// (`https://host/…`, without the path or query that often hold a token).
    async fn target_label(&self) -> String {
        notifications::rule_label(&self.0)
    }
    /// Also told when an alert they respond to is accepted or resolved.
    async fn on_status_change(&self) -> bool {
        self.0.on_status_change
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject)]
pub struct EscalationRule {
    escalation_timeout_minutes: i32,
    users: Vec<User>,
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
            let rules = policies::rules(&ctx.state()?.db, &self.0.id).await?;
            Ok(rules
                .into_iter()
                .map(|r| EscalationRule {
                    escalation_timeout_minutes: r.escalation_timeout_minutes,
                    users: r.users.into_iter().map(User).collect(),
                })
                .collect())
        })
        .await
    }
}

fn lookups<'a>(
    ctx: &'a async_graphql::Context<'_>,
) -> std::result::Result<&'a async_graphql::dataloader::DataLoader<loaders::Lookups>, AppError> {
    ctx.data::<async_graphql::dataloader::DataLoader<loaders::Lookups>>()
        .map_err(|e| anyhow::anyhow!("data loader missing: {}", e.message).into())
}

async fn load_policy(
    ctx: &async_graphql::Context<'_>,
    id: &str,
) -> std::result::Result<EscalationPolicy, AppError> {
    policies::get_any(&ctx.state()?.db, id)
        .await?
        .map(EscalationPolicy)
        .ok_or_else(|| corrupt("escalation policy id", id))
}

pub struct AlertSource(pub alert_source::Model);

#[Object]
impl AlertSource {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn integration_type(&self) -> Result<IntegrationType> {
        gql(async move {
            match self.0.integration_type.as_str() {
                sources::SERVICENOW => Ok(IntegrationType::ServiceNow),
                other => Err(corrupt("integration type", other)),
            }
        })
        .await
    }
    /// The webhook's credential: whoever has it can create alerts on this source. ADMIN only:
    /// anyone else gets a FORBIDDEN error (and null).
    async fn integration_key(&self, ctx: &async_graphql::Context<'_>) -> Result<Option<String>> {
        gql(async move {
            users::require_admin(ctx.caller()?)?;
            let key = sources::integration_key(&ctx.state()?.cipher, &self.0)?;
            Ok(Some(key.expose_secret().to_string()))
        })
        .await
    }
    /// The webhook URL; it carries the integration key, so ADMIN only (FORBIDDEN otherwise).
    async fn webhook_url(&self, ctx: &async_graphql::Context<'_>) -> Result<Option<String>> {
        gql(async move {
            users::require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            let key = sources::integration_key(&state.cipher, &self.0)?;
            Ok(Some(state.webhook_url(key.expose_secret())))
        })
        .await
    }
    /// The complete ServiceNow business rule, webhook URL (and webhook credentials, when set)
    /// filled in, ready to paste. It carries the integration key, so ADMIN only: anyone else
    /// gets a FORBIDDEN error (and null).
    async fn business_rule_script(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<Option<String>> {
        gql(async move {
            users::require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            let auth = sources::webhook_auth(&state.cipher, &self.0)?;
            let key = sources::integration_key(&state.cipher, &self.0)?;
            Ok(Some(business_rule::script(
                &state.webhook_url(key.expose_secret()),
                &auth,
            )))
        })
        .await
    }
    /// The grace period of the integration key the last `rotateIntegrationKey` replaced: null
    /// when none is running. ADMIN only, like the key (FORBIDDEN otherwise).
    async fn key_rotation(&self, ctx: &async_graphql::Context<'_>) -> Result<Option<KeyRotation>> {
        gql(async move {
            users::require_admin(ctx.caller()?)?;
            Ok(
                sources::grace_end(&self.0, crate::clock::now()).map(|until| KeyRotation {
                    previous_key_expires_at: until,
                }),
            )
        })
        .await
    }
    /// What the webhook requires besides the integration key.
    async fn webhook_auth(&self) -> Result<WebhookAuth> {
        gql(async move {
            let kind = sources::webhook_auth_kind(&self.0)?;
            Ok(WebhookAuth {
                kind: kind.into(),
                username: match kind {
                    WebhookAuthKindDomain::Basic => self.0.webhook_auth_username.clone(),
                    _ => None,
                },
            })
        })
        .await
    }
    async fn escalation_policy(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<EscalationPolicy> {
        gql(async move { load_policy(ctx, &self.0.escalation_policy_id).await }).await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The connection to the ServiceNow instance; null until `configureServiceNow`.
    async fn service_now(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<Option<ServiceNowConnection>> {
        gql(async move {
            Ok(servicenow::get(&ctx.state()?.db, &self.0.id)
                .await?
                .map(ServiceNowConnection))
        })
        .await
    }
}

/// Where an alert source's ServiceNow instance is and who Glidepath signs in as. The password
/// is write-only.
pub struct ServiceNowConnection(pub servicenow_connection::Model);

#[Object]
impl ServiceNowConnection {
    async fn instance_url(&self) -> &str {
        &self.0.instance_url
    }
    async fn username(&self) -> &str {
        &self.0.username
    }
    async fn password_set(&self) -> bool {
        !self.0.password_encrypted.is_empty()
    }
    async fn bidirectional(&self) -> bool {
        self.0.bidirectional
    }
    /// Which kinds of alert change are written to the incident (when `bidirectional`).
    async fn publish_filters(&self) -> PublishFilters {
        let f = sync::PublishFilters::of(&self.0);
        PublishFilters {
            accept: f.accept,
            resolve: f.resolve,
            comment: f.comment,
            priority: f.priority,
            assignment: f.assignment,
            reroute: f.reroute,
        }
    }
    /// The `close_code` written when Glidepath resolves an incident.
    async fn close_code(&self) -> &str {
        self.0
            .close_code
            .as_deref()
            .unwrap_or(sync::DEFAULT_CLOSE_CODE)
    }
    /// The alert source's own priority choices, by ServiceNow value; values not listed get the
    /// default (1 and 2 HIGH, others LOW).
    async fn priority_mapping(&self) -> Vec<PriorityMapping> {
        servicenow::stored_mapping(&self.0)
            .into_iter()
            .map(|(value, p)| PriorityMapping {
                service_now_priority: value,
                alert_priority: p.into(),
            })
            .collect()
    }
    /// The incident field whose value routes new alerts to the policy with that routing key.
    async fn routing_field(&self) -> Option<&str> {
        self.0.routing_field.as_deref()
    }
}

#[derive(SimpleObject)]
pub struct PublishFilters {
    pub accept: bool,
    pub resolve: bool,
    pub comment: bool,
    pub priority: bool,
    pub assignment: bool,
    pub reroute: bool,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SyncState {
    Pending,
    Synced,
    Failed,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SyncKind {
    Accept,
    Comment,
    Priority,
    Reroute,
    Assign,
    Resolve,
}

impl From<servicenow_sync_update::SyncStatus> for SyncState {
    fn from(status: servicenow_sync_update::SyncStatus) -> SyncState {
        use servicenow_sync_update::SyncStatus as S;
        match status {
            S::Pending => SyncState::Pending,
            S::Synced => SyncState::Synced,
            S::Failed => SyncState::Failed,
        }
    }
}

impl From<servicenow_sync_update::SyncKind> for SyncKind {
    fn from(kind: servicenow_sync_update::SyncKind) -> SyncKind {
        use servicenow_sync_update::SyncKind as K;
        match kind {
            K::Accept => SyncKind::Accept,
            K::Comment => SyncKind::Comment,
            K::Priority => SyncKind::Priority,
            K::Reroute => SyncKind::Reroute,
            K::Assign => SyncKind::Assign,
            K::Resolve => SyncKind::Resolve,
        }
    }
}

/// The alert's ServiceNow sync at a glance.
#[derive(SimpleObject)]
pub struct SyncStatus {
    /// FAILED if an update failed and was not retried, else PENDING if one waits, else SYNCED.
    pub state: SyncState,
    /// Attempts of the update that decides the state.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// One queued incident update.
pub struct SyncUpdate(pub servicenow_sync_update::Model);

#[Object]
impl SyncUpdate {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn kind(&self) -> SyncKind {
        self.0.kind.into()
    }
    async fn state(&self) -> SyncState {
        self.0.status.into()
    }
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
}

#[derive(SimpleObject)]
pub struct ServiceNowTestResult {
    pub ok: bool,
    pub message: String,
}

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
    async fn status(&self) -> Result<AlertStatusGql> {
        gql(async move {
            Ok(match alerts::status_of(&self.0)? {
                domain::AlertStatus::Pending => AlertStatusGql::Pending,
                domain::AlertStatus::Accepted => AlertStatusGql::Accepted,
                domain::AlertStatus::Resolved => AlertStatusGql::Resolved,
            })
        })
        .await
    }
    async fn priority(&self) -> Result<PriorityGql> {
        gql(async move {
            Ok(match alerts::priority_of(&self.0)? {
                domain::Priority::High => PriorityGql::High,
                domain::Priority::Low => PriorityGql::Low,
            })
        })
        .await
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
            let rows = alerts::log_entries(&ctx.state()?.db, &self.0.id).await?;
            Ok(rows.into_iter().map(LogEntry).collect())
        })
        .await
    }
    /// How the alert's changes reached ServiceNow; null when none was ever queued.
    async fn sync_status(&self, ctx: &async_graphql::Context<'_>) -> Result<Option<SyncStatus>> {
        gql(async move {
            let rows = sync::updates(&ctx.state()?.db, &self.0.id).await?;
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
            let rows = sync::updates(&ctx.state()?.db, &self.0.id).await?;
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
                Some(id) => Ok(users::get(&ctx.state()?.db, id).await?.map(User)),
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
    async fn kind(&self) -> Result<LogEntryKind> {
        gql(async move {
            use alerts::log_kind as k;
            Ok(match self.0.kind.as_str() {
                k::CREATED => LogEntryKind::Created,
                k::ACCEPTED => LogEntryKind::Accepted,
                k::RESOLVED => LogEntryKind::Resolved,
                k::PRIORITY_RAISED => LogEntryKind::PriorityRaised,
                k::REROUTED => LogEntryKind::Rerouted,
                k::COMMENTED => LogEntryKind::Commented,
                k::TICKET_UPDATED => LogEntryKind::TicketUpdated,
                k::ESCALATED => LogEntryKind::Escalated,
                k::NOTIFIED => LogEntryKind::Notified,
                k::NOTIFICATION_FAILED => LogEntryKind::NotificationFailed,
                k::SYNC_FAILED => LogEntryKind::SyncFailed,
                k::SYNC_USER_UNMAPPED => LogEntryKind::SyncUserUnmapped,
                k::SYNC_RETRIED => LogEntryKind::SyncRetried,
                k::PREVIOUS_KEY_USED => LogEntryKind::PreviousKeyUsed,
                other => return Err(corrupt("log kind", other)),
            })
        })
        .await
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
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
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
