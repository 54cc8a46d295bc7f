//! FastAPI's "OAuth2 scopes": scopes declared on the scheme, granted at login within what each
//! user is allowed, and required per route.
//!
//! ```sh
//! SECRET_KEY=$(openssl rand -hex 32) cargo run --release --example oauth2_scopes
//! TOKEN=$(curl -s -d username=alice -d password=secret -d 'scope=users:read items:read' \
//!   http://127.0.0.1:8000/token | jq -r .access_token)
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/items/
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
    OAuth2Scheme: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token")
        .scope("users:read", "Read information about the current user.")
        .scope("users:write", "Change information about the current user.")
        .scope("items:read", "Read items.")
        .scope("items:write", "Create items.");
}

warden::scopes! {
    UsersRead = ["users:read"];
    ItemsRead = ["items:read"];
    ItemsWrite = ["items:write"];
}

/// `get_current_user(security_scopes, token)`: a valid token that grants every required scope.
struct CurrentUser(User);

impl Authenticator for CurrentUser {
    type State = Auth;
    type Input = Credentials<OAuth2Scheme>;

    async fn authenticate(
        token: Credentials<OAuth2Scheme>,
        scopes: &SecurityScopes,
        auth: &Auth,
    ) -> Result<Self, AuthError> {
        // RFC 6750 §3: every 401 and 403 names the scopes this route needs.
        let challenge = Challenge::bearer().param("scope", &scopes.scope_str());
        let (user, claims) = auth.user_from_token(&token, challenge.clone())?;
        if !claims.has_scopes(scopes.scopes().iter().copied()) {
            return Err(AuthError::forbidden("Not enough permissions").with_challenge(challenge));
        }
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

#[derive(Serialize, JsonSchema)]
struct Created {
    result: &'static str,
    owner: String,
}

async fn read_users_me(user: Security<ActiveUser, UsersRead>) -> Json<User> {
    Json(user.into_inner().0)
}

async fn read_own_items(user: Security<ActiveUser, ItemsRead>) -> Json<Vec<Item>> {
    Json(vec![Item {
        item_id: "Foo".into(),
        owner: user.0.0.username.clone(),
    }])
}

async fn read_items(user: Security<ActiveUser, ItemsRead>) -> Json<Vec<Item>> {
    Json(vec![Item {
        item_id: "1".into(),
        owner: user.0.0.username.clone(),
    }])
}

async fn create_item(user: Security<ActiveUser, ItemsWrite>) -> Json<Created> {
    Json(Created {
        result: "Item created",
        owner: user.0.0.username.clone(),
    })
}

#[tokio::main]
async fn main() {
    let app = ApiRouter::new()
        .api_route("/token", token_route())
        .api_route("/users/me/", get(read_users_me))
        .api_route("/users/me/items/", get(read_own_items))
        .api_route("/items/", get(read_items).post(create_item))
        .with_state(Auth::from_env())
        .with_docs(Docs::new("OAuth2 scopes"));
    common::serve(app).await;
}
