//! The messages SLACK and TEAMS rules post: a Slack Block Kit message and a Microsoft Teams
//! Adaptive Card in the workflow-webhook envelope, built from a [`Notice`] with the facts and
//! links the e-mail has. The summary and every other text that comes from outside (ServiceNow,
//! an alert source) is escaped for the product's markup, so it cannot add links, mentions or
//! formatting of its own.

use serde_json::{Value, json};

use crate::service::notice::{Notice, one_line};

/// Slack's `mrkdwn`: `&`, `<` and `>` are the control characters (`<!channel>`, `<url|text>`);
/// escaped, the text shows as written.
pub fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The Markdown subset of Adaptive Card `TextBlock`s: every ASCII punctuation character that
/// could start markup (links, emphasis, lists, headings, `{{DATE()}}` functions) gets a
/// backslash, so the text shows as written (CommonMark backslash escapes). A link needs `[`,
/// so `(`, `)` and `.` stay as they are.
pub fn teams_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_{}[]<>#~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Cuts `text` to at most `max` characters (Slack refuses a message whose block text is too
/// long; Teams shows it, but a card is no place for a novel).
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// The facts both products show, in order: (label, value), values as plain text.
fn facts(n: &Notice) -> Vec<(&'static str, String)> {
    let mut facts = vec![
        ("Priority", n.priority.clone()),
        ("Status", n.status.clone()),
        ("Level", n.level.to_string()),
    ];
    if let Some(number) = n.ticket_number.as_deref().filter(|t| !t.is_empty()) {
        facts.push(("Ticket", one_line(number, 40)));
    }
    facts.push(("Source", one_line(&n.source, 100)));
    facts.push(("Policy", one_line(&n.policy, 100)));
    facts
}

/// The links, as (label, URL): the alert, accept and resolve (when the notice has them), and
/// the ticket.
fn links(n: &Notice) -> Vec<(&'static str, String)> {
    let mut links = vec![("Open alert", n.links.alert.clone())];
    if let Some(accept) = &n.links.accept {
        links.push(("Accept", accept.clone()));
    }
    if let Some(resolve) = &n.links.resolve {
        links.push(("Resolve", resolve.clone()));
    }
    if let Some(ticket) = &n.ticket_url {
        links.push(("Open ticket", ticket.clone()));
    }
    links
}

/// A Slack incoming-webhook body: `text` (the notification and fallback), and `blocks`: a
/// header, a section with the summary and the facts as fields, and an actions block of link
/// buttons (alert, accept, resolve, ticket). Limits kept: header 150 characters, section text
/// 3000, a field 2000, a button label 75, a URL 3000.
pub fn slack_message(n: &Notice) -> Value {
    let header = cut(&format!("[{}] Alert {}", n.priority, n.headline), 150);
    let fallback = slack_escape(&cut(&n.subject, 300));
    let mut summary = format!("*{}*", slack_escape(&cut(&n.summary, 2000)));
    if let Some(details) = &n.details {
        summary.push('\n');
        summary.push_str(&slack_escape(&cut(details, 900)));
    }
    let fields: Vec<Value> = facts(n)
        .into_iter()
        .map(|(label, value)| {
            json!({ "type": "mrkdwn", "text": format!("*{label}*\n{}", slack_escape(&value)) })
        })
        .collect();
    let buttons: Vec<Value> = links(n)
        .into_iter()
        .filter(|(_, url)| url.len() <= 3000)
        .enumerate()
        .map(|(i, (label, url))| {
            let mut button = json!({
                "type": "button",
                "text": { "type": "plain_text", "text": label },
                "url": url,
                "action_id": format!("glidepath-link-{i}"),
            });
            match label {
                "Accept" => button["style"] = json!("primary"),
                "Resolve" => button["style"] = json!("danger"),
                _ => {}
            }
            button
        })
        .collect();
    json!({
        "text": fallback,
        "blocks": [
            { "type": "header", "text": { "type": "plain_text", "text": header } },
            { "type": "section", "text": { "type": "mrkdwn", "text": summary }, "fields": fields },
            { "type": "actions", "elements": buttons },
        ],
    })
}

/// A Teams workflow-webhook body: a `message` with one Adaptive Card (version 1.4) attachment:
/// the headline, the summary, the facts, and `Action.OpenUrl` buttons for the links.
pub fn teams_message(n: &Notice) -> Value {
    let mut body = vec![
        json!({
            "type": "TextBlock",
            "text": teams_escape(&cut(&format!("[{}] Alert {}", n.priority, n.headline), 200)),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": true,
            "color": if n.event == "ESCALATED" { "Attention" } else { "Default" },
        }),
        json!({
            "type": "TextBlock",
            "text": teams_escape(&cut(&n.summary, 2000)),
            "wrap": true,
        }),
    ];
    if let Some(details) = &n.details {
        body.push(json!({
            "type": "TextBlock",
            "text": teams_escape(&cut(details, 900)),
            "wrap": true,
            "isSubtle": true,
        }));
    }
    let facts: Vec<Value> = facts(n)
        .into_iter()
        .map(|(title, value)| json!({ "title": title, "value": teams_escape(&value) }))
        .collect();
    body.push(json!({ "type": "FactSet", "facts": facts }));
    let actions: Vec<Value> = links(n)
        .into_iter()
        .map(|(title, url)| json!({ "type": "Action.OpenUrl", "title": title, "url": url }))
        .collect();
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            },
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_control_characters_are_escaped() {
        assert_eq!(
            slack_escape("<!channel> & <https://x|y>"),
            "&lt;!channel&gt; &amp; &lt;https://x|y&gt;"
        );
    }

    #[test]
    fn teams_markdown_is_escaped() {
        assert_eq!(teams_escape("[x](https://e.com)"), "\\[x\\](https://e.com)");
        assert_eq!(
            teams_escape("**b** {{DATE}}"),
            "\\*\\*b\\*\\* \\{\\{DATE\\}\\}"
        );
    }

    #[test]
    fn cut_keeps_short_text() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
    }
}
