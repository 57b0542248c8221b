//! Who did it, across both sides: a ServiceNow user is the Glidepath user with the same e-mail
//! (the `sys_user` look-ups are cached, see `servicenow::users`). Where no Glidepath user
//! matches, the ServiceNow user name stands for the person.

use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::servicenow;
use crate::db::Db;
use crate::entity::{servicenow_connection, user};
use crate::error::AppError;
use crate::secrets::Cipher;
use crate::servicenow::client::{Client, Connector};
use crate::servicenow::users::USERS;

/// The longest a webhook waits for a user look-up that is not cached yet; after it, the event
/// names the ServiceNow user name (the look-up result is cached for the next event).
const INBOUND_LOOKUP: Duration = Duration::from_secs(2);

/// The Glidepath user with this e-mail (stored lower case, so compared case-insensitively).
pub async fn user_by_email(db: &Db, email: &str) -> Result<Option<user::Model>, AppError> {
    let email = email.trim().to_lowercase();
    if email.is_empty() {
        return Ok(None);
    }
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&db.read)
        .await?)
}

/// Who a ServiceNow `user_name` is in Glidepath.
pub enum Person {
    User(user::Model),
    External(String),
}

/// Maps a ServiceNow user name; a failed look-up leaves the ServiceNow name.
pub async fn by_user_name(db: &Db, client: &Client, user_name: &str) -> Result<Person, AppError> {
    let lookup = USERS.by_user_name(client, client.instance(), user_name);
    let sn = tokio::time::timeout(INBOUND_LOOKUP, lookup)
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    if let Some(sn) = sn
        && let Some(u) = user_by_email(db, &sn.email).await?
    {
        return Ok(Person::User(u));
    }
    Ok(Person::External(user_name.to_string()))
}

/// The name a webhook event's `sys_updated_by` should carry in the alert log: the Glidepath
/// user's e-mail when the source's connection is bidirectional and the ServiceNow user maps to
/// one, else the event's own value.
pub async fn inbound_actor(
    db: &Db,
    cipher: &Cipher,
    connector: &Connector,
    conn: Option<&servicenow_connection::Model>,
    updated_by: Option<String>,
) -> Option<String> {
    let name = updated_by?;
    let Some(conn) = conn.filter(|c| c.bidirectional) else {
        return Some(name);
    };
    let source_id = conn.alert_source_id.as_str();
    if let Some(hit) = USERS.peek_user_name(&conn.instance_url, &name) {
        let user = match hit {
            Some(sn) => user_by_email(db, &sn.email).await.ok().flatten(),
            None => None,
        };
        return Some(user.map(|u| u.email).unwrap_or(name));
    }
    let Ok(client) = servicenow::client(db, cipher, connector, source_id).await else {
        return Some(name);
    };
    match by_user_name(db, &client, &name).await {
        Ok(Person::User(u)) => Some(u.email),
        _ => Some(name),
    }
}
