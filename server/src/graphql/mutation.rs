//! Write operations. Everything but `login` needs an authenticated caller; configuration needs an
//! ADMIN.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use async_graphql::{Context, ID, InputObject, Object};
use secrecy::{ExposeSecret, SecretString};

use super::ContextExt;
use super::types::{
    Alert, AlertSource, Comment, CreatedApiToken, EscalationPolicy, IntegrationType, LoginPayload,
    NotificationKind, NotificationRule, OverrideKindGql, PasswordReset, PriorityGql, RoleGql,
    Schedule, ScheduleOverride, ServiceNowAuthMethod, ServiceNowTestResult, TurnUnitGql, User,
    WebhookAuthKind,
};
use crate::domain::webhook_auth::WebhookAuth;
use crate::domain::{AlertId, PolicyId, SourceId, UserId};
use crate::http::client_addr::ClientAddr;
use crate::service::{
    alerts, auth, notifications, policies, schedules,
    servicenow::{self, ConnectionInput},
    sources::{self, NewSource},
    sync,
    users::{self, NewUser, require_admin},
};
use chrono::{DateTime, Utc};

type Result<T> = std::result::Result<T, async_graphql::Error>;
use super::error::gql;
use crate::error::AppError;

#[derive(InputObject)]
#[graphql(name = "ServiceNowConnectionInput")]
pub struct ServiceNowConnectionInput {
    /// `https://<instance>.service-now.com` (or a host in GLIDEPATH_SERVICENOW_HOSTS).
    instance_url: String,
    /// The API user (BASIC, OAUTH_PASSWORD) or the OAuth application user
    /// (OAUTH_CLIENT_CREDENTIALS): the name ServiceNow records on Glidepath's updates.
    username: String,
    /// Required for a new BASIC or OAUTH_PASSWORD connection; omit it to keep the stored one.
    #[graphql(secret)]
    password: Option<String>,
    /// How Glidepath signs in; omit it to keep the stored method (BASIC for a new connection).
    auth_method: Option<ServiceNowAuthMethod>,
    /// The OAuth client id (Application Registry); required for the OAuth methods, omit it to
    /// keep the stored one.
    client_id: Option<String>,
    /// The OAuth client secret; required for the OAuth methods, omit it to keep the stored one.
    /// Write-only.
    #[graphql(secret)]
    client_secret: Option<String>,
    #[graphql(default)]
    bidirectional: bool,
    /// The `close_code` written when Glidepath resolves an incident; omit it to keep the stored
    /// one, an empty string restores the default `Solved (Permanently)`.
    close_code: Option<String>,
}

/// Which kinds of alert change are written to ServiceNow; each defaults to true.
#[derive(InputObject)]
pub struct PublishFiltersInput {
    #[graphql(default = true)]
    accept: bool,
    #[graphql(default = true)]
    resolve: bool,
    #[graphql(default = true)]
    comment: bool,
    #[graphql(default = true)]
    priority: bool,
    #[graphql(default = true)]
    assignment: bool,
    #[graphql(default = true)]
    reroute: bool,
}

/// Which alert priority one ServiceNow priority value gets.
#[derive(InputObject)]
pub struct PriorityMappingInput {
    #[graphql(name = "serviceNowPriority")]
    service_now_priority: String,
    alert_priority: PriorityGql,
}

/// What the webhook requires on top of the integration key: `username` and `password` for
/// BASIC, `token` for BEARER, nothing for NONE.
#[derive(InputObject)]
pub struct WebhookAuthInput {
    kind: WebhookAuthKind,
    username: Option<String>,
    #[graphql(secret)]
    password: Option<String>,
    #[graphql(secret)]
    token: Option<String>,
}

impl WebhookAuthInput {
    fn into_auth(self) -> std::result::Result<WebhookAuth, AppError> {
        let missing = |field: &str| AppError::validation(field, "is required for this kind");
        Ok(match self.kind {
            WebhookAuthKind::None => WebhookAuth::None,
            WebhookAuthKind::Basic => WebhookAuth::Basic {
                username: self.username.ok_or_else(|| missing("username"))?,
                password: SecretString::from(self.password.ok_or_else(|| missing("password"))?),
            },
            WebhookAuthKind::Bearer => WebhookAuth::Bearer {
                token: SecretString::from(self.token.ok_or_else(|| missing("token"))?),
            },
        })
    }
}

pub const SESSION_COOKIE: &str = "glidepath_session";

