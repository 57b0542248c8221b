//! Builds the application: connects and migrates the database, creates the first admin, binds the
//! listener. `Application::build` then `run_until_stopped`; tests bind port 0 and read `port()`.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer, dev::Server, http::header, middleware, web};
use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::sync::Notify;
use url::Url;

use crate::clock::SystemClock;
use crate::config::ServeConfig;
use crate::db::Db;
use crate::engine::{
    Engine, ServiceNowWork, delivery::Sender, poll::PollSettings, sync::SyncWorker,
};
use crate::graphql::{self, AppSchema};
use crate::http;
use crate::service::passwords::HashQueue;
use crate::service::sync::RetryPolicy;
use crate::service::users;
use crate::service::{Ctx, Delivery};
use crate::servicenow::client::{Connector, Policy};
use crate::state::AppState;

pub struct Application {
    addr: std::net::SocketAddr,
    server: Server,
    ctx: Ctx,
    sender: Sender,
    servicenow: ServiceNowWork,
    poll: Option<PollSettings>,
    state: AppState,
    token_cleanup: std::time::Duration,
}

impl Application {
    pub async fn build(config: ServeConfig) -> anyhow::Result<Application> {
        let cipher = Arc::new(config.keys.cipher()?);
        if !(config.time_scale.is_finite() && config.time_scale >= 1.0) {
            anyhow::bail!("GLIDEPATH_TIME_SCALE must be a number of at least 1");
        }
        let insecure = config.allow_insecure_outbound || config.allow_insecure_servicenow;
        let webhook_guard = crate::net_guard::Guard {
            allowed_hosts: config.webhook_hosts.clone(),
            allow_insecure: insecure,
            timeout: std::time::Duration::from_millis(config.webhook_timeout_ms.max(1)),
        };
        let sender = Sender::new(
            config.smtp_url.as_ref(),
            &config.smtp_from,
            config.smtp_allow_plaintext_credentials,
            webhook_guard.clone(),
            Arc::clone(&cipher),
        )?;
        if config.smtp_url.is_none() {
            tracing::warn!(
                "GLIDEPATH_SMTP_URL is not set: e-mail notifications are logged on the alert, not sent"
            );
        }
        if config.time_scale != 1.0 {
            tracing::warn!(
                scale = config.time_scale,
                "GLIDEPATH_TIME_SCALE is set: escalation timeouts are shortened (a test setting)"
            );
        }
        if insecure {
            tracing::warn!(
                "GLIDEPATH_ALLOW_INSECURE_OUTBOUND is set: ServiceNow instances and webhooks may be plain http on loopback or private addresses (a test setting)"
            );
        }
        let db = Db::connect(&config.database.database_url).await?;
        db.migrate(&config.database.database_url).await?;
        let request_timeout = std::time::Duration::from_millis(config.servicenow_timeout_ms.max(1));
        let ctx = Ctx {
            db,
            cipher,
            servicenow: Arc::new(Connector::new(Policy {
                allowed_hosts: config.servicenow_hosts.clone(),
                allow_insecure: insecure,
                timeout: request_timeout,
            })),
            clock: Arc::new(SystemClock::new(config.time_scale)),
            sync_wake: Arc::new(Notify::new()),
            journal_wake: Arc::new(Notify::new()),
            delivery: Arc::new(Delivery {
                smtp_configured: config.smtp_url.is_some(),
                webhook_guard,
            }),
            passwords: Arc::new(HashQueue::new(
                config.password_hash_workers,
                config.password_hash_queue,
            )),
        };
        let sealed = crate::service::notifications::seal_plain_targets(&ctx)
            .await
            .map_err(|e| anyhow::anyhow!("cannot seal the notification targets: {e:?}"))?;
        if sealed > 0 {
            tracing::info!(
                sealed,
                "notification targets stored in clear are now sealed"
            );
        }
        if let Some(password) =
            users::bootstrap_admin(&ctx, &config.admin_email, config.admin_password.clone())
                .await
                .map_err(|e| anyhow::anyhow!("cannot create the first admin: {e:?}"))?
        {
            // Shown once, at the first start, so the operator can sign in and change it.
            tracing::warn!(
                email = %config.admin_email,
                "generated admin password: {}",
                password.expose_secret()
            );
        }

        let listener = TcpListener::bind(&config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let public_url = match config.public_url {
            Some(url) => url,
            None => Url::parse(&format!("http://{addr}"))?,
        };
        let sender = sender.with_public_url(public_url.clone());
        let state = AppState {
            ctx: ctx.clone(),
            public_url,
            metrics: http::metrics::install()?,
            body_timeout: std::time::Duration::from_millis(config.body_timeout_ms.max(1)),
            metrics_token: config.metrics_token.clone().map(Arc::new),
            graphiql: config.graphiql,
            session_ttl: std::time::Duration::from_secs(
                config.session_seconds.clamp(1, 10 * 365 * 24 * 3600),
            ),
            login_throttle: Arc::new(crate::service::auth::LoginThrottle::new(
                config.login_attempts_per_minute,
                config.login_lockout_seconds,
            )),
            trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        };
        let limits = crate::service::reconcile::PollLimits {
            page: config.servicenow_poll_page_size,
            max_pages: config.servicenow_poll_max_pages,
        };
        let ms =
            |v: u64| chrono::TimeDelta::milliseconds(i64::try_from(v.max(1)).unwrap_or(i64::MAX));
        let servicenow = ServiceNowWork {
            worker: SyncWorker {
                ctx: ctx.clone(),
                retry: RetryPolicy {
                    base: ms(config.servicenow_sync_backoff_ms),
                    cap: ms(config.servicenow_sync_backoff_max_ms),
                    max_attempts: i32::try_from(config.servicenow_sync_max_attempts.max(1))
                        .unwrap_or(i32::MAX),
                },
                request_timeout,
            },
            journal_interval: std::time::Duration::from_secs(
                config.servicenow_journal_poll_seconds.max(1),
            ),
        };
        let poll = (config.servicenow_poll_seconds > 0).then(|| PollSettings {
            interval: std::time::Duration::from_secs(config.servicenow_poll_seconds),
            lease: PollSettings::lease_for(request_timeout, limits),
            limits,
        });
        let schema = graphql::schema(Some(state.clone()));
        let limits = ServerLimits {
            max_connections: config.max_connections.max(1),
            workers: config.workers.filter(|&n| n > 0),
        };
        let server = build_server(listener, state.clone(), schema, limits)?;
        Ok(Application {
            addr,
            server,
            ctx,
            sender,
            servicenow,
            poll,
            state,
            token_cleanup: std::time::Duration::from_secs(config.token_cleanup_seconds.max(1)),
        })
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The state every handler sees: for setting things up in-process (`serve --demo`).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves HTTP and runs the escalation engine until the server stops (SIGINT or SIGTERM),
    /// then stops the engine between two steps.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let engine = Engine::spawn(
            self.ctx,
            self.sender,
            self.servicenow,
            self.poll,
            self.token_cleanup,
        );
        let result = self.server.await;
        engine.shutdown().await;
        result
    }
}

