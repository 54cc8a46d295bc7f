//! FastAPI's security schemes, one module per family.
//!
//! A scheme is declared once, with [`security_scheme!`](crate::security_scheme), from one of the
//! classes below configured as in FastAPI. The declared type is then used in handler signatures
//! through [`Credentials`](crate::Credentials) or an [`Authenticator`](crate::Authenticator): the
//! same type enforces the scheme and documents it.

mod api_key;
mod http;
mod oauth2;
mod open_id_connect;

pub use self::api_key::{APIKeyCookie, APIKeyHeader, APIKeyQuery};
pub use self::http::{
    HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer, HTTPDigest,
};
pub use self::oauth2::{OAuth2, OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer, OAuthFlow};
pub use self::open_id_connect::OpenIdConnect;

use ::http::request::Parts;
use serde_json::{Map, Value};

use crate::error::Challenge;
use crate::scopes::SecurityScopes;

/// A security scheme declared by the application: a marker type bound to one configured
/// [`SchemeKind`]. Write it with [`security_scheme!`](crate::security_scheme).
pub trait SecurityScheme: Send + Sync + 'static {
    /// The FastAPI class this scheme is an instance of.
    type Kind: SchemeKind;

    /// The configured scheme, built once.
    fn scheme() -> &'static Self::Kind;
}

/// What every FastAPI security class does: find its credential in a request, name the
/// challenge for a 401, and describe itself for `components.securitySchemes`.
pub trait SchemeKind: Send + Sync + 'static {
    /// What the scheme extracts: the API key, the token, the Basic credentials...
    type Credentials: Send + Sync + 'static;

    /// FastAPI's class name, the scheme's name in the document unless `scheme_name` is set.
    const CLASS: &'static str;

    /// The credential in the request, or `None` when it is missing or does not parse.
    fn extract(&self, parts: &Parts) -> Option<Self::Credentials>;

    /// The `WWW-Authenticate` challenge of a 401 for this scheme, given the route's scopes.
    fn challenge(&self, scopes: &SecurityScopes) -> Challenge;

    /// The Security Scheme Object, exactly as FastAPI writes it for this class.
    fn openapi(&self) -> Value;

    /// `scheme_name` and `description`.
    fn options(&self) -> &SchemeOptions;

    /// Whether requirements on this scheme list scopes (OAuth2 and OpenID Connect, as in
    /// FastAPI; other schemes are documented with an empty list).
    fn uses_scopes(&self) -> bool {
        false
    }

    /// The scheme's name in `components.securitySchemes`.
    fn name(&self) -> &str {
        self.options().scheme_name.as_deref().unwrap_or(Self::CLASS)
    }
}

/// The settings every scheme has: FastAPI's `scheme_name` and `description`.
#[derive(Clone, Debug, Default)]
pub struct SchemeOptions {
    pub(crate) scheme_name: Option<String>,
    pub(crate) description: Option<String>,
}

impl SchemeOptions {
    /// Adds `description` to a scheme object, as FastAPI does when one is set.
    pub(crate) fn describe(&self, mut object: Map<String, Value>) -> Value {
        if let Some(description) = &self.description {
            object.insert("description".into(), Value::String(description.clone()));
        }
        Value::Object(object)
    }
}

/// Writes the `scheme_name` and `description` builder methods of a scheme class.
macro_rules! scheme_options {
    ($ty:ty) => {
        impl $ty {
            /// The scheme's name in the document (FastAPI's `scheme_name`); the class name by default.
            pub fn scheme_name(mut self, name: impl Into<String>) -> Self {
                self.options.scheme_name = Some(name.into());
                self
            }

            /// A description shown in the document and in Swagger UI's Authorize dialog.
            pub fn description(mut self, description: impl Into<String>) -> Self {
                self.options.description = Some(description.into());
                self
            }
        }
    };
}
pub(crate) use scheme_options;

/// The first `Authorization` header, trimmed, if it is visible ASCII and not empty.
pub(crate) fn authorization(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    (!value.is_empty()).then_some(value)
}

/// FastAPI's `get_authorization_scheme_param`: the header splits at its first space.
pub(crate) fn scheme_param(value: &str) -> (&str, &str) {
    value.split_once(' ').unwrap_or((value, ""))
}

/// The token of `Authorization: Bearer <token>`; the scheme word is case-insensitive
/// (RFC 7235 §2.1) and an empty token is no token.
pub(crate) fn bearer_token(parts: &Parts) -> Option<String> {
    let (scheme, token) = scheme_param(authorization(parts)?);
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// Declares security schemes: a marker type per scheme, configured once like FastAPI's
/// module-level `oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")`.
///
/// ```
/// use warden::scheme::{APIKeyHeader, OAuth2PasswordBearer};
///
/// warden::security_scheme! {
///     /// Tokens from `POST /token`.
///     pub OAuth2Scheme: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token")
///         .scope("items:read", "Read items.");
///     /// Keys of other systems.
///     pub SystemKey: APIKeyHeader = APIKeyHeader::new("X-System-API-Key");
/// }
///
/// use warden::scheme::{SchemeKind, SecurityScheme};
/// assert_eq!(OAuth2Scheme::scheme().name(), "OAuth2PasswordBearer");
/// ```
#[macro_export]
macro_rules! security_scheme {
    ($( $(#[$meta:meta])* $vis:vis $name:ident : $kind:ty = $init:expr; )+) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default)]
        $vis struct $name;

        impl $crate::scheme::SecurityScheme for $name {
            type Kind = $kind;

            fn scheme() -> &'static $kind {
                static SCHEME: ::std::sync::LazyLock<$kind> = ::std::sync::LazyLock::new(|| $init);
                &SCHEME
            }
        }
    )+};
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(name: &str, value: &[u8]) -> Parts {
        let mut builder = ::http::Request::builder();
        if let Ok(v) = ::http::HeaderValue::from_bytes(value) {
            builder = builder.header(name, v);
        }
        builder
            .body(())
            .map(|r| r.into_parts().0)
            .unwrap_or_else(|_| ::http::Request::new(()).into_parts().0)
    }

    #[test]
    fn bearer_parsing_matches_fastapi_and_rejects_garbage() {
        let cases: &[(&[u8], Option<&str>)] = &[
            (b"Bearer abc", Some("abc")),
            (b"bearer abc", Some("abc")),
            (b"BEARER abc", Some("abc")),
            (b"Bearer  abc", Some(" abc")), // the first space splits, as in FastAPI
            (b"Bearer", None),
            (b"Bearer ", None),
            (b"Bearer\tabc", None),
            (b"Basic abc", None),
            (b"Bearerabc", None),
            (b"", None),
            (b"\xff\xfe", None),
            ("Bearer tökén".as_bytes(), None),
        ];
        for (value, expected) in cases {
            let p = parts("authorization", value);
            assert_eq!(
                bearer_token(&p).as_deref(),
                *expected,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn a_64_kb_header_is_just_an_invalid_token() {
        let mut value = b"Bearer ".to_vec();
        value.extend(std::iter::repeat_n(b'a', 64 * 1024));
        let p = parts("authorization", &value);
        assert_eq!(bearer_token(&p).map(|t| t.len()), Some(64 * 1024));
        let mut value = b"Basic ".to_vec();
        value.extend(std::iter::repeat_n(b'%', 64 * 1024));
        let p = parts("authorization", &value);
        assert!(HTTPBasic::new().extract(&p).is_none());
    }
}
