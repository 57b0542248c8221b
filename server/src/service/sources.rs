//! Alert sources: where events come from and which escalation policy gets their alerts.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use secrecy::{ExposeSecret, SecretString};

use super::{auth::hash_token, new_id, policies, random_token};
use crate::db::{Db, for_update};
use crate::domain::SourceId;
pub use crate::domain::webhook_auth::WebhookAuth;
use crate::domain::webhook_auth::{
    Presented, WebhookAuthKind, basic_matches, bearer_matches, check_password, check_token,
    check_username,
};
use crate::entity::{alert_source, servicenow_connection};
use crate::error::AppError;
use crate::secrets::Cipher;
use crate::service::Ctx;

pub const SERVICENOW: &str = "SERVICENOW";

pub struct NewSource {
    pub name: String,
    pub escalation_policy_id: String,
}

/// The associated data binding an encrypted integration key to its alert source.
pub fn key_context(source_id: &str) -> String {
    format!("alert_source.integration_key:{source_id}")
}

pub async fn create(ctx: &Ctx, input: NewSource) -> Result<alert_source::Model, AppError> {
    let db = &ctx.db;
    let cipher = &*ctx.cipher;
    let name = input.name.trim().to_string();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::validation("name", "must be 1 to 200 characters"));
    }
    if policies::get(db, &input.escalation_policy_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound("escalation policy"));
    }
    let id = new_id();
    // 256 random bits, URL-safe: the key is the webhook's credential.
    let key = random_token();
    Ok(alert_source::ActiveModel {
        integration_key_hash: Set(hash_token(&key)),
        integration_key_encrypted: Set(cipher.encrypt(&key, &key_context(&id))?),
        id: Set(id),
        name: Set(name),
        integration_type: Set(SERVICENOW.to_string()),
        escalation_policy_id: Set(input.escalation_policy_id),
        created_at: Set(ctx.now()),
        webhook_auth_kind: Set(WebhookAuthKind::None.as_str().into()),
        webhook_auth_username: Set(None),
        webhook_auth_secret_encrypted: Set(None),
        previous_key_hash: Set(None),
        previous_key_expires_at: Set(None),
    }
    .insert(&db.write)
    .await?)
}

pub async fn list(db: &Db) -> Result<Vec<alert_source::Model>, AppError> {
    Ok(alert_source::Entity::find()
        .order_by_asc(alert_source::Column::Name)
        .all(&db.read)
        .await?)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<alert_source::Model>, AppError> {
    Ok(alert_source::Entity::find_by_id(id.to_string())
        .one(&db.read)
        .await?)
}

/// Which of a source's integration keys a webhook request presented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyUsed {
    Current,
    /// The key a rotation replaced, within its grace period, which ends at this time.
    Previous {
        valid_until: DateTime<Utc>,
    },
}

/// The alert source with this integration key, its ServiceNow connection if it has one, and which
/// of its keys it is (one query: the webhook's first read). A source's current key wins over
/// another's previous one; a previous key counts only until its grace period ends, by the server
/// clock.
pub async fn by_integration_key(
    ctx: &Ctx,
    key: &str,
) -> Result<
    Option<(
        alert_source::Model,
        Option<servicenow_connection::Model>,
        KeyUsed,
    )>,
    AppError,
> {
    let db = &ctx.db;
    let hash = hash_token(key);
    let found = alert_source::Entity::find()
        .filter(
            Condition::any()
                .add(alert_source::Column::IntegrationKeyHash.eq(hash.as_str()))
                .add(alert_source::Column::PreviousKeyHash.eq(hash.as_str())),
        )
        .find_also_related(servicenow_connection::Entity)
        .limit(2)
        .all(&db.read)
        .await?;
    let at = ctx.now();
    let mut previous = None;
    for (source, connection) in found {
        if source.integration_key_hash == hash {
            return Ok(Some((source, connection, KeyUsed::Current)));
        }
        if let Some(valid_until) = grace_end(&source, at)
            && source.previous_key_hash.as_deref() == Some(hash.as_str())
        {
            previous = Some((source, connection, KeyUsed::Previous { valid_until }));
        }
    }
    Ok(previous)
}

/// When the source's previous integration key stops delivering, if it still does at `at`.
pub fn grace_end(source: &alert_source::Model, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match (&source.previous_key_hash, source.previous_key_expires_at) {
        (Some(_), Some(until)) if until > at => Some(until),
        _ => None,
    }
}

/// The longest grace period `rotate_integration_key` accepts: 7 days.
pub const MAX_GRACE_MINUTES: i32 = 7 * 24 * 60;

