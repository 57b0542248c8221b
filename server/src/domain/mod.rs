//! Pure types and rules: no I/O, no database, no HTTP. Everything here is parsed, not validated:
//! a value of these types is known to be well formed.

pub mod alert;
pub mod escalation;
pub mod ids;
pub mod incident;
pub mod schedule;
pub mod user;
pub mod webhook_auth;

pub use alert::{AlertStatus, IngestDecision, IngestOutcome, LogKind, Priority, TicketChange};
pub use ids::{AlertId, PolicyId, SourceId, UserId};
pub use incident::{
    Incident, IncidentError, IncidentState, PriorityMapping, SysId, field_value, is_field_name,
};
pub use user::{Email, Role};
