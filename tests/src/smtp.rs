//! An SMTP sink that keeps the e-mails the server sends.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, BufReader};

/// One e-mail as an SMTP client handed it over.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent after DATA (headers and body).
    pub data: String,
}

/// A mail as a reader sees it, decoded (quoted-printable, base64, encoded words) by mail-parser.
#[derive(Clone, Debug)]
pub struct ParsedMail {
    pub subject: String,
    /// Without the angle brackets.
    pub message_id: String,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub content_type: String,
    pub text: String,
    pub html: String,
    /// Every header name, as sent.
    pub header_names: Vec<String>,
}

fn ids(value: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match (value.as_text(), value.as_text_list()) {
        (Some(one), _) => vec![one.to_string()],
        (_, Some(list)) => list.iter().map(|s| s.to_string()).collect(),
        _ => Vec::new(),
    }
}

impl ParsedMail {
    /// The URL on the text part's line `{label}: URL`.
    pub fn text_link(&self, label: &str) -> Option<String> {
        self.text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{label}:")))
            .and_then(|rest| rest.split_whitespace().last())
            .map(String::from)
    }

    /// The `href`s of the HTML part, with the HTML escapes undone.
    pub fn html_hrefs(&self) -> Vec<String> {
        self.html
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(unescape_html)
            .collect()
    }

    /// Whether the HTML part has an `href` to exactly `url`.
    pub fn html_links_to(&self, url: &str) -> bool {
        self.html_hrefs().iter().any(|h| h == url)
    }
}

/// Undoes the escapes an HTML template uses (`&lt;`, `&#x2f;`, …).
pub fn unescape_html(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

impl Mail {
    /// Parses the message; panics when it is not one.
    pub fn parse(&self) -> ParsedMail {
        let message = mail_parser::MessageParser::default()
            .parse(self.data.as_bytes())
            .unwrap_or_else(|| panic!("not an e-mail: {}", self.data));
        use mail_parser::{MimeHeaders, PartType};
        // The parts as sent: a text and an HTML part only when the message has them (the
        // parser's body_text/body_html would convert one into the other).
        let (mut text, mut html) = (String::new(), String::new());
        for part in &message.parts {
            match &part.body {
                PartType::Text(t) if text.is_empty() => text = t.to_string(),
                PartType::Html(h) if html.is_empty() => html = h.to_string(),
                _ => {}
            }
        }
        let content_type = message
            .content_type()
            .map(|c| match &c.c_subtype {
                Some(sub) => format!("{}/{}", c.c_type, sub),
                None => c.c_type.to_string(),
            })
            .unwrap_or_default();
        ParsedMail {
            subject: message.subject().unwrap_or_default().to_string(),
            message_id: message.message_id().unwrap_or_default().to_string(),
            in_reply_to: ids(message.in_reply_to()),
            references: ids(message.references()),
            content_type,
            text,
            html,
            header_names: message
                .headers()
                .iter()
                .map(|h| h.name.as_str().to_string())
                .collect(),
        }
    }
}

/// A minimal SMTP server that accepts every message and keeps it: enough for lettre's client
/// (EHLO, MAIL, RCPT, DATA, QUIT), no TLS, no authentication.
pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&mails);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read).lines();
                    if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                        return;
                    }
                    let (mut from, mut to) = (String::new(), Vec::new());
                    while let Ok(Some(line)) = lines.next_line().await {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO")
                        {
                            b"250 sink\r\n"
                        } else if upper.starts_with("MAIL FROM:") {
                            from = line[10..].trim().trim_matches(['<', '>']).to_string();
                            to.clear();
                            b"250 OK\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            to.push(line[8..].trim().trim_matches(['<', '>']).to_string());
                            b"250 OK\r\n"
                        } else if upper == "DATA" {
                            if write.write_all(b"354 go ahead\r\n").await.is_err() {
                                return;
                            }
                            let mut data = String::new();
                            while let Ok(Some(l)) = lines.next_line().await {
                                if l == "." {
                                    break;
                                }
                                // SMTP dot-stuffing: a line that starts with a dot is sent
                                // with one more.
                                let l = l
                                    .strip_prefix('.')
                                    .filter(|r| r.starts_with('.'))
                                    .unwrap_or(&l);
                                data.push_str(l);
                                data.push('\n');
                            }
                            store.lock().unwrap().push(Mail {
                                from: from.clone(),
                                to: to.clone(),
                                data,
                            });
                            b"250 OK queued\r\n"
                        } else if upper == "QUIT" {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        } else {
                            b"250 OK\r\n"
                        };
                        if write.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        SmtpSink { port, mails }
    }

    /// The value for `GLIDEPATH_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Mails addressed to `to`.
    pub fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to))
            .collect()
    }
}
