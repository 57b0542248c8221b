//! The OAuth tokens of ServiceNow connections, shared by every process on the database.
//!
//! A connection's current tokens are one `servicenow_oauth_tokens` row, encrypted (bound to the
//! source). A process keeps the access token in memory once it has read or obtained it
//! (`Connector::tokens`) and looks at the database again only when the token is due for renewal
//! (a tenth of its life before it expires, at most a minute) or when the instance answered 401
//! to it. Renewal is one task per process at a time (the cache's gate) and, on PostgreSQL, one
//! process at a time: the connection's row is locked `FOR UPDATE` while the token request runs,
//! so a process that waited finds the token the first one stored and makes no request of its
//! own. (SQLite serves one process; its gate is enough.)
//!
//! How a token is renewed: the refresh token when there is one; when the instance refuses it
//! (`invalid_grant`: revoked or expired), the password grant for `OAUTH_PASSWORD`; the client
//! credentials grant for `OAUTH_CLIENT_CREDENTIALS`. When the instance refuses every grant
//! Glidepath can try, the connection is marked as needing attention (`auth_attention`): nothing
//! is sent to the instance until an admin changes the credentials (`configureServiceNow`) or a
//! `testServiceNowConnection` succeeds, and outbound updates wait in the outbox meanwhile. A
//! failure that may pass (the network, a 5xx) marks nothing: the caller retries as for any
//! request.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, Set, sea_query::Expr,
};
use secrecy::SecretString;

use crate::db::{Db, for_update};
use crate::entity::servicenow_connection::{self as connection, AuthMethod};
use crate::entity::servicenow_oauth_token as token;
use crate::error::AppError;
use crate::service::Ctx;
use crate::servicenow::client::{Client, SnError};
use crate::servicenow::oauth::{Cached, Grant, TokenError, TokenSource, Tokens, renew_at, same};

/// Token requests by grant and outcome (`granted`, `refused`, `failed`).
pub const TOKEN_REQUESTS: &str = "glidepath_servicenow_token_requests_total";
/// Connections that need an admin (computed when `/metrics` is read).
pub const NEEDING_ATTENTION: &str = "glidepath_servicenow_connections_needing_attention";

/// The associated data binding an encrypted OAuth client secret to its alert source.
pub fn client_secret_context(source_id: &str) -> String {
    format!("servicenow_connection.oauth_client_secret:{source_id}")
}

pub fn access_token_context(source_id: &str) -> String {
    format!("servicenow_oauth_tokens.access_token:{source_id}")
}

pub fn refresh_token_context(source_id: &str) -> String {
    format!("servicenow_oauth_tokens.refresh_token:{source_id}")
}

/// The tokens of one connection, as a client's [`TokenSource`].
pub struct ConnectionTokens {
    ctx: Ctx,
    source_id: String,
    auth_version: String,
    method: AuthMethod,
    client_id: String,
    client_secret: SecretString,
    username: String,
    password: Option<SecretString>,
    /// Try a grant even while the connection needs attention (`testServiceNowConnection`).
    retry_attention: bool,
}

impl ConnectionTokens {
    pub fn new(
        ctx: &Ctx,
        conn: &connection::Model,
        retry_attention: bool,
    ) -> Result<ConnectionTokens, AppError> {
        let source_id = conn.alert_source_id.clone();
        let (Some(client_id), Some(secret)) = (
            conn.oauth_client_id.clone(),
            conn.oauth_client_secret_encrypted.as_deref(),
        ) else {
            return Err(AppError::Upstream(
                "the ServiceNow connection has no OAuth client id and secret".into(),
            ));
        };
        let client_secret = ctx
            .cipher
            .decrypt(secret, &client_secret_context(&source_id))?;
        let password = if conn.password_encrypted.is_empty() {
            None
        } else {
            Some(ctx.cipher.decrypt(
                &conn.password_encrypted,
                &super::servicenow::password_context(&source_id),
            )?)
        };
        Ok(ConnectionTokens {
            ctx: ctx.clone(),
            source_id,
            auth_version: conn.auth_version.clone(),
            method: conn.auth_method,
            client_id,
            client_secret,
            username: conn.username.clone(),
            password,
            retry_attention,
        })
    }

    /// A token for a request: the cached one, or a renewed one.
    async fn current(&self, client: &Client) -> Result<SecretString, SnError> {
        let cache = &self.ctx.servicenow.tokens;
        if let Some(c) = cache.get(&self.source_id, &self.auth_version, self.ctx.now()) {
            return Ok(c.token);
        }
        self.renew(client, None).await
    }

