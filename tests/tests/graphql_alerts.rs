//! Alert queries and the responder mutations.

use glidepath_tests::*;
use serde_json::{Value, json};

const ACCEPT: &str =
    "mutation($id: ID!) { acceptAlert(id: $id) { id status acceptedAt assignedTo { id email } } }";
const RESOLVE: &str = "mutation($id: ID!, $comment: String) { resolveAlert(id: $id, comment: $comment) { id status resolvedAt } }";
const REROUTE: &str = "mutation($id: ID!, $policy: ID!) { rerouteAlert(id: $id, escalationPolicyId: $policy) { id escalationPolicy { id name routingKey } } }";
const RAISE: &str = "mutation($id: ID!) { raiseAlertPriority(id: $id) { id priority } }";
const COMMENT: &str = "mutation($id: ID!, $body: String!) { addComment(alertId: $id, body: $body) { id body author { email } createdAt } }";

/// An `alerts` query passing only the arguments present in `variables` (`first`, `after`,
/// `status`, `source`), so an absent one takes the server's default.
fn alerts_query(variables: &Value) -> String {
    let arguments = [
        ("first", "first", "Int"),
        ("after", "after", "String"),
        ("status", "status", "AlertStatus"),
        ("source", "alertSourceId", "ID"),
    ];
    let present: Vec<_> = arguments
        .iter()
        .filter(|(var, _, _)| variables.get(*var).is_some_and(|v| !v.is_null()))
        .collect();
    let declarations: Vec<String> = present
        .iter()
        .map(|(var, _, ty)| format!("${var}: {ty}"))
        .collect();
    let uses: Vec<String> = present
        .iter()
        .map(|(var, arg, _)| format!("{arg}: ${var}"))
        .collect();
    let wrap = |items: Vec<String>| {
        if items.is_empty() {
            String::new()
        } else {
            format!("({})", items.join(", "))
        }
    };
    format!(
        "query{} {{ alerts{} {{ nodes {{ id status alertKey }} pageInfo {{ hasNextPage endCursor }} totalCount }} }}",
        wrap(declarations),
        wrap(uses)
    )
}

struct Ctx {
    app: TestApp,
    source: Source,
    token: String,
}

async fn ctx() -> Ctx {
    let app = spawn_app().await;
    let source = app.setup_source().await;
    let token = app.admin_token().await;
    Ctx { app, source, token }
}

impl Ctx {
    async fn run(&self, query: &str, variables: Value) -> Value {
        self.app.graphql(Some(&self.token), query, variables).await
    }

    async fn ok(&self, query: &str, variables: Value) -> Value {
        expect_data(self.run(query, variables).await)
    }

    async fn alert_with_priority(&self, priority: &str) -> String {
        self.app
            .create_alert_with_priority(&self.source, priority)
            .await
            .1
    }

    async fn alert(&self) -> String {
        self.alert_with_priority("1").await
    }

    async fn accept(&self, id: &str) -> Value {
        self.run(ACCEPT, json!({ "id": id })).await
    }

    async fn resolve(&self, id: &str) -> Value {
        self.run(RESOLVE, json!({ "id": id })).await
    }

    async fn page(&self, variables: Value) -> Value {
        self.ok(&alerts_query(&variables), variables).await["alerts"].clone()
    }
}

/// The newest log entry of `kind` must be by the admin as a user.
fn assert_logged_by_admin(alert: &Value, kind: &str) {
    let entries = log_entries_of(alert, kind);
    assert_eq!(entries.len(), 1, "{kind}: {alert}");
    assert_eq!(entries[0]["actor"], ADMIN_EMAIL, "{alert}");
    assert_eq!(entries[0]["actorKind"], "USER", "{alert}");
    assert!(entries[0]["createdAt"].is_string(), "{alert}");
}

#[tokio::test]
async fn alert_by_unknown_id_is_null() {
    let c = ctx().await;
    let data = c
        .ok(
            "query($id: ID!) { alert(id: $id) { id } }",
            json!({ "id": uuid::Uuid::new_v4().to_string() }),
        )
        .await;
    assert!(data["alert"].is_null(), "{data}");
}