/// GLIDEPATH_MAX_CONNECTIONS and GLIDEPATH_WORKERS.
struct ServerLimits {
    max_connections: usize,
    workers: Option<usize>,
}

/// The Content-Security-Policy of every response: the UI's own script, style and wasm bundle
/// (`'wasm-unsafe-eval'` lets it compile), nothing inline, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn build_server(
    listener: TcpListener,
    state: AppState,
    schema: AppSchema,
    limits: ServerLimits,
) -> anyhow::Result<Server> {
    let body_timeout = state.body_timeout;
    let state = web::Data::new(state);
    let schema = web::Data::new(schema);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(middleware::Compress::default())
            .wrap(middleware::from_fn(http::metrics::track))
            .wrap(
                middleware::DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::REFERRER_POLICY, "no-referrer")),
            )
            .app_data(state.clone())
            .app_data(schema.clone())
            .route("/healthz", web::get().to(http::health::healthz))
            .route("/metrics", web::get().to(http::metrics::render))
            .route(
                "/api/v1/events/servicenow/{integration_key}",
                web::post().to(http::servicenow_webhook::receive),
            )
            .route(
                "/api/v1/schedules/{file}",
                web::get().to(http::calendar::schedule_feed),
            )
            .route(
                "/api/v1/users/{id}/shifts.ics",
                web::get().to(http::calendar::user_feed),
            )
            .service(
                web::resource("/graphql")
                    .route(web::post().to(http::graphql::execute))
                    .route(web::get().to(http::query_page::page)),
            )
            .service(
                web::resource("/act/{token}")
                    .route(web::get().to(http::action_link::show))
                    .route(web::post().to(http::action_link::perform)),
            )
            .route("/graphql/query.js", web::get().to(http::query_page::script))
            .route("/graphql/query.css", web::get().to(http::query_page::style))
            .default_service(web::to(http::assets::serve))
    })
    .max_connections(limits.max_connections)
    .client_request_timeout(body_timeout);
    let server = match limits.workers {
        Some(n) => server.workers(n),
        None => server,
    };
    let server = server.listen(listener)?.run();
    Ok(server)
}
