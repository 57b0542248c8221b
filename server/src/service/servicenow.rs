//! The ServiceNow connection of an alert source: configuring it and checking it against the
//! instance.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{ActiveEnum, ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use secrecy::SecretString;
use serde_json::Value;

use super::sources;
use crate::db::Db;
use crate::domain::SourceId;
use crate::domain::{Priority, PriorityMapping, is_field_name};
use crate::entity::servicenow_connection::{self, AuthMethod};
use crate::entity::servicenow_oauth_token;
use crate::error::AppError;
use crate::service::Ctx;
use crate::servicenow::client::{Auth, Client, Record, SnError, TableQuery};
use crate::servicenow::time as sn_time;

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
    /// The API user (basic auth and the password grant) or the OAuth application user (client
    /// credentials): the name ServiceNow records on Glidepath's updates.
    pub username: String,
    /// `None` keeps the stored password; refused when the URL or the user name changes. Not
    /// needed for the client credentials grant.
    pub password: Option<SecretString>,
    /// `None` keeps the stored method (basic auth for a new connection).
    pub auth_method: Option<AuthMethod>,
    /// The OAuth client id; `None` keeps the stored one.
    pub client_id: Option<String>,
    /// The OAuth client secret; `None` keeps the stored one, refused when the URL or the client
    /// id changes.
    pub client_secret: Option<SecretString>,
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
    ctx: &Ctx,
    source_id: &SourceId,
    input: ConnectionInput,
) -> Result<servicenow_connection::Model, AppError> {
    let db = &ctx.db;
    let cipher = &*ctx.cipher;
    let connector = &*ctx.servicenow;
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
    let client_id = match input.client_id.as_deref().map(str::trim) {
        Some(id) if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) => {
            return Err(AppError::validation(
                "clientId",
                "must be 1 to 200 characters, without control characters",
            ));
        }
        other => other.map(str::to_string),
    };
    let client_secret = match &input.client_secret {
        Some(p) if p.expose_secret().is_empty() || p.expose_secret().len() > 1000 => {
            return Err(AppError::validation(
                "clientSecret",
                "must be 1 to 1000 characters",
            ));
        }
        Some(p) => Some(cipher.encrypt(
            p.expose_secret(),
            &super::oauth::client_secret_context(source_id),
        )?),
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
    let at = ctx.now();
    let saved = match existing {
        Some(row) => {
            // Another instance has other incidents: its poll starts now, only New incidents
            // created from now on page anyone, and a poll of the old instance still running
            // (its lease cleared) writes nothing back.
            let moved = row.instance_url != instance_url;
            let method = input.auth_method.unwrap_or(row.auth_method);
            let renamed = row.username != username;
            // The stored password goes only to the instance and user it was entered for.
            let keep_password = password.is_none() && !moved && !renamed;
            if password.is_none()
                && (moved || renamed || row.password_encrypted.is_empty())
                && method != AuthMethod::OauthClientCredentials
            {
                return Err(AppError::validation(
                    "password",
                    if row.password_encrypted.is_empty() {
                        "is required for this authentication method"
                    } else {
                        "must be entered again when the instance URL or user name changes"
                    },
                ));
            }
            // Likewise the client secret, with the instance and client id.
            let client_id = client_id.or_else(|| row.oauth_client_id.clone());
            let new_client = client_id != row.oauth_client_id;
            let keep_secret = client_secret.is_none() && !moved && !new_client;
            let secret_stored = row.oauth_client_secret_encrypted.is_some();
            if method != AuthMethod::Basic {
                if client_id.is_none() {
                    return Err(AppError::validation("clientId", "is required for OAuth"));
                }
                if client_secret.is_none() && !(keep_secret && secret_stored) {
                    return Err(AppError::validation(
                        "clientSecret",
                        if secret_stored {
                            "must be entered again when the instance URL or client id changes"
                        } else {
                            "is required for OAuth"
                        },
                    ));
                }
            }
            let credentials_changed = moved
                || renamed
                || password.is_some()
                || method != row.auth_method
                || new_client
                || client_secret.is_some();
            let mut active: servicenow_connection::ActiveModel = row.into();
            if moved {
                let since = sn_time::format(at);
                active.poll_watermark = Set(Some(since.clone()));
                active.poll_cursor = Set(None);
                active.poll_since = Set(Some(since));
                active.poll_lease_until = Set(None);
            }
            active.instance_url = Set(instance_url);
            active.username = Set(username);
            match password {
                Some(p) => active.password_encrypted = Set(p),
                // Client credentials need none: one entered for another instance or user goes.
                None if !keep_password => active.password_encrypted = Set(String::new()),
                None => {}
            }
            active.auth_method = Set(method);
            active.oauth_client_id = Set(client_id);
            match client_secret {
                Some(s) => active.oauth_client_secret_encrypted = Set(Some(s)),
                None if !keep_secret => active.oauth_client_secret_encrypted = Set(None),
                None => {}
            }
            if credentials_changed {
                // Tokens obtained with the old credentials are never used again, and the
                // connection gets another chance.
                active.auth_version = Set(super::new_id());
                active.auth_attention = Set(None);
                active.auth_attention_at = Set(None);
            }
            active.bidirectional = Set(input.bidirectional);
            if let Some(code) = close_code {
                active.close_code = Set(code);
            }
            active.updated_at = Set(at);
            active.update(&db.write).await?
        }
        None => {
            let method = input.auth_method.unwrap_or(AuthMethod::Basic);
            let password = match password {
                Some(p) => p,
                None if method == AuthMethod::OauthClientCredentials => String::new(),
                None => {
                    return Err(AppError::validation(
                        "password",
                        "is required for a new connection",
                    ));
                }
            };
            if method != AuthMethod::Basic {
                if client_id.is_none() {
                    return Err(AppError::validation("clientId", "is required for OAuth"));
                }
                if client_secret.is_none() {
                    return Err(AppError::validation(
                        "clientSecret",
                        "is required for OAuth",
                    ));
                }
            }
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
                poll_watermark: Set(None),
                poll_next_at: Set(None),
                poll_lease_until: Set(None),
                poll_cursor: Set(None),
                poll_since: Set(Some(sn_time::format(at))),
                auth_method: Set(method),
                oauth_client_id: Set(client_id),
                oauth_client_secret_encrypted: Set(client_secret),
                auth_version: Set(super::new_id()),
                auth_attention: Set(None),
                auth_attention_at: Set(None),
            }
            .insert(&db.write)
            .await?
        }
    };
    // Tokens of other credentials are of no use any more.
    servicenow_oauth_token::Entity::delete_many()
        .filter(servicenow_oauth_token::Column::AlertSourceId.eq(source_id.to_string()))
        .filter(servicenow_oauth_token::Column::AuthVersion.ne(saved.auth_version.clone()))
        .exec(&db.write)
        .await?;
    // Updates that waited for the credentials go now.
    ctx.wake_sync();
    Ok(saved)
}

