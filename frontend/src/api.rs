//! The one way the UI talks to the server: typed GraphQL operations (graphql_client, checked at
//! compile time against `schema.graphql`) POSTed to `/graphql`. The browser sends the
//! `glidepath_session` cookie by itself (same origin), so the UI never holds a token or password.

use std::cell::Cell;

use gloo_net::http::Request;
use graphql_client::{GraphQLQuery, Response};
use leptos::prelude::*;

/// The server's `DateTime` scalar: an RFC 3339 string, formatted for people by `crate::time`.
pub type DateTime = String;

macro_rules! operations {
    ($($name:ident),* $(,)?) => {
        $(
            #[derive(GraphQLQuery)]
            #[graphql(
                schema_path = "schema.graphql",
                query_path = "src/operations.graphql",
                response_derives = "Debug, Clone, PartialEq",
                variables_derives = "Debug, Clone"
            )]
            pub struct $name;
        )*
    };
}

operations!(
    Me,
    Login,
    Logout,
    AlertList,
    SourceNames,
    AlertDetail,
    AcceptAlert,
    ResolveAlert,
    RerouteAlert,
    RaiseAlertPriority,
    AddComment,
    SourceList,
    CreateAlertSource,
    SourceDetail,
    ConfigureServiceNow,
    TestServiceNowConnection,
    ServiceNowAuth,
    PolicyList,
    CreatePolicy,
    UpdatePolicy,
    UserList,
    CreateUser,
    CreateApiToken,
    ApiTokens,
    AllApiTokens,
    RevokeApiToken,
    UpdateUserRole,
    SourceScript,
    SourceEvents,
    ServiceNowOptions,
    SetPriorityMapping,
    SetRoutingField,
    RoutingOptions,
    SetWebhookAuth,
    RotateIntegrationKey,
    RetrySync,
    ChangePassword,
    SignOutEverywhere,
    ResetUserPassword,
    DisableUser,
    EnableUser,
    DeleteUser,
    ScheduleList,
    ScheduleTimeline,
    MyShifts,
    CreateSchedule,
    CreateScheduleOverride,
    DeleteScheduleOverride,
);

/// A failed operation, in words for people; `code` is the server's `extensions.code`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl ApiError {
    fn network(detail: impl std::fmt::Display) -> Self {
        ApiError {
            code: "NETWORK".into(),
            message: format!(
                "The server could not be reached ({detail}). Check your connection and try again."
            ),
        }
    }
}

thread_local! {
    static SESSION_LOST: Cell<Option<RwSignal<bool>>> = const { Cell::new(None) };
    static PASSWORD_CHANGE: Cell<Option<RwSignal<bool>>> = const { Cell::new(None) };
}

/// The server's error code while an admin's password reset is pending: everything except `me`,
/// `logout` and `changePassword` is refused until the user has chosen a new password.
pub const PASSWORD_CHANGE_REQUIRED: &str = "PASSWORD_CHANGE_REQUIRED";

/// Registers the signal that turns true when the server stops accepting the session (expired,
/// signed out elsewhere): the app then shows the sign-in form.
pub fn on_session_lost(signal: RwSignal<bool>) {
    SESSION_LOST.with(|s| s.set(Some(signal)));
}

/// Registers the signal that turns true when the server refuses an operation until the user
/// changes their password: the app then takes them to the My account page.
pub fn on_password_change_required(signal: RwSignal<bool>) {
    PASSWORD_CHANGE.with(|s| s.set(Some(signal)));
}

/// Runs one operation and returns its data, or the first error the server reported.
pub async fn run<Q: GraphQLQuery>(variables: Q::Variables) -> Result<Q::ResponseData, ApiError> {
    let body = Q::build_query(variables);
    let response = Request::post("/graphql")
        .json(&body)
        .map_err(ApiError::network)?
        .send()
        .await
        .map_err(ApiError::network)?;
    let status = response.status();
    let answer: Response<Q::ResponseData> = response.json().await.map_err(|_| ApiError {
        code: "BAD_RESPONSE".into(),
        message: format!("The server answered with HTTP {status} and no GraphQL result."),
    })?;
    if let Some(error) = answer.errors.unwrap_or_default().into_iter().next() {
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(|c| c.as_str())
            .unwrap_or("ERROR")
            .to_string();
        let watcher = match code.as_str() {
            "UNAUTHENTICATED" => SESSION_LOST.with(Cell::get),
            PASSWORD_CHANGE_REQUIRED => PASSWORD_CHANGE.with(Cell::get),
            _ => None,
        };
        if let Some(signal) = watcher {
            signal.set(true);
        }
        return Err(ApiError {
            message: sentence(&error.message),
            code,
        });
    }
    answer.data.ok_or_else(|| ApiError {
        code: "BAD_RESPONSE".into(),
        message: "The server answered without data.".into(),
    })
}

/// Server messages are lower-case fragments ("invalid email or password"); shown on their own
/// they read better as sentences.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return "The server reported an error.".into(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The GraphQL name of a generated enum value (`PENDING`, `HIGH`, `SERVICENOW`…).
pub fn enum_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
