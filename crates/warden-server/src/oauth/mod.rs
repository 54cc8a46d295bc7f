//! The token endpoint (RFC 6749 §3.2): the password grant (§4.3) and refresh tokens (§6), with
//! rotation and reuse detection (RFC 9700 §4.14.2).
//!
//! OAuth2 clients parse §5.2 errors, so every failure here is a §5.2 answer (never FastAPI's 422):
//! `400 {"error": "...", "error_description": "..."}`, or 401 `invalid_client`.

pub mod client;
mod form;
pub mod revocation;

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, StatusCode, header};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use warden::token::Claims;

use self::client::ClientAuth;
pub use self::form::{TokenForm, TokenHintForm};
use crate::app::App;
use crate::store::{Consumed, DEFAULT_TENANT, RefreshToken, StoreError, User, new_id};

/// An RFC 6749 §5.2 error.
#[derive(Debug)]
pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new("invalid_scope", description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new("unauthorized_client", description)
    }

    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", description)
    }

    /// §5.2: client authentication failed; 401 with a `Basic` challenge.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            ..Self::new("invalid_client", description)
        }
    }

    pub(crate) fn server_error() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            ..Self::new("server_error", "the server could not answer")
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error on the token endpoint");
        Self::server_error()
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            error_description: &'a str,
        }
        let mut response = (
            self.status,
            no_store(),
            Json(Body {
                error: self.error,
                error_description: &self.description,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"warden\""),
            );
        }
        response
    }
}

impl aide::OperationOutput for OAuthError {
    type Inner = Self;
}

/// §5.1: token answers must not be cached.
pub(crate) fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// A successful token answer (RFC 6749 §5.1).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Seconds until the access token expires (`exp` - `iat`).
    pub expires_in: u64,
    /// A one-time refresh token: each use returns a new one (none for client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// An answer with `Cache-Control: no-store`.
pub struct Tokens(TokenResponse);

impl IntoResponse for Tokens {
    fn into_response(self) -> Response {
        (no_store(), Json(self.0)).into_response()
    }
}

impl aide::OperationOutput for Tokens {
    type Inner = TokenResponse;

    fn operation_response(
        ctx: &mut aide::generate::GenContext,
        op: &mut aide::openapi::Operation,
    ) -> Option<aide::openapi::Response> {
        Json::<TokenResponse>::operation_response(ctx, op)
    }

    fn inferred_responses(
        ctx: &mut aide::generate::GenContext,
        op: &mut aide::openapi::Operation,
    ) -> Vec<(Option<u16>, aide::openapi::Response)> {
        Json::<TokenResponse>::inferred_responses(ctx, op)
    }
}

/// The digest a refresh token is stored under. Tokens are 256 random bits, so a plain SHA-256
/// cannot be reversed or guessed; a leaked table gives no usable token.
pub fn refresh_token_digest(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token.as_bytes()))
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `POST /token`.
pub async fn token(
    State(app): State<App>,
    ClientIp(ip): ClientIp,
    form: TokenForm,
) -> Result<Tokens, OAuthError> {
    let ip = ip.as_deref();
    let client = client::authenticate(form.presented(), &app).await?;
    let grant_type = form
        .grant_type
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    match grant_type {
        "password" | "refresh_token" | "client_credentials" => client.check_grant(grant_type)?,
        other => {
            return Err(OAuthError::unsupported_grant_type(format!(
                "grant_type {other:?} is not supported; use password, refresh_token or client_credentials"
            )));
        }
    }
    match grant_type {
        "password" => password_grant(&app, &form, &client, ip).await,
        "refresh_token" => refresh_grant(&app, &form, &client, ip).await,
        _ => client_credentials_grant(&app, &form, &client).await,
    }
}

/// §4.4: a confidential client's token for itself: `sub` = client id, no refresh token, scopes
/// within the client's allowed set.
async fn client_credentials_grant(
    app: &App,
    form: &TokenForm,
    client: &ClientAuth,
) -> Result<Tokens, OAuthError> {
    let ClientAuth::Confidential(client) = client else {
        return Err(OAuthError::invalid_client(
            "client_credentials needs a client that authenticates",
        ));
    };
    let scopes = narrow(&client.scopes, form.scopes.as_deref())?;
    let profile = AccessClaims {
        tid: client.tenant_id.clone(),
        client_id: Some(client.id.clone()),
        ..AccessClaims::default()
    };
    let claims = Claims::with_extra(&client.id, Duration::from_secs(app.access_ttl), profile)
        .with_scopes(scopes.iter().cloned())
        .with_jti(new_id());
    let (access_token, expires_in) = sign(app, &claims)?;
    // Counted, not audited: machine tokens are routine traffic, and a write per grant would be
    // the grant's main cost. Failed client authentications still fail loudly (invalid_client).
    app.metrics.token_issued("client_credentials");
    Ok(Tokens(TokenResponse {
        access_token,
        token_type: "bearer".into(),
        expires_in,
        refresh_token: None,
        scope: scopes.join(" "),
    }))
}

