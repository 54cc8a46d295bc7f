//! A cache of access tokens whose signature already verified, so a client that sends the same
//! token on every request pays for the signature check (≈ 40 µs for EdDSA) once.
//!
//! Only tokens that verified are cached, keyed by the whole token (an exact match, so a forged or
//! altered token never hits), and a hit is still refused once its `exp` has passed. The cache is
//! emptied whenever the key set changes, and is bounded: a full shard is cleared rather than
//! grown.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use warden::token::Claims;

use crate::oauth::AccessClaims;

const SHARDS: usize = 16;
const PER_SHARD: usize = 4096;

type Entry = Arc<Claims<AccessClaims>>;

/// Verified access tokens and their claims.
pub struct VerifiedTokens {
    hasher: std::collections::hash_map::RandomState,
    shards: [Mutex<HashMap<Box<str>, Entry>>; SHARDS],
    /// Bumped by [`clear`](Self::clear): a token verified with keys older than the current
    /// generation is not cached (it may have been verified with a key that is gone now).
    generation: AtomicU64,
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self {
            hasher: Default::default(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            generation: AtomicU64::new(0),
        }
    }
}

impl VerifiedTokens {
    fn shard(&self, token: &str) -> &Mutex<HashMap<Box<str>, Entry>> {
        &self.shards[(self.hasher.hash_one(token) as usize) % SHARDS]
    }

    /// The claims of a token that verified before and has not expired.
    pub fn get(&self, token: &str) -> Option<Entry> {
        let claims = self.shard(token).lock().ok()?.get(token).cloned()?;
        // RFC 7519 §4.1.4, as in `Jwt::decode` (with no leeway here: the token was fresh then).
        (warden::token::now() < claims.exp).then_some(claims)
    }

    /// The generation to read before verifying a token, and to give to [`insert`](Self::insert).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Remembers a token that just verified, unless the keys changed since `generation` was read.
    pub fn insert(&self, token: &str, claims: Claims<AccessClaims>, generation: u64) -> Entry {
        let claims = Arc::new(claims);
        if let Ok(mut shard) = self.shard(token).lock() {
            // Checked under the shard lock: a `clear` that bumped the generation after this check
            // takes the same lock and removes the entry.
            if self.generation.load(Ordering::SeqCst) != generation {
                return claims;
            }
            if shard.len() >= PER_SHARD {
                let now = warden::token::now();
                shard.retain(|_, c| c.exp > now);
                if shard.len() >= PER_SHARD {
                    shard.clear();
                }
            }
            shard.insert(token.into(), Arc::clone(&claims));
        }
        claims
    }

    /// Forgets every token (the keys changed).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for shard in &self.shards {
            if let Ok(mut shard) = shard.lock() {
                shard.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims<AccessClaims> {
        Claims {
            sub: "u".into(),
            exp,
            ..Claims::default()
        }
    }

    #[test]
    fn hits_only_the_exact_token_and_never_after_exp() {
        let cache = VerifiedTokens::default();
        let now = warden::token::now();
        cache.insert("a.b.c", claims(now + 60), 0);
        cache.insert("old", claims(now), 0);
        assert!(cache.get("a.b.c").is_some());
        assert!(cache.get("a.b.C").is_none());
        assert!(cache.get("a.b.c ").is_none());
        assert!(
            cache.get("old").is_none(),
            "expired the second exp is reached"
        );
        cache.clear();
        assert!(cache.get("a.b.c").is_none());
        // Verified before the keys changed: not cached.
        cache.insert("stale", claims(now + 60), 0);
        assert!(cache.get("stale").is_none());
        cache.insert("fresh", claims(now + 60), cache.generation());
        assert!(cache.get("fresh").is_some());
    }

    #[test]
    fn stays_bounded() {
        let cache = VerifiedTokens::default();
        let exp = warden::token::now() + 60;
        for i in 0..(SHARDS * PER_SHARD * 2) {
            cache.insert(&format!("token-{i}"), claims(exp), 0);
        }
        let total: usize = cache
            .shards
            .iter()
            .map(|s| s.lock().map(|s| s.len()).unwrap_or(0))
            .sum();
        assert!(total <= SHARDS * PER_SHARD);
    }
}
