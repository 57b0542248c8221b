//! The HTTP side: Table API handlers, basic auth, fault injection and the admin endpoints.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::BoxBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::faults::{FaultMode, Faults, HIBERNATE_PAGE};
use crate::oauth::OAuth;
use crate::query::Query;
use crate::store::{Record, RequestRecord, SimState, SnError, record_from_json, reference_table};

/// How a simulator instance is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    pub user: String,
    pub password: String,
    /// Where the incident business rule posts.
    pub webhooks: Vec<String>,
    /// Tables the integration user may not read (answers 403).
    pub denied_tables: Vec<String>,
    /// Wait before the business rule posts. An async rule runs from the scheduler after the transaction, so a
    /// client can see its own API answer before, or after, the webhook that the change triggers.
    pub business_rule_delay: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            user: "glidepath".into(),
            password: "glidepath-secret".into(),
            webhooks: Vec::new(),
            denied_tables: Vec::new(),
            business_rule_delay: Duration::ZERO,
        }
    }
}

pub(crate) struct AppCtx {
    pub(crate) state: SimState,
    /// Table API authentication and the OAuth token endpoint.
    oauth: Arc<OAuth>,
}

/// The parsed request body, left on the request so the logging layer can record it.
struct LoggedBody(Value);

pub struct Simulator;

/// A started simulator; dropping it leaves the server running until the runtime ends, `stop` ends it.
pub struct RunningSimulator {
    addr: SocketAddr,
    state: SimState,
    server: actix_web::dev::ServerHandle,
    server_task: JoinHandle<std::io::Result<()>>,
    proxy_task: JoinHandle<()>,
    oauth: Arc<OAuth>,
}

impl Simulator {
    /// Binds and starts serving; must be called inside a Tokio runtime.
    pub async fn start(config: Config) -> std::io::Result<RunningSimulator> {
        let public = TcpListener::bind(config.listen).await?;
        let addr = public.local_addr()?;
        let backend = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let backend_addr = backend.local_addr()?;
        let state = SimState::new(
            format!("http://{addr}/"),
            config.webhooks.clone(),
            config.denied_tables.clone(),
            config.business_rule_delay,
        );
        let oauth = Arc::new(OAuth::new(&config.user, &config.password));
        let ctx = web::Data::new(AppCtx {
            state: state.clone(),
            oauth: Arc::clone(&oauth),
        });
        let oauth_data = web::Data::new(Arc::clone(&oauth));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(ctx.clone())
                .app_data(oauth_data.clone())
                .wrap_fn(fault_layer)
                .configure(crate::oauth::routes)
                .route("/__sim/faults", web::post().to(set_faults))
                .route("/__sim/faults", web::get().to(get_faults))
                .route("/__sim/requests", web::get().to(get_requests))
                .route("/__sim/deliveries", web::get().to(get_deliveries))
                .route(
                    "/__sim/update_sets",
                    web::post().to(crate::update_set::import_handler),
                )
                .route("/api/now/table/{table}", web::get().to(list_records))
                .route("/api/now/table/{table}", web::post().to(create_record))
                .route("/api/now/table/{table}/{sys_id}", web::get().to(get_record))
                .route(
                    "/api/now/table/{table}/{sys_id}",
                    web::patch().to(update_record),
                )
                .route(
                    "/api/now/table/{table}/{sys_id}",
                    web::put().to(update_record),
                )
                .default_service(web::to(no_resource))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(backend)?
        .run();
        let handle = server.handle();
        let server_task = tokio::spawn(server);
        let proxy_task = tokio::spawn(accept_loop(public, backend_addr, state.clone()));
        Ok(RunningSimulator {
            addr,
            state,
            server: handle,
            server_task,
            proxy_task,
            oauth,
        })
    }
}

impl RunningSimulator {
    /// Base URL without a trailing slash, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> SimState {
        self.state.clone()
    }

    pub fn set_fault(&self, faults: Faults) {
        self.state.set_fault(faults);
    }

    /// The instance's OAuth: settings, token revocation, the token requests seen.
    pub fn oauth(&self) -> Arc<OAuth> {
        Arc::clone(&self.oauth)
    }

    pub async fn stop(self) {
        self.proxy_task.abort();
        self.server.stop(true).await;
        let _ = self.server_task.await;
    }
}

