//! `journal_fetches`: alerts whose ServiceNow journal is to be read now, because a webhook event
//! said their incident changed. One row per alert, so requests for one incident coalesce; any
//! process's journal worker claims rows (a lease in `claimed_until`) and deletes each once read,
//! unless a newer request came in the meantime (`requested_at` after `claimed_at`). Times are Unix
//! milliseconds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_journal_fetches_requested_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let create = Table::create()
            .table(JournalFetches::Table)
            .if_not_exists()
            .col(
                ColumnDef::new(JournalFetches::AlertId)
                    .string_len(36)
                    .not_null()
                    .primary_key(),
            )
            .col(
                ColumnDef::new(JournalFetches::AlertSourceId)
                    .string_len(36)
                    .not_null(),
            )
            .col(
                ColumnDef::new(JournalFetches::RequestedAt)
                    .big_integer()
                    .not_null(),
            )
            .col(
                ColumnDef::new(JournalFetches::ClaimedAt)
                    .big_integer()
                    .null(),
            )
            .col(
                ColumnDef::new(JournalFetches::ClaimedUntil)
                    .big_integer()
                    .null(),
            )
            .foreign_key(
                ForeignKey::create()
                    .from(JournalFetches::Table, JournalFetches::AlertId)
                    .to(Alerts::Table, Alerts::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        manager.create_table(create).await?;
        let index = Index::create()
            .name(INDEX)
            .table(JournalFetches::Table)
            .col(JournalFetches::RequestedAt)
            .to_owned();
        manager.create_index(index).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(JournalFetches::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum JournalFetches {
    Table,
    AlertId,
    AlertSourceId,
    RequestedAt,
    ClaimedAt,
    ClaimedUntil,
}

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
}
