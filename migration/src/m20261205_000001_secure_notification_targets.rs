//! Notification targets sealed at rest: `notification_rules.target_label` (what may be shown of a
//! target: the host of a webhook, the address of an e-mail rule) and, on the outbox
//! `notifications`, `rule_id` (the rule whose sealed target a delivery copies, which its
//! ciphertext is bound to) and `target_label`. Webhook targets written in clear by an older
//! version are sealed at the next start (`service::notifications::seal_plain_targets`): a
//! migration has no key.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

async fn add_column<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
    column: T,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(table)
                .add_column(ColumnDef::new(column).text().null())
                .to_owned(),
        )
        .await
}

async fn drop_column<T: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    table: T,
    column: T,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(column).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            NotificationRules::Table,
            NotificationRules::TargetLabel,
        )
        .await?;
        add_column(manager, Notifications::Table, Notifications::RuleId).await?;
        add_column(manager, Notifications::Table, Notifications::TargetLabel).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_column(manager, Notifications::Table, Notifications::TargetLabel).await?;
        drop_column(manager, Notifications::Table, Notifications::RuleId).await?;
        drop_column(
            manager,
            NotificationRules::Table,
            NotificationRules::TargetLabel,
        )
        .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum NotificationRules {
    Table,
    TargetLabel,
}

#[derive(DeriveIden, Clone, Copy)]
enum Notifications {
    Table,
    RuleId,
    TargetLabel,
}
