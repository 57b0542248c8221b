//! Alert sources: where events come from and which escalation policy gets their alerts.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use secrecy::SecretString;

use super::{
    auth::{hash_token, random_token},
    new_id, now, policies,
};
use crate::db::Db;
use crate::entity::alert_source;
use crate::error::AppError;
use crate::secrets::Cipher;

pub const SERVICENOW: &str = "SERVICENOW";

pub struct NewSource {
    pub name: String,
    pub escalation_policy_id: String,
}

/// The associated data binding an encrypted integration key to its alert source.
pub fn key_context(source_id: &str) -> String {
    format!("alert_source.integration_key:{source_id}")
}

pub async fn create(
    db: &Db,
    cipher: &Cipher,
    input: NewSource,
) -> Result<alert_source::Model, AppError> {
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
        created_at: Set(now()),
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

pub async fn by_integration_key(
    db: &Db,
    key: &str,
) -> Result<Option<alert_source::Model>, AppError> {
    Ok(alert_source::Entity::find()
        .filter(alert_source::Column::IntegrationKeyHash.eq(hash_token(key)))
        .one(&db.read)
        .await?)
}

/// The integration key in clear, for showing the webhook URL to an admin again.
pub fn integration_key(
    cipher: &Cipher,
    source: &alert_source::Model,
) -> Result<SecretString, AppError> {
    Ok(cipher.decrypt(&source.integration_key_encrypted, &key_context(&source.id))?)
}