/// The requested scopes that `allowed` holds; all of `allowed` when none were requested;
/// `invalid_scope` when something was requested and none of it is allowed (RFC 6749 §3.3).
fn narrow(allowed: &[String], requested: Option<&[String]>) -> Result<Vec<String>, OAuthError> {
    match requested {
        None => Ok(allowed.to_vec()),
        Some(requested) => {
            let granted: Vec<String> = requested
                .iter()
                .filter(|s| allowed.contains(s))
                .cloned()
                .collect();
            if granted.is_empty() {
                return Err(OAuthError::invalid_scope(
                    "none of the requested scopes can be granted",
                ));
            }
            Ok(granted)
        }
    }
}

fn sign(app: &App, claims: &Claims<AccessClaims>) -> Result<(String, u64), OAuthError> {
    let expires_in = (claims.exp - claims.iat.unwrap_or(claims.exp)).max(0) as u64;
    let token = app.jwt.load().encode(claims).map_err(|e| {
        tracing::error!(error = %e, "cannot sign an access token");
        OAuthError::server_error()
    })?;
    Ok((token, expires_in))
}

fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, OAuthError> {
    value
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

/// §4.3: the same answer, after the same work, for an unknown user, a wrong password and a
/// disabled account.
async fn password_grant(
    app: &App,
    form: &TokenForm,
    client: &ClientAuth,
    ip: Option<&str>,
) -> Result<Tokens, OAuthError> {
    let username = required(&form.username, "username")?;
    let password = required(&form.password, "password")?;
    let audit = AuditLine { app, ip };
    let client_id = client.client().map(|c| c.id.as_str());
    // The client hears one answer for all three; the audit log tells the administrator which.
    let refused = |why: &'static str| async move {
        app.metrics.login(false);
        audit
            .record("login_failed", client_id, Some(username), Some(why))
            .await;
        OAuthError::invalid_grant("invalid username or password")
    };
    let user = match app.store.user_by_username(DEFAULT_TENANT, username).await {
        Ok(user) => user,
        Err(StoreError::NotFound) => {
            let started = std::time::Instant::now();
            app.hasher.verify_dummy(password).await;
            app.metrics.password_hashed(started.elapsed());
            return Err(refused("unknown user").await);
        }
        Err(e) => return Err(e.into()),
    };
    let started = std::time::Instant::now();
    let verified = app
        .hasher
        .verify(password, &user.password_hash)
        .await
        .unwrap_or(false);
    app.metrics.password_hashed(started.elapsed());
    if !verified {
        return Err(refused("wrong password").await);
    }
    if user.disabled {
        return Err(refused("user disabled").await);
    }
    if app.hasher.needs_rehash(&user.password_hash) {
        if let Ok(upgraded) = app.hasher.hash(password).await {
            app.store
                .upgrade_password_hash(&user.id, &user.password_hash, &upgraded)
                .await?;
        }
    }
    // What the user's roles grant, within what the client may ask for.
    let mut allowed = app.store.user_scopes(&user.id).await?;
    if let Some(client) = client.client() {
        allowed.retain(|s| client.scopes.contains(s));
    }
    let scopes = narrow(&allowed, form.scopes.as_deref())?;
    let client_id = client.client().map(|c| c.id.clone());
    let tokens = issue_with_grant(app, &user, scopes.clone(), scopes, new_id(), client_id).await?;
    app.metrics.login(true);
    app.metrics.token_issued("password");
    audit
        .record(
            "login_succeeded",
            Some(&user.id),
            Some(&user.username),
            None,
        )
        .await;
    Ok(tokens)
}

