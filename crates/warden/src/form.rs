//! FastAPI's `OAuth2PasswordRequestForm` and `OAuth2PasswordRequestFormStrict`: the
//! form-encoded body of an RFC 6749 §4.3.2 access token request.

use std::fmt;
use std::ops::Deref;

use aide::generate::GenContext;
use aide::openapi::{Operation, Response};
use aide::operation::OperationInput;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response as HttpResponse};
use http::header::CONTENT_TYPE;

use crate::error::ValidationError;
use crate::password::MAX_PASSWORD_BYTES;

const GRANT_TYPE_PATTERN: &str = "^password$";

/// The OAuth2 password grant form: `username`, `password`, optional `grant_type` (which must be
/// `password` when sent), `scope` split on whitespace into [`scopes`](Self::scopes), and the
/// optional `client_id` / `client_secret`.
///
/// A missing or empty required field, a body that is not `application/x-www-form-urlencoded`, or
/// a `grant_type` other than `password` is a 422 with FastAPI's body; so is a password or client
/// secret over [`MAX_PASSWORD_BYTES`](crate::password::MAX_PASSWORD_BYTES), refused before any
/// hashing. A body past axum's body
/// limit is a 413. The OpenAPI document gets the form as a required request body, with
/// `format: password` on the secrets.
///
/// ```
/// use aide::axum::{ApiRouter, routing::post};
/// use warden::OAuth2PasswordRequestForm;
///
/// async fn login(form: OAuth2PasswordRequestForm) -> String {
///     format!("{} asks for {:?}", form.username, form.scopes)
/// }
///
/// let app: ApiRouter = ApiRouter::new().api_route("/token", post(login));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OAuth2PasswordRequestForm {
    /// `password` when the client sent it (RFC 6749 requires it; FastAPI's form does not).
    pub grant_type: Option<String>,
    /// The resource owner's username.
    pub username: String,
    /// The resource owner's password.
    pub password: String,
    /// The requested scopes (`scope`, split on whitespace).
    pub scopes: Vec<String>,
    /// The client id, when sent in the form.
    pub client_id: Option<String>,
    /// The client secret, when sent in the form.
    pub client_secret: Option<String>,
}

impl fmt::Debug for OAuth2PasswordRequestForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2PasswordRequestForm")
            .field("grant_type", &self.grant_type)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// The same form with `grant_type=password` required (RFC 6749 §4.3.2), FastAPI's
/// `OAuth2PasswordRequestFormStrict`. It dereferences to [`OAuth2PasswordRequestForm`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OAuth2PasswordRequestFormStrict(pub OAuth2PasswordRequestForm);

impl Deref for OAuth2PasswordRequestFormStrict {
    type Target = OAuth2PasswordRequestForm;

    fn deref(&self) -> &OAuth2PasswordRequestForm {
        &self.0
    }
}

/// The fields of the form, in FastAPI's order; the last value of a repeated field wins and an
/// empty value is no value, as in FastAPI's form handling.
#[derive(Default)]
struct Fields {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl Fields {
    fn parse(body: &[u8]) -> Self {
        let mut fields = Self::default();
        for (name, value) in form_urlencoded::parse(body) {
            let slot = match &*name {
                "grant_type" => &mut fields.grant_type,
                "username" => &mut fields.username,
                "password" => &mut fields.password,
                "scope" => &mut fields.scope,
                "client_id" => &mut fields.client_id,
                "client_secret" => &mut fields.client_secret,
                _ => continue,
            };
            *slot = (!value.is_empty()).then(|| value.into_owned());
        }
        fields
    }

