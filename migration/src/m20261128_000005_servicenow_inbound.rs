//! The inbound half of the ServiceNow connector: optional webhook authentication per alert
//! source, the routing field value each alert was last seen with (so a change re-routes it), and
//! the reconciliation poll's watermark and lease per connection.
//!
//! One `ALTER TABLE … ADD COLUMN` per column: SQLite takes no more in one statement.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn add_columns<T: IntoIden + Copy>(
    manager: &SchemaManager<'_>,
    table: T,
    columns: impl IntoIterator<Item = ColumnDef>,
) -> Result<(), DbErr> {
    for mut column in columns {
        let alter = Table::alter()
            .table(table)
            .add_column(&mut column)
            .to_owned();
        manager.alter_table(alter).await?;
    }
    Ok(())
}

async fn drop_columns<T: IntoIden + Copy, C: IntoIden>(
    manager: &SchemaManager<'_>,
    table: T,
    columns: impl IntoIterator<Item = C>,
) -> Result<(), DbErr> {
    for column in columns {
        let alter = Table::alter().table(table).drop_column(column).to_owned();
        manager.alter_table(alter).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            AlertSources::Table,
            [
                // NONE | BASIC | BEARER
                ColumnDef::new(AlertSources::WebhookAuthKind)
                    .string_len(16)
                    .not_null()
                    .default("NONE")
                    .to_owned(),
                ColumnDef::new(AlertSources::WebhookAuthUsername)
                    .text()
                    .to_owned(),
                // The password (BASIC) or token (BEARER), encrypted with the secret key and bound
                // to the alert source: the business rule needs it in clear, so not a hash.
                ColumnDef::new(AlertSources::WebhookAuthSecretEncrypted)
                    .text()
                    .to_owned(),
            ],
        )
        .await?;
        add_columns(
            manager,
            Alerts::Table,
            [ColumnDef::new(Alerts::RoutingValue).text().to_owned()],
        )
        .await?;
        add_columns(
            manager,
            ServicenowConnections::Table,
            [
                // ServiceNow's `sys_updated_on` format, `YYYY-MM-DD HH:MM:SS` UTC.
                ColumnDef::new(ServicenowConnections::PollWatermark)
                    .string_len(19)
                    .to_owned(),
                ColumnDef::new(ServicenowConnections::PollNextAt)
                    .timestamp_with_time_zone()
                    .to_owned(),
                ColumnDef::new(ServicenowConnections::PollLeaseUntil)
                    .timestamp_with_time_zone()
                    .to_owned(),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            ServicenowConnections::Table,
            [
                ServicenowConnections::PollWatermark,
                ServicenowConnections::PollNextAt,
                ServicenowConnections::PollLeaseUntil,
            ],
        )
        .await?;
        drop_columns(manager, Alerts::Table, [Alerts::RoutingValue]).await?;
        drop_columns(
            manager,
            AlertSources::Table,
            [
                AlertSources::WebhookAuthKind,
                AlertSources::WebhookAuthUsername,
                AlertSources::WebhookAuthSecretEncrypted,
            ],
        )
        .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AlertSources {
    Table,
    WebhookAuthKind,
    WebhookAuthUsername,
    WebhookAuthSecretEncrypted,
}

#[derive(DeriveIden, Clone, Copy)]
enum Alerts {
    Table,
    RoutingValue,
}

#[derive(DeriveIden, Clone, Copy)]
enum ServicenowConnections {
    Table,
    PollWatermark,
    PollNextAt,
    PollLeaseUntil,
}
