//! One error type for every security answer: status, `{"detail"}` body and challenge, in one place.
//!
//! The bodies and status codes follow FastAPI >= 0.122: missing or unparsable credentials are
//! `401 {"detail":"Not authenticated"}` with the scheme's `WWW-Authenticate` challenge
//! (RFC 7235 §3.1 requires a challenge on every 401), a refused permission is a 403.

use std::borrow::Cow;
use std::fmt;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, StatusCode};
use serde_json::json;

/// A `WWW-Authenticate` challenge (RFC 7235 §2.1): an auth-scheme and optional parameters.
///
/// ```
/// use warden::Challenge;
///
/// let c = Challenge::bearer().param("scope", "items:read items:write");
/// assert_eq!(c.as_str(), r#"Bearer scope="items:read items:write""#);
/// assert_eq!(Challenge::basic().as_str(), "Basic");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    value: String,
    has_params: bool,
}

impl Challenge {
    /// A challenge for any auth-scheme word, such as `"APIKey"`.
    pub fn new(scheme: &str) -> Self {
        Self {
            value: scheme.chars().filter(|c| c.is_ascii_graphic()).collect(),
            has_params: false,
        }
    }

    /// `Bearer` (RFC 6750 §3).
    pub fn bearer() -> Self {
        Self::new("Bearer")
    }

    /// `Basic` (RFC 7617 §2).
    pub fn basic() -> Self {
        Self::new("Basic")
    }

    /// `Digest` (RFC 7616 §3.3).
    pub fn digest() -> Self {
        Self::new("Digest")
    }

    /// `APIKey`, FastAPI's challenge for API keys (no RFC defines one).
    pub fn api_key() -> Self {
        Self::new("APIKey")
    }

    /// Adds an `auth-param` whose value is sent as a quoted-string (RFC 7230 §3.2.6):
    /// `"` and `\` are escaped and control characters dropped, so the header is always valid.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.value
            .push_str(if self.has_params { ", " } else { " " });
        self.has_params = true;
        self.value.extend(
            name.chars()
                .filter(|c| c.is_ascii_alphanumeric() || "-_".contains(*c)),
        );
        self.value.push_str("=\"");
        for c in value.chars().filter(|c| !c.is_control()) {
            if c == '"' || c == '\\' {
                self.value.push('\\');
            }
            self.value.push(c);
        }
        self.value.push('"');
        self
    }

    /// The header value.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    fn header_value(&self) -> Option<HeaderValue> {
        HeaderValue::from_bytes(self.value.as_bytes()).ok()
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// The answer to a request that failed authentication or authorization.
///
/// Extractors return it, and applications raise it from their authenticators, as FastAPI code
/// raises `HTTPException`:
///
/// ```
/// use warden::{AuthError, Challenge};
/// use http::StatusCode;
///
/// let e = AuthError::unauthorized("Could not validate credentials", Challenge::bearer());
/// assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(AuthError::forbidden("Not enough permissions").status(), StatusCode::FORBIDDEN);
/// assert_eq!(AuthError::bad_request("Inactive user").detail(), "Inactive user");
/// ```
#[derive(Clone, Debug)]
pub struct AuthError {
    status: StatusCode,
    detail: Cow<'static, str>,
    challenge: Option<Challenge>,
    missing: bool,
}

impl AuthError {
    /// `401 {"detail":"Not authenticated"}` with `challenge`: no credentials, or none that parse.
    ///
    /// This is the only error that `Option<...>` security turns into `None`.
    pub fn not_authenticated(challenge: Challenge) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            detail: Cow::Borrowed("Not authenticated"),
            challenge: Some(challenge),
            missing: true,
        }
    }

    /// A 401 with a detail of your own: credentials were sent but are not valid.
    pub fn unauthorized(detail: impl Into<Cow<'static, str>>, challenge: Challenge) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            detail: detail.into(),
            challenge: Some(challenge),
            missing: false,
        }
    }

    /// A 403: the caller is known but not allowed (FastAPI's "Not enough permissions").
    pub fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    /// A 400, such as FastAPI's `"Inactive user"`.
    pub fn bad_request(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// Any status with a `{"detail"}` body.
    pub fn new(status: StatusCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            detail: detail.into(),
            challenge: None,
            missing: false,
        }
    }

    /// Sets (or replaces) the `WWW-Authenticate` challenge.
    pub fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `detail` of the body.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The `WWW-Authenticate` challenge, if any.
    pub fn challenge(&self) -> Option<&Challenge> {
        self.challenge.as_ref()
    }

    /// True when no credentials were found: what FastAPI's `auto_error=False` turns into `None`.
    pub fn is_missing_credentials(&self) -> bool {
        self.missing
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.detail)
    }
}

impl std::error::Error for AuthError {}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "detail": self.detail }))).into_response();
        if let Some(value) = self.challenge.as_ref().and_then(Challenge::header_value) {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// A 422 answer with FastAPI's (pydantic's) body: `{"detail": [{"type", "loc", "msg", "input"}]}`.
///
/// ```
/// use warden::ValidationError;
///
/// let e = ValidationError::missing("body", "username");
/// assert_eq!(
///     e.body().to_string(),
///     r#"{"detail":[{"input":null,"loc":["body","username"],"msg":"Field required","type":"missing"}]}"#,
/// );
/// ```
#[derive(Clone, Debug, Default)]
pub struct ValidationError {
    errors: Vec<serde_json::Value>,
}

impl ValidationError {
    /// One `missing` error for the field `name` in `location` (`"body"`, `"query"`, ...).
    pub fn missing(location: &str, name: &str) -> Self {
        let mut e = Self::default();
        e.push_missing(location, name);
        e
    }

    /// Adds a `missing` error.
    pub fn push_missing(&mut self, location: &str, name: &str) {
        self.errors.push(json!({
            "type": "missing",
            "loc": [location, name],
            "msg": "Field required",
            "input": null,
        }));
    }

    /// Adds a `string_pattern_mismatch` error, as pydantic reports a failed `pattern`.
    pub fn push_pattern_mismatch(
        &mut self,
        location: &str,
        name: &str,
        pattern: &str,
        input: &str,
    ) {
        self.errors.push(json!({
            "type": "string_pattern_mismatch",
            "loc": [location, name],
            "msg": format!("String should match pattern '{pattern}'"),
            "input": input,
            "ctx": { "pattern": pattern },
        }));
    }

    /// Adds a `string_too_long` error. The input is not echoed: it may be a secret.
    pub fn push_too_long(&mut self, location: &str, name: &str, max_bytes: usize) {
        self.errors.push(json!({
            "type": "string_too_long",
            "loc": [location, name],
            "msg": format!("String should have at most {max_bytes} bytes"),
            "input": null,
            "ctx": { "max_length": max_bytes },
        }));
    }

    /// True when no error was added.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        json!({ "detail": self.errors })
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "422 {}", self.body())
    }
}

impl std::error::Error for ValidationError {}

impl IntoResponse for ValidationError {
    fn into_response(self) -> Response {
        (StatusCode::UNPROCESSABLE_ENTITY, Json(self.body())).into_response()
    }
}

// Handlers return `Result<_, AuthError>`; the answers it stands for are documented by the
// security extractors (401/403) and the form (422), so the error adds nothing of its own.
impl aide::OperationOutput for AuthError {
    type Inner = Self;
}

impl aide::OperationOutput for ValidationError {
    type Inner = Self;
}
