//! Database schema migrations, applied at start-up by `glidepath serve` and alone by `glidepath migrate`.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_tables;
mod m20261128_000003_escalation;
mod m20261128_000004_notifications;
mod m20261128_000004_servicenow_connection;
mod m20261128_000005_servicenow_inbound;
mod m20261128_000006_servicenow_sync;
mod m20261128_000007_servicenow_inbound_fixes;
mod m20261128_000008_ticket_assignee;
mod m20261205_000001_secure_notification_targets;
mod m20261205_000002_integration_key_rotation;
mod m20261205_000003_account_lifecycle;
mod m20261205_000004_login_throttle;
mod m20261206_100001_servicenow_oauth;
mod m20261206_200001_webhook_event_hours;
mod m20261206_200002_journal_fetches;
mod m20261206_300001_schedules;
mod m20261206_400001_action_link_uses;
mod m20261206_400002_webhook_signing_secret;
mod m20261206_400003_notification_delay;
mod m20261206_500001_notification_throttle;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_tables::Migration),
            Box::new(m20261128_000003_escalation::Migration),
            Box::new(m20261128_000004_notifications::Migration),
            Box::new(m20261128_000004_servicenow_connection::Migration),
            Box::new(m20261128_000005_servicenow_inbound::Migration),
            Box::new(m20261128_000006_servicenow_sync::Migration),
            Box::new(m20261128_000007_servicenow_inbound_fixes::Migration),
            Box::new(m20261128_000008_ticket_assignee::Migration),
            Box::new(m20261205_000003_account_lifecycle::Migration),
            Box::new(m20261205_000004_login_throttle::Migration),
            Box::new(m20261205_000001_secure_notification_targets::Migration),
            Box::new(m20261205_000002_integration_key_rotation::Migration),
            Box::new(m20261206_100001_servicenow_oauth::Migration),
            Box::new(m20261206_300001_schedules::Migration),
            Box::new(m20261206_200001_webhook_event_hours::Migration),
            Box::new(m20261206_200002_journal_fetches::Migration),
            Box::new(m20261206_400001_action_link_uses::Migration),
            Box::new(m20261206_400002_webhook_signing_secret::Migration),
            Box::new(m20261206_400003_notification_delay::Migration),
            Box::new(m20261206_500001_notification_throttle::Migration),
        ]
    }
}
