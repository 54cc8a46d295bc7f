//! The store's credential revision (migration 0005): moved by every change that can make a
//! cached credential (an API key, an OAuth client) invalid. Caches stamp what they read with the
//! revision read *before* it, and trust an entry only while the revision still reads the same, so
//! a change committed anywhere (admin API, CLI, another instance) applies to the next request.

use std::collections::HashMap;
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::{Store, StoreError};

/// The longest a cache trusts what it read, revision or not: the bound on a change that did not
/// move the revision (SQL typed by hand, an older `warden` still running, a database restored to
/// an earlier revision).
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// The credential revision (migration 0005), read at most once per batch of concurrent requests.
///
/// A request needs a read that *started after it arrived* (then every change committed before it
/// arrived is visible to it). Reads run one at a time, in turn; a request that waited while one
/// ran takes the next, which serves every request that was waiting. Under load one read answers
/// many requests; alone, a request costs one small read, as a plain lookup would.
///
/// (Measured against waking every waiter at the end of each read, with a `Notify`: the hand-over
/// in turn answered 50,000 introspections/s where the wake-up of all answered 39,000.)
pub struct Revision {
    /// How many reads have started.
    started: AtomicU64,
    /// The last read to finish: its sequence number and what it read, or why it failed.
    last: tokio::sync::Mutex<(u64, Result<i64, String>)>,
}

impl Default for Revision {
    fn default() -> Self {
        Self {
            started: AtomicU64::new(0),
            // Sequence 0 is no read: never taken, as no request arrives before "0 reads started".
            last: tokio::sync::Mutex::new((0, Ok(0))),
        }
    }
}

impl Revision {
    pub async fn current(&self, store: &Store) -> Result<i64, StoreError> {
        let arrived = self.started.load(Ordering::SeqCst);
        // Dropped with the request's future, at any point: the next in turn goes on.
        let mut last = self.last.lock().await;
        if last.0 > arrived {
            // Started after this request arrived: good for it. The waiters of a failed read fail
            // with it, rather than each trying again in turn against a database that is down.
            return last
                .1
                .clone()
                .map_err(|e| StoreError::Db(sqlx::Error::Io(std::io::Error::other(e))));
        }
        let seq = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let read = store.credential_revision().await;
        *last = (seq, read.as_ref().copied().map_err(ToString::to_string));
        read
    }
}

const SHARDS: usize = 16;
const PER_SHARD: usize = 1024;

/// A value, the revision it was read at, and when.
type Entry<T> = (Arc<T>, i64, Instant);

/// Values read from the store, by id (API keys, clients), each trusted only while the revision
/// read *before* it is still current, and for [`MAX_AGE`] at most. Bounded: a full shard drops
/// what is stale, and is cleared if that is not enough. Only ids that exist are put in.
pub struct RevisionCache<T> {
    hasher: std::collections::hash_map::RandomState,
    shards: [Mutex<HashMap<Box<str>, Entry<T>>>; SHARDS],
}

impl<T> Default for RevisionCache<T> {
    fn default() -> Self {
        Self {
            hasher: Default::default(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }
}

impl<T> RevisionCache<T> {
    fn shard(&self, id: &str) -> &Mutex<HashMap<Box<str>, Entry<T>>> {
        &self.shards[(self.hasher.hash_one(id) as usize) % SHARDS]
    }

    /// The value, if it was read at `revision` (nothing that decides it changed since) and less
    /// than [`MAX_AGE`] ago.
    pub fn get(&self, id: &str, revision: i64) -> Option<Arc<T>> {
        let shard = self.shard(id).lock().ok()?;
        let (value, read_at, when) = shard.get(id)?;
        (*read_at == revision && when.elapsed() < MAX_AGE).then(|| Arc::clone(value))
    }

    /// Remembers a value read at `revision` (read *before* the value was).
    pub fn insert(&self, id: &str, value: T, revision: i64) -> Arc<T> {
        let value = Arc::new(value);
        if let Ok(mut shard) = self.shard(id).lock() {
            if shard.len() >= PER_SHARD {
                shard.retain(|_, (_, read_at, _)| *read_at == revision);
                if shard.len() >= PER_SHARD {
                    shard.clear();
                }
            }
            shard.insert(id.into(), (Arc::clone(&value), revision, Instant::now()));
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_value_answers_only_for_the_revision_it_was_read_at() {
        let cache = RevisionCache::<&str>::default();
        cache.insert("0123456789abcdef", "key", 7);
        assert_eq!(cache.get("0123456789abcdef", 7).as_deref(), Some(&"key"));
        assert!(cache.get("0123456789abcdef", 8).is_none());
        assert!(cache.get("0123456789abcdee", 7).is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = RevisionCache::<u32>::default();
        for i in 0..(SHARDS * PER_SHARD * 2) {
            cache.insert(&format!("id-{i}"), 0, 1);
        }
        let total: usize = cache
            .shards
            .iter()
            .map(|s| s.lock().map(|s| s.len()).unwrap_or(0))
            .sum();
        assert!(total <= SHARDS * PER_SHARD);
    }

    #[tokio::test]
    async fn one_revision_read_serves_every_request_waiting_and_sees_other_writers() {
        let url = crate::store::testing::sqlite_url();
        let server = Arc::new(Store::connect(&url).await.expect("connect"));
        server.migrate().await.expect("migrate");
        // Another process on the same database: the CLI, or another instance.
        let other = Store::connect(&url).await.expect("connect");
        let gate = Arc::new(Revision::default());
        let first = gate.current(&server).await.expect("read");
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (gate, server) = (Arc::clone(&gate), Arc::clone(&server));
            calls.spawn(async move { gate.current(&server).await });
        }
        for answer in calls.join_all().await {
            assert_eq!(answer.expect("read"), first);
        }
        assert!(
            // One read per request would be 51; how many batches form depends on scheduling.
            gate.started.load(Ordering::SeqCst) <= 10,
            "50 concurrent requests took {} reads",
            gate.started.load(Ordering::SeqCst)
        );
        other
            .revoke_api_key(crate::store::DEFAULT_TENANT, "nothing")
            .await
            .expect_err("no such key");
        assert_eq!(gate.current(&server).await.expect("read"), first);
        let user = other
            .create_user(
                crate::store::DEFAULT_TENANT,
                &crate::store::NewUser {
                    username: "z".into(),
                    email: None,
                    full_name: None,
                    password_hash: "h".into(),
                },
            )
            .await
            .expect("user");
        other
            .set_disabled(crate::store::DEFAULT_TENANT, &user.id, true)
            .await
            .expect("disable");
        assert!(
            gate.current(&server).await.expect("read") > first,
            "a change committed elsewhere is seen by the next request"
        );
    }

    #[tokio::test]
    async fn a_request_dropped_during_its_read_does_not_stall_the_next() {
        let store = Store::connect(&crate::store::testing::sqlite_url())
            .await
            .expect("connect");
        store.migrate().await.expect("migrate");
        let gate = Revision::default();
        // Polled once (its read starts), then dropped, as when a client hangs up.
        tokio::select! {
            biased;
            _ = gate.current(&store) => {}
            () = std::future::ready(()) => {}
        }
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), gate.current(&store))
            .await
            .expect("the next request is not stuck behind the dropped read");
        assert!(next.is_ok());
    }
}