/// The public listener forwards bytes to the HTTP server so that a request can be dropped mid-connection,
/// which an HTTP framework cannot do from a handler.
async fn accept_loop(listener: TcpListener, backend: SocketAddr, state: SimState) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(pump(client, backend, state.clone()));
    }
}

async fn pump(mut client: TcpStream, backend: SocketAddr, state: SimState) {
    let Ok(mut server) = TcpStream::connect(backend).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let mut upstream = vec![0u8; 16 * 1024];
    let mut downstream = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            n = client_read.read(&mut upstream) => {
                let n = match n { Ok(0) | Err(_) => break, Ok(n) => n };
                if let Some(head) = request_head(&upstream[..n])
                    && !head.path.starts_with("/__sim")
                    && state.take_drop()
                {
                    state.log_request(RequestRecord {
                        method: head.method,
                        path: head.path,
                        query: head.query,
                        user: head.user,
                        body: None,
                        status: None,
                        fault: Some("drop".into()),
                        received_at: chrono::Utc::now(),
                    });
                    return;
                }
                if server_write.write_all(&upstream[..n]).await.is_err() { break; }
            }
            n = server_read.read(&mut downstream) => {
                let n = match n { Ok(0) | Err(_) => break, Ok(n) => n };
                if client_write.write_all(&downstream[..n]).await.is_err() { break; }
            }
        }
    }
}

struct RequestHead {
    method: String,
    path: String,
    query: String,
    user: Option<String>,
}

/// Recognises the start of a request in a chunk read from the client; body chunks yield `None`.
fn request_head(chunk: &[u8]) -> Option<RequestHead> {
    let text = String::from_utf8_lossy(chunk);
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?;
    let target = first.next()?;
    let version = first.next()?;
    if !version.starts_with("HTTP/")
        || !method.bytes().all(|b| b.is_ascii_uppercase())
        || !target.starts_with('/')
    {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let user = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .and_then(|(_, value)| basic_credentials(value.trim()))
        .map(|(user, _)| user);
    Some(RequestHead {
        method: method.into(),
        path: path.into(),
        query: query.into(),
        user,
    })
}

fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

type LayerFuture =
    Pin<Box<dyn Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>>>>;

fn fault_layer<S>(req: ServiceRequest, srv: &S) -> LayerFuture
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>,
    S::Future: 'static,
{
    let app = req.app_data::<web::Data<AppCtx>>();
    let state = app.map(|ctx| ctx.state.clone());
    let user = app.and_then(|ctx| ctx.oauth.request_user(req.headers()));
    let path = req.path().to_string();
    let Some(state) = state.filter(|_| !path.starts_with("/__sim")) else {
        let fut = srv.call(req);
        return Box::pin(fut);
    };
    let method = req.method().to_string();
    let query = req.query_string().to_string();
    let (latency, mode) = state.take_http_fault();
    let early = match mode {
        FaultMode::Error => {
            let faults = state.faults();
            let status =
                StatusCode::from_u16(faults.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let err = SnError::new(
                status.as_u16(),
                status.canonical_reason().unwrap_or("Server Error"),
                None,
            );
            Some((error_response(&err), "error"))
        }
        FaultMode::RateLimit => {
            let retry = state.faults().retry_after_secs;
            let reset = chrono::Utc::now().timestamp() + retry as i64;
            let err = SnError::new(
                429,
                "Too Many Requests",
                Some("Rate limit of the inbound REST API rule exceeded".into()),
            );
            let resp = HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, retry.to_string()))
                .insert_header(("X-RateLimit-Reset", reset.to_string()))
                .insert_header(("X-RateLimit-Limit", "60"))
                .json(err.body());
            Some((resp, "rate_limit"))
        }
        FaultMode::Hibernate => {
            let resp = HttpResponse::Ok()
                .content_type("text/html; charset=UTF-8")
                .body(HIBERNATE_PAGE);
            Some((resp, "hibernate"))
        }
        FaultMode::None | FaultMode::Drop => None,
    };
    let mut entry = RequestRecord {
        method,
        path,
        query,
        user,
        body: None,
        status: None,
        fault: None,
        received_at: chrono::Utc::now(),
    };
    match early {
        Some((resp, label)) => {
            entry.status = Some(resp.status().as_u16());
            entry.fault = Some(label.into());
            let res = req.into_response(resp);
            Box::pin(async move {
                tokio::time::sleep(latency).await;
                state.log_request(entry);
                Ok(res)
            })
        }
        None => {
            let fut = srv.call(req);
            Box::pin(async move {
                tokio::time::sleep(latency).await;
                let res = fut.await?;
                entry.status = Some(res.status().as_u16());
                entry.body = res
                    .request()
                    .extensions()
                    .get::<LoggedBody>()
                    .map(|b| b.0.clone());
                state.log_request(entry);
                Ok(res)
            })
        }
    }
}

