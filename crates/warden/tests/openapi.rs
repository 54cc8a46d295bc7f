//! One declaration: the extractors in a handler's signature are what the document says, with
//! OpenAPI's meaning of AND, OR and optional, and scopes accumulated like FastAPI's.

mod support;

use aide::axum::ApiRouter;
use aide::axum::routing::get;
use aide::openapi::OpenApi;
use axum::Json;
use serde_json::{Value, json};
use warden::scheme::{
    APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPBasic, HTTPBearer, HTTPDigest, OAuth2,
    OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer, OAuthFlow, OpenIdConnect,
};
use warden::{AuthError, Authenticator, Credentials, Either, Security, SecurityScopes};

warden::security_scheme! {
    Bearer: OAuth2PasswordBearer = OAuth2PasswordBearer::new("/token")
        .scope("me", "Read me.")
        .scope("items", "Read items.");
    Key: APIKeyHeader = APIKeyHeader::new("X-Key");
    QueryKey: APIKeyQuery = APIKeyQuery::new("key").description("A key in the query.");
    CookieKey: APIKeyCookie = APIKeyCookie::new("session");
    Basic: HTTPBasic = HTTPBasic::new().realm("ignored in the document");
    HttpBearer: HTTPBearer = HTTPBearer::new().bearer_format("JWT");
    Digest: HTTPDigest = HTTPDigest::new();
    Code: OAuth2AuthorizationCodeBearer = OAuth2AuthorizationCodeBearer::new("/authorize", "/token")
        .refresh_url("/refresh");
    Flows: OAuth2 = OAuth2::new()
        .flow(OAuthFlow::client_credentials("/token").scope("m2m", "Machines."))
        .scheme_name("Machines");
    Oidc: OpenIdConnect = OpenIdConnect::new("https://id.example.com/.well-known/openid-configuration");
    OtherKey: APIKeyHeader = APIKeyHeader::new("X-Other-Key");
}

warden::scopes! {
    Me = ["me"];
    Items = ["items"];
}

/// `get_current_user`: records the scopes it was asked for.
struct User {
    scopes: String,
}

impl Authenticator for User {
    type State = ();
    type Input = Credentials<Bearer>;

    async fn authenticate(
        token: Credentials<Bearer>,
        scopes: &SecurityScopes,
        _: &(),
    ) -> Result<Self, AuthError> {
        if token.0 == "good" {
            Ok(User {
                scopes: scopes.scope_str(),
            })
        } else {
            Err(AuthError::unauthorized(
                "Could not validate credentials",
                warden::Challenge::bearer(),
            ))
        }
    }
}

/// `get_current_active_user`, built on `User` with the scope `me`.
struct ActiveUser {
    scopes: String,
}

impl Authenticator for ActiveUser {
    type State = ();
    type Input = Security<User, Me>;

    async fn authenticate(
        user: Security<User, Me>,
        _: &SecurityScopes,
        _: &(),
    ) -> Result<Self, AuthError> {
        Ok(ActiveUser {
            scopes: user.into_inner().scopes,
        })
    }
}

/// A user's token or a system key.
struct Caller;

impl Authenticator for Caller {
    type State = ();
    type Input = Either<Security<User>, Credentials<Key>>;

    async fn authenticate(_: Self::Input, _: &SecurityScopes, _: &()) -> Result<Self, AuthError> {
        Ok(Caller)
    }
}

async fn open() -> Json<Value> {
    Json(json!({}))
}
async fn with_token(_: Credentials<Bearer>) -> Json<Value> {
    Json(json!({}))
}
async fn items(user: Security<ActiveUser, Items>) -> Json<Value> {
    Json(json!({ "scopes": user.0.scopes }))
}
async fn maybe_caller(caller: Security<Option<Caller>>) -> Json<Value> {
    Json(json!({ "caller": caller.0.is_some() }))
}
async fn maybe_user(user: Security<Option<User>>) -> Json<Value> {
    Json(json!({ "user": user.0.is_some() }))
}
async fn both(_: Credentials<Key>, _: Credentials<Basic>) -> Json<Value> {
    Json(json!({}))
}
async fn both_as_tuple(_: Security<Both>) -> Json<Value> {
    Json(json!({}))
}
async fn either(_: Security<Caller>) -> Json<Value> {
    Json(json!({}))
}
async fn every_scheme(
    _: (
        Credentials<QueryKey>,
        Credentials<CookieKey>,
        Credentials<HttpBearer>,
        Credentials<Digest>,
    ),
    _: (Credentials<Code>, Credentials<Flows>, Credentials<Oidc>),
) -> Json<Value> {
    Json(json!({}))
}

