//! HTTP Basic authentication, FastAPI's `HTTPBasic()`.
//!
//! ```sh
//! BASIC_USERNAME=admin BASIC_PASSWORD=s3cret cargo run --release --example http_basic
//! curl -u admin:s3cret http://127.0.0.1:8000/basic-auth/
//! ```

mod common;

use std::sync::Arc;

use aide::axum::{ApiRouter, routing::get};
use axum::Json;
use serde_json::{Value, json};
use warden::openapi::{ApiRouterExt, Docs};
use warden::scheme::HTTPBasic;
use warden::{
    AuthError, Authenticator, Challenge, Credentials, Security, SecurityScopes, constant_time_eq,
};

warden::security_scheme! {
    /// security = HTTPBasic()
    BasicScheme: HTTPBasic = HTTPBasic::new();
}

#[derive(Clone)]
struct AppState {
    username: Arc<str>,
    password: Arc<str>,
}

/// The user who sent the right username and password: FastAPI's `get_current_username`.
struct Username(String);

impl Authenticator for Username {
    type State = AppState;
    type Input = Credentials<BasicScheme>;

    async fn authenticate(
        Credentials(credentials): Credentials<BasicScheme>,
        _: &SecurityScopes,
        state: &AppState,
    ) -> Result<Self, AuthError> {
        // Both comparisons always run, so timing tells nothing about which one failed.
        let user_ok = constant_time_eq(credentials.username.as_bytes(), state.username.as_bytes());
        let password_ok =
            constant_time_eq(credentials.password.as_bytes(), state.password.as_bytes());
        if user_ok & password_ok {
            Ok(Username(credentials.username))
        } else {
            Err(AuthError::unauthorized(
                "Invalid credentials",
                Challenge::basic(),
            ))
        }
    }
}

async fn basic_auth(user: Security<Username>) -> Json<Value> {
    Json(json!({ "username": user.0.0 }))
}

#[tokio::main]
async fn main() {
    let state = AppState {
        username: common::setting("BASIC_USERNAME", "admin").into(),
        password: common::setting("BASIC_PASSWORD", "secret").into(),
    };
    let app = ApiRouter::new()
        .api_route("/basic-auth/", get(basic_auth))
        .with_state(state)
        .with_docs(Docs::new("HTTP Basic"));
    common::serve(app).await;
}
