//! Signing and verification keys, key sets with rotation, and JWKS export (RFC 7517).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::RngCore;
use rand::rngs::OsRng;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Why a key could not be loaded or made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The algorithm does not go with this kind of key (an HMAC secret for RS256, ...).
    WrongAlgorithm(&'static str),
    /// The PEM or the secret could not be read.
    Invalid(String),
    /// An empty HMAC secret.
    EmptySecret,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongAlgorithm(what) => write!(f, "wrong algorithm for this key: {what}"),
            Self::Invalid(why) => write!(f, "invalid key: {why}"),
            Self::EmptySecret => f.write_str("an HMAC secret must not be empty"),
        }
    }
}

impl std::error::Error for KeyError {}

fn invalid(e: impl fmt::Display) -> KeyError {
    KeyError::Invalid(e.to_string())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
    }
}

/// One key, pinned to one algorithm (RFC 8725 §3.1: the algorithm comes from the key, never
/// from the token), with a `kid`.
///
/// ```
/// use warden::token::{Algorithm, Key};
///
/// let key = Key::hmac(Algorithm::HS256, b"a secret of at least thirty-two bytes!").unwrap();
/// assert_eq!(key.algorithm(), Algorithm::HS256);
/// let (ed, pem) = Key::generate_ed25519().unwrap();
/// assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
/// assert!(ed.public_jwk().is_some());
/// ```
#[derive(Clone)]
pub struct Key {
    kid: String,
    alg: Algorithm,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
    /// The public key as a JWK (without `kid`), for asymmetric keys.
    public_jwk: Option<Value>,
    weak: bool,
    /// Ed25519 keys, parsed once: `jsonwebtoken` parses the PKCS#8 key (and derives the public
    /// key) on every signature, which doubles the cost of issuing a token.
    ed25519: Option<Ed25519Keys>,
    /// The HMAC secret, to verify HS256/384/512 without `jsonwebtoken`'s second header parse.
    hmac_secret: Option<Zeroizing<Vec<u8>>>,
}

/// A parsed Ed25519 key pair.
#[derive(Clone)]
pub(crate) struct Ed25519Keys {
    pub(crate) signing: ed25519_dalek::SigningKey,
    pub(crate) verifying: ed25519_dalek::VerifyingKey,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("can_sign", &self.encoding.is_some())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// An HMAC key (HS256, HS384, HS512) from the secret's bytes as given.
    ///
    /// RFC 7518 §3.2 asks for a secret at least as long as the hash; a shorter one loads, but
    /// [`is_weak`](Self::is_weak) says so (and the server refuses it in production).
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<Self, KeyError> {
        let min = match alg {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => {
                return Err(KeyError::WrongAlgorithm(
                    "an HMAC secret needs HS256, HS384 or HS512",
                ));
            }
        };
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        Ok(Self {
            kid: String::new(),
            alg,
            encoding: Some(EncodingKey::from_secret(secret)),
            decoding: DecodingKey::from_secret(secret),
            public_jwk: None,
            weak: secret.len() < min,
            ed25519: None,
            hmac_secret: Some(Zeroizing::new(secret.to_vec())),
        }
        .with_default_kid(secret))
    }

    /// A fresh random HMAC key, and its secret (keep it to load the key again).
    pub fn generate_hmac(alg: Algorithm) -> Result<(Self, Zeroizing<Vec<u8>>), KeyError> {
        let len = match alg {
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => 32,
        };
        let mut secret = Zeroizing::new(vec![0u8; len]);
        OsRng.fill_bytes(&mut secret);
        Ok((Self::hmac(alg, &secret)?, secret))
    }

