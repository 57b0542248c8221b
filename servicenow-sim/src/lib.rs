//! A stand-in ServiceNow instance for tests and demos: the REST Table API over an in-memory store, the incident
//! business logic (priority lookup, data policy, journal fields), an async business rule that posts every
//! incident insert and update to webhooks, and injectable faults.

pub mod faults;
pub mod oauth;
pub mod query;
mod seed;
pub mod server;
pub mod store;
pub mod update_set;

pub use faults::{FaultMode, Faults};
pub use oauth::{OAuth, OAuthSettings, TokenRequest};
pub use seed::{BETH_ANGLIN_SYS_ID, GLIDEPATH_USER_SYS_ID, NETWORK_GROUP_SYS_ID};
pub use server::{Config, RunningSimulator, Simulator};
pub use store::{Delivery, Record, RequestRecord, SimState, SnError, priority_for};
