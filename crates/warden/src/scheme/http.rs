//! HTTP authentication schemes (FastAPI's `HTTPBasic`, `HTTPBearer`, `HTTPDigest`).
//!
//! Parsing follows FastAPI: the `Authorization` header splits at its first space, the scheme
//! word is case-insensitive (RFC 7235 §2.1). Basic credentials are base64 (RFC 7617 §2), then
//! ASCII, then split at the first `:`; anything else is missing credentials.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::request::Parts;
use serde_json::{Map, Value, json};

use super::{SchemeKind, SchemeOptions, authorization, scheme_options, scheme_param};
use crate::error::Challenge;
use crate::scopes::SecurityScopes;

/// What `HTTPBasic` extracts.
#[derive(Clone, PartialEq, Eq)]
pub struct HTTPBasicCredentials {
    /// The user id: everything before the first `:`.
    pub username: String,
    /// Everything after the first `:` (it may contain `:`).
    pub password: String,
}

impl std::fmt::Debug for HTTPBasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a password, even in a debug log.
        f.debug_struct("HTTPBasicCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What `HTTPBearer` and `HTTPDigest` extract: the scheme word as sent and the rest of the header.
#[derive(Clone, PartialEq, Eq)]
pub struct HTTPAuthorizationCredentials {
    /// The scheme word as the client wrote it (`Bearer`, `bearer`...).
    pub scheme: String,
    /// Everything after the first space.
    pub credentials: String,
}

impl std::fmt::Debug for HTTPAuthorizationCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HTTPAuthorizationCredentials")
            .field("scheme", &self.scheme)
            .field("credentials", &"<redacted>")
            .finish()
    }
}

fn http_object(options: &SchemeOptions, scheme: &str, bearer_format: Option<&str>) -> Value {
    let mut object = Map::new();
    object.insert("type".into(), json!("http"));
    object.insert("scheme".into(), json!(scheme));
    if let Some(format) = bearer_format {
        object.insert("bearerFormat".into(), json!(format));
    }
    options.describe(object)
}

/// `Authorization: <scheme> <credentials>` with the given scheme word and non-empty credentials.
fn authorization_for(parts: &Parts, expected: &str) -> Option<HTTPAuthorizationCredentials> {
    let (scheme, credentials) = scheme_param(authorization(parts)?);
    (scheme.eq_ignore_ascii_case(expected) && !credentials.is_empty()).then(|| {
        HTTPAuthorizationCredentials {
            scheme: scheme.to_owned(),
            credentials: credentials.to_owned(),
        }
    })
}

/// HTTP Basic authentication (RFC 7617).
///
/// ```
/// use warden::scheme::HTTPBasic;
///
/// warden::security_scheme! {
///     pub Basic: HTTPBasic = HTTPBasic::new().realm("admin area");
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct HTTPBasic {
    realm: Option<String>,
    options: SchemeOptions,
}

impl HTTPBasic {
    /// Basic authentication with no realm.
    pub fn new() -> Self {
        Self::default()
    }

    /// The realm sent in the challenge, `Basic realm="..."`; not part of the document, as in FastAPI.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }
}
scheme_options!(HTTPBasic);

impl SchemeKind for HTTPBasic {
    type Credentials = HTTPBasicCredentials;
    const CLASS: &'static str = "HTTPBasic";

    fn extract(&self, parts: &Parts) -> Option<HTTPBasicCredentials> {
        let encoded = authorization_for(parts, "basic")?.credentials;
        let decoded = STANDARD.decode(encoded.as_bytes()).ok()?;
        // FastAPI decodes as ASCII; anything else is unparsable credentials.
        if !decoded.is_ascii() {
            return None;
        }
        let decoded = String::from_utf8(decoded).ok()?;
        let (username, password) = decoded.split_once(':')?;
        Some(HTTPBasicCredentials {
            username: username.to_owned(),
            password: password.to_owned(),
        })
    }

    fn challenge(&self, _: &SecurityScopes) -> Challenge {
        match &self.realm {
            Some(realm) => Challenge::basic().param("realm", realm),
            None => Challenge::basic(),
        }
    }

    fn openapi(&self) -> Value {
        http_object(&self.options, "basic", None)
    }

    fn options(&self) -> &SchemeOptions {
        &self.options
    }
}

/// A bearer token in `Authorization` (RFC 6750 §2.1), with an optional `bearerFormat` hint.
#[derive(Clone, Debug, Default)]
pub struct HTTPBearer {
    bearer_format: Option<String>,
    options: SchemeOptions,
}

impl HTTPBearer {
    /// Bearer tokens of any format.
    pub fn new() -> Self {
        Self::default()
    }

