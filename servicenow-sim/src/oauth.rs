//! OAuth 2.0 as a ServiceNow instance serves it: `POST /oauth_token.do` (form-encoded) with the
//! `password`, `refresh_token` and `client_credentials` grants of one registered client
//! (System OAuth → Application Registry → "Create an OAuth API endpoint for external clients"),
//! and the Table API's authentication: a bearer token it issued, or basic auth unless that is
//! switched off (as instances that disable basic auth for REST do).
//!
//! Token lifetimes are seconds (30 minutes and 100 days by default, as on an instance) so tests
//! can make them short. Refresh tokens rotate when [`OAuthSettings::rotate_refresh_tokens`] is
//! on: a refresh answers a new refresh token and the used one stops working. The
//! `client_credentials` grant works only when enabled (the instance's
//! `glide.oauth.inbound.client.credential.grant_type.enabled` property), and its tokens act as
//! the OAuth application user. Every token request is recorded (grant, status, error; never a
//! secret), so a test can count them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::store::SnError;

/// How the instance's OAuth is set up. Every field has a default, so a JSON object with only
/// the fields to change is enough for `POST /__sim/oauth`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuthSettings {
    pub client_id: String,
    pub client_secret: String,
    /// Seconds an access token lives (the registry's "Access Token Lifespan").
    pub access_token_lifespan: u64,
    /// Seconds a refresh token lives (the registry's "Refresh Token Lifespan").
    pub refresh_token_lifespan: u64,
    /// A refresh answers a new refresh token, and the one used stops working.
    pub rotate_refresh_tokens: bool,
    /// `glide.oauth.inbound.client.credential.grant_type.enabled`.
    pub client_credentials_enabled: bool,
    /// The OAuth application user the `client_credentials` tokens act as.
    pub application_user: String,
    /// Whether the Table API still takes basic auth.
    pub basic_auth_enabled: bool,
}

pub const DEFAULT_CLIENT_ID: &str = "3f2d9c0e5b1a4f7e8d6c5b4a39281706";
pub const DEFAULT_CLIENT_SECRET: &str = "glidepath-oauth-secret";

impl Default for OAuthSettings {
    fn default() -> OAuthSettings {
        OAuthSettings {
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            access_token_lifespan: 1800,
            refresh_token_lifespan: 8_640_000,
            rotate_refresh_tokens: false,
            client_credentials_enabled: false,
            application_user: "glidepath".into(),
            basic_auth_enabled: true,
        }
    }
}

/// One token request as the instance saw it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenRequest {
    /// As sent (`password`, `refresh_token`, `client_credentials`, or whatever else came).
    pub grant_type: String,
    pub status: u16,
    /// The OAuth error answered, if any (`invalid_grant`, `invalid_client`, …).
    pub error: Option<String>,
    pub received_at: chrono::DateTime<chrono::Utc>,
}

struct Issued {
    user: String,
    expires: Instant,
}

struct State {
    settings: OAuthSettings,
    /// The integration user's credentials (password grant and basic auth).
    user: String,
    password: String,
    access: HashMap<String, Issued>,
    refresh: HashMap<String, Issued>,
    requests: Vec<TokenRequest>,
}

/// The instance's OAuth: settings, issued tokens, and the token requests seen.
pub struct OAuth {
    state: Mutex<State>,
}

/// An OAuth error answer: `{"error":…,"error_description":…}`.
struct Refusal {
    status: u16,
    error: &'static str,
    description: String,
}

impl Refusal {
    fn new(status: u16, error: &'static str, description: impl Into<String>) -> Refusal {
        Refusal {
            status,
            error,
            description: description.into(),
        }
    }
}

