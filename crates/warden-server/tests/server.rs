//! The auth server over HTTP, with the `oauth2` crate as the client for the password and
//! refresh grants, on SQLite and PostgreSQL.

mod support;

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    ClientId, EndpointNotSet, EndpointSet, RefreshToken, RequestTokenError, ResourceOwnerPassword,
    ResourceOwnerUsername, Scope, StandardErrorResponse, TokenResponse, TokenUrl,
};
use serde_json::{Value, json};
use support::{Server, answer, backends, client};

type Client =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;
type TokenError = RequestTokenError<
    oauth2::HttpClientError<reqwest::Error>,
    StandardErrorResponse<BasicErrorResponseType>,
>;

fn oauth(server: &Server) -> Client {
    BasicClient::new(ClientId::new("test-client".into()))
        .set_token_uri(TokenUrl::new(server.url("/token")).expect("token url"))
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http")
}

async fn login(
    server: &Server,
    username: &str,
    password: &str,
    scopes: &[&str],
) -> Result<oauth2::basic::BasicTokenResponse, TokenError> {
    let client = oauth(server);
    let username = ResourceOwnerUsername::new(username.into());
    let password = ResourceOwnerPassword::new(password.into());
    let mut request = client.exchange_password(&username, &password);
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).into()));
    }
    request.request_async(&http()).await
}

async fn refresh(
    server: &Server,
    token: &str,
    scopes: &[&str],
) -> Result<oauth2::basic::BasicTokenResponse, TokenError> {
    let client = oauth(server);
    let token = RefreshToken::new(token.into());
    let mut request = client.exchange_refresh_token(&token);
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).into()));
    }
    request.request_async(&http()).await
}

fn error_of(
    result: Result<oauth2::basic::BasicTokenResponse, TokenError>,
) -> BasicErrorResponseType {
    match result {
        Err(RequestTokenError::ServerResponse(e)) => e.error().clone(),
        Err(other) => panic!("not an OAuth error answer: {other:?}"),
        Ok(_) => panic!("the grant succeeded"),
    }
}

fn scopes_of(token: &oauth2::basic::BasicTokenResponse) -> Vec<String> {
    let mut scopes: Vec<String> = token
        .scopes()
        .map(|s| s.iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    scopes.sort();
    scopes
}

async fn get(server: &Server, path: &str, token: Option<&str>) -> (u16, Option<String>, Value) {
    let mut request = client().get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request.send().await.expect("request")).await
}

#[tokio::test]
async fn password_grant_and_refresh_rotation() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        server.add_user("alice", "correct horse", &["user"]);
        let token = login(&server, "alice", "correct horse", &[])
            .await
            .expect("login");
        // None requested: everything alice's roles grant.
        assert_eq!(
            scopes_of(&token),
            ["items:read", "items:write", "users:read", "users:write"],
            "{backend}"
        );
        let lifetime = token.expires_in().expect("expires_in").as_secs();
        assert_eq!(lifetime, 900);
        let me = get(&server, "/users/me", Some(token.access_token().secret())).await;
        assert_eq!(
            (me.0, me.2["username"].clone()),
            (200, json!("alice")),
            "{backend}: {me:?}"
        );

        let first_refresh = token
            .refresh_token()
            .expect("refresh token")
            .secret()
            .clone();
        let rotated = refresh(&server, &first_refresh, &[])
            .await
            .expect("refresh");
        let second_refresh = rotated
            .refresh_token()
            .expect("a new refresh token")
            .secret()
            .clone();
        assert_ne!(first_refresh, second_refresh, "rotated");
        assert_eq!(scopes_of(&rotated), scopes_of(&token));
        assert_eq!(
            get(&server, "/users/me", Some(rotated.access_token().secret()))
                .await
                .0,
            200
        );

        // Narrowing is allowed; the next refresh token keeps the original grant.
        let narrow = refresh(&server, &second_refresh, &["items:read"])
            .await
            .expect("narrow");
        assert_eq!(scopes_of(&narrow), ["items:read"]);
        let third_refresh = narrow.refresh_token().expect("refresh").secret().clone();
        let wide_again = refresh(&server, &third_refresh, &[])
            .await
            .expect("refresh");
        assert_eq!(
            scopes_of(&wide_again).len(),
            4,
            "{backend}: the grant's scope survives narrowing"
        );
        // Widening is not.
        let fourth = wide_again
            .refresh_token()
            .expect("refresh")
            .secret()
            .clone();
        assert_eq!(
            error_of(refresh(&server, &fourth, &["admin"]).await),
            BasicErrorResponseType::InvalidScope
        );
    }
}

