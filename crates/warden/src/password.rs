//! Password hashing: argon2id at OWASP's parameters, legacy bcrypt verification, rehash on
//! login, and hashing that never runs on the async runtime.
//!
//! ```
//! use warden::password::PasswordHasher;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let hasher = PasswordHasher::new();
//! let hash = hasher.hash("correct horse").await.unwrap();
//! assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
//! assert!(hasher.verify("correct horse", &hash).await.unwrap());
//! assert!(!hasher.verify("wrong", &hash).await.unwrap());
//! assert!(!hasher.needs_rehash(&hash));
//!
//! // A legacy bcrypt hash (passlib's) verifies, and asks to be upgraded.
//! let legacy = "$2b$04$EixZaYVK1fsbw1ZfbX3OXe0cYoQ1bkXhe3tNm.VM.gYqxyQw3mHgy";
//! assert!(hasher.needs_rehash(legacy));
//! # }
//! ```
//!
//! Why the pool: an argon2id hash at m=19 MiB takes tens of milliseconds of CPU. Run on the async
//! runtime, a login flood would stall every other request. [`PasswordHasher::hash`] and
//! [`verify`](PasswordHasher::verify) send the work to a few dedicated threads, at the lowest OS
//! priority so the runtime's threads always win the CPU, behind a bounded queue.

use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use tokio::sync::{Semaphore, oneshot};
use zeroize::Zeroizing;

/// Passwords longer than this are refused before any hashing: no unbounded work per request.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Why a password could not be hashed or checked. A wrong password is not an error:
/// [`verify`](PasswordHasher::verify) answers `Ok(false)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordError {
    /// Longer than [`MAX_PASSWORD_BYTES`].
    TooLong,
    /// The stored hash is not a hash warden can read.
    InvalidHash,
    /// Hashing failed.
    Hashing(String),
    /// The hashing threads are gone (the process is shutting down).
    Unavailable,
}

impl fmt::Display for PasswordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong => write!(f, "password longer than {MAX_PASSWORD_BYTES} bytes"),
            Self::InvalidHash => f.write_str("unreadable password hash"),
            Self::Hashing(why) => write!(f, "hashing failed: {why}"),
            Self::Unavailable => f.write_str("password hashing is shutting down"),
        }
    }
}

impl std::error::Error for PasswordError {}

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
}

