//! OpenID Connect discovery (FastAPI's `OpenIdConnect`).

use http::request::Parts;
use serde_json::{Map, Value, json};

use super::{SchemeKind, SchemeOptions, authorization, scheme_options};
use crate::error::Challenge;
use crate::scopes::SecurityScopes;

/// OpenID Connect, documented by its discovery URL. Like FastAPI, it extracts the whole
/// `Authorization` header value; verifying the ID or access token is the application's job.
///
/// ```
/// use warden::scheme::OpenIdConnect;
///
/// warden::security_scheme! {
///     pub Oidc: OpenIdConnect =
///         OpenIdConnect::new("https://id.example.com/.well-known/openid-configuration");
/// }
/// ```
#[derive(Clone, Debug)]
pub struct OpenIdConnect {
    url: String,
    options: SchemeOptions,
}

impl OpenIdConnect {
    /// A provider described at `open_id_connect_url` (OpenAPI's `openIdConnectUrl`).
    pub fn new(open_id_connect_url: impl Into<String>) -> Self {
        Self {
            url: open_id_connect_url.into(),
            options: SchemeOptions::default(),
        }
    }
}
scheme_options!(OpenIdConnect);

impl SchemeKind for OpenIdConnect {
    type Credentials = String;
    const CLASS: &'static str = "OpenIdConnect";

    fn extract(&self, parts: &Parts) -> Option<String> {
        authorization(parts).map(str::to_owned)
    }

    fn challenge(&self, _: &SecurityScopes) -> Challenge {
        Challenge::bearer()
    }

    fn openapi(&self) -> Value {
        let mut object = Map::new();
        object.insert("type".into(), json!("openIdConnect"));
        object.insert("openIdConnectUrl".into(), json!(self.url));
        self.options.describe(object)
    }

    fn options(&self) -> &SchemeOptions {
        &self.options
    }

    fn uses_scopes(&self) -> bool {
        true
    }
}
