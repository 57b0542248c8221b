//! Webhook targets of notification rules are sealed at rest: a database dump reveals no token in
//! a webhook URL, the owner still reads their URL, an admin only its host, deliveries still
//! arrive, the alert log names the host only, and a clear target an older version wrote is
//! sealed at the next start.

use std::sync::Arc;
use std::time::Duration;

use glidepath_tests::*;
use serde_json::{Value, json};

const RULES: &str = "{ me { notificationRules { id kind target targetLabel } } }";
const ADD_RULE: &str = "mutation($input: NotificationRuleInput!) { \
     addNotificationRule(input: $input) { id kind target targetLabel } }";
const LOG: &str = "query($id: ID!) { alert(id: $id) { id logEntries { kind message } } }";

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn options() -> SpawnOptions {
    SpawnOptions::default()
        .env("GLIDEPATH_TIME_SCALE", "600")
        .env("GLIDEPATH_ALLOW_INSECURE_OUTBOUND", "true")
}

/// A one-level policy paging `user_id`, on a new source; returns the integration key.
async fn source_for(app: &TestApp, user_id: &str) -> String {
    let admin = app.admin_token().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let policy = app
        .gql(
            &admin,
            "mutation($input: CreateEscalationPolicyInput!) { createEscalationPolicy(input: $input) { id } }",
            json!({ "input": { "name": format!("P {}", &suffix[..8]),
                "rules": [{ "escalationTimeoutMinutes": 1, "userIds": [user_id] }], "repeat": 0 } }),
        )
        .await;
    let source = app
        .create_alert_source(&admin, &id_of(&policy["createEscalationPolicy"]))
        .await;
    str_field(&source, "integrationKey")
}

async fn new_alert(app: &TestApp, key: &str) -> String {
    let (status, body) = app
        .post_event(key, &incident(&new_sys_id(), state::NEW, 0))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    str_field(&body, "alertId")
}

/// The alert's NOTIFIED messages, once there are `n`.
async fn notified(app: &TestApp, alert_id: &str, n: usize) -> Vec<String> {
    let admin = app.admin_token().await;
    eventually(Duration::from_secs(15), "the NOTIFIED entries", || async {
        let alert = app.gql(&admin, LOG, json!({ "id": alert_id })).await["alert"].clone();
        let msgs: Vec<String> = log_entries_of(&alert, "NOTIFIED")
            .iter()
            .map(|e| str_field(e, "message"))
            .collect();
        (msgs.len() >= n).then_some(msgs)
    })
    .await
}

/// Runs SQL on the test database (stands in for a row an older version wrote).
async fn execute_sql(db: &TestDatabase, sql: &str) {
    match backend() {
        Backend::Sqlite => {
            let path = db.dir().join("glidepath.db");
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
            let mut conn = sqlx::PgConnection::connect(db.url())
                .await
                .expect("connect to the test database");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
                .execute(&mut conn)
                .await
                .expect("run SQL");
        }
    }
}

fn webhook_rule(rules: &Value) -> Value {
    rules["me"]["notificationRules"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["kind"] == "WEBHOOK").cloned())
        .unwrap_or_else(|| panic!("no webhook rule: {rules}"))
}

