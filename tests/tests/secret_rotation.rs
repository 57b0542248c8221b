//! Rotating the secret key: with the new key current and the old one in
//! `GLIDEPATH_SECRET_KEY_PREVIOUS`, `glidepath rotate-secrets` re-encrypts every stored secret,
//! after which the old key is no longer needed.

use glidepath_tests::*;
use serde_json::json;

const OLD_KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const NEW_KEY: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
const BEARER: &str = "webhook-bearer-token-0123456789";
const RULE_URL: &str = "https://hooks.example.com/services/T0?token=rule-token-0123456789";

fn with_keys(options: SpawnOptions, key: &str, previous: Option<&str>) -> SpawnOptions {
    let options = options.env("GLIDEPATH_SECRET_KEY", key);
    match previous {
        Some(previous) => options.env("GLIDEPATH_SECRET_KEY_PREVIOUS", previous),
        None => options,
    }
}

async fn rotate(app: &TestApp, key: &str, previous: Option<&str>) -> std::process::Output {
    let mut envs = vec![
        ("GLIDEPATH_DATABASE_URL", app.database().url()),
        ("GLIDEPATH_SECRET_KEY", key),
    ];
    if let Some(previous) = previous {
        envs.push(("GLIDEPATH_SECRET_KEY_PREVIOUS", previous));
    }
    run_glidepath(&["rotate-secrets"], &envs, app.database().dir()).await
}

/// Whether a server started with `options` on the app's database can use every secret: show the
/// integration key, accept a webhook with the bearer token, sign in to the simulator, and show
/// the owner the (sealed) target of their webhook notification rule.
async fn secrets_work(app: &TestApp, options: SpawnOptions, source: &Source) -> bool {
    let server = app.spawn_sibling_with(options).await;
    let token = server.admin_token().await;
    let shown = server
        .graphql(
            Some(&token),
            "query($id: ID!) { alertSource(id: $id) { integrationKey } }",
            json!({ "id": source.id }),
        )
        .await;
    let key_ok = shown["data"]["alertSource"]["integrationKey"] == source.integration_key.as_str();
    let response = server
        .client
        .post(server.events_url(&source.integration_key))
        .bearer_auth(BEARER)
        .json(&incident(&new_sys_id(), state::NEW, 0))
        .send()
        .await
        .expect("post event");
    let webhook_ok = response.status().as_u16() == 201;
    let tested = server
        .graphql(
            Some(&token),
            "mutation($id: ID!) { testServiceNowConnection(alertSourceId: $id) { ok message } }",
            json!({ "id": source.id }),
        )
        .await;
    let connection_ok = tested["data"]["testServiceNowConnection"]["ok"] == true;
    let rules = server
        .graphql(
            Some(&token),
            "{ me { notificationRules { kind target } } }",
            json!({}),
        )
        .await;
    let rule_ok = rules["data"]["me"]["notificationRules"]
        .as_array()
        .is_some_and(|rules| rules.iter().any(|r| r["target"] == RULE_URL));
    server.stop().await;
    key_ok && webhook_ok && connection_ok && rule_ok
}

#[tokio::test]
async fn rotate_secrets_moves_every_secret_to_the_new_key() {
    let setup = sim_setup_with(with_keys(sim_options(0), OLD_KEY, None), false).await;
    let app = &setup.app;
    expect_data(
        app.graphql(
            Some(&setup.token),
            "mutation($id: ID!, $token: String!) { setWebhookAuth(alertSourceId: $id, input: { kind: BEARER, token: $token }) { id } }",
            json!({ "id": setup.source.id, "token": BEARER }),
        )
        .await,
    );
    expect_data(
        app.graphql(
            Some(&setup.token),
            "mutation($input: NotificationRuleInput!) { addNotificationRule(input: $input) { id } }",
            json!({ "input": { "kind": "WEBHOOK", "target": RULE_URL, "onStatusChange": false } }),
        )
        .await,
    );
    assert!(secrets_work(app, with_keys(sim_options(0), OLD_KEY, None), &setup.source).await);
    assert!(
        !secrets_work(app, with_keys(sim_options(0), NEW_KEY, None), &setup.source).await,
        "the new key alone must not open secrets sealed under the old one"
    );

    // During the rotation both keys open; the command re-seals under the new key.
    assert!(
        secrets_work(
            app,
            with_keys(sim_options(0), NEW_KEY, Some(OLD_KEY)),
            &setup.source
        )
        .await
    );
    let output = rotate(app, NEW_KEY, Some(OLD_KEY)).await;
    let log = strip_ansi(&String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "rotate-secrets failed: {log}");
    assert!(
        // The key, the bearer token, the password, the webhook rule's target and its signing
        // secret, and the target's sealed copy on the delivery of each of the two alerts the
        // admin was paged for.
        log.contains("reencrypted=7"),
        "seven secrets re-sealed: {log}"
    );
    assert!(!log.contains(BEARER) && !log.contains(SIM_PASSWORD) && !log.contains(RULE_URL));

    // Afterwards the new key alone opens everything, and the old one nothing.
    assert!(secrets_work(app, with_keys(sim_options(0), NEW_KEY, None), &setup.source).await);
    assert!(!secrets_work(app, with_keys(sim_options(0), OLD_KEY, None), &setup.source).await);

    // Running it again changes nothing.
    let again = rotate(app, NEW_KEY, None).await;
    let log = strip_ansi(&String::from_utf8_lossy(&again.stderr));
    assert!(again.status.success(), "{log}");
    assert!(log.contains("reencrypted=0"), "{log}");
}

#[tokio::test]
async fn rotate_secrets_without_the_old_key_fails_and_changes_nothing() {
    let app = spawn_app_with_options(with_keys(SpawnOptions::default(), OLD_KEY, None)).await;
    let source = app.setup_source().await;
    let output = rotate(&app, NEW_KEY, None).await;
    let log = strip_ansi(&String::from_utf8_lossy(&output.stderr));
    assert!(!output.status.success(), "must fail: {log}");
    assert!(log.contains("nothing changed"), "{log}");
    assert!(!log.contains(&source.integration_key));
    // The key is still sealed under the old key: a server with it alone still shows it.
    let old = app
        .spawn_sibling_with(with_keys(SpawnOptions::default(), OLD_KEY, None))
        .await;
    let token = old.admin_token().await;
    let shown = old
        .gql(
            &token,
            "query($id: ID!) { alertSource(id: $id) { integrationKey } }",
            json!({ "id": source.id }),
        )
        .await;
    assert_eq!(
        shown["alertSource"]["integrationKey"],
        source.integration_key.as_str()
    );
}
