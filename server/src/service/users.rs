//! Users: creation, listing and the first admin.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
    SqlErr,
};
use secrecy::SecretString;

use super::auth::{check_new_password, end_sessions};
use super::passwords::hash_password;
use super::random_token;
use super::{Caller, new_id};
use crate::db::{Db, for_update};
use crate::domain::UserId;
use crate::domain::{Email, Role};
use crate::entity::{calendar_feed, user};
use crate::error::AppError;
use crate::service::Ctx;

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

pub async fn create_user(ctx: &Ctx, input: NewUser) -> Result<user::Model, AppError> {
    let db = &ctx.db;
    let email = Email::parse(&input.email).map_err(|r| AppError::validation("email", r))?;
    let name = input.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(AppError::validation("name", "must be 1 to 200 characters"));
    }
    check_new_password("password", &input.password)?;
    let hash = hash_password(&ctx.passwords, input.password).await?;
    let at = ctx.now();
    let txn = db.begin_write().await?;
    let result = user::ActiveModel {
        id: Set(new_id()),
        email: Set(email.as_str().to_string()),
        name: Set(name.to_string()),
        role: Set(input.role.as_str().to_string()),
        password_hash: Set(hash),
        created_at: Set(at),
        disabled: Set(false),
        must_change_password: Set(false),
    }
    .insert(&txn)
    .await;
    match result {
        Ok(u) => {
            super::notifications::insert_default_rule(&txn, &u, at).await?;
            txn.commit().await?;
            Ok(u)
        }
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => Err(
            AppError::Conflict(format!("a user with e-mail {email} already exists")),
        ),
        Err(e) => Err(e.into()),
    }
}

/// The enabled admins (locked on PostgreSQL, so two concurrent changes cannot both pass a count
/// of them) and the user `id`, inside a writing transaction.
async fn admins_and_user(
    db: &Db,
    txn: &sea_orm::DatabaseTransaction,
    id: &str,
) -> Result<(Vec<user::Model>, user::Model), AppError> {
    let admins = for_update(
        user::Entity::find()
            .filter(user::Column::Role.eq(Role::Admin.as_str()))
            .filter(user::Column::Disabled.eq(false)),
        db.backend(),
    )
    .all(txn)
    .await?;
    let Some(found) = user::Entity::find_by_id(id.to_string()).one(txn).await? else {
        return Err(AppError::NotFound("user"));
    };
    Ok((admins, found))
}

/// Changes a user's role (the caller is an ADMIN). The last ADMIN cannot be made a RESPONDER,
/// or nobody could manage users and configuration any more. All admin rows are locked first on
/// PostgreSQL (SQLite has one writer), so two concurrent demotions cannot both pass the count.
pub async fn update_role(db: &Db, id: &UserId, role: Role) -> Result<user::Model, AppError> {
    let txn = db.begin_write().await?;
    let (admins, found) = admins_and_user(db, &txn, id).await?;
    if found.role == role.as_str() {
        return Ok(found);
    }
    let is_enabled_admin = admins.iter().any(|a| a.id == found.id);
    if role == Role::Responder && admins.len() <= 1 && is_enabled_admin {
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

/// Why `caller` may not disable or delete `target`: themselves, or the last enabled ADMIN.
/// `admins` are the enabled ADMINs, read (and locked on PostgreSQL) in the caller's transaction.
fn check_removable(
    caller: &Caller,
    target: &user::Model,
    admins: &[user::Model],
    what: &str,
) -> Result<(), AppError> {
    if target.id == caller.user_id {
        return Err(AppError::Conflict(format!("you cannot {what} yourself")));
    }
    let is_enabled_admin = admins.iter().any(|a| a.id == target.id);
    if is_enabled_admin && admins.len() <= 1 {
        return Err(AppError::Conflict(format!(
            "{} is the last enabled ADMIN; make another user ADMIN first",
            target.email
        )));
    }
    Ok(())
}

/// Disables a user (ADMIN, checked by the caller) or enables them again. Disabling ends their
/// sessions at once; their API tokens stay but do not authenticate while they are disabled.
pub async fn set_disabled(
    db: &Db,
    caller: &Caller,
    id: &UserId,
    disabled: bool,
) -> Result<user::Model, AppError> {
    let txn = db.begin_write().await?;
    let (admins, found) = admins_and_user(db, &txn, id).await?;
    if found.disabled == disabled {
        return Ok(found);
    }
    if disabled {
        check_removable(caller, &found, &admins, "disable")?;
    }
    let mut am: user::ActiveModel = found.into();
    am.disabled = Set(disabled);
    let updated = am.update(&txn).await?;
    txn.commit().await?;
    if disabled {
        end_sessions(db, id).await?;
        tracing::info!(user = %updated.email, by = %caller.email, "user disabled");
    } else {
        tracing::info!(user = %updated.email, by = %caller.email, "user enabled");
    }
    Ok(updated)
}

/// Deletes a user (ADMIN, checked by the caller). Their sessions, tokens, notification rules,
/// escalation-level memberships and responder rows go with them; alert history stays readable:
/// log entries keep the actor's e-mail (`actor_label`), comments their author's
/// (`author_label`), and the references themselves become NULL.
pub async fn delete_user(db: &Db, caller: &Caller, id: &UserId) -> Result<(), AppError> {
    let txn = db.begin_write().await?;
    let (admins, found) = admins_and_user(db, &txn, id).await?;
    check_removable(caller, &found, &admins, "delete")?;
    user::Entity::delete_by_id(found.id.clone())
        .exec(&txn)
        .await?;
    // The user's calendar feed goes with them (ids are unique across users and schedules, so
    // the owner id alone names it).
    calendar_feed::Entity::delete_many()
        .filter(calendar_feed::Column::OwnerId.eq(found.id.clone()))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!(user = %found.email, by = %caller.email, "user deleted");
    Ok(())
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
    ctx: &Ctx,
    email: &str,
    password: Option<SecretString>,
) -> Result<Option<SecretString>, AppError> {
    let db = &ctx.db;
    if user::Entity::find().count(&db.read).await? > 0 {
        return Ok(None);
    }
    let (password, generated) = match password {
        Some(p) => (p, false),
        None => (SecretString::from(random_token()), true),
    };
    let created = create_user(
        ctx,
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
