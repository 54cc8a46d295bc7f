//! OAuth2 (RFC 6749) schemes: FastAPI's `OAuth2PasswordBearer`, `OAuth2AuthorizationCodeBearer`
//! and the generic `OAuth2` with any flows.
//!
//! All of them read a bearer token (RFC 6750 §2.1). A 401 carries `WWW-Authenticate: Bearer`,
//! with `scope="..."` when the route requires scopes (RFC 6750 §3: the scope attribute tells the
//! client which scopes would have been needed).

use http::request::Parts;
use serde_json::{Map, Value, json};

use super::{SchemeKind, SchemeOptions, authorization, bearer_token, scheme_options};
use crate::error::Challenge;
use crate::scopes::SecurityScopes;

fn bearer_challenge(scopes: &SecurityScopes) -> Challenge {
    if scopes.is_empty() {
        Challenge::bearer()
    } else {
        Challenge::bearer().param("scope", &scopes.scope_str())
    }
}

/// One OAuth2 flow (OpenAPI's OAuth Flow Object).
#[derive(Clone, Debug)]
pub struct OAuthFlow {
    kind: &'static str,
    authorization_url: Option<String>,
    token_url: Option<String>,
    refresh_url: Option<String>,
    scopes: Vec<(String, String)>,
}

impl OAuthFlow {
    fn new(
        kind: &'static str,
        authorization_url: Option<String>,
        token_url: Option<String>,
    ) -> Self {
        Self {
            kind,
            authorization_url,
            token_url,
            refresh_url: None,
            scopes: Vec::new(),
        }
    }

    /// The resource owner password flow (RFC 6749 §4.3).
    pub fn password(token_url: impl Into<String>) -> Self {
        Self::new("password", None, Some(token_url.into()))
    }

    /// The client credentials flow (RFC 6749 §4.4).
    pub fn client_credentials(token_url: impl Into<String>) -> Self {
        Self::new("clientCredentials", None, Some(token_url.into()))
    }

    /// The authorization code flow (RFC 6749 §4.1); Swagger UI runs it with PKCE.
    pub fn authorization_code(
        authorization_url: impl Into<String>,
        token_url: impl Into<String>,
    ) -> Self {
        Self::new(
            "authorizationCode",
            Some(authorization_url.into()),
            Some(token_url.into()),
        )
    }

    /// The implicit flow (RFC 6749 §4.2; RFC 9700 §2.1.2 says not to use it).
    pub fn implicit(authorization_url: impl Into<String>) -> Self {
        Self::new("implicit", Some(authorization_url.into()), None)
    }

    /// Where refresh tokens are exchanged.
    pub fn refresh_url(mut self, url: impl Into<String>) -> Self {
        self.refresh_url = Some(url.into());
        self
    }

    /// A scope this flow offers, with the description shown in the Authorize dialog.
    pub fn scope(mut self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.scopes.push((name.into(), description.into()));
        self
    }

    fn openapi(&self) -> Value {
        let mut object = Map::new();
        if let Some(url) = &self.authorization_url {
            object.insert("authorizationUrl".into(), json!(url));
        }
        if let Some(url) = &self.token_url {
            object.insert("tokenUrl".into(), json!(url));
        }
        if let Some(url) = &self.refresh_url {
            object.insert("refreshUrl".into(), json!(url));
        }
        let scopes: Map<String, Value> = self
            .scopes
            .iter()
            .map(|(name, text)| (name.clone(), json!(text)))
            .collect();
        object.insert("scopes".into(), Value::Object(scopes));
        Value::Object(object)
    }
}

fn oauth2_object(options: &SchemeOptions, flows: &[OAuthFlow]) -> Value {
    let flows: Map<String, Value> = flows
        .iter()
        .map(|f| (f.kind.to_owned(), f.openapi()))
        .collect();
    let mut object = Map::new();
    object.insert("type".into(), json!("oauth2"));
    object.insert("flows".into(), Value::Object(flows));
    options.describe(object)
}

/// The builder methods and the [`SchemeKind`] of a scheme with one OAuth2 flow and bearer tokens:
/// `OAuth2PasswordBearer` and `OAuth2AuthorizationCodeBearer` differ only in their flow.
macro_rules! single_flow_bearer {
    ($ty:ident) => {
        impl $ty {
            /// A scope the application knows, with its description.
            pub fn scope(
                mut self,
                name: impl Into<String>,
                description: impl Into<String>,
            ) -> Self {
                self.flow = self.flow.scope(name, description);
                self
            }

            /// Where refresh tokens are exchanged (FastAPI's `refreshUrl`).
            pub fn refresh_url(mut self, url: impl Into<String>) -> Self {
                self.flow = self.flow.refresh_url(url);
                self
            }
        }
        scheme_options!($ty);

        impl SchemeKind for $ty {
            type Credentials = String;
            const CLASS: &'static str = stringify!($ty);

            fn extract(&self, parts: &Parts) -> Option<String> {
                bearer_token(parts)
            }

            fn challenge(&self, scopes: &SecurityScopes) -> Challenge {
                bearer_challenge(scopes)
            }

            fn openapi(&self) -> Value {
                oauth2_object(&self.options, std::slice::from_ref(&self.flow))
            }

            fn options(&self) -> &SchemeOptions {
                &self.options
            }

            fn uses_scopes(&self) -> bool {
                true
            }
        }
    };
}