struct Both;
impl Authenticator for Both {
    type State = ();
    type Input = (Credentials<Key>, Credentials<Basic>);

    async fn authenticate(_: Self::Input, _: &SecurityScopes, _: &()) -> Result<Self, AuthError> {
        Ok(Both)
    }
}

fn document(router: ApiRouter) -> Value {
    warden::openapi::finish(router, OpenApi::default()).1
}

#[test]
fn adding_or_removing_the_extractor_changes_the_document() {
    let without = document(ApiRouter::new().api_route("/items", get(open)));
    let with = document(ApiRouter::new().api_route("/items", get(with_token)));
    assert!(
        without["paths"]["/items"]["get"].get("security").is_none(),
        "{without}"
    );
    assert!(
        without
            .get("components")
            .and_then(|c| c.get("securitySchemes"))
            .is_none(),
        "{without}"
    );
    assert_eq!(
        with["paths"]["/items"]["get"]["security"],
        json!([{"OAuth2PasswordBearer": []}])
    );
    assert!(with["components"]["securitySchemes"]["OAuth2PasswordBearer"].is_object());
    // Nothing of warden's bookkeeping is left in the document.
    assert!(!with.to_string().contains("x-warden"), "{with}");
}

#[test]
fn scopes_accumulate_into_the_requirement() {
    let doc = document(ApiRouter::new().api_route("/items", get(items)));
    assert_eq!(
        doc["paths"]["/items"]["get"]["security"],
        json!([{"OAuth2PasswordBearer": ["items", "me"]}])
    );
    assert!(doc["paths"]["/items"]["get"]["responses"]["403"].is_object());
}

#[test]
fn and_or_and_optional_mean_what_openapi_says() {
    let doc = document(
        ApiRouter::new()
            .api_route("/maybe", get(maybe_user))
            .api_route("/both", get(both))
            .api_route("/both-tuple", get(both_as_tuple))
            .api_route("/either", get(either)),
    );
    let security = |path: &str| doc["paths"][path]["get"]["security"].clone();
    assert_eq!(
        security("/maybe"),
        json!([{"OAuth2PasswordBearer": []}, {}])
    );
    assert_eq!(
        security("/both"),
        json!([{"APIKeyHeader": [], "HTTPBasic": []}])
    );
    assert_eq!(
        security("/both-tuple"),
        json!([{"APIKeyHeader": [], "HTTPBasic": []}])
    );
    assert_eq!(
        security("/either"),
        json!([{"OAuth2PasswordBearer": []}, {"APIKeyHeader": []}])
    );
}

#[test]
fn every_class_is_documented_with_fastapis_json() {
    let doc = document(ApiRouter::new().api_route("/all", get(every_scheme)));
    assert_eq!(
        doc["components"]["securitySchemes"],
        json!({
            "APIKeyQuery": {"type": "apiKey", "in": "query", "name": "key", "description": "A key in the query."},
            "APIKeyCookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            "HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "HTTPDigest": {"type": "http", "scheme": "digest"},
            "OAuth2AuthorizationCodeBearer": {"type": "oauth2", "flows": {"authorizationCode": {
                "authorizationUrl": "/authorize", "tokenUrl": "/token", "refreshUrl": "/refresh", "scopes": {}}}},
            "Machines": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/token", "scopes": {"m2m": "Machines."}}}},
            "OpenIdConnect": {"type": "openIdConnect",
                "openIdConnectUrl": "https://id.example.com/.well-known/openid-configuration"},
        })
    );
    assert_eq!(
        doc["paths"]["/all"]["get"]["security"],
        json!([{"APIKeyQuery": [], "APIKeyCookie": [], "HTTPBearer": [], "HTTPDigest": [],
                "OAuth2AuthorizationCodeBearer": [], "Machines": [], "OpenIdConnect": []}])
    );
}

