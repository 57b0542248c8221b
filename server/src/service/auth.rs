//! Passwords (argon2id), sessions and API tokens. Only SHA-256 hashes of tokens are stored: a token
//! is 256 random bits, so a fast hash is enough, and a database dump reveals no usable token.

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Duration;
use rand::RngCore;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{Caller, new_id, now};
use crate::db::Db;
use crate::domain::{Email, Role};
use crate::entity::{auth_token, user};
use crate::error::AppError;

/// How long a browser session lasts after `login`.
pub const SESSION_DAYS: i64 = 7;
pub const MIN_PASSWORD_LEN: usize = 8;

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
    let (token, _) = issue_token(
        db,
        &user.id,
        TokenKind::Session,
        "session",
        Some(now() + Duration::days(SESSION_DAYS)),
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
    }
    .insert(&db.write)
    .await?;
    Ok((token, model))
}

pub async fn create_api_token(
    db: &Db,
    caller: &Caller,
    name: &str,
) -> Result<(String, auth_token::Model), AppError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::validation("name", "must be 1 to 200 characters"));
    }
    issue_token(db, &caller.user_id, TokenKind::Api, name, None).await
}

/// The caller's own API tokens (not sessions), oldest first.
pub async fn api_tokens(db: &Db, caller: &Caller) -> Result<Vec<auth_token::Model>, AppError> {
    Ok(auth_token::Entity::find()
        .filter(auth_token::Column::UserId.eq(caller.user_id.as_str()))
        .filter(auth_token::Column::Kind.eq(TokenKind::Api.as_str()))
        .order_by_asc(auth_token::Column::Id)
        .all(&db.read)
        .await?)
}

/// Revokes one of the caller's own API tokens. Someone else's token, a session or an unknown id
/// is NOT_FOUND alike, so ids cannot be probed.
pub async fn revoke_api_token(db: &Db, caller: &Caller, id: &str) -> Result<(), AppError> {
    let deleted = auth_token::Entity::delete_many()
        .filter(auth_token::Column::Id.eq(id))
        .filter(auth_token::Column::UserId.eq(caller.user_id.as_str()))
        .filter(auth_token::Column::Kind.eq(TokenKind::Api.as_str()))
        .exec(&db.write)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(AppError::NotFound("API token"));
    }
    Ok(())
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
    let role = Role::parse(&user.role)
        .ok_or_else(|| anyhow::anyhow!("user {} has unknown role {}", user.id, user.role))?;
    Ok(Some(Caller {
        user_id: user.id,
        email: user.email,
        role,
        token_id: tok.id,
    }))
}

pub async fn revoke(db: &Db, token_id: &str) -> Result<(), AppError> {
    auth_token::Entity::delete_by_id(token_id.to_string())
        .exec(&db.write)
        .await?;
    Ok(())
}