#[derive(InputObject)]
pub struct CreateUserInput {
    email: String,
    name: String,
    #[graphql(secret)]
    password: String,
    role: RoleGql,
}

#[derive(InputObject)]
pub struct EscalationRuleInput {
    escalation_timeout_minutes: i32,
    #[graphql(default)]
    user_ids: Vec<ID>,
    /// On-call schedules the level pages: whoever is on call when the level starts.
    #[graphql(default)]
    schedule_ids: Vec<ID>,
}

/// A window of local time in which a restricted layer applies.
#[derive(InputObject)]
pub struct RestrictionInput {
    /// 1 (Monday) to 7 (Sunday): the days the window opens on.
    days: Vec<i32>,
    /// `HH:MM`, local time.
    start: String,
    /// `HH:MM`; at or before `start` means the next day (`18:00`–`08:00` is a night).
    end: String,
}

/// A rotation: users take turns in order, the first turn beginning at `start`.
#[derive(InputObject)]
pub struct ScheduleLayerInput {
    name: String,
    user_ids: Vec<ID>,
    /// Local date and time of the first hand-off in the schedule's time zone, `YYYY-MM-DDTHH:MM`.
    start: String,
    turn_unit: TurnUnitGql,
    #[graphql(default = 1)]
    turn_count: i32,
    /// Empty: the layer applies all the time.
    #[graphql(default)]
    restrictions: Vec<RestrictionInput>,
}

/// The whole schedule as it should be: layers are replaced, not merged (overrides stay).
#[derive(InputObject)]
pub struct ScheduleInput {
    name: String,
    /// IANA time zone, such as `Europe/Berlin`.
    time_zone: String,
    /// Bottom first: a later layer wins where both apply.
    layers: Vec<ScheduleLayerInput>,
}

#[derive(InputObject)]
pub struct ScheduleOverrideInput {
    user_id: ID,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    #[graphql(default_with = "OverrideKindGql::Replace")]
    kind: OverrideKindGql,
}

