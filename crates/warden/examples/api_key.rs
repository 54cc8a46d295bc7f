//! An API key in the `X-API-Key` header, FastAPI's `APIKeyHeader(name="X-API-Key")`.
//!
//! ```sh
//! API_KEY=s3cret cargo run --release --example api_key
//! curl -H 'X-API-Key: s3cret' http://127.0.0.1:8000/protected-route/
//! ```

mod common;

use std::sync::Arc;

use aide::axum::{ApiRouter, routing::get_with};
use axum::Json;
use serde_json::{Value, json};
use warden::openapi::{ApiRouterExt, Docs};
use warden::scheme::APIKeyHeader;
use warden::{AuthError, Authenticator, Credentials, Security, SecurityScopes, constant_time_eq};

warden::security_scheme! {
    /// api_key_header = APIKeyHeader(name="X-API-Key")
    ApiKeyScheme: APIKeyHeader = APIKeyHeader::new("X-API-Key");
}

#[derive(Clone)]
struct AppState {
    api_key: Arc<str>,
}

/// A request that presented the right key: FastAPI's `get_api_key`.
struct ValidApiKey;

impl Authenticator for ValidApiKey {
    type State = AppState;
    type Input = Credentials<ApiKeyScheme>;

    async fn authenticate(
        Credentials(key): Credentials<ApiKeyScheme>,
        _: &SecurityScopes,
        state: &AppState,
    ) -> Result<Self, AuthError> {
        if constant_time_eq(key.as_bytes(), state.api_key.as_bytes()) {
            Ok(ValidApiKey)
        } else {
            Err(AuthError::forbidden("Could not validate API key"))
        }
    }
}

async fn protected_route(_: Security<ValidApiKey>) -> Json<Value> {
    Json(json!({ "message": "You have access to the protected route" }))
}

#[tokio::main]
async fn main() {
    let state = AppState {
        api_key: common::setting("API_KEY", "your_secret_api_key").into(),
    };
    let app = ApiRouter::new()
        .api_route(
            "/protected-route/",
            get_with(protected_route, |op| op.summary("Protected API Key Route")),
        )
        .with_state(state)
        .with_docs(Docs::new("API key"));
    common::serve(app).await;
}