struct Inner {
    argon2: Argon2<'static>,
    /// Made on first use, with this hasher's parameters (no 19 MiB of work at start-up).
    dummy_hash: OnceLock<String>,
    jobs: Mutex<mpsc::Sender<Job>>,
    queue: Semaphore,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", self.inner.argon2.params())
            .finish()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl PasswordHasher {
    /// argon2id with OWASP's parameters (m = 19456 KiB, t = 2, p = 1), one hashing thread per CPU.
    pub fn new() -> Self {
        Self::with_params(19_456, 2, 1)
    }

    /// argon2id with other parameters (memory in KiB, iterations, parallelism).
    ///
    /// # Panics
    ///
    /// When argon2 refuses the parameters (for example `m` < 8 × `p`): a configuration error
    /// found at start-up.
    pub fn with_params(m_cost: u32, t_cost: u32, p_cost: u32) -> Self {
        let params = Params::new(m_cost, t_cost, p_cost, None).expect("valid argon2 parameters");
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("warden-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    POOL_MEMORY.with(|m| m.borrow_mut().enabled = true);
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // the hasher was dropped
                        }
                    }
                });
            if spawned.is_err() {
                tracing::warn!("could not start a password hashing thread");
            }
        }
        Self {
            inner: Arc::new(Inner {
                argon2,
                dummy_hash: OnceLock::new(),
                jobs: Mutex::new(sender),
                // Enough queued work to keep every thread busy; callers past that wait their turn
                // without holding memory or a blocking thread.
                queue: Semaphore::new(threads * 4),
            }),
        }
    }

    /// Hashes a password on the calling thread (blocking: tens of milliseconds of CPU).
    pub fn hash_blocking(&self, password: &str) -> Result<String, PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        let mut salt = [0u8; 16];
        rand::RngCore::fill_bytes(&mut OsRng, &mut salt);
        let mut out = [0u8; 32];
        let argon2 = &self.inner.argon2;
        with_memory(argon2.params(), |memory| {
            argon2.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
        })
        .map_err(|e| PasswordError::Hashing(e.to_string()))?;
        let hashing = |e: argon2::password_hash::Error| PasswordError::Hashing(e.to_string());
        let salt = SaltString::encode_b64(&salt).map_err(hashing)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: argon2::password_hash::ParamsString::try_from(argon2.params())
                .map_err(hashing)?,
            salt: Some(salt.as_salt()),
            hash: Some(argon2::password_hash::Output::new(&out).map_err(hashing)?),
        };
        Ok(phc.to_string())
    }

    /// Checks a password against an argon2 (`$argon2id$`, `$argon2i$`, `$argon2d$`) or bcrypt
    /// (`$2a$`, `$2b$`, `$2y$`) hash, on the calling thread (blocking).
    ///
    /// bcrypt only ever hashed the first 72 bytes of a password; longer passwords are checked the
    /// same way, as the library that wrote the hash did, so their owners can still log in (and be
    /// rehashed to argon2id), and the limit is never an error.
    pub fn verify_blocking(&self, password: &str, hash: &str) -> Result<bool, PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        if hash.starts_with("$argon2") {
            return verify_argon2(password.as_bytes(), hash);
        }
        if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
            let truncated = &password.as_bytes()[..password.len().min(72)];
            return bcrypt::verify(truncated, hash).map_err(|_| PasswordError::InvalidHash);
        }
        Err(PasswordError::InvalidHash)
    }

    /// True when `hash` is not argon2id with this hasher's parameters: a legacy bcrypt hash, or
    /// older parameters. Rehash the password after a successful login (passlib's
    /// `deprecated="auto"`).
    pub fn needs_rehash(&self, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return true;
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        let current = self.inner.argon2.params();
        parsed.algorithm != Algorithm::Argon2id.ident()
            || parsed.version != Some(Version::V0x13.into())
            || params.m_cost() != current.m_cost()
            || params.t_cost() != current.t_cost()
            || params.p_cost() != current.p_cost()
    }

    /// Hashes a password on the hashing threads.
    pub async fn hash(&self, password: &str) -> Result<String, PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        let password = Zeroizing::new(password.to_owned());
        self.run(move |hasher| hasher.hash_blocking(&password))
            .await
    }

    /// Checks a password on the hashing threads: `Ok(false)` when it is wrong.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordError> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordError::TooLong);
        }
        let password = Zeroizing::new(password.to_owned());
        let hash = hash.to_owned();
        self.run(move |hasher| hasher.verify_blocking(&password, &hash))
            .await
    }

    /// Does the work of a real verification and answers `false`: call it for an unknown user, so
    /// that the time a login takes does not tell which usernames exist.
    pub async fn verify_dummy(&self, password: &str) -> bool {
        if password.len() > MAX_PASSWORD_BYTES {
            return false;
        }
        let password = Zeroizing::new(password.to_owned());
        let _ = self
            .run(move |hasher| {
                let dummy = hasher.inner.dummy_hash.get_or_init(|| {
                    // The hash of a random password nobody knows, with the current parameters.
                    let mut random = Zeroizing::new([0u8; 32]);
                    rand::RngCore::fill_bytes(&mut OsRng, random.as_mut());
                    let salt = SaltString::generate(&mut OsRng);
                    hasher
                        .inner
                        .argon2
                        .hash_password(random.as_ref(), &salt)
                        .map(|h| h.to_string())
                        .unwrap_or_default()
                });
                hasher.verify_blocking(&password, dummy)
            })
            .await;
        false
    }

    async fn run<T, F>(&self, work: F) -> Result<T, PasswordError>
    where
        T: Send + 'static,
        F: FnOnce(&PasswordHasher) -> Result<T, PasswordError> + Send + 'static,
    {
        let _permit = self
            .inner
            .queue
            .acquire()
            .await
            .map_err(|_| PasswordError::Unavailable)?;
        let (done, result) = oneshot::channel();
        let hasher = self.clone();
        let job: Job = Box::new(move || {
            let _ = done.send(work(&hasher));
        });
        self.inner
            .jobs
            .lock()
            .map_err(|_| PasswordError::Unavailable)?
            .send(job)
            .map_err(|_| PasswordError::Unavailable)?;
        result.await.map_err(|_| PasswordError::Unavailable)?
    }
}

