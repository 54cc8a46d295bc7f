//! The contract of the first three seed examples (`shared/contracts/examples.md`), checked over
//! real HTTP against the example binaries.

mod support;

use serde_json::json;
use support::{Example, answer, client};

const NOT_AUTHENTICATED: &str = r#"{"detail":"Not authenticated"}"#;

async fn get(
    ex: &Example,
    path: &str,
    headers: &[(&str, &[u8])],
) -> (u16, Option<String>, serde_json::Value) {
    let mut request = client().get(ex.url(path));
    for (name, value) in headers {
        request = request.header(
            *name,
            reqwest::header::HeaderValue::from_bytes(value).expect("header"),
        );
    }
    answer(request.send().await.expect("request")).await
}

fn not_authenticated(challenge: &str) -> (u16, Option<String>, serde_json::Value) {
    (
        401,
        Some(challenge.to_owned()),
        serde_json::from_str(NOT_AUTHENTICATED).expect("json"),
    )
}

/// `/docs` is Swagger UI served by the example itself, with nothing loaded from elsewhere.
async fn check_docs_are_offline(ex: &Example) {
    let response = client().get(ex.url("/docs")).send().await.expect("docs");
    let docs = if response.status().is_redirection() {
        let location = response.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        assert_eq!(location, "/docs/");
        client().get(ex.url(&location)).send().await.expect("docs/")
    } else {
        response
    };
    assert_eq!(docs.status(), 200);
    let html = docs.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    let mut assets: Vec<String> = html
        .split(['"', '\''])
        .filter(|s| s.ends_with(".js") || s.ends_with(".css") || s.ends_with(".png"))
        .map(str::to_owned)
        .collect();
    assert!(!assets.is_empty());
    assets.push("swagger-initializer.js".into());
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"),
        "{html}"
    );
    for asset in assets {
        assert!(!asset.contains("//"), "remote asset {asset}");
        let url = ex.url(&format!("/docs/{}", asset.trim_start_matches("./")));
        let response = client().get(&url).send().await.expect("asset");
        assert_eq!(response.status(), 200, "{url}");
        if asset == "swagger-initializer.js" {
            let js = response.text().await.expect("js");
            assert!(js.contains("/openapi.json") && !js.contains("http"), "{js}");
            assert!(
                js.contains(r#""usePkceWithAuthorizationCodeGrant": true"#),
                "{js}"
            );
        }
    }
    let redirect = client()
        .get(ex.url("/docs/oauth2-redirect.html"))
        .send()
        .await
        .expect("redirect page");
    assert_eq!(redirect.status(), 200);
}

async fn openapi(ex: &Example) -> serde_json::Value {
    let response = client()
        .get(ex.url("/openapi.json"))
        .send()
        .await
        .expect("openapi");
    assert_eq!(response.status(), 200);
    let doc: serde_json::Value = response.json().await.expect("json");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{doc}"
    );
    doc
}

#[tokio::test]
async fn first_steps_returns_the_bearer_token() {
    let ex = Example::start("first_steps", &[]);
    assert_eq!(
        get(&ex, "/items/", &[("authorization", b"Bearer foobar")])
            .await
            .2,
        json!({"token": "foobar"})
    );
    // The scheme word is case-insensitive (RFC 7235 §2.1).
    assert_eq!(
        get(&ex, "/items/", &[("authorization", b"bearer foobar")])
            .await
            .2,
        json!({"token": "foobar"})
    );
    assert_eq!(
        get(&ex, "/items/", &[("authorization", b"BEARER x.y.z")])
            .await
            .2,
        json!({"token": "x.y.z"})
    );
}

#[tokio::test]
async fn first_steps_without_a_bearer_token_is_not_authenticated() {
    let ex = Example::start("first_steps", &[]);
    let headers: &[&[u8]] = &[
        b"Basic YTpi",
        b"Bearer",
        b"Bearer ",
        b"Token foobar",
        b"Bearerfoobar",
        b"\xc3\xa9",
    ];
    assert_eq!(get(&ex, "/items/", &[]).await, not_authenticated("Bearer"));
    for value in headers {
        assert_eq!(
            get(&ex, "/items/", &[("authorization", value)]).await,
            not_authenticated("Bearer"),
            "{}",
            String::from_utf8_lossy(value)
        );
    }
    let huge = [b"Bearer ".as_slice(), &[b'a'; 64 * 1024]].concat();
    // A 64 KB token is still just a token to this example: no error, no crash.
    let (status, _, body) = get(&ex, "/items/", &[("authorization", &huge)]).await;
    assert_eq!(
        (status, body["token"].as_str().map(str::len)),
        (200, Some(64 * 1024))
    );
}

