//! The protected API: `/users/me` and items owned by their user. Every route names its security
//! with warden's extractors, which also document it.
//!
//! Errors follow RFC 6750 §3: a missing token is `401` with a bare `Bearer` challenge, a bad one
//! `401` with `error="invalid_token"`, a token without the route's scope `403` with
//! `error="insufficient_scope"` and the `scope` it needed.

pub mod verified;

use std::sync::Arc;

use aide::axum::ApiRouter;
use aide::axum::routing::get;
use aide::generate::GenContext;
use aide::openapi::Operation;
use aide::operation::OperationInput;
use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use warden::scheme::{APIKeyHeader, OAuth2PasswordBearer, SchemeKind as _, SecurityScheme as _};
use warden::token::Claims;
use warden::{AuthError, Authenticator, Challenge, Credentials, Either, Security, SecurityScopes};

use crate::app::{App, AppState};
use crate::oauth::AccessClaims;
use crate::store::{self, StoreError};

/// Every scope warden knows.
pub const SCOPES: [(&str, &str); 5] = [
    ("users:read", "Read your own profile."),
    ("users:write", "Change your own profile."),
    ("items:read", "Read your items."),
    ("items:write", "Create, change and delete your items."),
    ("admin", "Administer users, roles and clients."),
];

warden::security_scheme! {
    /// Access tokens from `POST /token`.
    pub OAuth2: OAuth2PasswordBearer = SCOPES
        .iter()
        .fold(OAuth2PasswordBearer::new("/token"), |scheme, (name, text)| scheme.scope(*name, *text))
        .description("Log in with a username and password (the password grant) to get an access token.");
}

warden::scopes! {
    pub ItemsRead = ["items:read"];
    pub ItemsWrite = ["items:write"];
}

warden::security_scheme! {
    /// API keys of systems (`wdn_<id>_<secret>`), made by an administrator.
    pub ApiKeyScheme: APIKeyHeader = APIKeyHeader::new("X-API-Key")
        .description("An API key (`wdn_...`), for systems: `warden apikey create`.");
}

/// Who is calling: the holder of an access token, or of an API key. Verifying a token is a
/// signature and claim check, no I/O (and a token seen before is found in the
/// [`VerifiedTokens`](crate::api::verified::VerifiedTokens) cache); an API key is checked
/// against its stored state, cached and confirmed current on every request
/// ([`apikeys::verify`](crate::apikeys::verify)), so that a revoked key is refused at once.
pub enum Caller {
    Token(Arc<Claims<AccessClaims>>),
    Key(Arc<crate::store::ApiKey>),
}

impl Caller {
    pub fn tenant_id(&self) -> &str {
        match self {
            Self::Token(claims) => &claims.extra.tid,
            Self::Key(key) => &key.tenant_id,
        }
    }

    /// The user behind the call; `None` for a client (its own token or key).
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::Token(claims) if claims.extra.is_client_token(&claims.sub) => None,
            Self::Token(claims) => Some(&claims.sub),
            Self::Key(key) => key.owner_user_id.as_deref(),
        }
    }

    /// Who acts, for the audit log: the user's or the client's id.
    pub fn actor(&self) -> String {
        match self {
            Self::Token(claims) => claims.sub.clone(),
            Self::Key(key) => format!("api key {}", key.id),
        }
    }

    pub fn scopes(&self) -> &[String] {
        match self {
            Self::Token(claims) => &claims.scopes,
            Self::Key(key) => &key.scopes,
        }
    }
}

fn challenge(error: &str, scopes: &SecurityScopes) -> Challenge {
    let challenge = Challenge::bearer().param("error", error);
    if scopes.is_empty() {
        challenge
    } else {
        challenge.param("scope", &scopes.scope_str())
    }
}

fn invalid_token(scopes: &SecurityScopes) -> AuthError {
    AuthError::unauthorized(
        "Could not validate credentials",
        challenge("invalid_token", scopes),
    )
}

