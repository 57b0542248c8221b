//! Re-encrypting every stored secret under the current key (`glidepath rotate-secrets`).
//!
//! Each secret is opened with the current key or a previous one (`GLIDEPATH_SECRET_KEY_PREVIOUS`)
//! and sealed again under the current key, all in one transaction: either every secret moves to
//! the new key or none does. Secrets already under the current key are left as they are, so
//! running it twice is harmless.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use secrecy::ExposeSecret;

use crate::db::for_update;
use crate::entity::{
    alert_source, notification, notification_rule, servicenow_connection, servicenow_oauth_token,
};
use crate::error::AppError;
use crate::secrets::Cipher;
use crate::service::Ctx;
use crate::service::notifications::{
    self, delivery_context, is_plain_webhook, secret_context, target_context,
};
use crate::service::oauth;
use crate::service::servicenow::password_context;
use crate::service::sources::{key_context, webhook_secret_context};

/// What a rotation did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rekeyed {
    /// Secrets sealed again under the current key.
    pub reencrypted: usize,
    /// Secrets that were under the current key already.
    pub current: usize,
}

impl Rekeyed {
    /// `Some(new sealed value)` when `stored` must move to the current key.
    fn reseal(
        &mut self,
        cipher: &Cipher,
        stored: &str,
        context: &str,
    ) -> Result<Option<String>, AppError> {
        if cipher.is_current(stored, context) {
            self.current += 1;
            return Ok(None);
        }
        let plain = cipher.decrypt(stored, context)?;
        self.reencrypted += 1;
        Ok(Some(cipher.encrypt(plain.expose_secret(), context)?))
    }
}

pub async fn reencrypt_all(ctx: &Ctx) -> Result<Rekeyed, AppError> {
    let db = &ctx.db;
    let cipher = &*ctx.cipher;
    let txn = db.begin_write().await?;
    let backend = db.backend();
    let mut done = Rekeyed::default();
    for source in for_update(alert_source::Entity::find(), backend)
        .all(&txn)
        .await?
    {
        let key = done.reseal(
            cipher,
            &source.integration_key_encrypted,
            &key_context(&source.id),
        )?;
        let secret = match &source.webhook_auth_secret_encrypted {
            Some(stored) => done.reseal(cipher, stored, &webhook_secret_context(&source.id))?,
            None => None,
        };
        if key.is_none() && secret.is_none() {
            continue;
        }
        let mut row = source.into_active_model();
        if let Some(key) = key {
            row.integration_key_encrypted = Set(key);
        }
        if let Some(secret) = secret {
            row.webhook_auth_secret_encrypted = Set(Some(secret));
        }
        row.update(&txn).await?;
    }
    for conn in for_update(servicenow_connection::Entity::find(), backend)
        .all(&txn)
        .await?
    {
        let id = conn.alert_source_id.clone();
        // A client credentials connection may have no password.
        let password = match conn.password_encrypted.as_str() {
            "" => None,
            stored => done.reseal(cipher, stored, &password_context(&id))?,
        };
        let secret = match &conn.oauth_client_secret_encrypted {
            Some(stored) => done.reseal(cipher, stored, &oauth::client_secret_context(&id))?,
            None => None,
        };
        if password.is_none() && secret.is_none() {
            continue;
        }
        let mut row = conn.into_active_model();
        if let Some(password) = password {
            row.password_encrypted = Set(password);
        }
        if let Some(secret) = secret {
            row.oauth_client_secret_encrypted = Set(Some(secret));
        }
        row.update(&txn).await?;
    }
    for tokens in for_update(servicenow_oauth_token::Entity::find(), backend)
        .all(&txn)
        .await?
    {
        let id = tokens.alert_source_id.clone();
        let access = done.reseal(
            cipher,
            &tokens.access_token_encrypted,
            &oauth::access_token_context(&id),
        )?;
        let refresh = match &tokens.refresh_token_encrypted {
            Some(stored) => done.reseal(cipher, stored, &oauth::refresh_token_context(&id))?,
            None => None,
        };
        if access.is_none() && refresh.is_none() {
            continue;
        }
        let mut row = tokens.into_active_model();
        if let Some(access) = access {
            row.access_token_encrypted = Set(access);
        }
        if let Some(refresh) = refresh {
            row.refresh_token_encrypted = Set(Some(refresh));
        }
        row.update(&txn).await?;
    }
    // Webhook targets of notification rules, and their copies on deliveries.
    for rule in for_update(
        notification_rule::Entity::find()
            .filter(notification_rule::Column::Kind.is_in(notifications::URL_KINDS)),
        backend,
    )
    .all(&txn)
    .await?
    {
        let secret = match &rule.signing_secret {
            Some(sealed) => done.reseal(cipher, sealed, &secret_context(&rule.id))?,
            None => None,
        };
        let target = if is_plain_webhook(&rule.target) {
            None
        } else {
            done.reseal(cipher, &rule.target, &target_context(&rule.id))?
        };
        if target.is_some() || secret.is_some() {
            let mut row = rule.into_active_model();
            if let Some(target) = target {
                row.target = Set(target);
            }
            if let Some(secret) = secret {
                row.signing_secret = Set(Some(secret));
            }
            row.update(&txn).await?;
        }
    }
    for n in for_update(
        notification::Entity::find()
            .filter(notification::Column::Kind.is_in(notifications::URL_KINDS)),
        backend,
    )
    .all(&txn)
    .await?
    {
        if is_plain_webhook(&n.target) {
            continue;
        }
        let context = delivery_context(&n);
        if let Some(target) = done.reseal(cipher, &n.target, &context)? {
            let mut row = n.into_active_model();
            row.target = Set(target);
            row.update(&txn).await?;
        }
    }
    txn.commit().await?;
    Ok(done)
}