    /// Renews the access token (one task of this process at a time), unless another task or
    /// process did while this one waited.
    async fn renew(
        &self,
        client: &Client,
        rejected: Option<&SecretString>,
    ) -> Result<SecretString, SnError> {
        let cache = &self.ctx.servicenow.tokens;
        let gate = cache.gate(&self.source_id);
        let _turn = gate.lock().await;
        if let Some(c) = cache.get(&self.source_id, &self.auth_version, self.ctx.now())
            && rejected.is_none_or(|r| !same(r, &c.token))
        {
            return Ok(c.token);
        }
        let db = &self.ctx.db;
        let renewed = if db.backend() == DbBackend::Postgres {
            let txn = db.begin_write().await.map_err(internal)?;
            let outcome = self.renew_in(client, rejected, &txn, &txn, true).await;
            // Also after a refusal: the attention mark is part of the outcome.
            txn.commit().await.map_err(internal)?;
            outcome?
        } else {
            self.renew_in(client, rejected, &db.read, &db.write, false)
                .await?
        };
        if renewed.cleared_attention {
            tracing::info!(source = %self.source_id, "ServiceNow accepts the connection's credentials again");
            self.ctx.wake_sync();
        }
        cache.put(&self.source_id, renewed.cached.clone());
        Ok(renewed.cached.token)
    }

    /// The renewal itself: reads the connection (locked when `lock`) and its stored tokens
    /// through `read`, asks the instance when the stored token will not do, and writes the
    /// outcome through `write`.
    async fn renew_in<R: ConnectionTrait, W: ConnectionTrait>(
        &self,
        client: &Client,
        rejected: Option<&SecretString>,
        read: &R,
        write: &W,
        lock: bool,
    ) -> Result<Renewed, SnError> {
        let now = self.ctx.now();
        let query = connection::Entity::find_by_id(self.source_id.clone());
        let query = if lock {
            for_update(query, DbBackend::Postgres)
        } else {
            query
        };
        let Some(conn) = query.one(read).await.map_err(internal)? else {
            return Err(SnError::Reconfigured);
        };
        if conn.auth_version != self.auth_version {
            return Err(SnError::Reconfigured);
        }
        if let Some(why) = &conn.auth_attention
            && !self.retry_attention
        {
            return Err(SnError::NeedsAttention(why.clone()));
        }
        let row = token::Entity::find_by_id(self.source_id.clone())
            .one(read)
            .await
            .map_err(internal)?;
        let row_exists = row.is_some();
        let stored = row.filter(|t| t.auth_version == self.auth_version);
        let cipher = &self.ctx.cipher;
        if let Some(t) = &stored
            && now < t.renew_at
            && conn.auth_attention.is_none()
            && let Ok(access) = cipher.decrypt(
                &t.access_token_encrypted,
                &access_token_context(&self.source_id),
            )
            && rejected.is_none_or(|r| !same(r, &access))
        {
            return Ok(Renewed {
                cached: Cached {
                    auth_version: self.auth_version.clone(),
                    token: access,
                    renew_at: t.renew_at,
                },
                cleared_attention: false,
            });
        }
        let refresh = stored
            .as_ref()
            .and_then(|t| t.refresh_token_encrypted.as_deref())
            .and_then(|r| {
                cipher
                    .decrypt(r, &refresh_token_context(&self.source_id))
                    .ok()
            });
        match self.obtain(client, refresh).await {
            Ok(tokens) => {
                let renew = renew_at(now, tokens.expires_in);
                self.store(write, &tokens, now, renew, row_exists)
                    .await
                    .map_err(internal)?;
                let cleared_attention = conn.auth_attention.is_some();
                if cleared_attention {
                    self.set_attention(write, None, now)
                        .await
                        .map_err(internal)?;
                }
                Ok(Renewed {
                    cached: Cached {
                        auth_version: self.auth_version.clone(),
                        token: tokens.access_token,
                        renew_at: renew,
                    },
                    cleared_attention,
                })
            }
            Err(refused @ TokenError::Refused { .. }) => {
                let why = refused.to_string();
                tracing::warn!(source = %self.source_id, reason = %why, "ServiceNow refused the connection's OAuth credentials: the connection needs attention");
                self.set_attention(write, Some(&why), now)
                    .await
                    .map_err(internal)?;
                token::Entity::delete_by_id(self.source_id.clone())
                    .exec(write)
                    .await
                    .map_err(internal)?;
                self.ctx.servicenow.tokens.forget(&self.source_id);
                Err(SnError::NeedsAttention(why))
            }
            Err(TokenError::Transient(e)) => Err(e),
        }
    }

    /// The grants to try, in order, for this connection's method.
    async fn obtain(
        &self,
        client: &Client,
        refresh: Option<SecretString>,
    ) -> Result<Tokens, TokenError> {
        match self.method {
            AuthMethod::OauthClientCredentials => {
                self.request(client, &Grant::ClientCredentials).await
            }
            AuthMethod::OauthPassword => {
                if let Some(refresh) = refresh {
                    match self.request(client, &Grant::RefreshToken(&refresh)).await {
                        Ok(mut tokens) => {
                            // An instance that does not rotate keeps the refresh token.
                            if tokens.refresh_token.is_none() {
                                tokens.refresh_token = Some(refresh);
                            }
                            return Ok(tokens);
                        }
                        Err(TokenError::Refused { error, .. }) if error != "invalid_client" => {
                            tracing::info!(source = %self.source_id, %error, "ServiceNow refused the refresh token; using the password grant");
                        }
                        Err(other) => return Err(other),
                    }
                }
                let Some(password) = &self.password else {
                    return Err(TokenError::Refused {
                        grant: "password",
                        status: 0,
                        error: "no_password".into(),
                        description: Some("the connection has no password".into()),
                    });
                };
                let grant = Grant::Password {
                    username: &self.username,
                    password,
                };
                self.request(client, &grant).await
            }
            AuthMethod::Basic => Err(SnError::Reconfigured.into()),
        }
    }

