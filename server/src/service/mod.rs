//! The only code that writes. Each operation runs in one transaction on the writer connection and
//! appends its alert log entries in that same transaction.

pub mod action_links;
pub mod alerts;
pub mod auth;
mod context;
pub mod escalation;
pub mod inbound;
pub mod journal;
pub mod log;
pub mod lookup;
pub mod notice;
pub mod notifications;
pub mod oauth;
pub mod outbox;
pub mod passwords;
pub mod people;
pub mod policies;
pub mod reconcile;
pub mod rekey;
pub mod rows;
pub mod schedules;
pub mod servicenow;
pub mod source_events;
pub mod sources;
pub mod sync;
pub mod users;

pub use context::{Ctx, Delivery};

use crate::domain::Role;

/// Who caused a change; every alert log entry names one.
#[derive(Clone, Debug)]
pub enum Actor {
    User {
        id: String,
        email: String,
    },
    /// A ServiceNow event; `sys_updated_by` names the person in ServiceNow when the event has it.
    ServiceNow {
        updated_by: Option<String>,
    },
    System,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::User { .. } => "USER",
            Actor::ServiceNow { .. } => "SERVICENOW",
            Actor::System => "SYSTEM",
        }
    }

    pub fn label(&self) -> String {
        match self {
            Actor::User { email, .. } => email.clone(),
            Actor::ServiceNow {
                updated_by: Some(who),
            } => format!("ServiceNow ({who})"),
            Actor::ServiceNow { updated_by: None } => "ServiceNow".into(),
            Actor::System => "system".into(),
        }
    }

    pub fn user_id(&self) -> Option<String> {
        match self {
            Actor::User { id, .. } => Some(id.clone()),
            _ => None,
        }
    }
}

/// The authenticated user of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: String,
    pub email: String,
    pub role: Role,
    pub token_id: String,
    /// An admin reset the password: every operation but changePassword, logout and me is refused.
    pub must_change_password: bool,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.user_id.clone(),
            email: self.email.clone(),
        }
    }
}

/// 256 random bits, URL-safe: integration keys, tokens, generated passwords.
pub fn random_token() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new time-ordered id: sorting by id sorts by creation on every backend.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
