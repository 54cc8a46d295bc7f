//! The JWT examples' users and login: FastAPI's `fake_users_db`, `authenticate_user` and
//! `create_access_token`, on warden's password hasher and JWT key set.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aide::axum::routing::{ApiMethodRouter, post};
use axum::Json;
use axum::extract::{FromRef, State};
use axum::http::{HeaderValue, header};
use axum::middleware;
use axum::response::Response;
use schemars::JsonSchema;
use serde::Serialize;
use warden::password::PasswordHasher;
use warden::token::{Algorithm, Claims, Jwt, Key, KeySet};
use warden::{AuthError, Challenge, OAuth2PasswordRequestForm};

pub const ACCESS_TOKEN_EXPIRE: Duration = Duration::from_secs(30 * 60);

/// passlib's bcrypt hash of "secret", as stored in the FastAPI tutorial.
const JOHNDOE_LEGACY_HASH: &str = "$2b$12$EixZaYVK1fsbw1ZfbX3OXePaWxn96p36WQoeG6Lruj3vjPGga31lW";
/// argon2id hashes of "secret", as a real app would have them stored.
const ALICE_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Rwhp4sDkPJTQnqr3kK566w$92i/5dA1X1KHRmP4EbMtfaT0CIajmp1XMwQ64zPS2XI";
const BOB_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$oDjviUxBLAkIb29T4uIjlA$9vJoweNGqOVQJAZJfWlg2zxaf1PKg5IrAXGpzVOx0r0";

/// What the API shows of a user.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct User {
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub disabled: bool,
}

#[derive(Clone)]
pub struct UserInDb {
    pub user: User,
    pub hashed_password: String,
    /// The scopes this user may be granted.
    pub allowed_scopes: Vec<String>,
}

/// The token answer of `POST /token`.
#[derive(Serialize, JsonSchema)]
pub struct Token {
    pub access_token: String,
    pub token_type: &'static str,
}

/// Everything the JWT examples' handlers and authenticators share.
#[derive(Clone)]
pub struct Auth {
    pub jwt: Arc<Jwt>,
    pub hasher: PasswordHasher,
    users: Arc<RwLock<HashMap<String, UserInDb>>>,
}

impl Auth {
    /// The key from `SECRET_KEY` (a random one, with a warning, when unset) and the seed users.
    pub fn from_env() -> Self {
        let secret = match std::env::var("SECRET_KEY") {
            Ok(secret) if !secret.is_empty() => secret.into_bytes(),
            _ => {
                eprintln!(
                    "warning: SECRET_KEY is not set; signing with a random key, so tokens die with this process."
                );
                Key::generate_hmac(Algorithm::HS256)
                    .map(|(_, s)| s.to_vec())
                    .unwrap_or_default()
            }
        };
        let key = match Key::hmac(Algorithm::HS256, &secret) {
            Ok(key) => key,
            Err(e) => {
                eprintln!("error: SECRET_KEY: {e}");
                std::process::exit(2);
            }
        };
        if key.is_weak() {
            eprintln!(
                "warning: SECRET_KEY is shorter than 32 bytes (RFC 7518 §3.2); use `openssl rand -hex 32`."
            );
        }
        // PyJWT's default: no leeway.
        let jwt = Jwt::new(KeySet::new(key)).leeway(0);
        let hasher = PasswordHasher::new();
        let seed =
            |username: &str, full_name: &str, disabled: bool, hash: String, scopes: &[&str]| {
                let user = User {
                    username: username.into(),
                    email: format!("{username}@example.com"),
                    full_name: full_name.into(),
                    disabled,
                };
                let allowed_scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
                (
                    username.to_owned(),
                    UserInDb {
                        user,
                        hashed_password: hash,
                        allowed_scopes,
                    },
                )
            };
        let users = HashMap::from([
            seed(
                "johndoe",
                "John Doe",
                false,
                JOHNDOE_LEGACY_HASH.into(),
                &["users:read", "users:write", "items:read", "items:write"],
            ),
            seed(
                "alice",
                "Alice Wonderson",
                false,
                ALICE_HASH.into(),
                &["users:read", "items:read"],
            ),
            seed(
                "bob",
                "Bob Disabled",
                true,
                BOB_HASH.into(),
                &["users:read"],
            ),
        ]);
        Self {
            jwt: Arc::new(jwt),
            hasher,
            users: Arc::new(RwLock::new(users)),
        }
    }

    pub fn get_user(&self, username: &str) -> Option<UserInDb> {
        self.users.read().ok()?.get(username).cloned()
    }

    /// FastAPI's `authenticate_user`, with the same work for unknown users (a dummy verify) and
    /// the legacy hash upgraded to argon2id on a successful login.
    pub async fn authenticate_user(&self, username: &str, password: &str) -> Option<UserInDb> {
        let Some(mut user) = self.get_user(username) else {
            self.hasher.verify_dummy(password).await;
            return None;
        };
        if !self
            .hasher
            .verify(password, &user.hashed_password)
            .await
            .unwrap_or(false)
        {
            return None;
        }
        if self.hasher.needs_rehash(&user.hashed_password) {
            if let Ok(upgraded) = self.hasher.hash(password).await {
                user.hashed_password = upgraded.clone();
                if let Ok(mut users) = self.users.write() {
                    if let Some(stored) = users.get_mut(username) {
                        stored.hashed_password = upgraded;
                    }
                }
            }
        }
        Some(user)
    }

    /// The user a token names: "Could not validate credentials" for a bad, expired or forged
    /// token, or an unknown user.
    pub fn user_from_token(
        &self,
        token: &str,
        challenge: Challenge,
    ) -> Result<(UserInDb, Claims), AuthError> {
        let invalid =
            || AuthError::unauthorized("Could not validate credentials", challenge.clone());
        let claims: Claims = self.jwt.decode(token).map_err(|_| invalid())?;
        let user = self.get_user(&claims.sub).ok_or_else(invalid)?;
        Ok((user, claims))
    }
}

/// `POST /token`: the OAuth2 password grant. The granted scopes are the requested ones the user
/// is allowed; others are dropped (RFC 6749 §3.3).
pub async fn login(
    State(auth): State<Auth>,
    form: OAuth2PasswordRequestForm,
) -> Result<Json<Token>, AuthError> {
    let incorrect =
        || AuthError::unauthorized("Incorrect username or password", Challenge::bearer());
    let user = auth
        .authenticate_user(&form.username, &form.password)
        .await
        .ok_or_else(incorrect)?;
    let granted = form
        .scopes
        .iter()
        .filter(|s| user.allowed_scopes.contains(s));
    let claims = Claims::new(user.user.username, ACCESS_TOKEN_EXPIRE).with_scopes(granted);
    let access_token = auth.jwt.encode(&claims).map_err(|_| incorrect())?;
    Ok(Json(Token {
        access_token,
        token_type: "bearer",
    }))
}

/// The `/token` route: `login`, with every answer marked `Cache-Control: no-store`
/// (RFC 6749 §5.1), errors included.
pub fn token_route<S>() -> ApiMethodRouter<S>
where
    S: Clone + Send + Sync + 'static,
    Auth: FromRef<S>,
{
    post(login).layer(middleware::map_response(
        |mut response: Response| async move {
            let headers = response.headers_mut();
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            response
        },
    ))
}
