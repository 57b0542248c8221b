//! Depth and complexity limits of the GraphQL endpoint.

use glidepath_tests::*;
use serde_json::{Value, json};

fn assert_refused(response: &Value) {
    assert!(
        response["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "oversized query was answered: {}",
        &response.to_string()[..response.to_string().len().min(500)]
    );
    assert!(
        response["data"].is_null() || response["data"].as_object().is_some_and(|d| d.is_empty()),
        "oversized query produced data"
    );
}

#[tokio::test]
async fn over_deep_query_is_rejected() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    // The schema has no cycles, but introspection does: each `ofType` nests one level.
    let depth = 40;
    let query = format!(
        "{{ __type(name: \"Alert\") {{ fields {{ type {}name{} }} }} }}",
        "{ ofType ".repeat(depth),
        " }".repeat(depth)
    );
    let response = app.graphql(Some(&token), &query, json!({})).await;
    assert_refused(&response);
}

#[tokio::test]
async fn over_deep_query_is_rejected_without_login() {
    let app = spawn_app().await;
    let depth = 60;
    let query = format!(
        "{{ __schema {{ types {{ fields {{ type {}name{} }} }} }} }}",
        "{ ofType ".repeat(depth),
        " }".repeat(depth)
    );
    let response = app.graphql(None, &query, json!({})).await;
    assert_refused(&response);
}

#[tokio::test]
async fn query_with_hundreds_of_aliases_is_rejected() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    app.create_alert(&source).await;
    let token = app.admin_token().await;
    let fields: String = (0..1000)
        .map(|i| format!("a{i}: alerts(first: 100) {{ nodes {{ id summary comments {{ body }} }} totalCount }} "))
        .collect();
    let response = app
        .graphql(Some(&token), &format!("{{ {fields} }}"), json!({}))
        .await;
    assert_refused(&response);
}

#[tokio::test]
async fn query_with_many_cheap_aliases_is_rejected() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let fields: String = (0..3000)
        .map(|i| format!("m{i}: me {{ id email name role createdAt }} "))
        .collect();
    let response = app
        .graphql(Some(&token), &format!("{{ {fields} }}"), json!({}))
        .await;
    assert_refused(&response);
}

#[tokio::test]
async fn ordinary_list_and_detail_queries_stay_within_limits() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (_, alert_id) = app.create_alert(&source).await;
    let token = app.admin_token().await;
    let data = app
        .gql(
            &token,
            "{ alerts { nodes { id status priority summary createdAt alertSource { id name } \
                 escalationPolicy { id name } assignedTo { id email } ticket { number url } } \
                 pageInfo { hasNextPage endCursor } totalCount } \
               me { id email role } \
               escalationPolicies { id name routingKey rules { escalationTimeoutMinutes users { id email } } } \
               alertSources { id name webhookUrl escalationPolicy { id name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["alerts"]["totalCount"], 1);
    // The detail view asks for every field of the alert.
    assert_eq!(app.alert(&alert_id).await["id"], alert_id.as_str());
}