    fn validate(self, strict: bool) -> Result<OAuth2PasswordRequestForm, ValidationError> {
        let mut errors = ValidationError::default();
        match &self.grant_type {
            Some(g) if g != "password" => {
                errors.push_pattern_mismatch("body", "grant_type", GRANT_TYPE_PATTERN, g)
            }
            None if strict => errors.push_missing("body", "grant_type"),
            _ => {}
        }
        if self.username.is_none() {
            errors.push_missing("body", "username");
        }
        if self.password.is_none() {
            errors.push_missing("body", "password");
        }
        // No unbounded hashing work for a huge password (see `password::MAX_PASSWORD_BYTES`).
        for (name, value) in [
            ("password", &self.password),
            ("client_secret", &self.client_secret),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > MAX_PASSWORD_BYTES) {
                errors.push_too_long("body", name, MAX_PASSWORD_BYTES);
            }
        }
        match (self.username, self.password) {
            (Some(username), Some(password)) if errors.is_empty() => {
                Ok(OAuth2PasswordRequestForm {
                    grant_type: self.grant_type,
                    username,
                    password,
                    scopes: self
                        .scope
                        .unwrap_or_default()
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                    client_id: self.client_id,
                    client_secret: self.client_secret,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Whether the request says its body is `application/x-www-form-urlencoded` (parameters such as
/// `charset` aside, any letter case), as FastAPI's `Form` requires.
pub fn is_form_urlencoded(headers: &http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn read_form<S: Send + Sync>(
    req: Request,
    state: &S,
    strict: bool,
) -> Result<OAuth2PasswordRequestForm, HttpResponse> {
    let is_form = is_form_urlencoded(req.headers());
    // The body is read even when it is not a form, so the body limit answers 413 either way.
    let body = Bytes::from_request(req, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let fields = if is_form {
        Fields::parse(&body)
    } else {
        Fields::default()
    };
    fields.validate(strict).map_err(IntoResponse::into_response)
}

impl<S: Send + Sync> FromRequest<S> for OAuth2PasswordRequestForm {
    type Rejection = HttpResponse;

    async fn from_request(req: Request, state: &S) -> Result<Self, HttpResponse> {
        read_form(req, state, false).await
    }
}

impl<S: Send + Sync> FromRequest<S> for OAuth2PasswordRequestFormStrict {
    type Rejection = HttpResponse;

    async fn from_request(req: Request, state: &S) -> Result<Self, HttpResponse> {
        read_form(req, state, true).await.map(Self)
    }
}

fn form_schema(strict: bool) -> serde_json::Value {
    let optional = |title: &str| serde_json::json!({"anyOf": [{"type": "string"}, {"type": "null"}], "title": title});
    let grant_type = if strict {
        serde_json::json!({"type": "string", "pattern": GRANT_TYPE_PATTERN, "title": "Grant Type"})
    } else {
        serde_json::json!({"anyOf": [{"type": "string", "pattern": GRANT_TYPE_PATTERN}, {"type": "null"}], "title": "Grant Type"})
    };
    let mut client_secret = optional("Client Secret");
    client_secret["format"] = "password".into();
    let mut required = vec!["username", "password"];
    if strict {
        required.insert(0, "grant_type");
    }
    serde_json::json!({
        "type": "object",
        "title": if strict { "OAuth2PasswordRequestFormStrict" } else { "OAuth2PasswordRequestForm" },
        "properties": {
            "grant_type": grant_type,
            "username": {"type": "string", "title": "Username"},
            "password": {"type": "string", "format": "password", "title": "Password"},
            "scope": {"type": "string", "title": "Scope", "default": ""},
            "client_id": optional("Client Id"),
            "client_secret": client_secret,
        },
        "required": required,
    })
}

fn document_form(operation: &mut Operation, strict: bool) {
    let Ok(schema) = schemars::Schema::try_from(form_schema(strict)) else {
        return;
    };
    let body = crate::openapi::form_body(schema);
    operation.request_body = Some(aide::openapi::ReferenceOr::Item(body));
}

fn validation_response() -> Vec<(Option<u16>, Response)> {
    let schema = schemars::json_schema!({
        "type": "object",
        "title": "HTTPValidationError",
        "properties": {"detail": {"type": "array", "items": {
            "type": "object",
            "required": ["loc", "msg", "type"],
            "properties": {
                "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                "msg": {"type": "string"},
                "type": {"type": "string"},
            },
        }}},
    });
    let response = crate::openapi::json_response("Validation Error", schema);
    vec![(Some(422), response)]
}

impl OperationInput for OAuth2PasswordRequestForm {
    fn operation_input(_: &mut GenContext, operation: &mut Operation) {
        document_form(operation, false);
    }

    fn inferred_early_responses(
        _: &mut GenContext,
        _: &mut Operation,
    ) -> Vec<(Option<u16>, Response)> {
        validation_response()
    }
}

impl OperationInput for OAuth2PasswordRequestFormStrict {
    fn operation_input(_: &mut GenContext, operation: &mut Operation) {
        document_form(operation, true);
    }

    fn inferred_early_responses(
        _: &mut GenContext,
        _: &mut Operation,
    ) -> Vec<(Option<u16>, Response)> {
        validation_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn validate(body: &str, strict: bool) -> Result<OAuth2PasswordRequestForm, serde_json::Value> {
        Fields::parse(body.as_bytes())
            .validate(strict)
            .map_err(|e| e.body())
    }

    #[test]
    fn parses_and_splits_scopes() {
        let form = validate(
            "username=j%C3%B6hn&password=p+w&scope=a%20b++c&grant_type=password",
            false,
        );
        let form = form.unwrap_or_default();
        assert_eq!(form.username, "jöhn");
        assert_eq!(form.password, "p w");
        assert_eq!(form.scopes, ["a", "b", "c"]);
    }

    #[test]
    fn missing_and_empty_fields_are_fastapi_422s() {
        let missing = |f: &str| json!({"type":"missing","loc":["body",f],"msg":"Field required","input":null});
        assert_eq!(
            validate("", false),
            Err(json!({"detail": [missing("username"), missing("password")]}))
        );
        assert_eq!(
            validate("username=&password=x", false),
            Err(json!({"detail": [missing("username")]}))
        );
        assert_eq!(
            validate("username=a&password=b", true),
            Err(json!({"detail": [missing("grant_type")]}))
        );
        assert_eq!(
            validate("username=a&password=b&grant_type=client_credentials", false),
            Err(
                json!({"detail": [{"type":"string_pattern_mismatch","loc":["body","grant_type"],
                "msg":"String should match pattern '^password$'","input":"client_credentials",
                "ctx":{"pattern":"^password$"}}]})
            )
        );
    }

    #[test]
    fn garbage_never_panics() {
        for body in [
            "%",
            "&&&",
            "=",
            "username",
            "username=%ff%fe&password=%00",
            "a=b=c",
        ] {
            let _ = validate(body, true);
        }
        assert!(validate("username=%ff&password=%00", false).is_ok());
        let long = format!("username=a&password={}", "p".repeat(1025));
        let body = validate(&long, false).err().unwrap_or_default();
        assert_eq!(body["detail"][0]["type"], "string_too_long");
        assert!(
            !body.to_string().contains("ppp"),
            "the password is not echoed"
        );
        assert!(validate(&format!("username=a&password={}", "p".repeat(1024)), false).is_ok());
    }
}
