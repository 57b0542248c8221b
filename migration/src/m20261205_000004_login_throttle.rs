//! `login_throttle`: failed sign-ins per account (the e-mail as typed, normalised), counted in a
//! window, and the time until which the account refuses every sign-in. Kept in the database so
//! every process sharing it sees the same count.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let create = Table::create()
            .table(LoginThrottle::Table)
            .if_not_exists()
            .col(
                ColumnDef::new(LoginThrottle::Account)
                    .string_len(320)
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(LoginThrottle::Failures).integer().not_null())
            // Unix seconds: compared in SQL alike on SQLite and PostgreSQL.
            .col(
                ColumnDef::new(LoginThrottle::WindowStart)
                    .big_integer()
                    .not_null(),
            )
            .col(
                ColumnDef::new(LoginThrottle::LockedUntil)
                    .big_integer()
                    .not_null(),
            )
            .to_owned();
        manager.create_table(create).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginThrottle::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum LoginThrottle {
    Table,
    Account,
    Failures,
    WindowStart,
    LockedUntil,
}
