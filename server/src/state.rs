//! The state of the web layer (HTTP handlers and GraphQL resolvers), built once by
//! `startup::Application::build`.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use url::Url;

use crate::service::Ctx;

/// Shared by every request handler and resolver.
#[derive(Clone)]
pub struct AppState {
    /// The service layer's handles: database, secret key, ServiceNow connector, clock.
    pub ctx: Ctx,
    pub public_url: Url,
    pub metrics: PrometheusHandle,
    /// GLIDEPATH_BODY_TIMEOUT_MS: how long a request body may take to arrive.
    pub body_timeout: std::time::Duration,
    /// GLIDEPATH_METRICS_TOKEN: the bearer token `GET /metrics` requires, when set.
    pub metrics_token: Option<Arc<SecretString>>,
    /// GLIDEPATH_GRAPHIQL: whether `GET /graphql` serves the query page.
    pub graphiql: bool,
    /// How long a session lasts (`GLIDEPATH_SESSION_SECONDS`).
    pub session_ttl: std::time::Duration,
    /// Sign-in limits per client address and per account.
    pub login_throttle: Arc<crate::service::auth::LoginThrottle>,
    /// GLIDEPATH_TRUSTED_PROXIES: peers whose X-Forwarded-For is believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
}

impl AppState {
    pub fn webhook_url(&self, integration_key: &str) -> String {
        let base = self.public_url.as_str().trim_end_matches('/');
        format!("{base}/api/v1/events/servicenow/{integration_key}")
    }

    /// Cookies are marked Secure when Glidepath is reached over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}
