//! The ServiceNow connection of an alert source: where its instance is, the API user's
//! credentials (the password encrypted, bound to the source), and the advanced configuration
//! that needs the connection (priority mapping, routing field).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServicenowConnections::Table)
                    // One connection per alert source: the source's id is the key.
                    .col(
                        ColumnDef::new(ServicenowConnections::AlertSourceId)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ServicenowConnections::InstanceUrl)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowConnections::Username)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowConnections::PasswordEncrypted)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowConnections::Bidirectional)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    // JSON object {servicenow priority value: HIGH|LOW}; null = the default rule.
                    .col(ColumnDef::new(ServicenowConnections::PriorityMapping).text())
                    .col(ColumnDef::new(ServicenowConnections::RoutingField).text())
                    .col(
                        ColumnDef::new(ServicenowConnections::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowConnections::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_servicenow_connections_alert_source")
                            .from(
                                ServicenowConnections::Table,
                                ServicenowConnections::AlertSourceId,
                            )
                            .to(AlertSources::Table, AlertSources::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServicenowConnections::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ServicenowConnections {
    Table,
    AlertSourceId,
    InstanceUrl,
    Username,
    PasswordEncrypted,
    Bidirectional,
    PriorityMapping,
    RoutingField,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AlertSources {
    Table,
    Id,
}
