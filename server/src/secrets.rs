//! Encryption of secrets at rest (XChaCha20-Poly1305).
//!
//! The key comes from `GLIDEPATH_SECRET_KEY` (32 bytes, base64 or hex) or from a key file
//! (`GLIDEPATH_SECRET_KEY_FILE`, default `glidepath.key`) that the first start creates with 0600
//! permissions. Several processes sharing one database must share the key. Each ciphertext is
//! bound to what it protects (associated data), so a value copied to another row does not decrypt.

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
}

impl Cipher {
    /// The key from the environment, else from the key file, creating it when missing.
    pub fn load(key: Option<&SecretString>, key_file: &Path) -> anyhow::Result<Cipher> {
        let bytes = match key {
            Some(k) => decode_key(k.expose_secret()).context("GLIDEPATH_SECRET_KEY")?,
            None => load_or_create_file(key_file)?,
        };
        Ok(Cipher::from_key(&bytes))
    }

    pub fn from_key(key: &[u8; 32]) -> Cipher {
        Cipher {
            aead: XChaCha20Poly1305::new(key.into()),
        }
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

    pub fn decrypt(&self, stored: &str, context: &str) -> anyhow::Result<SecretString> {
        let raw = stored
            .strip_prefix(VERSION)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .context("stored secret is not in a known format")?;
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow::anyhow!(
                    "a stored secret does not decrypt: is GLIDEPATH_SECRET_KEY (or the key file) the one it was written with?"
                )
            })?;
        Ok(SecretString::from(
            String::from_utf8(plain).context("stored secret is not UTF-8")?,
        ))
    }
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
    fn env_key_accepts_base64_and_hex() {
        assert_eq!(decode_key(&STANDARD.encode([1u8; 32])).unwrap(), [1u8; 32]);
        assert_eq!(decode_key(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert!(decode_key("short").is_err());
    }
}
