//! OAuth 2.0 for the ServiceNow connection, against a simulated instance with basic auth turned
//! off: the password and client credentials grants end to end, renewal shortly before expiry
//! and after a 401 during a burst of updates (each delivered once, in order), a revoked refresh
//! token, refused credentials (the connection needs attention, updates wait and go once an
//! admin fixes them), one renewal per expiry for two processes on PostgreSQL, and secrets that
//! never reach a log, a GraphQL answer or the database in clear.

mod sync_support;

use std::time::{Duration, Instant};

use glidepath_tests::*;
use serde_json::{Value, json};
use servicenow_sim::oauth::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use servicenow_sim::{Config, Simulator};
use sync_support::*;

const SETTLE: Duration = Duration::from_secs(15);

const CONFIGURE_OAUTH: &str = "mutation($id: ID!, $url: String!, $user: String!, $password: String, \
    $method: ServiceNowAuthMethod, $clientId: String, $clientSecret: String) { \
    configureServiceNow(alertSourceId: $id, input: { instanceUrl: $url, username: $user, password: $password, \
      bidirectional: true, authMethod: $method, clientId: $clientId, clientSecret: $clientSecret }) { \
      id serviceNow { authMethod clientId clientSecretSet passwordSet needsAttention } } }";

const CONNECTION: &str = "query($id: ID!) { alertSource(id: $id) { serviceNow { \
    instanceUrl username passwordSet authMethod clientId clientSecretSet needsAttention attentionReason attentionSince } } }";

const TEST: &str = "mutation($id: ID!) { testServiceNowConnection(alertSourceId: $id) { ok message needsAttention } }";

fn oauth_options() -> SpawnOptions {
    options().env("GLIDEPATH_SERVICENOW_JOURNAL_POLL_SECONDS", "3600")
}

/// A server and a simulator whose Table API takes no basic auth, with an access token living
/// `lifespan` seconds and refresh tokens rotating; the source is connected with `method`.
async fn oauth_world(method: &str, lifespan: u64, app_options: SpawnOptions) -> World {
    let app = spawn_app_with_options(app_options).await;
    let sim = Simulator::start(Config::default())
        .await
        .expect("start the simulator");
    sim.oauth().configure(|s| {
        s.basic_auth_enabled = false;
        s.access_token_lifespan = lifespan;
        s.rotate_refresh_tokens = true;
        s.client_credentials_enabled = true;
    });
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    let password = (method == "OAUTH_PASSWORD").then_some(SIM_PASSWORD);
    let data = app
        .gql(
            &token,
            CONFIGURE_OAUTH,
            json!({ "id": source.id, "url": sim.url(), "user": SIM_USER, "password": password,
                    "method": method, "clientId": DEFAULT_CLIENT_ID,
                    "clientSecret": DEFAULT_CLIENT_SECRET }),
        )
        .await;
    let conn = &data["configureServiceNow"]["serviceNow"];
    assert_eq!(conn["authMethod"], method);
    assert_eq!(conn["clientId"], DEFAULT_CLIENT_ID);
    assert_eq!(conn["clientSecretSet"], true);
    assert_eq!(conn["needsAttention"], false);
    sim.state().set_webhooks(vec![source.webhook_url.clone()]);
    World {
        app,
        sim,
        token,
        source,
    }
}

async fn connection(w: &World) -> Value {
    w.app
        .gql(&w.token, CONNECTION, json!({ "id": w.source.id }))
        .await["alertSource"]["serviceNow"]
        .clone()
}

async fn test_connection(app: &TestApp, token: &str, source_id: &str) -> Value {
    app.gql(token, TEST, json!({ "id": source_id })).await["testServiceNowConnection"].clone()
}