    /// A private key from PEM (PKCS#8; PKCS#1 also for RSA): RS256/384/512, PS256/384/512,
    /// ES256, or EdDSA (Ed25519).
    pub fn from_private_pem(alg: Algorithm, pem: &str) -> Result<Self, KeyError> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        use rsa::traits::PublicKeyParts as _;
        let mut ed25519 = None;
        let (encoding, public_jwk, decoding) = match alg {
            Algorithm::EdDSA => {
                let signing = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(invalid)?;
                let public = signing.verifying_key().to_bytes();
                ed25519 = Some(Ed25519Keys {
                    verifying: signing.verifying_key(),
                    signing,
                });
                (
                    EncodingKey::from_ed_pem(pem.as_bytes()).map_err(invalid)?,
                    json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&public)}),
                    DecodingKey::from_ed_components(&b64(&public)).map_err(invalid)?,
                )
            }
            Algorithm::ES256 => {
                let secret = p256::SecretKey::from_pkcs8_pem(pem).map_err(invalid)?;
                use p256::elliptic_curve::sec1::ToEncodedPoint as _;
                let point = secret.public_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(KeyError::Invalid("EC point".into()));
                };
                (
                    EncodingKey::from_ec_pem(pem.as_bytes()).map_err(invalid)?,
                    json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}),
                    DecodingKey::from_ec_components(&b64(x), &b64(y)).map_err(invalid)?,
                )
            }
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => {
                let private = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
                    .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
                    .map_err(invalid)?;
                let (n, e) = (
                    b64(&private.n().to_bytes_be()),
                    b64(&private.e().to_bytes_be()),
                );
                (
                    EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(invalid)?,
                    json!({"kty": "RSA", "n": n, "e": e}),
                    DecodingKey::from_rsa_components(&n, &e).map_err(invalid)?,
                )
            }
            _ => return Err(KeyError::WrongAlgorithm("use Key::hmac for HS256/384/512")),
        };
        Ok(Self {
            kid: String::new(),
            alg,
            encoding: Some(encoding),
            decoding,
            public_jwk: Some(public_jwk),
            weak: false,
            ed25519,
            hmac_secret: None,
        }
        .with_jwk_kid())
    }

    /// A verification-only key from a public key PEM (SPKI): for tokens signed elsewhere.
    pub fn from_public_pem(alg: Algorithm, pem: &str) -> Result<Self, KeyError> {
        let decoding = match alg {
            Algorithm::EdDSA => DecodingKey::from_ed_pem(pem.as_bytes()),
            Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(pem.as_bytes()),
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                return Err(KeyError::WrongAlgorithm(
                    "an HMAC key is a secret, not a public key",
                ));
            }
            _ => DecodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .map_err(invalid)?;
        use sha2::Digest as _;
        Ok(Self {
            kid: b64(&sha2::Sha256::digest(pem.trim().as_bytes())[..12]),
            alg,
            encoding: None,
            decoding,
            public_jwk: None,
            weak: false,
            ed25519: None,
            hmac_secret: None,
        })
    }

    /// A fresh Ed25519 key (EdDSA), and its PKCS#8 PEM (keep it secret, to load the key again).
    pub fn generate_ed25519() -> Result<(Self, Zeroizing<String>), KeyError> {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let mut seed = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(seed.as_mut());
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let pem = signing.to_pkcs8_pem(Default::default()).map_err(invalid)?;
        let pem = Zeroizing::new(pem.to_string());
        Ok((Self::from_private_pem(Algorithm::EdDSA, &pem)?, pem))
    }

    /// A fresh P-256 key (ES256), and its PKCS#8 PEM.
    pub fn generate_es256() -> Result<(Self, Zeroizing<String>), KeyError> {
        use p256::pkcs8::EncodePrivateKey as _;
        let secret = p256::SecretKey::random(&mut OsRng);
        let pem = secret.to_pkcs8_pem(Default::default()).map_err(invalid)?;
        let pem = Zeroizing::new(pem.to_string());
        Ok((Self::from_private_pem(Algorithm::ES256, &pem)?, pem))
    }

    /// Sets the key id (`kid`) written in token headers and the JWKS.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key signs and verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// True for an HMAC secret shorter than its hash (RFC 7518 §3.2).
    pub fn is_weak(&self) -> bool {
        self.weak
    }

    /// True when this key can sign (it holds the private key or the secret).
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    /// The public key as a JWK with `kid`, `alg` and `use`; `None` for HMAC and public-PEM keys.
    pub fn public_jwk(&self) -> Option<Value> {
        let mut jwk = self.public_jwk.clone()?;
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(alg_name(self.alg));
        jwk["use"] = json!("sig");
        Some(jwk)
    }

    pub(crate) fn encoding(&self) -> Option<&EncodingKey> {
        self.encoding.as_ref()
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    pub(crate) fn ed25519(&self) -> Option<&Ed25519Keys> {
        self.ed25519.as_ref()
    }

    pub(crate) fn hmac_secret(&self) -> Option<&[u8]> {
        self.hmac_secret.as_deref().map(Vec::as_slice)
    }

    /// A default kid for HMAC keys that does not reveal the secret: a short hash of it.
    fn with_default_kid(mut self, secret: &[u8]) -> Self {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest([b"warden-kid:".as_slice(), secret].concat());
        self.kid = b64(&digest[..9]);
        self
    }

    /// RFC 7638 thumbprint of the public JWK as the default kid.
    fn with_jwk_kid(mut self) -> Self {
        use sha2::Digest as _;
        if let Some(jwk) = &self.public_jwk {
            // RFC 7638 §3.2: required members only, in lexicographic order, no whitespace.
            let members: Vec<&str> = match jwk["kty"].as_str() {
                Some("RSA") => vec!["e", "kty", "n"],
                Some("EC") => vec!["crv", "kty", "x", "y"],
                _ => vec!["crv", "kty", "x"],
            };
            let canonical: Vec<String> = members
                .iter()
                .map(|m| format!("\"{m}\":{}", jwk[*m]))
                .collect();
            let digest = sha2::Sha256::digest(format!("{{{}}}", canonical.join(",")).as_bytes());
            self.kid = b64(&digest);
        }
        self
    }
}

