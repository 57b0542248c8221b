//! The business rule a ServiceNow admin pastes into Incidents → Configure → Business Rules
//! (Advanced, When: async, Insert and Update).
//!
//! It posts the whole incident record (`getValue` of every field, so empty fields are `null`) plus
//! `server_url` to the alert source's webhook. Unlike the script vendors usually print, it sets the
//! endpoint, method and body, and closes every brace. A failed delivery is logged in ServiceNow's
//! system log (`gs.error`), since a business rule's HTTP call is fire-and-forget.

use secrecy::ExposeSecret;

use crate::domain::webhook_auth::WebhookAuth;

/// A JSON string literal is a valid JavaScript string literal, so no value can break out of it.
/// JSON string syntax, plus U+2028 and U+2029 escaped: JSON allows them raw, but they end a line
/// (and so the string literal) in the ES5 JavaScript ServiceNow runs.
fn js_string(value: &str) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// The complete script with the webhook URL, and the webhook credentials when the alert source
/// requires them, filled in.
pub fn script(webhook_url: &str, auth: &WebhookAuth) -> String {
    let url = js_string(webhook_url);
    let credentials = match auth {
        WebhookAuth::None => String::new(),
        WebhookAuth::Basic { username, password } => format!(
            "\n    request.setBasicAuth({}, {});",
            js_string(username),
            js_string(password.expose_secret())
        ),
        WebhookAuth::Bearer { token } => format!(
            "\n    request.setRequestHeader(\"Authorization\", {});",
            js_string(&format!("Bearer {}", token.expose_secret()))
        ),
    };
    format!(
        r#"(function executeRule(current, previous /*null when async*/) {{

    var glidepathUrl = {url};

    function glideRecordToJson(gr) {{
        var obj = {{}};
        for (var prop in gr) {{
            if (gr[prop]) {{
                obj[prop] = gr.getValue(prop);
            }}
        }}
        return obj;
    }}

    var obj = glideRecordToJson(current);
    obj.server_url = gs.getProperty("glide.servlet.uri");
    var body = JSON.stringify(obj);

    var request = new sn_ws.RESTMessageV2();
    request.setEndpoint(glidepathUrl);
    request.setHttpMethod("post");
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("Content-Type", "application/json");
    request.setRequestBody(body);{credentials}

    try {{
        var response = request.execute();
        var status = response.getStatusCode();
        if (status < 200 || status >= 300) {{
            gs.error("Glidepath webhook answered HTTP " + status + " for " + current.getValue("number") + ": " + response.getBody());
        }}
    }} catch (ex) {{
        gs.error("Glidepath webhook failed for " + current.getValue("number") + ": " + ex);
    }}

}})(current, previous);
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_paragraph_separators_are_escaped() {
        assert_eq!(js_string("a\u{2028}b\u{2029}c"), "\"a\\u2028b\\u2029c\"");
        let s = script(
            "https://g.example.com/k",
            &WebhookAuth::Bearer {
                token: "t\u{2028}k".to_string().into(),
            },
        );
        assert!(!s.contains('\u{2028}'));
        assert!(s.contains("Bearer t\\u2028k"));
    }

    #[test]
    fn url_is_embedded_as_a_string_literal() {
        let s = script(
            "https://g.example.com/api/v1/events/servicenow/k\"ey",
            &WebhookAuth::None,
        );
        assert!(s.contains(
            r#"var glidepathUrl = "https://g.example.com/api/v1/events/servicenow/k\"ey";"#
        ));
        for call in [
            "setEndpoint(",
            "setHttpMethod(\"post\")",
            "setRequestBody(",
            "execute()",
        ] {
            assert!(s.contains(call), "{call}");
        }
        assert_eq!(s.matches('{').count(), s.matches('}').count());
        assert!(!s.contains("setBasicAuth") && !s.contains("Authorization"));
    }

    #[test]
    fn credentials_are_embedded_as_string_literals() {
        let basic = WebhookAuth::Basic {
            username: "sn\"user".into(),
            password: "pa\"ss".to_string().into(),
        };
        let s = script("https://g.example.com/x", &basic);
        assert!(
            s.contains(r#"request.setBasicAuth("sn\"user", "pa\"ss");"#),
            "{s}"
        );
        let bearer = WebhookAuth::Bearer {
            token: "tok\"en".to_string().into(),
        };
        let s = script("https://g.example.com/x", &bearer);
        assert!(
            s.contains(r#"request.setRequestHeader("Authorization", "Bearer tok\"en");"#),
            "{s}"
        );
    }
}
