//! Escalation: levels, repeat and end; accept, resolve and re-route mid-way; a restart with a
//! due alert; two processes on one database; policy update and delete.
//!
//! Servers run with `GLIDEPATH_TIME_SCALE`, so a one-minute level lasts 1/scale of a minute.
//! Waits poll with a bounded timeout.

use std::time::{Duration, Instant};

use glidepath_tests::*;
use serde_json::{Value, json};

/// At 600 a one-minute level lasts 100 ms, a ten-minute one a second.
const FAST: &str = "600";

const ESCALATION_FIELDS: &str = "id status escalationLevel escalationRound nextEscalationAt \
     assignedTo { email } responders { id email } escalationPolicy { id name } \
     logEntries { kind message actor actorKind }";

async fn spawn_scaled(scale: &str) -> TestApp {
    spawn_app_with_options(SpawnOptions::default().env("GLIDEPATH_TIME_SCALE", scale)).await
}

/// `n` responders: (id, email).
async fn users(app: &TestApp, n: usize) -> Vec<(String, String)> {
    let admin = app.admin_token().await;
    let mut out = Vec::new();
    for i in 0..n {
        let email = unique_email(&format!("level{}", i + 1));
        let user = app.create_user(&admin, &email, "RESPONDER").await;
        out.push((id_of(&user), email));
    }
    out
}

/// A policy whose levels are (timeout minutes, user ids).
async fn policy(app: &TestApp, levels: &[(i32, Vec<&str>)], repeat: i32) -> String {
    let admin = app.admin_token().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let rules: Vec<Value> = levels
        .iter()
        .map(|(t, ids)| json!({ "escalationTimeoutMinutes": t, "userIds": ids }))
        .collect();
    let data = app
        .gql(
            &admin,
            "mutation($input: CreateEscalationPolicyInput!) { \
               createEscalationPolicy(input: $input) { id repeat } }",
            json!({ "input": {
                "name": format!("Policy {}", &suffix[..8]),
                "routingKey": format!("rk-{suffix}"),
                "rules": rules,
                "repeat": repeat,
            }}),
        )
        .await;
    assert_eq!(data["createEscalationPolicy"]["repeat"], repeat, "{data}");
    id_of(&data["createEscalationPolicy"])
}

/// A new alert on a fresh source of `policy_id`.
async fn alert_on(app: &TestApp, policy_id: &str) -> String {
    let admin = app.admin_token().await;
    let source = app.create_alert_source(&admin, policy_id).await;
    let key = str_field(&source, "integrationKey");
    let (status, body) = app
        .post_event(&key, &incident(&new_sys_id(), state::NEW, 0))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    str_field(&body, "alertId")
}

async fn escalation(app: &TestApp, id: &str) -> Value {
    let admin = app.admin_token().await;
    app.gql(
        &admin,
        &format!("query($id: ID!) {{ alert(id: $id) {{ {ESCALATION_FIELDS} }} }}"),
        json!({ "id": id }),
    )
    .await["alert"]
        .clone()
}

