//! Configuration: one struct, read from flags or `GLIDEPATH_*` environment variables (clap's `env`).

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;
use url::Url;

#[derive(Parser, Debug)]
#[command(
    name = "glidepath",
    version,
    about = "On-call alerting for teams that run on ServiceNow"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run migrations, then serve HTTP (the default when no command is given).
    Serve(Box<ServeConfig>),
    /// Run the database migrations and exit.
    Migrate(DatabaseConfig),
    /// Print the GraphQL schema (SDL) and exit.
    Schema,
    /// Re-encrypt every stored secret under GLIDEPATH_SECRET_KEY (the current key), opening
    /// them with it or with GLIDEPATH_SECRET_KEY_PREVIOUS; run it once while rotating the key.
    RotateSecrets(RotateSecretsConfig),
}

#[derive(Args, Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` (created if missing) or `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long,
        env = "GLIDEPATH_DATABASE_URL",
        default_value = "sqlite://glidepath.db"
    )]
    pub database_url: String,
}

/// The key that encrypts secrets at rest, and the keys being rotated away from.
#[derive(Args, Debug, Clone)]
pub struct SecretKeyConfig {
    /// Key that encrypts secrets at rest: 32 bytes as base64 or 64 hex digits. Every process
    /// sharing a database needs the same one.
    #[arg(long, env = "GLIDEPATH_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<SecretString>,

    /// Where the key is kept when GLIDEPATH_SECRET_KEY is not set; created (0600) if missing.
    #[arg(
        long,
        env = "GLIDEPATH_SECRET_KEY_FILE",
        default_value = "glidepath.key"
    )]
    pub secret_key_file: std::path::PathBuf,

    /// During a key rotation: the previous key(s), comma-separated, which still decrypt what
    /// `glidepath rotate-secrets` has not re-encrypted yet. Never used to encrypt.
    #[arg(long, env = "GLIDEPATH_SECRET_KEY_PREVIOUS", hide_env_values = true)]
    pub secret_key_previous: Option<SecretString>,
}

impl SecretKeyConfig {
    pub fn cipher(&self) -> anyhow::Result<crate::secrets::Cipher> {
        crate::secrets::Cipher::load(
            self.secret_key.as_ref(),
            &self.secret_key_file,
            self.secret_key_previous.as_ref(),
        )
    }
}

/// `glidepath rotate-secrets`: the database and the keys.
#[derive(Args, Debug, Clone)]
pub struct RotateSecretsConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,

    #[command(flatten)]
    pub keys: SecretKeyConfig,
}

