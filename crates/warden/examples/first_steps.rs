//! FastAPI's "Security - First Steps": an `OAuth2PasswordBearer` scheme and a route that
//! returns the token it was given.
//!
//! ```sh
//! cargo run --release --example first_steps
//! curl -H 'Authorization: Bearer foobar' http://127.0.0.1:8000/items/
//! ```

mod common;

use aide::axum::{ApiRouter, routing::get};
use axum::Json;
use serde_json::{Value, json};
use warden::Credentials;
use warden::openapi::{ApiRouterExt, Docs};
use warden::scheme::OAuth2PasswordBearer;

warden::security_scheme! {
    /// oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/token")
    OAuth2Scheme: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token");
}

async fn read_items(Credentials(token): Credentials<OAuth2Scheme>) -> Json<Value> {
    Json(json!({ "token": token }))
}

#[tokio::main]
async fn main() {
    let app = ApiRouter::new()
        .api_route("/items/", get(read_items))
        .with_docs(Docs::new("First steps"));
    common::serve(app).await;
}
