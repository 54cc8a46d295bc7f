//! JSON Web Tokens (RFC 7519): issue and verify, strict by default (RFC 8725).
//!
//! - The algorithm is pinned by the key ([`Key`]), never taken from the token (RFC 8725 §3.1);
//!   `alg: none` never verifies, and an HMAC secret never verifies an RSA/EC/EdDSA token.
//! - `jwk`, `jku`, `x5u` and `x5c` headers are never used to find a key: only the key set's own
//!   keys verify (RFC 8725 §3.10).
//! - A `crit` header is rejected: warden implements no JWS extension (RFC 7515 §4.1.11).
//! - `exp` is required. A token is expired once the current second reaches `exp`
//!   (RFC 7519 §4.1.4: "on or after"), plus the leeway; `nbf` and a future `iat` are checked too.
//! - `iss` and `aud` are checked when the [`Jwt`] names them; a token with an `aud` is refused by
//!   a verifier that names none (RFC 7519 §4.1.3).
//!
//! ```
//! use std::time::Duration;
//! use warden::token::{Algorithm, Claims, Jwt, Key, KeySet};
//!
//! let key = Key::hmac(Algorithm::HS256, b"a secret of at least thirty-two bytes!").unwrap();
//! let jwt = Jwt::new(KeySet::new(key)).leeway(0);
//! let token = jwt.encode(&Claims::new("johndoe", Duration::from_secs(1800)).with_scopes(["items:read"])).unwrap();
//! let claims: Claims = jwt.decode(&token).unwrap();
//! assert_eq!(claims.sub, "johndoe");
//! assert_eq!(claims.scopes, ["items:read"]);
//! ```

mod key;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::{Header, Validation};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use self::key::{Key, KeyError, KeySet};
use crate::error::{AuthError, Challenge};

/// Tokens longer than this are refused before any parsing (no unbounded work per request).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token did not verify. Every kind answers the same 401 to the client (its detail is
/// for logs, never for the attacker).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// Not three base64url segments of JSON, too long, or a claim of the wrong type.
    Malformed,
    /// The header names an algorithm other than the key's, or `none`.
    AlgorithmMismatch,
    /// No key of the set has the header's `kid`, or can verify the header's `alg`.
    UnknownKey,
    /// A `crit` header (RFC 7515 §4.1.11).
    CriticalHeader,
    /// The signature does not verify.
    BadSignature,
    /// A required claim is missing (`exp`, `sub`).
    MissingClaim(&'static str),
    /// `exp` has passed.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iat` is in the future.
    IssuedInTheFuture,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `aud` does not name this verifier.
    WrongAudience,
    /// Signing failed (no signing key, or a claim that does not serialize).
    Signing(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("malformed token"),
            Self::AlgorithmMismatch => f.write_str("algorithm does not match the key"),
            Self::UnknownKey => f.write_str("no key for this token"),
            Self::CriticalHeader => f.write_str("token has a crit header"),
            Self::BadSignature => f.write_str("bad signature"),
            Self::MissingClaim(claim) => write!(f, "missing claim {claim}"),
            Self::Expired => f.write_str("token expired"),
            Self::NotYetValid => f.write_str("token not yet valid"),
            Self::IssuedInTheFuture => f.write_str("token issued in the future"),
            Self::WrongIssuer => f.write_str("wrong issuer"),
            Self::WrongAudience => f.write_str("wrong audience"),
            Self::Signing(why) => write!(f, "cannot sign: {why}"),
        }
    }
}

impl std::error::Error for TokenError {}

impl From<TokenError> for AuthError {
    /// FastAPI's tutorial answer: `401 {"detail":"Could not validate credentials"}` with
    /// `WWW-Authenticate: Bearer`.
    fn from(_: TokenError) -> Self {
        AuthError::unauthorized("Could not validate credentials", Challenge::bearer())
    }
}

/// How granted scopes are written in a token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScopeClaim {
    /// `"scopes": ["a", "b"]`, as FastAPI's tutorial writes them.
    #[default]
    List,
    /// `"scope": "a b"`, as RFC 9068 §2.2.3 (JWT access tokens) writes them.
    SpaceSeparated,
}

/// No claims besides the registered ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoClaims {}