#[tokio::test]
async fn a_webhook_token_is_nowhere_in_the_database_and_still_delivered() {
    let receiver = HttpReceiver::start(200).await;
    let app = spawn_app_with_options(options()).await;
    let (user, token) = app.create_responder().await;
    let user_id = id_of(&user);
    let secret = format!("tok{}", uuid::Uuid::new_v4().simple());
    let target = format!("{}?token={secret}", receiver.url());
    let added = app
        .gql(
            &token,
            ADD_RULE,
            json!({ "input": { "kind": "WEBHOOK", "target": target, "onStatusChange": false } }),
        )
        .await;
    let host = format!("http://127.0.0.1:{}/…", receiver.port);
    assert_eq!(added["addNotificationRule"]["target"], target.as_str());
    assert_eq!(added["addNotificationRule"]["targetLabel"], host.as_str());

    // The owner reads their URL; an admin only its host.
    let mine = webhook_rule(&app.gql(&token, RULES, json!({})).await);
    assert_eq!(mine["target"], target.as_str(), "{mine}");
    let admin = app.admin_token().await;
    let all = app
        .gql(
            &admin,
            "{ users { id notificationRules { kind target targetLabel } } }",
            json!({}),
        )
        .await;
    assert!(!all.to_string().contains(&secret), "{all}");
    assert!(all.to_string().contains(&host), "{all}");

    let dump = app.database_dump().await;
    assert!(
        contains(&dump, &user_id),
        "the dump should show ordinary data"
    );
    assert!(!contains(&dump, &secret), "webhook token stored in clear");
    assert!(!contains(&dump, "/hook"), "webhook path stored in clear");

    // Delivery opens the target at send time; the queued delivery keeps it sealed.
    let key = source_for(&app, &user_id).await;
    let alert_id = new_alert(&app, &key).await;
    let body = eventually(Duration::from_secs(15), "the webhook POST", || async {
        receiver.bodies().first().cloned()
    })
    .await;
    assert_eq!(body["alert"]["id"], alert_id.as_str(), "{body}");
    let log = notified(&app, &alert_id, 1).await;
    assert!(log[0].contains(&host), "{log:?}");
    assert!(
        !log[0].contains("/hook") && !log[0].contains(&secret),
        "{log:?}"
    );
    let dump = app.database_dump().await;
    assert!(
        !contains(&dump, &secret),
        "webhook token stored in clear on a delivery"
    );
}

#[tokio::test]
async fn a_clear_target_from_an_older_version_is_sealed_at_the_next_start() {
    let receiver = HttpReceiver::start(200).await;
    let app = spawn_app_with_options(options()).await;
    let (user, token) = app.create_responder().await;
    let user_id = id_of(&user);
    let secret = format!("tok{}", uuid::Uuid::new_v4().simple());
    let target = format!("{}?token={secret}", receiver.url());
    let added = app
        .gql(
            &token,
            ADD_RULE,
            json!({ "input": { "kind": "WEBHOOK", "target": receiver.url(), "onStatusChange": false } }),
        )
        .await;
    let rule_id = id_of(&added["addNotificationRule"]);
    let key = source_for(&app, &user_id).await;
    let first = new_alert(&app, &key).await;
    notified(&app, &first, 1).await;

    // As an older version stored them: the URL in clear on the rule and on its delivery.
    let options = app.options().clone();
    let db = app.stop().await;
    execute_sql(
        &db,
        &format!(
            "UPDATE notification_rules SET target = '{target}', target_label = NULL WHERE id = '{rule_id}'; \
             UPDATE notifications SET target = '{target}', rule_id = NULL, target_label = NULL WHERE kind = 'WEBHOOK';"
        ),
    )
    .await;

    // Two processes start together: each seals what is still clear, neither fails.
    let (a, b) = tokio::join!(
        spawn_app_with(Arc::clone(&db), options.clone()),
        spawn_app_with(Arc::clone(&db), options.clone())
    );
    let dump = a.database_dump().await;
    assert!(
        !contains(&dump, &secret),
        "a clear target is still in clear after a start"
    );
    let token = a
        .login_token(&str_field(&user, "email"), USER_PASSWORD)
        .await;
    let mine = webhook_rule(&a.gql(&token, RULES, json!({})).await);
    assert_eq!(mine["target"], target.as_str(), "{mine}");
    assert_eq!(
        mine["targetLabel"],
        format!("http://127.0.0.1:{}/…", receiver.port).as_str()
    );
    let second = new_alert(&a, &key).await;
    eventually(
        Duration::from_secs(15),
        "the POST of the sealed target",
        || async {
            receiver
                .bodies()
                .iter()
                .any(|b| b["alert"]["id"] == second.as_str())
                .then_some(())
        },
    )
    .await;
    let log = notified(&a, &second, 1).await;
    assert!(!log[0].contains(&secret), "{log:?}");
    drop(b);
}