#[tokio::test]
async fn first_steps_documents_its_scheme_as_fastapi_does() {
    let ex = Example::start("first_steps", &[]);
    let doc = openapi(&ex).await;
    assert_eq!(
        doc["components"]["securitySchemes"],
        json!({"OAuth2PasswordBearer": {"type":"oauth2","flows":{"password":{"scopes":{},"tokenUrl":"/token"}}}})
    );
    assert_eq!(
        doc["paths"]["/items/"]["get"]["security"],
        json!([{"OAuth2PasswordBearer": []}])
    );
    assert!(doc["paths"]["/items/"]["get"]["responses"]["401"].is_object());
    check_docs_are_offline(&ex).await;
}

#[tokio::test]
async fn api_key_checks_the_key() {
    let ex = Example::start("api_key", &[]);
    assert!(
        ex.stderr().contains("API_KEY"),
        "no warning about the default key"
    );
    assert_eq!(
        get(
            &ex,
            "/protected-route/",
            &[("x-api-key", b"your_secret_api_key")]
        )
        .await,
        (
            200,
            None,
            json!({"message": "You have access to the protected route"})
        )
    );
    assert_eq!(
        get(
            &ex,
            "/protected-route/",
            &[("x-api-key", b"your_secret_api_kez")]
        )
        .await,
        (403, None, json!({"detail": "Could not validate API key"}))
    );
    assert_eq!(
        get(&ex, "/protected-route/", &[]).await,
        not_authenticated("APIKey")
    );
    assert_eq!(
        get(&ex, "/protected-route/", &[("x-api-key", b"")]).await,
        not_authenticated("APIKey")
    );
    let doc = openapi(&ex).await;
    assert_eq!(
        doc["components"]["securitySchemes"],
        json!({"APIKeyHeader": {"type":"apiKey","in":"header","name":"X-API-Key"}})
    );
    assert_eq!(
        doc["paths"]["/protected-route/"]["get"]["security"],
        json!([{"APIKeyHeader": []}])
    );
    check_docs_are_offline(&ex).await;
}

#[tokio::test]
async fn api_key_reads_its_key_from_the_environment() {
    let ex = Example::start("api_key", &[("API_KEY", "k-from-env")]);
    assert!(!ex.stderr().contains("API_KEY"));
    assert_eq!(
        get(&ex, "/protected-route/", &[("x-api-key", b"k-from-env")])
            .await
            .0,
        200
    );
    assert_eq!(
        get(
            &ex,
            "/protected-route/",
            &[("x-api-key", b"your_secret_api_key")]
        )
        .await
        .0,
        403
    );
}

#[tokio::test]
async fn http_basic_checks_user_and_password() {
    let ex = Example::start("http_basic", &[]);
    let stderr = ex.stderr();
    assert!(
        stderr.contains("BASIC_USERNAME") && stderr.contains("BASIC_PASSWORD"),
        "{stderr}"
    );
    // admin:secret
    assert_eq!(
        get(
            &ex,
            "/basic-auth/",
            &[("authorization", b"Basic YWRtaW46c2VjcmV0")]
        )
        .await,
        (200, None, json!({"username": "admin"}))
    );
    let invalid = (
        401,
        Some("Basic".to_owned()),
        json!({"detail": "Invalid credentials"}),
    );
    // admin:wrong, root:secret, and Swagger UI's empty client
    for value in [
        &b"Basic YWRtaW46d3Jvbmc="[..],
        b"Basic cm9vdDpzZWNyZXQ=",
        b"Basic Og==",
    ] {
        assert_eq!(
            get(&ex, "/basic-auth/", &[("authorization", value)]).await,
            invalid
        );
    }
    // missing, bad base64, no ':', not ASCII, another scheme
    let malformed: &[&[u8]] = &[
        b"Basic !!!",
        b"Basic YWRtaW4=",
        b"Basic w6k6w6k=",
        b"Bearer YWRtaW46c2VjcmV0",
        b"Basic",
    ];
    assert_eq!(
        get(&ex, "/basic-auth/", &[]).await,
        not_authenticated("Basic")
    );
    for value in malformed {
        assert_eq!(
            get(&ex, "/basic-auth/", &[("authorization", value)]).await,
            not_authenticated("Basic")
        );
    }
    let doc = openapi(&ex).await;
    assert_eq!(
        doc["components"]["securitySchemes"],
        json!({"HTTPBasic": {"type":"http","scheme":"basic"}})
    );
    assert_eq!(
        doc["paths"]["/basic-auth/"]["get"]["security"],
        json!([{"HTTPBasic": []}])
    );
    check_docs_are_offline(&ex).await;
}

#[tokio::test]
async fn http_basic_reads_its_credentials_from_the_environment() {
    let ex = Example::start(
        "http_basic",
        &[("BASIC_USERNAME", "ops"), ("BASIC_PASSWORD", "p:w")],
    );
    assert!(!ex.stderr().contains("BASIC_"));
    // ops:p:w
    let (status, _, body) = get(
        &ex,
        "/basic-auth/",
        &[("authorization", b"Basic b3BzOnA6dw==")],
    )
    .await;
    assert_eq!((status, body), (200, json!({"username": "ops"})));
}
