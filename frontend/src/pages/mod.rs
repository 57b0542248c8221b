pub mod account;
pub mod alert_detail;
pub mod alerts;
pub mod login;
pub mod policies;
pub mod sources;
pub mod sync;
pub mod users;
