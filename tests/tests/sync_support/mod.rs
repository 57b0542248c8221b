//! Shared by the ServiceNow sync tests: a server wired to a simulated instance whose business
//! rule posts to the server's webhook, with a bidirectional connection.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use glidepath_tests::*;
use serde_json::{Value, json};
use servicenow_sim::{Config, Record, RunningSimulator, Simulator};

/// The simulator's `admin` user has the e-mail of the tests' admin.
pub const SIM_ADMIN_SYS_ID: &str = "6816f79cc0a8016401c5a33be04be442";

pub const CONFIGURE: &str = "mutation($id: ID!, $url: String!, $user: String!, $password: String, $bi: Boolean!, $closeCode: String) { \
    configureServiceNow(alertSourceId: $id, input: { instanceUrl: $url, username: $user, password: $password, bidirectional: $bi, closeCode: $closeCode }) { \
      id serviceNow { bidirectional closeCode publishFilters { accept resolve comment priority assignment reroute } } } }";

pub const SYNC_FIELDS: &str = "syncStatus { state attempts lastError updatedAt } \
    syncUpdates { id kind state attempts lastError createdAt deliveredAt }";

/// Server settings that let it call the simulator and retry quickly.
pub fn options() -> SpawnOptions {
    SpawnOptions::default()
        .env("GLIDEPATH_ALLOW_INSECURE_SERVICENOW", "true")
        .env("GLIDEPATH_SERVICENOW_HOSTS", "127.0.0.1")
        .env("GLIDEPATH_SERVICENOW_TIMEOUT_MS", "1000")
        .env("GLIDEPATH_SERVICENOW_SYNC_BACKOFF_MS", "50")
        .env("GLIDEPATH_SERVICENOW_SYNC_BACKOFF_MAX_MS", "400")
        // The journal tests poll every second; others not at all, so faults meet only PATCHes.
        .env("GLIDEPATH_SERVICENOW_JOURNAL_POLL_SECONDS", "3600")
}

pub struct World {
    pub app: TestApp,
    pub sim: RunningSimulator,
    pub token: String,
    pub source: Source,
}

impl World {
    /// A server with `options`, a simulator whose business rule posts to a new source, and a
    /// bidirectional connection from the source to the simulator.
    pub async fn start_with(options: SpawnOptions) -> World {
        let app = spawn_app_with_options(options).await;
        World::connect(app).await
    }

    pub async fn start() -> World {
        World::start_with(options()).await
    }

    pub async fn connect(app: TestApp) -> World {
        let sim = Simulator::start(Config::default())
            .await
            .expect("start the simulator");
        let token = app.admin_token().await;
        let source = app.setup_source().await;
        expect_data(
            app.graphql(
                Some(&token),
                CONFIGURE,
                json!({ "id": source.id, "url": sim.url(), "user": SIM_USER,
                        "password": SIM_PASSWORD, "bi": true }),
            )
            .await,
        );
        sim.state().set_webhooks(vec![source.webhook_url.clone()]);
        World {
            app,
            sim,
            token,
            source,
        }
    }

    /// Creates an incident in the instance (impact/urgency 3: priority 5, a LOW alert) and waits
    /// for the business rule to create its alert. Returns (sys_id, alert id).
    pub async fn incident(&self) -> (String, String) {
        let record = self
            .sim
            .state()
            .create_incident(&[
                ("short_description", "Core switch down"),
                ("impact", "3"),
                ("urgency", "3"),
            ])
            .expect("create the incident");
        let sys_id = record.get("sys_id").cloned().expect("a sys_id");
        let alert_id = self.wait_alert(&sys_id).await;
        (sys_id, alert_id)
    }

