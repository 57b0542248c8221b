//! Throttling of notifications: at most one per contact (notification rule) per alert per minute.
//! `notification_throttles` holds, per (alert, rule), until when the minute after the last send
//! lasts and the digest that collects what comes meanwhile; `notifications.digest_id` links a
//! folded delivery to its digest.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NotificationThrottles::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(NotificationThrottles::AlertId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationThrottles::RuleId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationThrottles::WindowUntil)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(NotificationThrottles::DigestId).string_len(36))
                    .primary_key(
                        Index::create()
                            .col(NotificationThrottles::AlertId)
                            .col(NotificationThrottles::RuleId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Notifications::Table)
                    .add_column(ColumnDef::new(Notifications::DigestId).string_len(36))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_digest")
                    .table(Notifications::Table)
                    .col(Notifications::DigestId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_notifications_digest")
                    .table(Notifications::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Notifications::Table)
                    .drop_column(Notifications::DigestId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(NotificationThrottles::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum NotificationThrottles {
    Table,
    AlertId,
    RuleId,
    WindowUntil,
    DigestId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Notifications {
    Table,
    DigestId,
}