fn refused_reason(e: SnError) -> String {
    match e {
        SnError::Refused(reason) => reason,
        other => other.to_string(),
    }
}

/// A client for the source's instance; NOT_FOUND when the source has no connection, and
/// BAD_GATEWAY while the connection needs attention (its OAuth credentials were refused).
pub async fn client(ctx: &Ctx, source_id: &str) -> Result<Client, AppError> {
    Ok(connect(ctx, source_id, false).await??)
}

/// [`client`], with what the instance side causes (the connection needing attention, the
/// instance URL refused or unreachable) kept apart as an `SnError`, for the sync worker. With
/// `retry_attention`, a connection that needs attention gets a client that tries a grant again.
pub async fn connect(
    ctx: &Ctx,
    source_id: &str,
    retry_attention: bool,
) -> Result<Result<Client, SnError>, AppError> {
    let db = &ctx.db;
    let cipher = &*ctx.cipher;
    let connector = &*ctx.servicenow;
    if sources::get(db, source_id).await?.is_none() {
        return Err(AppError::NotFound("alert source"));
    }
    let conn = get(db, source_id)
        .await?
        .ok_or(AppError::NotFound("ServiceNow connection"))?;
    if let Some(why) = &conn.auth_attention
        && !retry_attention
    {
        return Ok(Err(SnError::NeedsAttention(why.clone())));
    }
    let auth = match conn.auth_method {
        AuthMethod::Basic => Auth::Basic {
            username: conn.username.clone(),
            password: cipher.decrypt(&conn.password_encrypted, &password_context(source_id))?,
        },
        AuthMethod::OauthPassword | AuthMethod::OauthClientCredentials => {
            Auth::Bearer(super::oauth::source(ctx, &conn, retry_attention)?)
        }
    };
    Ok(connector.client(&conn.instance_url, auth).await)
}