/// The argon2 memory of a hashing thread, kept between hashes: 19 MiB allocated and freed for
/// every login would fragment the allocator's arenas and leave the process's memory far above
/// what it uses (measured: 130 MiB after a login flood, against 45 MiB with this).
#[derive(Default)]
struct PoolMemory {
    enabled: bool,
    blocks: Vec<argon2::Block>,
}

thread_local! {
    static POOL_MEMORY: std::cell::RefCell<PoolMemory> = std::cell::RefCell::default();
}

/// Runs `f` with memory for `params`: the thread's kept memory on a hashing thread, fresh memory
/// elsewhere (so a caller's own threads keep nothing).
fn with_memory<T>(params: &Params, f: impl FnOnce(&mut [argon2::Block]) -> T) -> T {
    let blocks = params.block_count();
    POOL_MEMORY.with(|memory| match memory.try_borrow_mut() {
        Ok(mut memory) if memory.enabled => {
            if memory.blocks.len() != blocks {
                memory.blocks = vec![argon2::Block::default(); blocks];
            }
            f(&mut memory.blocks)
        }
        _ => f(&mut vec![argon2::Block::default(); blocks]),
    })
}

/// Verifies against an argon2 hash in PHC format, with the hash's own algorithm, version and
/// parameters, comparing the outputs in constant time.
fn verify_argon2(password: &[u8], hash: &str) -> Result<bool, PasswordError> {
    let invalid = |_| PasswordError::InvalidHash;
    let parsed = PasswordHash::new(hash).map_err(invalid)?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(invalid)?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).map_err(|_| PasswordError::InvalidHash)?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).map_err(invalid)?;
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(PasswordError::InvalidHash);
    };
    let mut salt_bytes = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_bytes).map_err(invalid)?;
    let mut out = vec![0u8; expected.len()];
    let argon2 = Argon2::new(algorithm, version, params);
    with_memory(argon2.params(), |memory| {
        argon2.hash_password_into_with_memory(password, salt, &mut out, memory)
    })
    .map_err(|_| PasswordError::InvalidHash)?;
    // `Output`'s equality is constant-time.
    let actual = argon2::password_hash::Output::new(&out).map_err(invalid)?;
    Ok(actual == expected)
}

