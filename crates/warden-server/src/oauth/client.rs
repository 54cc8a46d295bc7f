//! OAuth clients: secrets, their keyed digests, and client authentication (RFC 6749 §2.3).
//!
//! Client secrets are 256 random bits made by the server, so they need no slow password hash:
//! the database keeps HMAC-SHA256(digest key, secret). A stolen table is useless without the
//! digest key (kept in `<data dir>/digest.key` or `WARDEN_DIGEST_KEY`), and checking a secret
//! costs a microsecond, not the tens of milliseconds of argon2 (what makes Ory Hydra's client
//! credentials grant slow, its issues #168 and #1477).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use zeroize::Zeroizing;

use super::OAuthError;
use crate::config::Mode;
use crate::revision::{Revision, RevisionCache};
use crate::store::{Client, Store, StoreError};

/// Computes and checks keyed digests of client secrets and API keys.
pub struct SecretDigester {
    key: Zeroizing<Vec<u8>>,
}

impl SecretDigester {
    /// The key from `WARDEN_DIGEST_KEY`, else `<data dir>/digest.key`, made there on first use in
    /// development (production refuses to make one: instances must share it).
    pub fn load(data_dir: &Path, mode: Mode) -> anyhow::Result<Self> {
        if let Ok(key) = std::env::var("WARDEN_DIGEST_KEY") {
            if key.len() < 32 {
                anyhow::bail!("WARDEN_DIGEST_KEY must be at least 32 bytes");
            }
            return Ok(Self {
                key: Zeroizing::new(key.into_bytes()),
            });
        }
        let path = data_dir.join("digest.key");
        match std::fs::read(&path) {
            Ok(key) if key.len() >= 32 => Ok(Self {
                key: Zeroizing::new(key),
            }),
            Ok(_) => anyhow::bail!("{} is shorter than 32 bytes", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if mode == Mode::Production {
                    anyhow::bail!(
                        "production mode: no digest key for client secrets. Set WARDEN_DIGEST_KEY (32+ bytes, the same on every instance)"
                    );
                }
                let mut key = Zeroizing::new(vec![0u8; 32]);
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
                crate::keys::create_private_dir(data_dir)?;
                crate::keys::write_private_file(&path, &key)?;
                Ok(Self { key })
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// A digester with the given key (tests).
    pub fn with_key(key: &[u8]) -> Self {
        Self {
            key: Zeroizing::new(key.to_vec()),
        }
    }

    fn mac(&self) -> hmac::Hmac<sha2::Sha256> {
        // HMAC takes keys of any length.
        hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }

    /// The digest stored for `secret`.
    pub fn digest(&self, secret: &str) -> String {
        let mut mac = self.mac();
        mac.update(secret.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// True when `secret` has this digest; constant-time.
    pub fn verify(&self, secret: &str, digest: &str) -> bool {
        let Ok(expected) = URL_SAFE_NO_PAD.decode(digest) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(secret.as_bytes());
        mac.verify_slice(&expected).is_ok()
    }
}

/// A new client secret: 256 random bits, base64url.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new client id.
pub fn new_client_id() -> String {
    format!("cl_{}", &crate::store::new_id()[..24])
}

/// Clients read from the database, kept in memory so machine logins do not read the client on
/// every request; trusted only while the credential revision reads the same as when the client
/// was read ([`Revision`]), so a removed client is refused at once (and never for longer than
/// [`MAX_AGE`](crate::revision::MAX_AGE)).
#[derive(Default)]
pub struct ClientCache {
    entries: RevisionCache<Client>,
}

impl ClientCache {
    /// The client as stored, read again whenever the credential revision moved (a client
    /// removed anywhere is refused from the next request).
    pub async fn get(
        &self,
        store: &Store,
        revision: &Revision,
        id: &str,
    ) -> Result<Option<Arc<Client>>, StoreError> {
        let current = revision.current(store).await?;
        if let Some(client) = self.entries.get(id, current) {
            return Ok(Some(client));
        }
        match store.client(id).await {
            Ok(client) => Ok(Some(self.entries.insert(id, client, current))),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Who the client is.
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// No client identified itself (or an unregistered public client id).
    Anonymous,
    /// A registered public client, identified by its id.
    Public(Arc<Client>),
    /// A confidential client that proved its secret.
    Confidential(Arc<Client>),
}

impl ClientAuth {
    pub fn client(&self) -> Option<&Client> {
        match self {
            Self::Anonymous => None,
            Self::Public(c) | Self::Confidential(c) => Some(c),
        }
    }

    /// RFC 6749 §5.2 `unauthorized_client` unless the client may use `grant_type`.
    pub fn check_grant(&self, grant_type: &str) -> Result<(), OAuthError> {
        match self.client() {
            Some(client) if !client.grant_types.iter().any(|g| g == grant_type) => {
                Err(OAuthError::unauthorized_client(format!(
                    "this client may not use the {grant_type} grant"
                )))
            }
            _ => Ok(()),
        }
    }
}

/// The credentials a request carried: Basic (id, secret) and/or form fields.
pub struct PresentedClient<'a> {
    pub basic: Option<&'a (String, String)>,
    pub client_id: Option<&'a str>,
    pub client_secret: Option<&'a str>,
}

/// Authenticates the client (RFC 6749 §2.3.1): one method per request; a secret must match; a
/// registered confidential client must prove its secret.
pub async fn authenticate(
    presented: PresentedClient<'_>,
    app: &crate::app::AppState,
) -> Result<ClientAuth, OAuthError> {
    let (id, secret) = match (
        presented.basic,
        presented.client_id,
        presented.client_secret,
    ) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "the client is identified both in the header and in the body",
            ));
        }
        (Some((id, secret)), None, None) => (id.as_str(), Some(secret.as_str())),
        (None, Some(id), secret) => (id, secret),
        (None, None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "client_secret without client_id",
            ));
        }
        (None, None, None) => return Ok(ClientAuth::Anonymous),
    };
    let refused = || OAuthError::invalid_client("unknown client or wrong client secret");
    let client = app.clients.get(&app.store, &app.revision, id).await?;
    match (client, secret) {
        (Some(client), Some(secret)) => match &client.secret_digest {
            Some(digest) if app.digester.verify(secret, digest) => {
                Ok(ClientAuth::Confidential(client))
            }
            _ => Err(refused()),
        },
        (Some(client), None) if client.is_confidential() => Err(refused()),
        (Some(client), None) => Ok(ClientAuth::Public(client)),
        (None, Some(secret)) => {
            // Spend the same work as a real check, so timing does not reveal which ids exist.
            let _ = app.digester.verify(secret, "");
            Err(refused())
        }
        (None, None) => Ok(ClientAuth::Anonymous),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_keyed_and_checked_in_constant_time() {
        let a = SecretDigester::with_key(&[1; 32]);
        let b = SecretDigester::with_key(&[2; 32]);
        let secret = new_secret();
        assert_eq!(secret.len(), 43, "256 bits, base64url");
        let digest = a.digest(&secret);
        assert!(a.verify(&secret, &digest));
        assert!(!a.verify("other", &digest));
        assert!(!b.verify(&secret, &digest), "another key, another digest");
        assert!(!a.verify(&secret, "not base64 !"));
    }
}