pub struct TestOutcome {
    pub ok: bool,
    pub message: String,
    /// The connection needs attention after the test (its OAuth credentials were refused).
    pub needs_attention: bool,
}

/// Reads one row of every table Glidepath needs and says what failed, by table name.
///
/// A connection that needs attention is tried again (a new grant): when the instance accepts it
/// now, the mark is cleared and the updates that waited are sent.
pub async fn test_connection(ctx: &Ctx, source_id: &SourceId) -> Result<TestOutcome, AppError> {
    let client = match connect(ctx, source_id, true).await? {
        Ok(c) => c,
        Err(e) => {
            return Ok(TestOutcome {
                ok: false,
                needs_attention: matches!(e, SnError::NeedsAttention(_)),
                message: e.to_string(),
            });
        }
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
                    needs_attention: matches!(e, SnError::NeedsAttention(_)),
                    message: e.to_string(),
                });
            }
        }
    }
    if denied.is_empty() {
        Ok(TestOutcome {
            ok: true,
            needs_attention: false,
            message: format!(
                "connected; the user can read {}",
                REQUIRED_TABLES.join(", ")
            ),
        })
    } else {
        Ok(TestOutcome {
            ok: false,
            needs_attention: false,
            message: format!(
                "the ServiceNow user has no read access to {} (403)",
                denied.join(", ")
            ),
        })
    }
}

/// What an inbound event needs from the source's connection: the priority mapping and the routing
/// field. Without a connection, the defaults.
#[derive(Default)]
pub struct InboundSettings {
    pub priority_mapping: PriorityMapping,
    pub routing_field: Option<String>,
    /// The connection itself, for the updates a new alert sends back (its level-1 assignee).
    pub connection: Option<servicenow_connection::Model>,
}

impl InboundSettings {
    pub fn of(connection: Option<&servicenow_connection::Model>) -> InboundSettings {
        let Some(conn) = connection else {
            return InboundSettings::default();
        };
        let overrides = stored_mapping(conn).into_iter().collect();
        InboundSettings {
            priority_mapping: PriorityMapping::with_overrides(overrides),
            routing_field: conn.routing_field.clone(),
            connection: Some(conn.clone()),
        }
    }
}

/// The stored mapping, sorted by ServiceNow value. A row that does not parse (written by hand)
/// counts as no mapping, so events still get the default rule.
pub fn stored_mapping(conn: &servicenow_connection::Model) -> Vec<(String, Priority)> {
    let Some(raw) = &conn.priority_mapping else {
        return Vec::new();
    };
    match serde_json::from_str::<BTreeMap<String, String>>(raw) {
        Ok(map) => map
            .into_iter()
            .filter_map(|(value, p)| Priority::try_from_value(&p).ok().map(|p| (value, p)))
            .collect(),
        Err(e) => {
            tracing::warn!(source = %conn.alert_source_id, error = %e, "unreadable priority mapping; using the default");
            Vec::new()
        }
    }
}

/// One choice of a choice list (`sys_choice`).
pub struct Choice {
    pub value: String,
    pub label: String,
}

fn text(row: &Record, field: &str) -> String {
    match row.get(field) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Object(reference)) => reference
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

/// Rows read from an instance are capped: a misconfigured query must not page forever.
const MAX_ROWS: usize = 1000;
const PAGE: u32 = 200;

