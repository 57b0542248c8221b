//! `webhook_event_hours`: per alert source and hour, how many webhook events came to each outcome,
//! and the last event (and the last rejection) of that hour. One row per source and hour, updated
//! in the transaction that applies the event, so counting adds no row per event and a caller
//! without valid credentials cannot add rows at will. Times are Unix seconds (the hour) and
//! milliseconds (the events), compared alike on SQLite and PostgreSQL.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let count = |c: WebhookEventHours| {
            ColumnDef::new(c)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned()
        };
        let create = Table::create()
            .table(WebhookEventHours::Table)
            .if_not_exists()
            .col(
                ColumnDef::new(WebhookEventHours::AlertSourceId)
                    .string_len(36)
                    .not_null(),
            )
            .col(
                ColumnDef::new(WebhookEventHours::Hour)
                    .big_integer()
                    .not_null(),
            )
            .col(count(WebhookEventHours::Created))
            .col(count(WebhookEventHours::Accepted))
            .col(count(WebhookEventHours::Resolved))
            .col(count(WebhookEventHours::Updated))
            .col(count(WebhookEventHours::Unchanged))
            .col(count(WebhookEventHours::Rejected))
            .col(
                ColumnDef::new(WebhookEventHours::LastEventAt)
                    .big_integer()
                    .not_null(),
            )
            .col(
                ColumnDef::new(WebhookEventHours::LastOutcome)
                    .string_len(16)
                    .not_null(),
            )
            .col(
                ColumnDef::new(WebhookEventHours::LastServerUrl)
                    .string_len(300)
                    .null(),
            )
            .col(
                ColumnDef::new(WebhookEventHours::LastRejectedAt)
                    .big_integer()
                    .null(),
            )
            .col(
                ColumnDef::new(WebhookEventHours::LastRejection)
                    .string_len(600)
                    .null(),
            )
            .primary_key(
                Index::create()
                    .col(WebhookEventHours::AlertSourceId)
                    .col(WebhookEventHours::Hour),
            )
            .foreign_key(
                ForeignKey::create()
                    .from(WebhookEventHours::Table, WebhookEventHours::AlertSourceId)
                    .to(AlertSources::Table, AlertSources::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        manager.create_table(create).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookEventHours::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEventHours {
    Table,
    AlertSourceId,
    Hour,
    Created,
    Accepted,
    Resolved,
    Updated,
    Unchanged,
    Rejected,
    LastEventAt,
    LastOutcome,
    LastServerUrl,
    LastRejectedAt,
    LastRejection,
}

#[derive(DeriveIden)]
enum AlertSources {
    Table,
    Id,
}