#[tokio::test]
async fn reusing_a_refresh_token_revokes_its_family() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        server.add_user("bob", "hunter2-hunter2", &["user"]);
        let token = login(&server, "bob", "hunter2-hunter2", &[])
            .await
            .expect("login");
        let old = token.refresh_token().expect("refresh").secret().clone();
        let new = refresh(&server, &old, &[])
            .await
            .expect("refresh")
            .refresh_token()
            .expect("refresh")
            .secret()
            .clone();
        // An attacker replays the old token: refused, and the family dies...
        assert_eq!(
            error_of(refresh(&server, &old, &[]).await),
            BasicErrorResponseType::InvalidGrant,
            "{backend}"
        );
        // ...so the legitimate client's newer token is refused too.
        assert_eq!(
            error_of(refresh(&server, &new, &[]).await),
            BasicErrorResponseType::InvalidGrant,
            "{backend}"
        );
        // A fresh login starts a new family.
        assert!(login(&server, "bob", "hunter2-hunter2", &[]).await.is_ok());
    }
}

#[tokio::test]
async fn a_refresh_token_used_in_parallel_rotates_once() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        server.add_user("carol", "pw-carol-1234", &["user"]);
        let token = login(&server, "carol", "pw-carol-1234", &[])
            .await
            .expect("login");
        let secret = token.refresh_token().expect("refresh").secret().clone();
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (url, secret) = (server.url("/token"), secret.clone());
            tasks.push(tokio::spawn(async move {
                client()
                    .post(url)
                    .form(&[("grant_type", "refresh_token"), ("refresh_token", &secret)])
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }));
        }
        let mut ok = 0;
        for task in tasks {
            if task.await.expect("join").expect("request") == 200 {
                ok += 1;
            }
        }
        assert_eq!(ok, 1, "{backend}: exactly one rotation");
    }
}

#[tokio::test]
async fn refused_logins_look_alike() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        server.add_user("dave", "right-password", &["user"]);
        server.add_user("erin", "right-password", &["user"]);
        let (ok, _, err) = server.cli(&["user", "disable", "erin"], None);
        assert!(ok, "{err}");
        let post = |form: Vec<(&'static str, &'static str)>| {
            let request = client().post(server.url("/token")).form(&form);
            async move {
                let response = request.send().await.expect("request");
                let cache = response
                    .headers()
                    .get("cache-control")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                (answer(response).await, cache)
            }
        };
        let unknown = post(vec![
            ("grant_type", "password"),
            ("username", "nobody"),
            ("password", "right-password"),
        ])
        .await;
        let wrong = post(vec![
            ("grant_type", "password"),
            ("username", "dave"),
            ("password", "wrong"),
        ])
        .await;
        let disabled = post(vec![
            ("grant_type", "password"),
            ("username", "erin"),
            ("password", "right-password"),
        ])
        .await;
        assert_eq!(unknown.0.0, 400, "{backend}");
        assert_eq!(unknown.0.2["error"], "invalid_grant");
        assert_eq!(
            unknown, wrong,
            "{backend}: unknown user and wrong password answer alike"
        );
        assert_eq!(
            unknown, disabled,
            "{backend}: a disabled user is refused even with the right password"
        );
        assert_eq!(unknown.1.as_deref(), Some("no-store"));
    }
}

