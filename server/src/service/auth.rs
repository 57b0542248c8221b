//! Passwords (argon2id), sessions and API tokens. Only SHA-256 hashes of tokens are stored: a token
//! is 256 random bits, so a fast hash is enough, and a database dump reveals no usable token.

use chrono::Duration;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Set, Statement, sea_query::Expr,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::passwords::{dummy_hash, hash_password, verify_password};
use super::{Caller, new_id, random_token};
use crate::db::Db;
use crate::domain::UserId;
use crate::domain::{Email, Role};
use crate::entity::{auth_token, user};
use crate::error::AppError;
use crate::service::Ctx;

pub const MIN_PASSWORD_LEN: usize = 8;
/// Longer input only costs hashing time.
pub const MAX_PASSWORD_LEN: usize = 1024;

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

const INVALID_LOGIN: &str = "invalid email or password";

/// Failed sign-ins to one account within this window that lock it.
pub const LOCKOUT_FAILURES: i32 = 10;
pub const LOCKOUT_WINDOW_SECONDS: i64 = 15 * 60;

/// How sign-ins are throttled: per client address (in memory, `governor`) and per account (in
/// the database, shared by every process).
pub struct LoginThrottle {
    per_address: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
    lockout_seconds: i64,
}

impl LoginThrottle {
    pub fn new(attempts_per_minute: u32, lockout_seconds: u64) -> LoginThrottle {
        let per_minute = std::num::NonZeroU32::new(attempts_per_minute).unwrap_or(NonZeroU32::MIN);
        LoginThrottle {
            per_address: governor::RateLimiter::keyed(governor::Quota::per_minute(per_minute)),
            lockout_seconds: i64::try_from(lockout_seconds).unwrap_or(i64::MAX / 2),
        }
    }

    /// Counts one attempt from `addr`; TOO_MANY_REQUESTS beyond the quota.
    fn check_address(&self, addr: std::net::IpAddr) -> Result<(), AppError> {
        if self.per_address.len() > 100_000 {
            self.per_address.retain_recent();
        }
        self.per_address.check_key(&addr).map_err(|_| {
            metrics::counter!("glidepath_login_throttled_total").increment(1);
            AppError::TooManyRequests(
                "too many sign-in attempts from this address; try again later",
            )
        })
    }
}

use std::num::NonZeroU32;

fn placeholders(backend: DbBackend, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| match backend {
            DbBackend::Postgres => format!("${i}"),
            _ => "?".to_string(),
        })
        .collect()
}

/// Whether `account` is locked at `now` (unix seconds).
async fn locked(db: &Db, account: &str, now: i64) -> Result<bool, AppError> {
    let backend = db.backend();
    let p = placeholders(backend, 1);
    let row = db
        .read
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "SELECT locked_until FROM login_throttle WHERE account = {}",
                p[0]
            ),
            [account.into()],
        ))
        .await?;
    let until: i64 = match row {
        Some(r) => r.try_get("", "locked_until")?,
        None => 0,
    };
    Ok(until > now)
}

/// Counts a failed sign-in to `account`; the tenth within the window locks it for the back-off.
async fn record_failure(
    db: &Db,
    account: &str,
    now: i64,
    lockout_seconds: i64,
) -> Result<(), AppError> {
    let backend = db.backend();
    let p = placeholders(backend, 3);
    let row = db
        .write
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO login_throttle (account, failures, window_start, locked_until) \
                 VALUES ({a}, 1, {now}, 0) \
                 ON CONFLICT (account) DO UPDATE SET \
                   failures = CASE WHEN login_throttle.window_start <= {old} THEN 1 \
                                   ELSE login_throttle.failures + 1 END, \
                   window_start = CASE WHEN login_throttle.window_start <= {old} THEN {now} \
                                       ELSE login_throttle.window_start END \
                 RETURNING failures",
                a = p[0],
                now = p[1],
                old = p[2],
            ),
            [
                account.into(),
                now.into(),
                (now - LOCKOUT_WINDOW_SECONDS).into(),
            ],
        ))
        .await?;
    let failures: i32 = match row {
        Some(r) => r.try_get("", "failures")?,
        None => 1,
    };
    if failures >= LOCKOUT_FAILURES {
        let p = placeholders(backend, 3);
        db.write
            .execute_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "UPDATE login_throttle SET failures = 0, window_start = {now}, \
                     locked_until = {until} WHERE account = {a}",
                    now = p[0],
                    until = p[1],
                    a = p[2],
                ),
                [
                    now.into(),
                    now.saturating_add(lockout_seconds).into(),
                    account.into(),
                ],
            ))
            .await?;
        tracing::warn!("an account was locked after {LOCKOUT_FAILURES} failed sign-ins");
    }
    Ok(())
}

async fn clear_failures(db: &Db, account: &str) -> Result<(), AppError> {
    let backend = db.backend();
    let p = placeholders(backend, 1);
    db.write
        .execute_raw(Statement::from_sql_and_values(
            backend,
            format!("DELETE FROM login_throttle WHERE account = {}", p[0]),
            [account.into()],
        ))
        .await?;
    Ok(())
}

