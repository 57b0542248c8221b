//! sea-orm models, one per table. They never leave the service layer: GraphQL and HTTP have their
//! own types, so the API does not change when the schema does.

pub mod action_link_use;
pub mod alert;
pub mod alert_comment;
pub mod alert_log;
pub mod alert_responder;
pub mod alert_source;
pub mod auth_token;
pub mod calendar_feed;
pub mod escalation_policy;
pub mod escalation_rule;
pub mod escalation_rule_schedule;
pub mod escalation_rule_user;
pub mod notification;
pub mod notification_rule;
pub mod notification_throttle;
pub mod schedule;
pub mod schedule_layer;
pub mod schedule_override;
pub mod servicenow_connection;
pub mod servicenow_journal_seen;
pub mod servicenow_oauth_token;
pub mod servicenow_sync_update;
pub mod user;
pub mod webhook_event_hour;