#[tokio::test]
async fn a_disabled_user_cannot_refresh() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        server.add_user("frank", "frank-password", &["user"]);
        let token = login(&server, "frank", "frank-password", &[])
            .await
            .expect("login");
        assert!(server.cli(&["user", "disable", "frank"], None).0);
        let refresh_token = token.refresh_token().expect("refresh").secret().clone();
        assert_eq!(
            error_of(refresh(&server, &refresh_token, &[]).await),
            BasicErrorResponseType::InvalidGrant,
            "{backend}"
        );
        assert!(server.cli(&["user", "enable", "frank"], None).0);
        assert!(login(&server, "frank", "frank-password", &[]).await.is_ok());
    }
}

#[tokio::test]
async fn token_endpoint_errors_are_rfc6749_section_5_2() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    let post = |body: &'static str, content_type: &'static str| {
        let request = client()
            .post(server.url("/token"))
            .header("content-type", content_type)
            .body(body);
        async move { answer(request.send().await.expect("request")).await }
    };
    let form = "application/x-www-form-urlencoded";
    let error =
        |r: &(u16, Option<String>, Value)| (r.0, r.2["error"].as_str().unwrap_or("").to_owned());
    assert_eq!(
        error(&post("", form).await),
        (400, "invalid_request".into())
    );
    assert_eq!(
        error(&post("grant_type=password", form).await),
        (400, "invalid_request".into())
    );
    assert_eq!(
        error(&post("grant_type=password&username=a&username=b&password=c", form).await),
        (400, "invalid_request".into())
    );
    // Client credentials need a client that authenticates.
    assert_eq!(
        error(&post("grant_type=client_credentials", form).await),
        (401, "invalid_client".into())
    );
    assert_eq!(
        error(&post("grant_type=magic", form).await),
        (400, "unsupported_grant_type".into())
    );
    assert_eq!(
        error(&post(r#"{"grant_type":"password"}"#, "application/json").await),
        (400, "invalid_request".into())
    );
    assert_eq!(
        error(&post("grant_type=refresh_token&refresh_token=forged", form).await),
        (400, "invalid_grant".into())
    );
    assert_eq!(
        error(&post("%%%&&&=", form).await),
        (400, "invalid_request".into())
    );
    // A client secret for a client warden does not know: 401 invalid_client with a Basic challenge.
    let secret = post(
        "grant_type=password&username=a&password=b&client_id=x&client_secret=y",
        form,
    )
    .await;
    assert_eq!(error(&secret), (401, "invalid_client".into()));
    assert!(secret.1.is_some_and(|c| c.starts_with("Basic")));
    // Swagger UI's empty Basic client is no client authentication.
    let swagger = client()
        .post(server.url("/token"))
        .header("authorization", "Basic Og==")
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", support::ADMIN_PASSWORD),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(swagger.status(), 200);
    // Bodies past the cap are refused before they are read.
    let huge = client()
        .post(server.url("/token"))
        .header("content-type", form)
        .body(vec![b'a'; 200_000])
        .send()
        .await
        .expect("request");
    assert_eq!(huge.status(), 413);
}

#[tokio::test]
async fn items_are_isolated_between_users() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        server.add_user("gina", "gina-password", &["user"]);
        server.add_user("hank", "hank-password", &["user"]);
        let gina = login(&server, "gina", "gina-password", &[])
            .await
            .expect("login")
            .access_token()
            .secret()
            .clone();
        let hank = login(&server, "hank", "hank-password", &[])
            .await
            .expect("login")
            .access_token()
            .secret()
            .clone();
        let created = client()
            .post(server.url("/items"))
            .bearer_auth(&gina)
            .json(&json!({"title": "Gina's pen", "description": "blue"}))
            .send()
            .await
            .expect("create");
        let (status, _, item) = answer(created).await;
        assert_eq!(status, 201, "{backend}: {item}");
        let id = item["id"].as_str().expect("id").to_owned();
        assert_eq!(
            get(&server, &format!("/items/{id}"), Some(&gina)).await.2["title"],
            "Gina's pen"
        );
        assert_eq!(
            get(&server, "/items", Some(&gina))
                .await
                .2
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        // Another user's item does not exist for hank.
        assert_eq!(
            get(&server, &format!("/items/{id}"), Some(&hank)).await.0,
            404,
            "{backend}"
        );
        assert_eq!(get(&server, "/items", Some(&hank)).await.2, json!([]));
        let put = client()
            .put(server.url(&format!("/items/{id}")))
            .bearer_auth(&hank)
            .json(&json!({"title": "mine"}))
            .send()
            .await
            .expect("put");
        assert_eq!(put.status(), 404);
        let delete = client()
            .delete(server.url(&format!("/items/{id}")))
            .bearer_auth(&hank)
            .send()
            .await
            .expect("delete");
        assert_eq!(delete.status(), 404);
        let put = client()
            .put(server.url(&format!("/items/{id}")))
            .bearer_auth(&gina)
            .json(&json!({"title": "pencil"}))
            .send()
            .await
            .expect("put");
        assert_eq!(answer(put).await.2["title"], "pencil");
        let delete = client()
            .delete(server.url(&format!("/items/{id}")))
            .bearer_auth(&gina)
            .send()
            .await
            .expect("delete");
        assert_eq!(delete.status(), 204);
        // Bad JSON is a clear 4xx, not a 500.
        for (body, content_type) in [
            ("{", "application/json"),
            ("{\"title\": 5}", "application/json"),
            ("title=x", "text/plain"),
            ("{\"title\": \"\"}", "application/json"),
        ] {
            let response = client()
                .post(server.url("/items"))
                .bearer_auth(&gina)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .expect("post");
            let (status, _, detail) = answer(response).await;
            assert!((400..500).contains(&status), "{body}: {status}");
            assert!(detail["detail"].is_string(), "{detail}");
        }
    }
}

