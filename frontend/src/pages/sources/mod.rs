//! Alert sources: where ServiceNow sends incidents. Creating one leads straight to what an admin
//! pastes into ServiceNow, with the steps to follow there.

mod connection;
mod detail;
mod events;
mod instance_settings;
mod list;
mod rotate_key;
mod webhook_auth;

pub use detail::SourceDetail;
pub use list::SourceList;