/// Checks the credentials and opens a session; returns the session token and the user.
///
/// Attempts from one client address are limited first. An account with too many recent failures
/// answers "invalid email or password" whatever the password, after the same work as any other
/// attempt, so the caller cannot tell it is locked.
pub async fn login(
    ctx: &Ctx,
    throttle: &LoginThrottle,
    client: std::net::IpAddr,
    email: &str,
    password: SecretString,
    session_ttl: std::time::Duration,
) -> Result<(String, user::Model), AppError> {
    let db = &ctx.db;
    throttle.check_address(client)?;
    let parsed = Email::parse(email).ok();
    // The account key: the normalised e-mail, known or not, so locking says nothing either.
    let account: String = match &parsed {
        Some(e) => e.as_str().to_string(),
        None => email.trim().to_lowercase().chars().take(320).collect(),
    };
    let started = ctx.now().timestamp();
    let is_locked = locked(db, &account, started).await?;
    let found = match &parsed {
        Some(email) => {
            user::Entity::find()
                .filter(user::Column::Email.eq(email.as_str()))
                .one(&db.read)
                .await?
        }
        None => None,
    };
    let hash = match &found {
        Some(u) => u.password_hash.clone(),
        None => dummy_hash(&ctx.passwords).await?,
    };
    let ok = verify_password(&ctx.passwords, password, hash).await?;
    let Some(user) = found.filter(|_| ok && !is_locked) else {
        if !is_locked {
            record_failure(
                db,
                &account,
                ctx.now().timestamp(),
                throttle.lockout_seconds,
            )
            .await?;
        }
        return Err(AppError::Unauthorized(INVALID_LOGIN));
    };
    if user.disabled {
        return Err(AppError::Unauthorized("this account is disabled"));
    }
    clear_failures(db, &account).await?;
    let (token, _) = issue_token(
        ctx,
        &user.id,
        TokenKind::Session,
        "session",
        Some(ctx.now() + Duration::from_std(session_ttl).unwrap_or(Duration::days(7))),
    )
    .await?;
    Ok((token, user))
}

#[derive(Clone, Copy)]
pub enum TokenKind {
    Session,
    Api,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Session => "SESSION",
            TokenKind::Api => "API",
        }
    }
}

pub async fn issue_token(
    ctx: &Ctx,
    user_id: &str,
    kind: TokenKind,
    name: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(String, auth_token::Model), AppError> {
    let db = &ctx.db;
    let token = format!("gp_{}", random_token());
    let model = auth_token::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user_id.to_string()),
        kind: Set(kind.as_str().to_string()),
        name: Set(name.to_string()),
        token_hash: Set(hash_token(&token)),
        created_at: Set(ctx.now()),
        expires_at: Set(expires_at),
        last_used_at: Set(None),
    }
    .insert(&db.write)
    .await?;
    Ok((token, model))
}

/// Longest expiry an API token may be given at creation.
pub const MAX_TOKEN_DAYS: i32 = 3650;

pub async fn create_api_token(
    ctx: &Ctx,
    caller: &Caller,
    name: &str,
    expires_in_days: Option<i32>,
) -> Result<(String, auth_token::Model), AppError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::validation("name", "must be 1 to 200 characters"));
    }
    let expires_at = match expires_in_days {
        None => None,
        Some(d) if (1..=MAX_TOKEN_DAYS).contains(&d) => {
            Some(ctx.now() + Duration::days(i64::from(d)))
        }
        Some(_) => {
            return Err(AppError::validation(
                "expiresInDays",
                format!("must be 1 to {MAX_TOKEN_DAYS}"),
            ));
        }
    };
    issue_token(ctx, &caller.user_id, TokenKind::Api, name, expires_at).await
}

/// Which API tokens to list.
pub enum TokenOwner<'a> {
    User(&'a str),
    Everyone,
}

/// API tokens (not sessions), oldest first: one user's, or everyone's (the caller checks the
/// role).
pub async fn api_tokens(
    db: &Db,
    owner: TokenOwner<'_>,
) -> Result<Vec<auth_token::Model>, AppError> {
    let mut query =
        auth_token::Entity::find().filter(auth_token::Column::Kind.eq(TokenKind::Api.as_str()));
    if let TokenOwner::User(id) = owner {
        query = query.filter(auth_token::Column::UserId.eq(id));
    }
    Ok(query
        .order_by_asc(auth_token::Column::Id)
        .all(&db.read)
        .await?)
}

/// Revokes an API token: the caller's own, or anyone's for an ADMIN. Someone else's token (for a
/// RESPONDER), a session or an unknown id is NOT_FOUND alike, so ids cannot be probed.
pub async fn revoke_api_token(db: &Db, caller: &Caller, id: &str) -> Result<(), AppError> {
    let mut query = auth_token::Entity::delete_many()
        .filter(auth_token::Column::Id.eq(id))
        .filter(auth_token::Column::Kind.eq(TokenKind::Api.as_str()));
    if caller.role != Role::Admin {
        query = query.filter(auth_token::Column::UserId.eq(caller.user_id.as_str()));
    }
    let deleted = query.exec(&db.write).await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound("API token"));
    }
    Ok(())
}

