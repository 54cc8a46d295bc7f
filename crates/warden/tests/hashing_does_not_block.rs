//! While passwords are being hashed on every hashing thread (and more wait in the queue), a
//! request that only verifies a JWT is still answered: hashing never runs on the async runtime.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aide::axum::ApiRouter;
use aide::axum::routing::{get, post};
use aide::openapi::OpenApi;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use warden::password::PasswordHasher;
use warden::scheme::OAuth2PasswordBearer;
use warden::token::{Algorithm, Claims, Jwt, Key, KeySet};
use warden::{AuthError, Authenticator, Credentials, Security, SecurityScopes};

warden::security_scheme! {
    Bearer: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token");
}

#[derive(Clone)]
struct AppState {
    jwt: Arc<Jwt>,
    hasher: PasswordHasher,
}

struct User(String);

impl Authenticator for User {
    type State = AppState;
    type Input = Credentials<Bearer>;

    async fn authenticate(
        token: Credentials<Bearer>,
        _: &SecurityScopes,
        state: &AppState,
    ) -> Result<Self, AuthError> {
        let claims: Claims = state.jwt.decode(&token)?;
        Ok(User(claims.sub))
    }
}

async fn me(user: Security<User>) -> Json<Value> {
    Json(json!({ "sub": user.0.0 }))
}

async fn hash(State(state): State<AppState>) -> Json<Value> {
    let hash = state
        .hasher
        .hash("a password to hash")
        .await
        .unwrap_or_default();
    Json(json!({ "len": hash.len() }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_requests_are_answered_while_every_hashing_thread_is_busy() {
    let key = Key::hmac(Algorithm::HS256, b"a test secret that is 32 bytes!!").expect("key");
    let state = AppState {
        jwt: Arc::new(Jwt::new(KeySet::new(key))),
        hasher: PasswordHasher::new(),
    };
    let token = state
        .jwt
        .encode(&Claims::new("alice", Duration::from_secs(60)))
        .expect("token");
    let router = ApiRouter::new()
        .api_route("/me", get(me))
        .api_route("/hash", post(hash))
        .with_state(state);
    let (router, _) = warden::openapi::finish(router, OpenApi::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });

    const HASHES: usize = 64;
    let done = Arc::new(AtomicUsize::new(0));
    let client = support::client();
    let mut flood = Vec::new();
    for _ in 0..HASHES {
        let (client, url, done) = (client.clone(), format!("{base}/hash"), Arc::clone(&done));
        flood.push(tokio::spawn(async move {
            let response = client.post(url).send().await.expect("hash request");
            assert_eq!(response.status(), 200);
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    // Let the flood fill the hashing threads and the queue.
    tokio::time::sleep(Duration::from_millis(50)).await;
    for _ in 0..5 {
        let response = client
            .get(format!("{base}/me"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("me");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<Value>().await.expect("json"),
            json!({"sub": "alice"})
        );
    }
    let finished_meanwhile = done.load(Ordering::SeqCst);
    assert!(
        finished_meanwhile < HASHES,
        "the JWT requests were answered only after all {HASHES} hashes: the runtime was blocked"
    );
    for task in flood {
        task.await.expect("hash task");
    }
    assert_eq!(done.load(Ordering::SeqCst), HASHES);
}