/// The claims of an access token that verifies and was not revoked; no I/O (the signature is
/// checked once per token, then found in [`VerifiedTokens`](verified::VerifiedTokens); the deny
/// list of RFC 7009 revocations is in memory). Used by the API, revocation and introspection.
pub fn active_access_token(app: &AppState, token: &str) -> Option<Arc<Claims<AccessClaims>>> {
    let claims = match app.verified.get(token) {
        Some(claims) => claims,
        None => {
            let generation = app.verified.generation();
            let claims: Claims<AccessClaims> = app.jwt.load().decode(token).ok()?;
            app.verified.insert(token, claims, generation)
        }
    };
    let revoked = claims
        .jti
        .as_deref()
        .is_some_and(|jti| app.revoked.contains(jti));
    (!revoked).then_some(claims)
}

fn token_caller(token: &str, scopes: &SecurityScopes, app: &App) -> Result<Caller, AuthError> {
    active_access_token(app, token)
        .map(Caller::Token)
        .ok_or_else(|| invalid_token(scopes))
}

async fn key_caller(key: &str, scopes: &SecurityScopes, app: &App) -> Result<Caller, AuthError> {
    match crate::apikeys::verify(app, key).await {
        Ok(Some(key)) => Ok(Caller::Key(key)),
        // Refused keys get exactly the answer of a missing credential.
        Ok(None) => Err(AuthError::not_authenticated(
            OAuth2::scheme().challenge(scopes),
        )),
        Err(e) => {
            tracing::error!(error = %e, "cannot read an API key");
            Err(AuthError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is unavailable",
            ))
        }
    }
}

impl Authenticator for Caller {
    type State = App;
    /// A bearer token, or else an API key: two alternatives in the document.
    type Input = Either<Credentials<OAuth2>, Credentials<ApiKeyScheme>>;

    async fn authenticate(
        input: Self::Input,
        scopes: &SecurityScopes,
        app: &App,
    ) -> Result<Self, AuthError> {
        let caller = match input {
            Either::Left(token) => token_caller(&token, scopes, app)?,
            Either::Right(key) => key_caller(&key, scopes, app).await?,
        };
        let granted = caller.scopes();
        if !scopes
            .scopes()
            .iter()
            .all(|s| granted.iter().any(|g| g == s))
        {
            return Err(AuthError::forbidden("Not enough permissions")
                .with_challenge(challenge("insufficient_scope", scopes)));
        }
        Ok(caller)
    }
}

/// A caller that is a user (not a client, with its own token or key): the routes whose data
/// belongs to users.
/// Made only by its `authenticate`, which checks that the caller has a user.
pub struct UserCaller(Caller);

impl UserCaller {
    pub fn tenant_id(&self) -> &str {
        self.0.tenant_id()
    }

    pub fn user_id(&self) -> &str {
        self.0.user_id().unwrap_or_default()
    }
}

impl Authenticator for UserCaller {
    type State = App;
    type Input = Security<Caller>;

    async fn authenticate(
        caller: Security<Caller>,
        _: &SecurityScopes,
        _: &App,
    ) -> Result<Self, AuthError> {
        let caller = caller.into_inner();
        if caller.user_id().is_none() {
            return Err(AuthError::forbidden(
                "This route needs a user's credentials, not a client's",
            ));
        }
        Ok(UserCaller(caller))
    }
}

/// An API error: a status and `{"detail"}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self(status, detail.into())
    }

    fn not_found(what: &str) -> Self {
        Self(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self(StatusCode::UNPROCESSABLE_ENTITY, detail.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("Item"),
            StoreError::Conflict(what) => {
                Self(StatusCode::CONFLICT, format!("{what} already exists"))
            }
            StoreError::Db(e) => {
                tracing::error!(error = %e, "database error");
                Self(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unavailable".into(),
                )
            }
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        Self(e.status(), e.detail().to_owned())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "detail": self.1 }))).into_response()
    }
}

impl aide::OperationOutput for ApiError {
    type Inner = Self;
}

/// A JSON body whose errors are JSON too: `{"detail"}` with 400 (syntax), 415 (not JSON),
/// 422 (wrong fields) or 413 (too large).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError(rejection.status(), rejection.body_text())),
        }
    }
}

impl<T: JsonSchema> OperationInput for ApiJson<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        Json::<T>::operation_input(ctx, operation);
    }
}

/// A query string whose errors are JSON too: `422 {"detail"}` naming the parameter, as for a
/// bad field in a body (`?limit=abc`, `?limit=-1`).
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for ApiQuery<T>
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError::invalid(rejection.body_text())),
        }
    }
}

