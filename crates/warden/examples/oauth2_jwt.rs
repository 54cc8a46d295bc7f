//! FastAPI's "OAuth2 with Password (and hashing), Bearer with JWT tokens".
//!
//! ```sh
//! SECRET_KEY=$(openssl rand -hex 32) cargo run --release --example oauth2_jwt
//! TOKEN=$(curl -s -d username=johndoe -d password=secret http://127.0.0.1:8000/token | jq -r .access_token)
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/users/me/
//! ```

mod common;

use aide::axum::{ApiRouter, routing::get};
use axum::Json;
use schemars::JsonSchema;
use serde::Serialize;
use warden::openapi::{ApiRouterExt, Docs};
use warden::scheme::OAuth2PasswordBearer;
use warden::{AuthError, Authenticator, Challenge, Credentials, Security, SecurityScopes};

use common::users::{Auth, User, token_route};

warden::security_scheme! {
    /// oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/token")
    OAuth2Scheme: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token");
}

/// `get_current_user`: the user named by a valid token.
struct CurrentUser(User);

impl Authenticator for CurrentUser {
    type State = Auth;
    type Input = Credentials<OAuth2Scheme>;

    async fn authenticate(
        token: Credentials<OAuth2Scheme>,
        _: &SecurityScopes,
        auth: &Auth,
    ) -> Result<Self, AuthError> {
        let (user, _claims) = auth.user_from_token(&token, Challenge::bearer())?;
        Ok(CurrentUser(user.user))
    }
}

/// `get_current_active_user`.
struct ActiveUser(User);

impl Authenticator for ActiveUser {
    type State = Auth;
    type Input = Security<CurrentUser>;

    async fn authenticate(
        current: Security<CurrentUser>,
        _: &SecurityScopes,
        _: &Auth,
    ) -> Result<Self, AuthError> {
        let CurrentUser(user) = current.into_inner();
        if user.disabled {
            return Err(AuthError::bad_request("Inactive user"));
        }
        Ok(ActiveUser(user))
    }
}

#[derive(Serialize, JsonSchema)]
struct Item {
    item_id: String,
    owner: String,
}

async fn read_users_me(user: Security<ActiveUser>) -> Json<User> {
    Json(user.into_inner().0)
}

async fn read_own_items(user: Security<ActiveUser>) -> Json<Vec<Item>> {
    Json(vec![Item {
        item_id: "Foo".into(),
        owner: user.0.0.username.clone(),
    }])
}

#[tokio::main]
async fn main() {
    let app = ApiRouter::new()
        .api_route("/token", token_route())
        .api_route("/users/me/", get(read_users_me))
        .api_route("/users/me/items/", get(read_own_items))
        .with_state(Auth::from_env())
        .with_docs(Docs::new("OAuth2 with JWT"));
    common::serve(app).await;
}
