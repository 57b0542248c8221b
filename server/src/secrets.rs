//! Encryption of secrets at rest (XChaCha20-Poly1305).
//!
//! The key comes from `GLIDEPATH_SECRET_KEY` (32 bytes, base64 or hex) or from a key file
//! (`GLIDEPATH_SECRET_KEY_FILE`, default `glidepath.key`) that the first start creates with 0600
//! permissions. Several processes sharing one database must share the key. Each ciphertext is
//! bound to what it protects (associated data), so a value copied to another row does not decrypt.
//!
//! Rotating the key: start every process with the new key and the old one in
//! `GLIDEPATH_SECRET_KEY_PREVIOUS` (values sealed under a previous key still open), run
//! `glidepath rotate-secrets` (re-seals every stored secret under the new key, see
//! [`crate::service::rekey`]), then drop the previous key.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use base64::{Engine, engine::general_purpose::STANDARD};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};
use secrecy::{ExposeSecret, SecretString};

const VERSION: &str = "v1.";
const NONCE_LEN: usize = 24;

pub struct Cipher {
    aead: XChaCha20Poly1305,
    /// Keys being rotated away from: they open, never seal.
    previous: Vec<XChaCha20Poly1305>,
    /// The keys that sign the accept and resolve links of notification e-mails, derived from the
    /// secret key (the current one first, then the previous ones, which still verify).
    link_keys: Vec<[u8; 32]>,
}

/// A key for one purpose, derived from the secret key (HMAC-SHA256 of the purpose under it), so
/// a signature never equals anything else made with the secret key.
fn derive(key: &[u8; 32], purpose: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(purpose.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

const LINK_KEY_PURPOSE: &str = "glidepath action links v1";

impl Cipher {
    /// The key from the environment, else from the key file, creating it when missing; plus the
    /// previous keys (comma-separated, same encodings) during a rotation.
    pub fn load(
        key: Option<&SecretString>,
        key_file: &Path,
        previous: Option<&SecretString>,
    ) -> anyhow::Result<Cipher> {
        let bytes = match key {
            Some(k) => decode_key(k.expose_secret()).context("GLIDEPATH_SECRET_KEY")?,
            None => load_or_create_file(key_file)?,
        };
        let mut cipher = Cipher::from_key(&bytes);
        if let Some(previous) = previous {
            for (i, text) in previous
                .expose_secret()
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .enumerate()
            {
                let old = decode_key(text)
                    .with_context(|| format!("GLIDEPATH_SECRET_KEY_PREVIOUS (key {})", i + 1))?;
                if old == bytes {
                    bail!("GLIDEPATH_SECRET_KEY_PREVIOUS repeats the current key");
                }
                cipher.previous.push(XChaCha20Poly1305::new((&old).into()));
                cipher.link_keys.push(derive(&old, LINK_KEY_PURPOSE));
            }
        }
        Ok(cipher)
    }

    pub fn from_key(key: &[u8; 32]) -> Cipher {
        Cipher {
            aead: XChaCha20Poly1305::new(key.into()),
            previous: Vec::new(),
            link_keys: vec![derive(key, LINK_KEY_PURPOSE)],
        }
    }

    /// The keys of the e-mail action links: the first signs, every one verifies (the previous
    /// secret keys' too, during a rotation).
    pub fn link_keys(&self) -> &[[u8; 32]] {
        &self.link_keys
    }

    /// Whether `stored` opens under the current key (as opposed to a previous one, or none).
    pub fn is_current(&self, stored: &str, context: &str) -> bool {
        split(stored)
            .is_some_and(|(nonce, sealed)| open(&self.aead, &nonce, &sealed, context).is_some())
    }

    pub fn encrypt(&self, plaintext: &str, context: &str) -> anyhow::Result<String> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{VERSION}{}", STANDARD.encode(out)))
    }

    /// Opens a stored secret with the current key, else with a previous one.
    pub fn decrypt(&self, stored: &str, context: &str) -> anyhow::Result<SecretString> {
        let (nonce, sealed) = split(stored).context("stored secret is not in a known format")?;
        let plain = std::iter::once(&self.aead)
            .chain(&self.previous)
            .find_map(|aead| open(aead, &nonce, &sealed, context))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "a stored secret does not decrypt: is GLIDEPATH_SECRET_KEY (or the key file) the one it was written with?"
                )
            })?;
        Ok(SecretString::from(
            String::from_utf8(plain).context("stored secret is not UTF-8")?,
        ))
    }
}

