use std::io::Write;
use std::sync::Arc;

use clap::Parser;
use glidepath::clock::SystemClock;
use glidepath::config::{Cli, Command, ServeConfig};
use glidepath::service::Ctx;
use glidepath::{db::Db, demo, graphql, startup::Application, telemetry};

/// mimalloc: the server allocates many small, short-lived buffers per request (JSON values,
/// SQL text, rows) across threads, where it spends markedly less time than glibc's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    match cli
        .command
        .unwrap_or_else(|| Command::Serve(Box::new(ServeConfig::from_env())))
    {
        Command::Serve(mut config) => {
            // Kept alive while the server runs.
            let simulator = match config.demo {
                true => Some(demo::prepare(&mut config).await?),
                false => None,
            };
            let app = Application::build((*config).clone()).await?;
            // The one line on stdout: scripts and tests read the bound port from it.
            let mut out = std::io::stdout();
            writeln!(out, "listening on http://{}", app.addr())?;
            out.flush()?;
            tracing::info!(addr = %app.addr(), "glidepath started");
            if let Some(sim) = &simulator {
                demo::wire(&app, sim, &config).await?;
            }
            app.run_until_stopped().await?;
            if let Some(sim) = simulator {
                sim.stop().await;
            }
        }
        Command::Migrate(config) => {
            let db = Db::connect(&config.database_url).await?;
            db.migrate(&config.database_url).await?;
            tracing::info!("migrations applied");
        }
        Command::RotateSecrets(config) => {
            let cipher = config.keys.cipher()?;
            let db = Db::connect(&config.database.database_url).await?;
            db.migrate(&config.database.database_url).await?;
            let clock = Arc::new(SystemClock::new(1.0));
            let ctx = Ctx::with_defaults(db, Arc::new(cipher), clock);
            let done = glidepath::service::rekey::reencrypt_all(&ctx)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("rotating the secrets failed, nothing changed: {e:?}")
                })?;
            tracing::info!(
                reencrypted = done.reencrypted,
                already_current = done.current,
                "every stored secret is now encrypted with the current key"
            );
        }
        Command::Schema => {
            println!("{}", graphql::schema(None).sdl());
        }
    }
    Ok(())
}
