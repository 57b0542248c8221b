//! The notification e-mail: a [`Notice`] rendered with minijinja into a plain-text and an HTML
//! part (`templates/notice.txt`, `templates/notice.html`; the HTML template escapes every value,
//! the summary that comes from ServiceNow included), assembled with lettre's multipart builder.
//!
//! Threading: every mail has a Message-ID of its own (`<delivery id@host>`), and `In-Reply-To` and
//! `References` name one id per alert (`<alert-{alert id}@host>`, host of `GLIDEPATH_PUBLIC_URL`),
//! so mail clients group an alert's mails into one conversation. The subject is one line: control
//! characters in the summary become spaces, and lettre encodes what is not ASCII, so no header
//! can be injected through it.

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use minijinja::Environment;

use crate::service::notice::Notice;

/// The templates, compiled once. A `.html` name turns on HTML auto-escaping.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.add_template("notice.txt", include_str!("templates/notice.txt"))
            .expect("the text template compiles");
        env.add_template("notice.html", include_str!("templates/notice.html"))
            .expect("the HTML template compiles");
        Templates { env }
    }

    /// The text and the HTML part of `notice`.
    pub fn render(&self, notice: &Notice) -> Result<(String, String), minijinja::Error> {
        let text = self
            .env
            .get_template("notice.txt")?
            .render(minijinja::value::Serde(notice))?;
        let html = self
            .env
            .get_template("notice.html")?
            .render(minijinja::value::Serde(notice))?;
        Ok((text, html))
    }
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

/// The one id of an alert's conversation.
pub fn thread_id(alert_id: &str, host: &str) -> String {
    format!("<alert-{alert_id}@{host}>")
}

/// The e-mail of one delivery (`delivery_id`) of `notice` to `to`.
pub fn message(
    templates: &Templates,
    notice: &Notice,
    delivery_id: &str,
    host: &str,
    from: Mailbox,
    to: Mailbox,
) -> Result<Message, String> {
    let (text, html) = templates
        .render(notice)
        .map_err(|e| format!("cannot render the e-mail: {e}"))?;
    let thread = thread_id(&notice.alert_id, host);
    Message::builder()
        .from(from)
        .to(to)
        .subject(notice.subject.clone())
        .message_id(Some(format!("<{delivery_id}@{host}>")))
        .in_reply_to(thread.clone())
        .references(thread)
        .multipart(MultiPart::alternative_plain_html(text, html))
        .map_err(|e| format!("cannot build the e-mail: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::notice::{Links, LogLine};

    fn notice(summary: &str) -> Notice {
        Notice {
            event: "ESCALATED".into(),
            headline: "escalated to you (level 2)".into(),
            subject: format!("[HIGH] INC0010042 {summary} — escalated to you (level 2)"),
            alert_id: "a1".into(),
            summary: summary.into(),
            details: Some("line one\n<b>two</b>".into()),
            priority: "HIGH".into(),
            status: "PENDING".into(),
            ticket_number: Some("INC0010042".into()),
            ticket_url: Some(
                "https://x.service-now.com/nav_to.do?uri=incident.do?sys_id=1&a=b".into(),
            ),
            source: "SN <prod>".into(),
            policy: "Network".into(),
            level: 2,
            created_at: "2026-12-06 07:00:00 UTC".into(),
            log: vec![LogLine {
                at: "2026-12-06 07:00:00 UTC".into(),
                kind: "CREATED".into(),
                actor: "ServiceNow".into(),
                message: "Created from <i>INC0010042</i>".into(),
            }],
            links: Links {
                alert: "https://glidepath.example.com/alerts/a1".into(),
                accept: Some("https://glidepath.example.com/act/t.1".into()),
                resolve: Some("https://glidepath.example.com/act/t.2".into()),
            },
            actor: serde_json::json!({ "kind": "SYSTEM", "label": "system" }),
            digest: Vec::new(),
        }
    }

    #[test]
    fn html_escapes_every_value_and_text_keeps_it() {
        let t = Templates::new();
        let (text, html) = t.render(&notice("<script>alert(1)</script>")).unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
                || html.contains("&lt;script&gt;"),
            "{html}"
        );
        assert!(
            !html.contains("<b>two</b>") && !html.contains("<i>INC"),
            "{html}"
        );
        assert!(html.contains("sys_id=1&amp;a=b"), "{html}");
        assert!(text.contains("<script>alert(1)</script>"), "{text}");
        assert!(
            text.contains("Accept:  https://glidepath.example.com/act/t.1"),
            "{text}"
        );
        assert!(text.contains("Policy:    Network, level 2"), "{text}");
    }
}
