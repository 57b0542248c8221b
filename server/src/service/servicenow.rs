//! The ServiceNow connection of an alert source: configuring it and checking it against the
//! instance.

use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use secrecy::SecretString;

use super::{now, sources};
use crate::db::Db;
use crate::entity::servicenow_connection;
use crate::error::AppError;
use crate::secrets::Cipher;
use crate::servicenow::client::{Client, Connector, SnError, TableQuery};

/// The tables Glidepath reads; the API user needs read access to each.
pub const REQUIRED_TABLES: [&str; 6] = [
    "sys_user",
    "sys_user_group",
    "cmdb_ci_service",
    "service_offering",
    "sys_choice",
    "sys_dictionary",
];

pub struct ConnectionInput {
    pub instance_url: String,
    pub username: String,
    /// `None` keeps the stored password (changing only the URL or the user name).
    pub password: Option<SecretString>,
    pub bidirectional: bool,
    /// `None` keeps the stored code; an empty string restores the default.
    pub close_code: Option<String>,
}

/// The associated data binding an encrypted password to its alert source.
pub fn password_context(source_id: &str) -> String {
    format!("servicenow_connection.password:{source_id}")
}

pub async fn get(
    db: &Db,
    source_id: &str,
) -> Result<Option<servicenow_connection::Model>, AppError> {
    Ok(
        servicenow_connection::Entity::find_by_id(source_id.to_string())
            .one(&db.read)
            .await?,
    )
}

pub async fn configure(
    db: &Db,
    cipher: &Cipher,
    connector: &Connector,
    source_id: &str,
    input: ConnectionInput,
) -> Result<servicenow_connection::Model, AppError> {
    use secrecy::ExposeSecret;

    if sources::get(db, source_id).await?.is_none() {
        return Err(AppError::NotFound("alert source"));
    }
    let url = connector
        .policy()
        .check_url(&input.instance_url)
        .map_err(|e| AppError::validation("instanceUrl", refused_reason(e)))?;
    let instance_url = url.as_str().trim_end_matches('/').to_string();
    let username = input.username.trim().to_string();
    if username.is_empty() || username.len() > 200 {
        return Err(AppError::validation(
            "username",
            "must be 1 to 200 characters",
        ));
    }
    let password = match &input.password {
        Some(p) if p.expose_secret().is_empty() || p.expose_secret().len() > 1000 => {
            return Err(AppError::validation(
                "password",
                "must be 1 to 1000 characters",
            ));
        }
        Some(p) => Some(cipher.encrypt(p.expose_secret(), &password_context(source_id))?),
        None => None,
    };
    let close_code = match input.close_code.as_deref().map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(c) if c.chars().count() > 100 || c.chars().any(char::is_control) => {
            return Err(AppError::validation(
                "closeCode",
                "must be at most 100 characters, without control characters",
            ));
        }
        Some(c) => Some(Some(c.to_string())),
    };
    let existing = get(db, source_id).await?;
    let at = now();
    let saved = match existing {
        Some(row) => {
            let mut active: servicenow_connection::ActiveModel = row.into();
            active.instance_url = Set(instance_url);
            active.username = Set(username);
            if let Some(p) = password {
                active.password_encrypted = Set(p);
            }
            active.bidirectional = Set(input.bidirectional);
            if let Some(code) = close_code {
                active.close_code = Set(code);
            }
            active.updated_at = Set(at);
            active.update(&db.write).await?
        }
        None => {
            let Some(password) = password else {
                return Err(AppError::validation(
                    "password",
                    "is required for a new connection",
                ));
            };
            servicenow_connection::ActiveModel {
                alert_source_id: Set(source_id.to_string()),
                instance_url: Set(instance_url),
                username: Set(username),
                password_encrypted: Set(password),
                bidirectional: Set(input.bidirectional),
                priority_mapping: Set(None),
                routing_field: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                publish_accept: Set(true),
                publish_resolve: Set(true),
                publish_comment: Set(true),
                publish_priority: Set(true),
                publish_assignment: Set(true),
                publish_reroute: Set(true),
                close_code: Set(close_code.flatten()),
                journal_lease_until: Set(None),
            }
            .insert(&db.write)
            .await?
        }
    };
    Ok(saved)
}

fn refused_reason(e: SnError) -> String {
    match e {
        SnError::Refused(reason) => reason,
        other => other.to_string(),
    }
}

/// A client for the source's instance; NOT_FOUND when the source has no connection.
pub async fn client(
    db: &Db,
    cipher: &Cipher,
    connector: &Connector,
    source_id: &str,
) -> Result<Client, AppError> {
    if sources::get(db, source_id).await?.is_none() {
        return Err(AppError::NotFound("alert source"));
    }
    let conn = get(db, source_id)
        .await?
        .ok_or(AppError::NotFound("ServiceNow connection"))?;
    let password = cipher.decrypt(&conn.password_encrypted, &password_context(source_id))?;
    Ok(connector
        .client(&conn.instance_url, &conn.username, password)
        .await?)
}

pub struct TestOutcome {
    pub ok: bool,
    pub message: String,
}

/// Reads one row of every table Glidepath needs and says what failed, by table name.
pub async fn test_connection(
    db: &Db,
    cipher: &Cipher,
    connector: &Connector,
    source_id: &str,
) -> Result<TestOutcome, AppError> {
    let client = match client(db, cipher, connector, source_id).await {
        Ok(c) => c,
        Err(AppError::Upstream(message)) => return Ok(TestOutcome { ok: false, message }),
        Err(other) => return Err(other),
    };
    let probe = TableQuery {
        fields: vec!["sys_id".into()],
        limit: Some(1),
        ..TableQuery::default()
    };
    let mut denied = Vec::new();
    for table in REQUIRED_TABLES {
        match client.list(table, &probe).await {
            Ok(_) => {}
            Err(SnError::Forbidden { table }) => denied.push(table),
            // Anything else (credentials, network, hibernation) is the same for every table.
            Err(e) => {
                return Ok(TestOutcome {
                    ok: false,
                    message: e.to_string(),
                });
            }
        }
    }
    if denied.is_empty() {
        Ok(TestOutcome {
            ok: true,
            message: format!(
                "connected; the user can read {}",
                REQUIRED_TABLES.join(", ")
            ),
        })
    } else {
        Ok(TestOutcome {
            ok: false,
            message: format!(
                "the ServiceNow user has no read access to {} (403)",
                denied.join(", ")
            ),
        })
    }
}
