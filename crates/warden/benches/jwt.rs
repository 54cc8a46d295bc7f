#![allow(missing_docs)] // criterion_group! writes undocumented functions
//! JWT verification per algorithm, and the full extractor path (parse the header, verify HS256,
//! build the user) against a hand-written axum handler that calls `jsonwebtoken` directly.
//!
//! `cargo bench -p warden --bench jwt`. Compare `extractor/warden` with `extractor/hand_written`
//! in the same run: the ratio is the figure, not the absolute times.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use aide::axum::ApiRouter;
use aide::axum::routing::get;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::{Json, Router};
use criterion::{Criterion, criterion_group, criterion_main};
use serde::Deserialize;
use serde_json::{Value, json};
use tower::ServiceExt;
use warden::scheme::OAuth2PasswordBearer;
use warden::token::{Algorithm, Claims, Jwt, Key, KeySet, NoClaims};
use warden::{AuthError, Authenticator, Credentials, Security, SecurityScopes};

const SECRET: &[u8] = b"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7";

fn rsa_key() -> Key {
    use rsa::pkcs8::EncodePrivateKey as _;
    let private = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("rsa");
    let pem = private.to_pkcs8_pem(Default::default()).expect("pem");
    Key::from_private_pem(Algorithm::RS256, &pem).expect("key")
}

fn verify_per_algorithm(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    let keys = [
        ("HS256", Key::hmac(Algorithm::HS256, SECRET).expect("key")),
        ("HS384", Key::hmac(Algorithm::HS384, SECRET).expect("key")),
        ("HS512", Key::hmac(Algorithm::HS512, SECRET).expect("key")),
        ("RS256", rsa_key()),
        ("ES256", Key::generate_es256().expect("key").0),
        ("EdDSA", Key::generate_ed25519().expect("key").0),
    ];
    for (name, key) in keys {
        let jwt = Jwt::new(KeySet::new(key));
        let claims = Claims::new("johndoe", Duration::from_secs(3600)).with_scopes(["items:read"]);
        let token = jwt.encode(&claims).expect("token");
        group.bench_function(name, |b| {
            b.iter(|| jwt.decode::<NoClaims>(black_box(&token)).expect("valid"))
        });
    }
    group.finish();
}

// ---- the same protected route, two ways ----

warden::security_scheme! {
    OAuth2Scheme: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token");
}

#[derive(Clone)]
struct AppState {
    jwt: Arc<Jwt>,
    decoding: Arc<jsonwebtoken::DecodingKey>,
}

struct User {
    username: String,
    scopes: Vec<String>,
}

impl Authenticator for User {
    type State = AppState;
    type Input = Credentials<OAuth2Scheme>;

    async fn authenticate(
        token: Credentials<OAuth2Scheme>,
        _: &SecurityScopes,
        state: &AppState,
    ) -> Result<Self, AuthError> {
        let claims: Claims = state.jwt.decode(&token)?;
        Ok(User {
            username: claims.sub,
            scopes: claims.scopes,
        })
    }
}

async fn with_warden(user: Security<User>) -> Json<Value> {
    Json(json!({ "username": user.username, "scopes": user.scopes }))
}

#[derive(Deserialize)]
struct HandClaims {
    sub: String,
    #[serde(default)]
    scopes: Vec<String>,
}

/// What an axum user writes without warden: read the header, verify, build the user.
async fn hand_written(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, StatusCode> {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let (scheme, token) = value.split_once(' ').ok_or(StatusCode::UNAUTHORIZED)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(StatusCode::UNAUTHORIZED);
    }
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    let data = jsonwebtoken::decode::<HandClaims>(token, &state.decoding, &validation)
        .map_err(|_| StatusCode::UNAUTHORIZED)?;
    Ok(Json(
        json!({ "username": data.claims.sub, "scopes": data.claims.scopes }),
    ))
}

fn extractor_path(c: &mut Criterion) {
    let key = Key::hmac(Algorithm::HS256, SECRET).expect("key");
    let jwt = Jwt::new(KeySet::new(key)).leeway(0);
    let token = jwt
        .encode(&Claims::new("johndoe", Duration::from_secs(3600)).with_scopes(["items:read"]))
        .expect("token");
    let state = AppState {
        jwt: Arc::new(jwt),
        decoding: Arc::new(jsonwebtoken::DecodingKey::from_secret(SECRET)),
    };
    let (warden_app, _) = warden::openapi::finish(
        ApiRouter::new().api_route("/users/me", get(with_warden)),
        Default::default(),
    );
    let warden_app: Router = warden_app.with_state(state.clone());
    let hand_app: Router = Router::new()
        .route("/users/me", axum::routing::get(hand_written))
        .with_state(state);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let request = || {
        Request::get("/users/me")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };
    for app in [&warden_app, &hand_app] {
        let status = runtime
            .block_on(app.clone().oneshot(request()))
            .expect("answer")
            .status();
        assert_eq!(
            status,
            StatusCode::OK,
            "the benchmark must measure successful requests"
        );
    }
    let mut group = c.benchmark_group("extractor");
    group.bench_function("warden", |b| {
        b.iter(|| runtime.block_on(warden_app.clone().oneshot(request())))
    });
    group.bench_function("hand_written", |b| {
        b.iter(|| runtime.block_on(hand_app.clone().oneshot(request())))
    });
    group.finish();
}

criterion_group!(benches, verify_per_algorithm, extractor_path);
criterion_main!(benches);
