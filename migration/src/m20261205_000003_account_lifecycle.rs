//! Account lifecycle: `users.disabled` and `users.must_change_password`, `auth_tokens.last_used_at`,
//! and `alert_comments.author_label` (the author's e-mail when written, so a comment stays
//! attributed after its author is deleted and `author_id` is set to NULL).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for col in [
            ColumnDef::new(Users::Disabled)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            ColumnDef::new(Users::MustChangePassword)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(AuthTokens::Table)
                    .add_column(
                        ColumnDef::new(AuthTokens::LastUsedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AlertComments::Table)
                    .add_column(ColumnDef::new(AlertComments::AuthorLabel).string().null())
                    .to_owned(),
            )
            .await?;
        // Existing comments keep their author's e-mail.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE alert_comments SET author_label = \
                 (SELECT email FROM users WHERE users.id = alert_comments.author_id) \
                 WHERE author_id IS NOT NULL",
            )
            .await?;
        // The engine's clean-up deletes expired tokens by expiry.
        manager
            .create_index(
                Index::create()
                    .name("ix_auth_tokens_expires_at")
                    .table(AuthTokens::Table)
                    .col(AuthTokens::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_auth_tokens_expires_at")
                    .table(AuthTokens::Table)
                    .to_owned(),
            )
            .await?;
        for (table, col) in [
            (
                AlertComments::Table.into_iden(),
                AlertComments::AuthorLabel.into_iden(),
            ),
            (
                AuthTokens::Table.into_iden(),
                AuthTokens::LastUsedAt.into_iden(),
            ),
            (
                Users::Table.into_iden(),
                Users::MustChangePassword.into_iden(),
            ),
            (Users::Table.into_iden(), Users::Disabled.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Disabled,
    MustChangePassword,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuthTokens {
    Table,
    LastUsedAt,
    ExpiresAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AlertComments {
    Table,
    AuthorLabel,
}
