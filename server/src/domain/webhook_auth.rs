//! Optional webhook authentication of an alert source, on top of the integration key in the URL:
//! HTTP Basic credentials or a bearer token, which the business rule sends.

use base64::{Engine, engine::general_purpose::STANDARD};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookAuthKind {
    None,
    Basic,
    Bearer,
}

impl WebhookAuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookAuthKind::None => "NONE",
            WebhookAuthKind::Basic => "BASIC",
            WebhookAuthKind::Bearer => "BEARER",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookAuthKind> {
        match s {
            "NONE" => Some(WebhookAuthKind::None),
            "BASIC" => Some(WebhookAuthKind::Basic),
            "BEARER" => Some(WebhookAuthKind::Bearer),
            _ => None,
        }
    }
}

/// What the webhook requires besides the integration key.
pub enum WebhookAuth {
    None,
    Basic {
        username: String,
        password: SecretString,
    },
    Bearer {
        token: SecretString,
    },
}

impl WebhookAuth {
    /// Whether the business rule carries a password or token for it.
    pub fn has_secret(&self) -> bool {
        !matches!(self, WebhookAuth::None)
    }

    pub fn kind(&self) -> WebhookAuthKind {
        match self {
            WebhookAuth::None => WebhookAuthKind::None,
            WebhookAuth::Basic { .. } => WebhookAuthKind::Basic,
            WebhookAuth::Bearer { .. } => WebhookAuthKind::Bearer,
        }
    }
}

/// What a request presented in its `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented {
    Basic { username: String, password: String },
    Bearer(String),
}

impl Presented {
    /// `Basic base64(user:password)` or `Bearer token` (scheme case-insensitive); anything else
    /// is no credential at all.
    pub fn parse(header: &str) -> Option<Presented> {
        let (scheme, rest) = header.trim().split_once(' ')?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD.decode(rest).ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let (username, password) = text.split_once(':')?;
            Some(Presented::Basic {
                username: username.to_string(),
                password: password.to_string(),
            })
        } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
            Some(Presented::Bearer(rest.to_string()))
        } else {
            None
        }
    }
}

/// Equal in time that does not depend on where the inputs differ, nor on their lengths: both
/// sides are hashed first.
pub fn secrets_equal(expected: &str, given: &str) -> bool {
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(given.as_bytes());
    a.ct_eq(&b).into()
}

/// Whether the presented credentials are the expected ones. Both the user name and the password
/// are always compared, so timing does not tell which one was wrong.
pub fn basic_matches(username: &str, password: &str, presented: Option<&Presented>) -> bool {
    match presented {
        Some(Presented::Basic {
            username: u,
            password: p,
        }) => secrets_equal(username, u) & secrets_equal(password, p),
        _ => false,
    }
}

pub fn bearer_matches(token: &str, presented: Option<&Presented>) -> bool {
    match presented {
        Some(Presented::Bearer(t)) => secrets_equal(token, t),
        _ => false,
    }
}

/// A user name for Basic: 1 to 200 characters, no colon (it ends the user name) and no control
/// characters.
pub fn check_username(username: &str) -> Result<(), &'static str> {
    if username.is_empty() || username.chars().count() > 200 {
        return Err("must be 1 to 200 characters");
    }
    if username.contains(':') || username.chars().any(char::is_control) {
        return Err("must not contain a colon or control characters");
    }
    Ok(())
}

/// A Basic password: 8 to 1000 characters without control characters.
pub fn check_password(password: &str) -> Result<(), &'static str> {
    let n = password.chars().count();
    if !(8..=1000).contains(&n) {
        return Err("must be 8 to 1000 characters");
    }
    if password.chars().any(char::is_control) {
        return Err("must not contain control characters");
    }
    Ok(())
}

/// A bearer token: 16 to 1000 visible ASCII characters (it travels in a header as is).
pub fn check_token(token: &str) -> Result<(), &'static str> {
    if !(16..=1000).contains(&token.len()) {
        return Err("must be 16 to 1000 characters");
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be visible ASCII characters without spaces");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_and_bearer() {
        let basic = format!("Basic {}", STANDARD.encode("sn:pa:ss"));
        assert_eq!(
            Presented::parse(&basic),
            Some(Presented::Basic {
                username: "sn".into(),
                password: "pa:ss".into()
            })
        );
        assert_eq!(
            Presented::parse("bearer abc"),
            Some(Presented::Bearer("abc".into()))
        );
        for bad in [
            "",
            "Basic",
            "Basic !!!",
            "Bearer ",
            "Token abc",
            "Basic Zm9v",
        ] {
            assert_eq!(Presented::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn matching() {
        let p = Presented::parse(&format!("Basic {}", STANDARD.encode("u:password1"))).unwrap();
        assert!(basic_matches("u", "password1", Some(&p)));
        assert!(!basic_matches("u", "password2", Some(&p)));
        assert!(!basic_matches("v", "password1", Some(&p)));
        assert!(!bearer_matches("password1", Some(&p)));
        assert!(!basic_matches("u", "password1", None));
        let t = Presented::Bearer("0123456789abcdef".into());
        assert!(bearer_matches("0123456789abcdef", Some(&t)));
        assert!(!bearer_matches("0123456789abcdeF", Some(&t)));
    }

    #[test]
    fn input_checks() {
        assert!(check_username("a:b").is_err());
        assert!(check_username("").is_err());
        assert!(check_username("servicenow").is_ok());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
        assert!(check_token("has a space in it!!").is_err());
        assert!(check_token("0123456789abcdef").is_ok());
    }
}