fn delivered_notes(w: &World, sys_id: &str) -> Vec<String> {
    w.patch_bodies(sys_id)
        .iter()
        .filter_map(|b| {
            b.get("work_notes")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .collect()
}

/// Every Table API request the instance saw was signed with a bearer token it accepted (basic
/// auth is off): none was refused.
fn no_table_request_refused(w: &World) {
    let refused: Vec<_> = w
        .sim
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/now/table/") && r.status == Some(401))
        .collect();
    assert!(
        refused.is_empty(),
        "refused Table API requests: {refused:?}"
    );
}

#[tokio::test]
async fn the_password_grant_signs_every_table_api_call_with_a_bearer_token() {
    let w = oauth_world("OAUTH_PASSWORD", 1800, oauth_options()).await;
    let result = test_connection(&w.app, &w.token, &w.source.id).await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["needsAttention"], false);

    let (sys_id, alert_id) = w.incident().await;
    w.accept(&w.token, &alert_id).await;
    w.comment(&w.token, &alert_id, "looking at it").await;
    let sync = w.settled(&alert_id, SETTLE).await;
    assert_eq!(sync["syncStatus"]["state"], "SYNCED", "{sync}");
    assert_eq!(field(&w.record(&sys_id), "state"), "2");
    assert_eq!(delivered_notes(&w, &sys_id), vec!["looking at it"]);
    // The updates were made as the API user, so their echo changes nothing.
    assert_eq!(field(&w.record(&sys_id), "sys_updated_by"), SIM_USER);

    let oauth = w.sim.oauth();
    assert_eq!(oauth.granted("password"), 1, "one token for everything");
    assert_eq!(oauth.granted("refresh_token"), 0);
    let table_calls = w
        .sim
        .state()
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/now/table/"))
        .collect::<Vec<_>>();
    assert!(table_calls.len() >= 8, "{table_calls:?}");
    assert!(
        table_calls
            .iter()
            .all(|r| r.user.as_deref() == Some(SIM_USER)),
        "every call carried the token of the API user: {table_calls:?}"
    );
    no_table_request_refused(&w);
}

#[tokio::test]
async fn the_client_credentials_grant_works_once_the_instance_enables_it() {
    let w = oauth_world("OAUTH_CLIENT_CREDENTIALS", 1800, oauth_options()).await;
    let conn = connection(&w).await;
    assert_eq!(conn["passwordSet"], false, "no password needed: {conn}");
    w.sim
        .oauth()
        .configure(|s| s.client_credentials_enabled = false);
    let result = test_connection(&w.app, &w.token, &w.source.id).await;
    assert_eq!(result["ok"], false, "{result}");
    assert_eq!(result["needsAttention"], true, "{result}");
    assert!(
        str_field(&result, "message").contains("unsupported_grant_type"),
        "{result}"
    );
    let conn = connection(&w).await;
    assert_eq!(conn["needsAttention"], true, "{conn}");
    assert!(!conn["attentionSince"].is_null());

    // The admin sets glide.oauth.inbound.client.credential.grant_type.enabled and tests again.
    w.sim
        .oauth()
        .configure(|s| s.client_credentials_enabled = true);
    let result = test_connection(&w.app, &w.token, &w.source.id).await;
    assert_eq!(result["ok"], true, "{result}");
    assert_eq!(result["needsAttention"], false);
    assert_eq!(connection(&w).await["needsAttention"], false);

    let (sys_id, alert_id) = w.incident().await;
    w.accept(&w.token, &alert_id).await;
    let sync = w.settled(&alert_id, SETTLE).await;
    assert_eq!(sync["syncStatus"]["state"], "SYNCED", "{sync}");
    assert_eq!(field(&w.record(&sys_id), "state"), "2");
    assert_eq!(
        field(&w.record(&sys_id), "sys_updated_by"),
        SIM_USER,
        "the OAuth application user"
    );
    let oauth = w.sim.oauth();
    assert_eq!(oauth.granted("client_credentials"), 1);
    assert_eq!(
        oauth.granted("password") + oauth.granted("refresh_token"),
        0
    );
    no_table_request_refused(&w);
}

#[tokio::test]
async fn tokens_are_renewed_during_a_burst_and_each_update_goes_once_in_order() {
    let w = oauth_world("OAUTH_PASSWORD", 2, oauth_options()).await;
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;
    let start = Instant::now();
    let mut expected = Vec::new();
    for i in 0..24 {
        let note = format!("note {i}");
        w.comment(&w.token, &alert_id, &note).await;
        expected.push(note);
        if i == 12 {
            // The instance drops its access tokens early: the next call gets a 401, renews
            // once and is sent again.
            w.sim.oauth().revoke_access_tokens();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let sync = w.settled(&alert_id, SETTLE).await;
    assert_eq!(sync["syncStatus"]["state"], "SYNCED", "{sync}");
    assert_eq!(
        delivered_notes(&w, &sys_id),
        expected,
        "each once, in order"
    );
    assert_eq!(w.work_notes(&sys_id), expected);

    let oauth = w.sim.oauth();
    let elapsed = start.elapsed().as_secs_f64();
    let refreshes = oauth.granted("refresh_token");
    assert!(refreshes >= 2, "the token expired during the burst");
    // One renewal per 1.8 s of life (renewed a tenth early), plus the one after the 401.
    assert!(
        (refreshes as f64) <= elapsed / 1.8 + 3.0,
        "{refreshes} refreshes in {elapsed:.1} s: renewed per request?"
    );
    assert_eq!(oauth.granted("password"), 1, "the refresh token always did");
    assert!(
        oauth.token_requests().iter().all(|r| r.status == 200),
        "{:?}",
        oauth.token_requests()
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_falls_back_to_the_password_grant() {
    let w = oauth_world("OAUTH_PASSWORD", 1, oauth_options()).await;
    let (sys_id, alert_id) = w.incident().await;
    w.settled(&alert_id, SETTLE).await;
    assert_eq!(w.sim.oauth().granted("password"), 1);
    w.sim.oauth().revoke_refresh_tokens();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    w.comment(&w.token, &alert_id, "after the revocation").await;
    let sync = w.settled(&alert_id, SETTLE).await;
    assert_eq!(sync["syncStatus"]["state"], "SYNCED", "{sync}");
    assert_eq!(delivered_notes(&w, &sys_id), vec!["after the revocation"]);
    let oauth = w.sim.oauth();
    assert_eq!(oauth.refused("refresh_token", "invalid_grant"), 1);
    assert_eq!(oauth.granted("password"), 2, "a new password grant");
    assert_eq!(connection(&w).await["needsAttention"], false);
}

#[tokio::test]
async fn refused_credentials_need_attention_and_updates_wait_until_they_are_fixed() {
    let w = oauth_world("OAUTH_PASSWORD", 1, oauth_options()).await;
    let (sys_id, alert_id) = w.incident().await;
    w.accept(&w.token, &alert_id).await;
    w.settled(&alert_id, SETTLE).await;
    let metrics = w.app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "glidepath_servicenow_connections_needing_attention",
            &[]
        ),
        Some(0.0)
    );

    // Someone changes the API user's password and revokes its tokens.
    let oauth = w.sim.oauth();
    oauth.set_password("rotated-password");
    oauth.revoke_refresh_tokens();
    oauth.revoke_access_tokens();
    w.comment(&w.token, &alert_id, "first while refused").await;
    w.comment(&w.token, &alert_id, "second while refused").await;

    let conn = eventually(SETTLE, "the connection needs attention", || async {
        let conn = connection(&w).await;
        (conn["needsAttention"] == true).then_some(conn)
    })
    .await;
    assert!(
        str_field(&conn, "attentionReason").contains("invalid_grant"),
        "{conn}"
    );
    // The update that met the refusal waits, its attempt not counted; the next waits behind it.
    let sync = eventually(SETTLE, "the updates wait", || async {
        let sync = w.sync(&alert_id).await;
        let comments: Vec<Value> = sync["syncUpdates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|u| u["kind"] == "COMMENT")
            .cloned()
            .collect();
        let waiting = comments.len() == 2
            && comments
                .iter()
                .all(|u| u["state"] == "PENDING" && u["attempts"] == 0)
            && !comments[0]["lastError"].is_null();
        waiting.then_some(sync)
    })
    .await;
    assert_eq!(
        sync["syncStatus"]["state"], "PENDING",
        "waiting, not failed: {sync}"
    );
    let first_comment = sync["syncUpdates"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["kind"] == "COMMENT")
        .cloned()
        .unwrap_or_default();
    assert!(
        str_field(&first_comment, "lastError").contains("needs attention"),
        "{sync}"
    );
    let metrics = w.app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "glidepath_servicenow_connections_needing_attention",
            &[]
        ),
        Some(1.0)
    );
    // Waiting means waiting: no request goes to the instance meanwhile.
    let requests = oauth.token_requests().len();
    let table_calls = w.sim.state().requests().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(oauth.token_requests().len(), requests);
    assert_eq!(w.sim.state().requests().len(), table_calls);
    let result = test_connection(&w.app, &w.token, &w.source.id).await;
    assert_eq!(result["ok"], false);
    assert_eq!(result["needsAttention"], true);
    assert!(
        str_field(&result, "message").contains("needs attention"),
        "{result}"
    );
    assert!(delivered_notes(&w, &sys_id).is_empty());

    // The admin enters the new password.
    w.app
        .gql(
            &w.token,
            CONFIGURE_OAUTH,
            json!({ "id": w.source.id, "url": w.sim.url(), "user": SIM_USER,
                    "password": "rotated-password" }),
        )
        .await;
    let sync = w.settled(&alert_id, SETTLE).await;
    assert_eq!(sync["syncStatus"]["state"], "SYNCED", "{sync}");
    assert_eq!(
        delivered_notes(&w, &sys_id),
        vec!["first while refused", "second while refused"],
        "each once, in order"
    );
    let conn = connection(&w).await;
    assert_eq!(conn["needsAttention"], false, "{conn}");
    assert_eq!(conn["authMethod"], "OAUTH_PASSWORD", "kept: {conn}");
    let metrics = w.app.metrics().await;
    assert_eq!(
        metric_value(
            &metrics,
            "glidepath_servicenow_connections_needing_attention",
            &[]
        ),
        Some(0.0)
    );
}

#[tokio::test]
async fn two_processes_renew_the_shared_token_once_per_expiry() {
    if backend() != Backend::Postgres {
        eprintln!("skipped: several processes share a database only on PostgreSQL");
        return;
    }
    let w = oauth_world("OAUTH_PASSWORD", 3, oauth_options()).await;
    let sibling = w.app.spawn_sibling().await;
    let sibling_token = sibling.admin_token().await;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        let (a, b) = tokio::join!(
            test_connection(&w.app, &w.token, &w.source.id),
            test_connection(&sibling, &sibling_token, &w.source.id)
        );
        assert_eq!(a["ok"], true, "{a}");
        assert_eq!(b["ok"], true, "{b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let oauth = w.sim.oauth();
    // Refresh tokens rotate: a second renewal with the same refresh token would be refused.
    assert!(
        oauth.token_requests().iter().all(|r| r.status == 200),
        "{:?}",
        oauth.token_requests()
    );
    assert_eq!(oauth.granted("password"), 1, "one first grant for both");
    let refreshes = oauth.granted("refresh_token");
    assert!(refreshes >= 2, "the token expired during the test");
    assert!(
        (refreshes as f64) <= elapsed / 2.7 + 1.0,
        "{refreshes} refreshes in {elapsed:.1} s: more than one per expiry"
    );
    no_table_request_refused(&w);
}

#[tokio::test]
async fn oauth_secrets_never_reach_a_log_a_graphql_answer_or_the_database() {
    let mut opts = oauth_options();
    opts.rust_log = Some("debug".into());
    let w = oauth_world("OAUTH_PASSWORD", 1800, opts).await;
    let (_, alert_id) = w.incident().await;
    w.accept(&w.token, &alert_id).await;
    w.settled(&alert_id, SETTLE).await;
    let tokens = w.sim.oauth().issued_tokens();
    assert!(tokens.len() >= 2, "an access and a refresh token");

    let answer = w
        .app
        .graphql(Some(&w.token), CONNECTION, json!({ "id": w.source.id }))
        .await
        .to_string();
    let logs = w.app.logs();
    let dump = w.app.database_dump().await;
    let dump = String::from_utf8_lossy(&dump);
    let mut secrets = vec![DEFAULT_CLIENT_SECRET.to_string(), SIM_PASSWORD.to_string()];
    secrets.extend(tokens);
    for secret in &secrets {
        assert!(
            !answer.contains(secret.as_str()),
            "GraphQL answer reveals a secret"
        );
        assert!(!logs.contains(secret.as_str()), "the log reveals a secret");
        assert!(
            !dump.contains(secret.as_str()),
            "the database holds a secret in clear"
        );
    }
    assert!(
        answer.contains(DEFAULT_CLIENT_ID),
        "the client id is no secret"
    );
}

#[tokio::test]
async fn oauth_needs_a_client_id_and_secret_and_only_admins_configure_it() {
    let sim = Simulator::start(Config::default())
        .await
        .expect("start the simulator");
    let app = spawn_app_with_options(oauth_options()).await;
    let token = app.admin_token().await;
    let source = app.setup_source().await;
    let configure = |vars: Value| {
        let app = &app;
        let token = token.clone();
        async move { app.graphql(Some(&token), CONFIGURE_OAUTH, vars).await }
    };
    let base = json!({ "id": source.id, "url": sim.url(), "user": SIM_USER, "password": SIM_PASSWORD,
                       "method": "OAUTH_PASSWORD" });
    let with = |extra: Value| {
        let mut vars = base.clone();
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            vars[k] = v;
        }
        vars
    };
    let answer = configure(with(json!({ "clientSecret": DEFAULT_CLIENT_SECRET }))).await;
    assert_eq!(expect_error_code(&answer), "BAD_USER_INPUT", "{answer}");
    let answer = configure(with(json!({ "clientId": DEFAULT_CLIENT_ID }))).await;
    assert_eq!(expect_error_code(&answer), "BAD_USER_INPUT", "{answer}");
    let answer = configure(with(json!({ "clientId": " ", "clientSecret": "x" }))).await;
    assert_eq!(expect_error_code(&answer), "BAD_USER_INPUT", "{answer}");
    let answer = configure(with(
        json!({ "method": "OAUTH_CLIENT_CREDENTIALS", "password": null,
        "clientId": DEFAULT_CLIENT_ID }),
    ))
    .await;
    assert_eq!(expect_error_code(&answer), "BAD_USER_INPUT", "{answer}");
    let read = app
        .gql(&token, CONNECTION, json!({ "id": source.id }))
        .await;
    assert!(
        read["alertSource"]["serviceNow"].is_null(),
        "nothing stored: {read}"
    );

    let answer = configure(with(json!({ "clientId": DEFAULT_CLIENT_ID,
        "clientSecret": DEFAULT_CLIENT_SECRET })))
    .await;
    let data = expect_data(answer);
    assert_eq!(
        data["configureServiceNow"]["serviceNow"]["authMethod"],
        "OAUTH_PASSWORD"
    );
    // Another instance: the stored secret is not sent there.
    let other = Simulator::start(Config::default())
        .await
        .expect("start the simulator");
    let answer = configure(
        json!({ "id": source.id, "url": other.url(), "user": SIM_USER,
        "password": SIM_PASSWORD }),
    )
    .await;
    assert_eq!(expect_error_code(&answer), "BAD_USER_INPUT", "{answer}");
    // Back to basic auth with nothing else changed.
    let answer = configure(json!({ "id": source.id, "url": sim.url(), "user": SIM_USER,
        "method": "BASIC" }))
    .await;
    let data = expect_data(answer);
    assert_eq!(
        data["configureServiceNow"]["serviceNow"]["authMethod"],
        "BASIC"
    );

    let (_, responder_token) = app.create_responder().await;
    let answer = app
        .graphql(
            Some(&responder_token),
            CONFIGURE_OAUTH,
            with(json!({ "clientId": DEFAULT_CLIENT_ID, "clientSecret": DEFAULT_CLIENT_SECRET })),
        )
        .await;
    assert_eq!(expect_error_code(&answer), "FORBIDDEN", "{answer}");
}

#[tokio::test]
async fn the_journal_poll_reads_with_the_same_token() {
    let w = oauth_world(
        "OAUTH_PASSWORD",
        1800,
        options().env("GLIDEPATH_SERVICENOW_JOURNAL_POLL_SECONDS", "1"),
    )
    .await;
    let (sys_id, alert_id) = w.incident().await;
    w.sim
        .state()
        .update_incident(
            &sys_id,
            &[("work_notes", "Rebooted the switch")],
            "beth.anglin",
        )
        .expect("work note");
    let comments = eventually(SETTLE, "the work note imported", || async {
        let data = w
            .app
            .gql(
                &w.token,
                "query($id: ID!) { alert(id: $id) { comments { body } } }",
                json!({ "id": alert_id }),
            )
            .await;
        let comments = data["alert"]["comments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (!comments.is_empty()).then_some(comments)
    })
    .await;
    assert_eq!(comments[0]["body"], "Rebooted the switch");
    assert_eq!(
        w.sim.oauth().granted("password"),
        1,
        "one token for the sync and the poll"
    );
    no_table_request_refused(&w);
}

const OLD_KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const NEW_KEY: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

#[tokio::test]
async fn rotate_secrets_reseals_the_client_secret_and_the_tokens() {
    let w = oauth_world(
        "OAUTH_PASSWORD",
        1800,
        oauth_options().env("GLIDEPATH_SECRET_KEY", OLD_KEY),
    )
    .await;
    let result = test_connection(&w.app, &w.token, &w.source.id).await;
    assert_eq!(result["ok"], true, "{result}");
    let output = run_glidepath(
        &["rotate-secrets"],
        &[
            ("GLIDEPATH_DATABASE_URL", w.app.database().url()),
            ("GLIDEPATH_SECRET_KEY", NEW_KEY),
            ("GLIDEPATH_SECRET_KEY_PREVIOUS", OLD_KEY),
        ],
        w.app.database().dir(),
    )
    .await;
    let log = strip_ansi(&String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "rotate-secrets failed: {log}");
    // The integration key, the password, the client secret, the access and the refresh token.
    assert!(log.contains("reencrypted=5"), "{log}");
    assert!(!log.contains(DEFAULT_CLIENT_SECRET) && !log.contains(SIM_PASSWORD));

    // A process with the new key alone uses the stored token: no new grant.
    let fresh = w
        .app
        .spawn_sibling_with(oauth_options().env("GLIDEPATH_SECRET_KEY", NEW_KEY))
        .await;
    let token = fresh.admin_token().await;
    let result = test_connection(&fresh, &token, &w.source.id).await;
    assert_eq!(result["ok"], true, "{result}");
    let oauth = w.sim.oauth();
    assert_eq!(oauth.granted("password"), 1);
    assert_eq!(oauth.granted("refresh_token"), 0);
}
