//! `glidepath serve --demo`: the server with a simulated ServiceNow instance wired in, so a
//! newcomer can watch an incident become an alert (and follow its lifecycle) with no instance.
//!
//! The simulator runs in the same process (`servicenow-sim`). Before the server is built, the
//! configuration is adjusted: a demo SQLite file unless a database URL was given, a known admin
//! password unless one was given, and loopback plain-http instances allowed. After it is built,
//! an escalation policy (the admin at level 1), an alert source with a two-way connection to the
//! simulator, a simulator user with the admin's e-mail (so assignments map both ways), and the
//! simulator's business rule pointing at the source's webhook are set up (reused on later
//! starts). What Glidepath writes back (accept, work notes, resolve) can be read from the
//! simulator with the `curl` the demo prints.

use std::net::SocketAddr;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use servicenow_sim::{Config as SimConfig, RunningSimulator, Simulator};

use crate::config::ServeConfig;
use crate::domain::SourceId;
use crate::service::{
    policies,
    servicenow::{self, ConnectionInput},
    sources, users,
};
use crate::startup::Application;

const DEFAULT_DATABASE: &str = "sqlite://glidepath.db";
const DEMO_DATABASE: &str = "sqlite://glidepath-demo.db";
const DEMO_PASSWORD: &str = "glidepath-demo";
const SIM_USER: &str = "glidepath";
const SIM_PASSWORD: &str = "glidepath-secret";
const SOURCE_NAME: &str = "ServiceNow (demo simulator)";
const POLICY_NAME: &str = "Demo on-call";

/// Starts the simulator (on 127.0.0.1:8090, or a free port when that one is taken) and adjusts
/// the configuration for it.
pub async fn prepare(config: &mut ServeConfig) -> anyhow::Result<RunningSimulator> {
    if !is_loopback(&config.listen) {
        anyhow::bail!(
            "--demo listens on a loopback address only (it signs the admin in with a known \
             password and allows plain-http instances), not on {}: use --listen 127.0.0.1:8080",
            config.listen
        );
    }
    let mut sim_config = SimConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
        user: SIM_USER.into(),
        password: SIM_PASSWORD.into(),
        ..SimConfig::default()
    };
    let sim = match Simulator::start(sim_config.clone()).await {
        Ok(sim) => sim,
        Err(_) => {
            sim_config.listen.set_port(0);
            Simulator::start(sim_config)
                .await
                .context("cannot start the ServiceNow simulator")?
        }
    };
    if config.database.database_url == DEFAULT_DATABASE {
        config.database.database_url = DEMO_DATABASE.into();
    }
    if config.admin_password.is_none() {
        config.admin_password = Some(SecretString::from(DEMO_PASSWORD));
    }
    config.allow_insecure_servicenow = true;
    config.servicenow_hosts.push("127.0.0.1".into());
    Ok(sim)
}

/// The simulator's user that stands for the demo admin (same e-mail).
const SIM_ADMIN_USER: &str = "glidepath.admin";