#[test]
#[should_panic(expected = "both named \"APIKeyHeader\"")]
fn two_schemes_under_one_name_are_refused_at_build_time() {
    async fn a(_: Credentials<Key>) -> Json<Value> {
        Json(json!({}))
    }
    async fn b(_: Credentials<OtherKey>) -> Json<Value> {
        Json(json!({}))
    }
    document(
        ApiRouter::new()
            .api_route("/a", get(a))
            .api_route("/b", get(b)),
    );
}

/// Serves `router` on 127.0.0.1:0 in this process.
async fn serve(router: ApiRouter) -> String {
    let (router, _) = warden::openapi::finish(router, OpenApi::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{address}")
}

#[tokio::test]
async fn the_authenticator_sees_the_accumulated_scopes_and_the_challenge_names_them() {
    let base = serve(ApiRouter::new().api_route("/items", get(items))).await;
    let client = support::client();
    let ok = client
        .get(format!("{base}/items"))
        .bearer_auth("good")
        .send()
        .await
        .expect("request");
    assert_eq!(support::answer(ok).await.2, json!({"scopes": "items me"}));
    let missing = client
        .get(format!("{base}/items"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        support::answer(missing).await,
        (
            401,
            Some(r#"Bearer scope="items me""#.into()),
            json!({"detail": "Not authenticated"})
        )
    );
}

#[tokio::test]
async fn optional_security_is_none_without_credentials_but_refuses_bad_ones() {
    let base = serve(ApiRouter::new().api_route("/maybe", get(maybe_user))).await;
    let client = support::client();
    let none = client
        .get(format!("{base}/maybe"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        support::answer(none).await,
        (200, None, json!({"user": false}))
    );
    let good = client
        .get(format!("{base}/maybe"))
        .bearer_auth("good")
        .send()
        .await
        .expect("request");
    assert_eq!(support::answer(good).await.2, json!({"user": true}));
    let bad = client
        .get(format!("{base}/maybe"))
        .bearer_auth("bad")
        .send()
        .await
        .expect("request");
    assert_eq!(support::answer(bad).await.0, 401);
}

#[tokio::test]
async fn alternatives_take_the_first_that_authenticates() {
    let base = serve(ApiRouter::new().api_route("/either", get(either))).await;
    let client = support::client();
    let by_token = client
        .get(format!("{base}/either"))
        .bearer_auth("good")
        .send()
        .await
        .expect("request");
    assert_eq!(by_token.status(), 200);
    let by_key = client
        .get(format!("{base}/either"))
        .header("x-key", "k")
        .send()
        .await
        .expect("request");
    assert_eq!(by_key.status(), 200);
    let bad_token = client
        .get(format!("{base}/either"))
        .bearer_auth("bad")
        .send()
        .await
        .expect("request");
    assert_eq!(
        support::answer(bad_token).await,
        (
            401,
            Some("Bearer".into()),
            json!({"detail": "Not authenticated"})
        )
    );
}

#[tokio::test]
async fn optional_alternatives_refuse_credentials_that_were_sent_and_refused() {
    let base = serve(ApiRouter::new().api_route("/maybe-caller", get(maybe_caller))).await;
    let client = support::client();
    let none = client
        .get(format!("{base}/maybe-caller"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        support::answer(none).await,
        (200, None, json!({"caller": false}))
    );
    let forged = client
        .get(format!("{base}/maybe-caller"))
        .bearer_auth("forged")
        .send()
        .await
        .expect("request");
    assert_eq!(
        support::answer(forged).await,
        (
            401,
            Some("Bearer".into()),
            json!({"detail": "Not authenticated"})
        )
    );
}
