//! Test data: the ServiceNow event fixtures and variations on them, unique identities, and
//! users, policies, alert sources and alerts created through the API.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::{ALERT_FIELDS, StatusCode, TestApp, id_of, str_field};

/// Password given to every user the helpers create.
pub const USER_PASSWORD: &str = "responder-password-1";
/// The `sys_id` shared by the three ServiceNow fixtures.
pub const FIXTURE_SYS_ID: &str = "9d385017c611228701d22104cc95c371";
pub const FIXTURE_SERVER_URL: &str = "https://dev184512.service-now.com/";
pub const FIXTURE_NUMBER: &str = "INC0010042";
pub const FIXTURE_SHORT_DESCRIPTION: &str = "Core router rtr-fra-01 packet loss";

/// ServiceNow incident states as the business rule sends them.
pub mod state {
    pub const NEW: u8 = 1;
    pub const IN_PROGRESS: u8 = 2;
    pub const ON_HOLD: u8 = 3;
    pub const RESOLVED: u8 = 6;
    pub const CLOSED: u8 = 7;
    pub const CANCELED: u8 = 8;
}

impl TestApp {
    /// Creates a user with `USER_PASSWORD`. `role` is `ADMIN` or `RESPONDER`.
    pub async fn create_user(&self, token: &str, email: &str, role: &str) -> Value {
        self.gql(token, &create_user_mutation(role), user_vars(email))
            .await["createUser"]
            .clone()
    }

    /// A new RESPONDER with a unique email, and a session token for it.
    pub async fn create_responder(&self) -> (Value, String) {
        let admin = self.admin_token().await;
        let email = unique_email("responder");
        let user = self.create_user(&admin, &email, "RESPONDER").await;
        let token = self.login_token(&email, USER_PASSWORD).await;
        (user, token)
    }

    /// An escalation policy with one 5-minute rule notifying `user_ids`.
    pub async fn create_policy(&self, token: &str, user_ids: &[&str]) -> Value {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        self.gql(
            token,
            CREATE_POLICY_MUTATION,
            json!({
                "name": format!("Policy {}", &suffix[..8]),
                "routingKey": format!("rk-{suffix}"),
                "timeout": 5,
                "userIds": user_ids,
            }),
        )
        .await["createEscalationPolicy"]
            .clone()
    }

    pub async fn create_alert_source(&self, token: &str, policy_id: &str) -> Value {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        self.gql(
            token,
            CREATE_SOURCE_MUTATION,
            json!({ "name": format!("ServiceNow {}", &suffix[..8]), "policyId": policy_id }),
        )
        .await["createAlertSource"]
            .clone()
    }

    /// An alert source on a fresh policy whose only rule notifies the admin.
    pub async fn setup_source(&self) -> Source {
        let token = self.admin_token().await;
        let admin_id = self.admin_id().await;
        let policy = self.create_policy(&token, &[&admin_id]).await;
        let source = self.create_alert_source(&token, &id_of(&policy)).await;
        Source::from_json(&source, &policy)
    }

    /// Posts a New incident with a fresh sys_id and returns (sys_id, alert id).
    pub async fn create_alert(&self, source: &Source) -> (String, String) {
        self.create_alert_with_priority(source, "1").await
    }

    pub async fn create_alert_with_priority(
        &self,
        source: &Source,
        priority: &str,
    ) -> (String, String) {
        let sys_id = new_sys_id();
        let (status, body) = self
            .post_event(
                &source.integration_key,
                &incident_with_priority(&sys_id, state::NEW, 0, priority),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "create alert: {body}");
        assert_eq!(body["outcome"], "created", "{body}");
        (sys_id, str_field(&body, "alertId"))
    }

    /// The whole alert (every contract field), or `Value::Null` if it does not exist.
    pub async fn alert(&self, id: &str) -> Value {
        let token = self.admin_token().await;
        self.gql(
            &token,
            &format!("query($id: ID!) {{ alert(id: $id) {{ {ALERT_FIELDS} }} }}"),
            json!({ "id": id }),
        )
        .await["alert"]
            .clone()
    }

