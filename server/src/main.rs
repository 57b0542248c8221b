use std::io::Write;

use clap::Parser;
use glidepath::config::{Cli, Command, ServeConfig};
use glidepath::{db::Db, graphql, startup::Application, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    match cli
        .command
        .unwrap_or_else(|| Command::Serve(Box::new(ServeConfig::from_env())))
    {
        Command::Serve(config) => {
            let app = Application::build(*config).await?;
            // The one line on stdout: scripts and tests read the bound port from it.
            let mut out = std::io::stdout();
            writeln!(out, "listening on http://{}", app.addr())?;
            out.flush()?;
            tracing::info!(addr = %app.addr(), "glidepath started");
            app.run_until_stopped().await?;
        }
        Command::Migrate(config) => {
            let db = Db::connect(&config.database_url).await?;
            db.migrate(&config.database_url).await?;
            tracing::info!("migrations applied");
        }
        Command::Schema => {
            println!("{}", graphql::schema(None).sdl());
        }
    }
    Ok(())
}