#[tokio::test]
async fn accept_alert_assigns_the_caller_and_logs_it() {
    let c = ctx().await;
    let id = c.alert().await;
    let data = expect_data(c.accept(&id).await);
    let accepted = &data["acceptAlert"];
    assert_eq!(accepted["status"], "ACCEPTED");
    assert!(accepted["acceptedAt"].is_string(), "{accepted}");
    assert_eq!(accepted["assignedTo"]["email"], ADMIN_EMAIL);

    let alert = c.app.alert(&id).await;
    assert_eq!(alert["status"], "ACCEPTED");
    assert_eq!(
        log_kinds(&alert),
        vec!["CREATED", "ESCALATED", "NOTIFICATION_FAILED", "ACCEPTED"],
        "{alert}"
    );
    assert_logged_by_admin(&alert, "ACCEPTED");
}

#[tokio::test]
async fn accept_alert_twice_conflicts() {
    let c = ctx().await;
    let id = c.alert().await;
    expect_data(c.accept(&id).await);
    assert_error_code(&c.accept(&id).await, "CONFLICT");
    let alert = c.app.alert(&id).await;
    assert_eq!(log_entries_of(&alert, "ACCEPTED").len(), 1, "{alert}");
}

#[tokio::test]
async fn accept_resolved_alert_conflicts() {
    let c = ctx().await;
    let id = c.alert().await;
    expect_data(c.resolve(&id).await);
    assert_error_code(&c.accept(&id).await, "CONFLICT");
    let alert = c.app.alert(&id).await;
    assert_eq!(alert["status"], "RESOLVED");
    // The refused accept changed nothing (the assignee is level 1's, from creation).
    assert!(alert["acceptedAt"].is_null(), "{alert}");
    assert!(log_entries_of(&alert, "ACCEPTED").is_empty(), "{alert}");
}

