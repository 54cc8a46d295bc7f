//! API keys for systems: `wdn_<id>_<secret>`, with a visible prefix so a leaked key is easy to
//! recognise (and to find with secret scanners). The id finds the row; the secret (256 random
//! bits) is checked against a keyed digest, in constant time. A key is refused at once when it is
//! unknown, altered, revoked, expired, or its owner is disabled, with the same answer as a
//! missing credential. A key's stored state is cached, and the cache checked against the store's
//! credential revision on every request ([`verify`]). Last use is recorded in memory and written
//! every 10 seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::app::App;
use crate::store::{ApiKey, StoreError};

/// The visible prefix of every warden API key.
pub const PREFIX: &str = "wdn";

/// A new key: (id, secret, the full key to hand out once). The digest is taken of the secret.
pub fn new_key() -> (String, String, String) {
    let id = crate::store::new_id()[..16].to_owned();
    let secret = crate::oauth::client::new_secret();
    let key = format!("{PREFIX}_{id}_{secret}");
    (id, secret, key)
}

/// Splits `wdn_<16 hex id>_<secret>`; the secret may itself contain `_`.
pub fn parse(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?.strip_prefix('_')?;
    let (id, secret) = rest.split_at_checked(16)?;
    let secret = secret.strip_prefix('_')?;
    (id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty()).then_some((id, secret))
}

/// Checks a presented key; `None` for any reason to refuse it.
///
/// A key's stored state is kept in memory once read, stamped with the credential revision it was
/// read at. Every call first reads the current revision (one read shared by all calls in flight:
/// [`Revision`](crate::revision::Revision)), so a revocation, a disabled owner or a lost role
/// committed anywhere before the request arrived is seen by it: refused at once, without one
/// database read per request. (A cached id answers faster than an unknown one; ids are not
/// secrets, they are printed in every key.)
pub async fn verify(app: &App, presented: &str) -> Result<Option<Arc<ApiKey>>, StoreError> {
    let Some((id, secret)) = parse(presented) else {
        return Ok(None);
    };
    let revision = app.revision.current(&app.store).await?;
    let now = warden::token::now();
    let key = match app.verified_keys.get(id, revision) {
        Some(key) => key,
        None => {
            let Some((mut key, owner_scopes)) = app.store.api_key_with_owner_scopes(id).await?
            else {
                // A digest check all the same, as for a known id read from the store.
                let _ = app.digester.verify(secret, "");
                return Ok(None);
            };
            // Never more than the owner holds now: a role or client scope taken away since the
            // key was made is taken from the key too.
            key.scopes.retain(|s| owner_scopes.contains(s));
            app.verified_keys.insert(id, key, revision)
        }
    };
    let valid = app.digester.verify(secret, &key.digest)
        && key.revoked_at.is_none()
        && key.expires_at.is_none_or(|exp| now < exp)
        && !key.owner_disabled;
    if !valid {
        return Ok(None);
    }
    app.api_keys_used.record(&key.id, now);
    Ok(Some(key))
}

/// Stored API keys by id, each trusted while the revision it was read at is current.
pub type VerifiedKeys = crate::revision::RevisionCache<ApiKey>;

/// Last-use times waiting to be written.
#[derive(Default)]
pub struct LastUsed {
    pending: Mutex<HashMap<String, i64>>,
}

impl LastUsed {
    pub fn record(&self, id: &str, at: i64) {
        if let Ok(mut pending) = self.pending.lock() {
            // No allocation for a key already waiting to be written.
            match pending.get_mut(id) {
                Some(last) => *last = at,
                None => {
                    pending.insert(id.to_owned(), at);
                }
            }
        }
    }

    fn take(&self) -> Vec<(String, i64)> {
        self.pending
            .lock()
            .map(|mut p| p.drain().collect())
            .unwrap_or_default()
    }
}

/// Writes last-use times every 10 seconds: one write per key per period, not per request.
pub async fn flush_last_used(app: App) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(10));
    loop {
        interval.tick().await;
        flush(&app).await;
    }
}

/// Writes the last-use times waiting now (also on shutdown, so none are lost).
pub async fn flush(app: &App) {
    let used = app.api_keys_used.take();
    if !used.is_empty() {
        if let Err(e) = app.store.touch_api_keys(&used).await {
            tracing::warn!(error = %e, "cannot record API key use");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_garbage_does_not() {
        let (id, secret, key) = new_key();
        assert!(key.starts_with("wdn_"));
        assert_eq!(parse(&key), Some((id.as_str(), secret.as_str())));
        assert!(secret.len() >= 43);
        for bad in [
            "",
            "wdn",
            "wdn_",
            "wdn_0123456789abcdef",
            "wdn_0123456789abcdef_",
            "wdn_0123456789abcdeg_x",
            "xyz_0123456789abcdef_x",
            "wdn_01234_x",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            parse("wdn_0123456789abcdef_a_b"),
            Some(("0123456789abcdef", "a_b"))
        );
    }
}