    /// One token request, counted by grant and outcome.
    async fn request(&self, client: &Client, grant: &Grant<'_>) -> Result<Tokens, TokenError> {
        let result = client
            .request_token(grant, &self.client_id, &self.client_secret)
            .await;
        let outcome = match &result {
            Ok(_) => "granted",
            Err(TokenError::Refused { .. }) => "refused",
            Err(TokenError::Transient(_)) => "failed",
        };
        metrics::counter!(TOKEN_REQUESTS, "grant" => grant.name(), "outcome" => outcome)
            .increment(1);
        result
    }

    async fn store<W: ConnectionTrait>(
        &self,
        write: &W,
        tokens: &Tokens,
        now: DateTime<Utc>,
        renew: DateTime<Utc>,
        exists: bool,
    ) -> Result<(), AppError> {
        use secrecy::ExposeSecret;
        let cipher = &self.ctx.cipher;
        let access = cipher.encrypt(
            tokens.access_token.expose_secret(),
            &access_token_context(&self.source_id),
        )?;
        let refresh = match &tokens.refresh_token {
            Some(r) => {
                Some(cipher.encrypt(r.expose_secret(), &refresh_token_context(&self.source_id))?)
            }
            None => None,
        };
        let row = token::ActiveModel {
            alert_source_id: Set(self.source_id.clone()),
            auth_version: Set(self.auth_version.clone()),
            access_token_encrypted: Set(access),
            access_expires_at: Set(now + tokens.expires_in),
            renew_at: Set(renew),
            refresh_token_encrypted: Set(refresh),
            updated_at: Set(now),
        };
        if exists {
            row.update(write).await?;
        } else {
            row.insert(write).await?;
        }
        Ok(())
    }

    /// Sets (or clears) why the connection needs attention, if its credentials are still the
    /// ones this source was built with.
    async fn set_attention<W: ConnectionTrait>(
        &self,
        write: &W,
        why: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        connection::Entity::update_many()
            .col_expr(
                connection::Column::AuthAttention,
                Expr::value(why.map(str::to_string)),
            )
            .col_expr(
                connection::Column::AuthAttentionAt,
                Expr::value(why.map(|_| now)),
            )
            .filter(connection::Column::AlertSourceId.eq(self.source_id.as_str()))
            .filter(connection::Column::AuthVersion.eq(self.auth_version.as_str()))
            .exec(write)
            .await?;
        Ok(())
    }
}

struct Renewed {
    cached: Cached,
    cleared_attention: bool,
}

fn internal(e: impl std::fmt::Display) -> SnError {
    SnError::Internal(format!("the OAuth tokens could not be read or stored: {e}"))
}

impl TokenSource for ConnectionTokens {
    fn token<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, Result<SecretString, SnError>> {
        Box::pin(self.current(client))
    }

    fn rejected<'a>(
        &'a self,
        client: &'a Client,
        rejected: &'a SecretString,
    ) -> BoxFuture<'a, Result<SecretString, SnError>> {
        Box::pin(self.renew(client, Some(rejected)))
    }

    fn refused_again<'a>(&'a self, why: String) -> BoxFuture<'a, SnError> {
        Box::pin(async move {
            tracing::warn!(source = %self.source_id, reason = %why, "the ServiceNow connection needs attention");
            let db = &self.ctx.db;
            let now = self.ctx.now();
            if let Err(e) = self.set_attention(&db.write, Some(&why), now).await {
                return internal(e);
            }
            // Only this configuration's tokens: a client of the credentials an admin has just
            // replaced must not delete what the new ones obtained.
            if let Err(e) = token::Entity::delete_many()
                .filter(token::Column::AlertSourceId.eq(self.source_id.as_str()))
                .filter(token::Column::AuthVersion.eq(self.auth_version.as_str()))
                .exec(&db.write)
                .await
            {
                return internal(e);
            }
            self.ctx.servicenow.tokens.forget(&self.source_id);
            SnError::NeedsAttention(why)
        })
    }
}

/// A token source for `conn`, as the client's [`crate::servicenow::client::Auth`].
pub fn source(
    ctx: &Ctx,
    conn: &connection::Model,
    retry_attention: bool,
) -> Result<Arc<dyn TokenSource>, AppError> {
    Ok(Arc::new(ConnectionTokens::new(ctx, conn, retry_attention)?))
}

/// How many connections need an admin, for `/metrics`.
pub async fn needing_attention(db: &Db) -> Result<u64, AppError> {
    Ok(connection::Entity::find()
        .filter(connection::Column::AuthAttention.is_not_null())
        .count(&db.read)
        .await?)
}
