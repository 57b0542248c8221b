//! The reconciliation poll's exact resume point and its freshness cut-off per connection.
//!
//! `poll_cursor` is the `sys_id` of the last incident a poll read when it stopped at its page
//! cap: with `poll_watermark` it is the key the next poll continues after, without overlap.
//! `poll_since` is when the connection was configured or moved to another instance (ServiceNow
//! format): only New incidents created since then page anyone.
//!
//! `alerts.routing_field` is the routing field an alert's `routing_value` was read from: an event
//! read with another field records its value without re-routing. Alerts that have a routing value
//! take their source's current routing field.
//!
//! One `ALTER TABLE … ADD COLUMN` per column: SQLite takes no more in one statement.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in [
            ColumnDef::new(ServicenowConnections::PollCursor)
                .string_len(32)
                .to_owned(),
            ColumnDef::new(ServicenowConnections::PollSince)
                .string_len(19)
                .to_owned(),
        ] {
            let alter = Table::alter()
                .table(ServicenowConnections::Table)
                .add_column(&mut column)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        let alter = Table::alter()
            .table(Alerts::Table)
            .add_column(ColumnDef::new(Alerts::RoutingField).text().to_owned())
            .to_owned();
        manager.alter_table(alter).await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE alerts SET routing_field = (SELECT c.routing_field \
                 FROM servicenow_connections c WHERE c.alert_source_id = alerts.alert_source_id) \
                 WHERE routing_value IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let alter = Table::alter()
            .table(Alerts::Table)
            .drop_column(Alerts::RoutingField)
            .to_owned();
        manager.alter_table(alter).await?;
        for column in [
            ServicenowConnections::PollCursor,
            ServicenowConnections::PollSince,
        ] {
            let alter = Table::alter()
                .table(ServicenowConnections::Table)
                .drop_column(column)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ServicenowConnections {
    Table,
    PollCursor,
    PollSince,
}

#[derive(DeriveIden, Clone, Copy)]
enum Alerts {
    Table,
    RoutingField,
}
