//! The foundation schema: users and their tokens, escalation policies, alert sources, alerts with
//! their comments and append-only log.
//!
//! Identifiers are UUIDv7 strings, so ordering by id is ordering by creation time on every backend.
//! Enumerations (roles, statuses, priorities, log kinds) are stored as their upper-case names.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

fn id_col<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .string_len(36)
        .not_null()
        .primary_key()
        .to_owned()
}

fn ref_col<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).string_len(36).not_null().to_owned()
}

fn time_col<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn fk<F: IntoIden, T: IntoIden, C: IntoIden>(
    from_table: F,
    from_col: C,
    to_table: T,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from_tbl(from_table)
        .from_col(from_col)
        .to_tbl(to_table)
        .to_col(Alias::new("id"))
        .on_delete(on_delete)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id_col(Users::Id))
                    .col(
                        ColumnDef::new(Users::Email)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Users::Name).string().not_null())
                    .col(ColumnDef::new(Users::Role).string_len(16).not_null())
                    .col(ColumnDef::new(Users::PasswordHash).string().not_null())
                    .col(time_col(Users::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuthTokens::Table)
                    .col(id_col(AuthTokens::Id))
                    .col(ref_col(AuthTokens::UserId))
                    .col(ColumnDef::new(AuthTokens::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(AuthTokens::Name).string().not_null())
                    .col(
                        ColumnDef::new(AuthTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(time_col(AuthTokens::CreatedAt))
                    .col(ColumnDef::new(AuthTokens::ExpiresAt).timestamp_with_time_zone())
                    .foreign_key(&mut fk(
                        AuthTokens::Table,
                        AuthTokens::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EscalationPolicies::Table)
                    .col(id_col(EscalationPolicies::Id))
                    .col(ColumnDef::new(EscalationPolicies::Name).string().not_null())
                    // NULLs do not collide in a unique index on SQLite or PostgreSQL.
                    .col(
                        ColumnDef::new(EscalationPolicies::RoutingKey)
                            .string()
                            .unique_key(),
                    )
                    .col(time_col(EscalationPolicies::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EscalationRules::Table)
                    .col(id_col(EscalationRules::Id))
                    .col(ref_col(EscalationRules::PolicyId))
                    .col(
                        ColumnDef::new(EscalationRules::Position)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(EscalationRules::EscalationTimeoutMinutes)
                            .integer()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        EscalationRules::Table,
                        EscalationRules::PolicyId,
                        EscalationPolicies::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EscalationRuleUsers::Table)
                    .col(ref_col(EscalationRuleUsers::RuleId))
                    .col(ref_col(EscalationRuleUsers::UserId))
                    .col(
                        ColumnDef::new(EscalationRuleUsers::Position)
                            .integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(EscalationRuleUsers::RuleId)
                            .col(EscalationRuleUsers::UserId),
                    )
                    .foreign_key(&mut fk(
                        EscalationRuleUsers::Table,
                        EscalationRuleUsers::RuleId,
                        EscalationRules::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        EscalationRuleUsers::Table,
                        EscalationRuleUsers::UserId,
                        Users::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AlertSources::Table)
                    .col(id_col(AlertSources::Id))
                    .col(ColumnDef::new(AlertSources::Name).string().not_null())
                    .col(
                        ColumnDef::new(AlertSources::IntegrationType)
                            .string_len(32)
                            .not_null(),
                    )
                    // The key itself is a credential: a SHA-256 hash finds the source, and the
                    // key is kept only encrypted (for showing the webhook URL again).
                    .col(
                        ColumnDef::new(AlertSources::IntegrationKeyHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(AlertSources::IntegrationKeyEncrypted)
                            .text()
                            .not_null(),
                    )
                    .col(ref_col(AlertSources::EscalationPolicyId))
                    .col(time_col(AlertSources::CreatedAt))
                    .foreign_key(&mut fk(
                        AlertSources::Table,
                        AlertSources::EscalationPolicyId,
                        EscalationPolicies::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Alerts::Table)
                    .col(id_col(Alerts::Id))
                    .col(ref_col(Alerts::AlertSourceId))
                    .col(ColumnDef::new(Alerts::AlertKey).string_len(64).not_null())
                    .col(ColumnDef::new(Alerts::Summary).text().not_null())
                    .col(ColumnDef::new(Alerts::Details).text())
                    .col(ColumnDef::new(Alerts::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Alerts::Priority).string_len(8).not_null())
                    .col(ref_col(Alerts::EscalationPolicyId))
                    .col(ColumnDef::new(Alerts::AssignedToId).string_len(36))
                    .col(time_col(Alerts::CreatedAt))
                    .col(time_col(Alerts::UpdatedAt))
                    .col(ColumnDef::new(Alerts::AcceptedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(Alerts::ResolvedAt).timestamp_with_time_zone())
                    .col(ColumnDef::new(Alerts::TicketNumber).string())
                    .col(ColumnDef::new(Alerts::TicketState).integer().not_null())
                    .col(ColumnDef::new(Alerts::TicketUrl).text())
                    .col(ColumnDef::new(Alerts::TicketModCount).big_integer())
                    .foreign_key(&mut fk(
                        Alerts::Table,
                        Alerts::AlertSourceId,
                        AlertSources::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        Alerts::Table,
                        Alerts::EscalationPolicyId,
                        EscalationPolicies::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        Alerts::Table,
                        Alerts::AssignedToId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        // The guarantee that two concurrent deliveries of one new incident create one alert.
        manager
            .create_index(
                Index::create()
                    .name("ux_alerts_source_key")
                    .table(Alerts::Table)
                    .col(Alerts::AlertSourceId)
                    .col(Alerts::AlertKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_alerts_status_id")
                    .table(Alerts::Table)
                    .col(Alerts::Status)
                    .col(Alerts::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AlertComments::Table)
                    .col(id_col(AlertComments::Id))
                    .col(ref_col(AlertComments::AlertId))
                    .col(ColumnDef::new(AlertComments::AuthorId).string_len(36))
                    .col(ColumnDef::new(AlertComments::Body).text().not_null())
                    .col(time_col(AlertComments::CreatedAt))
                    .foreign_key(&mut fk(
                        AlertComments::Table,
                        AlertComments::AlertId,
                        Alerts::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        AlertComments::Table,
                        AlertComments::AuthorId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_alert_comments_alert")
                    .table(AlertComments::Table)
                    .col(AlertComments::AlertId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AlertLog::Table)
                    .col(id_col(AlertLog::Id))
                    .col(ref_col(AlertLog::AlertId))
                    .col(ColumnDef::new(AlertLog::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(AlertLog::Message).text().not_null())
                    .col(
                        ColumnDef::new(AlertLog::ActorKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AlertLog::ActorUserId).string_len(36))
                    .col(ColumnDef::new(AlertLog::ActorLabel).string().not_null())
                    .col(time_col(AlertLog::CreatedAt))
                    .foreign_key(&mut fk(
                        AlertLog::Table,
                        AlertLog::AlertId,
                        Alerts::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        AlertLog::Table,
                        AlertLog::ActorUserId,
                        Users::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_alert_log_alert")
                    .table(AlertLog::Table)
                    .col(AlertLog::AlertId)
                    .col(AlertLog::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AlertLog::Table.into_iden(),
            AlertComments::Table.into_iden(),
            Alerts::Table.into_iden(),
            AlertSources::Table.into_iden(),
            EscalationRuleUsers::Table.into_iden(),
            EscalationRules::Table.into_iden(),
            EscalationPolicies::Table.into_iden(),
            AuthTokens::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    Role,
    PasswordHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuthTokens {
    Table,
    Id,
    UserId,
    Kind,
    Name,
    TokenHash,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum EscalationPolicies {
    Table,
    Id,
    Name,
    RoutingKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EscalationRules {
    Table,
    Id,
    PolicyId,
    Position,
    EscalationTimeoutMinutes,
}

#[derive(DeriveIden)]
enum EscalationRuleUsers {
    Table,
    RuleId,
    UserId,
    Position,
}

#[derive(DeriveIden)]
enum AlertSources {
    Table,
    Id,
    Name,
    IntegrationType,
    IntegrationKeyHash,
    IntegrationKeyEncrypted,
    EscalationPolicyId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
    AlertSourceId,
    AlertKey,
    Summary,
    Details,
    Status,
    Priority,
    EscalationPolicyId,
    AssignedToId,
    CreatedAt,
    UpdatedAt,
    AcceptedAt,
    ResolvedAt,
    TicketNumber,
    TicketState,
    TicketUrl,
    TicketModCount,
}

#[derive(DeriveIden)]
enum AlertComments {
    Table,
    Id,
    AlertId,
    AuthorId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AlertLog {
    Table,
    Id,
    AlertId,
    Kind,
    Message,
    ActorKind,
    ActorUserId,
    ActorLabel,
    CreatedAt,
}
