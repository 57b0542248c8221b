//! Alert sources: where events come from and which escalation policy gets their alerts.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::{auth::random_token, new_id, now, policies};
use crate::db::Db;
use crate::entity::alert_source;
use crate::error::AppError;

pub const SERVICENOW: &str = "SERVICENOW";

pub struct NewSource {
    pub name: String,
    pub escalation_policy_id: String,
}

pub async fn create(db: &Db, input: NewSource) -> Result<alert_source::Model, AppError> {
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
    Ok(alert_source::ActiveModel {
        id: Set(new_id()),
        name: Set(name),
        integration_type: Set(SERVICENOW.to_string()),
        // 256 random bits, URL-safe: the key is the webhook's credential.
        integration_key: Set(random_token()),
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
        .filter(alert_source::Column::IntegrationKey.eq(key))
        .one(&db.read)
        .await?)
}