/// A token's claims: the registered ones, the granted scopes, and your own (`extra`, any
/// struct that serializes to a JSON object).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Claims<E = NoClaims> {
    /// Subject: whom the token is about.
    pub sub: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at.
    pub iat: Option<i64>,
    /// Not before.
    pub nbf: Option<i64>,
    /// Token id.
    pub jti: Option<String>,
    /// Issuer (the [`Jwt`]'s issuer is written when this is `None`).
    pub iss: Option<String>,
    /// Audiences.
    pub aud: Vec<String>,
    /// Granted scopes, each once.
    pub scopes: Vec<String>,
    /// Your own claims.
    pub extra: E,
}

/// Seconds since the epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Claims<NoClaims> {
    /// Claims for `sub`, issued now, expiring after `lifetime`.
    pub fn new(sub: impl Into<String>, lifetime: Duration) -> Self {
        Self::with_extra(sub, lifetime, NoClaims {})
    }
}

impl<E> Claims<E> {
    /// Claims for `sub` with your own claims.
    pub fn with_extra(sub: impl Into<String>, lifetime: Duration, extra: E) -> Self {
        let iat = now();
        Self {
            sub: sub.into(),
            exp: iat.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX)),
            iat: Some(iat),
            nbf: None,
            jti: None,
            iss: None,
            aud: Vec::new(),
            scopes: Vec::new(),
            extra,
        }
    }

    /// Sets the granted scopes (each kept once, in order).
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.clear();
        for scope in scopes {
            let scope = scope.into();
            if !self.scopes.contains(&scope) {
                self.scopes.push(scope);
            }
        }
        self
    }

    /// Sets the token id.
    pub fn with_jti(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }

    /// True when every scope of `required` was granted.
    pub fn has_scopes<'a>(&self, required: impl IntoIterator<Item = &'a str>) -> bool {
        required
            .into_iter()
            .all(|r| self.scopes.iter().any(|s| s == r))
    }
}

/// The header fields warden looks at before choosing a key.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<IgnoredAny>,
}

/// The claims as they are on the wire.
#[derive(Deserialize)]
struct Wire<E> {
    sub: Option<String>,
    exp: Option<f64>,
    iat: Option<f64>,
    nbf: Option<f64>,
    jti: Option<String>,
    iss: Option<String>,
    #[serde(default)]
    aud: Audience,
    scopes: Option<Vec<String>>,
    scope: Option<String>,
    #[serde(flatten)]
    extra: E,
}

#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

/// Issues and verifies JWTs with a [`KeySet`].
#[derive(Clone, Debug)]
pub struct Jwt {
    keys: KeySet,
    leeway: u64,
    issuer: Option<String>,
    audience: Option<String>,
    scope_claim: ScopeClaim,
}

impl Jwt {
    /// Strict verification with a 30 s leeway for clock skew, scopes as a `scopes` list.
    pub fn new(keys: KeySet) -> Self {
        Self {
            keys,
            leeway: 30,
            issuer: None,
            audience: None,
            scope_claim: ScopeClaim::List,
        }
    }

    /// Seconds of clock skew tolerated on `exp`, `nbf` and `iat` (0 is allowed).
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Written in issued tokens and required in verified ones.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Required in verified tokens' `aud`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// How scopes are written (and read first).
    pub fn scope_claim(mut self, claim: ScopeClaim) -> Self {
        self.scope_claim = claim;
        self
    }

    /// The key set.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The key set, to rotate keys.
    pub fn keys_mut(&mut self) -> &mut KeySet {
        &mut self.keys
    }