#[tokio::test]
async fn resolve_alert_with_comment_stores_the_comment() {
    let c = ctx().await;
    let id = c.alert().await;
    let data = c
        .ok(
            RESOLVE,
            json!({ "id": id, "comment": "Line card replaced" }),
        )
        .await;
    assert_eq!(data["resolveAlert"]["status"], "RESOLVED");
    assert!(data["resolveAlert"]["resolvedAt"].is_string(), "{data}");

    let alert = c.app.alert(&id).await;
    assert_logged_by_admin(&alert, "RESOLVED");
    let comments = alert["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1, "{alert}");
    assert_eq!(comments[0]["body"], "Line card replaced");
    assert_eq!(comments[0]["author"]["email"], ADMIN_EMAIL);
}

#[tokio::test]
async fn resolve_accepted_alert_without_comment() {
    let c = ctx().await;
    let id = c.alert().await;
    expect_data(c.accept(&id).await);
    expect_data(c.resolve(&id).await);
    let alert = c.app.alert(&id).await;
    assert_eq!(alert["status"], "RESOLVED");
    assert_eq!(alert["comments"], json!([]), "{alert}");
    assert_eq!(
        log_kinds(&alert),
        vec![
            "CREATED",
            "ESCALATED",
            "NOTIFICATION_FAILED",
            "ACCEPTED",
            "RESOLVED"
        ],
        "{alert}"
    );
}

#[tokio::test]
async fn resolve_alert_twice_conflicts() {
    let c = ctx().await;
    let id = c.alert().await;
    expect_data(c.resolve(&id).await);
    let resolved_at = c.app.alert(&id).await["resolvedAt"].clone();
    assert_error_code(&c.resolve(&id).await, "CONFLICT");
    let alert = c.app.alert(&id).await;
    assert_eq!(alert["resolvedAt"], resolved_at);
    assert_eq!(log_entries_of(&alert, "RESOLVED").len(), 1, "{alert}");
}

#[tokio::test]
async fn reroute_alert_moves_it_to_another_policy() {
    let c = ctx().await;
    let id = c.alert().await;
    let admin_id = c.app.admin_id().await;
    let other = c.app.create_policy(&c.token, &[&admin_id]).await;
    let data = c
        .ok(REROUTE, json!({ "id": id, "policy": other["id"] }))
        .await;
    assert_eq!(data["rerouteAlert"]["escalationPolicy"]["id"], other["id"]);
    let alert = c.app.alert(&id).await;
    assert_eq!(alert["escalationPolicy"]["routingKey"], other["routingKey"]);
    assert_eq!(
        alert["status"], "PENDING",
        "rerouting is not accepting: {alert}"
    );
    assert_logged_by_admin(&alert, "REROUTED");
}

#[tokio::test]
async fn reroute_to_the_same_policy_conflicts() {
    let c = ctx().await;
    let id = c.alert().await;
    let response = c
        .run(REROUTE, json!({ "id": id, "policy": c.source.policy_id }))
        .await;
    assert_error_code(&response, "CONFLICT");
    assert!(log_entries_of(&c.app.alert(&id).await, "REROUTED").is_empty());
}

#[tokio::test]
async fn reroute_to_unknown_policy_is_not_found() {
    let c = ctx().await;
    let id = c.alert().await;
    let response = c
        .run(
            REROUTE,
            json!({ "id": id, "policy": uuid::Uuid::new_v4().to_string() }),
        )
        .await;
    assert_error_code(&response, "NOT_FOUND");
    let alert = c.app.alert(&id).await;
    assert_eq!(alert["escalationPolicy"]["id"], c.source.policy_id.as_str());
}

#[tokio::test]
async fn reroute_resolved_alert_conflicts() {
    let c = ctx().await;
    let id = c.alert().await;
    let admin_id = c.app.admin_id().await;
    let other = c.app.create_policy(&c.token, &[&admin_id]).await;
    expect_data(c.resolve(&id).await);
    let response = c
        .run(REROUTE, json!({ "id": id, "policy": other["id"] }))
        .await;
    assert_error_code(&response, "CONFLICT");
}

#[tokio::test]
async fn raise_low_alert_priority_makes_it_high() {
    let c = ctx().await;
    let id = c.alert_with_priority("4").await;
    let data = c.ok(RAISE, json!({ "id": id })).await;
    assert_eq!(data["raiseAlertPriority"]["priority"], "HIGH");
    let alert = c.app.alert(&id).await;
    assert_eq!(alert["priority"], "HIGH");
    assert_logged_by_admin(&alert, "PRIORITY_RAISED");
}

#[tokio::test]
async fn raise_high_alert_priority_conflicts() {
    let c = ctx().await;
    let id = c.alert_with_priority("1").await;
    assert_error_code(&c.run(RAISE, json!({ "id": id })).await, "CONFLICT");
}

#[tokio::test]
async fn raise_resolved_low_alert_conflicts() {
    let c = ctx().await;
    let id = c.alert_with_priority("5").await;
    expect_data(c.resolve(&id).await);
    assert_error_code(&c.run(RAISE, json!({ "id": id })).await, "CONFLICT");
    assert_eq!(c.app.alert(&id).await["priority"], "LOW");
}

#[tokio::test]
async fn add_comment_returns_it_with_author_and_logs_it() {
    let c = ctx().await;
    let id = c.alert().await;
    let (responder, responder_token) = c.app.create_responder().await;
    let data = c
        .ok(COMMENT, json!({ "id": id, "body": "Looking into it" }))
        .await;
    let comment = &data["addComment"];
    assert_eq!(comment["body"], "Looking into it");
    assert_eq!(comment["author"]["email"], ADMIN_EMAIL);
    assert!(
        comment["id"].is_string() && comment["createdAt"].is_string(),
        "{comment}"
    );

    let data = expect_data(
        c.app
            .graphql(
                Some(&responder_token),
                COMMENT,
                json!({ "id": id, "body": "Router rebooted" }),
            )
            .await,
    );
    assert_eq!(data["addComment"]["author"]["email"], responder["email"]);

    let alert = c.app.alert(&id).await;
    let comments = alert["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 2, "{alert}");
    assert_eq!(comments[0]["id"], comment["id"]);
    assert_eq!(comments[0]["author"]["email"], ADMIN_EMAIL);
    assert_eq!(comments[1]["body"], "Router rebooted");
    assert_eq!(comments[1]["author"]["email"], responder["email"]);
    let commented = log_entries_of(&alert, "COMMENTED");
    assert_eq!(commented.len(), 2, "{alert}");
    assert_eq!(commented[0]["actor"], ADMIN_EMAIL);
    assert_eq!(commented[0]["actorKind"], "USER");
    assert_eq!(commented[1]["actor"], responder["email"]);
}

#[tokio::test]
async fn empty_comment_is_bad_input() {
    let c = ctx().await;
    let id = c.alert().await;
    let response = c.run(COMMENT, json!({ "id": id, "body": "" })).await;
    assert_error_code(&response, "BAD_USER_INPUT");
    assert_eq!(c.app.alert(&id).await["comments"], json!([]));
}

#[tokio::test]
async fn mutations_on_unknown_alert_are_not_found() {
    let c = ctx().await;
    let admin_id = c.app.admin_id().await;
    let policy = c.app.create_policy(&c.token, &[&admin_id]).await;
    let unknown = uuid::Uuid::new_v4().to_string();
    for (query, variables) in [
        (ACCEPT, json!({ "id": unknown })),
        (RESOLVE, json!({ "id": unknown })),
        (REROUTE, json!({ "id": unknown, "policy": policy["id"] })),
        (RAISE, json!({ "id": unknown })),
        (COMMENT, json!({ "id": unknown, "body": "hello" })),
    ] {
        assert_error_code(&c.run(query, variables).await, "NOT_FOUND");
    }
}

#[tokio::test]
async fn log_entries_are_oldest_first_with_actors() {
    let c = ctx().await;
    let (sys_id, id) = c.app.create_alert_with_priority(&c.source, "3").await;
    let (_, body) = c
        .app
        .post_event(
            &c.source.integration_key,
            &incident_with_priority(&sys_id, state::NEW, 1, "1"),
        )
        .await;
    assert_eq!(body["outcome"], "updated", "{body}");
    expect_data(c.accept(&id).await);
    c.ok(COMMENT, json!({ "id": id, "body": "on it" })).await;
    expect_data(c.resolve(&id).await);

    let alert = c.app.alert(&id).await;
    assert_eq!(
        log_kinds(&alert),
        vec![
            "CREATED",
            "ESCALATED",
            "NOTIFICATION_FAILED",
            "PRIORITY_RAISED",
            "ACCEPTED",
            "COMMENTED",
            "RESOLVED"
        ],
        "{alert}"
    );
    let actor_kinds: Vec<_> = alert["logEntries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actorKind"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actor_kinds,
        vec![
            "SERVICENOW",
            "SYSTEM",
            "SYSTEM",
            "SERVICENOW",
            "USER",
            "USER",
            "USER"
        ]
    );
    for entry in alert["logEntries"].as_array().unwrap() {
        assert!(entry["message"].is_string(), "{entry}");
    }
}

#[tokio::test]
async fn alerts_page_newest_first() {
    let c = ctx().await;
    let mut created = Vec::new();
    for _ in 0..5 {
        created.push(c.alert().await);
    }
    let newest_first: Vec<Value> = created.iter().rev().map(|id| json!(id)).collect();

    let mut seen = Vec::new();
    let mut after = Value::Null;
    for expected_len in [2, 2, 1] {
        let page = c.page(json!({ "first": 2, "after": after })).await;
        assert_eq!(page["totalCount"], 5, "{page}");
        let nodes = page["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), expected_len, "{page}");
        seen.extend(nodes.iter().map(|n| n["id"].clone()));
        let last = expected_len == 1;
        assert_eq!(page["pageInfo"]["hasNextPage"], !last, "{page}");
        if !last {
            assert!(page["pageInfo"]["endCursor"].is_string(), "{page}");
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, newest_first);

    let everything = c.page(json!({})).await;
    let ids: Vec<Value> = everything["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(ids, newest_first, "default page");
    assert_eq!(everything["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn alerts_first_out_of_range_is_bad_input() {
    let c = ctx().await;
    c.alert().await;
    for first in [0, -1, 101] {
        let variables = json!({ "first": first });
        let response = c.run(&alerts_query(&variables), variables).await;
        assert_error_code(&response, "BAD_USER_INPUT");
    }
    let page = c.page(json!({ "first": 100 })).await;
    assert_eq!(page["nodes"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn alerts_with_bad_cursor_is_bad_input() {
    let c = ctx().await;
    c.alert().await;
    for cursor in ["not-a-cursor", "%%%", "eyJ4IjoxfQ==", &"A".repeat(2000)] {
        let variables = json!({ "first": 2, "after": cursor });
        let response = c.run(&alerts_query(&variables), variables).await;
        assert_error_code(&response, "BAD_USER_INPUT");
    }
}

#[tokio::test]
async fn alerts_filter_by_status() {
    let c = ctx().await;
    let pending = c.alert().await;
    let accepted = c.alert().await;
    let resolved = c.alert().await;
    expect_data(c.accept(&accepted).await);
    expect_data(c.resolve(&resolved).await);

    for (status, id) in [
        ("PENDING", &pending),
        ("ACCEPTED", &accepted),
        ("RESOLVED", &resolved),
    ] {
        let page = c.page(json!({ "status": status })).await;
        assert_eq!(page["totalCount"], 1, "{status}: {page}");
        assert_eq!(
            page["nodes"].as_array().unwrap().len(),
            1,
            "{status}: {page}"
        );
        assert_eq!(page["nodes"][0]["id"], id.as_str(), "{status}: {page}");
        assert_eq!(page["nodes"][0]["status"], status, "{status}: {page}");
    }
    assert_eq!(c.page(json!({})).await["totalCount"], 3);
}

#[tokio::test]
async fn alerts_filter_by_alert_source() {
    let c = ctx().await;
    let other = c.app.setup_source().await;
    let mine = [c.alert().await, c.alert().await];
    let (_, theirs) = c.app.create_alert(&other).await;

    let page = c.page(json!({ "source": c.source.id })).await;
    assert_eq!(page["totalCount"], 2, "{page}");
    let ids: Vec<_> = page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(mine[1]), json!(mine[0])]);

    let page = c.page(json!({ "source": other.id })).await;
    assert_eq!(page["totalCount"], 1, "{page}");
    assert_eq!(page["nodes"][0]["id"], theirs.as_str());

    let page = c
        .page(json!({ "source": other.id, "status": "RESOLVED" }))
        .await;
    assert_eq!(page["totalCount"], 0, "{page}");
    assert_eq!(page["nodes"], json!([]));

    let page = c
        .page(json!({ "source": uuid::Uuid::new_v4().to_string() }))
        .await;
    assert_eq!(page["totalCount"], 0, "{page}");
}

#[tokio::test]
async fn pagination_with_filter_counts_only_matches() {
    let c = ctx().await;
    let mut pending = Vec::new();
    for i in 0..5 {
        let id = c.alert().await;
        if i % 2 == 0 {
            expect_data(c.resolve(&id).await);
        } else {
            pending.push(id);
        }
    }
    let page = c.page(json!({ "status": "PENDING", "first": 1 })).await;
    assert_eq!(page["totalCount"], 2, "{page}");
    assert_eq!(page["nodes"][0]["id"], pending[1].as_str());
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let page = c
        .page(json!({ "status": "PENDING", "first": 1, "after": page["pageInfo"]["endCursor"] }))
        .await;
    assert_eq!(page["nodes"][0]["id"], pending[0].as_str());
    assert_eq!(page["pageInfo"]["hasNextPage"], false, "{page}");
}

#[tokio::test]
async fn alerts_first_is_optional_and_defaults_to_25() {
    let c = ctx().await;
    for _ in 0..26 {
        c.alert().await;
    }
    // `first: Int = 25`: a client may declare the variable and leave it unset or null.
    for variables in [json!({}), json!({ "first": null })] {
        let data = c
            .ok(
                "query($first: Int) { alerts(first: $first) { nodes { id } pageInfo { hasNextPage } totalCount } }",
                variables.clone(),
            )
            .await;
        assert_eq!(
            data["alerts"]["nodes"].as_array().unwrap().len(),
            25,
            "{variables}"
        );
        assert_eq!(data["alerts"]["pageInfo"]["hasNextPage"], true);
        assert_eq!(data["alerts"]["totalCount"], 26);
    }
}
