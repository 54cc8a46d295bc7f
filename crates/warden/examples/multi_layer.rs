//! FastAPI's "multi-layer security": one route that users reach with a bearer token and other
//! systems reach with an API key, documented as two alternatives.
//!
//! ```sh
//! SECRET_KEY=$(openssl rand -hex 32) SYSTEM_API_KEY=s3cret cargo run --release --example multi_layer
//! curl -H 'X-System-API-Key: s3cret' http://127.0.0.1:8000/dual-secured/
//! ```

mod common;

use std::sync::Arc;

use aide::axum::{ApiRouter, routing::get};
use axum::Json;
use axum::extract::FromRef;
use schemars::JsonSchema;
use serde::Serialize;
use warden::openapi::{ApiRouterExt, Docs};
use warden::scheme::{APIKeyHeader, OAuth2PasswordBearer};
use warden::{
    AuthError, Authenticator, Challenge, Credentials, Either, Security, SecurityScopes,
    constant_time_eq,
};

use common::users::{Auth, User, token_route};

warden::security_scheme! {
    OAuth2Scheme: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token");
    SystemKeyScheme: APIKeyHeader = APIKeyHeader::new("X-System-API-Key");
}

#[derive(Clone)]
struct AppState {
    auth: Auth,
    system_api_key: Arc<str>,
}

impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Auth {
        state.auth.clone()
    }
}

/// `get_current_user`, refusing disabled users.
struct ActiveUser(User);

impl Authenticator for ActiveUser {
    type State = Auth;
    type Input = Credentials<OAuth2Scheme>;

    async fn authenticate(
        token: Credentials<OAuth2Scheme>,
        _: &SecurityScopes,
        auth: &Auth,
    ) -> Result<Self, AuthError> {
        let (user, _) = auth.user_from_token(&token, Challenge::bearer())?;
        if user.user.disabled {
            return Err(AuthError::bad_request("Inactive user"));
        }
        Ok(ActiveUser(user.user))
    }
}

/// `validate_api_key`: another system, with the shared key.
struct SystemIntegration;

impl Authenticator for SystemIntegration {
    type State = AppState;
    type Input = Credentials<SystemKeyScheme>;

    async fn authenticate(
        key: Credentials<SystemKeyScheme>,
        _: &SecurityScopes,
        state: &AppState,
    ) -> Result<Self, AuthError> {
        if constant_time_eq(key.as_bytes(), state.system_api_key.as_bytes()) {
            Ok(SystemIntegration)
        } else {
            Err(AuthError::not_authenticated(Challenge::api_key()))
        }
    }
}

/// `get_authorization`: a user's token, or else a system's key. When neither authenticates,
/// the answer is 401 "Not authenticated" (or a refused user's own answer, such as 400).
struct Caller(Either<Security<ActiveUser>, Security<SystemIntegration>>);

impl Authenticator for Caller {
    type State = AppState;
    type Input = Either<Security<ActiveUser>, Security<SystemIntegration>>;

    async fn authenticate(
        input: Self::Input,
        _: &SecurityScopes,
        _: &AppState,
    ) -> Result<Self, AuthError> {
        Ok(Caller(input))
    }
}

#[derive(Serialize, JsonSchema)]
struct Message {
    message: String,
}

async fn get_secured_data(caller: Security<Caller>) -> Json<Message> {
    let message = match &caller.0.0 {
        Either::Left(user) => format!("Hello user {}", user.0.0.username),
        Either::Right(_) => "Hello system integration".to_owned(),
    };
    Json(Message { message })
}

#[tokio::main]
async fn main() {
    let state = AppState {
        auth: Auth::from_env(),
        system_api_key: common::setting("SYSTEM_API_KEY", "system_integration_key").into(),
    };
    let app = ApiRouter::new()
        .api_route("/token", token_route())
        .api_route("/dual-secured/", get(get_secured_data))
        .with_state(state)
        .with_docs(Docs::new("Multi-layer security"));
    common::serve(app).await;
}