    /// `alerts.totalCount` with no filter.
    pub async fn alerts_total(&self) -> i64 {
        let token = self.admin_token().await;
        self.gql(&token, "{ alerts { totalCount } }", json!({}))
            .await["alerts"]["totalCount"]
            .as_i64()
            .expect("totalCount is an integer")
    }
}

/// An alert source as the tests use it.
#[derive(Clone, Debug)]
pub struct Source {
    pub id: String,
    pub name: String,
    pub integration_key: String,
    pub webhook_url: String,
    pub business_rule_script: String,
    pub policy_id: String,
    pub policy_name: String,
    pub policy_routing_key: String,
}

impl Source {
    pub fn from_json(source: &Value, policy: &Value) -> Source {
        Source {
            id: str_field(source, "id"),
            name: str_field(source, "name"),
            integration_key: str_field(source, "integrationKey"),
            webhook_url: str_field(source, "webhookUrl"),
            business_rule_script: str_field(source, "businessRuleScript"),
            policy_id: str_field(policy, "id"),
            policy_name: str_field(policy, "name"),
            policy_routing_key: str_field(policy, "routingKey"),
        }
    }
}

pub const CREATE_POLICY_MUTATION: &str = "mutation($name: String!, $routingKey: String!, $timeout: Int!, $userIds: [ID!]!) { \
       createEscalationPolicy(input: { name: $name, routingKey: $routingKey, \
         rules: [{ escalationTimeoutMinutes: $timeout, userIds: $userIds }] }) { \
         id name routingKey rules { escalationTimeoutMinutes users { id email } } } }";

pub const CREATE_SOURCE_MUTATION: &str = "mutation($name: String!, $policyId: ID!) { \
       createAlertSource(input: { name: $name, escalationPolicyId: $policyId, integrationType: SERVICENOW }) { \
         id name integrationType integrationKey webhookUrl businessRuleScript \
         escalationPolicy { id name } createdAt } }";

/// `createUser` with the role inlined, since the contract does not name the role enum type.
pub fn create_user_mutation(role: &str) -> String {
    format!(
        "mutation($email: String!, $name: String!, $password: String!) {{ \
           createUser(input: {{ email: $email, name: $name, password: $password, role: {role} }}) {{ \
             id email name role createdAt }} }}"
    )
}

pub fn user_vars(email: &str) -> Value {
    json!({ "email": email, "name": format!("User {email}"), "password": USER_PASSWORD })
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join("servicenow")
}

/// Loads `fixtures/servicenow/<name>` (`.json` may be left off).
pub fn fixture(name: &str) -> Value {
    let mut path = fixtures_dir().join(name);
    if path.extension().is_none() {
        path.set_extension("json");
    }
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("read fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse fixture {}: {e}", path.display()))
}

/// A 32-hex sys_id nobody else uses.
pub fn new_sys_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub fn unique_email(prefix: &str) -> String {
    format!("{prefix}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// The New fixture turned into another incident, in another state, at another revision.
pub fn incident(sys_id: &str, state: u8, mod_count: u32) -> Value {
    let mut event = fixture("incident-new.json");
    let state = state.to_string();
    event["sys_id"] = json!(sys_id);
    event["state"] = json!(state);
    event["incident_state"] = json!(state);
    event["sys_mod_count"] = json!(mod_count.to_string());
    event
}

pub fn incident_with_priority(sys_id: &str, state: u8, mod_count: u32, priority: &str) -> Value {
    let mut event = incident(sys_id, state, mod_count);
    event["priority"] = json!(priority);
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_overrides_identity_and_state() {
        let event = incident_with_priority("0123456789abcdef0123456789abcdef", 6, 4, "5");
        assert_eq!(event["sys_id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(event["state"], "6");
        assert_eq!(event["incident_state"], "6");
        assert_eq!(event["sys_mod_count"], "4");
        assert_eq!(event["priority"], "5");
        assert_eq!(event["number"], FIXTURE_NUMBER);
    }
}
