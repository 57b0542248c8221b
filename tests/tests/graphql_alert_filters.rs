//! `alerts(priority:)`: the list filters by priority as well as status and alert source.

use glidepath_tests::*;
use serde_json::json;

#[tokio::test]
async fn alerts_filter_by_priority() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (_, high) = app.create_alert_with_priority(&source, "1").await;
    let (_, low) = app.create_alert_with_priority(&source, "4").await;
    let token = app.admin_token().await;
    let ids = |data: &serde_json::Value| -> Vec<String> {
        data["alerts"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect()
    };
    let query = "query($p: AlertPriority, $s: AlertStatus) { alerts(priority: $p, status: $s) { totalCount nodes { id priority } } }";

    let data = app.gql(&token, query, json!({ "p": "HIGH" })).await;
    assert_eq!(ids(&data), vec![high.clone()]);
    assert_eq!(data["alerts"]["totalCount"], 1);

    let data = app
        .gql(&token, query, json!({ "p": "LOW", "s": "PENDING" }))
        .await;
    assert_eq!(ids(&data), vec![low.clone()]);

    let data = app.gql(&token, query, json!({})).await;
    assert_eq!(ids(&data), vec![low, high], "newest first, unfiltered");

    let response = app
        .graphql(Some(&token), query, json!({ "p": "URGENT" }))
        .await;
    assert_error_code(&response, "GRAPHQL_VALIDATION_FAILED");
}
