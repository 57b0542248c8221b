//! The cost of a GraphQL query: `alerts` counts `first` times its selection, the lists under an
//! alert count ten times theirs, and the UI's own queries stay within the limit.

use glidepath_tests::*;
use serde_json::{Value, json};

/// Every operation the web UI sends, as it sends them.
const UI_OPERATIONS: &str = include_str!("../../frontend/src/operations.graphql");

async fn ui_operation(app: &TestApp, token: &str, name: &str, variables: Value) -> Value {
    let response = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": UI_OPERATIONS, "operationName": name, "variables": variables }))
        .send()
        .await
        .expect("POST /graphql");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("JSON answer")
}

fn assert_too_costly(response: &Value) {
    assert!(response["data"].is_null(), "a costly query ran: {response}");
    let errors = response["errors"].as_array().expect("errors");
    assert_eq!(
        errors[0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{response}"
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.to_lowercase().contains("complex")),
        "{response}"
    );
}

#[tokio::test]
async fn sixty_aliases_of_a_hundred_alerts_are_rejected() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let fields: String = (0..60)
        .map(|i| {
            format!(
                "a{i}: alerts(first: 100) {{ nodes {{ alertSource {{ id }} comments {{ author {{ email }} }} }} }} "
            )
        })
        .collect();
    let response = app
        .graphql(Some(&token), &format!("{{ {fields} }}"), json!({}))
        .await;
    assert_too_costly(&response);
}

#[tokio::test]
async fn first_counts_towards_the_cost() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    // Ten aliases of 3 alerts each with their comments are cheap; the same with 100 alerts each
    // is not, although the query text is as long.
    let query = |first: u32| -> String {
        let fields: String = (0..10)
            .map(|i| {
                format!(
                    "a{i}: alerts(first: {first}) {{ nodes {{ id alertSource {{ id }} comments {{ author {{ email }} }} }} }} "
                )
            })
            .collect();
        format!("{{ {fields} }}")
    };
    app.gql(&token, &query(3), json!({})).await;
    assert_too_costly(&app.graphql(Some(&token), &query(100), json!({})).await);
    // Without `first`, the default page (25) is what counts.
    let default_page: String = (0..10)
        .map(|i| format!("a{i}: alerts {{ nodes {{ id comments {{ author {{ email }} }} }} }} "))
        .collect();
    assert_too_costly(
        &app.graphql(Some(&token), &format!("{{ {default_page} }}"), json!({}))
            .await,
    );
}

#[tokio::test]
async fn nested_lists_count_ten_times_their_selection() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    // 100 alerts × (comments, log entries, responders, sync updates: 10 × each) is over the limit,
    // while the same page without the lists is not.
    let heavy = "{ alerts(first: 100) { nodes { id \
        comments { id body author { email } } logEntries { kind message } \
        responders { id email } syncUpdates { id state } } } }";
    assert_too_costly(&app.graphql(Some(&token), heavy, json!({})).await);
    app.gql(
        &token,
        "{ alerts(first: 100) { nodes { id summary } } }",
        json!({}),
    )
    .await;
}

#[tokio::test]
async fn the_ui_alert_list_for_a_hundred_alerts_and_the_alert_detail_are_accepted() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let (_, alert_id) = app.create_alert(&source).await;
    let token = app.admin_token().await;
    let list = ui_operation(
        &app,
        &token,
        "AlertList",
        json!({ "first": 100, "status": null, "priority": null, "alertSourceId": null, "after": null }),
    )
    .await;
    assert!(list.get("errors").is_none(), "{list}");
    assert_eq!(list["data"]["alerts"]["totalCount"], 1, "{list}");
    assert_eq!(list["data"]["alerts"]["nodes"][0]["id"], alert_id.as_str());
    let detail = ui_operation(&app, &token, "AlertDetail", json!({ "id": alert_id })).await;
    assert!(detail.get("errors").is_none(), "{detail}");
    assert_eq!(detail["data"]["alert"]["id"], alert_id.as_str());
    // A responder's view of the same pages.
    let (_, responder) = app.create_responder().await;
    let list = ui_operation(
        &app,
        &responder,
        "AlertList",
        json!({ "first": 100, "status": null, "priority": null, "alertSourceId": null, "after": null }),
    )
    .await;
    assert!(list.get("errors").is_none(), "{list}");
}