/// Gives the source a new integration key. The one it replaces keeps delivering events for
/// `grace_minutes` (on the server clock, so `GLIDEPATH_TIME_SCALE` shortens it too); 0 ends it at
/// once. A grace period still running for an older key ends: only the key current until now stays
/// valid beside the new one. Only the old key's hash is kept.
pub async fn rotate_integration_key(
    ctx: &Ctx,
    source_id: &SourceId,
    grace_minutes: i32,
) -> Result<alert_source::Model, AppError> {
    let db = &ctx.db;
    let cipher = &*ctx.cipher;
    if !(0..=MAX_GRACE_MINUTES).contains(&grace_minutes) {
        return Err(AppError::validation(
            "graceMinutes",
            "must be 0 to 10080 (7 days)",
        ));
    }
    let key = random_token();
    let sealed = cipher.encrypt(&key, &key_context(source_id))?;
    let txn = db.begin_write().await?;
    let query = alert_source::Entity::find_by_id(source_id.to_string());
    let Some(source) = for_update(query, db.backend()).one(&txn).await? else {
        return Err(AppError::NotFound("alert source"));
    };
    let clock = &ctx.clock;
    let (previous_hash, expires_at) = if grace_minutes == 0 {
        (None, None)
    } else {
        let until = clock.now() + clock.minutes(grace_minutes);
        (Some(source.integration_key_hash.clone()), Some(until))
    };
    let mut active: alert_source::ActiveModel = source.into();
    active.integration_key_hash = Set(hash_token(&key));
    active.integration_key_encrypted = Set(sealed);
    active.previous_key_hash = Set(previous_hash);
    active.previous_key_expires_at = Set(expires_at);
    let updated = active.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

/// The integration key in clear, for showing the webhook URL to an admin again.
pub fn integration_key(
    cipher: &Cipher,
    source: &alert_source::Model,
) -> Result<SecretString, AppError> {
    Ok(cipher.decrypt(&source.integration_key_encrypted, &key_context(&source.id))?)
}

/// The associated data binding an encrypted webhook password or token to its alert source.
pub fn webhook_secret_context(source_id: &str) -> String {
    format!("alert_source.webhook_auth:{source_id}")
}

pub fn webhook_auth_kind(source: &alert_source::Model) -> Result<WebhookAuthKind, AppError> {
    WebhookAuthKind::parse(&source.webhook_auth_kind).ok_or_else(|| {
        anyhow::anyhow!(
            "alert source {} has unknown webhook auth kind {}",
            source.id,
            source.webhook_auth_kind
        )
        .into()
    })
}

/// The source's webhook authentication with its secret decrypted (for the check and the script).
pub fn webhook_auth(
    cipher: &Cipher,
    source: &alert_source::Model,
) -> Result<WebhookAuth, AppError> {
    let kind = webhook_auth_kind(source)?;
    if kind == WebhookAuthKind::None {
        return Ok(WebhookAuth::None);
    }
    let encrypted = source
        .webhook_auth_secret_encrypted
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("alert source {} has no webhook secret", source.id))?;
    let secret = cipher.decrypt(encrypted, &webhook_secret_context(&source.id))?;
    Ok(match kind {
        WebhookAuthKind::Basic => WebhookAuth::Basic {
            username: source.webhook_auth_username.clone().unwrap_or_default(),
            password: secret,
        },
        _ => WebhookAuth::Bearer { token: secret },
    })
}

/// Whether a webhook request may proceed; `Err` says why not (for the 401 answer). Secrets are
/// compared in constant time.
pub fn check_webhook_auth(
    cipher: &Cipher,
    source: &alert_source::Model,
    authorization: Option<&str>,
) -> Result<Result<(), &'static str>, AppError> {
    let expected = webhook_auth(cipher, source)?;
    let presented = authorization.and_then(Presented::parse);
    let ok = match &expected {
        WebhookAuth::None => return Ok(Ok(())),
        WebhookAuth::Basic { username, password } => {
            basic_matches(username, password.expose_secret(), presented.as_ref())
        }
        WebhookAuth::Bearer { token } => bearer_matches(token.expose_secret(), presented.as_ref()),
    };
    Ok(match (ok, authorization) {
        (true, _) => Ok(()),
        (false, None) => Err(match expected.kind() {
            WebhookAuthKind::Basic => "this webhook requires HTTP Basic credentials",
            _ => "this webhook requires a bearer token",
        }),
        (false, Some(_)) => Err("the webhook credentials are wrong"),
    })
}

/// Sets (or with `None` removes) the source's webhook authentication; the secret is encrypted.
pub async fn set_webhook_auth(
    ctx: &Ctx,
    source_id: &SourceId,
    auth: WebhookAuth,
) -> Result<alert_source::Model, AppError> {
    let db = &ctx.db;
    let cipher = &*ctx.cipher;
    let Some(source) = get(db, source_id).await? else {
        return Err(AppError::NotFound("alert source"));
    };
    let context = webhook_secret_context(source_id);
    let (username, secret) = match &auth {
        WebhookAuth::None => (None, None),
        WebhookAuth::Basic { username, password } => {
            let username = username.trim();
            check_username(username).map_err(|r| AppError::validation("username", r))?;
            check_password(password.expose_secret())
                .map_err(|r| AppError::validation("password", r))?;
            let sealed = cipher.encrypt(password.expose_secret(), &context)?;
            (Some(username.to_string()), Some(sealed))
        }
        WebhookAuth::Bearer { token } => {
            check_token(token.expose_secret()).map_err(|r| AppError::validation("token", r))?;
            (None, Some(cipher.encrypt(token.expose_secret(), &context)?))
        }
    };
    let mut active: alert_source::ActiveModel = source.into();
    active.webhook_auth_kind = Set(auth.kind().as_str().into());
    active.webhook_auth_username = Set(username);
    active.webhook_auth_secret_encrypted = Set(secret);
    Ok(active.update(&db.write).await?)
}
