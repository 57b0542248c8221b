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
    assert_eq!(
        response["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "a refused query names why with a stable code"
    );
}

/// `__type(name: "Alert") { fields { type { ofType { … { name } } } } }` with `levels` ofTypes.
fn nested_type_query(levels: usize) -> String {
    format!(
        "{{ __type(name: \"Alert\") {{ fields {{ type {}{{ name }}{} }} }} }}",
        "{ ofType ".repeat(levels),
        " }".repeat(levels)
    )
}

// The schema has no cycles, but introspection does: each `ofType` nests one level. The depth
// stays below the GraphQL parser's own recursion limit (32), so only the server's depth limit
// can refuse it.
#[tokio::test]
async fn over_deep_query_is_rejected() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    // The same shape, shallow, is a valid query.
    app.gql(&token, &nested_type_query(2), json!({})).await;
    let response = app
        .graphql(Some(&token), &nested_type_query(22), json!({}))
        .await;
    assert_refused(&response);
}

#[tokio::test]
async fn over_deep_query_is_rejected_without_login() {
    let app = spawn_app().await;
    let response = app.graphql(None, &nested_type_query(22), json!({})).await;
    assert_refused(&response);
}

/// GraphiQL and similar GraphQL tools send this to build their docs; limits must allow it.
const INTROSPECTION_QUERY: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } \
    subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } } \
  fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description \
    args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } \
    interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } \
    possibleTypes { ...TypeRef } } \
  fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue } \
  fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name \
    ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

#[tokio::test]
async fn graphiql_introspection_query_stays_within_limits() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let data = app.gql(&token, INTROSPECTION_QUERY, json!({})).await;
    let types = data["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "Alert"), "{data}");
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
    // Two of the same aliases are fine, so the refusal above is about the count.
    let few: String = (0..2)
        .map(|i| format!("a{i}: alerts(first: 100) {{ nodes {{ id summary comments {{ body }} }} totalCount }} "))
        .collect();
    app.gql(&token, &format!("{{ {few} }}"), json!({})).await;
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
