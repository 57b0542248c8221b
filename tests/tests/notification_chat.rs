//! SLACK and TEAMS notification rules: the target is an incoming-webhook URL, sealed at rest and
//! reached through the outbound guard; the receiver gets a Slack Block Kit message or a Teams
//! Adaptive Card (in the workflow-webhook envelope) with the e-mail's facts and links, the
//! summary escaped for the product's markup, and the accept link works.

use std::time::Duration;

use glidepath_tests::*;
use serde_json::{Value, json};

const ADD_RULE: &str = "mutation($input: NotificationRuleInput!) { \
     addNotificationRule(input: $input) { id kind target targetLabel signingSecret } }";

/// A summary that tries Slack mentions and links, and Markdown links and emphasis.
const HOSTILE: &str =
    "<!channel> Disk & <https://evil.example|click> [x](https://evil.example) **b**";

/// A browserless client: what a chat client opens when a button is clicked.
fn browserless() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A responder with a rule of `kind` posting to a fresh receiver, on a one-level policy, and an
/// alert with a hostile summary. Returns the app, the receiver, the alert id and the rule.
async fn escalate_to(kind: &str) -> (TestApp, HttpReceiver, String, Value, String) {
    let receiver = HttpReceiver::start(200).await;
    let app = spawn_app_with_options(
        SpawnOptions::default().env("GLIDEPATH_ALLOW_INSECURE_OUTBOUND", "true"),
    )
    .await;
    let (user, token) = app.create_responder().await;
    let rule = app
        .gql(
            &token,
            ADD_RULE,
            json!({ "input": { "kind": kind, "target": receiver.url() } }),
        )
        .await["addNotificationRule"]
        .clone();
    assert_eq!(rule["kind"], kind);
    assert_eq!(rule["target"], receiver.url().as_str(), "the owner sees it");
    assert_eq!(rule["signingSecret"], Value::Null, "only WEBHOOK signs");
    let admin = app.admin_token().await;
    let policy = app.create_policy(&admin, &[&id_of(&user)]).await;
    let source = app.create_alert_source(&admin, &id_of(&policy)).await;
    let mut event = incident(&new_sys_id(), state::NEW, 0);
    event["short_description"] = json!(HOSTILE);
    let (status, body) = app
        .post_event(&str_field(&source, "integrationKey"), &event)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let alert_id = str_field(&body, "alertId");
    eventually(Duration::from_secs(20), "the chat message", || async {
        receiver.bodies().first().cloned()
    })
    .await;
    (app, receiver, alert_id, rule, token)
}

/// The accept link confirms on GET and accepts on POST.
async fn accept_works(app: &TestApp, alert_id: &str, link: &str) {
    assert!(link.starts_with(&app.url("/act/")), "{link}");
    let page = browserless().get(link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Accept this alert?"));
    assert_eq!(app.alert(alert_id).await["status"], "PENDING");
    let done = browserless()
        .post(link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(app.alert(alert_id).await["status"], "ACCEPTED");
}

#[tokio::test]
async fn a_slack_rule_posts_block_kit_with_working_links() {
    let (app, receiver, alert_id, _, _) = escalate_to("SLACK").await;
    let received = &receiver.received()[0];
    assert_eq!(received.header("content-type"), Some("application/json"));
    assert_eq!(received.header("glidepath-signature"), None);
    let msg: Value = serde_json::from_str(&received.body).unwrap();

    // `text` is required with blocks (notifications, accessibility): escaped mrkdwn.
    let text = msg["text"].as_str().expect("a text fallback");
    assert!(
        text.contains("&lt;!channel&gt; Disk &amp; &lt;https://evil.example|click&gt;"),
        "{text}"
    );
    assert!(!text.contains("<!channel>"), "{text}");
    assert!(text.contains(FIXTURE_NUMBER), "{text}");

    let blocks = msg["blocks"].as_array().expect("blocks");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    let header = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(
        header.contains("[HIGH]") && header.contains("escalated to you (level 1)"),
        "{header}"
    );
    assert!(header.chars().count() <= 150);

    assert_eq!(blocks[1]["type"], "section");
    assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
    let summary = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(summary.contains("&lt;!channel&gt;"), "{summary}");
    assert!(
        !summary.contains('<') && !summary.contains('>'),
        "{summary}"
    );
    let fields: Vec<&str> = blocks[1]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            assert_eq!(f["type"], "mrkdwn");
            f["text"].as_str().unwrap()
        })
        .collect();
    assert!(fields.len() <= 10);
    for fact in ["*Priority*\nHIGH", "*Status*\nPENDING", "*Level*\n1"] {
        assert!(fields.contains(&fact), "{fields:?}");
    }
    assert!(
        fields.contains(&format!("*Ticket*\n{FIXTURE_NUMBER}").as_str()),
        "{fields:?}"
    );

    assert_eq!(blocks[2]["type"], "actions");
    let buttons = blocks[2]["elements"].as_array().unwrap();
    let mut ids = std::collections::HashSet::new();
    for b in buttons {
        assert_eq!(b["type"], "button");
        assert_eq!(b["text"]["type"], "plain_text");
        assert!(b["text"]["text"].as_str().unwrap().len() <= 75);
        assert!(
            ids.insert(b["action_id"].as_str().unwrap().to_string()),
            "unique action_id"
        );
    }
    let url_of = |label: &str| {
        buttons
            .iter()
            .find(|b| b["text"]["text"] == label)
            .and_then(|b| b["url"].as_str())
            .unwrap_or_else(|| panic!("a {label} button in {buttons:?}"))
            .to_string()
    };
    assert_eq!(
        url_of("Open alert"),
        app.url(&format!("/alerts/{alert_id}"))
    );
    assert!(url_of("Resolve").starts_with(&app.url("/act/")));
    accept_works(&app, &alert_id, &url_of("Accept")).await;

    // The log names the channel by its host, never the URL's path.
    let alert = app.alert(&alert_id).await;
    let notified = log_entries_of(&alert, "NOTIFIED");
    let message = notified[0]["message"].as_str().unwrap();
    assert!(message.contains("by Slack (ESCALATED)"), "{message}");
    assert!(!message.contains("/hook"), "{message}");
}