/// The nonce and the sealed bytes of a stored secret.
fn split(stored: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut raw = stored
        .strip_prefix(VERSION)
        .and_then(|b| STANDARD.decode(b).ok())
        .filter(|b| b.len() > NONCE_LEN)?;
    let sealed = raw.split_off(NONCE_LEN);
    Some((raw, sealed))
}

fn open(aead: &XChaCha20Poly1305, nonce: &[u8], sealed: &[u8], context: &str) -> Option<Vec<u8>> {
    aead.decrypt(
        XNonce::from_slice(nonce),
        Payload {
            msg: sealed,
            aad: context.as_bytes(),
        },
    )
    .ok()
}

fn decode_key(text: &str) -> anyhow::Result<[u8; 32]> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text)?
    } else {
        STANDARD
            .decode(text)
            .context("must be 32 bytes as base64 or 64 hex digits")?
    };
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("must be exactly 32 bytes (base64 or 64 hex digits)"))
}

/// Creating the file is atomic (written aside, then hard-linked into place), so processes
/// starting together agree on one key.
fn load_or_create_file(path: &Path) -> anyhow::Result<[u8; 32]> {
    if !path.exists() {
        let mut key = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("cannot create key file {}", tmp.display()))?;
        file.write_all(STANDARD.encode(key).as_bytes())?;
        file.sync_all()?;
        drop(file);
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                let shown = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
                tracing::warn!(
                    path = %shown.display(),
                    "created a new secret key file; back it up, and give every Glidepath process sharing this database the same key"
                );
                return Ok(key);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    let meta = std::fs::metadata(path)?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "key file {} is readable by others: chmod 600 it",
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read key file {}", path.display()))?;
    decode_key(&text).with_context(|| format!("key file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_bound_to_its_context() {
        let c = Cipher::from_key(&[7u8; 32]);
        let sealed = c.encrypt("s3cret", "row-1").unwrap();
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            c.decrypt(&sealed, "row-1").unwrap().expose_secret(),
            "s3cret"
        );
        assert!(c.decrypt(&sealed, "row-2").is_err());
        assert!(
            Cipher::from_key(&[8u8; 32])
                .decrypt(&sealed, "row-1")
                .is_err()
        );
        assert!(c.decrypt("garbage", "row-1").is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = std::env::temp_dir().join(format!("glidepath-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("glidepath.key");
        let first = load_or_create_file(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(load_or_create_file(&path).unwrap(), first);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_previous_key_opens_but_never_seals() {
        let dir = std::env::temp_dir().join(format!("glidepath-key-{}", uuid::Uuid::new_v4()));
        let old_key = SecretString::from(STANDARD.encode([1u8; 32]));
        let new_key = SecretString::from(STANDARD.encode([2u8; 32]));
        let old = Cipher::load(Some(&old_key), &dir, None).unwrap();
        let sealed_old = old.encrypt("s3cret", "row-1").unwrap();
        let rotating = Cipher::load(Some(&new_key), &dir, Some(&old_key)).unwrap();
        assert_eq!(
            rotating
                .decrypt(&sealed_old, "row-1")
                .unwrap()
                .expose_secret(),
            "s3cret"
        );
        assert!(!rotating.is_current(&sealed_old, "row-1"));
        let sealed_new = rotating.encrypt("s3cret", "row-1").unwrap();
        assert!(rotating.is_current(&sealed_new, "row-1"));
        assert!(old.decrypt(&sealed_new, "row-1").is_err());
        assert!(Cipher::load(Some(&new_key), &dir, Some(&new_key)).is_err());
        assert!(Cipher::load(Some(&new_key), &dir, Some(&"short".to_string().into())).is_err());
    }

    #[test]
    fn env_key_accepts_base64_and_hex() {
        assert_eq!(decode_key(&STANDARD.encode([1u8; 32])).unwrap(), [1u8; 32]);
        assert_eq!(decode_key(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert!(decode_key("short").is_err());
    }
}
