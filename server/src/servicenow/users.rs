//! Who is who on both sides: a Glidepath user is the `sys_user` with the same e-mail. Look-ups
//! go to the instance's `sys_user` table and are cached in memory per instance for
//! [`TTL`] (misses too, so an unknown user does not cost a request per event).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::{Client, SnError, TableQuery};

pub const TTL: Duration = Duration::from_secs(600);
const MAX_ENTRIES: usize = 10_000;

/// A ServiceNow user as far as mapping needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnUser {
    pub sys_id: String,
    pub user_name: String,
    pub email: String,
}

type Key = (String, String);

pub struct UserMap {
    entries: Mutex<HashMap<Key, (Option<SnUser>, Instant)>>,
}

impl Default for UserMap {
    fn default() -> UserMap {
        UserMap {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

/// A value that can go into an encoded query as is: `^` and `,` would start another term.
fn safe(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 200
        && !value.contains(['^', ',', '\n', '\r', '='])
        && !value.chars().any(char::is_control)
}

fn to_user(row: &serde_json::Map<String, Value>) -> SnUser {
    let text = |f: &str| {
        row.get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    SnUser {
        sys_id: text("sys_id"),
        user_name: text("user_name"),
        email: text("email"),
    }
}

fn key(instance: &str, field: &str, value: &str) -> Key {
    (
        instance.trim_end_matches('/').to_ascii_lowercase(),
        format!("{field}={value}"),
    )
}

impl UserMap {
    /// The user whose `email` is this address (case-insensitively, as ServiceNow compares).
    pub async fn by_email(
        &self,
        client: &Client,
        instance: &str,
        email: &str,
    ) -> Result<Option<SnUser>, SnError> {
        self.lookup(client, instance, "email", email).await
    }

    /// The user with this `user_name` (what `sys_updated_by` and `sys_created_by` hold).
    pub async fn by_user_name(
        &self,
        client: &Client,
        instance: &str,
        user_name: &str,
    ) -> Result<Option<SnUser>, SnError> {
        self.lookup(client, instance, "user_name", user_name).await
    }

    /// The user with this sys_id (what `assigned_to` holds), read as `sys_user/{sys_id}`.
    pub async fn by_sys_id(
        &self,
        client: &Client,
        instance: &str,
        sys_id: &str,
    ) -> Result<Option<SnUser>, SnError> {
        if !(sys_id.len() == 32 && sys_id.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Ok(None);
        }
        let key = key(instance, "sys_id", sys_id);
        if let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let user = match client
            .get("sys_user", sys_id, &["sys_id", "user_name", "email"])
            .await
        {
            Ok(row) => Some(to_user(&row)).filter(|u| !u.sys_id.is_empty()),
            Err(SnError::NotFound) => None,
            Err(e) => return Err(e),
        };
        self.store(key, user.clone());
        Ok(user)
    }

    async fn lookup(
        &self,
        client: &Client,
        instance: &str,
        field: &str,
        value: &str,
    ) -> Result<Option<SnUser>, SnError> {
        if !safe(value) {
            return Ok(None);
        }
        let key = key(instance, field, value);
        if let Some(hit) = self.cached(&key) {
            return Ok(hit);
        }
        let query = TableQuery {
            query: Some(format!("{field}={value}^active=true")),
            fields: vec!["sys_id".into(), "user_name".into(), "email".into()],
            limit: Some(1),
            offset: None,
        };
        let rows = client.list("sys_user", &query).await?;
        let user = rows.first().map(to_user).filter(|u| !u.sys_id.is_empty());
        self.store(key, user.clone());
        Ok(user)
    }

    /// A cached `user_name` look-up, without asking the instance: `None` when not cached.
    pub fn peek_user_name(&self, instance: &str, user_name: &str) -> Option<Option<SnUser>> {
        self.cached(&key(instance, "user_name", user_name))
    }

    fn cached(&self, key: &Key) -> Option<Option<SnUser>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(user, _)| user.clone())
    }

    fn store(&self, key: Key, user: Option<SnUser>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < TTL);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (user, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_breaking_values_are_never_looked_up() {
        assert!(safe("beth.anglin@example.com"));
        assert!(!safe("a^ORemail=b"));
        assert!(!safe("a,b"));
        assert!(!safe(""));
    }
}