#[tokio::test]
async fn a_teams_rule_posts_an_adaptive_card_with_working_links() {
    let (app, receiver, alert_id, _, _) = escalate_to("TEAMS").await;
    let msg = receiver.bodies()[0].clone();
    assert_eq!(msg["type"], "message", "{msg}");
    let attachments = msg["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 1);
    assert_eq!(
        attachments[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let card = &attachments[0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    let body = card["body"].as_array().expect("a body");
    let texts: Vec<&str> = body
        .iter()
        .filter(|e| e["type"] == "TextBlock")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert!(texts[0].contains("escalated to you (level 1)"), "{texts:?}");
    // Markdown in the summary is escaped: no link, no emphasis.
    let summary = texts[1];
    assert!(
        summary.contains("\\[x\\](https://evil.example)"),
        "{summary}"
    );
    assert!(summary.contains("\\*\\*b\\*\\*"), "{summary}");
    assert!(summary.contains("\\<!channel\\>"), "{summary}");
    let facts = body
        .iter()
        .find(|e| e["type"] == "FactSet")
        .expect("a FactSet")["facts"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        facts.contains(&json!({ "title": "Priority", "value": "HIGH" })),
        "{facts:?}"
    );
    assert!(
        facts.contains(&json!({ "title": "Status", "value": "PENDING" })),
        "{facts:?}"
    );
    let actions = card["actions"].as_array().expect("actions");
    let url_of = |title: &str| {
        actions
            .iter()
            .find(|a| a["title"] == title)
            .map(|a| {
                assert_eq!(a["type"], "Action.OpenUrl");
                a["url"].as_str().unwrap().to_string()
            })
            .unwrap_or_else(|| panic!("a {title} action in {actions:?}"))
    };
    assert_eq!(
        url_of("Open alert"),
        app.url(&format!("/alerts/{alert_id}"))
    );
    assert!(url_of("Resolve").starts_with(&app.url("/act/")));
    accept_works(&app, &alert_id, &url_of("Accept")).await;
}

#[tokio::test]
async fn chat_targets_are_sealed_guarded_and_shown_to_the_owner_only() {
    let app = spawn_app().await;
    let (user, token) = app.create_responder().await;
    // Without GLIDEPATH_ALLOW_INSECURE_OUTBOUND: plain http and private addresses are refused.
    for (kind, target) in [
        ("SLACK", "http://127.0.0.1:9/hook"),
        ("TEAMS", "https://169.254.169.254/latest"),
        ("SLACK", "not a url"),
        ("TEAMS", "pager@example.com"),
    ] {
        let answer = app
            .graphql(
                Some(&token),
                ADD_RULE,
                json!({ "input": { "kind": kind, "target": target } }),
            )
            .await;
        assert_eq!(
            expect_error_code(&answer),
            "BAD_USER_INPUT",
            "{kind} {target}: {answer}"
        );
    }
    let url = "https://hooks.slack.com/services/T000/B000/secretpart";
    let rule = app
        .gql(
            &token,
            ADD_RULE,
            json!({ "input": { "kind": "SLACK", "target": url } }),
        )
        .await["addNotificationRule"]
        .clone();
    assert_eq!(rule["target"], url);
    assert_eq!(rule["targetLabel"], "https://hooks.slack.com/…");
    // An admin reading the rule sees the host only.
    let admin = app.admin_token().await;
    let read = app
        .gql(
            &admin,
            "{ users { id notificationRules { kind target targetLabel } } }",
            json!({}),
        )
        .await;
    let text = read.to_string();
    assert!(text.contains("SLACK"), "{text}");
    assert!(!text.contains("secretpart"), "{text}");
    // Sealed at rest.
    assert_eq!(
        app.query_i64("SELECT COUNT(*) FROM notification_rules WHERE kind = 'SLACK'")
            .await,
        1
    );
    let dump = app.database_dump().await;
    assert!(
        !dump.windows(10).any(|w| w == b"secretpart"),
        "a Slack URL stored in clear"
    );
    let _ = user;
}
