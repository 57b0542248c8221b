//! Notifications: each user's rules (e-mail, outbound webhook) and the durable outbox of
//! deliveries, written in the transaction of the alert change that causes them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NotificationRules::Table)
                    .col(
                        ColumnDef::new(NotificationRules::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(NotificationRules::UserId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationRules::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(NotificationRules::Target).text().not_null())
                    .col(
                        ColumnDef::new(NotificationRules::OnStatusChange)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(NotificationRules::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(NotificationRules::Table)
                            .from_col(NotificationRules::UserId)
                            .to_tbl(Users::Table)
                            .to_col(Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notification_rules_user")
                    .table(NotificationRules::Table)
                    .col(NotificationRules::UserId)
                    .to_owned(),
            )
            .await?;
        // Users that exist already get the rule a new user starts with: e-mail to their own
        // address. Their rule takes the user's id, unique as any other.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO notification_rules (id, user_id, kind, target, on_status_change, created_at) \
                 SELECT id, id, 'EMAIL', email, FALSE, created_at FROM users",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(
                        ColumnDef::new(Notifications::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Notifications::AlertId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Notifications::UserId).string_len(36))
                    .col(
                        ColumnDef::new(Notifications::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Notifications::Target).text().not_null())
                    .col(
                        ColumnDef::new(Notifications::Event)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Notifications::Subject).text().not_null())
                    .col(ColumnDef::new(Notifications::Payload).text().not_null())
                    .col(
                        ColumnDef::new(Notifications::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Notifications::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Notifications::NextAttemptAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(Notifications::LastError).text())
                    .col(
                        ColumnDef::new(Notifications::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Notifications::SentAt).timestamp_with_time_zone())
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(Notifications::Table)
                            .from_col(Notifications::AlertId)
                            .to_tbl(Alerts::Table)
                            .to_col(Alerts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(Notifications::Table)
                            .from_col(Notifications::UserId)
                            .to_tbl(Users::Table)
                            .to_col(Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // The delivery worker's query: pending deliveries whose attempt is due, earliest first.
        manager
            .create_index(
                Index::create()
                    .name("ix_notifications_status_next_attempt")
                    .table(Notifications::Table)
                    .col(Notifications::Status)
                    .col(Notifications::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Notifications::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(NotificationRules::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum NotificationRules {
    Table,
    Id,
    UserId,
    Kind,
    Target,
    OnStatusChange,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    AlertId,
    UserId,
    Kind,
    Target,
    Event,
    Subject,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    SentAt,
}
