//! OAuth 2.0 against a ServiceNow instance: the token request (`POST {instance}/oauth_token.do`,
//! form-encoded, through the same guarded and pinned client as the Table API), its answer, and
//! what a [`Client`] asks of whoever keeps the tokens ([`TokenSource`], implemented by
//! `service::oauth` over the database). The process's in-memory copy of each connection's
//! access token lives in [`TokenCache`], held by the `Connector`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::client::{Client, SnError};

/// Where a client gets its bearer token.
pub trait TokenSource: Send + Sync {
    /// The access token to send (renewed first when it is due).
    fn token<'a>(&'a self, client: &'a Client) -> BoxFuture<'a, Result<SecretString, SnError>>;

    /// The instance answered 401 to `rejected`: renew once and return the new token.
    fn rejected<'a>(
        &'a self,
        client: &'a Client,
        rejected: &'a SecretString,
    ) -> BoxFuture<'a, Result<SecretString, SnError>>;

    /// The instance answered 401 to a token it had just issued: the connection needs an admin.
    fn refused_again<'a>(&'a self, why: String) -> BoxFuture<'a, SnError>;
}

/// A token request.
pub enum Grant<'a> {
    Password {
        username: &'a str,
        password: &'a SecretString,
    },
    RefreshToken(&'a SecretString),
    ClientCredentials,
}

impl Grant<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            Grant::Password { .. } => "password",
            Grant::RefreshToken(_) => "refresh_token",
            Grant::ClientCredentials => "client_credentials",
        }
    }
}

/// What a successful token request returns.
pub struct Tokens {
    pub access_token: SecretString,
    /// Absent for the client credentials grant (and from instances that keep the refresh token).
    pub refresh_token: Option<SecretString>,
    /// How long the access token lives, as the instance said (`expires_in`).
    pub expires_in: TimeDelta,
}

/// Why a token request failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The instance refused the grant (a 400 or 401 with an OAuth error): trying the same again
    /// cannot help.
    #[error("ServiceNow refused the {grant} grant ({status} {error}{})", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused {
        grant: &'static str,
        status: u16,
        /// `invalid_grant`, `invalid_client`, `unsupported_grant_type`, …
        error: String,
        description: Option<String>,
    },
    /// Anything that may pass: the network, a timeout, a 5xx, a 429, an answer that is not JSON.
    #[error(transparent)]
    Transient(#[from] SnError),
}

/// The access token lifetime taken when the instance does not say (ServiceNow's default).
const DEFAULT_LIFETIME: TimeDelta = TimeDelta::minutes(30);
/// The longest lifetime believed: a token kept longer than a day is not worth the risk.
const MAX_LIFETIME: TimeDelta = TimeDelta::days(1);

