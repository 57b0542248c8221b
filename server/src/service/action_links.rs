//! The accept and resolve links of notification e-mails: a responder acts on an alert from the
//! mail, without signing in.
//!
//! A link is **signed, not stored**: its token carries the action, the alert, the recipient, an
//! expiry and a random nonce, with an HMAC-SHA256 over them under a key derived from the server's
//! secret key ([`crate::secrets::Cipher::link_keys`]; links signed before a key rotation verify
//! while the old key is in `GLIDEPATH_SECRET_KEY_PREVIOUS`). Nothing is written when a mail is
//! sent, so sending stays a read-only step; what is written is the *use*: the nonce goes into
//! `action_link_uses` in the very transaction of the accept or resolve it performs, so a link
//! works once. A link works only
//! - with its signature intact (any changed character: "not valid");
//! - before its expiry, 24 hours after the mail was sent (a duration scaled by
//!   `GLIDEPATH_TIME_SCALE` like escalation timeouts);
//! - while the alert is not resolved (and, for accept, still PENDING);
//! - while its recipient's account is enabled.
//!
//! Following a link changes nothing (mail scanners fetch links): the confirmation page's button
//! POSTs, and only that performs the action, through the same service operations as the UI
//! ([`super::alerts::accept_using`], [`super::alerts::resolve_using`]), as the recipient.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sea_orm::{EntityTrait, Set};

use super::{Caller, alerts};
use crate::domain::{AlertId, AlertStatus, Role};
use crate::entity::{action_link_use, alert, user};
use crate::error::AppError;
use crate::secrets::Cipher;
use crate::service::Ctx;

/// How long a link works, in escalation minutes (see the module comment).
pub const VALID_MINUTES: i32 = 24 * 60;
/// A token longer than this is not one of ours; it is refused before any work.
const MAX_TOKEN: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkAction {
    Accept,
    Resolve,
}

impl LinkAction {
    fn code(self) -> &'static str {
        match self {
            LinkAction::Accept => "a",
            LinkAction::Resolve => "r",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LinkAction::Accept => "ACCEPT",
            LinkAction::Resolve => "RESOLVE",
        }
    }
}

/// What a link says, once its signature checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub action: LinkAction,
    pub alert_id: String,
    pub user_id: String,
    pub expires_at: DateTime<Utc>,
    pub nonce: String,
}

fn mac(key: &[u8; 32], payload: &[u8]) -> Hmac<sha2::Sha256> {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(payload);
    mac
}

