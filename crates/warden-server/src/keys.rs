//! Signing keys kept as files in `<data dir>/keys/`, readable by the owner only.
//!
//! Each key is `<created>-<alg>.pem`. The newest signs; an older key keeps verifying until every
//! token it signed has expired (its successor's creation time + the access token lifetime +
//! leeway), so rotation needs no downtime. The server rereads the directory every 30 seconds.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use warden::token::{Algorithm, Key, KeySet};

/// Clock skew tolerated when verifying tokens, in seconds.
pub const LEEWAY: u64 = 30;

/// A key file.
#[derive(Clone, Debug)]
pub struct StoredKey {
    pub created: i64,
    pub key: Key,
    pub path: PathBuf,
}

/// What a key is doing now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    Signing,
    Verifying { until: i64 },
    Retired,
}

/// The key directory.
#[derive(Clone, Debug)]
pub struct KeyDir {
    dir: PathBuf,
}

fn alg_from_name(name: &str) -> Option<Algorithm> {
    Some(match name {
        "EdDSA" => Algorithm::EdDSA,
        "ES256" => Algorithm::ES256,
        "RS256" => Algorithm::RS256,
        _ => return None,
    })
}

/// Reads a private key PEM of any supported kind.
pub fn key_from_pem(pem: &str) -> anyhow::Result<Key> {
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        if let Ok(key) = Key::from_private_pem(alg, pem) {
            return Ok(key);
        }
    }
    bail!("not an Ed25519, P-256 or RSA private key in PKCS#8 PEM")
}

impl KeyDir {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("keys"),
        }
    }

    /// Every readable key, oldest first.
    pub fn load(&self) -> anyhow::Result<Vec<StoredKey>> {
        let mut keys = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(keys),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.dir.display())),
        };
        for entry in entries {
            let path = entry?.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".pem"))
            else {
                continue;
            };
            let Some((created, alg)) = name.split_once('-') else {
                continue;
            };
            let (Ok(created), Some(alg)) = (created.parse::<i64>(), alg_from_name(alg)) else {
                continue;
            };
            let pem = zeroize::Zeroizing::new(
                fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            );
            let key = Key::from_private_pem(alg, &pem)
                .with_context(|| format!("{} is not a valid key", path.display()))?;
            keys.push(StoredKey { created, key, path });
        }
        keys.sort_by_key(|k| k.created);
        Ok(keys)
    }

    /// Makes a new Ed25519 key, which becomes the signing key.
    pub fn generate(&self) -> anyhow::Result<StoredKey> {
        let (key, pem) = Key::generate_ed25519().context("cannot generate a key")?;
        create_private_dir(&self.dir)?;
        let mut created = warden::token::now();
        // Two rotations within one second still get distinct, ordered files.
        while self.dir.join(format!("{created}-EdDSA.pem")).exists() {
            created += 1;
        }
        let path = self.dir.join(format!("{created}-EdDSA.pem"));
        write_private_file(&path, pem.as_bytes())?;
        Ok(StoredKey { created, key, path })
    }
}

/// Each key's status, given the access token lifetime.
pub fn statuses(keys: &[StoredKey], access_ttl: u64, now: i64) -> Vec<KeyStatus> {
    let grace = (access_ttl + LEEWAY) as i64;
    keys.iter()
        .enumerate()
        .map(|(i, _)| match keys.get(i + 1) {
            None => KeyStatus::Signing,
            Some(next) if next.created + grace > now => KeyStatus::Verifying {
                until: next.created + grace,
            },
            Some(_) => KeyStatus::Retired,
        })
        .collect()
}

/// The key set to sign and verify with now, or `None` when there is no key.
pub fn key_set(keys: &[StoredKey], access_ttl: u64, now: i64) -> Option<KeySet> {
    let statuses = statuses(keys, access_ttl, now);
    let signing = keys.last()?;
    let mut set = KeySet::new(signing.key.clone());
    for (key, status) in keys.iter().zip(statuses) {
        if let KeyStatus::Verifying { .. } = status {
            set.add_verification_key(key.key.clone());
        }
    }
    Some(set)
}

/// A directory only its owner can enter.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))
}

/// A new file only its owner can read, written and synced before it is used.
pub fn write_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_old_key_verifying_until_its_tokens_expire() {
        let dir = std::env::temp_dir().join(format!("warden-keys-{}", crate::store::new_id()));
        let keys = KeyDir::new(&dir);
        assert!(keys.load().expect("empty").is_empty());
        let first = keys.generate().expect("key");
        let second = keys.generate().expect("key");
        let loaded = keys.load().expect("load");
        assert_eq!(loaded.len(), 2);
        let now = second.created;
        assert_eq!(
            statuses(&loaded, 900, now),
            [
                KeyStatus::Verifying { until: now + 930 },
                KeyStatus::Signing
            ]
        );
        let set = key_set(&loaded, 900, now).expect("set");
        assert_eq!(set.signing_key().kid(), second.key.kid());
        assert!(set.get(first.key.kid()).is_some());
        let later = key_set(&loaded, 900, now + 931).expect("set");
        assert!(
            later.get(first.key.kid()).is_none(),
            "retired after its tokens expired"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&second.path)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = fs::remove_dir_all(dir);
    }
}
