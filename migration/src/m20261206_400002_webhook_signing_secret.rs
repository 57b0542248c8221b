//! `notification_rules.signing_secret`: the secret a WEBHOOK rule's deliveries are signed with
//! (HMAC-SHA256, `Glidepath-Signature`), sealed with the server key. Rules created before it have
//! none, and their deliveries go unsigned.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(NotificationRules::Table)
                    .add_column(
                        ColumnDef::new(NotificationRules::SigningSecret)
                            .text()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(NotificationRules::Table)
                    .drop_column(NotificationRules::SigningSecret)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum NotificationRules {
    Table,
    SigningSecret,
}
