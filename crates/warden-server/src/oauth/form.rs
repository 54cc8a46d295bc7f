//! The token request: an `application/x-www-form-urlencoded` body (RFC 6749 §3.2) and optional
//! HTTP Basic client authentication (§2.3.1).

use aide::generate::GenContext;
use aide::openapi::{MediaType, Operation, RequestBody, SchemaObject};
use aide::operation::OperationInput;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{AUTHORIZATION, CONTENT_TYPE};

use super::OAuthError;

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
    /// Client authentication. Swagger UI's password flow sends `Authorization: Basic Og==` (an
    /// empty id and secret): that is no client authentication. Confidential clients are not
    /// registered yet, so any client secret is an unknown client.
    pub fn check_client(&self) -> Result<(), OAuthError> {
        if self.basic.is_some() && (self.client_secret.is_some() || self.client_id.is_some()) {
            // §2.3: a client MUST NOT use more than one authentication method per request.
            return Err(OAuthError::invalid_request(
                "the client is identified both in the header and in the body",
            ));
        }
        if self.basic.is_some() || self.client_secret.is_some() {
            return Err(OAuthError::invalid_client(
                "unknown client or wrong client secret",
            ));
        }
        Ok(())
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
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (id, secret) = (unescape(id), unescape(secret));
    Ok((!id.is_empty() || !secret.is_empty()).then_some((id, secret)))
}

impl<S: Send + Sync> FromRequest<S> for TokenForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let basic = match req.headers().get(AUTHORIZATION) {
            Some(value) => {
                let value = value.to_str().map_err(|_| {
                    OAuthError::invalid_client("malformed Authorization").into_response()
                })?;
                basic_client(value).map_err(IntoResponse::into_response)?
            }
            None => None,
        };
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
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
        let mut form = TokenForm {
            basic,
            ..TokenForm::default()
        };
        let mut seen: Vec<String> = Vec::new();
        for (name, value) in form_urlencoded::parse(&body) {
            let slot = match &*name {
                "grant_type" => &mut form.grant_type,
                "username" => &mut form.username,
                "password" => &mut form.password,
                "refresh_token" => &mut form.refresh_token,
                "client_id" => &mut form.client_id,
                "client_secret" => &mut form.client_secret,
                "scope" => {
                    if seen.iter().any(|s| s == "scope") {
                        return Err(OAuthError::invalid_request("parameter scope is repeated")
                            .into_response());
                    }
                    seen.push("scope".into());
                    let scopes: Vec<String> = value
                        .split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect();
                    form.scopes = (!scopes.is_empty()).then_some(scopes);
                    continue;
                }
                _ => continue, // §3.2: unrecognized parameters are ignored
            };
            // §3.2: parameters MUST NOT be included more than once.
            if seen.iter().any(|s| *s == name) {
                return Err(
                    OAuthError::invalid_request(format!("parameter {name} is repeated"))
                        .into_response(),
                );
            }
            seen.push(name.clone().into_owned());
            // §3.1: a parameter sent without a value is treated as omitted.
            *slot = (!value.is_empty()).then(|| value.into_owned());
        }
        Ok(form)
    }
}

impl OperationInput for TokenForm {
    fn operation_input(_: &mut GenContext, operation: &mut Operation) {
        let schema = schemars::json_schema!({
            "type": "object",
            "title": "TokenRequest",
            "required": ["grant_type"],
            "properties": {
                "grant_type": {"type": "string", "enum": ["password", "refresh_token"]},
                "username": {"type": "string", "description": "password grant"},
                "password": {"type": "string", "format": "password", "description": "password grant"},
                "refresh_token": {"type": "string", "format": "password", "description": "refresh_token grant"},
                "scope": {"type": "string", "description": "space-separated scopes; only narrows what the user holds"},
                "client_id": {"type": "string"},
                "client_secret": {"type": "string", "format": "password"},
            },
        });
        let mut body = RequestBody {
            required: true,
            ..Default::default()
        };
        body.content.insert(
            "application/x-www-form-urlencoded".into(),
            MediaType {
                schema: Some(SchemaObject {
                    json_schema: schema,
                    example: None,
                    external_docs: None,
                }),
                ..Default::default()
            },
        );
        operation.request_body = Some(aide::openapi::ReferenceOr::Item(body));
    }
}