impl Client {
    /// `POST {instance}/oauth_token.do` with `grant` and the client's id and secret.
    pub async fn request_token(
        &self,
        grant: &Grant<'_>,
        client_id: &str,
        client_secret: &SecretString,
    ) -> Result<Tokens, TokenError> {
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", grant.name());
            form.append_pair("client_id", client_id);
            form.append_pair("client_secret", client_secret.expose_secret());
            match grant {
                Grant::Password { username, password } => {
                    form.append_pair("username", username);
                    form.append_pair("password", password.expose_secret());
                }
                Grant::RefreshToken(token) => {
                    form.append_pair("refresh_token", token.expose_secret());
                }
                Grant::ClientCredentials => {}
            }
            SecretString::from(form.finish())
        };
        let (status, parsed) = self.post_form("oauth_token.do", body).await?;
        let field = |name: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(name))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        match status {
            200..=299 => {
                let access = field("access_token")
                    .filter(|t| !t.is_empty())
                    .ok_or(SnError::NotServiceNow)?;
                let expires_in = parsed
                    .as_ref()
                    .and_then(|v| v.get("expires_in"))
                    .and_then(|v| match v {
                        Value::Number(n) => n.as_i64(),
                        Value::String(s) => s.trim().parse().ok(),
                        _ => None,
                    })
                    .filter(|s| *s > 0)
                    .map_or(DEFAULT_LIFETIME, |s| {
                        TimeDelta::try_seconds(s).unwrap_or(MAX_LIFETIME)
                    })
                    .min(MAX_LIFETIME);
                Ok(Tokens {
                    access_token: SecretString::from(access),
                    refresh_token: field("refresh_token")
                        .filter(|t| !t.is_empty())
                        .map(SecretString::from),
                    expires_in,
                })
            }
            400 | 401 | 403 => match field("error") {
                Some(error) => Err(TokenError::Refused {
                    grant: grant.name(),
                    status,
                    error: error.chars().take(100).collect(),
                    description: field("error_description").map(|d| d.chars().take(300).collect()),
                }),
                None if status == 401 => Err(TokenError::Refused {
                    grant: grant.name(),
                    status,
                    error: "access_denied".into(),
                    description: None,
                }),
                None => Err(SnError::Server {
                    status,
                    message: "the OAuth token endpoint answered without an OAuth error".into(),
                }
                .into()),
            },
            404 => Err(SnError::Server {
                status,
                message: "the instance has no OAuth token endpoint (oauth_token.do)".into(),
            }
            .into()),
            429 => Err(SnError::RateLimited { retry_after: None }.into()),
            code => Err(SnError::Server {
                status: code,
                message: field("error_description")
                    .or_else(|| field("error"))
                    .unwrap_or_else(|| "the OAuth token request failed".into()),
            }
            .into()),
        }
    }
}

/// When to renew a token that lives `lifetime` from `issued`: a tenth of its life early (at
/// most a minute), so requests in flight never carry one that is about to lapse.
pub fn renew_at(issued: DateTime<Utc>, lifetime: TimeDelta) -> DateTime<Utc> {
    let early = (lifetime / 10).min(TimeDelta::minutes(1));
    issued + lifetime - early
}

/// An access token this process read or obtained.
#[derive(Clone)]
pub struct Cached {
    /// The connection's `auth_version` it belongs to.
    pub auth_version: String,
    pub token: SecretString,
    pub renew_at: DateTime<Utc>,
}

/// Every connection's access token as this process last knew it, and one gate per connection
/// so that one task at a time renews it.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<String, Cached>>,
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl TokenCache {
    /// The cached token of the connection, if it belongs to `auth_version` and is not due yet.
    pub fn get(&self, source_id: &str, auth_version: &str, now: DateTime<Utc>) -> Option<Cached> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens
            .get(source_id)
            .filter(|c| c.auth_version == auth_version && now < c.renew_at)
            .cloned()
    }

    pub fn put(&self, source_id: &str, cached: Cached) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.insert(source_id.to_string(), cached);
    }

    pub fn forget(&self, source_id: &str) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens.remove(source_id);
    }

    /// The connection's renewal gate.
    pub fn gate(&self, source_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(gates.entry(source_id.to_string()).or_default())
    }
}

/// Whether two secrets are the same token.
pub fn same(a: &SecretString, b: &SecretString) -> bool {
    a.expose_secret() == b.expose_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_a_little_early() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(
            renew_at(at, TimeDelta::minutes(30)),
            at + TimeDelta::minutes(29)
        );
        assert_eq!(
            renew_at(at, TimeDelta::seconds(10)),
            at + TimeDelta::seconds(9)
        );
    }

    #[test]
    fn the_cache_keeps_a_token_for_its_version_until_it_is_due() {
        let cache = TokenCache::default();
        let now = Utc::now();
        cache.put(
            "s",
            Cached {
                auth_version: "v1".into(),
                token: SecretString::from("t"),
                renew_at: now + TimeDelta::seconds(5),
            },
        );
        assert!(cache.get("s", "v1", now).is_some());
        assert!(cache.get("s", "v2", now).is_none(), "other credentials");
        assert!(cache.get("s", "v1", now + TimeDelta::seconds(5)).is_none());
    }
}