fn new_schedule(input: ScheduleInput) -> schedules::NewSchedule {
    schedules::NewSchedule {
        name: input.name,
        time_zone: input.time_zone,
        layers: input
            .layers
            .into_iter()
            .map(|l| schedules::NewLayer {
                name: l.name,
                user_ids: l.user_ids.into_iter().map(|id| id.0).collect(),
                start: l.start,
                turn_unit: l.turn_unit.into(),
                turn_count: l.turn_count,
                restrictions: l
                    .restrictions
                    .into_iter()
                    .map(|w| schedules::WindowSpec {
                        days: w
                            .days
                            .into_iter()
                            .map(|d| u8::try_from(d).unwrap_or(0))
                            .collect(),
                        start: w.start,
                        end: w.end,
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[derive(InputObject)]
pub struct CreateEscalationPolicyInput {
    name: String,
    routing_key: Option<String>,
    rules: Vec<EscalationRuleInput>,
    /// How many more times the rules are walked after the first time (0 to 20).
    #[graphql(default)]
    repeat: i32,
}

/// The whole policy as it should be from now on: rules are replaced, not merged.
#[derive(InputObject)]
pub struct UpdateEscalationPolicyInput {
    name: String,
    routing_key: Option<String>,
    rules: Vec<EscalationRuleInput>,
    #[graphql(default)]
    repeat: i32,
}

fn new_policy(
    name: String,
    routing_key: Option<String>,
    rules: Vec<EscalationRuleInput>,
    repeat: i32,
) -> policies::NewPolicy {
    policies::NewPolicy {
        name,
        routing_key,
        rules: rules
            .into_iter()
            .map(|r| policies::NewRule {
                escalation_timeout_minutes: r.escalation_timeout_minutes,
                user_ids: r.user_ids.into_iter().map(|id| id.0).collect(),
                schedule_ids: r.schedule_ids.into_iter().map(|id| id.0).collect(),
            })
            .collect(),
        repeat,
    }
}

#[derive(InputObject)]
pub struct NotificationRuleInput {
    kind: NotificationKind,
    /// An e-mail address (EMAIL), an http(s) URL that receives a JSON POST (WEBHOOK), a Slack
    /// incoming-webhook URL (SLACK) or a Teams workflow webhook URL (TEAMS).
    target: String,
    /// Also notify when an alert the user responds to is accepted or resolved.
    #[graphql(default)]
    on_status_change: bool,
    /// Minutes an escalation notification on this rule waits (0 to 1440; 0: at once). It is
    /// not sent when the alert is accepted or resolved before then.
    #[graphql(default)]
    delay_minutes: i32,
}

#[derive(InputObject)]
pub struct CreateAlertSourceInput {
    name: String,
    escalation_policy_id: ID,
    integration_type: IntegrationType,
}

fn session_cookie(value: String, max_age: CookieDuration, secure: bool) -> String {
    Cookie::build(SESSION_COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(max_age)
        .finish()
        .to_string()
}

pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Signs in: returns a bearer token and also sets it as an HttpOnly, SameSite=Strict cookie.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        #[graphql(secret)] password: String,
    ) -> Result<LoginPayload> {
        gql(async move {
            let state = ctx.state()?;
            let client = ctx
                .data_opt::<ClientAddr>()
                .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0);
            let (token, user) = auth::login(
                &state.ctx,
                &state.login_throttle,
                client,
                &email,
                SecretString::from(password),
                state.session_ttl,
            )
            .await?;
            ctx.append_http_header(
                "Set-Cookie",
                session_cookie(
                    token.clone(),
                    CookieDuration::seconds(
                        i64::try_from(state.session_ttl.as_secs()).unwrap_or(i64::MAX),
                    ),
                    state.secure_cookies(),
                ),
            );
            Ok(LoginPayload {
                token,
                user: User(user),
            })
        })
        .await
    }

    /// Ends the session (or revokes the API token) the request was made with.
    async fn logout(&self, ctx: &Context<'_>) -> Result<bool> {
        gql(async move {
            let caller = ctx.caller_any()?;
            let state = ctx.state()?;
            auth::revoke(&state.ctx.db, &caller.token_id).await?;
            ctx.append_http_header(
                "Set-Cookie",
                session_cookie(String::new(), CookieDuration::ZERO, state.secure_cookies()),
            );
            Ok(true)
        })
        .await
    }

    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let user = users::create_user(
                &ctx.state()?.ctx,
                NewUser {
                    email: input.email,
                    name: input.name,
                    password: SecretString::from(input.password),
                    role: input.role.into(),
                },
            )
            .await?;
            Ok(User(user))
        })
        .await
    }

    /// A token for scripts; the token itself is shown only in this answer. Without
    /// `expiresInDays` (1 to 3650) it does not expire.
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        name: String,
        expires_in_days: Option<i32>,
    ) -> Result<CreatedApiToken> {
        gql(async move {
            let caller = ctx.caller()?;
            let (token, model) =
                auth::create_api_token(&ctx.state()?.ctx, caller, &name, expires_in_days).await?;
            Ok(CreatedApiToken {
                id: ID(model.id),
                name: model.name,
                token,
                created_at: model.created_at,
                expires_at: model.expires_at,
            })
        })
        .await
    }

    /// Changes the caller's own password; the current one is required. Clears a pending reset
    /// and ends the caller's other sessions.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(secret)] current_password: String,
        #[graphql(secret)] new_password: String,
    ) -> Result<bool> {
        gql(async move {
            auth::change_password(
                &ctx.state()?.ctx,
                ctx.caller_any()?,
                SecretString::from(current_password),
                SecretString::from(new_password),
            )
            .await?;
            Ok(true)
        })
        .await
    }

    /// Gives a user a generated one-time password (ADMIN only), shown only in this answer; the
    /// user must change it at the next sign-in. Their sessions end.
    async fn reset_user_password(&self, ctx: &Context<'_>, user_id: ID) -> Result<PasswordReset> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let db = &ctx.state()?.ctx.db;
            let temporary =
                auth::reset_password(&ctx.state()?.ctx, &UserId::from(user_id.as_str())).await?;
            let user = users::get(db, &user_id)
                .await?
                .ok_or(AppError::NotFound("user"))?;
            Ok(PasswordReset {
                user: User(user),
                temporary_password: temporary.expose_secret().to_string(),
            })
        })
        .await
    }

    /// Disables a user (ADMIN only): they cannot sign in, their sessions end and their API tokens
    /// stop working at once, escalation skips them. Not yourself, not the last enabled ADMIN.
    async fn disable_user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        gql(async move {
            let caller = ctx.caller()?;
            require_admin(caller)?;
            Ok(User(
                users::set_disabled(
                    &ctx.state()?.ctx.db,
                    caller,
                    &UserId::from(id.as_str()),
                    true,
                )
                .await?,
            ))
        })
        .await
    }

    /// Enables a disabled user again (ADMIN only); their API tokens work again.
    async fn enable_user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        gql(async move {
            let caller = ctx.caller()?;
            require_admin(caller)?;
            Ok(User(
                users::set_disabled(
                    &ctx.state()?.ctx.db,
                    caller,
                    &UserId::from(id.as_str()),
                    false,
                )
                .await?,
            ))
        })
        .await
    }

    /// Deletes a user (ADMIN only). Alert history keeps their e-mail as the actor and comment
    /// author. Not yourself, not the last enabled ADMIN.
    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        gql(async move {
            let caller = ctx.caller()?;
            require_admin(caller)?;
            users::delete_user(&ctx.state()?.ctx.db, caller, &UserId::from(id.as_str())).await?;
            Ok(true)
        })
        .await
    }

    /// Ends every browser session of the caller, this one included; API tokens stay. Returns
    /// how many sessions ended.
    async fn sign_out_everywhere(&self, ctx: &Context<'_>) -> Result<i32> {
        gql(async move {
            let caller = ctx.caller_any()?;
            let state = ctx.state()?;
            let ended = auth::end_sessions(&state.ctx.db, &caller.user_id).await?;
            ctx.append_http_header(
                "Set-Cookie",
                session_cookie(String::new(), CookieDuration::ZERO, state.secure_cookies()),
            );
            Ok(i32::try_from(ended).unwrap_or(i32::MAX))
        })
        .await
    }

    /// Revokes an API token: the caller's own, or anyone's for an ADMIN; at once, it no longer
    /// authenticates.
    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        gql(async move {
            auth::revoke_api_token(&ctx.state()?.ctx.db, ctx.caller()?, &id).await?;
            Ok(true)
        })
        .await
    }

    /// Makes a user ADMIN or RESPONDER (ADMIN only). The last ADMIN cannot be demoted (CONFLICT).
    async fn update_user_role(&self, ctx: &Context<'_>, id: ID, role: RoleGql) -> Result<User> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            Ok(User(
                users::update_role(
                    &ctx.state()?.ctx.db,
                    &UserId::from(id.as_str()),
                    role.into(),
                )
                .await?,
            ))
        })
        .await
    }

    async fn create_escalation_policy(
        &self,
        ctx: &Context<'_>,
        input: CreateEscalationPolicyInput,
    ) -> Result<EscalationPolicy> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let input = new_policy(input.name, input.routing_key, input.rules, input.repeat);
            let policy = policies::create(&ctx.state()?.ctx, input).await?;
            Ok(EscalationPolicy(policy))
        })
        .await
    }

    /// Replaces a policy's name, routing key, rules and repeat. Alerts escalating through it go on
    /// from the level they reached, under the new rules.
    async fn update_escalation_policy(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateEscalationPolicyInput,
    ) -> Result<EscalationPolicy> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let input = new_policy(input.name, input.routing_key, input.rules, input.repeat);
            let policy =
                policies::update(&ctx.state()?.ctx.db, &PolicyId::from(id.as_str()), input).await?;
            Ok(EscalationPolicy(policy))
        })
        .await
    }

    /// Deletes a policy; refused (CONFLICT, naming them) while alert sources or open alerts use
    /// it. Returns true.
    async fn delete_escalation_policy(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            policies::delete(&ctx.state()?.ctx, &PolicyId::from(id.as_str())).await?;
            Ok(true)
        })
        .await
    }

    /// Creates an on-call schedule (ADMIN).
    async fn create_schedule(&self, ctx: &Context<'_>, input: ScheduleInput) -> Result<Schedule> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let model = schedules::create(&ctx.state()?.ctx, new_schedule(input)).await?;
            Ok(Schedule(model))
        })
        .await
    }

    /// Replaces a schedule's name, time zone and layers (ADMIN); its overrides stay.
    async fn update_schedule(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ScheduleInput,
    ) -> Result<Schedule> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let model = schedules::update(&ctx.state()?.ctx, &id.0, new_schedule(input)).await?;
            Ok(Schedule(model))
        })
        .await
    }

    /// Deletes a schedule (ADMIN); refused (CONFLICT, naming them) while escalation policies
    /// page it. Returns true.
    async fn delete_schedule(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            schedules::delete(&ctx.state()?.ctx, &id.0).await?;
            Ok(true)
        })
        .await
    }

    /// Puts a user on call for a time range, instead of (REPLACE) or beside (ADD) whoever is.
    /// An ADMIN may make any override; anyone else a REPLACE override of a range in which they
    /// are on call throughout (handing it to a colleague).
    async fn create_schedule_override(
        &self,
        ctx: &Context<'_>,
        schedule_id: ID,
        input: ScheduleOverrideInput,
    ) -> Result<ScheduleOverride> {
        gql(async move {
            let caller = ctx.caller()?;
            let model = schedules::create_override(
                &ctx.state()?.ctx,
                caller,
                &schedule_id.0,
                schedules::NewOverride {
                    user_id: input.user_id.0,
                    start: input.start,
                    end: input.end,
                    kind: input.kind.into(),
                },
            )
            .await?;
            Ok(ScheduleOverride(model))
        })
        .await
    }

    /// Deletes an override (its creator or an ADMIN). Returns true.
    async fn delete_schedule_override(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        gql(async move {
            let caller = ctx.caller()?;
            schedules::delete_override(&ctx.state()?.ctx, caller, &id.0).await?;
            Ok(true)
        })
        .await
    }

    /// A new secret address for a schedule's iCalendar feed (ADMIN); the previous address stops
    /// working. The address is shown once.
    async fn rotate_schedule_feed(&self, ctx: &Context<'_>, schedule_id: ID) -> Result<String> {
        gql(async move {
            let state = ctx.state()?;
            let kind = schedules::FeedKind::Schedule;
            let token =
                schedules::rotate_feed(&state.ctx, ctx.caller()?, kind, &schedule_id.0).await?;
            let base = state.public_url.as_str().trim_end_matches('/');
            Ok(format!(
                "{base}/api/v1/schedules/{}.ics?token={token}",
                schedule_id.0
            ))
        })
        .await
    }

    /// A new secret address for a user's iCalendar feed of their shifts: the caller's own, or
    /// with `userId` another user's (ADMIN). The previous address stops working; the address is
    /// shown once.
    async fn rotate_user_feed(&self, ctx: &Context<'_>, user_id: Option<ID>) -> Result<String> {
        gql(async move {
            let state = ctx.state()?;
            let caller = ctx.caller()?;
            let owner = user_id
                .map(|id| id.0)
                .unwrap_or_else(|| caller.user_id.clone());
            let kind = schedules::FeedKind::User;
            let token = schedules::rotate_feed(&state.ctx, caller, kind, &owner).await?;
            let base = state.public_url.as_str().trim_end_matches('/');
            Ok(format!(
                "{base}/api/v1/users/{owner}/shifts.ics?token={token}"
            ))
        })
        .await
    }

    async fn create_alert_source(
        &self,
        ctx: &Context<'_>,
        input: CreateAlertSourceInput,
    ) -> Result<AlertSource> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let IntegrationType::ServiceNow = input.integration_type;
            let state = ctx.state()?;
            let source = sources::create(
                &state.ctx,
                NewSource {
                    name: input.name,
                    escalation_policy_id: input.escalation_policy_id.0,
                },
            )
            .await?;
            Ok(AlertSource(source))
        })
        .await
    }

    /// Adds a notification rule to a user (the caller when `userId` is absent; another user's
    /// needs ADMIN).
    async fn add_notification_rule(
        &self,
        ctx: &Context<'_>,
        user_id: Option<ID>,
        input: NotificationRuleInput,
    ) -> Result<NotificationRule> {
        gql(async move {
            let caller = ctx.caller()?;
            let user_id = user_id.map(|id| id.0).unwrap_or(caller.user_id.clone());
            let kind = match input.kind {
                NotificationKind::Email => notifications::EMAIL,
                NotificationKind::Webhook => notifications::WEBHOOK,
                NotificationKind::Slack => notifications::SLACK,
                NotificationKind::Teams => notifications::TEAMS,
            };
            let state = ctx.state()?;
            let (rule, secret) = notifications::add_rule(
                &state.ctx,
                caller,
                &user_id,
                notifications::NewRule {
                    kind: kind.into(),
                    target: input.target,
                    on_status_change: input.on_status_change,
                    delay_minutes: input.delay_minutes,
                },
            )
            .await?;
            Ok(NotificationRule(rule, secret))
        })
        .await
    }

    /// Stores (or replaces) the alert source's ServiceNow connection. The password is encrypted
    /// at rest and never shown again.
    async fn configure_service_now(
        &self,
        ctx: &Context<'_>,
        alert_source_id: ID,
        input: ServiceNowConnectionInput,
    ) -> Result<AlertSource> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            servicenow::configure(
                &state.ctx,
                &SourceId::from(alert_source_id.as_str()),
                ConnectionInput {
                    instance_url: input.instance_url,
                    username: input.username,
                    password: input.password.map(SecretString::from),
                    auth_method: input.auth_method.map(Into::into),
                    client_id: input.client_id,
                    client_secret: input.client_secret.map(SecretString::from),
                    bidirectional: input.bidirectional,
                    close_code: input.close_code,
                },
            )
            .await?;
            sources::get(&state.ctx.db, &alert_source_id)
                .await?
                .map(AlertSource)
                .ok_or(AppError::NotFound("alert source"))
        })
        .await
    }

    /// Stores which alert priority each ServiceNow priority value gets (values must be priority
    /// choices of the instance); values left out keep the default, an empty list clears the
    /// mapping. ADMIN only.
    async fn set_priority_mapping(
        &self,
        ctx: &Context<'_>,
        alert_source_id: ID,
        mappings: Vec<PriorityMappingInput>,
    ) -> Result<AlertSource> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            let mappings = mappings
                .into_iter()
                .map(|m| (m.service_now_priority, m.alert_priority.into()))
                .collect();
            servicenow::set_priority_mapping(
                &state.ctx,
                &SourceId::from(alert_source_id.as_str()),
                mappings,
            )
            .await?;
            source(state, &alert_source_id).await
        })
        .await
    }

    /// Picks the incident field (e.g. `assignment_group`, `category`) whose value routes new
    /// alerts to the escalation policy with that routing key; null stops routing. ADMIN only.
    async fn set_routing_field(
        &self,
        ctx: &Context<'_>,
        alert_source_id: ID,
        field: Option<String>,
    ) -> Result<AlertSource> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            servicenow::set_routing_field(
                &state.ctx,
                &SourceId::from(alert_source_id.as_str()),
                field,
            )
            .await?;
            source(state, &alert_source_id).await
        })
        .await
    }

    /// Requires HTTP Basic credentials or a bearer token on the alert source's webhook (NONE
    /// removes the requirement). The secret is encrypted at rest and shown again only inside the
    /// business rule script. ADMIN only.
    async fn set_webhook_auth(
        &self,
        ctx: &Context<'_>,
        alert_source_id: ID,
        input: WebhookAuthInput,
    ) -> Result<AlertSource> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            let auth = input.into_auth()?;
            let saved = sources::set_webhook_auth(
                &state.ctx,
                &SourceId::from(alert_source_id.as_str()),
                auth,
            )
            .await?;
            Ok(AlertSource(saved))
        })
        .await
    }

    /// Gives the alert source a new integration key (its `integrationKey`, `webhookUrl` and
    /// `businessRuleScript` show it at once). The key it replaces keeps delivering events for
    /// `graceMinutes` (0 to 10080; 0 ends it at once), so the ServiceNow side can be updated
    /// without losing events; each event that uses it adds a line to its alert's log. Rotating
    /// again during a grace period ends the older key's. ADMIN only.
    async fn rotate_integration_key(
        &self,
        ctx: &Context<'_>,
        alert_source_id: ID,
        #[graphql(default = 1440)] grace_minutes: i32,
    ) -> Result<AlertSource> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            let rotated = sources::rotate_integration_key(
                &state.ctx,
                &SourceId::from(alert_source_id.as_str()),
                grace_minutes,
            )
            .await?;
            Ok(AlertSource(rotated))
        })
        .await
    }

    async fn remove_notification_rule(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        gql(async move {
            notifications::remove_rule(&ctx.state()?.ctx.db, ctx.caller()?, &id).await?;
            Ok(true)
        })
        .await
    }

    /// Calls the instance with the stored credentials and reports what works and what does not.
    /// A connection that needs attention is tried again (a new OAuth grant); when the instance
    /// accepts it now, the mark is cleared and the updates that waited are sent.
    async fn test_service_now_connection(
        &self,
        ctx: &Context<'_>,
        alert_source_id: ID,
    ) -> Result<ServiceNowTestResult> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let state = ctx.state()?;
            let outcome =
                servicenow::test_connection(&state.ctx, &SourceId::from(alert_source_id.as_str()))
                    .await?;
            Ok(ServiceNowTestResult {
                ok: outcome.ok,
                message: outcome.message,
                needs_attention: outcome.needs_attention,
            })
        })
        .await
    }

    /// Takes a PENDING alert: it stops escalating and is assigned to the caller.
    async fn accept_alert(&self, ctx: &Context<'_>, id: ID) -> Result<Alert> {
        gql(async move {
            let caller = ctx.caller()?;
            Ok(Alert(
                alerts::accept(&ctx.state()?.ctx, caller, &AlertId::from(id.as_str())).await?,
            ))
        })
        .await
    }

    /// Resolves the alert (final); the comment is kept with the alert.
    async fn resolve_alert(
        &self,
        ctx: &Context<'_>,
        id: ID,
        comment: Option<String>,
    ) -> Result<Alert> {
        gql(async move {
            let caller = ctx.caller()?;
            Ok(Alert(
                alerts::resolve(
                    &ctx.state()?.ctx,
                    caller,
                    &AlertId::from(id.as_str()),
                    comment,
                )
                .await?,
            ))
        })
        .await
    }

    /// Moves the alert to another escalation policy.
    async fn reroute_alert(
        &self,
        ctx: &Context<'_>,
        id: ID,
        escalation_policy_id: ID,
    ) -> Result<Alert> {
        gql(async move {
            let caller = ctx.caller()?;
            Ok(Alert(
                alerts::reroute(
                    &ctx.state()?.ctx,
                    caller,
                    &AlertId::from(id.as_str()),
                    &PolicyId::from(escalation_policy_id.as_str()),
                )
                .await?,
            ))
        })
        .await
    }

    /// Raises a LOW alert to HIGH.
    async fn raise_alert_priority(&self, ctx: &Context<'_>, id: ID) -> Result<Alert> {
        gql(async move {
            let caller = ctx.caller()?;
            Ok(Alert(
                alerts::raise_priority(&ctx.state()?.ctx, caller, &AlertId::from(id.as_str()))
                    .await?,
            ))
        })
        .await
    }

    /// Queues the alert's failed ServiceNow updates again, in their original order. CONFLICT
    /// when none failed.
    async fn retry_sync(&self, ctx: &Context<'_>, alert_id: ID) -> Result<Alert> {
        gql(async move {
            let caller = ctx.caller()?;
            let state = ctx.state()?;
            sync::retry(&state.ctx, caller, &AlertId::from(alert_id.as_str())).await?;
            alerts::get(&state.ctx.db, &alert_id)
                .await?
                .map(Alert)
                .ok_or(crate::error::AppError::NotFound("alert"))
        })
        .await
    }

    /// Sets which kinds of alert change the source writes to ServiceNow (ADMIN). NOT_FOUND
    /// without a ServiceNow connection.
    async fn set_publish_filters(
        &self,
        ctx: &Context<'_>,
        alert_source_id: ID,
        filters: PublishFiltersInput,
    ) -> Result<AlertSource> {
        gql(async move {
            require_admin(ctx.caller()?)?;
            let db = &ctx.state()?.ctx.db;
            if sources::get(db, &alert_source_id).await?.is_none() {
                return Err(crate::error::AppError::NotFound("alert source"));
            }
            let filters = sync::PublishFilters {
                accept: filters.accept,
                resolve: filters.resolve,
                comment: filters.comment,
                priority: filters.priority,
                assignment: filters.assignment,
                reroute: filters.reroute,
            };
            sync::set_publish_filters(
                &ctx.state()?.ctx,
                &SourceId::from(alert_source_id.as_str()),
                filters,
            )
            .await?;
            sources::get(db, &alert_source_id)
                .await?
                .map(AlertSource)
                .ok_or(crate::error::AppError::NotFound("alert source"))
        })
        .await
    }

    async fn add_comment(&self, ctx: &Context<'_>, alert_id: ID, body: String) -> Result<Comment> {
        gql(async move {
            let caller = ctx.caller()?;
            Ok(Comment(
                alerts::comment(
                    &ctx.state()?.ctx,
                    caller,
                    &AlertId::from(alert_id.as_str()),
                    &body,
                )
                .await?,
            ))
        })
        .await
    }
}

async fn source(
    state: &crate::state::AppState,
    id: &str,
) -> std::result::Result<AlertSource, AppError> {
    sources::get(&state.ctx.db, id)
        .await?
        .map(AlertSource)
        .ok_or(AppError::NotFound("alert source"))
}