pub(crate) fn error_response(err: &SnError) -> HttpResponse {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = HttpResponse::build(status);
    if err.status == 401 {
        resp.insert_header((header::WWW_AUTHENTICATE, "BASIC realm=\"Service-now\""));
    }
    resp.json(err.body())
}

fn authenticate(req: &HttpRequest, ctx: &AppCtx) -> Result<String, SnError> {
    ctx.oauth.authenticate(req.headers())
}

struct Params {
    fields: Option<Vec<String>>,
    exclude_reference_link: bool,
    query: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
}

fn params(req: &HttpRequest) -> Result<Params, SnError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| SnError::new(400, "Invalid query string", Some(e.to_string())))?
        .into_inner();
    let mut p = Params {
        fields: None,
        exclude_reference_link: false,
        query: None,
        limit: None,
        offset: None,
    };
    for (k, v) in pairs {
        match k.as_str() {
            "sysparm_fields" => {
                p.fields = Some(
                    v.split(',')
                        .map(|f| f.trim().to_string())
                        .filter(|f| !f.is_empty())
                        .collect(),
                )
            }
            "sysparm_exclude_reference_link" => {
                p.exclude_reference_link = v.eq_ignore_ascii_case("true")
            }
            "sysparm_query" => p.query = Some(v),
            "sysparm_limit" => p.limit = Some(v),
            "sysparm_offset" => p.offset = Some(v),
            _ => {}
        }
    }
    Ok(p)
}

fn parse_count(name: &str, value: Option<&str>, default: usize) -> Result<usize, SnError> {
    match value {
        None => Ok(default),
        Some(v) => v.trim().parse::<usize>().map_err(|_| {
            SnError::new(
                400,
                format!("Invalid value for {name}"),
                Some(format!("'{v}' is not a number")),
            )
        }),
    }
}

/// Renders a record as the Table API does with `sysparm_display_value=false`: strings, and reference
/// fields as `{link, value}` unless `sysparm_exclude_reference_link=true`.
fn render(state: &SimState, table: &str, record: &Record, p: &Params) -> Value {
    let mut obj = serde_json::Map::new();
    let selected: Box<dyn Iterator<Item = (&String, &String)>> = match &p.fields {
        Some(fields) => Box::new(fields.iter().filter_map(|f| record.get_key_value(f))),
        None => Box::new(record.iter()),
    };
    for (k, v) in selected {
        let value = match reference_table(table, k) {
            Some(target) if !p.exclude_reference_link && !v.is_empty() => json!({
                "link": format!("{}api/now/table/{target}/{v}", state.base_url()),
                "value": v,
            }),
            _ => Value::String(v.clone()),
        };
        obj.insert(k.clone(), value);
    }
    Value::Object(obj)
}

fn parse_body(req: &HttpRequest, body: &[u8]) -> Result<Record, SnError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        SnError::new(
            400,
            "Exception while reading request",
            Some(format!("The payload is not valid JSON: {e}")),
        )
    })?;
    req.extensions_mut().insert(LoggedBody(value.clone()));
    record_from_json(&value)
}

