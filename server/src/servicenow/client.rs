//! The one way Glidepath talks to a ServiceNow instance: the REST Table API over reqwest.
//!
//! An instance URL comes from an admin, so every request is treated as a possible SSRF: the
//! host must be under `service-now.com` or explicitly allowed, every address it resolves to is
//! checked and the connection is pinned to those checked addresses (a second DNS answer cannot
//! swap them), redirects are not followed, answers are capped in size, and every request has a
//! timeout. At most [`MAX_IN_FLIGHT`] requests run against one instance at a time.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use tokio::sync::Semaphore;
use url::{Host, Url};

use super::oauth::TokenSource;
use crate::net_guard::{AddrClass, classify};

/// Requests in flight per instance: a shared instance is not ours to flood.
pub const MAX_IN_FLIGHT: usize = 4;
/// Largest answer read; a Table API page of a few hundred rows is far below it.
pub const MAX_BODY: usize = 4 * 1024 * 1024;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub type Record = Map<String, Value>;

#[derive(Debug, thiserror::Error)]
pub enum SnError {
    #[error(
        "ServiceNow refused the credentials (401 User Not Authenticated): check the user name and password"
    )]
    Unauthorized,
    #[error("the ServiceNow user has no read access to the table {table} (403)")]
    Forbidden { table: String },
    #[error("ServiceNow has no such record or resource (404)")]
    NotFound,
    #[error("ServiceNow is rate limiting requests (429){}", retry_after.map(|s| format!(", retry after {s} s")).unwrap_or_default())]
    RateLimited { retry_after: Option<u64> },
    #[error("ServiceNow answered {status}: {message}")]
    Server { status: u16, message: String },
    #[error("instance hibernating or not a ServiceNow API (the answer is not Table API JSON)")]
    NotServiceNow,
    #[error("ServiceNow instance unreachable: {0}")]
    Unreachable(String),
    #[error("ServiceNow did not answer within {0} ms")]
    Timeout(u64),
    #[error("ServiceNow did not finish answering within {0} ms (all requests of the operation)")]
    Deadline(u64),
    #[error("the ServiceNow answer is larger than {} MiB", MAX_BODY / 1024 / 1024)]
    TooLarge,
    #[error("refused instance address: {0}")]
    Refused(String),
    /// The connection's OAuth credentials were refused: nothing is sent until an admin fixes
    /// them (the message says what the instance answered).
    #[error("the ServiceNow connection needs attention: {0}")]
    NeedsAttention(String),
    /// The connection's credentials changed while a request was on its way.
    #[error("the ServiceNow connection was reconfigured meanwhile")]
    Reconfigured,
    /// Glidepath's own side failed (the database, while keeping the tokens).
    #[error("{0}")]
    Internal(String),
}

/// How a client signs its requests.
pub enum Auth {
    /// Basic auth with the user name and password on every request.
    Basic {
        username: String,
        password: SecretString,
    },
    /// `Authorization: Bearer` with the access token the source gives.
    Bearer(Arc<dyn TokenSource>),
}

