//! ServiceNow simulator set-up: a server allowed to call the simulator, its connection, and
//! alerts looked up by incident.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{ALERT_FIELDS, Source, SpawnOptions, TestApp, eventually, spawn_app_with_options};

pub const SIM_USER: &str = "glidepath";
pub const SIM_PASSWORD: &str = "glidepath-secret";

/// Options for a server that may call the simulator (plain http on loopback), with a short
/// request timeout and the reconciliation poll every `poll_seconds` (0 turns it off).
pub fn sim_options(poll_seconds: u64) -> SpawnOptions {
    SpawnOptions::default()
        .env("GLIDEPATH_ALLOW_INSECURE_SERVICENOW", "true")
        .env("GLIDEPATH_SERVICENOW_HOSTS", "127.0.0.1")
        .env("GLIDEPATH_SERVICENOW_TIMEOUT_MS", "2000")
        .env(
            "GLIDEPATH_SERVICENOW_POLL_SECONDS",
            &poll_seconds.to_string(),
        )
}

pub const CONFIGURE_SERVICENOW: &str = "mutation($id: ID!, $url: String!, $user: String!, $password: String) { \
    configureServiceNow(alertSourceId: $id, input: { instanceUrl: $url, username: $user, password: $password }) { id } }";

/// A server, an admin token, an alert source and a simulator the source is connected to.
pub struct SimSetup {
    pub app: TestApp,
    pub token: String,
    pub source: Source,
    pub sim: servicenow_sim::RunningSimulator,
}

/// A server (reconciliation poll every `poll_seconds`, 0 = off) with a source connected to a new
/// simulator; with `webhooks`, the simulator's business rule posts to that source.
pub async fn sim_setup(poll_seconds: u64, webhooks: bool) -> SimSetup {
    sim_setup_with(sim_options(poll_seconds), webhooks).await
}

/// [`sim_setup`] with a server started with `options`.
pub async fn sim_setup_with(options: SpawnOptions, webhooks: bool) -> SimSetup {
    let app = spawn_app_with_options(options).await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    let sim = servicenow_sim::Simulator::start(servicenow_sim::Config {
        webhooks: if webhooks {
            vec![source.webhook_url.clone()]
        } else {
            Vec::new()
        },
        ..servicenow_sim::Config::default()
    })
    .await
    .expect("start the simulator");
    app.connect_to_sim(&token, &source.id, &sim.url()).await;
    SimSetup {
        app,
        token,
        source,
        sim,
    }
}

impl TestApp {
    /// Connects the alert source to the simulator at `sim_url` with its default credentials.
    pub async fn connect_to_sim(&self, token: &str, source_id: &str, sim_url: &str) {
        self.gql(
            token,
            CONFIGURE_SERVICENOW,
            json!({ "id": source_id, "url": sim_url, "user": SIM_USER, "password": SIM_PASSWORD }),
        )
        .await;
    }

    /// The alert of the source for the incident `sys_id` (every contract field plus responders
    /// and escalation), if there is one.
    pub async fn alert_for_incident(&self, source_id: &str, sys_id: &str) -> Option<Value> {
        let token = self.admin_token().await;
        // Find the alert by its key first, then read it whole: a page of 100 alerts with every
        // field would cost more than one query may.
        let data = self
            .gql(
                &token,
                "query($source: ID!) { alerts(alertSourceId: $source, first: 100) { nodes { id alertKey } } }",
                json!({ "source": source_id }),
            )
            .await;
        let id = data["alerts"]["nodes"]
            .as_array()?
            .iter()
            .find(|a| a["alertKey"] == sys_id)?["id"]
            .clone();
        let query = format!(
            "query($id: ID!) {{ alert(id: $id) {{ {ALERT_FIELDS} responders {{ id email }} escalationLevel }} }}"
        );
        let data = self.gql(&token, &query, json!({ "id": id })).await;
        Some(data["alert"].clone()).filter(|a| !a.is_null())
    }

    /// Waits (up to 10 s) for the alert of the incident `sys_id` to satisfy `check`.
    pub async fn wait_for_incident_alert(
        &self,
        source_id: &str,
        sys_id: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let check = &check;
        eventually(Duration::from_secs(10), what, || async move {
            self.alert_for_incident(source_id, sys_id)
                .await
                .filter(|a| check(a))
        })
        .await
    }
}