/// The OAuth2 password flow with bearer tokens: FastAPI's `OAuth2PasswordBearer(tokenUrl=...)`.
/// Extracts the token as a `String`.
///
/// ```
/// use warden::scheme::OAuth2PasswordBearer;
///
/// warden::security_scheme! {
///     pub OAuth2: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token")
///         .scope("items:read", "Read items.")
///         .scope("items:write", "Create items.");
/// }
/// ```
#[derive(Clone, Debug)]
pub struct OAuth2PasswordBearer {
    flow: OAuthFlow,
    options: SchemeOptions,
}

impl OAuth2PasswordBearer {
    /// Tokens are obtained at `token_url` (relative to the app, like FastAPI's `tokenUrl`).
    pub fn new(token_url: impl Into<String>) -> Self {
        Self {
            flow: OAuthFlow::password(token_url),
            options: SchemeOptions::default(),
        }
    }
}
single_flow_bearer!(OAuth2PasswordBearer);

/// The OAuth2 authorization code flow with bearer tokens: FastAPI's
/// `OAuth2AuthorizationCodeBearer`. Swagger UI runs it with PKCE (RFC 7636).
#[derive(Clone, Debug)]
pub struct OAuth2AuthorizationCodeBearer {
    flow: OAuthFlow,
    options: SchemeOptions,
}

impl OAuth2AuthorizationCodeBearer {
    /// Users are sent to `authorization_url`; codes are exchanged at `token_url`.
    pub fn new(authorization_url: impl Into<String>, token_url: impl Into<String>) -> Self {
        Self {
            flow: OAuthFlow::authorization_code(authorization_url, token_url),
            options: SchemeOptions::default(),
        }
    }
}
single_flow_bearer!(OAuth2AuthorizationCodeBearer);

/// FastAPI's generic `OAuth2` class, with any flows. Like FastAPI, it extracts the whole
/// `Authorization` header value (for example `"Bearer abc"`), since the flows do not say
/// what the header holds.
///
/// ```
/// use warden::scheme::{OAuth2, OAuthFlow};
///
/// warden::security_scheme! {
///     pub Machines: OAuth2 = OAuth2::new()
///         .flow(OAuthFlow::client_credentials("/token").scope("metrics", "Read metrics."));
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct OAuth2 {
    flows: Vec<OAuthFlow>,
    options: SchemeOptions,
}

impl OAuth2 {
    /// No flows yet; add them with [`flow`](Self::flow).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a flow (a later flow of the same kind replaces an earlier one).
    pub fn flow(mut self, flow: OAuthFlow) -> Self {
        self.flows.retain(|f| f.kind != flow.kind);
        self.flows.push(flow);
        self
    }
}
scheme_options!(OAuth2);

impl SchemeKind for OAuth2 {
    type Credentials = String;
    const CLASS: &'static str = "OAuth2";

    fn extract(&self, parts: &Parts) -> Option<String> {
        authorization(parts).map(str::to_owned)
    }

    fn challenge(&self, scopes: &SecurityScopes) -> Challenge {
        bearer_challenge(scopes)
    }

    fn openapi(&self) -> Value {
        oauth2_object(&self.options, &self.flows)
    }

    fn options(&self) -> &SchemeOptions {
        &self.options
    }

    fn uses_scopes(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_as_fastapi_does() {
        assert_eq!(
            OAuth2PasswordBearer::new("/token").openapi(),
            json!({"type":"oauth2","flows":{"password":{"scopes":{},"tokenUrl":"/token"}}})
        );
        assert_eq!(
            OAuth2AuthorizationCodeBearer::new("/auth", "/token")
                .refresh_url("/r")
                .scope("a", "A")
                .openapi(),
            json!({"type":"oauth2","flows":{"authorizationCode":{
                "authorizationUrl":"/auth","tokenUrl":"/token","refreshUrl":"/r","scopes":{"a":"A"}}}})
        );
        assert_eq!(
            OAuth2::new().flow(OAuthFlow::implicit("/a")).openapi(),
            json!({"type":"oauth2","flows":{"implicit":{"authorizationUrl":"/a","scopes":{}}}})
        );
    }

    #[test]
    fn challenge_names_the_required_scopes() {
        let s = OAuth2PasswordBearer::new("/token");
        assert_eq!(s.challenge(&SecurityScopes::default()).as_str(), "Bearer");
        let scopes = SecurityScopes::from_iter(["items:read", "me"]);
        assert_eq!(
            s.challenge(&scopes).as_str(),
            r#"Bearer scope="items:read me""#
        );
    }
}
