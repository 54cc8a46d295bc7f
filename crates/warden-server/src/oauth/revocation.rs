//! Revocation (RFC 7009), introspection (RFC 7662), server metadata (RFC 8414) and the JWKS.

use std::collections::HashMap;
use std::sync::RwLock;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use warden::scheme::HTTPBasic;
use warden::token::Claims;
use warden::{AuthError, Authenticator, Challenge, Credentials, Security, SecurityScopes};

use super::client::{self, ClientAuth, PresentedClient};
use super::{AccessClaims, OAuthError, TokenHintForm, no_store, refresh_token_digest};
use crate::app::App;

/// Access tokens revoked before their expiry, by `jti`: checked on every API request, in memory.
/// Revocations made on this instance apply at once; those made on another instance sharing the
/// database arrive with the next sync (every 5 seconds).
#[derive(Default)]
pub struct RevokedJtis {
    jtis: RwLock<HashMap<String, i64>>,
}

impl RevokedJtis {
    pub fn contains(&self, jti: &str) -> bool {
        self.jtis
            .read()
            .map(|j| j.contains_key(jti))
            .unwrap_or(true)
    }

    pub fn insert(&self, jti: String, expires_at: i64) {
        if let Ok(mut jtis) = self.jtis.write() {
            jtis.insert(jti, expires_at);
        }
    }

    /// Forgets the tokens that can no longer verify anyway (past `exp` plus the verification
    /// leeway): once per sync, not on every insert.
    fn prune(&self) {
        if let Ok(mut jtis) = self.jtis.write() {
            let now = warden::token::now() - crate::keys::LEEWAY as i64;
            jtis.retain(|_, exp| *exp > now);
        }
    }
}

/// Copies new revocations from the store every 5 seconds.
pub async fn sync_revocations(app: App) {
    let mut since = 0;
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        interval.tick().await;
        let started = warden::token::now();
        match app.store.revoked_since(since).await {
            Ok(rows) => {
                app.revoked.prune();
                for (jti, exp) in rows {
                    app.revoked.insert(jti, exp);
                }
                // Read again with a generous overlap: a revocation committed during this read, or
                // stamped by an instance whose clock lags ours, is still picked up (duplicates are
                // harmless).
                since = started - (crate::keys::LEEWAY as i64 + 5);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read revoked tokens"),
        }
    }
}

warden::security_scheme! {
    /// Client authentication for the introspection endpoint: `client_id:client_secret`
    /// (RFC 6749 §2.3.1, form-encoded before base64).
    pub ClientBasic: HTTPBasic = HTTPBasic::new()
        .realm("warden")
        .scheme_name("clientBasic")
        .description("OAuth client id and secret (RFC 6749 §2.3.1).");
}

/// A confidential client that authenticated with HTTP Basic.
pub struct ConfidentialClient(pub std::sync::Arc<crate::store::Client>);

impl Authenticator for ConfidentialClient {
    type State = App;
    type Input = Credentials<ClientBasic>;

    async fn authenticate(
        credentials: Credentials<ClientBasic>,
        _: &SecurityScopes,
        app: &App,
    ) -> Result<Self, AuthError> {
        let refused = || {
            AuthError::unauthorized(
                "invalid_client",
                Challenge::basic().param("realm", "warden"),
            )
        };
        let pair = super::form::unescape_client(&credentials.username, &credentials.password)
            .ok_or_else(refused)?;
        let presented = PresentedClient {
            basic: Some(&pair),
            client_id: None,
            client_secret: None,
        };
        match client::authenticate(presented, app).await {
            Ok(ClientAuth::Confidential(client)) => Ok(ConfidentialClient(client)),
            _ => Err(refused()),
        }
    }
}

/// Rewrites the 401s of the introspection endpoint as RFC 6749 §5.2 `invalid_client` answers
/// (RFC 7662 §2.3), keeping the Basic challenge.
pub async fn client_errors(response: Response) -> Response {
    if response.status() != http::StatusCode::UNAUTHORIZED {
        return response;
    }
    let challenge = response
        .headers()
        .get(http::header::WWW_AUTHENTICATE)
        .cloned();
    let mut rewritten = OAuthError::invalid_client("client authentication failed").into_response();
    if let Some(challenge) = challenge {
        rewritten
            .headers_mut()
            .insert(http::header::WWW_AUTHENTICATE, challenge);
    }
    rewritten
}

/// What a token is, if it is active.
enum Found {
    Access(std::sync::Arc<Claims<AccessClaims>>),
    Refresh(crate::store::RefreshToken),
}