/// The token of `claims`, signed with the current key.
pub fn sign(cipher: &Cipher, claims: &Claims) -> String {
    let payload = format!(
        "1.{}.{}.{}.{}.{}",
        claims.action.code(),
        claims.alert_id,
        claims.user_id,
        claims.expires_at.timestamp_millis(),
        claims.nonce
    );
    let tag = mac(&cipher.link_keys()[0], payload.as_bytes())
        .finalize()
        .into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// The claims of a token whose signature verifies under one of the link keys (compared in
/// constant time); `None` for anything else.
pub fn verify(cipher: &Cipher, token: &str) -> Option<Claims> {
    if token.len() > MAX_TOKEN {
        return None;
    }
    let (payload, tag) = token.split_once('.')?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let good = cipher
        .link_keys()
        .iter()
        .any(|key| mac(key, &payload).verify_slice(&tag).is_ok());
    if !good {
        return None;
    }
    let payload = String::from_utf8(payload).ok()?;
    let parts: Vec<&str> = payload.split('.').collect();
    let [version, action, alert_id, user_id, expires, nonce] = parts.as_slice() else {
        return None;
    };
    if *version != "1" {
        return None;
    }
    let action = match *action {
        "a" => LinkAction::Accept,
        "r" => LinkAction::Resolve,
        _ => return None,
    };
    Some(Claims {
        action,
        alert_id: alert_id.to_string(),
        user_id: user_id.to_string(),
        expires_at: DateTime::from_timestamp_millis(expires.parse().ok()?)?,
        nonce: nonce.to_string(),
    })
}

/// A fresh link token for `user_id` to take `action` on `alert_id`, valid for
/// [`VALID_MINUTES`] from now (on the context's clock).
pub fn issue(ctx: &Ctx, action: LinkAction, alert_id: &str, user_id: &str) -> String {
    use rand::RngCore;
    let mut nonce = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let claims = Claims {
        action,
        alert_id: alert_id.to_string(),
        user_id: user_id.to_string(),
        expires_at: ctx.now() + ctx.clock.minutes(VALID_MINUTES),
        nonce: URL_SAFE_NO_PAD.encode(nonce),
    };
    sign(&ctx.cipher, &claims)
}

/// Where a link stands. Only `Ready` offers the action.
#[derive(Debug)]
pub enum LinkState {
    Ready {
        claims: Claims,
        alert: alert::Model,
        user: user::Model,
    },
    /// Not one of ours, or changed.
    Invalid,
    Expired,
    Used {
        at: DateTime<Utc>,
    },
    /// The recipient's account is disabled (or gone).
    UserDisabled,
    /// The alert no longer exists.
    AlertGone,
    /// Nothing left to do: the alert is resolved (every link), or already accepted (an accept
    /// link).
    Settled {
        action: LinkAction,
        alert: alert::Model,
        by: Option<String>,
    },
}

/// Reads where the link stands. Writes nothing.
pub async fn check(ctx: &Ctx, token: &str) -> Result<LinkState, AppError> {
    let Some(claims) = verify(&ctx.cipher, token) else {
        return Ok(LinkState::Invalid);
    };
    let db = &ctx.db;
    if let Some(used) = action_link_use::Entity::find_by_id(claims.nonce.clone())
        .one(&db.read)
        .await?
    {
        return Ok(LinkState::Used { at: used.used_at });
    }
    if ctx.now() >= claims.expires_at {
        return Ok(LinkState::Expired);
    }
    let user = match user::Entity::find_by_id(claims.user_id.clone())
        .one(&db.read)
        .await?
    {
        Some(u) if !u.disabled => u,
        _ => return Ok(LinkState::UserDisabled),
    };
    let Some(alert) = alerts::get(db, &claims.alert_id).await? else {
        return Ok(LinkState::AlertGone);
    };
    let settled = matches!(
        (claims.action, alert.status),
        (_, AlertStatus::Resolved) | (LinkAction::Accept, AlertStatus::Accepted)
    );
    if settled {
        let by = match &alert.assigned_to_id {
            Some(id) if alert.status == AlertStatus::Accepted => user::Entity::find_by_id(id)
                .one(&db.read)
                .await?
                .map(|u| u.email),
            _ => None,
        };
        return Ok(LinkState::Settled {
            action: claims.action,
            alert,
            by,
        });
    }
    Ok(LinkState::Ready {
        claims,
        alert,
        user,
    })
}

/// What following the button did.
#[derive(Debug)]
pub enum Performed {
    Done {
        action: LinkAction,
        alert: alert::Model,
        user: user::Model,
    },
    /// The link was not (or no longer) ready: nothing changed.
    NotDone(LinkState),
}

/// Performs the link's action as its recipient, if the link is ready; marks it used in the same
/// transaction. A race lost to another change (the alert was accepted or resolved meanwhile)
/// answers the link's state after it.
pub async fn perform(ctx: &Ctx, token: &str) -> Result<Performed, AppError> {
    let (claims, user) = match check(ctx, token).await? {
        LinkState::Ready { claims, user, .. } => (claims, user),
        other => return Ok(Performed::NotDone(other)),
    };
    let caller = Caller {
        user_id: user.id.clone(),
        email: user.email.clone(),
        role: Role::parse(&user.role).unwrap_or(Role::Responder),
        token_id: String::new(),
        must_change_password: false,
    };
    let used = action_link_use::ActiveModel {
        nonce: Set(claims.nonce.clone()),
        alert_id: Set(claims.alert_id.clone()),
        user_id: Set(claims.user_id.clone()),
        action: Set(claims.action.as_str().into()),
        used_at: Set(ctx.now()),
    };
    let alert_id = AlertId::from(claims.alert_id.as_str());
    let done = match claims.action {
        LinkAction::Accept => alerts::accept_using(ctx, &caller, &alert_id, Some(used)).await,
        LinkAction::Resolve => {
            alerts::resolve_using(ctx, &caller, &alert_id, None, Some(used)).await
        }
    };
    match done {
        Ok(alert) => Ok(Performed::Done {
            action: claims.action,
            alert,
            user,
        }),
        Err(AppError::Conflict(_) | AppError::NotFound(_)) => {
            Ok(Performed::NotDone(check(ctx, token).await?))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            action: LinkAction::Accept,
            alert_id: "0190a1b2-0000-7000-8000-000000000001".into(),
            user_id: "0190a1b2-0000-7000-8000-000000000002".into(),
            expires_at: DateTime::from_timestamp_millis(1_800_000_000_000).unwrap(),
            nonce: "bm9uY2Vub25jZW5vbmNl".into(),
        }
    }

    #[test]
    fn a_signed_token_verifies_and_any_change_does_not() {
        let cipher = Cipher::from_key(&[3; 32]);
        let token = sign(&cipher, &claims());
        assert_eq!(verify(&cipher, &token), Some(claims()));
        // Every single-character change of the token is refused.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            if changed != token {
                assert_eq!(verify(&cipher, &changed), None, "changed at {i}");
            }
        }
        // Another key does not verify it; a resolve link is not an accept link.
        assert_eq!(verify(&Cipher::from_key(&[4; 32]), &token), None);
        let resolve = Claims {
            action: LinkAction::Resolve,
            ..claims()
        };
        assert_eq!(
            verify(&cipher, &sign(&cipher, &resolve)).map(|c| c.action),
            Some(LinkAction::Resolve)
        );
        assert_eq!(verify(&cipher, ""), None);
        assert_eq!(verify(&cipher, &"a".repeat(600)), None);
    }
}
