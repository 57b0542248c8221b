//! Escalation: how often a policy repeats its levels, policies kept as tombstones for the
//! resolved alerts that name them, where each alert stands in its policy and
//! when its next step is due, and who has been called to respond.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite accepts a single change per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(EscalationPolicies::Table)
                    .add_column(
                        ColumnDef::new(EscalationPolicies::RepeatCount)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(EscalationPolicies::Table)
                    .add_column(
                        ColumnDef::new(EscalationPolicies::DeletedAt).timestamp_with_time_zone(),
                    )
                    .to_owned(),
            )
            .await?;
        for col in [Alerts::EscalationLevel, Alerts::EscalationRound] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alerts::Table)
                        .add_column(ColumnDef::new(col).integer().not_null().default(0))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Alerts::Table)
                    .add_column(ColumnDef::new(Alerts::NextEscalationAt).timestamp_with_time_zone())
                    .to_owned(),
            )
            .await?;
        // The engine's only query: due PENDING alerts, earliest first. With the status first, it
        // reads the due range of this index and nothing else, however many alerts are open.
        manager
            .create_index(
                Index::create()
                    .name("ix_alerts_status_next_escalation")
                    .table(Alerts::Table)
                    .col(Alerts::Status)
                    .col(Alerts::NextEscalationAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AlertResponders::Table)
                    // UUIDv7: ordering by id is the order responders were added in.
                    .col(
                        ColumnDef::new(AlertResponders::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AlertResponders::AlertId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AlertResponders::UserId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AlertResponders::EscalationLevel)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AlertResponders::AddedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(AlertResponders::Table)
                            .from_col(AlertResponders::AlertId)
                            .to_tbl(Alerts::Table)
                            .to_col(Alerts::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from_tbl(AlertResponders::Table)
                            .from_col(AlertResponders::UserId)
                            .to_tbl(Users::Table)
                            .to_col(Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A user responds to an alert once, however many levels or rounds name them.
        manager
            .create_index(
                Index::create()
                    .name("ux_alert_responders_alert_user")
                    .table(AlertResponders::Table)
                    .col(AlertResponders::AlertId)
                    .col(AlertResponders::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AlertResponders::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_alerts_status_next_escalation")
                    .table(Alerts::Table)
                    .to_owned(),
            )
            .await?;
        for col in [
            Alerts::NextEscalationAt,
            Alerts::EscalationRound,
            Alerts::EscalationLevel,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alerts::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        for col in [
            EscalationPolicies::DeletedAt,
            EscalationPolicies::RepeatCount,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(EscalationPolicies::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum EscalationPolicies {
    Table,
    RepeatCount,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
    Status,
    EscalationLevel,
    EscalationRound,
    NextEscalationAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AlertResponders {
    Table,
    Id,
    AlertId,
    UserId,
    EscalationLevel,
    AddedAt,
}