    pub async fn wait_alert(&self, sys_id: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let data = self
                .app
                .gql(
                    &self.token,
                    "query($s: ID) { alerts(alertSourceId: $s, first: 100) { nodes { id alertKey } } }",
                    json!({ "s": self.source.id }),
                )
                .await;
            let found = data["alerts"]["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|n| n["alertKey"] == sys_id)
                .map(id_of);
            if let Some(id) = found {
                return id;
            }
            assert!(Instant::now() < deadline, "no alert for incident {sys_id}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn record(&self, sys_id: &str) -> Record {
        self.sim
            .state()
            .incident(sys_id)
            .expect("the incident exists")
    }

    pub fn patches(&self) -> usize {
        self.sim.state().patch_count()
    }

    /// The PATCH bodies the instance answered 200, oldest first.
    pub fn patch_bodies(&self, sys_id: &str) -> Vec<Value> {
        self.sim
            .state()
            .requests()
            .into_iter()
            .filter(|r| r.method == "PATCH" && r.path.ends_with(sys_id) && r.status == Some(200))
            .filter_map(|r| r.body)
            .collect()
    }

    pub async fn sync(&self, alert_id: &str) -> Value {
        self.app
            .gql(
                &self.token,
                &format!("query($id: ID!) {{ alert(id: $id) {{ {SYNC_FIELDS} }} }}"),
                json!({ "id": alert_id }),
            )
            .await["alert"]
            .clone()
    }

    /// Waits until every queued update of the alert is settled (SYNCED or FAILED). The two
    /// fields are read one after the other, so both must say so: an update settling in between
    /// would otherwise leave a PENDING `syncStatus` beside settled `syncUpdates`.
    pub async fn settled(&self, alert_id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let sync = self.sync(alert_id).await;
            let pending = sync["syncStatus"]["state"] == "PENDING"
                || sync["syncUpdates"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|u| u["state"] == "PENDING");
            if !pending && !sync["syncStatus"].is_null() {
                return sync;
            }
            assert!(
                Instant::now() < deadline,
                "updates still pending after {timeout:?}: {sync}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn act(&self, token: &str, mutation: &str, vars: Value) -> Value {
        self.app.gql(token, mutation, vars).await
    }

    pub async fn accept(&self, token: &str, alert_id: &str) {
        self.act(
            token,
            "mutation($id: ID!) { acceptAlert(id: $id) { id } }",
            json!({ "id": alert_id }),
        )
        .await;
    }

    pub async fn comment(&self, token: &str, alert_id: &str, body: &str) {
        self.act(
            token,
            "mutation($id: ID!, $b: String!) { addComment(alertId: $id, body: $b) { id } }",
            json!({ "id": alert_id, "b": body }),
        )
        .await;
    }

    pub async fn raise(&self, token: &str, alert_id: &str) {
        self.act(
            token,
            "mutation($id: ID!) { raiseAlertPriority(id: $id) { id } }",
            json!({ "id": alert_id }),
        )
        .await;
    }

    pub async fn resolve(&self, token: &str, alert_id: &str, comment: Option<&str>) {
        self.act(
            token,
            "mutation($id: ID!, $c: String) { resolveAlert(id: $id, comment: $c) { id } }",
            json!({ "id": alert_id, "c": comment }),
        )
        .await;
    }

    /// Routes the source by the incident's assignment group, so a re-route writes the new
    /// policy's routing key (a group's sys_id) to the incident.
    pub async fn route_by_assignment_group(&self) {
        let set = self
            .app
            .gql(
                &self.token,
                "mutation($id: ID!) { setRoutingField(alertSourceId: $id, field: \"assignment_group\") { serviceNow { routingField } } }",
                json!({ "id": self.source.id }),
            )
            .await;
        assert_eq!(
            set["setRoutingField"]["serviceNow"]["routingField"],
            "assignment_group"
        );
    }

    /// A policy named "Network" whose routing key is the simulator's Network group and whose
    /// one level calls `user_id`; returns its id.
    pub async fn network_policy(&self, user_id: &str) -> String {
        let data = self
            .app
            .gql(
                &self.token,
                "mutation($u: ID!, $k: String!) { createEscalationPolicy(input: { name: \"Network\", routingKey: $k, \
                   rules: [{ escalationTimeoutMinutes: 5, userIds: [$u] }] }) { id } }",
                json!({ "u": user_id, "k": servicenow_sim::NETWORK_GROUP_SYS_ID }),
            )
            .await;
        id_of(&data["createEscalationPolicy"])
    }

    /// The work notes written on the incident, oldest first.
    pub fn work_notes(&self, sys_id: &str) -> Vec<String> {
        self.sim
            .state()
            .journal(sys_id)
            .iter()
            .filter(|j| field(j, "element") == "work_notes")
            .map(|j| field(j, "value"))
            .collect()
    }

    pub async fn set_filters(&self, filters: Value) -> Value {
        self.app
            .gql(
                &self.token,
                "mutation($id: ID!, $f: PublishFiltersInput!) { setPublishFilters(alertSourceId: $id, filters: $f) { \
                   serviceNow { publishFilters { accept resolve comment priority assignment reroute } } } }",
                json!({ "id": self.source.id, "f": filters }),
            )
            .await
    }

    /// Runs SQL on the test database: stands in for settings another part of the API owns.
    pub async fn execute_sql(&self, sql: &str) {
        match backend() {
            Backend::Sqlite => {
                let path = self.app.database().dir().join("glidepath.db");
                let status = std::process::Command::new("sqlite3")
                    .arg("-cmd")
                    .arg(".timeout 5000")
                    .arg(&path)
                    .arg(sql)
                    .status()
                    .expect("run sqlite3");
                assert!(status.success(), "sqlite3 failed: {sql}");
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(self.app.database().url())
                    .await
                    .expect("connect to the test database");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                    .execute(&mut conn)
                    .await
                    .expect("run SQL");
            }
        }
    }
}

pub fn kinds(sync: &Value) -> Vec<String> {
    sync["syncUpdates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| str_field(u, "kind"))
        .collect()
}

pub fn states(sync: &Value) -> Vec<String> {
    sync["syncUpdates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| str_field(u, "state"))
        .collect()
}

pub fn field(record: &Record, name: &str) -> String {
    record.get(name).cloned().unwrap_or_default()
}

/// The incident's impact, urgency and priority.
pub fn impact_urgency_priority(record: &Record) -> [String; 3] {
    ["impact", "urgency", "priority"].map(|name| field(record, name))
}