/// The keys a service signs and verifies with: one signing key, any number of keys that still
/// verify (rotation without downtime: tokens signed by an old key verify until they expire).
///
/// ```
/// use warden::token::{Key, KeySet};
///
/// let (old, _) = Key::generate_ed25519().unwrap();
/// let mut keys = KeySet::new(old.clone());
/// let (new, _) = Key::generate_ed25519().unwrap();
/// keys.rotate(new.clone());
/// assert_eq!(keys.signing_key().kid(), new.kid());
/// assert!(keys.get(old.kid()).is_some());
/// assert_eq!(keys.jwks()["keys"].as_array().map(Vec::len), Some(2));
/// ```
#[derive(Clone, Debug)]
pub struct KeySet {
    keys: Vec<Key>,
    signing: usize,
}

impl KeySet {
    /// A set whose signing key is `signing`.
    pub fn new(signing: Key) -> Self {
        Self {
            keys: vec![signing],
            signing: 0,
        }
    }

    /// Adds a key that verifies but does not sign (an old key, or another issuer's).
    /// A key with the same kid is replaced.
    pub fn add_verification_key(&mut self, key: Key) {
        let signing_kid = self.signing_key().kid.clone();
        if key.kid == signing_kid {
            return;
        }
        self.keys.retain(|k| k.kid != key.kid);
        self.keys.push(key);
        self.reindex(&signing_kid);
    }

    /// Makes `key` the signing key; the previous one keeps verifying.
    pub fn rotate(&mut self, key: Key) {
        let kid = key.kid.clone();
        self.keys.retain(|k| k.kid != kid);
        self.keys.push(key);
        self.reindex(&kid);
    }

    /// Removes a verification key (never the signing key); its tokens stop verifying.
    pub fn remove(&mut self, kid: &str) -> bool {
        let signing_kid = self.signing_key().kid.clone();
        if kid == signing_kid {
            return false;
        }
        let before = self.keys.len();
        self.keys.retain(|k| k.kid != kid);
        self.reindex(&signing_kid);
        before != self.keys.len()
    }

    fn reindex(&mut self, signing_kid: &str) {
        self.signing = self
            .keys
            .iter()
            .position(|k| k.kid == signing_kid)
            .unwrap_or(0);
    }

    /// The key new tokens are signed with.
    pub fn signing_key(&self) -> &Key {
        &self.keys[self.signing]
    }

    /// The key with this kid.
    pub fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// Every key.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The public keys as a JWK Set (RFC 7517 §5). HMAC secrets are never in it.
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.keys.iter().filter_map(Key::public_jwk).collect();
        json!({ "keys": keys })
    }
}
