//! `alert_sources.previous_key_hash` / `previous_key_expires_at`: after `rotateIntegrationKey`, the
//! SHA-256 of the replaced integration key and the time until which it still delivers events (a
//! grace period for updating ServiceNow). Only the hash is kept: the old key is never shown again.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_alert_sources_previous_key_hash";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        let hash = Table::alter()
            .table(AlertSources::Table)
            .add_column(
                ColumnDef::new(AlertSources::PreviousKeyHash)
                    .string_len(64)
                    .null(),
            )
            .to_owned();
        manager.alter_table(hash).await?;
        let expires = Table::alter()
            .table(AlertSources::Table)
            .add_column(
                ColumnDef::new(AlertSources::PreviousKeyExpiresAt)
                    .timestamp_with_time_zone()
                    .null(),
            )
            .to_owned();
        manager.alter_table(expires).await?;
        let index = Index::create()
            .name(INDEX)
            .table(AlertSources::Table)
            .col(AlertSources::PreviousKeyHash)
            .to_owned();
        manager.create_index(index).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(AlertSources::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            AlertSources::PreviousKeyExpiresAt,
            AlertSources::PreviousKeyHash,
        ] {
            let alter = Table::alter()
                .table(AlertSources::Table)
                .drop_column(column)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AlertSources {
    Table,
    PreviousKeyHash,
    PreviousKeyExpiresAt,
}
