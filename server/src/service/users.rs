//! Users: creation, listing and the first admin.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    SqlErr,
};
use secrecy::{ExposeSecret, SecretString};

use super::auth::{MIN_PASSWORD_LEN, hash_password, random_token};
use super::{Caller, new_id, now};
use crate::db::{Db, for_update};
use crate::domain::{Email, Role};
use crate::entity::user;
use crate::error::AppError;

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password: SecretString,
    pub role: Role,
}

pub fn require_admin(caller: &Caller) -> Result<(), AppError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Responder => Err(AppError::Forbidden("only an ADMIN may do this")),
    }
}

pub async fn create_user(db: &Db, input: NewUser) -> Result<user::Model, AppError> {
    let email = Email::parse(&input.email).map_err(|r| AppError::validation("email", r))?;
    let name = input.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::validation("name", "must be 1 to 200 characters"));
    }
    if input.password.expose_secret().chars().count() < MIN_PASSWORD_LEN {
        return Err(AppError::validation(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    let hash = hash_password(input.password).await?;
    let txn = db.begin_write().await?;
    let result = user::ActiveModel {
        id: Set(new_id()),
        email: Set(email.as_str().to_string()),
        name: Set(name.to_string()),
        role: Set(input.role.as_str().to_string()),
        password_hash: Set(hash),
        created_at: Set(now()),
    }
    .insert(&txn)
    .await;
    match result {
        Ok(u) => {
            super::notifications::insert_default_rule(&txn, &u).await?;
            txn.commit().await?;
            Ok(u)
        }
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Err(
            AppError::Conflict(format!("a user with e-mail {email} already exists")),
        ),
        Err(e) => Err(e.into()),
    }
}

/// Changes a user's role (the caller is an ADMIN). The last ADMIN cannot be made a RESPONDER,
/// or nobody could manage users and configuration any more. All admin rows are locked first on
/// PostgreSQL (SQLite has one writer), so two concurrent demotions cannot both pass the count.
pub async fn update_role(db: &Db, id: &str, role: Role) -> Result<user::Model, AppError> {
    let txn = db.begin_write().await?;
    let admins = for_update(
        user::Entity::find().filter(user::Column::Role.eq(Role::Admin.as_str())),
        db.backend(),
    )
    .all(&txn)
    .await?;
    let Some(found) = user::Entity::find_by_id(id.to_string()).one(&txn).await? else {
        return Err(AppError::NotFound("user"));
    };
    if found.role == role.as_str() {
        return Ok(found);
    }
    if role == Role::Responder && admins.len() <= 1 && found.role == Role::Admin.as_str() {
        return Err(AppError::Conflict(format!(
            "{} is the last ADMIN; make another user ADMIN first",
            found.email
        )));
    }
    let mut am: user::ActiveModel = found.into();
    am.role = Set(role.as_str().to_string());
    let updated = am.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

pub async fn list(db: &Db) -> Result<Vec<user::Model>, AppError> {
    Ok(user::Entity::find()
        .order_by_asc(user::Column::Email)
        .all(&db.read)
        .await?)
}

pub async fn get(db: &Db, id: &str) -> Result<Option<user::Model>, AppError> {
    Ok(user::Entity::find_by_id(id.to_string())
        .one(&db.read)
        .await?)
}

pub async fn get_many(db: &Db, ids: &[String]) -> Result<Vec<user::Model>, AppError> {
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().cloned()))
        .all(&db.read)
        .await?)
}

/// Creates the first admin when the database has no user. Returns the generated password when
/// none was configured, so that start-up can show it once.
pub async fn bootstrap_admin(
    db: &Db,
    email: &str,
    password: Option<SecretString>,
) -> Result<Option<SecretString>, AppError> {
    if user::Entity::find().count(&db.read).await? > 0 {
        return Ok(None);
    }
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => (SecretString::from(random_token()), true),
    };
    let created = create_user(
        db,
        NewUser {
            email: email.to_string(),
            name: "Administrator".into(),
            password: password.clone(),
            role: Role::Admin,
        },
    )
    .await;
    match created {
        Ok(_) => Ok(generated.then_some(password)),
        // Another process sharing the database created it first.
        Err(AppError::Conflict(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
