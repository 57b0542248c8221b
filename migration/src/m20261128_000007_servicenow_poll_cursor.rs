//! The reconciliation poll's exact resume point and its freshness cut-off per connection.
//!
//! `poll_cursor` is the `sys_id` of the last incident a poll read when it stopped at its page
//! cap: with `poll_watermark` it is the key the next poll continues after, without overlap.
//! `poll_since` is when the connection was configured or moved to another instance (ServiceNow
//! format): only New incidents created since then page anyone.
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
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
