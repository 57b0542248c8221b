//! `action_link_uses`: the accept and resolve links of notification e-mails that were used. A link
//! is signed, not stored (see the server's `service::action_links`); this table only makes each one
//! work once. Its key is the link's nonce, written in the transaction of the action it performs.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let create = Table::create()
            .table(ActionLinkUses::Table)
            .if_not_exists()
            .col(
                ColumnDef::new(ActionLinkUses::Nonce)
                    .string_len(64)
                    .not_null()
                    .primary_key(),
            )
            .col(
                ColumnDef::new(ActionLinkUses::AlertId)
                    .string_len(36)
                    .not_null(),
            )
            .col(
                ColumnDef::new(ActionLinkUses::UserId)
                    .string_len(36)
                    .not_null(),
            )
            .col(
                ColumnDef::new(ActionLinkUses::Action)
                    .string_len(16)
                    .not_null(),
            )
            .col(
                ColumnDef::new(ActionLinkUses::UsedAt)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .to_owned();
        manager.create_table(create).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_action_link_uses_alert")
                    .table(ActionLinkUses::Table)
                    .col(ActionLinkUses::AlertId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ActionLinkUses::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ActionLinkUses {
    Table,
    Nonce,
    AlertId,
    UserId,
    Action,
    UsedAt,
}
