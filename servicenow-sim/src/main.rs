use std::net::SocketAddr;

use clap::Parser;
use servicenow_sim::{Config, Simulator};

/// A simulated ServiceNow instance (Table API + incident business rule) for local testing.
#[derive(Debug, Parser)]
#[command(name = "servicenow-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SERVICENOW_SIM_LISTEN", default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// URL the incident business rule posts to; repeat for several.
    #[arg(
        long = "webhook",
        env = "SERVICENOW_SIM_WEBHOOKS",
        value_delimiter = ','
    )]
    webhooks: Vec<String>,
    /// Basic-auth user name of the integration user.
    #[arg(long, env = "SERVICENOW_SIM_USER", default_value = "glidepath")]
    user: String,
    /// Basic-auth password of the integration user.
    #[arg(
        long,
        env = "SERVICENOW_SIM_PASSWORD",
        default_value = "glidepath-secret"
    )]
    password: String,
    /// Table the integration user may not read; repeat for several.
    #[arg(long = "deny-table")]
    denied_tables: Vec<String>,
    /// Milliseconds the business rule waits before posting.
    #[arg(
        long,
        env = "SERVICENOW_SIM_BUSINESS_RULE_DELAY_MS",
        default_value_t = 0
    )]
    business_rule_delay_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let sim = Simulator::start(Config {
        listen: args.listen,
        user: args.user,
        password: args.password,
        webhooks: args.webhooks,
        denied_tables: args.denied_tables,
        business_rule_delay: std::time::Duration::from_millis(args.business_rule_delay_ms),
    })
    .await?;
    println!("listening on {}", sim.url());
    tokio::signal::ctrl_c().await?;
    sim.stop().await;
    Ok(())
}