    /// Signs `claims` with the signing key, writing its `kid` in the header.
    pub fn encode<E: Serialize>(&self, claims: &Claims<E>) -> Result<String, TokenError> {
        let key = self.keys.signing_key();
        let encoding = key
            .encoding()
            .ok_or_else(|| TokenError::Signing("no private key".into()))?;
        let mut header = Header::new(key.algorithm());
        header.kid = Some(key.kid().to_owned());

        let mut payload = match serde_json::to_value(&claims.extra) {
            Ok(Value::Object(map)) => map,
            Ok(Value::Null) => Map::new(),
            Ok(_) => {
                return Err(TokenError::Signing(
                    "extra claims must be a JSON object".into(),
                ));
            }
            Err(e) => return Err(TokenError::Signing(e.to_string())),
        };
        payload.insert("sub".into(), json!(claims.sub));
        payload.insert("exp".into(), json!(claims.exp));
        let optional = [
            ("iat", claims.iat.map(Value::from)),
            ("nbf", claims.nbf.map(Value::from)),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                payload.insert(name.into(), value);
            }
        }
        if let Some(jti) = &claims.jti {
            payload.insert("jti".into(), json!(jti));
        }
        if let Some(iss) = claims.iss.as_ref().or(self.issuer.as_ref()) {
            payload.insert("iss".into(), json!(iss));
        }
        match claims.aud.as_slice() {
            [] => {}
            [one] => {
                payload.insert("aud".into(), json!(one));
            }
            many => {
                payload.insert("aud".into(), json!(many));
            }
        }
        let mut scopes: Vec<&str> = Vec::with_capacity(claims.scopes.len());
        for scope in &claims.scopes {
            if !scopes.contains(&scope.as_str()) {
                scopes.push(scope);
            }
        }
        // No scope granted: no scope claim at all (the token then carries only what it needs).
        if !scopes.is_empty() {
            match self.scope_claim {
                ScopeClaim::List => payload.insert("scopes".into(), json!(scopes)),
                ScopeClaim::SpaceSeparated => {
                    payload.insert("scope".into(), json!(scopes.join(" ")))
                }
            };
        }
        if let Some(ed25519) = key.ed25519() {
            // RFC 7515 §7.1 compact serialization, signed with the key parsed once.
            use ed25519_dalek::Signer as _;
            let signing = |e: serde_json::Error| TokenError::Signing(e.to_string());
            let header = serde_json::to_vec(&header).map_err(signing)?;
            let payload = serde_json::to_vec(&payload).map_err(signing)?;
            let message = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload)
            );
            let signature = ed25519.signing.sign(message.as_bytes());
            return Ok(format!(
                "{message}.{}",
                URL_SAFE_NO_PAD.encode(signature.to_bytes())
            ));
        }
        jsonwebtoken::encode(&header, &payload, encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// Verifies a token and returns its claims.
    pub fn decode<E: DeserializeOwned>(&self, token: &str) -> Result<Claims<E>, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
        let header_b64 = token.split('.').next().ok_or(TokenError::Malformed)?;
        let header_json = URL_SAFE_NO_PAD
            .decode(header_b64)
            .map_err(|_| TokenError::Malformed)?;
        let header: RawHeader =
            serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
        if header.crit.is_some() {
            return Err(TokenError::CriticalHeader);
        }
        let key = match &header.kid {
            Some(kid) => self.keys.get(kid).ok_or(TokenError::UnknownKey)?,
            // No kid: only a key of the header's algorithm may verify it (and there must be one).
            None => self
                .keys
                .keys()
                .iter()
                .find(|k| algorithm_name_matches(k.algorithm(), &header.alg))
                .ok_or(TokenError::UnknownKey)?,
        };
        if !algorithm_name_matches(key.algorithm(), &header.alg) {
            return Err(TokenError::AlgorithmMismatch);
        }

        // EdDSA and HMAC keys verify here, with the key parsed once; RSA and ECDSA through
        // jsonwebtoken. Either way the claims are checked by `check`.
        if let Some(ed25519) = key.ed25519() {
            return self.check(verify_ed25519(token, &ed25519.verifying)?);
        }
        if let Some(secret) = key.hmac_secret() {
            return self.check(verify_hmac(token, key.algorithm(), secret)?);
        }
        let mut validation = Validation::new(key.algorithm());
        // Time, issuer and audience checks are ours (below): jsonwebtoken accepts exp == now.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Wire<E>>(token, key.decoding(), &validation).map_err(
            |e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::BadSignature,
                jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => TokenError::AlgorithmMismatch,
                _ => TokenError::Malformed,
            },
        )?;
        self.check(data.claims)
    }

    fn check<E>(&self, wire: Wire<E>) -> Result<Claims<E>, TokenError> {
        let now = now() as f64;
        let leeway = self.leeway as f64;
        let exp = wire.exp.ok_or(TokenError::MissingClaim("exp"))?;
        // RFC 7519 §4.1.4: the token MUST NOT be accepted on or after `exp`.
        if now >= exp + leeway {
            return Err(TokenError::Expired);
        }
        if wire.nbf.is_some_and(|nbf| now + leeway < nbf) {
            return Err(TokenError::NotYetValid);
        }
        if wire.iat.is_some_and(|iat| iat > now + leeway) {
            return Err(TokenError::IssuedInTheFuture);
        }
        if let Some(expected) = &self.issuer {
            if wire.iss.as_ref() != Some(expected) {
                return Err(TokenError::WrongIssuer);
            }
        }
        let aud = match wire.aud {
            Audience::None => Vec::new(),
            Audience::One(one) => vec![one],
            Audience::Many(many) => many,
        };
        match &self.audience {
            Some(expected) if !aud.contains(expected) => return Err(TokenError::WrongAudience),
            None if !aud.is_empty() => return Err(TokenError::WrongAudience),
            _ => {}
        }
        let sub = wire.sub.ok_or(TokenError::MissingClaim("sub"))?;
        let from_string = |s: String| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        let scopes = match self.scope_claim {
            ScopeClaim::List => wire.scopes.or_else(|| wire.scope.map(from_string)),
            ScopeClaim::SpaceSeparated => wire.scope.map(from_string).or(wire.scopes),
        }
        .unwrap_or_default();
        Ok(Claims {
            sub,
            exp: exp as i64,
            iat: wire.iat.map(|v| v as i64),
            nbf: wire.nbf.map(|v| v as i64),
            jti: wire.jti,
            iss: wire.iss,
            aud,
            scopes,
            extra: wire.extra,
        })
    }

    /// The public keys as a JWK Set (RFC 7517), for `/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        self.keys.jwks()
    }
}