/// The incident priority choices, one per value: the rows repeat per language, the `en` one is
/// kept (or the first seen when a value has no `en` row); sorted by value, numerically when both
/// are numbers.
pub async fn priorities(ctx: &Ctx, source_id: &SourceId) -> Result<Vec<Choice>, AppError> {
    let connector = &*ctx.servicenow;
    let client = client(ctx, source_id).await?;
    let query = TableQuery {
        query: Some("name=incident^element=priority^inactive=false^ORDERBYsys_id".into()),
        fields: ["value", "label", "language"].map(String::from).to_vec(),
        ..TableQuery::default()
    };
    let rows = connector
        .within(client.list_all("sys_choice", &query, PAGE, MAX_ROWS))
        .await?;
    let mut by_value: BTreeMap<String, (bool, String)> = BTreeMap::new();
    for row in &rows {
        let value = text(row, "value");
        if value.is_empty() {
            continue;
        }
        let english = matches!(text(row, "language").as_str(), "en" | "");
        let label = text(row, "label");
        match by_value.get(&value) {
            Some((true, _)) => {}
            Some((false, _)) if !english => {}
            _ => {
                by_value.insert(value, (english, label));
            }
        }
    }
    let mut choices: Vec<Choice> = by_value
        .into_iter()
        .map(|(value, (_, label))| Choice { value, label })
        .collect();
    choices.sort_by(
        |a, b| match (a.value.parse::<i64>(), b.value.parse::<i64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.value.cmp(&b.value),
        },
    );
    Ok(choices)
}

async fn connection(db: &Db, source_id: &str) -> Result<servicenow_connection::Model, AppError> {
    if sources::get(db, source_id).await?.is_none() {
        return Err(AppError::NotFound("alert source"));
    }
    get(db, source_id)
        .await?
        .ok_or(AppError::NotFound("ServiceNow connection"))
}

/// Stores which alert priority each ServiceNow priority value gets. Every value must be one of
/// the instance's current priority choices (read from it), each at most once; an empty list
/// returns to the default rule. Values left out keep the default.
pub async fn set_priority_mapping(
    ctx: &Ctx,
    source_id: &SourceId,
    mappings: Vec<(String, Priority)>,
) -> Result<(), AppError> {
    let db = &ctx.db;
    let conn = connection(db, source_id).await?;
    if mappings.len() > 100 {
        return Err(AppError::validation("mappings", "at most 100 entries"));
    }
    let mut map = BTreeMap::new();
    for (value, priority) in mappings {
        let value = value.trim().to_string();
        if map.insert(value.clone(), priority.to_value()).is_some() {
            return Err(AppError::validation(
                "mappings",
                format!("ServiceNow priority {value:?} is mapped twice"),
            ));
        }
    }
    if !map.is_empty() {
        let known = priorities(ctx, source_id).await?;
        if let Some(unknown) = map.keys().find(|v| !known.iter().any(|c| &c.value == *v)) {
            let values: Vec<&str> = known.iter().map(|c| c.value.as_str()).collect();
            return Err(AppError::validation(
                "mappings",
                format!(
                    "{unknown:?} is not an incident priority of the instance (it has {})",
                    values.join(", ")
                ),
            ));
        }
    }
    let stored = if map.is_empty() {
        None
    } else {
        Some(serde_json::to_string(&map).map_err(anyhow::Error::from)?)
    };
    let mut active: servicenow_connection::ActiveModel = conn.into();
    active.priority_mapping = Set(stored);
    active.updated_at = Set(ctx.now());
    active.update(&db.write).await?;
    Ok(())
}

/// Picks the incident field whose value routes new alerts (`None` stops routing). Only the
/// name's form is checked: the instance need not be reachable to change it.
pub async fn set_routing_field(
    ctx: &Ctx,
    source_id: &SourceId,
    field: Option<String>,
) -> Result<(), AppError> {
    let db = &ctx.db;
    let conn = connection(db, source_id).await?;
    let field = field
        .map(|f| f.trim().to_string())
        .filter(|f| !f.is_empty());
    if let Some(f) = &field
        && !is_field_name(f)
    {
        return Err(AppError::validation(
            "field",
            "must be a ServiceNow field name: lower-case letters, digits and underscores, starting with a letter (e.g. assignment_group)",
        ));
    }
    let mut active: servicenow_connection::ActiveModel = conn.into();
    active.routing_field = Set(field);
    active.updated_at = Set(ctx.now());
    active.update(&db.write).await?;
    Ok(())
}

/// One incident field from the dictionary.
pub struct Field {
    pub name: String,
    pub label: String,
    pub kind: String,
    /// The table a reference field points at.
    pub reference: Option<String>,
}