/// Which instances may be called; from `GLIDEPATH_SERVICENOW_HOSTS` and
/// `GLIDEPATH_ALLOW_INSECURE_SERVICENOW`.
#[derive(Clone, Debug)]
pub struct Policy {
    pub allowed_hosts: Vec<String>,
    pub allow_insecure: bool,
    pub timeout: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allowed_hosts: Vec::new(),
            allow_insecure: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Policy {
    /// Checks an instance URL without touching the network and returns it normalised to its
    /// origin (`https://host[:port]`): instances serve the API at the root.
    pub fn check_url(&self, raw: &str) -> Result<Url, SnError> {
        let url =
            Url::parse(raw.trim()).map_err(|e| SnError::Refused(format!("not a URL: {e}")))?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_insecure => {}
            "http" => {
                return Err(SnError::Refused(
                    "plain http is not allowed: use https".into(),
                ));
            }
            other => return Err(SnError::Refused(format!("scheme {other} is not allowed"))),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(SnError::Refused(
                "credentials belong in the username and password fields, not the URL".into(),
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(SnError::Refused(
                "the instance URL takes no query or fragment".into(),
            ));
        }
        if !matches!(url.path(), "" | "/") {
            return Err(SnError::Refused(
                "the instance URL takes no path (e.g. https://acme.service-now.com)".into(),
            ));
        }
        let host = url
            .host_str()
            .ok_or_else(|| SnError::Refused("the URL has no host".into()))?
            .to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        let allowed = host.ends_with(".service-now.com")
            || self
                .allowed_hosts
                .iter()
                .any(|h| h.trim().trim_end_matches('.').eq_ignore_ascii_case(host));
        if !allowed {
            return Err(SnError::Refused(format!(
                "{host} is not under service-now.com nor listed in GLIDEPATH_SERVICENOW_HOSTS"
            )));
        }
        let origin = url.origin().ascii_serialization();
        Url::parse(&origin).map_err(|e| SnError::Refused(format!("not a URL: {e}")))
    }

    /// Whether an address may be called. Loopback and private networks only in insecure mode
    /// (the simulator, a lab); link-local (cloud metadata), unspecified, multicast and reserved
    /// ranges never.
    fn check_ip(&self, ip: IpAddr) -> Result<(), SnError> {
        let class = classify(ip);
        match class {
            AddrClass::Public => Ok(()),
            AddrClass::Loopback | AddrClass::Private if self.allow_insecure => Ok(()),
            _ => Err(SnError::Refused(format!(
                "{ip} is a {} address",
                class.describe()
            ))),
        }
    }
}

/// Shared by every caller in the process: the policy and one semaphore per instance.
pub struct Connector {
    policy: Policy,
    permits: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// The `sys_user` look-ups of every instance this connector reaches, cached.
    pub users: super::users::UserMap,
    /// The OAuth access token of every connection, as this process last knew it.
    pub tokens: super::oauth::TokenCache,
}

impl Connector {
    pub fn new(policy: Policy) -> Connector {
        Connector {
            policy,
            permits: Mutex::new(HashMap::new()),
            users: super::users::UserMap::default(),
            tokens: super::oauth::TokenCache::default(),
        }
    }

    /// The time limit of one whole operation a user waits for (reading the fields, the reference
    /// options, the priorities): one and a half request timeouts, so 15 s by default.
    pub fn operation_deadline(&self) -> Duration {
        self.policy.timeout.mul_f64(1.5)
    }

    /// Runs `operation` within [`Connector::operation_deadline`]; past it, the error says so.
    pub async fn within<T, E: From<SnError>>(
        &self,
        operation: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let deadline = self.operation_deadline();
        tokio::time::timeout(deadline, operation)
            .await
            .unwrap_or_else(|_| Err(SnError::Deadline(deadline.as_millis() as u64).into()))
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// A client for one instance: checks the URL, resolves the host, checks every address and
    /// pins the connection to them.
    pub async fn client(&self, instance_url: &str, auth: Auth) -> Result<Client, SnError> {
        let base = self.policy.check_url(instance_url)?;
        let host = base
            .host()
            .ok_or_else(|| SnError::Refused("the URL has no host".into()))?
            .to_owned();
        let port = base
            .port_or_known_default()
            .ok_or_else(|| SnError::Refused("the URL has no port".into()))?;
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the name again, behind the checks below.
            .no_proxy()
            .connect_timeout(self.policy.timeout)
            .timeout(self.policy.timeout)
            .user_agent(concat!("Glidepath/", env!("CARGO_PKG_VERSION")));
        match &host {
            Host::Ipv4(ip) => self.policy.check_ip(IpAddr::V4(*ip))?,
            Host::Ipv6(ip) => self.policy.check_ip(IpAddr::V6(*ip))?,
            Host::Domain(name) => {
                let addrs = resolve(name, port, self.policy.timeout).await?;
                for addr in &addrs {
                    self.policy.check_ip(addr.ip())?;
                }
                builder = builder.resolve_to_addrs(name, &addrs);
            }
        }
        let http = builder
            .build()
            .map_err(|e| SnError::Unreachable(format!("cannot set up the HTTP client: {e}")))?;
        let key = format!("{host}:{port}");
        let permits = {
            let mut map = self
                .permits
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            map.entry(key)
                .or_insert_with(|| Arc::new(Semaphore::new(MAX_IN_FLIGHT)))
                .clone()
        };
        Ok(Client {
            http,
            base,
            auth,
            permits,
            timeout: self.policy.timeout,
        })
    }
}

async fn resolve(name: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, SnError> {
    let lookup = tokio::net::lookup_host((name, port));
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(timeout, lookup).await {
        Err(_) => return Err(SnError::Timeout(timeout.as_millis() as u64)),
        Ok(Err(e)) => return Err(SnError::Unreachable(format!("cannot resolve {name}: {e}"))),
        Ok(Ok(addrs)) => addrs.collect(),
    };
    if addrs.is_empty() {
        return Err(SnError::Unreachable(format!("{name} has no address")));
    }
    Ok(addrs)
}

/// A query on one table: `sysparm_query`, `sysparm_fields`, `sysparm_limit`, `sysparm_offset`.
#[derive(Clone, Debug, Default)]
pub struct TableQuery {
    pub query: Option<String>,
    pub fields: Vec<String>,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// One instance, one API user.
pub struct Client {
    http: reqwest::Client,
    base: Url,
    auth: Auth,
    permits: Arc<Semaphore>,
    timeout: Duration,
}

/// An answer read whole (within [`MAX_BODY`]).
struct Answer {
    status: reqwest::StatusCode,
    /// The body as JSON, when it says it is JSON and parses.
    parsed: Option<Value>,
    retry_after: Option<u64>,
}

impl Client {
    /// The instance's origin, e.g. `https://acme.service-now.com/`.
    pub fn instance(&self) -> &str {
        self.base.as_str()
    }

    fn table_url(&self, table: &str, sys_id: Option<&str>) -> Result<Url, SnError> {
        let mut url = self.base.clone();
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|_| SnError::Refused("the instance URL cannot take a path".into()))?;
            segments.clear().extend(["api", "now", "table", table]);
            if let Some(id) = sys_id {
                segments.push(id);
            }
        }
        // Reference fields as plain sys_ids, as the webhook sends them.
        url.query_pairs_mut()
            .append_pair("sysparm_exclude_reference_link", "true");
        Ok(url)
    }

    /// One page of a table.
    pub async fn list(&self, table: &str, query: &TableQuery) -> Result<Vec<Record>, SnError> {
        let mut url = self.table_url(table, None)?;
        {
            let mut pairs = url.query_pairs_mut();
            if let Some(q) = &query.query {
                pairs.append_pair("sysparm_query", q);
            }
            if !query.fields.is_empty() {
                pairs.append_pair("sysparm_fields", &query.fields.join(","));
            }
            if let Some(limit) = query.limit {
                pairs.append_pair("sysparm_limit", &limit.to_string());
            }
            if let Some(offset) = query.offset {
                pairs.append_pair("sysparm_offset", &offset.to_string());
            }
        }
        let result = self.send(table, self.http.get(url)).await?;
        match result {
            Value::Array(rows) => Ok(rows
                .into_iter()
                .filter_map(|row| match row {
                    Value::Object(map) => Some(map),
                    _ => None,
                })
                .collect()),
            _ => Err(SnError::NotServiceNow),
        }
    }

    /// Every row matching the query, page by page, up to `max_rows`.
    pub async fn list_all(
        &self,
        table: &str,
        query: &TableQuery,
        page_size: u32,
        max_rows: usize,
    ) -> Result<Vec<Record>, SnError> {
        let mut rows = Vec::new();
        let mut offset = query.offset.unwrap_or(0);
        loop {
            let page = self
                .list(
                    table,
                    &TableQuery {
                        limit: Some(page_size),
                        offset: Some(offset),
                        ..query.clone()
                    },
                )
                .await?;
            let len = page.len();
            rows.extend(page);
            if len < page_size as usize || rows.len() >= max_rows {
                rows.truncate(max_rows);
                return Ok(rows);
            }
            offset = offset.saturating_add(page_size);
        }
    }

    pub async fn get(&self, table: &str, sys_id: &str, fields: &[&str]) -> Result<Record, SnError> {
        let mut url = self.table_url(table, Some(sys_id))?;
        if !fields.is_empty() {
            url.query_pairs_mut()
                .append_pair("sysparm_fields", &fields.join(","));
        }
        object(self.send(table, self.http.get(url)).await?)
    }

    pub async fn patch(&self, table: &str, sys_id: &str, body: &Value) -> Result<Record, SnError> {
        let url = self.table_url(table, Some(sys_id))?;
        object(self.send(table, self.http.patch(url).json(body)).await?)
    }

    /// Sends one request and returns the `result` of its answer. With OAuth, a 401 renews the
    /// access token once and sends the request once more.
    async fn send(&self, table: &str, request: reqwest::RequestBuilder) -> Result<Value, SnError> {
        let Auth::Bearer(source) = &self.auth else {
            return self.send_once(table, request, None).await;
        };
        let again = request.try_clone();
        let token = source.token(self).await?;
        match self.send_once(table, request, Some(&token)).await {
            Err(SnError::Unauthorized) => {
                let Some(again) = again else {
                    return Err(SnError::Unauthorized);
                };
                let fresh = source.rejected(self, &token).await?;
                match self.send_once(table, again, Some(&fresh)).await {
                    Err(SnError::Unauthorized) => Err(source
                        .refused_again(
                            "the Table API refused a token the instance had just issued (401): \
                             check the OAuth application user's roles"
                                .into(),
                        )
                        .await),
                    other => other,
                }
            }
            other => other,
        }
    }

    /// One attempt of a Table API request, signed with `bearer` or the basic credentials.
    async fn send_once(
        &self,
        table: &str,
        request: reqwest::RequestBuilder,
        bearer: Option<&SecretString>,
    ) -> Result<Value, SnError> {
        let request = match (&self.auth, bearer) {
            (_, Some(token)) => request.bearer_auth(token.expose_secret()),
            (Auth::Basic { username, password }, None) => {
                request.basic_auth(username, Some(password.expose_secret()))
            }
            (Auth::Bearer(_), None) => request,
        };
        let request = request.header(reqwest::header::ACCEPT, "application/json");
        let Answer {
            status,
            parsed,
            retry_after,
        } = self.exchange(request).await?;
        match status.as_u16() {
            200..=299 => match parsed {
                Some(Value::Object(mut map)) => map.remove("result").ok_or(SnError::NotServiceNow),
                _ => Err(SnError::NotServiceNow),
            },
            401 => Err(SnError::Unauthorized),
            403 => Err(SnError::Forbidden {
                table: table.to_string(),
            }),
            404 => Err(SnError::NotFound),
            429 => Err(SnError::RateLimited { retry_after }),
            code if (300..400).contains(&code) => Err(SnError::Server {
                status: code,
                message: "redirect not followed (is the instance URL right?)".into(),
            }),
            code => Err(SnError::Server {
                status: code,
                message: parsed.as_ref().and_then(error_message).unwrap_or_else(|| {
                    status
                        .canonical_reason()
                        .unwrap_or("unexpected answer")
                        .to_string()
                }),
            }),
        }
    }

    /// `POST {instance}/{path}` with a form-encoded body (which may hold secrets): the status
    /// and the JSON answer, if it is JSON.
    pub(super) async fn post_form(
        &self,
        path: &str,
        body: SecretString,
    ) -> Result<(u16, Option<Value>), SnError> {
        let url = self
            .base
            .join(path)
            .map_err(|_| SnError::Refused("the instance URL cannot take a path".into()))?;
        let request = self
            .http
            .post(url)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body.expose_secret().to_string());
        let answer = self.exchange(request).await?;
        Ok((answer.status.as_u16(), answer.parsed))
    }

    /// Sends a request under the instance's permit and reads the whole answer.
    async fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Answer, SnError> {
        // Held until the body is read: the instance is busy until then.
        // Waiting for a permit counts against the request timeout: a busy instance must not
        // hold a caller forever.
        let _permit = tokio::time::timeout(self.timeout, self.permits.acquire())
            .await
            .map_err(|_| SnError::Timeout(self.timeout.as_millis() as u64))?
            .map_err(|_| SnError::Unreachable("the client is shutting down".into()))?;
        let mut response = request.send().await.map_err(|e| self.transport(e))?;
        let status = response.status();
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
        let retry_after = retry_after(response.headers(), chrono::Utc::now());
        if response
            .content_length()
            .is_some_and(|len| len > MAX_BODY as u64)
        {
            return Err(SnError::TooLarge);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.transport(e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(SnError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let parsed: Option<Value> = if is_json {
            serde_json::from_slice(&body).ok()
        } else {
            None
        };
        Ok(Answer {
            status,
            parsed,
            retry_after,
        })
    }

    fn transport(&self, e: reqwest::Error) -> SnError {
        if e.is_timeout() {
            SnError::Timeout(self.timeout.as_millis() as u64)
        } else if e.is_connect() {
            SnError::Unreachable(format!("cannot connect to {}", self.base))
        } else {
            SnError::Unreachable(format!("the connection to {} failed", self.base))
        }
    }
}

/// Longest wait a 429 may ask for; a larger one is taken as this.
const MAX_RETRY_AFTER: u64 = 3600;

/// Seconds a 429 asks us to wait: `Retry-After` as seconds or an HTTP date, else
/// `X-RateLimit-Reset` (the epoch second the limit resets, as ServiceNow's rate limiter sends).
fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<u64> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let until = |at: i64| u64::try_from(at.saturating_sub(now.timestamp())).unwrap_or(0);
    let seconds = if let Some(v) = header("retry-after") {
        match v.parse::<u64>() {
            Ok(s) => Some(s),
            Err(_) => chrono::DateTime::parse_from_rfc2822(v)
                .ok()
                .map(|at| until(at.timestamp())),
        }
    } else {
        None
    };
    let seconds = seconds.or_else(|| {
        header("x-ratelimit-reset")
            .and_then(|v| v.parse::<i64>().ok())
            .map(until)
    });
    seconds.map(|s| s.min(MAX_RETRY_AFTER))
}

fn object(value: Value) -> Result<Record, SnError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(SnError::NotServiceNow),
    }
}

/// `{"error":{"message","detail"},"status":"failure"}` → "message: detail".
fn error_message(body: &Value) -> Option<String> {
    let error = body.get("error")?;
    let message = error.get("message")?.as_str()?.trim();
    let message: String = message.chars().take(300).collect();
    match error.get("detail").and_then(Value::as_str).map(str::trim) {
        Some(detail) if !detail.is_empty() => {
            let detail: String = detail.chars().take(300).collect();
            Some(format!("{message}: {detail}"))
        }
        _ => Some(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn policy() -> Policy {
        Policy::default()
    }

    #[test]
    fn urls_under_service_now_are_accepted_and_normalised() {
        let url = policy()
            .check_url("https://acme.service-now.com/")
            .map(|u| u.to_string());
        assert_eq!(url.ok().as_deref(), Some("https://acme.service-now.com/"));
    }

    #[test]
    fn other_hosts_http_and_paths_are_refused() {
        for bad in [
            "http://acme.service-now.com",
            "https://evil.com",
            "https://service-now.com.evil.com",
            "https://user:pw@acme.service-now.com",
            "https://acme.service-now.com/api?x=1",
            "ftp://acme.service-now.com",
            "not a url",
        ] {
            assert!(policy().check_url(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn listed_hosts_are_accepted() {
        let p = Policy {
            allowed_hosts: vec!["sn.example.org".into()],
            ..Policy::default()
        };
        assert!(p.check_url("https://SN.example.org").is_ok());
        assert!(p.check_url("https://other.example.org").is_err());
    }

    #[test]
    fn internal_addresses_are_refused() {
        let p = policy();
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            let addr: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert!(p.check_ip(addr).is_err(), "{ip} should be refused");
        }
        assert!(p.check_ip(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8))).is_ok());
    }

    #[test]
    fn insecure_mode_allows_loopback_but_never_metadata() {
        let p = Policy {
            allow_insecure: true,
            ..Policy::default()
        };
        assert!(p.check_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)).is_ok());
        assert!(
            p.check_ip(IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)))
                .is_err()
        );
    }

    #[test]
    fn retry_after_reads_seconds_dates_and_the_reset_header() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-28T14:00:00Z")
            .map(|d| d.with_timezone(&chrono::Utc))
            .unwrap_or_default();
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h, now), None);
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(7));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sat, 28 Nov 2026 14:00:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(30));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sat, 28 Nov 2026 13:00:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(0), "a past date means now");
        let mut h = HeaderMap::new();
        let reset = (now.timestamp() + 12).to_string();
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&reset).unwrap_or(HeaderValue::from_static("0")),
        );
        assert_eq!(retry_after(&h, now), Some(12));
        h.insert("retry-after", HeaderValue::from_static("99999999"));
        assert_eq!(retry_after(&h, now), Some(MAX_RETRY_AFTER), "capped");
    }

    #[test]
    fn error_bodies_become_messages() {
        let body = serde_json::json!({"error":{"message":"Invalid table x","detail":null},"status":"failure"});
        assert_eq!(error_message(&body).as_deref(), Some("Invalid table x"));
    }
}