impl<T: JsonSchema> OperationInput for ApiQuery<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        axum::extract::Query::<T>::operation_input(ctx, operation);
    }
}

/// The caller's profile, as of the token's issue.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Me {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    /// The roles the user held when the token was issued.
    pub roles: Vec<String>,
    /// The scopes of the token used for this request.
    pub scopes: Vec<String>,
}

async fn read_users_me(
    State(app): State<App>,
    caller: Security<UserCaller>,
) -> Result<Json<Me>, ApiError> {
    let caller = caller.into_inner();
    let user_id = caller.user_id().to_owned();
    let me = match caller.0 {
        // The profile as of the token's issue: no database read.
        Caller::Token(claims) => Me {
            id: user_id,
            username: claims.extra.preferred_username.clone(),
            email: claims.extra.email.clone(),
            full_name: claims.extra.name.clone(),
            roles: claims.extra.roles.clone(),
            scopes: claims.scopes.clone(),
        },
        Caller::Key(key) => {
            let user = app.store.user(&key.tenant_id, &user_id).await?;
            Me {
                roles: app.store.user_roles(&user.id).await?,
                id: user.id,
                username: user.username,
                email: user.email,
                full_name: user.full_name,
                scopes: key.scopes.clone(),
            }
        }
    };
    Ok(Json(me))
}

/// An item.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<store::Item> for Item {
    fn from(i: store::Item) -> Self {
        Self {
            id: i.id,
            title: i.title,
            description: i.description,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// What a client sends to create or replace an item.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// 1 to 200 characters.
    pub title: String,
    /// At most 2000 characters.
    pub description: Option<String>,
}

impl ItemInput {
    fn validate(&self) -> Result<(), ApiError> {
        if self.title.contains('\0') || self.description.as_ref().is_some_and(|d| d.contains('\0'))
        {
            return Err(ApiError::invalid(
                "title and description must not contain NUL characters",
            ));
        }
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(ApiError::invalid("title must be 1 to 200 characters"));
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > 2000)
        {
            return Err(ApiError::invalid(
                "description must be at most 2000 characters",
            ));
        }
        Ok(())
    }
}

async fn list_items(
    State(app): State<App>,
    caller: Security<UserCaller, ItemsRead>,
) -> Result<Json<Vec<Item>>, ApiError> {
    let items = app
        .store
        .items(caller.tenant_id(), caller.user_id())
        .await?;
    Ok(Json(items.into_iter().map(Item::from).collect()))
}

async fn create_item(
    State(app): State<App>,
    caller: Security<UserCaller, ItemsWrite>,
    ApiJson(input): ApiJson<ItemInput>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    input.validate()?;
    let item = app
        .store
        .create_item(
            caller.tenant_id(),
            caller.user_id(),
            input.title.trim(),
            input.description.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(item.into())))
}

async fn read_item(
    State(app): State<App>,
    caller: Security<UserCaller, ItemsRead>,
    Path(id): Path<String>,
) -> Result<Json<Item>, ApiError> {
    Ok(Json(
        app.store
            .item(caller.tenant_id(), caller.user_id(), item_id(&id)?)
            .await?
            .into(),
    ))
}

async fn update_item(
    State(app): State<App>,
    caller: Security<UserCaller, ItemsWrite>,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ItemInput>,
) -> Result<Json<Item>, ApiError> {
    input.validate()?;
    let item = app
        .store
        .update_item(
            caller.tenant_id(),
            caller.user_id(),
            item_id(&id)?,
            input.title.trim(),
            input.description.as_deref(),
        )
        .await?;
    Ok(Json(item.into()))
}

async fn delete_item(
    State(app): State<App>,
    caller: Security<UserCaller, ItemsWrite>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.store
        .delete_item(caller.tenant_id(), caller.user_id(), item_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Item ids are 32 hex characters; anything else names no item (and never reaches the database).
fn item_id(id: &str) -> Result<&str, ApiError> {
    if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        Err(ApiError::not_found("Item"))
    }
}

/// The API routes.
pub fn routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route("/users/me", get(read_users_me))
        .api_route("/items", get(list_items).post(create_item))
        .api_route(
            "/items/{id}",
            get(read_item).put(update_item).delete(delete_item),
        )
}