/// §6: a refresh token is used once; the new one keeps the original grant's scope, and the
/// access token may only narrow it.
async fn refresh_grant(
    app: &App,
    form: &TokenForm,
    client: &ClientAuth,
    ip: Option<&str>,
) -> Result<Tokens, OAuthError> {
    let audit = AuditLine { app, ip };
    let presented = required(&form.refresh_token, "refresh_token")?;
    let digest = refresh_token_digest(presented);
    // §6: a refresh token issued to a client is only for that client; checked before it is used.
    if let Some(stored) = app.store.refresh_token_family(&digest).await? {
        if stored.client_id.is_some()
            && stored.client_id.as_deref() != client.client().map(|c| c.id.as_str())
        {
            return Err(OAuthError::invalid_grant(
                "this refresh token was issued to another client",
            ));
        }
    }
    let stored = match app.store.consume_refresh_token(&digest).await? {
        Consumed::Fresh(stored) => stored,
        Consumed::Reused(stored) => {
            tracing::warn!(family = %stored.family_id, "refresh token reuse detected; its family is revoked");
            audit
                .record(
                    "refresh_token_reuse_detected",
                    Some(&stored.user_id),
                    Some(&stored.user_id),
                    Some(&stored.family_id),
                )
                .await;
            return Err(OAuthError::invalid_grant(
                "refresh token already used; every token of its grant is revoked",
            ));
        }
        Consumed::Invalid => {
            return Err(OAuthError::invalid_grant(
                "refresh token is invalid or expired",
            ));
        }
    };
    let user = match app.store.user(&stored.tenant_id, &stored.user_id).await {
        Ok(user) if !user.disabled => user,
        Ok(_) | Err(StoreError::NotFound) => {
            app.store.revoke_family(&stored.family_id).await?;
            return Err(OAuthError::invalid_grant(
                "the user of this grant is disabled or gone",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let original: Vec<String> = stored.scope.split_whitespace().map(str::to_owned).collect();
    if let Some(requested) = &form.scopes {
        if let Some(extra) = requested.iter().find(|s| !original.contains(s)) {
            return Err(OAuthError::invalid_scope(format!(
                "scope {extra:?} was not part of the original grant"
            )));
        }
    }
    // Roles and the client's scopes may have changed since the grant: never more than the user
    // holds now, through this client.
    let mut current = app.store.user_scopes(&user.id).await?;
    if let Some(client) = client.client() {
        current.retain(|s| client.scopes.contains(s));
    }
    let grant: Vec<String> = original
        .into_iter()
        .filter(|s| current.contains(s))
        .collect();
    let access: Vec<String> = match &form.scopes {
        Some(requested) => requested
            .iter()
            .filter(|s| grant.contains(s))
            .cloned()
            .collect(),
        None => grant.clone(),
    };
    let family = stored.family_id.clone();
    let tokens = issue_with_grant(
        app,
        &user,
        access,
        grant,
        stored.family_id,
        stored.client_id,
    )
    .await?;
    app.metrics.token_issued("refresh_token");
    audit
        .record(
            "token_refreshed",
            Some(&user.id),
            Some(&user.username),
            Some(&family),
        )
        .await;
    Ok(tokens)
}

/// Signs an access token for `access` scopes and stores a refresh token for the `grant`.
async fn issue_with_grant(
    app: &App,
    user: &User,
    access: Vec<String>,
    grant: Vec<String>,
    family_id: String,
    client_id: Option<String>,
) -> Result<Tokens, OAuthError> {
    let profile = AccessClaims {
        tid: user.tenant_id.clone(),
        preferred_username: user.username.clone(),
        email: user.email.clone(),
        name: user.full_name.clone(),
        roles: app.store.user_roles(&user.id).await?,
        client_id: client_id.clone(),
    };
    let claims = Claims::with_extra(&user.id, Duration::from_secs(app.access_ttl), profile)
        .with_scopes(access.iter().cloned())
        .with_jti(new_id());
    let (access_token, expires_in) = sign(app, &claims)?;
    let refresh_token = new_refresh_token();
    let stored = RefreshToken {
        id: new_id(),
        tenant_id: user.tenant_id.clone(),
        family_id,
        user_id: user.id.clone(),
        scope: grant.join(" "),
        expires_at: crate::store::now() + app.refresh_ttl as i64,
        client_id,
    };
    app.store
        .insert_refresh_token(&refresh_token_digest(&refresh_token), &stored)
        .await?;
    Ok(Tokens(TokenResponse {
        access_token,
        token_type: "bearer".into(),
        expires_in,
        refresh_token: Some(refresh_token),
        scope: access.join(" "),
    }))
}

/// warden's own claims in access tokens, besides `sub`, `exp`, `iat`, `jti`, `iss` and `scopes`:
/// the tenant, and the user's profile as of the token's issue (OpenID Connect's claim names), so
/// that `/users/me` and every authorization decision need no database read.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AccessClaims {
    pub tid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub preferred_username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The client the token was issued to (for client credentials, also the `sub`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl AccessClaims {
    /// True for a client's own token (client credentials): no user behind it.
    pub fn is_client_token(&self, sub: &str) -> bool {
        self.client_id.as_deref() == Some(sub)
    }
}

/// Writes audit events for one request.
#[derive(Clone, Copy)]
pub(crate) struct AuditLine<'a> {
    pub app: &'a App,
    pub ip: Option<&'a str>,
}

impl AuditLine<'_> {
    pub async fn record(
        &self,
        event: &str,
        actor: Option<&str>,
        subject: Option<&str>,
        detail: Option<&str>,
    ) {
        self.app
            .store
            .audit(DEFAULT_TENANT, event, actor, subject, self.ip, detail)
            .await;
    }
}

/// The peer address of the connection, when the server was started with connect info.
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(Self(peer.map(|c| c.0.ip().to_string())))
    }
}

impl aide::operation::OperationInput for ClientIp {}