fn check_table(table: &str) -> Result<(), SnError> {
    if crate::store::TABLES.contains(&table) {
        Ok(())
    } else {
        Err(SnError::invalid_table(table))
    }
}

fn respond(result: Result<HttpResponse, SnError>) -> HttpResponse {
    result.unwrap_or_else(|e| error_response(&e))
}

async fn list_records(
    req: HttpRequest,
    path: web::Path<String>,
    ctx: web::Data<AppCtx>,
) -> HttpResponse {
    respond((|| {
        authenticate(&req, &ctx)?;
        let table = path.into_inner();
        check_table(&table)?;
        ctx.state.check_read_acl(&table)?;
        let p = params(&req)?;
        let query = Query::parse(p.query.as_deref().unwrap_or(""))
            .map_err(|e| SnError::new(400, "Invalid query", Some(e)))?;
        let limit = parse_count("sysparm_limit", p.limit.as_deref(), 10_000)?;
        let offset = parse_count("sysparm_offset", p.offset.as_deref(), 0)?;
        let page = ctx.state.list(&table, &query, offset, limit)?;
        let result: Vec<Value> = page
            .records
            .iter()
            .map(|r| render(&ctx.state, &table, r, &p))
            .collect();
        Ok(HttpResponse::Ok()
            .insert_header(("X-Total-Count", page.total.to_string()))
            .json(json!({ "result": result })))
    })())
}

async fn get_record(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    ctx: web::Data<AppCtx>,
) -> HttpResponse {
    respond((|| {
        authenticate(&req, &ctx)?;
        let (table, sys_id) = path.into_inner();
        check_table(&table)?;
        ctx.state.check_read_acl(&table)?;
        let p = params(&req)?;
        let record = ctx.state.get(&table, &sys_id)?;
        Ok(HttpResponse::Ok().json(json!({ "result": render(&ctx.state, &table, &record, &p) })))
    })())
}

async fn create_record(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    ctx: web::Data<AppCtx>,
) -> HttpResponse {
    respond((|| {
        let user = authenticate(&req, &ctx)?;
        let table = path.into_inner();
        check_table(&table)?;
        let p = params(&req)?;
        let fields = parse_body(&req, &body)?;
        let record = ctx.state.insert(&table, &fields, &user)?;
        let sys_id = record.get("sys_id").cloned().unwrap_or_default();
        Ok(HttpResponse::Created()
            .insert_header((
                header::LOCATION,
                format!("{}api/now/table/{table}/{sys_id}", ctx.state.base_url()),
            ))
            .json(json!({ "result": render(&ctx.state, &table, &record, &p) })))
    })())
}

async fn update_record(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    ctx: web::Data<AppCtx>,
) -> HttpResponse {
    respond((|| {
        let user = authenticate(&req, &ctx)?;
        let (table, sys_id) = path.into_inner();
        check_table(&table)?;
        let p = params(&req)?;
        let fields = parse_body(&req, &body)?;
        let record = ctx.state.update(&table, &sys_id, &fields, &user)?;
        Ok(HttpResponse::Ok().json(json!({ "result": render(&ctx.state, &table, &record, &p) })))
    })())
}

async fn no_resource() -> HttpResponse {
    error_response(&SnError::new(
        400,
        "Requested URI does not represent any resource",
        None,
    ))
}

async fn set_faults(body: web::Bytes, ctx: web::Data<AppCtx>) -> HttpResponse {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(faults) => {
            ctx.state.set_fault(faults.clone());
            HttpResponse::Ok().json(faults)
        }
        Err(e) => error_response(&SnError::new(
            400,
            "Invalid fault settings",
            Some(e.to_string()),
        )),
    }
}

async fn get_faults(ctx: web::Data<AppCtx>) -> HttpResponse {
    HttpResponse::Ok().json(ctx.state.faults())
}

async fn get_requests(ctx: web::Data<AppCtx>) -> HttpResponse {
    HttpResponse::Ok().json(ctx.state.requests())
}

async fn get_deliveries(ctx: web::Data<AppCtx>) -> HttpResponse {
    HttpResponse::Ok().json(ctx.state.deliveries())
}
