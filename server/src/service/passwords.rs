//! Password hashing: argon2id, behind a bounded queue that the server's context holds, so a
//! flood of sign-ins cannot take every core.

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
};
use secrecy::{ExposeSecret, SecretString};

use super::random_token;
use crate::error::AppError;

/// argon2id with OWASP's minimum: 19 MiB of memory, 2 iterations, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Bounds the argon2 work: at most `workers` hashes run at once (each takes 19 MiB and a core for
/// tens of milliseconds) and at most `queue` more wait; anything beyond is refused at once with
/// TOO_MANY_REQUESTS, without hashing. Every hash and verification goes through it.
pub struct HashQueue {
    running: tokio::sync::Semaphore,
    admitted: std::sync::Arc<tokio::sync::Semaphore>,
    dummy: tokio::sync::OnceCell<String>,
}

impl HashQueue {
    /// `workers` 0 means one per CPU core.
    pub fn new(workers: usize, queue: usize) -> HashQueue {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            workers
        };
        HashQueue {
            running: tokio::sync::Semaphore::new(workers),
            admitted: std::sync::Arc::new(tokio::sync::Semaphore::new(
                workers.saturating_add(queue),
            )),
            dummy: tokio::sync::OnceCell::new(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let Ok(_admitted) = self.admitted.clone().try_acquire_owned() else {
            metrics::counter!("glidepath_password_hash_rejected_total").increment(1);
            return Err(AppError::TooManyRequests(
                "the server is busy checking passwords; try again shortly",
            ));
        };
        let _running = self
            .running
            .acquire()
            .await
            .map_err(|e| anyhow::anyhow!("hash queue closed: {e}"))?;
        // The permits are held until the blocking work ends, even when the caller goes away.
        Ok(tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| anyhow::anyhow!(e))?)
    }
}

pub async fn hash_password(
    passwords: &HashQueue,
    password: SecretString,
) -> Result<String, AppError> {
    passwords
        .run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
        })
        .await?
        .map_err(AppError::from)
}

pub(super) async fn verify_password(
    passwords: &HashQueue,
    password: SecretString,
    hash: String,
) -> Result<bool, AppError> {
    passwords
        .run(move || {
            let parsed =
                PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
            Ok(argon2()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok())
        })
        .await?
}

/// A hash of a password nobody has, verified when the e-mail is unknown so that the answer takes
/// as long as for a known e-mail and says nothing about which accounts exist. Made once per
/// queue.
pub(super) async fn dummy_hash(passwords: &HashQueue) -> Result<String, AppError> {
    passwords
        .dummy
        .get_or_try_init(|| hash_password(passwords, SecretString::from(random_token())))
        .await
        .cloned()
}
