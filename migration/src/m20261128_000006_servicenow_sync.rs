//! Bidirectional ServiceNow sync: the outbox of incident updates (written in the transaction of
//! the alert change), the per-source publish filters and resolution code, the journal entries
//! already seen per alert (so each is imported once), and the lease that keeps several processes
//! from polling one instance's journal at the same time.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServicenowSyncUpdates::Table)
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::AlertId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::AlertSourceId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::IncidentSysId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    // {"fields": {...}, "assignTo": {"userId", "email"}?}
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::Payload)
                            .text()
                            .not_null(),
                    )
                    // The incident state this update writes, if any: recognises its echo.
                    .col(ColumnDef::new(ServicenowSyncUpdates::WrittenState).integer())
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::NextAttemptAt)
                            .timestamp_with_time_zone(),
                    )
                    .col(ColumnDef::new(ServicenowSyncUpdates::LastError).text())
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowSyncUpdates::DeliveredAt)
                            .timestamp_with_time_zone(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(ServicenowSyncUpdates::Table)
                            .from_col(ServicenowSyncUpdates::AlertId)
                            .to_tbl(Alerts::Table)
                            .to_col(Alerts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_servicenow_sync_updates_due")
                    .table(ServicenowSyncUpdates::Table)
                    .col(ServicenowSyncUpdates::Status)
                    .col(ServicenowSyncUpdates::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_servicenow_sync_updates_alert")
                    .table(ServicenowSyncUpdates::Table)
                    .col(ServicenowSyncUpdates::AlertId)
                    .col(ServicenowSyncUpdates::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ServicenowJournalSeen::Table)
                    .col(
                        ColumnDef::new(ServicenowJournalSeen::AlertId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowJournalSeen::JournalSysId)
                            .string_len(64)
                            .not_null(),
                    )
                    // ServiceNow's `sys_created_on` as it sent it (UTC, `YYYY-MM-DD HH:MM:SS`).
                    .col(
                        ColumnDef::new(ServicenowJournalSeen::CreatedOn)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ServicenowJournalSeen::Imported)
                            .boolean()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ServicenowJournalSeen::AlertId)
                            .col(ServicenowJournalSeen::JournalSysId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(ServicenowJournalSeen::Table)
                            .from_col(ServicenowJournalSeen::AlertId)
                            .to_tbl(Alerts::Table)
                            .to_col(Alerts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // SQLite adds one column per ALTER TABLE.
        for column in [
            ServicenowConnections::PublishAccept,
            ServicenowConnections::PublishResolve,
            ServicenowConnections::PublishComment,
            ServicenowConnections::PublishPriority,
            ServicenowConnections::PublishAssignment,
            ServicenowConnections::PublishReroute,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ServicenowConnections::Table)
                        .add_column(ColumnDef::new(column).boolean().not_null().default(true))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(ServicenowConnections::Table)
                    .add_column(ColumnDef::new(ServicenowConnections::CloseCode).text())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ServicenowConnections::Table)
                    .add_column(
                        ColumnDef::new(ServicenowConnections::JournalLeaseUntil)
                            .timestamp_with_time_zone(),
                    )
                    .to_owned(),
            )
            .await?;
        // Who wrote a comment imported from ServiceNow when no Glidepath user matches them.
        manager
            .alter_table(
                Table::alter()
                    .table(AlertComments::Table)
                    .add_column(ColumnDef::new(AlertComments::ExternalAuthor).text())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AlertComments::Table)
                    .drop_column(AlertComments::ExternalAuthor)
                    .to_owned(),
            )
            .await?;
        for column in [
            ServicenowConnections::PublishAccept,
            ServicenowConnections::PublishResolve,
            ServicenowConnections::PublishComment,
            ServicenowConnections::PublishPriority,
            ServicenowConnections::PublishAssignment,
            ServicenowConnections::PublishReroute,
            ServicenowConnections::CloseCode,
            ServicenowConnections::JournalLeaseUntil,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ServicenowConnections::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(ServicenowJournalSeen::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ServicenowSyncUpdates::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ServicenowSyncUpdates {
    Table,
    Id,
    AlertId,
    AlertSourceId,
    IncidentSysId,
    Kind,
    Payload,
    WrittenState,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum ServicenowJournalSeen {
    Table,
    AlertId,
    JournalSysId,
    CreatedOn,
    Imported,
}

#[derive(DeriveIden)]
enum ServicenowConnections {
    Table,
    PublishAccept,
    PublishResolve,
    PublishComment,
    PublishPriority,
    PublishAssignment,
    PublishReroute,
    CloseCode,
    JournalLeaseUntil,
}

#[derive(DeriveIden)]
enum AlertComments {
    Table,
    ExternalAuthor,
}

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
}