#[tokio::test]
async fn api_errors_follow_rfc6750() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    server.add_user("ivan", "ivan-password", &["reader"]);
    let reader = login(&server, "ivan", "ivan-password", &[])
        .await
        .expect("login")
        .access_token()
        .secret()
        .clone();
    // No credentials: a challenge without an error code (RFC 6750 §3.1).
    let (status, challenge, body) = get(&server, "/items", None).await;
    assert_eq!(
        (status, body),
        (401, json!({"detail": "Not authenticated"}))
    );
    assert_eq!(challenge.as_deref(), Some(r#"Bearer scope="items:read""#));
    let (status, challenge, _) = get(&server, "/users/me", None).await;
    assert_eq!((status, challenge.as_deref()), (401, Some("Bearer")));
    // A bad token: invalid_token.
    let (status, challenge, body) = get(&server, "/items", Some("not.a.token")).await;
    assert_eq!(
        (status, body),
        (401, json!({"detail": "Could not validate credentials"}))
    );
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer error="invalid_token", scope="items:read""#)
    );
    // Enough to read, not to write: insufficient_scope with the scope needed.
    assert_eq!(get(&server, "/items", Some(&reader)).await.0, 200);
    let write = client()
        .post(server.url("/items"))
        .bearer_auth(&reader)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .expect("post");
    let (status, challenge, body) = answer(write).await;
    assert_eq!(
        (status, body),
        (403, json!({"detail": "Not enough permissions"}))
    );
    assert_eq!(
        challenge.as_deref(),
        Some(r#"Bearer error="insufficient_scope", scope="items:write""#)
    );
    // A reader can never be granted write scope.
    assert_eq!(
        error_of(login(&server, "ivan", "ivan-password", &["items:write"]).await),
        BasicErrorResponseType::InvalidScope
    );
    let mixed = login(
        &server,
        "ivan",
        "ivan-password",
        &["items:write", "items:read"],
    )
    .await
    .expect("login");
    assert_eq!(scopes_of(&mixed), ["items:read"]);
}

#[tokio::test]
async fn health_security_headers_and_docs() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        assert_eq!(
            get(&server, "/healthz", None).await,
            (200, None, json!({"status": "ok"}))
        );
        assert_eq!(
            get(&server, "/readyz", None).await,
            (200, None, json!({"status": "ok"})),
            "{backend}"
        );
        let response = client()
            .get(server.url("/users/me"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        let doc: Value = server.get_json("/openapi.json").await;
        let scheme = &doc["components"]["securitySchemes"]["OAuth2PasswordBearer"];
        assert_eq!(scheme["flows"]["password"]["tokenUrl"], "/token");
        assert_eq!(
            doc["paths"]["/items/{id}"]["delete"]["security"],
            json!([{"OAuth2PasswordBearer": ["items:write"]}, {"APIKeyHeader": []}])
        );
        assert_eq!(
            doc["paths"]["/users/me"]["get"]["security"],
            json!([{"OAuth2PasswordBearer": []}, {"APIKeyHeader": []}])
        );
        assert!(doc["paths"]["/token"]["post"].get("security").is_none());
        assert_eq!(
            client()
                .get(server.url("/docs/"))
                .send()
                .await
                .expect("docs")
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(
        backend,
        &url,
        &["--cors-origins", "https://app.example.com"],
    );
    let preflight = |origin: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, server.url("/items"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let allowed = preflight("https://app.example.com")
        .await
        .expect("preflight");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.as_bytes()),
        Some(&b"https://app.example.com"[..])
    );
    let other = preflight("https://evil.example").await.expect("preflight");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn the_cli_manages_users_and_roles() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    let (ok, out, _) = server.cli(
        &[
            "role",
            "add",
            "auditor",
            "--scope",
            "items:read",
            "--description",
            "Reads",
        ],
        None,
    );
    assert!(ok, "{out}");
    let (ok, _, err) = server.cli(&["role", "add", "bad", "--scope", "items:delete"], None);
    assert!(!ok && err.contains("unknown scope"), "{err}");
    server.add_user("judy", "judy-password", &["auditor"]);
    let (ok, out, _) = server.cli(&["user", "show", "judy"], None);
    assert!(
        ok && out.contains("auditor") && out.contains("items:read"),
        "{out}"
    );
    assert!(!out.contains("judy-password"));
    let (ok, _, err) = server.cli(&["user", "add", "judy", "--password-stdin"], Some("x\n"));
    assert!(!ok && err.contains("taken"), "{err}");
    let (ok, out, _) = server.cli(&["user", "list"], None);
    assert!(ok && out.contains("admin") && out.contains("judy"), "{out}");
    assert!(
        server
            .cli(
                &["user", "set-password", "judy", "--password-stdin"],
                Some("new-judy-password\n")
            )
            .0
    );
    assert!(login(&server, "judy", "judy-password", &[]).await.is_err());
    let token = login(&server, "judy", "new-judy-password", &[])
        .await
        .expect("login");
    assert_eq!(scopes_of(&token), ["items:read"]);
    assert!(server.cli(&["user", "grant", "judy", "user"], None).0);
    assert!(server.cli(&["user", "revoke", "judy", "auditor"], None).0);
    let (ok, _, err) = server.cli(&["user", "grant", "judy", "nope"], None);
    assert!(!ok && err.contains("no role"), "{err}");
    let (ok, out, _) = server.cli(&["role", "list"], None);
    assert!(
        ok && out.contains("admin") && out.contains("reader"),
        "{out}"
    );
    let (ok, out, _) = server.cli(&["migrate"], None);
    assert!(ok, "{out}");
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    let before = login(&server, "admin", support::ADMIN_PASSWORD, &[])
        .await
        .expect("login");
    let (ok, out, _) = server.cli(&["keys", "rotate"], None);
    assert!(ok, "{out}");
    let (ok, out, _) = server.cli(&["keys", "list"], None);
    assert!(
        ok && out.contains("signing") && out.contains("verifying until"),
        "{out}"
    );
    // The running server still accepts the token signed before the rotation.
    assert_eq!(
        get(&server, "/users/me", Some(before.access_token().secret()))
            .await
            .0,
        200
    );
}

/// Runs `warden serve` that is expected to refuse to start; returns its stderr.
fn refused_start(env: &[(&str, &str)], setup: impl FnOnce(&std::path::Path)) -> String {
    let dir = std::env::temp_dir().join(format!("warden-prod-{}", warden_server::store::new_id()));
    std::fs::create_dir_all(&dir).expect("dir");
    setup(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("WARDEN_ADMIN_PASSWORD")
        .env_remove("WARDEN_HMAC_SECRET")
        .env_remove("WARDEN_DIGEST_KEY")
        .envs(env.iter().copied())
        .output()
        .expect("run");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !out.status.success(),
        "it started: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn rotate_key(dir: &std::path::Path) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--data-dir")
        .arg(dir)
        .args(["keys", "rotate"])
        .output()
        .expect("run");
    assert!(out.status.success());
}

#[test]
fn production_mode_refuses_generated_and_weak_secrets() {
    let prod = ("WARDEN_ENV", "production");
    let err = refused_start(
        &[prod, ("WARDEN_ADMIN_PASSWORD", "a long admin password")],
        |_| {},
    );
    assert!(err.contains("signing key"), "{err}");
    let err = refused_start(&[prod], rotate_key);
    assert!(err.contains("WARDEN_ADMIN_PASSWORD"), "{err}");
    let err = refused_start(
        &[prod, ("WARDEN_ADMIN_PASSWORD", "a long admin password")],
        rotate_key,
    );
    assert!(err.contains("WARDEN_DIGEST_KEY"), "{err}");
    let err = refused_start(&[prod, ("WARDEN_ADMIN_PASSWORD", "short")], rotate_key);
    assert!(err.contains("at least 12"), "{err}");
    let err = refused_start(
        &[
            prod,
            ("WARDEN_ADMIN_PASSWORD", "a long admin password"),
            ("WARDEN_HMAC_SECRET", "too-short"),
        ],
        |_| {},
    );
    assert!(err.contains("32 bytes"), "{err}");
    let err = refused_start(&[("WARDEN_ACCESS_TOKEN_TTL", "0")], |_| {});
    assert!(err.contains("lifetime"), "{err}");
    let err = refused_start(&[("WARDEN_CORS_ORIGINS", "*")], |_| {});
    assert!(err.contains("CORS"), "{err}");
}

#[tokio::test]
async fn production_mode_starts_with_a_provided_key_and_password() {
    let dir = std::env::temp_dir().join(format!("warden-prod-{}", warden_server::store::new_id()));
    std::fs::create_dir_all(&dir).expect("dir");
    rotate_key(&dir);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--data-dir")
        .arg(&dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("WARDEN_ENV", "production")
        .env("WARDEN_ADMIN_PASSWORD", "a long admin password")
        .env(
            "WARDEN_DIGEST_KEY",
            "a digest key of thirty-two bytes or more",
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("line");
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("address")
        .to_owned();
    let token = client()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", "a long admin password"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(token.status(), 200);
    // SIGTERM: a graceful shutdown, exit status 0.
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn settings_come_from_flags_then_environment_then_the_toml_file() {
    use clap::Parser as _;
    let dir = std::env::temp_dir().join(format!("warden-conf-{}", warden_server::store::new_id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("warden.toml");
    std::fs::write(
        &file,
        "access_token_ttl = 600\nrefresh_token_ttl = 7200\nlisten = \"127.0.0.1:9999\"\n",
    )
    .expect("write");
    let cli = warden_server::cli::Cli::try_parse_from([
        "warden",
        "--config",
        file.to_str().expect("path"),
        "serve",
        "--access-token-ttl",
        "300",
    ])
    .expect("parse");
    let Some(warden_server::cli::Command::Serve(args)) = cli.command else {
        panic!("serve")
    };
    let settings = warden_server::config::Settings::resolve(&cli.storage, &args).expect("settings");
    assert_eq!(
        settings.access_token_ttl, 300,
        "the flag wins over the file"
    );
    assert_eq!(
        settings.refresh_token_ttl, 7200,
        "the file fills what flags and env leave"
    );
    assert_eq!(settings.listen.port(), 9999);
    std::fs::write(&file, "acces_token_ttl = 600\n").expect("write");
    let cli = warden_server::cli::Cli::try_parse_from([
        "warden",
        "--config",
        file.to_str().expect("path"),
        "serve",
    ])
    .expect("parse");
    let Some(warden_server::cli::Command::Serve(args)) = cli.command else {
        panic!("serve")
    };
    let err = warden_server::config::Settings::resolve(&cli.storage, &args)
        .expect_err("a typo is an error");
    assert!(format!("{err:#}").contains("acces_token_ttl"), "{err:#}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn nul_bytes_are_refused_before_the_database_sees_them() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        let admin = login(&server, "admin", support::ADMIN_PASSWORD, &[])
            .await
            .expect("login");
        let token = admin.access_token().secret().clone();
        assert_eq!(
            get(&server, "/items/%00", Some(&token)).await.0,
            404,
            "{backend}"
        );
        assert_eq!(get(&server, "/items/not-an-id", Some(&token)).await.0, 404);
        let post = client()
            .post(server.url("/items"))
            .bearer_auth(&token)
            .json(&json!({"title": "a\u{0}b"}))
            .send()
            .await
            .expect("post");
        assert_eq!(post.status(), 422, "{backend}");
        let form = client()
            .post(server.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=password&username=%00&password=x")
            .send()
            .await
            .expect("token");
        let (status, _, body) = answer(form).await;
        assert_eq!(
            (status, body["error"].clone()),
            (400, json!("invalid_request")),
            "{backend}"
        );
        let basic = client()
            .post(server.url("/introspect"))
            .basic_auth("a\u{0}b", Some("secret"))
            .form(&[("token", "x")])
            .send()
            .await
            .expect("introspect");
        assert_eq!(basic.status(), 401, "{backend}");
    }
}

#[tokio::test]
async fn revoking_the_same_token_twice_at_once_is_fine() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    let token = login(&server, "admin", support::ADMIN_PASSWORD, &[])
        .await
        .expect("login")
        .access_token()
        .secret()
        .clone();
    let revoke = || {
        client()
            .post(server.url("/revoke"))
            .form(&[("token", token.as_str())])
            .send()
    };
    let (a, b) = tokio::join!(revoke(), revoke());
    assert_eq!(
        (
            a.expect("a").status().as_u16(),
            b.expect("b").status().as_u16()
        ),
        (200, 200)
    );
    assert_eq!(get(&server, "/items", Some(&token)).await.0, 401);
}

#[test]
fn a_production_config_file_also_binds_the_commands_that_make_secrets() {
    let dir = std::env::temp_dir().join(format!("warden-prod-{}", warden_server::store::new_id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("warden.toml");
    std::fs::write(&file, "env = \"production\"\n").expect("write");
    let run = |env: Option<&str>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_warden"));
        command
            .arg("--data-dir")
            .arg(&dir)
            .arg("--config")
            .arg(&file)
            .args(["client", "add", "m2m", "--scope", "items:read"])
            .env_remove("WARDEN_ENV")
            .env_remove("WARDEN_DIGEST_KEY");
        if let Some(env) = env {
            command.env("WARDEN_ENV", env);
        }
        let out = command.output().expect("run");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Production in the file only: no digest key is made up (its secrets would verify nowhere).
    let (ok, err) = run(None);
    assert!(!ok && err.contains("WARDEN_DIGEST_KEY"), "{err}");
    assert!(!dir.join("digest.key").exists());
    let (ok, err) = run(Some("staging"));
    assert!(!ok && err.contains("WARDEN_ENV"), "{err}");
    // The environment comes before the file.
    let (ok, err) = run(Some("development"));
    assert!(ok, "{err}");
    assert!(dir.join("digest.key").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