/// Ends every browser session of the user (API tokens stay; they are revoked one by one).
pub async fn end_sessions(db: &Db, user_id: &str) -> Result<u64, AppError> {
    let deleted = auth_token::Entity::delete_many()
        .filter(auth_token::Column::UserId.eq(user_id))
        .filter(auth_token::Column::Kind.eq(TokenKind::Session.as_str()))
        .exec(&db.write)
        .await?;
    Ok(deleted.rows_affected)
}

/// Deletes the sessions and API tokens whose expiry has passed (the engine's clean-up).
pub async fn delete_expired(ctx: &Ctx) -> Result<u64, AppError> {
    let db = &ctx.db;
    let deleted = auth_token::Entity::delete_many()
        .filter(auth_token::Column::ExpiresAt.lte(ctx.now()))
        .exec(&db.write)
        .await?;
    Ok(deleted.rows_affected)
}

/// `last_used_at` is written at most once a minute per token, so reads stay reads.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

/// Checks the password of the caller (a user's own change); the new one follows the same rules
/// as at creation and must differ from the current one. Clears a pending reset and ends the
/// user's other sessions.
pub async fn change_password(
    ctx: &Ctx,
    caller: &Caller,
    current: SecretString,
    new: SecretString,
) -> Result<(), AppError> {
    let db = &ctx.db;
    check_new_password("newPassword", &new)?;
    if current.expose_secret() == new.expose_secret() {
        return Err(AppError::validation(
            "newPassword",
            "must differ from the current password",
        ));
    }
    let Some(found) = user::Entity::find_by_id(caller.user_id.clone())
        .one(&db.read)
        .await?
    else {
        return Err(AppError::Unauthorized("the user no longer exists"));
    };
    if !verify_password(&ctx.passwords, current, found.password_hash.clone()).await? {
        return Err(AppError::validation(
            "currentPassword",
            "is not the current password",
        ));
    }
    let hash = hash_password(&ctx.passwords, new).await?;
    let mut am: user::ActiveModel = found.into();
    am.password_hash = Set(hash);
    am.must_change_password = Set(false);
    am.update(&db.write).await?;
    auth_token::Entity::delete_many()
        .filter(auth_token::Column::UserId.eq(caller.user_id.as_str()))
        .filter(auth_token::Column::Kind.eq(TokenKind::Session.as_str()))
        .filter(auth_token::Column::Id.ne(caller.token_id.as_str()))
        .exec(&db.write)
        .await?;
    Ok(())
}

pub fn check_new_password(field: &str, password: &SecretString) -> Result<(), AppError> {
    let len = password.expose_secret().chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(AppError::validation(
            field,
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(AppError::validation(
            field,
            format!("must be at most {MAX_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// Sets a generated one-time password (returned to the ADMIN once), requires the user to change
/// it at the next sign-in, and ends their sessions.
pub async fn reset_password(ctx: &Ctx, user_id: &UserId) -> Result<SecretString, AppError> {
    let db = &ctx.db;
    let Some(found) = user::Entity::find_by_id(user_id.to_string())
        .one(&db.read)
        .await?
    else {
        return Err(AppError::NotFound("user"));
    };
    let temporary = SecretString::from(random_token());
    let hash = hash_password(&ctx.passwords, temporary.clone()).await?;
    let mut am: user::ActiveModel = found.into();
    am.password_hash = Set(hash);
    am.must_change_password = Set(true);
    am.update(&db.write).await?;
    end_sessions(db, user_id).await?;
    Ok(temporary)
}

/// The caller a bearer token or session cookie stands for, or `None` when it is unknown or expired.
pub async fn authenticate(ctx: &Ctx, token: &str) -> Result<Option<Caller>, AppError> {
    let db = &ctx.db;
    let Some(tok) = auth_token::Entity::find()
        .filter(auth_token::Column::TokenHash.eq(hash_token(token)))
        .one(&db.read)
        .await?
    else {
        return Ok(None);
    };
    if tok.expires_at.is_some_and(|t| t <= ctx.now()) {
        return Ok(None);
    }
    let Some(user) = user::Entity::find_by_id(tok.user_id.clone())
        .one(&db.read)
        .await?
    else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    let at = ctx.now();
    if tok
        .last_used_at
        .is_none_or(|t| at - t >= Duration::seconds(LAST_USED_RESOLUTION_SECS))
    {
        auth_token::Entity::update_many()
            .col_expr(auth_token::Column::LastUsedAt, Expr::value(at))
            .filter(auth_token::Column::Id.eq(tok.id.as_str()))
            .exec(&db.write)
            .await?;
    }
    let role = Role::parse(&user.role)
        .ok_or_else(|| anyhow::anyhow!("user {} has unknown role {}", user.id, user.role))?;
    Ok(Some(Caller {
        user_id: user.id,
        email: user.email,
        role,
        token_id: tok.id,
        must_change_password: user.must_change_password,
    }))
}

pub async fn revoke(db: &Db, token_id: &str) -> Result<(), AppError> {
    auth_token::Entity::delete_by_id(token_id.to_string())
        .exec(&db.write)
        .await?;
    Ok(())
}
