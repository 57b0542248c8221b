//! An alert source, its webhook authentication and its ServiceNow connection, and the ServiceNow
//! sync of an alert.

use async_graphql::{Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use super::policy::{EscalationPolicy, load_policy};
use super::{PriorityGql, Result, corrupt};
use crate::db::event_counts::Counted;
use crate::domain::webhook_auth::WebhookAuthKind as WebhookAuthKindDomain;
use crate::entity::{alert_source, servicenow_connection, servicenow_sync_update};
use crate::graphql::ContextExt;
use crate::graphql::error::gql;
use crate::service::{servicenow, source_events, sources, sync, users};
use crate::servicenow::{business_rule, update_set};

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
            let key = sources::integration_key(&ctx.state()?.ctx.cipher, &self.0)?;
            Ok(Some(key.expose_secret().to_string()))
        })
        .await
    }
    /// The webhook URL; it carries the integration key, so ADMIN only (FORBIDDEN otherwise).
    async fn webhook_url(&self, ctx: &async_graphql::Context<'_>) -> Result<Option<String>> {
        gql(async move {
            users::require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            let key = sources::integration_key(&state.ctx.cipher, &self.0)?;
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
            let auth = sources::webhook_auth(&state.ctx.cipher, &self.0)?;
            let key = sources::integration_key(&state.ctx.cipher, &self.0)?;
            Ok(Some(business_rule::script(
                &state.webhook_url(key.expose_secret()),
                &auth,
            )))
        })
        .await
    }
    /// The business rule as a ServiceNow update set (XML for *System Update Sets → Retrieved
    /// Update Sets → Import Update Set from XML*): the same script, installed as an async
    /// insert-and-update rule on `incident`. It carries the integration key, so ADMIN only
    /// (FORBIDDEN otherwise).
    async fn business_rule_update_set(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<Option<String>> {
        gql(async move {
            users::require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            let auth = sources::webhook_auth(&state.ctx.cipher, &self.0)?;
            let key = sources::integration_key(&state.ctx.cipher, &self.0)?;
            let script = business_rule::script(&state.webhook_url(key.expose_secret()), &auth);
            let xml = update_set::xml(&update_set::Rule {
                source_id: &self.0.id,
                source_name: &self.0.name,
                script: &script,
                now: state.ctx.now(),
            })?;
            Ok(Some(xml))
        })
        .await
    }
    /// The grace period of the integration key the last `rotateIntegrationKey` replaced: null
    /// when none is running. ADMIN only, like the key (FORBIDDEN otherwise).
    async fn key_rotation(&self, ctx: &async_graphql::Context<'_>) -> Result<Option<KeyRotation>> {
        gql(async move {
            users::require_admin(ctx.caller()?)?;
            Ok(
                sources::grace_end(&self.0, ctx.state()?.ctx.now()).map(|until| KeyRotation {
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
    /// When the webhook last received an event (rejected ones included); null until the first.
    async fn last_event_at(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<Option<DateTime<Utc>>> {
        gql(async move { Ok(activity(ctx, &self.0.id).await?.last_event_at) }).await
    }
    /// What the last event came to.
    async fn last_event_outcome(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<Option<WebhookEventOutcome>> {
        gql(async move {
            Ok(activity(ctx, &self.0.id)
                .await?
                .last_outcome
                .map(WebhookEventOutcome::from))
        })
        .await
    }
    /// The ServiceNow instance (`server_url` of the payload) of the latest applied event.
    async fn last_event_server_url(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<Option<String>> {
        gql(async move { Ok(activity(ctx, &self.0.id).await?.last_server_url) }).await
    }
    /// Webhook events by outcome over the last 24 hours (the current hour and the 23 before).
    async fn event_counts(&self, ctx: &async_graphql::Context<'_>) -> Result<WebhookEventCounts> {
        gql(async move {
            let c = activity(ctx, &self.0.id).await?.counts;
            Ok(WebhookEventCounts {
                created: c.created,
                accepted: c.accepted,
                resolved: c.resolved,
                updated: c.updated,
                unchanged: c.unchanged,
                rejected: c.rejected,
            })
        })
        .await
    }
    /// The latest rejected event of the last 8 days (400, 401, 408, 413) and why: the status, the
    /// error code and the message the webhook answered.
    async fn last_rejection(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<Option<WebhookRejection>> {
        gql(async move {
            let a = activity(ctx, &self.0.id).await?;
            Ok(match (a.last_rejected_at, a.last_rejection) {
                (Some(at), Some(reason)) => Some(WebhookRejection { at, reason }),
                _ => None,
            })
        })
        .await
    }
    /// The connection to the ServiceNow instance; null until `configureServiceNow`.
    async fn service_now(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> Result<Option<ServiceNowConnection>> {
        gql(async move {
            Ok(servicenow::get(&ctx.state()?.ctx.db, &self.0.id)
                .await?
                .map(ServiceNowConnection))
        })
        .await
    }
}

async fn activity(
    ctx: &async_graphql::Context<'_>,
    source_id: &str,
) -> std::result::Result<source_events::Activity, crate::error::AppError> {
    let state = ctx.state()?;
    source_events::activity(&state.ctx.db, source_id, state.ctx.now()).await
}

/// What a webhook event came to: the webhook's outcomes, or REJECTED (400, 401, 408, 413).
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "Counted")]
pub enum WebhookEventOutcome {
    Created,
    Accepted,
    Resolved,
    Updated,
    Unchanged,
    Rejected,
}

/// Webhook events by outcome.
#[derive(SimpleObject)]
pub struct WebhookEventCounts {
    pub created: i64,
    pub accepted: i64,
    pub resolved: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub rejected: i64,
}

/// A rejected webhook event.
#[derive(SimpleObject)]
pub struct WebhookRejection {
    pub at: DateTime<Utc>,
    /// The HTTP status, the error code and the message the webhook answered.
    pub reason: String,
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
    /// How Glidepath signs in to the instance.
    async fn auth_method(&self) -> ServiceNowAuthMethod {
        self.0.auth_method.into()
    }
    /// The OAuth client id (not a secret); null without one.
    async fn client_id(&self) -> Option<&str> {
        self.0.oauth_client_id.as_deref()
    }
    /// Whether an OAuth client secret is stored; the secret itself is write-only.
    async fn client_secret_set(&self) -> bool {
        self.0.oauth_client_secret_encrypted.is_some()
    }
    /// True while the instance refuses every OAuth grant Glidepath can try: nothing is sent to
    /// it and outbound updates wait until an admin fixes the credentials.
    async fn needs_attention(&self) -> bool {
        self.0.auth_attention.is_some()
    }
    /// What the instance answered, while the connection needs attention.
    async fn attention_reason(&self) -> Option<&str> {
        self.0.auth_attention.as_deref()
    }
    /// Since when the connection needs attention.
    async fn attention_since(&self) -> Option<DateTime<Utc>> {
        self.0.auth_attention_at
    }
}

/// How Glidepath signs in to a ServiceNow instance.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "servicenow_connection::AuthMethod")]
pub enum ServiceNowAuthMethod {
    /// Basic auth (user name and password) on every request.
    Basic,
    /// OAuth 2.0 password grant, renewed with the refresh token.
    OauthPassword,
    /// OAuth 2.0 client credentials grant (Washington DC and later, when enabled).
    OauthClientCredentials,
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
#[graphql(remote = "servicenow_sync_update::SyncStatus")]
pub enum SyncState {
    Pending,
    Synced,
    Failed,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "servicenow_sync_update::SyncKind")]
pub enum SyncKind {
    Accept,
    Comment,
    Priority,
    Reroute,
    Assign,
    Resolve,
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
    /// The instance refused the connection's OAuth credentials: it needs an admin.
    pub needs_attention: bool,
}