/// Dictionary rows of incident and task (only those of `element` when given), incident's own
/// winning over the task field it overrides; collection rows (no element) are skipped. Paged in
/// `sys_id` order, so rows neither repeat nor go missing between pages.
async fn dictionary(
    client: &Client,
    element: Option<&str>,
) -> Result<HashMap<String, Field>, SnError> {
    let only = element.map_or(String::new(), |e| format!("^element={e}"));
    let query = TableQuery {
        query: Some(format!("name=incident^ORname=task{only}^ORDERBYsys_id")),
        fields: [
            "name",
            "element",
            "column_label",
            "internal_type",
            "reference",
        ]
        .map(String::from)
        .to_vec(),
        ..TableQuery::default()
    };
    let rows = client
        .list_all("sys_dictionary", &query, PAGE, 5 * MAX_ROWS)
        .await?;
    let mut fields: HashMap<String, (bool, Field)> = HashMap::new();
    for row in &rows {
        let name = text(row, "element");
        if name.is_empty() {
            continue;
        }
        let own = text(row, "name") == "incident";
        if fields.get(&name).is_some_and(|(was_own, _)| *was_own) && !own {
            continue;
        }
        let label = text(row, "column_label");
        let reference = Some(text(row, "reference")).filter(|r| !r.is_empty());
        let field = Field {
            label: if label.is_empty() {
                name.clone()
            } else {
                label
            },
            kind: text(row, "internal_type"),
            reference,
            name: name.clone(),
        };
        fields.insert(name, (own, field));
    }
    Ok(fields.into_iter().map(|(k, (_, f))| (k, f)).collect())
}

/// The incident's fields (its own and those inherited from task), sorted by label.
pub async fn fields(ctx: &Ctx, source_id: &SourceId) -> Result<Vec<Field>, AppError> {
    let connector = &*ctx.servicenow;
    let client = client(ctx, source_id).await?;
    let mut fields: Vec<Field> = connector
        .within(dictionary(&client, None))
        .await?
        .into_values()
        .collect();
    fields.sort_by(|a, b| {
        a.label
            .to_lowercase()
            .cmp(&b.label.to_lowercase())
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(fields)
}

/// A record a reference field can point at.
pub struct ReferenceOption {
    pub sys_id: String,
    pub name: String,
}

/// The records the reference field `field` of incident can point at (its dictionary `reference`
/// table), up to 1000, sorted by name: so a policy's routing key can be picked by group name.
pub async fn reference_options(
    ctx: &Ctx,
    source_id: &SourceId,
    field: &str,
) -> Result<Vec<ReferenceOption>, AppError> {
    let connector = &*ctx.servicenow;
    let field = field.trim();
    if !is_field_name(field) {
        return Err(AppError::validation(
            "field",
            "must be a ServiceNow field name (e.g. assignment_group)",
        ));
    }
    let client = client(ctx, source_id).await?;
    connector
        .within(reference_rows(&client, field))
        .await
        .map(options_by_name)
}

/// The dictionary row of `field`, then the records of the table it references.
async fn reference_rows(client: &Client, field: &str) -> Result<Vec<Record>, AppError> {
    let dictionary = dictionary(client, Some(field)).await?;
    let Some(found) = dictionary.get(field) else {
        return Err(AppError::validation(
            "field",
            format!("incident has no field {field}"),
        ));
    };
    let Some(table) = found.reference.as_deref().filter(|t| is_field_name(t)) else {
        return Err(AppError::validation(
            "field",
            format!("{field} is not a reference field"),
        ));
    };
    let query = TableQuery {
        query: Some("ORDERBYname^ORDERBYsys_id".into()),
        fields: vec!["sys_id".into(), "name".into()],
        ..TableQuery::default()
    };
    Ok(client.list_all(table, &query, PAGE, MAX_ROWS).await?)
}

fn options_by_name(rows: Vec<Record>) -> Vec<ReferenceOption> {
    let mut options: Vec<ReferenceOption> = rows
        .iter()
        .filter_map(|row| {
            let sys_id = text(row, "sys_id");
            if sys_id.is_empty() {
                return None;
            }
            let name = text(row, "name");
            Some(ReferenceOption {
                name: if name.is_empty() {
                    sys_id.clone()
                } else {
                    name
                },
                sys_id,
            })
        })
        .collect();
    options.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then_with(|| a.sys_id.cmp(&b.sys_id))
    });
    options
}