/// Gives the simulator a user with the admin's e-mail, so Glidepath's assignments map to it.
fn add_sim_user(sim: &RunningSimulator, email: &str) -> anyhow::Result<()> {
    let state = sim.state();
    let exists = state
        .rows("sys_user")
        .iter()
        .any(|u| u.get("user_name").map(String::as_str) == Some(SIM_ADMIN_USER));
    if exists {
        return Ok(());
    }
    let user = servicenow_sim::store::to_record(&[
        ("user_name", SIM_ADMIN_USER),
        ("first_name", "Glidepath"),
        ("last_name", "Admin"),
        ("name", "Glidepath Admin"),
        ("email", email),
        ("active", "true"),
        ("locked_out", "false"),
    ]);
    state
        .insert("sys_user", &user, "admin")
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// A listen address only this machine reaches: a loopback IP or `localhost`, with a port.
fn is_loopback(listen: &str) -> bool {
    match listen.parse::<SocketAddr>() {
        Ok(addr) => addr.ip().is_loopback(),
        Err(_) => listen
            .rsplit_once(':')
            .is_some_and(|(host, port)| host == "localhost" && port.parse::<u16>().is_ok()),
    }
}

/// Creates (or finds) the demo policy, alert source and connection, points the simulator's
/// business rule at the source's webhook, and prints what to do next.
pub async fn wire(
    app: &Application,
    sim: &RunningSimulator,
    config: &ServeConfig,
) -> anyhow::Result<()> {
    let state = app.state();
    let ctx = &state.ctx;
    let db = &ctx.db;
    let fail = |what: &'static str| move |e| anyhow::anyhow!("demo: cannot {what}: {e:?}");
    let admin = users::list(db)
        .await
        .map_err(fail("list users"))?
        .into_iter()
        .find(|u| u.email.eq_ignore_ascii_case(&config.admin_email))
        .ok_or_else(|| anyhow::anyhow!("demo: the admin {} is missing", config.admin_email))?;
    let existing_policy = policies::list(db)
        .await
        .map_err(fail("list policies"))?
        .into_iter()
        .find(|p| p.name == POLICY_NAME);
    let policy = match existing_policy {
        Some(p) => p,
        None => policies::create(
            ctx,
            policies::NewPolicy {
                name: POLICY_NAME.into(),
                routing_key: None,
                rules: vec![policies::NewRule {
                    escalation_timeout_minutes: 5,
                    user_ids: vec![admin.id.clone()],
                    schedule_ids: Vec::new(),
                }],
                repeat: 0,
            },
        )
        .await
        .map_err(fail("create the policy"))?,
    };
    let existing_source = sources::list(db)
        .await
        .map_err(fail("list alert sources"))?
        .into_iter()
        .find(|s| s.name == SOURCE_NAME);
    let source = match existing_source {
        Some(s) => s,
        None => sources::create(
            ctx,
            sources::NewSource {
                name: SOURCE_NAME.into(),
                escalation_policy_id: policy.id.clone(),
            },
        )
        .await
        .map_err(fail("create the alert source"))?,
    };
    servicenow::configure(
        ctx,
        &SourceId::from(source.id.as_str()),
        ConnectionInput {
            instance_url: sim.url(),
            username: SIM_USER.into(),
            password: Some(SecretString::from(SIM_PASSWORD)),
            bidirectional: true,
            close_code: None,
            auth_method: None,
            client_id: None,
            client_secret: None,
        },
    )
    .await
    .map_err(fail("connect the alert source to the simulator"))?;
    add_sim_user(sim, &config.admin_email)
        .map_err(|e| anyhow::anyhow!("demo: cannot add the admin to the simulator: {e:?}"))?;
    let key = sources::integration_key(&ctx.cipher, &source).map_err(fail("read the key"))?;
    let webhook = state.webhook_url(key.expose_secret());
    sim.state().set_webhooks(vec![webhook]);

    let password = match &config.admin_password {
        Some(p) if p.expose_secret() == DEMO_PASSWORD => DEMO_PASSWORD.to_string(),
        _ => "(the one you set)".to_string(),
    };
    let base = state.public_url.as_str().trim_end_matches('/');
    let sim_url = sim.url();
    println!(
        r#"
Glidepath demo
  web UI and GraphQL:   {base}/   (sign in as {email}, password {password})
  ServiceNow simulator: {sim_url}   (user {SIM_USER}, password {SIM_PASSWORD})
  database:             {database}

Create an incident in the simulator; its business rule posts it to Glidepath, which pages you:
  curl -s -u {SIM_USER}:{SIM_PASSWORD} -H 'content-type: application/json' \
    -X POST {sim_url}/api/now/table/incident \
    -d '{{"short_description":"Core router down","impact":"1","urgency":"1"}}'

Work the alert in the web UI (accept it, add a comment, resolve it): the sync writes each change
to the incident. Read it back (use the sys_id from the answer above) to see the state, the
assignee ({SIM_ADMIN_USER}, the simulator's user with your e-mail) and the close notes,
and its journal for the work notes:
  curl -s -u {SIM_USER}:{SIM_PASSWORD} \
    '{sim_url}/api/now/table/incident/SYS_ID?sysparm_fields=number,state,assigned_to,close_code,close_notes&sysparm_exclude_reference_link=true'
  curl -s -u {SIM_USER}:{SIM_PASSWORD} \
    '{sim_url}/api/now/table/sys_journal_field?sysparm_query=element_id=SYS_ID&sysparm_fields=element,value,sys_created_by'

Or move it along in ServiceNow: In Progress accepts the alert, Resolved resolves it:
  curl -s -u {SIM_USER}:{SIM_PASSWORD} -H 'content-type: application/json' \
    -X PATCH {sim_url}/api/now/table/incident/SYS_ID -d '{{"state":"2"}}'
"#,
        email = config.admin_email,
        database = config.database.database_url,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_loopback;

    #[test]
    fn only_loopback_listen_addresses_suit_the_demo() {
        for ok in [
            "127.0.0.1:8080",
            "127.1.2.3:0",
            "[::1]:8080",
            "localhost:8080",
        ] {
            assert!(is_loopback(ok), "{ok}");
        }
        for refused in [
            "0.0.0.0:8080",
            "[::]:8080",
            "192.168.1.5:8080",
            "example.com:80",
            "localhost",
        ] {
            assert!(!is_loopback(refused), "{refused}");
        }
    }
}
