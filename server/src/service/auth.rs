//! Passwords (argon2id), sessions and API tokens. Only SHA-256 hashes of tokens are stored: a token
//! is 256 random bits, so a fast hash is enough, and a database dump reveals no usable token.

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, sea_query::Expr,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{Caller, new_id, now};
use crate::db::Db;
use crate::domain::{Email, Role};
use crate::entity::{auth_token, user};
use crate::error::AppError;

pub const MIN_PASSWORD_LEN: usize = 8;
/// Longer input only costs hashing time.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// argon2id with OWASP's minimum: 19 MiB of memory, 2 iterations, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub async fn hash_password(password: SecretString) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
    })
    .await
    .map_err(|e| anyhow::anyhow!(e))?
    .map_err(AppError::from)
}

async fn verify_password(password: SecretString, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        Ok(argon2()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| anyhow::anyhow!(e))?
}

/// A hash of a password nobody has, verified when the e-mail is unknown so that the answer takes
/// as long as for a known e-mail and says nothing about which accounts exist.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn dummy_hash() -> Result<String, AppError> {
    if let Some(h) = DUMMY_HASH.get() {
        return Ok(h.clone());
    }
    let h = hash_password(SecretString::from(random_token())).await?;
    Ok(DUMMY_HASH.get_or_init(|| h).clone())
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

const INVALID_LOGIN: &str = "invalid email or password";

/// Checks the credentials and opens a session; returns the session token and the user.
pub async fn login(
    db: &Db,
    email: &str,
    password: SecretString,
    session_ttl: std::time::Duration,
) -> Result<(String, user::Model), AppError> {
    let found = match Email::parse(email) {
        Ok(email) => {
            user::Entity::find()
                .filter(user::Column::Email.eq(email.as_str()))
                .one(&db.read)
                .await?
        }
        Err(_) => None,
    };
    let hash = match &found {
        Some(u) => u.password_hash.clone(),
        None => dummy_hash().await?,
    };
    let ok = verify_password(password, hash).await?;
    let Some(user) = found.filter(|_| ok) else {
        return Err(AppError::Unauthorized(INVALID_LOGIN));
    };
    if user.disabled {
        return Err(AppError::Unauthorized("this account is disabled"));
    }
    let (token, _) = issue_token(
        db,
        &user.id,
        TokenKind::Session,
        "session",
        Some(now() + Duration::from_std(session_ttl).unwrap_or(Duration::days(7))),
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
    db: &Db,
    user_id: &str,
    kind: TokenKind,
    name: &str,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(String, auth_token::Model), AppError> {
    let token = format!("gp_{}", random_token());
    let model = auth_token::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user_id.to_string()),
        kind: Set(kind.as_str().to_string()),
        name: Set(name.to_string()),
        token_hash: Set(hash_token(&token)),
        created_at: Set(now()),
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
    db: &Db,
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
        Some(d) if (1..=MAX_TOKEN_DAYS).contains(&d) => Some(now() + Duration::days(i64::from(d))),
        Some(_) => {
            return Err(AppError::validation(
                "expiresInDays",
                format!("must be 1 to {MAX_TOKEN_DAYS}"),
            ));
        }
    };
    issue_token(db, &caller.user_id, TokenKind::Api, name, expires_at).await
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
pub async fn delete_expired(db: &Db) -> Result<u64, AppError> {
    let deleted = auth_token::Entity::delete_many()
        .filter(auth_token::Column::ExpiresAt.lte(now()))
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
    db: &Db,
    caller: &Caller,
    current: SecretString,
    new: SecretString,
) -> Result<(), AppError> {
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
    if !verify_password(current, found.password_hash.clone()).await? {
        return Err(AppError::validation(
            "currentPassword",
            "is not the current password",
        ));
    }
    let hash = hash_password(new).await?;
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
pub async fn reset_password(db: &Db, user_id: &str) -> Result<SecretString, AppError> {
    let Some(found) = user::Entity::find_by_id(user_id.to_string())
        .one(&db.read)
        .await?
    else {
        return Err(AppError::NotFound("user"));
    };
    let temporary = SecretString::from(random_token());
    let hash = hash_password(temporary.clone()).await?;
    let mut am: user::ActiveModel = found.into();
    am.password_hash = Set(hash);
    am.must_change_password = Set(true);
    am.update(&db.write).await?;
    end_sessions(db, user_id).await?;
    Ok(temporary)
}

/// The caller a bearer token or session cookie stands for, or `None` when it is unknown or expired.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Caller>, AppError> {
    let Some(tok) = auth_token::Entity::find()
        .filter(auth_token::Column::TokenHash.eq(hash_token(token)))
        .one(&db.read)
        .await?
    else {
        return Ok(None);
    };
    if tok.expires_at.is_some_and(|t| t <= now()) {
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
    let at = now();
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
