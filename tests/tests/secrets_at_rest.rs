//! Credentials never sit in the database in clear: a dump alone does not reveal an integration
//! key, a session or API token, or a password.

use glidepath_tests::*;
use serde_json::json;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn database_dump_reveals_no_integration_key_token_or_password() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let token = app.admin_token().await;
    let api = app
        .gql(
            &token,
            "mutation { createApiToken(name: \"ci\") { token } }",
            json!({}),
        )
        .await;
    let api_token = api["createApiToken"]["token"]
        .as_str()
        .expect("api token")
        .to_string();
    let (status, _) = app
        .post_event(
            &source.integration_key,
            &incident(&new_sys_id(), state::NEW, 0),
        )
        .await;
    assert_eq!(status.as_u16(), 201);

    let dump = app.database_dump().await;
    assert!(!dump.is_empty(), "the dump must hold the data");
    assert!(
        contains(&dump, &source.name),
        "the dump should show ordinary data"
    );
    assert!(
        !contains(&dump, &source.integration_key),
        "integration key stored in clear"
    );
    assert!(!contains(&dump, &token), "session token stored in clear");
    assert!(!contains(&dump, &api_token), "API token stored in clear");
    assert!(!contains(&dump, ADMIN_PASSWORD), "password stored in clear");
}

#[tokio::test]
async fn integration_key_survives_a_restart_with_the_same_key_file() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let sibling = app.spawn_sibling().await;
    let token = sibling.admin_token().await;
    let data = sibling
        .gql(
            &token,
            "query($id: ID!) { alertSource(id: $id) { integrationKey webhookUrl } }",
            json!({"id": source.id}),
        )
        .await;
    assert_eq!(
        data["alertSource"]["integrationKey"],
        source.integration_key.as_str()
    );
    let (status, _) = sibling
        .post_event(
            &source.integration_key,
            &incident(&new_sys_id(), state::NEW, 0),
        )
        .await;
    assert_eq!(status.as_u16(), 201);
}