/// The token, if it is an active access or refresh token. The hint of RFC 7009 §2.1 and RFC 7662
/// §2.1 only orders the lookups, and checking an access token costs no I/O: it always goes
/// first, and only a token that is not one costs a database read.
async fn find(app: &App, token: &str) -> Result<Option<Found>, OAuthError> {
    if let Some(claims) = crate::api::active_access_token(app, token) {
        return Ok(Some(Found::Access(claims)));
    }
    Ok(app
        .store
        .active_refresh_token(&refresh_token_digest(token))
        .await?
        .map(Found::Refresh))
}

/// `POST /revoke` (RFC 7009). A confidential client must authenticate; a public one names
/// itself. Answers 200 whether or not the token was known (§2.2).
pub async fn revoke(
    State(app): State<App>,
    super::ClientIp(ip): super::ClientIp,
    form: TokenHintForm,
) -> Result<Response, OAuthError> {
    let audit = super::AuditLine {
        app: &app,
        ip: ip.as_deref(),
    };
    let client = client::authenticate(form.presented(), &app).await?;
    let token = form
        .token
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    if let Some(hint) = form.token_type_hint.as_deref() {
        if hint != "access_token" && hint != "refresh_token" {
            // §2.2.1: a hint we do not know.
            return Err(OAuthError::new(
                "unsupported_token_type",
                "token_type_hint must be access_token or refresh_token",
            ));
        }
    }
    let caller = client.client().map(|c| c.id.as_str());
    if let Some(claims) = crate::api::active_access_token(&app, token) {
        if claims.extra.client_id.is_some() && claims.extra.client_id.as_deref() != caller {
            return Err(OAuthError::unauthorized_client(
                "this token was issued to another client",
            ));
        }
        if let Some(jti) = &claims.jti {
            app.store.revoke_jti(jti, claims.exp).await?;
            // Every request checks the deny list, so nothing cached needs forgetting.
            app.revoked.insert(jti.clone(), claims.exp);
            tracing::info!(jti = %jti, "access token revoked");
            audit
                .record(
                    "token_revoked",
                    caller,
                    Some(&claims.sub),
                    Some("access token"),
                )
                .await;
        }
    } else if let Some(stored) = app
        .store
        .refresh_token_family(&refresh_token_digest(token))
        .await?
    {
        // Revoking a refresh token revokes its whole grant (§2.1), whatever state it is in.
        if stored.client_id.is_some() && stored.client_id.as_deref() != caller {
            return Err(OAuthError::unauthorized_client(
                "this token was issued to another client",
            ));
        }
        app.store.revoke_family(&stored.family_id).await?;
        tracing::info!(family = %stored.family_id, "refresh token family revoked");
        audit
            .record(
                "token_revoked",
                caller,
                Some(&stored.user_id),
                Some("refresh token family"),
            )
            .await;
    }
    Ok((no_store(), Json(json!({}))).into_response())
}

/// The answer of `POST /introspect` (RFC 7662 §2.2).
#[derive(Serialize, JsonSchema, Default)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// `POST /introspect` (RFC 7662): for confidential clients (HTTP Basic). Anything that is not an
/// active token is `{"active": false}`, with no reason given.
pub async fn introspect(
    State(app): State<App>,
    _client: Security<ConfidentialClient>,
    form: TokenHintForm,
) -> Result<Response, OAuthError> {
    let token = form
        .token
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let answer = match find(&app, token).await? {
        Some(Found::Access(claims)) => Introspection {
            active: true,
            scope: Some(claims.scopes.join(" ")),
            client_id: claims.extra.client_id.clone(),
            username: (!claims.extra.preferred_username.is_empty())
                .then(|| claims.extra.preferred_username.clone()),
            token_type: Some("Bearer".into()),
            exp: Some(claims.exp),
            iat: claims.iat,
            sub: Some(claims.sub.clone()),
            iss: claims.iss.clone(),
            jti: claims.jti.clone(),
        },
        Some(Found::Refresh(stored)) => Introspection {
            active: true,
            scope: Some(stored.scope),
            client_id: stored.client_id,
            token_type: Some("refresh_token".into()),
            exp: Some(stored.expires_at),
            sub: Some(stored.user_id),
            ..Introspection::default()
        },
        None => Introspection::default(),
    };
    Ok((no_store(), Json(answer)).into_response())
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3).
pub async fn metadata(State(app): State<App>) -> Json<Value> {
    let issuer = app.issuer.clone();
    let scopes: Vec<&str> = crate::api::SCOPES.iter().map(|(name, _)| *name).collect();
    Json(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/token"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "grant_types_supported": ["password", "refresh_token", "client_credentials"],
        // No authorization endpoint: no response type is supported.
        "response_types_supported": [],
        "scopes_supported": scopes,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "service_documentation": format!("{issuer}/docs"),
    }))
}

/// `GET /.well-known/jwks.json`: every public key that still verifies (RFC 7517).
pub async fn jwks(State(app): State<App>) -> Json<Value> {
    Json(app.jwt.load().jwks())
}