/// Polls the alert until `done` holds; panics with the last state after `timeout`.
async fn wait_for(
    app: &TestApp,
    id: &str,
    timeout: Duration,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let alert = escalation(app, id).await;
        if done(&alert) {
            return alert;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {alert}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn level(alert: &Value) -> i64 {
    alert["escalationLevel"].as_i64().unwrap_or(-1)
}

fn escalations(alert: &Value) -> Vec<String> {
    log_entries_of(alert, "ESCALATED")
        .iter()
        .map(|e| str_field(e, "message"))
        .collect()
}

/// The log's kinds without delivery entries (these servers have no SMTP: each step logs an
/// e-mail not sent per user).
fn step_kinds(alert: &Value) -> Vec<String> {
    log_kinds(alert)
        .into_iter()
        .filter(|k| k != "NOTIFIED" && k != "NOTIFICATION_FAILED")
        .collect()
}

fn responder_emails(alert: &Value) -> Vec<String> {
    alert["responders"]
        .as_array()
        .map(|r| r.iter().map(|u| str_field(u, "email")).collect())
        .unwrap_or_default()
}

fn assignee(alert: &Value) -> String {
    alert["assignedTo"]["email"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn ended(alert: &Value) -> bool {
    alert["nextEscalationAt"].is_null()
}

#[tokio::test]
async fn a_new_alert_reaches_level_one_at_once() {
    // Unscaled: level 2 is five real minutes away, so what we see is level 1 alone.
    let app = spawn_app().await;
    let u = users(&app, 3).await;
    let p = policy(&app, &[(5, vec![&u[0].0, &u[1].0]), (5, vec![&u[2].0])], 0).await;
    let id = alert_on(&app, &p).await;

    let alert = escalation(&app, &id).await;
    assert_eq!(level(&alert), 1, "{alert}");
    assert_eq!(alert["escalationRound"], 0, "{alert}");
    assert_eq!(
        responder_emails(&alert),
        vec![u[0].1.clone(), u[1].1.clone()]
    );
    assert_eq!(
        assignee(&alert),
        u[0].1,
        "the first user of the level is assigned"
    );
    assert!(alert["nextEscalationAt"].is_string(), "{alert}");
    assert_eq!(
        step_kinds(&alert),
        vec!["CREATED", "ESCALATED"],
        "level 1 is written with the alert"
    );
    let entry = &log_entries_of(&alert, "ESCALATED")[0];
    assert_eq!(entry["actorKind"], "SYSTEM");
    assert_eq!(entry["actor"], "system");
    let message = str_field(entry, "message");
    assert!(message.contains("level 1"), "{message}");
    assert!(
        message.contains(&u[0].1) && message.contains(&u[1].1),
        "{message}"
    );
}

#[tokio::test]
async fn escalates_through_every_level_then_ends() {
    let app = spawn_scaled(FAST).await;
    let u = users(&app, 3).await;
    let p = policy(
        &app,
        &[(1, vec![&u[0].0]), (1, vec![&u[1].0]), (1, vec![&u[2].0])],
        0,
    )
    .await;
    let id = alert_on(&app, &p).await;

    let alert = wait_for(&app, &id, Duration::from_secs(10), "level 3", |a| {
        level(a) == 3
    })
    .await;
    assert!(ended(&alert), "the last level ends escalation: {alert}");
    assert_eq!(alert["status"], "PENDING");
    assert_eq!(
        responder_emails(&alert),
        vec![u[0].1.clone(), u[1].1.clone(), u[2].1.clone()]
    );
    assert_eq!(assignee(&alert), u[2].1, "the assignee follows the levels");
    let steps = escalations(&alert);
    assert_eq!(steps.len(), 3, "{steps:?}");
    for (i, step) in steps.iter().enumerate() {
        assert!(step.contains(&format!("level {}", i + 1)), "{step}");
        assert!(step.contains(&u[i].1), "{step}");
    }
    assert!(steps[2].contains("escalation ends"), "{}", steps[2]);

    // Several one-minute timeouts later, nothing more has happened.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = escalation(&app, &id).await;
    assert_eq!(escalations(&later).len(), 3, "{later}");
}

#[tokio::test]
async fn repeats_the_levels_then_ends() {
    let app = spawn_scaled(FAST).await;
    let u = users(&app, 2).await;
    let p = policy(&app, &[(1, vec![&u[0].0]), (1, vec![&u[1].0])], 2).await;
    let id = alert_on(&app, &p).await;

    let alert = wait_for(&app, &id, Duration::from_secs(10), "the end", |a| {
        ended(a) && level(a) == 2 && a["escalationRound"] == 2
    })
    .await;
    let steps = escalations(&alert);
    assert_eq!(steps.len(), 6, "two levels, walked three times: {steps:?}");
    assert!(steps[2].contains("level 1 (repeat 1)"), "{steps:?}");
    assert!(steps[5].contains("level 2 (repeat 2)"), "{steps:?}");
    assert_eq!(
        responder_emails(&alert),
        vec![u[0].1.clone(), u[1].1.clone()],
        "a repeat calls the same responders again, it does not list them twice"
    );
    assert_eq!(assignee(&alert), u[1].1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(escalations(&escalation(&app, &id).await).len(), 6);
}

/// Level 1 passes in 100 ms, level 2 waits a second: long enough to act on the alert at level 2.
async fn alert_at_level_two(app: &TestApp) -> (String, Vec<(String, String)>) {
    let u = users(app, 3).await;
    let p = policy(
        app,
        &[(1, vec![&u[0].0]), (10, vec![&u[1].0]), (1, vec![&u[2].0])],
        0,
    )
    .await;
    let id = alert_on(app, &p).await;
    wait_for(app, &id, Duration::from_secs(10), "level 2", |a| {
        level(a) == 2
    })
    .await;
    (id, u)
}

#[tokio::test]
async fn accept_stops_escalation() {
    let app = spawn_scaled(FAST).await;
    let (id, u) = alert_at_level_two(&app).await;
    let token = app.login_token(&u[1].1, USER_PASSWORD).await;
    let accepted = app
        .gql(
            &token,
            "mutation($id: ID!) { acceptAlert(id: $id) { status nextEscalationAt assignedTo { email } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(accepted["acceptAlert"]["status"], "ACCEPTED");
    assert!(
        accepted["acceptAlert"]["nextEscalationAt"].is_null(),
        "{accepted}"
    );

    // Well past level 2's timeout: level 3 never comes.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let alert = escalation(&app, &id).await;
    assert_eq!(level(&alert), 2, "{alert}");
    assert_eq!(escalations(&alert).len(), 2, "{alert}");
    assert_eq!(assignee(&alert), u[1].1);
    assert!(!responder_emails(&alert).contains(&u[2].1), "{alert}");
}

#[tokio::test]
async fn resolve_ends_escalation() {
    let app = spawn_scaled(FAST).await;
    let (id, _) = alert_at_level_two(&app).await;
    let admin = app.admin_token().await;
    let resolved = app
        .gql(
            &admin,
            "mutation($id: ID!) { resolveAlert(id: $id) { status nextEscalationAt } }",
            json!({ "id": id }),
        )
        .await;
    assert!(
        resolved["resolveAlert"]["nextEscalationAt"].is_null(),
        "{resolved}"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let alert = escalation(&app, &id).await;
    assert_eq!(alert["status"], "RESOLVED");
    assert_eq!(escalations(&alert).len(), 2, "{alert}");
}

#[tokio::test]
async fn an_incident_resolved_in_servicenow_ends_escalation() {
    let app = spawn_scaled(FAST).await;
    let u = users(&app, 2).await;
    let p = policy(&app, &[(10, vec![&u[0].0]), (1, vec![&u[1].0])], 0).await;
    let admin = app.admin_token().await;
    let source = app.create_alert_source(&admin, &p).await;
    let key = str_field(&source, "integrationKey");
    let sys_id = new_sys_id();
    let (status, body) = app
        .post_event(&key, &incident(&sys_id, state::NEW, 0))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = str_field(&body, "alertId");
    let (status, body) = app
        .post_event(&key, &incident(&sys_id, state::RESOLVED, 1))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let alert = escalation(&app, &id).await;
    assert!(ended(&alert), "{alert}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(escalations(&escalation(&app, &id).await).len(), 1);
}

#[tokio::test]
async fn reroute_restarts_at_level_one_of_the_new_policy() {
    let app = spawn_scaled(FAST).await;
    let (id, old) = alert_at_level_two(&app).await;
    let u = users(&app, 2).await;
    let target = policy(&app, &[(10, vec![&u[0].0]), (1, vec![&u[1].0])], 0).await;
    let admin = app.admin_token().await;
    let rerouted = app
        .gql(
            &admin,
            "mutation($id: ID!, $p: ID!) { rerouteAlert(id: $id, escalationPolicyId: $p) { \
               escalationLevel assignedTo { email } nextEscalationAt } }",
            json!({ "id": id, "p": target }),
        )
        .await;
    assert_eq!(rerouted["rerouteAlert"]["escalationLevel"], 1, "{rerouted}");
    assert_eq!(rerouted["rerouteAlert"]["assignedTo"]["email"], u[0].1);
    assert!(rerouted["rerouteAlert"]["nextEscalationAt"].is_string());

    let alert = wait_for(
        &app,
        &id,
        Duration::from_secs(10),
        "new policy level 2",
        |a| level(a) == 2 && ended(a),
    )
    .await;
    assert_eq!(alert["escalationPolicy"]["id"], target.as_str());
    assert_eq!(assignee(&alert), u[1].1);
    assert_eq!(
        responder_emails(&alert),
        vec![
            old[0].1.clone(),
            old[1].1.clone(),
            u[0].1.clone(),
            u[1].1.clone()
        ],
        "earlier responders stay, the old policy's level 3 is never reached"
    );
    assert_eq!(
        step_kinds(&alert),
        vec![
            "CREATED",
            "ESCALATED",
            "ESCALATED",
            "REROUTED",
            "ESCALATED",
            "ESCALATED"
        ]
    );
}

#[tokio::test]
async fn a_step_due_while_the_server_was_down_is_taken_right_after_start_once() {
    // At 60, level 1 lasts two seconds: ample time to stop the server before it is due.
    let app = spawn_scaled("60").await;
    let u = users(&app, 3).await;
    let p = policy(
        &app,
        &[(2, vec![&u[0].0]), (10, vec![&u[1].0]), (1, vec![&u[2].0])],
        0,
    )
    .await;
    let id = alert_on(&app, &p).await;
    let before = escalation(&app, &id).await;
    assert_eq!(level(&before), 1, "{before}");
    let options = app.options().clone();
    let db = app.stop().await;

    // Down until well after level 2 became due.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let started = Instant::now();
    let app = spawn_app_with(db, options).await;
    let alert = wait_for(&app, &id, Duration::from_secs(5), "level 2", |a| {
        level(a) == 2
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(assignee(&alert), u[1].1);
    // Level 2 lasts ten seconds: the restart neither skipped to level 3 nor repeated level 2.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let alert = escalation(&app, &id).await;
    let steps = escalations(&alert);
    assert_eq!(steps.len(), 2, "{steps:?}");
    assert!(steps[1].contains("level 2"), "{steps:?}");
}

#[tokio::test]
async fn two_processes_take_each_step_exactly_once() {
    let app = spawn_scaled(FAST).await;
    let sibling = app.spawn_sibling().await;
    let u = users(&app, 3).await;
    let p = policy(
        &app,
        &[(1, vec![&u[0].0]), (1, vec![&u[1].0]), (1, vec![&u[2].0])],
        1,
    )
    .await;
    let admin = app.admin_token().await;
    let source = app.create_alert_source(&admin, &p).await;
    let key = str_field(&source, "integrationKey");
    let mut ids = Vec::new();
    for i in 0..30 {
        // Alternate the processes that create them, too.
        let target = if i % 2 == 0 { &app } else { &sibling };
        let (status, body) = target
            .post_event(&key, &incident(&new_sys_id(), state::NEW, 0))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(str_field(&body, "alertId"));
    }
    for id in &ids {
        let alert = wait_for(&app, id, Duration::from_secs(30), "the end", |a| {
            ended(a) && level(a) == 3 && a["escalationRound"] == 1
        })
        .await;
        let steps = escalations(&alert);
        assert_eq!(steps.len(), 6, "three levels, walked twice: {steps:?}");
        let mut unique = steps.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 6, "a step was written twice: {steps:?}");
    }
    assert!(
        !app.logs().contains("escalation tick failed")
            && !sibling.logs().contains("escalation tick failed"),
        "{}\n{}",
        app.logs(),
        sibling.logs()
    );
}

const UPDATE_POLICY: &str = "mutation($id: ID!, $input: UpdateEscalationPolicyInput!) { \
     updateEscalationPolicy(id: $id, input: $input) { id name routingKey repeat \
       rules { escalationTimeoutMinutes users { email } } } }";

#[tokio::test]
async fn update_replaces_a_policy() {
    let app = spawn_app().await;
    let u = users(&app, 2).await;
    let p = policy(&app, &[(5, vec![&u[0].0])], 0).await;
    let admin = app.admin_token().await;
    let input = json!({
        "name": "Renamed",
        "routingKey": "renamed",
        "repeat": 3,
        "rules": [
            { "escalationTimeoutMinutes": 7, "userIds": [u[1].0] },
            { "escalationTimeoutMinutes": 9, "userIds": [u[0].0, u[1].0] },
        ],
    });
    let data = app
        .gql(&admin, UPDATE_POLICY, json!({ "id": p, "input": input }))
        .await;
    let updated = &data["updateEscalationPolicy"];
    assert_eq!(updated["name"], "Renamed");
    assert_eq!(updated["routingKey"], "renamed");
    assert_eq!(updated["repeat"], 3);
    assert_eq!(updated["rules"][0]["escalationTimeoutMinutes"], 7);
    assert_eq!(updated["rules"][0]["users"][0]["email"], u[1].1);
    assert_eq!(updated["rules"][1]["users"][1]["email"], u[1].1);

    let missing = app
        .graphql(
            Some(&admin),
            UPDATE_POLICY,
            json!({ "id": uuid::Uuid::now_v7().to_string(), "input": input }),
        )
        .await;
    assert_error_code(&missing, "NOT_FOUND");
    let bad = app
        .graphql(
            Some(&admin),
            UPDATE_POLICY,
            json!({ "id": p, "input": { "name": "x", "rules": [], "repeat": 0 } }),
        )
        .await;
    assert_error_code(&bad, "BAD_USER_INPUT");
    let negative = app
        .graphql(
            Some(&admin),
            UPDATE_POLICY,
            json!({ "id": p, "input": {
                "name": "x", "repeat": -1,
                "rules": [{ "escalationTimeoutMinutes": 1, "userIds": [u[0].0] }] } }),
        )
        .await;
    assert_error_code(&negative, "BAD_USER_INPUT");
    let (_, responder) = app.create_responder().await;
    let forbidden = app
        .graphql(
            Some(&responder),
            UPDATE_POLICY,
            json!({ "id": p, "input": input }),
        )
        .await;
    assert_error_code(&forbidden, "FORBIDDEN");
}

const DELETE_POLICY: &str = "mutation($id: ID!) { deleteEscalationPolicy(id: $id) }";

async fn policy_ids(app: &TestApp) -> Vec<String> {
    let admin = app.admin_token().await;
    app.gql(&admin, "{ escalationPolicies { id } }", json!({}))
        .await["escalationPolicies"]
        .as_array()
        .map(|a| a.iter().map(id_of).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn delete_is_refused_while_sources_or_open_alerts_use_the_policy() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let source = app.setup_source().await;
    let (_, alert_id) = app.create_alert(&source).await;

    let refused = app
        .graphql(
            Some(&admin),
            DELETE_POLICY,
            json!({ "id": source.policy_id }),
        )
        .await;
    assert_error_code(&refused, "CONFLICT");
    let message = error_message(&refused);
    assert!(
        message.contains(&source.name),
        "names the source: {message}"
    );

    // Re-routed to a policy no source uses: the open alert alone keeps it.
    let u = users(&app, 1).await;
    let other = policy(&app, &[(5, vec![&u[0].0])], 0).await;
    app.gql(
        &admin,
        "mutation($id: ID!, $p: ID!) { rerouteAlert(id: $id, escalationPolicyId: $p) { id } }",
        json!({ "id": alert_id, "p": other }),
    )
    .await;
    let refused = app
        .graphql(Some(&admin), DELETE_POLICY, json!({ "id": other }))
        .await;
    assert_error_code(&refused, "CONFLICT");
    let message = error_message(&refused);
    assert!(message.contains(&alert_id), "names the alert: {message}");

    // Once resolved, the alert no longer holds it; it still shows the policy that handled it.
    app.gql(
        &admin,
        "mutation($id: ID!) { resolveAlert(id: $id) { id } }",
        json!({ "id": alert_id }),
    )
    .await;
    let deleted = app.gql(&admin, DELETE_POLICY, json!({ "id": other })).await;
    assert_eq!(deleted["deleteEscalationPolicy"], true);
    assert!(!policy_ids(&app).await.contains(&other));
    let alert = escalation(&app, &alert_id).await;
    assert_eq!(alert["escalationPolicy"]["id"], other.as_str(), "{alert}");
    let again = app
        .graphql(Some(&admin), DELETE_POLICY, json!({ "id": other }))
        .await;
    assert_error_code(&again, "NOT_FOUND");
    let reroute = app
        .graphql(
            Some(&admin),
            "mutation($p: ID!) { createAlertSource(input: {name: \"x\", escalationPolicyId: $p, \
               integrationType: SERVICENOW}) { id } }",
            json!({ "p": other }),
        )
        .await;
    assert!(
        reroute["errors"].is_array(),
        "a deleted policy cannot be chosen: {reroute}"
    );

    // A policy nothing ever used goes at once.
    let unused = policy(&app, &[(5, vec![&u[0].0])], 0).await;
    let (_, responder) = app.create_responder().await;
    let forbidden = app
        .graphql(Some(&responder), DELETE_POLICY, json!({ "id": unused }))
        .await;
    assert_error_code(&forbidden, "FORBIDDEN");
    app.gql(&admin, DELETE_POLICY, json!({ "id": unused }))
        .await;
    assert!(!policy_ids(&app).await.contains(&unused));
}
