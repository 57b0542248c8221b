//! GraphQL output types, one module per concept. They wrap database models privately, so the
//! schema is chosen here and not by the tables.

mod alert;
mod notification;
mod policy;
mod schedule;
mod source;
mod user;

use async_graphql::{Enum, SimpleObject};

use crate::domain;
use crate::error::AppError;

pub use alert::{Alert, AlertConnection, Comment};
pub use notification::{NotificationKind, NotificationRule};
pub use policy::EscalationPolicy;
pub use schedule::{
    OnCallEntry, OverrideKindGql, Schedule, ScheduleOverride, TurnUnitGql, UserShift,
};
pub use source::{
    AlertSource, IntegrationType, ServiceNowAuthMethod, ServiceNowChoice, ServiceNowField,
    ServiceNowReferenceOption, ServiceNowTestResult, WebhookAuthKind,
};
pub use user::{ApiToken, CreatedApiToken, LoginPayload, PasswordReset, User};

type Result<T> = std::result::Result<T, async_graphql::Error>;

/// What a list under an alert (comments, log entries, responders, sync updates) counts for in a
/// query's complexity: its child complexity times this many entries.
pub const LIST_COST: usize = 10;
/// What a field that computes on-call shifts (up to 31 days of every layer, restriction and
/// override) counts towards a query's complexity, so that one query cannot ask for thousands.
pub const SHIFTS_COST: usize = 20;

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
#[graphql(remote = "domain::AlertStatus")]
pub enum AlertStatusGql {
    Pending,
    Accepted,
    Resolved,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "AlertPriority")]
#[graphql(remote = "domain::Priority")]
pub enum PriorityGql {
    High,
    Low,
}

fn corrupt(what: &str, value: &str) -> AppError {
    AppError::Unexpected(anyhow::anyhow!("stored {what} {value:?} is not known"))
}

#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}
