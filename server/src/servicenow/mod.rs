//! What Glidepath knows of ServiceNow itself.

pub mod business_rule;
pub mod client;
pub mod incident;
pub mod oauth;
pub mod sync;
pub mod time;
pub mod update_set;
pub mod users;