/// `glidepath_db_queries_total` from /metrics.
async fn queries_so_far(app: &TestApp) -> u64 {
    let metrics = app.metrics().await;
    metrics
        .lines()
        .find(|l| l.starts_with("glidepath_db_queries_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// The queries one UI alert-list page of `first` alerts takes. Background work (escalation ticks,
/// polls: a few a second) may add queries to a measurement; the fewest of 24 runs is the page's own
/// cost, even on a loaded machine where many runs overlap a tick.
async fn alert_list_queries(app: &TestApp, token: &str, first: u32) -> u64 {
    let mut fewest = u64::MAX;
    for _ in 0..24 {
        let before = queries_so_far(app).await;
        let list = ui_operation(
            app,
            token,
            "AlertList",
            json!({ "first": first, "status": null, "priority": null, "alertSourceId": null, "after": null }),
        )
        .await;
        let after = queries_so_far(app).await;
        assert!(list.get("errors").is_none(), "{list}");
        let nodes = list["data"]["alerts"]["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), first as usize, "{list}");
        assert!(nodes.iter().all(|n| n["alertSource"]["name"].is_string()));
        assert!(
            nodes
                .iter()
                .all(|n| n["escalationPolicy"]["name"].is_string())
        );
        fewest = fewest.min(after - before);
    }
    fewest
}

#[tokio::test]
async fn a_page_of_alerts_takes_the_same_number_of_queries_whatever_its_size() {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let token = app.admin_token().await;
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(app.create_alert(&source).await.1);
    }
    // Assignees, responders and comments on some alerts, so that every nested field has rows.
    for id in ids.iter().step_by(3) {
        app.gql(
            &token,
            "mutation($id: ID!) { acceptAlert(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
        app.gql(
            &token,
            "mutation($id: ID!) { addComment(alertId: $id, body: \"looking\") { id } }",
            json!({ "id": id }),
        )
        .await;
    }
    let ten = alert_list_queries(&app, &token, 10).await;
    let hundred = alert_list_queries(&app, &token, 100).await;
    assert_eq!(
        ten, hundred,
        "10 alerts took {ten} queries, 100 alerts took {hundred}"
    );
    assert!(ten <= 10, "a page took {ten} queries");

    // The detail fields batch the same way: responders and comments of a whole page.
    let count = |first: u32| {
        let app = &app;
        let token = &token;
        async move {
            let mut fewest = u64::MAX;
            for _ in 0..24 {
                let before = queries_so_far(app).await;
                let query = format!(
                    "{{ alerts(first: {first}) {{ nodes {{ id responders {{ email }} comments {{ body }} }} }} }}"
                );
                let data = app.gql(token, &query, json!({})).await;
                let after = queries_so_far(app).await;
                assert_eq!(
                    data["alerts"]["nodes"].as_array().map(Vec::len),
                    Some(first as usize)
                );
                fewest = fewest.min(after - before);
            }
            fewest
        }
    };
    let (ten, hundred) = (count(10).await, count(100).await);
    assert_eq!(
        ten, hundred,
        "10 alerts took {ten} queries, 100 took {hundred}"
    );
}

#[tokio::test]
async fn a_query_cannot_ask_for_on_call_shifts_by_the_thousand() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let range = r#"from: "2030-01-01T00:00:00Z", to: "2030-02-01T00:00:00Z""#;
    let aliases = |n: usize| -> String {
        let fields: String = (0..n)
            .map(|i| format!("a{i}: onCallShifts({range}) {{ start }} "))
            .collect();
        format!("{{ me {{ {fields} }} }}")
    };
    // Each shifts field computes up to 31 days of every layer: 150 of them are too many (each
    // counts 20 and more; without that weight one query could ask for thousands).
    let response = app.graphql(Some(&token), &aliases(150), json!({})).await;
    assert_too_costly(&response);
    // A few are fine.
    let response = app.graphql(Some(&token), &aliases(3), json!({})).await;
    assert!(response["errors"].is_null(), "{response}");
}