fn new_token() -> String {
    // 86 characters of URL-safe base64, like an instance's tokens.
    let bytes: Vec<u8> = (0..4)
        .flat_map(|_| *uuid::Uuid::new_v4().as_bytes())
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl OAuth {
    pub fn new(user: &str, password: &str) -> OAuth {
        OAuth {
            state: Mutex::new(State {
                settings: OAuthSettings::default(),
                user: user.into(),
                password: password.into(),
                access: HashMap::new(),
                refresh: HashMap::new(),
                requests: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn settings(&self) -> OAuthSettings {
        self.lock().settings.clone()
    }

    pub fn set_settings(&self, settings: OAuthSettings) {
        self.lock().settings = settings;
    }

    /// Changes the settings in place.
    pub fn configure(&self, change: impl FnOnce(&mut OAuthSettings)) {
        change(&mut self.lock().settings);
    }

    /// Changes the integration user's password (the password grant and basic auth).
    pub fn set_password(&self, password: &str) {
        self.lock().password = password.into();
    }

    /// Every refresh token issued so far stops working (an admin revoked them).
    pub fn revoke_refresh_tokens(&self) {
        self.lock().refresh.clear();
    }

    /// Every access token issued so far stops working before its time.
    pub fn revoke_access_tokens(&self) {
        self.lock().access.clear();
    }

    /// Every token request seen, oldest first.
    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.lock().requests.clone()
    }

    /// Every access and refresh token issued and still known (for tests that look for them
    /// where they must not be).
    pub fn issued_tokens(&self) -> Vec<String> {
        let state = self.lock();
        state
            .access
            .keys()
            .chain(state.refresh.keys())
            .cloned()
            .collect()
    }

    /// Token requests of `grant_type` answered with `error`.
    pub fn refused(&self, grant_type: &str, error: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.grant_type == grant_type && r.error.as_deref() == Some(error))
            .count()
    }

    /// Token requests of `grant_type` that were answered with tokens.
    pub fn granted(&self, grant_type: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.grant_type == grant_type && r.status == 200)
            .count()
    }

    /// The user a request's `Authorization` names: a live bearer token's user, or the basic-auth
    /// user name (checked or not). For the request log.
    pub fn request_user(&self, headers: &HeaderMap) -> Option<String> {
        match authorization(headers)? {
            Credentials::Bearer(token) => {
                let state = self.lock();
                state
                    .access
                    .get(&token)
                    .filter(|t| t.expires > Instant::now())
                    .map(|t| t.user.clone())
            }
            Credentials::Basic(user, _) => Some(user),
        }
    }

    /// Authenticates a Table API request: a live bearer token, or (unless switched off) the
    /// integration user's basic credentials. Answers as the Table API does when neither works.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<String, SnError> {
        let refused = || {
            SnError::new(
                401,
                "User Not Authenticated",
                Some("Required to provide Auth information".into()),
            )
        };
        let state = self.lock();
        match authorization(headers) {
            Some(Credentials::Bearer(token)) => state
                .access
                .get(&token)
                .filter(|t| t.expires > Instant::now())
                .map(|t| t.user.clone())
                .ok_or_else(refused),
            Some(Credentials::Basic(user, password))
                if state.settings.basic_auth_enabled
                    && user == state.user
                    && password == state.password =>
            {
                Ok(user)
            }
            _ => Err(refused()),
        }
    }

    fn grant(&self, form: &HashMap<String, String>) -> Result<serde_json::Value, Refusal> {
        let mut state = self.lock();
        let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
        let grant_type = field("grant_type");
        if !matches!(
            grant_type,
            "password" | "refresh_token" | "client_credentials"
        ) {
            return Err(Refusal::new(
                400,
                "unsupported_grant_type",
                format!("Unsupported grant type: {grant_type}"),
            ));
        }
        if field("client_id") != state.settings.client_id
            || field("client_secret") != state.settings.client_secret
        {
            return Err(Refusal::new(401, "invalid_client", "access_denied"));
        }
        let now = Instant::now();
        let (user, with_refresh) = match grant_type {
            "password" => {
                if field("username") != state.user || field("password") != state.password {
                    return Err(Refusal::new(401, "invalid_grant", "access_denied"));
                }
                (state.user.clone(), None)
            }
            "refresh_token" => {
                let token = field("refresh_token").to_string();
                let live = state
                    .refresh
                    .get(&token)
                    .filter(|t| t.expires > now)
                    .map(|t| t.user.clone());
                let Some(user) = live else {
                    return Err(Refusal::new(401, "invalid_grant", "access_denied"));
                };
                (user, Some(token))
            }
            _ => {
                if !state.settings.client_credentials_enabled {
                    return Err(Refusal::new(
                        400,
                        "unsupported_grant_type",
                        "client_credentials grant is not enabled on this instance",
                    ));
                }
                (state.settings.application_user.clone(), None)
            }
        };
        let access_life = Duration::from_secs(state.settings.access_token_lifespan);
        let refresh_life = Duration::from_secs(state.settings.refresh_token_lifespan);
        let access = new_token();
        state.access.insert(
            access.clone(),
            Issued {
                user: user.clone(),
                expires: now + access_life,
            },
        );
        let mut answer = json!({
            "access_token": access,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": state.settings.access_token_lifespan,
        });
        let refresh = match (grant_type, with_refresh) {
            ("client_credentials", _) => None,
            ("refresh_token", Some(used)) if !state.settings.rotate_refresh_tokens => Some(used),
            (_, used) => {
                if let Some(used) = used {
                    state.refresh.remove(&used);
                }
                let token = new_token();
                state.refresh.insert(
                    token.clone(),
                    Issued {
                        user,
                        expires: now + refresh_life,
                    },
                );
                Some(token)
            }
        };
        if let Some(refresh) = refresh {
            answer["refresh_token"] = json!(refresh);
        }
        Ok(answer)
    }

    fn record(&self, grant_type: &str, status: u16, error: Option<&str>) {
        self.lock().requests.push(TokenRequest {
            grant_type: grant_type.into(),
            status,
            error: error.map(str::to_string),
            received_at: chrono::Utc::now(),
        });
    }
}

enum Credentials {
    Bearer(String),
    Basic(String, String),
}

fn authorization(headers: &HeaderMap) -> Option<Credentials> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Credentials::Bearer(rest.trim().to_string()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some(Credentials::Basic(user.into(), password.into()))
}

/// `POST /oauth_token.do`.
pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    oauth: web::Data<std::sync::Arc<OAuth>>,
) -> HttpResponse {
    let form_encoded = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let form = if form_encoded {
        web::Query::<HashMap<String, String>>::from_query(&String::from_utf8_lossy(&body))
            .ok()
            .map(web::Query::into_inner)
    } else {
        None
    };
    let grant_type = form
        .as_ref()
        .and_then(|f| f.get("grant_type").cloned())
        .unwrap_or_default();
    let result = match &form {
        Some(form) => oauth.grant(form),
        None => Err(Refusal::new(
            400,
            "invalid_request",
            "the request must be application/x-www-form-urlencoded",
        )),
    };
    match result {
        Ok(answer) => {
            oauth.record(&grant_type, 200, None);
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(answer)
        }
        Err(refusal) => {
            oauth.record(&grant_type, refusal.status, Some(refusal.error));
            let status = actix_web::http::StatusCode::from_u16(refusal.status)
                .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
            HttpResponse::build(status).json(json!({
                "error_description": refusal.description,
                "error": refusal.error,
            }))
        }
    }
}

/// `GET /__sim/oauth`: the settings and the token requests seen.
pub async fn get_settings(oauth: web::Data<std::sync::Arc<OAuth>>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "settings": oauth.settings(),
        "requests": oauth.token_requests(),
    }))
}

/// `POST /__sim/oauth`: replaces the settings (fields left out take their defaults).
pub async fn set_settings(
    body: web::Bytes,
    oauth: web::Data<std::sync::Arc<OAuth>>,
) -> HttpResponse {
    match serde_json::from_slice::<OAuthSettings>(&body) {
        Ok(settings) => {
            oauth.set_settings(settings.clone());
            HttpResponse::Ok().json(settings)
        }
        Err(e) => HttpResponse::BadRequest().json(json!({ "error": e.to_string() })),
    }
}

/// The routes of this module, for the simulator's app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/oauth_token.do", web::post().to(token))
        .route("/__sim/oauth", web::get().to(get_settings))
        .route("/__sim/oauth", web::post().to(set_settings));
}
