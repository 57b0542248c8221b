//! `notification_rules.delay_minutes`: how long after an escalation step a rule's notification
//! waits (0: at once); it is not sent when the alert was accepted or resolved meanwhile.

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
                        ColumnDef::new(NotificationRules::DelayMinutes)
                            .integer()
                            .not_null()
                            .default(0),
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
                    .drop_column(NotificationRules::DelayMinutes)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum NotificationRules {
    Table,
    DelayMinutes,
}