/// Puts the calling hashing thread below every normal thread: SCHED_IDLE on Linux (it runs only
/// when no normal thread wants the CPU, and is preempted at once when one does), else the lowest
/// nice value. Token checks on the runtime's threads then never wait for a hash.
fn lower_priority() {
    use thread_priority::{NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy};
    #[cfg(target_os = "linux")]
    {
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        let id = thread_priority::thread_native_id();
        if thread_priority::set_thread_priority_and_policy(id, ThreadPriority::Min, idle).is_ok() {
            return;
        }
    }
    if thread_priority::set_current_thread_priority(ThreadPriority::Min).is_err() {
        tracing::debug!("could not lower the priority of a password hashing thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds' bcrypt hash of "secret" (cost 12).
    const SEED_BCRYPT: &str = "$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW";

    fn cheap() -> PasswordHasher {
        PasswordHasher::with_params(64, 1, 1)
    }

    #[test]
    fn argon2id_round_trip_and_owasp_defaults() {
        let hasher = PasswordHasher::new();
        let hash = hasher.hash_blocking("pässwörd").expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert_eq!(hasher.verify_blocking("pässwörd", &hash), Ok(true));
        assert_eq!(hasher.verify_blocking("passwörd", &hash), Ok(false));
        assert!(!hasher.needs_rehash(&hash));
        assert!(
            cheap().needs_rehash(&hash),
            "other parameters ask for a rehash"
        );
    }

    #[test]
    fn hashes_interoperate_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = cheap();
        let ours = hasher.hash_blocking("pw").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"pW", &parsed).is_err());
        for algorithm in [Algorithm::Argon2i, Algorithm::Argon2d, Algorithm::Argon2id] {
            let params = Params::new(32, 2, 2, Some(24)).expect("params");
            let theirs = Argon2::new(algorithm, Version::V0x10, params)
                .hash_password(b"pw", &SaltString::generate(&mut OsRng))
                .expect("hash")
                .to_string();
            assert_eq!(hasher.verify_blocking("pw", &theirs), Ok(true), "{theirs}");
            assert_eq!(hasher.verify_blocking("px", &theirs), Ok(false), "{theirs}");
        }
    }

    #[test]
    fn legacy_bcrypt_verifies_and_needs_rehash() {
        let hasher = cheap();
        assert_eq!(hasher.verify_blocking("secret", SEED_BCRYPT), Ok(true));
        assert_eq!(hasher.verify_blocking("Secret", SEED_BCRYPT), Ok(false));
        assert!(hasher.needs_rehash(SEED_BCRYPT));
        for prefix in ["$2a$", "$2y$"] {
            let hash = SEED_BCRYPT.replacen("$2b$", prefix, 1);
            assert_eq!(
                hasher.verify_blocking("secret", &hash),
                Ok(true),
                "{prefix}"
            );
        }
    }

    #[test]
    fn long_passwords_are_checked_up_to_the_limit_and_refused_past_it() {
        let hasher = cheap();
        let long = "x".repeat(MAX_PASSWORD_BYTES);
        let hash = hasher.hash_blocking(&long).expect("hash");
        assert_eq!(hasher.verify_blocking(&long, &hash), Ok(true));
        // bcrypt's 72-byte limit is a wrong password, never an error.
        assert_eq!(hasher.verify_blocking(&long, SEED_BCRYPT), Ok(false));
        let too_long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(
            hasher.verify_blocking(&too_long, &hash),
            Err(PasswordError::TooLong)
        );
        assert_eq!(hasher.hash_blocking(&too_long), Err(PasswordError::TooLong));
    }

    #[test]
    fn unreadable_hashes_are_errors_not_panics() {
        let hasher = cheap();
        for hash in [
            "",
            "plain",
            "$argon2id$",
            "$2b$12$short",
            "$1$md5$x",
            "$argon2id$v=19$m=1,t=1,p=1$$",
        ] {
            assert_eq!(
                hasher.verify_blocking("secret", hash),
                Err(PasswordError::InvalidHash),
                "{hash}"
            );
            assert!(hasher.needs_rehash(hash));
        }
    }

    #[tokio::test]
    async fn async_api_runs_on_the_pool_and_dummy_is_false() {
        let hasher = cheap();
        let hash = hasher.hash("a").await.expect("hash");
        assert!(hasher.verify("a", &hash).await.expect("verify"));
        assert!(!hasher.verify_dummy("a").await);
        let on_pool = hasher
            .run(|_| Ok(std::thread::current().name().map(str::to_owned)))
            .await
            .expect("run");
        assert!(on_pool.is_some_and(|n| n.starts_with("warden-hash-")));
    }
}