/// The signed part and the signature of a compact JWS, and its payload (RFC 7515 §7.1).
fn split_jws(token: &str) -> Result<(&str, &str, Vec<u8>), TokenError> {
    let (message, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (_, payload) = message.split_once('.').ok_or(TokenError::Malformed)?;
    if payload.contains('.') {
        return Err(TokenError::Malformed);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    Ok((message, payload, signature))
}

fn claims_of<E: DeserializeOwned>(payload: &str) -> Result<Wire<E>, TokenError> {
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)
}

/// Verifies an HS256/384/512 token (RFC 7518 §3.2), comparing the MAC in constant time.
fn verify_hmac<E: DeserializeOwned>(
    token: &str,
    alg: Algorithm,
    secret: &[u8],
) -> Result<Wire<E>, TokenError> {
    use hmac::Mac as _;
    let (message, payload, signature) = split_jws(token)?;
    let verified = match alg {
        Algorithm::HS256 => hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).map(|mut m| {
            m.update(message.as_bytes());
            m.verify_slice(&signature).is_ok()
        }),
        Algorithm::HS384 => hmac::Hmac::<sha2::Sha384>::new_from_slice(secret).map(|mut m| {
            m.update(message.as_bytes());
            m.verify_slice(&signature).is_ok()
        }),
        Algorithm::HS512 => hmac::Hmac::<sha2::Sha512>::new_from_slice(secret).map(|mut m| {
            m.update(message.as_bytes());
            m.verify_slice(&signature).is_ok()
        }),
        _ => return Err(TokenError::AlgorithmMismatch),
    };
    if !verified.unwrap_or(false) {
        return Err(TokenError::BadSignature);
    }
    claims_of(payload)
}

/// Verifies an EdDSA token's signature with an already parsed key (RFC 8037), strictly (no
/// small-order keys, canonical signatures only), then reads its claims.
fn verify_ed25519<E: DeserializeOwned>(
    token: &str,
    key: &ed25519_dalek::VerifyingKey,
) -> Result<Wire<E>, TokenError> {
    let (message, payload, signature) = split_jws(token)?;
    let signature =
        ed25519_dalek::Signature::from_slice(&signature).map_err(|_| TokenError::BadSignature)?;
    key.verify_strict(message.as_bytes(), &signature)
        .map_err(|_| TokenError::BadSignature)?;
    claims_of(payload)
}

fn algorithm_name_matches(alg: Algorithm, name: &str) -> bool {
    key::alg_name(alg) == name
}

#[cfg(test)]
mod tests;
