//! GraphQL over HTTP: operations as a user or the bootstrap admin, and helpers that pick apart
//! responses.

use serde_json::{Value, json};

use crate::app::read_json_response;
use crate::{ADMIN_EMAIL, ADMIN_PASSWORD, StatusCode, TestApp};

/// Every field of `Alert` in the contract, for queries that check a whole alert.
pub const ALERT_FIELDS: &str = "id status priority summary details alertKey createdAt acceptedAt resolvedAt \
     alertSource { id name } escalationPolicy { id name routingKey } assignedTo { id email } \
     comments { id body author { email } createdAt } \
     logEntries { kind message actor actorKind createdAt } \
     ticket { sysId number state stateLabel url }";

impl TestApp {
    /// Runs a GraphQL operation and returns the whole response (`data` and `errors`).
    /// Panics on a 5xx, which no request should ever cause.
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql_http(token, query, variables).await;
        assert!(
            !status.is_server_error(),
            "GraphQL request answered {status}: {body}"
        );
        body
    }

    pub async fn graphql_http(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST /graphql");
        read_json_response(response).await
    }

    /// Runs an operation that must succeed and returns its `data`.
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        expect_data(self.graphql(Some(token), query, variables).await)
    }

    /// The whole `login` response.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.graphql(
            None,
            "mutation($email: String!, $password: String!) { \
               login(email: $email, password: $password) { token user { id email } } }",
            json!({ "email": email, "password": password }),
        )
        .await
    }

    /// A token for `email`, panicking when login fails.
    pub async fn login_token(&self, email: &str, password: &str) -> String {
        let data = expect_data(self.login(email, password).await);
        data["login"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login returned no token: {data}"))
            .to_string()
    }

    /// A session token for the bootstrap admin (logged in once per app).
    pub async fn admin_token(&self) -> String {
        self.admin_token
            .get_or_init(|| self.login_token(ADMIN_EMAIL, ADMIN_PASSWORD))
            .await
            .clone()
    }

    pub async fn me(&self, token: &str) -> Value {
        self.gql(token, "{ me { id email name role createdAt } }", json!({}))
            .await["me"]
            .clone()
    }

    pub async fn admin_id(&self) -> String {
        let token = self.admin_token().await;
        id_of(&self.me(&token).await)
    }
}

/// `data` of a response that must have no errors.
pub fn expect_data(response: Value) -> Value {
    let errors = &response["errors"];
    assert!(
        errors.is_null() || errors.as_array().is_some_and(|e| e.is_empty()),
        "unexpected GraphQL errors: {response}"
    );
    assert!(
        response["data"].is_object(),
        "GraphQL response has no data: {response}"
    );
    response["data"].clone()
}

/// `extensions.code` of the first error of a response that must have failed.
pub fn expect_error_code(response: &Value) -> String {
    let first = &response["errors"][0];
    assert!(first.is_object(), "expected a GraphQL error: {response}");
    first["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("GraphQL error without extensions.code: {response}"))
        .to_string()
}

pub fn assert_error_code(response: &Value, code: &str) {
    assert_eq!(expect_error_code(response), code, "{response}");
}

pub fn error_message(response: &Value) -> String {
    response["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn str_field(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is not a string in {value}"))
        .to_string()
}

pub fn id_of(value: &Value) -> String {
    str_field(value, "id")
}

/// The kinds of an alert's log entries, oldest first.
pub fn log_kinds(alert: &Value) -> Vec<String> {
    alert["logEntries"]
        .as_array()
        .unwrap_or_else(|| panic!("logEntries missing: {alert}"))
        .iter()
        .map(|entry| str_field(entry, "kind"))
        .collect()
}

/// The log entries of one kind.
pub fn log_entries_of(alert: &Value, kind: &str) -> Vec<Value> {
    alert["logEntries"]
        .as_array()
        .unwrap_or_else(|| panic!("logEntries missing: {alert}"))
        .iter()
        .filter(|entry| entry["kind"] == kind)
        .cloned()
        .collect()
}
