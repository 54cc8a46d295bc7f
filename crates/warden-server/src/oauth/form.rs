//! The token request: an `application/x-www-form-urlencoded` body (RFC 6749 §3.2) and optional
//! HTTP Basic client authentication (§2.3.1).

use aide::generate::GenContext;
use aide::openapi::Operation;
use aide::operation::OperationInput;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::AUTHORIZATION;

use super::OAuthError;
use super::client::PresentedClient;

/// The parameters of a token request.
#[derive(Default)]
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    /// `scope`, split on spaces; `None` when not sent.
    pub scopes: Option<Vec<String>>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Client id and secret from `Authorization: Basic`, when they are not both empty.
    pub basic: Option<(String, String)>,
}

impl TokenForm {
    /// The client credentials the request carried. Swagger UI's password flow sends
    /// `Authorization: Basic Og==` (an empty id and secret): that is no client authentication.
    pub fn presented(&self) -> PresentedClient<'_> {
        PresentedClient {
            basic: self.basic.as_ref(),
            client_id: self.client_id.as_deref(),
            client_secret: self.client_secret.as_deref(),
        }
    }
}

/// The body of a revocation (RFC 7009 §2.1) or introspection (RFC 7662 §2.1) request.
#[derive(Default)]
pub struct TokenHintForm {
    pub token: Option<String>,
    pub token_type_hint: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub basic: Option<(String, String)>,
}

impl TokenHintForm {
    pub fn presented(&self) -> PresentedClient<'_> {
        PresentedClient {
            basic: self.basic.as_ref(),
            client_id: self.client_id.as_deref(),
            client_secret: self.client_secret.as_deref(),
        }
    }
}

/// §2.3.1: the id and the secret are form-encoded before they are base64-encoded.
fn basic_client(value: &str) -> Result<Option<(String, String)>, OAuthError> {
    let malformed = || OAuthError::invalid_client("malformed Basic client credentials");
    let (scheme, encoded) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "client authentication must use the Basic scheme",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let (id, secret) = unescape_client(id, secret).ok_or_else(malformed)?;
    Ok((!id.is_empty() || !secret.is_empty()).then_some((id, secret)))
}

/// §2.3.1: undoes the form-encoding of a client id and secret sent with HTTP Basic; `None` when
/// either holds a NUL.
pub fn unescape_client(id: &str, secret: &str) -> Option<(String, String)> {
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (id, secret) = (unescape(id), unescape(secret));
    (!id.contains('\0') && !secret.contains('\0')).then_some((id, secret))
}

/// Reads an OAuth request body: the Basic client credentials, then the form, each parameter at
/// most once (§3.2), an empty value being no value (§3.1). `set` stores a known parameter and
/// answers false for an unknown one (ignored, §3.2).
async fn parse<S: Send + Sync>(
    req: Request,
    state: &S,
    mut set: impl FnMut(&str, Option<String>) -> bool,
) -> Result<Option<(String, String)>, Response> {
    let basic = match req.headers().get(AUTHORIZATION) {
        Some(value) => {
            let value = value.to_str().map_err(|_| {
                OAuthError::invalid_client("malformed Authorization").into_response()
            })?;
            basic_client(value).map_err(IntoResponse::into_response)?
        }
        None => None,
    };
    let is_form = warden::is_form_urlencoded(req.headers());
    // Read the body first, so an oversized one is a 413 whatever its type.
    let body = Bytes::from_request(req, state)
        .await
        .map_err(IntoResponse::into_response)?;
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )
        .into_response());
    }
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in form_urlencoded::parse(&body) {
        // No parameter of OAuth holds a NUL (PostgreSQL could not even store one).
        if value.contains('\0') || name.contains('\0') {
            return Err(
                OAuthError::invalid_request("parameters must not contain NUL characters")
                    .into_response(),
            );
        }
        let value = (!value.is_empty()).then(|| value.into_owned());
        if set(&name, value) {
            if seen.iter().any(|s| *s == name) {
                return Err(
                    OAuthError::invalid_request(format!("parameter {name} is repeated"))
                        .into_response(),
                );
            }
            seen.push(name.into_owned());
        }
    }
    Ok(basic)
}

impl<S: Send + Sync> FromRequest<S> for TokenForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let mut form = TokenForm::default();
        let basic = parse(req, state, |name, value| {
            let slot = match name {
                "grant_type" => &mut form.grant_type,
                "username" => &mut form.username,
                "password" => &mut form.password,
                "refresh_token" => &mut form.refresh_token,
                "client_id" => &mut form.client_id,
                "client_secret" => &mut form.client_secret,
                "scope" => {
                    let scopes: Vec<String> = value
                        .iter()
                        .flat_map(|v| v.split(' '))
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect();
                    form.scopes = (!scopes.is_empty()).then_some(scopes);
                    return true;
                }
                _ => return false,
            };
            *slot = value;
            true
        })
        .await?;
        form.basic = basic;
        Ok(form)
    }
}

impl<S: Send + Sync> FromRequest<S> for TokenHintForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let mut form = TokenHintForm::default();
        let basic = parse(req, state, |name, value| {
            let slot = match name {
                "token" => &mut form.token,
                "token_type_hint" => &mut form.token_type_hint,
                "client_id" => &mut form.client_id,
                "client_secret" => &mut form.client_secret,
                _ => return false,
            };
            *slot = value;
            true
        })
        .await?;
        form.basic = basic;
        Ok(form)
    }
}

impl OperationInput for TokenHintForm {
    fn operation_input(_: &mut GenContext, operation: &mut Operation) {
        let schema = schemars::json_schema!({
            "type": "object",
            "title": "TokenHintRequest",
            "required": ["token"],
            "properties": {
                "token": {"type": "string", "format": "password", "description": "an access or refresh token"},
                "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]},
                "client_id": {"type": "string"},
                "client_secret": {"type": "string", "format": "password"},
            },
        });
        document_form(operation, schema);
    }
}

impl OperationInput for TokenForm {
    fn operation_input(_: &mut GenContext, operation: &mut Operation) {
        let schema = schemars::json_schema!({
            "type": "object",
            "title": "TokenRequest",
            "required": ["grant_type"],
            "properties": {
                "grant_type": {"type": "string", "enum": ["password", "refresh_token", "client_credentials"]},
                "username": {"type": "string", "description": "password grant"},
                "password": {"type": "string", "format": "password", "description": "password grant"},
                "refresh_token": {"type": "string", "format": "password", "description": "refresh_token grant"},
                "scope": {"type": "string", "description": "space-separated scopes; only narrows what the user holds"},
                "client_id": {"type": "string"},
                "client_secret": {"type": "string", "format": "password"},
            },
        });
        document_form(operation, schema);
    }
}

fn document_form(operation: &mut Operation, schema: schemars::Schema) {
    let body = warden::openapi::form_body(schema);
    operation.request_body = Some(aide::openapi::ReferenceOr::Item(body));
}