#[derive(Args, Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "GLIDEPATH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    #[command(flatten)]
    pub database: DatabaseConfig,

    /// Base URL used to build webhook URLs; default `http://` + the bound address.
    #[arg(long, env = "GLIDEPATH_PUBLIC_URL")]
    pub public_url: Option<Url>,

    /// E-mail of the admin created when the database has no user yet.
    #[arg(long, env = "GLIDEPATH_ADMIN_EMAIL", default_value = "admin@localhost")]
    pub admin_email: String,

    /// Password of that admin; when absent a random one is generated and logged once.
    #[arg(long, env = "GLIDEPATH_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<SecretString>,

    #[command(flatten)]
    pub keys: SecretKeyConfig,

    /// A test setting: escalation timeouts (and the grace period of a rotated integration key)
    /// pass this many times faster (60 = a minute of timeout per second). Timestamps stay real.
    #[arg(long, env = "GLIDEPATH_TIME_SCALE", default_value_t = 1.0)]
    pub time_scale: f64,

    /// SMTP server for e-mail notifications: `smtp://host:port` (STARTTLS with
    /// `?tls=required`), `smtps://host:port`, credentials as `smtp://user:pass@host`. Without it,
    /// e-mail notifications are not sent and the alert log says so.
    #[arg(long, env = "GLIDEPATH_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<SecretString>,

    /// The From of notification e-mails.
    #[arg(
        long,
        env = "GLIDEPATH_SMTP_FROM",
        default_value = "Glidepath <glidepath@localhost>"
    )]
    pub smtp_from: String,

    /// Hosts of ServiceNow instances allowed besides those under service-now.com
    /// (comma-separated, e.g. a vanity domain or an on-premise instance).
    #[arg(long, env = "GLIDEPATH_SERVICENOW_HOSTS", value_delimiter = ',')]
    pub servicenow_hosts: Vec<String>,

    /// Allows plain http and loopback or private addresses for ServiceNow instances: for tests
    /// and labs only.
    /// The former name of `GLIDEPATH_ALLOW_INSECURE_OUTBOUND`, still honoured.
    #[arg(long, env = "GLIDEPATH_ALLOW_INSECURE_SERVICENOW")]
    pub allow_insecure_servicenow: bool,

    /// Allows plain http and loopback or private addresses for every outbound request
    /// (ServiceNow instances and notification webhooks): for tests and labs only. Link-local
    /// and metadata addresses stay refused.
    #[arg(long, env = "GLIDEPATH_ALLOW_INSECURE_OUTBOUND")]
    pub allow_insecure_outbound: bool,

    /// Hosts notification webhooks may reach although they resolve to loopback, private or
    /// carrier-grade NAT addresses (comma-separated): an internal chat server, say.
    #[arg(long, env = "GLIDEPATH_WEBHOOK_HOSTS", value_delimiter = ',')]
    pub webhook_hosts: Vec<String>,

    /// Timeout of each webhook delivery (connect and answer), in milliseconds.
    #[arg(long, env = "GLIDEPATH_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,

    /// Allows SMTP credentials in `GLIDEPATH_SMTP_URL` over a connection that is not
    /// encrypted (`smtp://user:pass@host` without `?tls=required`); refused otherwise.
    #[arg(long, env = "GLIDEPATH_SMTP_ALLOW_PLAINTEXT_CREDENTIALS")]
    pub smtp_allow_plaintext_credentials: bool,

    /// Timeout of each request to a ServiceNow instance (connect and answer), in milliseconds.
    #[arg(
        long,
        env = "GLIDEPATH_SERVICENOW_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub servicenow_timeout_ms: u64,

    /// How long a browser session lasts after sign-in, in seconds (default 7 days).
    #[arg(long, env = "GLIDEPATH_SESSION_SECONDS", default_value_t = 7 * 24 * 3600)]
    pub session_seconds: u64,

    /// How often expired sessions and API tokens are deleted from the database, in seconds.
    /// (An expired one never authenticates, whether deleted yet or not.)
    #[arg(long, env = "GLIDEPATH_TOKEN_CLEANUP_SECONDS", default_value_t = 3600)]
    pub token_cleanup_seconds: u64,

    /// How often the journals (work notes, comments) of open alerts are read from ServiceNow,
    /// in seconds.
    #[arg(
        long,
        env = "GLIDEPATH_SERVICENOW_JOURNAL_POLL_SECONDS",
        default_value_t = 60
    )]
    pub servicenow_journal_poll_seconds: u64,

    /// Wait before the first retry of a failed ServiceNow update, in milliseconds; it doubles
    /// with each attempt (with jitter) up to GLIDEPATH_SERVICENOW_SYNC_BACKOFF_MAX_MS.
    #[arg(
        long,
        env = "GLIDEPATH_SERVICENOW_SYNC_BACKOFF_MS",
        default_value_t = 2_000
    )]
    pub servicenow_sync_backoff_ms: u64,

    /// Longest wait between two attempts of a ServiceNow update, in milliseconds.
    #[arg(
        long,
        env = "GLIDEPATH_SERVICENOW_SYNC_BACKOFF_MAX_MS",
        default_value_t = 300_000
    )]
    pub servicenow_sync_backoff_max_ms: u64,

    /// Attempts after which a ServiceNow update that keeps failing is marked FAILED.
    #[arg(
        long,
        env = "GLIDEPATH_SERVICENOW_SYNC_MAX_ATTEMPTS",
        default_value_t = 20
    )]
    pub servicenow_sync_max_attempts: u32,

    /// Seconds between two reconciliation polls of each ServiceNow connection (incidents whose
    /// webhook never arrived); 0 turns the poll off.
    #[arg(long, env = "GLIDEPATH_SERVICENOW_POLL_SECONDS", default_value_t = 300)]
    pub servicenow_poll_seconds: u64,

    /// Incidents read per request by the reconciliation poll.
    #[arg(
        long,
        env = "GLIDEPATH_SERVICENOW_POLL_PAGE_SIZE",
        default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub servicenow_poll_page_size: u32,

    /// Requests per reconciliation poll at most; a larger backlog continues at the next poll
    /// exactly where this one stopped.
    #[arg(
        long,
        env = "GLIDEPATH_SERVICENOW_POLL_MAX_PAGES",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..=100)
    )]
    pub servicenow_poll_max_pages: u32,

    /// Longest time a request body may take to arrive, in milliseconds (also the deadline for
    /// the request head); a slower client gets 408 and its connection is closed.
    #[arg(long, env = "GLIDEPATH_BODY_TIMEOUT_MS", default_value_t = 10_000)]
    pub body_timeout_ms: u64,

    /// Concurrent connections each worker serves at most; further ones wait until one closes.
    #[arg(long, env = "GLIDEPATH_MAX_CONNECTIONS", default_value_t = 256)]
    pub max_connections: usize,

    /// HTTP worker threads; default one per CPU core.
    #[arg(long, env = "GLIDEPATH_WORKERS")]
    pub workers: Option<usize>,

    /// When set, `GET /metrics` requires `Authorization: Bearer <this token>`.
    #[arg(long, env = "GLIDEPATH_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<SecretString>,

    /// Serves the query page on `GET /graphql`; `false` answers 404 there instead.
    #[arg(long, env = "GLIDEPATH_GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    pub graphiql: bool,
    /// Sign-in attempts allowed per client address and minute (`login` beyond it answers
    /// TOO_MANY_REQUESTS without checking the password).
    #[arg(
        long,
        env = "GLIDEPATH_LOGIN_ATTEMPTS_PER_MINUTE",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub login_attempts_per_minute: u32,

    /// After 10 failed sign-ins to one account within 15 minutes, every sign-in to it fails
    /// (with the usual "invalid email or password") for this many seconds.
    #[arg(long, env = "GLIDEPATH_LOGIN_LOCKOUT_SECONDS", default_value_t = 900)]
    pub login_lockout_seconds: u64,

    /// Password hashes (argon2id, 19 MiB each) computed at once; 0 = the number of CPU cores.
    #[arg(long, env = "GLIDEPATH_PASSWORD_HASH_WORKERS", default_value_t = 0)]
    pub password_hash_workers: usize,

    /// Password hashes that may wait for a worker; beyond that a sign-in answers
    /// TOO_MANY_REQUESTS (HTTP 429) at once.
    #[arg(long, env = "GLIDEPATH_PASSWORD_HASH_QUEUE", default_value_t = 32)]
    pub password_hash_queue: usize,

    /// Reverse proxies (comma-separated IPs or CIDRs) whose X-Forwarded-For names the client;
    /// from any other peer the header is ignored and the peer's address is the client's.
    #[arg(
        long,
        env = "GLIDEPATH_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_ip_net
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Starts a simulated ServiceNow instance beside the server and wires it to a demo alert
    /// source (SQLite `glidepath-demo.db` unless a database URL is given), then prints how to
    /// create an incident in it.
    #[arg(long)]
    pub demo: bool,
}

/// An address (`10.0.0.7`) or a network (`10.0.0.0/8`).
fn parse_ip_net(value: &str) -> Result<ipnet::IpNet, String> {
    let value = value.trim();
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{value:?} is neither an IP address nor a CIDR network"))
}

impl ServeConfig {
    /// The configuration `glidepath` runs with when no command is given: flags are absent, so
    /// every value comes from the environment or its default.
    pub fn from_env() -> ServeConfig {
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            serve: ServeConfig,
        }
        Only::parse_from(["glidepath"]).serve
    }
}