    /// A hint for the documentation, such as `"JWT"`.
    pub fn bearer_format(mut self, format: impl Into<String>) -> Self {
        self.bearer_format = Some(format.into());
        self
    }
}
scheme_options!(HTTPBearer);

impl SchemeKind for HTTPBearer {
    type Credentials = HTTPAuthorizationCredentials;
    const CLASS: &'static str = "HTTPBearer";

    fn extract(&self, parts: &Parts) -> Option<HTTPAuthorizationCredentials> {
        authorization_for(parts, "bearer")
    }

    fn challenge(&self, _: &SecurityScopes) -> Challenge {
        Challenge::bearer()
    }

    fn openapi(&self) -> Value {
        http_object(&self.options, "bearer", self.bearer_format.as_deref())
    }

    fn options(&self) -> &SchemeOptions {
        &self.options
    }
}

/// HTTP Digest (RFC 7616): warden finds the header; checking the digest is the application's.
#[derive(Clone, Debug, Default)]
pub struct HTTPDigest {
    options: SchemeOptions,
}

impl HTTPDigest {
    /// Digest authentication.
    pub fn new() -> Self {
        Self::default()
    }
}
scheme_options!(HTTPDigest);

impl SchemeKind for HTTPDigest {
    type Credentials = HTTPAuthorizationCredentials;
    const CLASS: &'static str = "HTTPDigest";

    fn extract(&self, parts: &Parts) -> Option<HTTPAuthorizationCredentials> {
        authorization_for(parts, "digest")
    }

    fn challenge(&self, _: &SecurityScopes) -> Challenge {
        Challenge::digest()
    }

    fn openapi(&self) -> Value {
        http_object(&self.options, "digest", None)
    }

    fn options(&self) -> &SchemeOptions {
        &self.options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(value: &[u8]) -> Parts {
        let mut b = http::Request::builder();
        if let Ok(v) = http::HeaderValue::from_bytes(value) {
            b = b.header("authorization", v);
        }
        b.body(())
            .map(|r| r.into_parts().0)
            .unwrap_or_else(|_| http::Request::new(()).into_parts().0)
    }

    fn basic(value: &[u8]) -> Option<(String, String)> {
        HTTPBasic::new()
            .extract(&auth(value))
            .map(|c| (c.username, c.password))
    }

    #[test]
    fn basic_parses_like_fastapi() {
        let ok = |u: &str, p: &str| Some((u.to_owned(), p.to_owned()));
        assert_eq!(basic(b"Basic YWRtaW46c2VjcmV0"), ok("admin", "secret"));
        assert_eq!(basic(b"basic YWRtaW46c2VjcmV0"), ok("admin", "secret"));
        // The password keeps every `:` after the first.
        assert_eq!(basic(b"Basic YTpiOmM="), ok("a", "b:c"));
        // Swagger UI's empty client: an empty username and password.
        assert_eq!(basic(b"Basic Og=="), ok("", ""));
    }

    #[test]
    fn basic_rejects_hostile_input() {
        for value in [
            &b"Basic"[..],
            b"Basic ",
            b"Basic !!!!",
            b"Basic YWRtaW4",  // bad padding
            b"Basic YWRtaW4=", // no ':'
            b"Basic w6k6w6k=", // "é:é", not ASCII
            b"Basic\tYWRtaW46c2VjcmV0",
            b"Bearer YWRtaW46c2VjcmV0",
            b"YWRtaW46c2VjcmV0",
            b"\x80\x81",
        ] {
            assert_eq!(basic(value), None, "{:?}", String::from_utf8_lossy(value));
        }
    }

    #[test]
    fn realm_goes_to_the_challenge_not_the_document() {
        let s = HTTPBasic::new().realm("a \"b\"");
        assert_eq!(
            s.challenge(&SecurityScopes::default()).as_str(),
            r#"Basic realm="a \"b\"""#
        );
        assert_eq!(s.openapi(), json!({"type":"http","scheme":"basic"}));
    }

    #[test]
    fn bearer_and_digest() {
        let c = HTTPBearer::new()
            .extract(&auth(b"bearer tok"))
            .map(|c| (c.scheme, c.credentials));
        assert_eq!(c, Some(("bearer".into(), "tok".into())));
        assert!(HTTPBearer::new().extract(&auth(b"Bearer ")).is_none());
        assert!(
            HTTPDigest::new()
                .extract(&auth(b"Digest username=\"a\""))
                .is_some()
        );
        assert_eq!(
            HTTPBearer::new().bearer_format("JWT").openapi(),
            json!({"type":"http","scheme":"bearer","bearerFormat":"JWT"})
        );
    }
}
