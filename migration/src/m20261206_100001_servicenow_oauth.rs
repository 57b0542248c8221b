//! OAuth 2.0 for the ServiceNow connection.
//!
//! `servicenow_connections` gains the authentication method (`BASIC`, `OAUTH_PASSWORD` or
//! `OAUTH_CLIENT_CREDENTIALS`; existing connections keep basic auth), the OAuth client's id and
//! its secret (encrypted, bound to the source), `auth_version` (a new value whenever the
//! credentials change, so tokens obtained with older credentials are never used again), and
//! `auth_attention` / `auth_attention_at`: why and since when the connection needs an admin
//! (the instance refused every grant Glidepath could try).
//!
//! `servicenow_oauth_tokens` keeps the connection's current tokens, encrypted, shared by every
//! process: one row per connection, locked while one process renews it.
//!
//! One `ALTER TABLE … ADD COLUMN` per column: SQLite takes no more in one statement.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in [
            ColumnDef::new(ServicenowConnections::AuthMethod)
                .string_len(32)
                .not_null()
                .default("BASIC")
                .to_owned(),
            ColumnDef::new(ServicenowConnections::OauthClientId)
                .text()
                .to_owned(),
            ColumnDef::new(ServicenowConnections::OauthClientSecretEncrypted)
                .text()
                .to_owned(),
            ColumnDef::new(ServicenowConnections::AuthVersion)
                .string_len(36)
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new(ServicenowConnections::AuthAttention)
                .text()
                .to_owned(),
            ColumnDef::new(ServicenowConnections::AuthAttentionAt)
                .timestamp_with_time_zone()
                .to_owned(),
        ] {
            let alter = Table::alter()
                .table(ServicenowConnections::Table)
                .add_column(&mut column)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        let create = Table::create()
            .table(ServicenowOauthTokens::Table)
            .if_not_exists()
            .col(
                ColumnDef::new(ServicenowOauthTokens::AlertSourceId)
                    .string_len(36)
                    .not_null()
                    .primary_key(),
            )
            // The connection's `auth_version` the tokens were obtained under.
            .col(
                ColumnDef::new(ServicenowOauthTokens::AuthVersion)
                    .string_len(36)
                    .not_null(),
            )
            .col(
                ColumnDef::new(ServicenowOauthTokens::AccessTokenEncrypted)
                    .text()
                    .not_null(),
            )
            .col(
                ColumnDef::new(ServicenowOauthTokens::AccessExpiresAt)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            // When to renew: shortly before the access token expires.
            .col(
                ColumnDef::new(ServicenowOauthTokens::RenewAt)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .col(ColumnDef::new(ServicenowOauthTokens::RefreshTokenEncrypted).text())
            .col(
                ColumnDef::new(ServicenowOauthTokens::UpdatedAt)
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .foreign_key(
                ForeignKey::create()
                    .name("fk_servicenow_oauth_tokens_connection")
                    .from(
                        ServicenowOauthTokens::Table,
                        ServicenowOauthTokens::AlertSourceId,
                    )
                    .to(
                        ServicenowConnections::Table,
                        ServicenowConnections::AlertSourceId,
                    )
                    .on_delete(ForeignKeyAction::Cascade),
            )
            .to_owned();
        manager.create_table(create).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServicenowOauthTokens::Table).to_owned())
            .await?;
        for column in [
            ServicenowConnections::AuthMethod,
            ServicenowConnections::OauthClientId,
            ServicenowConnections::OauthClientSecretEncrypted,
            ServicenowConnections::AuthVersion,
            ServicenowConnections::AuthAttention,
            ServicenowConnections::AuthAttentionAt,
        ] {
            let alter = Table::alter()
                .table(ServicenowConnections::Table)
                .drop_column(column)
                .to_owned();
            manager.alter_table(alter).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum ServicenowConnections {
    Table,
    AlertSourceId,
    AuthMethod,
    OauthClientId,
    OauthClientSecretEncrypted,
    AuthVersion,
    AuthAttention,
    AuthAttentionAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ServicenowOauthTokens {
    Table,
    AlertSourceId,
    AuthVersion,
    AccessTokenEncrypted,
    AccessExpiresAt,
    RenewAt,
    RefreshTokenEncrypted,
    UpdatedAt,
}
