//! The contract of the JWT seed examples (`shared/contracts/examples.md`): `oauth2_jwt`,
//! `oauth2_scopes` and `multi_layer`, over real HTTP against the example binaries.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Example, client, hs256, login, now, payload, token, with_token};

const SECRET: &str = "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7";

fn start(name: &str) -> Example {
    Example::start(name, &[("SECRET_KEY", SECRET)])
}

fn could_not_validate(challenge: &str) -> (u16, Option<String>, Value) {
    (
        401,
        Some(challenge.to_owned()),
        json!({"detail": "Could not validate credentials"}),
    )
}

#[tokio::test]
async fn oauth2_jwt_login_and_me() {
    let ex = start("oauth2_jwt");
    // johndoe's stored hash is the seeds' legacy bcrypt hash; the login upgrades it.
    for _ in 0..2 {
        let (status, _, body, cache) =
            token(&ex, &[("username", "johndoe"), ("password", "secret")]).await;
        assert_eq!(
            (status, cache.as_deref()),
            (200, Some("no-store")),
            "{body}"
        );
        assert_eq!(body["token_type"], "bearer");
        assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
        let access = body["access_token"].as_str().expect("token");
        let claims = payload(access);
        assert_eq!(claims["sub"], "johndoe");
        let lifetime = claims["exp"].as_i64().unwrap_or(0) - now();
        assert!(
            (1790..=1800).contains(&lifetime),
            "30 minutes, not {lifetime} s"
        );
        assert_eq!(
            with_token(&ex, Method::GET, "/users/me/", access).await,
            (
                200,
                None,
                json!({"username":"johndoe","email":"johndoe@example.com","full_name":"John Doe","disabled":false})
            )
        );
        assert_eq!(
            with_token(&ex, Method::GET, "/users/me/items/", access)
                .await
                .2,
            json!([{"item_id": "Foo", "owner": "johndoe"}])
        );
    }
    let alice = login(&ex, "alice", "").await;
    assert_eq!(
        with_token(&ex, Method::GET, "/users/me/", &alice).await.2["full_name"],
        "Alice Wonderson"
    );
}

#[tokio::test]
async fn oauth2_jwt_refuses_bad_logins_alike() {
    let ex = start("oauth2_jwt");
    let incorrect = (
        401,
        Some("Bearer".to_owned()),
        json!({"detail": "Incorrect username or password"}),
        Some("no-store".to_owned()),
    );
    for (user, password) in [
        ("johndoe", "wrong"),
        ("nobody", "secret"),
        ("alice", "Secret"),
        ("alice", "secret "),
    ] {
        assert_eq!(
            token(&ex, &[("username", user), ("password", password)]).await,
            incorrect,
            "{user}"
        );
    }
    // Up to 1024 bytes a password is checked like any other; bcrypt's 72-byte limit is no error.
    let long = "s".repeat(1024);
    for user in ["johndoe", "alice"] {
        assert_eq!(
            token(&ex, &[("username", user), ("password", &long)]).await,
            incorrect
        );
    }
    let (status, _, _, _) = token(
        &ex,
        &[("username", "alice"), ("password", &"s".repeat(1025))],
    )
    .await;
    assert!((400..500).contains(&status), "{status}");
}

#[tokio::test]
async fn oauth2_jwt_form_errors_are_fastapis_422() {
    let ex = start("oauth2_jwt");
    let missing =
        |f: &str| json!({"type":"missing","loc":["body",f],"msg":"Field required","input":null});
    let (status, _, body, _) = token(&ex, &[]).await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({"detail": [missing("username"), missing("password")]})
        )
    );
    let (status, _, body, _) = token(&ex, &[("username", ""), ("password", "secret")]).await;
    assert_eq!(
        (status, body),
        (422, json!({"detail": [missing("username")]}))
    );
    let json_body = client()
        .post(ex.url("/token"))
        .json(&json!({"username":"johndoe","password":"secret"}))
        .send()
        .await
        .expect("request");
    let (status, _, body) = support::answer(json_body).await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({"detail": [missing("username"), missing("password")]})
        )
    );
    let (status, _, body, _) = token(
        &ex,
        &[
            ("username", "johndoe"),
            ("password", "secret"),
            ("grant_type", "client_credentials"),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["detail"][0]["type"], "string_pattern_mismatch");
    assert_eq!(
        token(
            &ex,
            &[
                ("username", "johndoe"),
                ("password", "secret"),
                ("grant_type", "password")
            ]
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn oauth2_jwt_refuses_every_bad_token() {
    let ex = start("oauth2_jwt");
    let key = SECRET.as_bytes();
    let hs = json!({"alg": "HS256", "typ": "JWT"});
    let later = now() + 600;
    // The contract's minimal valid token: no kid, only sub and exp.
    let valid = hs256(&hs, &json!({"sub": "johndoe", "exp": later}), key);
    assert_eq!(
        with_token(&ex, Method::GET, "/users/me/", &valid).await.0,
        200
    );

    let b64 = |v: &Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let mut tampered: Vec<String> = valid.split('.').map(str::to_owned).collect();
    tampered[1] = b64(&json!({"sub": "alice", "exp": later}));
    let bad = [
        (
            "expired now",
            hs256(&hs, &json!({"sub": "johndoe", "exp": now()}), key),
        ),
        (
            "expired",
            hs256(&hs, &json!({"sub": "johndoe", "exp": now() - 60}), key),
        ),
        (
            "future nbf",
            hs256(
                &hs,
                &json!({"sub": "johndoe", "exp": later, "nbf": later - 60}),
                key,
            ),
        ),
        ("no exp", hs256(&hs, &json!({"sub": "johndoe"}), key)),
        (
            "crit",
            hs256(
                &json!({"alg": "HS256", "crit": ["b64"], "b64": false}),
                &json!({"sub": "johndoe", "exp": later}),
                key,
            ),
        ),
        ("wrong alg", {
            use hmac::Mac as _;
            let input = format!(
                "{}.{}",
                b64(&json!({"alg": "HS512"})),
                b64(&json!({"sub": "johndoe", "exp": later}))
            );
            let mut mac = hmac::Hmac::<sha2::Sha512>::new_from_slice(key).expect("key");
            mac.update(input.as_bytes());
            use base64::Engine as _;
            format!(
                "{input}.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(mac.finalize().into_bytes())
            )
        }),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none"})),
                b64(&json!({"sub": "johndoe", "exp": later}))
            ),
        ),
        (
            "wrong key",
            hs256(
                &hs,
                &json!({"sub": "johndoe", "exp": later}),
                b"not the secret key at all, really",
            ),
        ),
        ("tampered", tampered.join(".")),
        (
            "unknown user",
            hs256(&hs, &json!({"sub": "mallory", "exp": later}), key),
        ),
        ("garbage", "not-a-jwt".to_owned()),
        ("huge", "a".repeat(60_000)),
    ];
    for (what, token) in bad {
        assert_eq!(
            with_token(&ex, Method::GET, "/users/me/", &token).await,
            could_not_validate("Bearer"),
            "{what}"
        );
    }
    // Missing credentials are another answer.
    let none = support::answer(
        client()
            .get(ex.url("/users/me/"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        none,
        (
            401,
            Some("Bearer".into()),
            json!({"detail": "Not authenticated"})
        )
    );
}

#[tokio::test]
async fn oauth2_jwt_disabled_user_is_inactive() {
    let ex = start("oauth2_jwt");
    let bob = login(&ex, "bob", "").await;
    assert_eq!(
        with_token(&ex, Method::GET, "/users/me/", &bob).await,
        (400, None, json!({"detail": "Inactive user"}))
    );
}

#[tokio::test]
async fn oauth2_jwt_without_secret_key_warns_and_still_works() {
    let ex = Example::start("oauth2_jwt", &[]);
    assert!(ex.stderr().contains("SECRET_KEY"));
    let token = login(&ex, "alice", "").await;
    assert_eq!(
        with_token(&ex, Method::GET, "/users/me/", &token).await.0,
        200
    );
    // Not signed with the well-known tutorial key.
    let forged = hs256(
        &json!({"alg": "HS256"}),
        &json!({"sub": "alice", "exp": now() + 60}),
        SECRET.as_bytes(),
    );
    assert_eq!(
        with_token(&ex, Method::GET, "/users/me/", &forged).await.0,
        401
    );
}

#[tokio::test]
async fn oauth2_jwt_documents_the_token_form() {
    let ex = start("oauth2_jwt");
    let doc: Value = client()
        .get(ex.url("/openapi.json"))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    let body = &doc["paths"]["/token"]["post"]["requestBody"];
    assert_eq!(body["required"], true);
    let schema = &body["content"]["application/x-www-form-urlencoded"]["schema"];
    assert_eq!(schema["properties"]["password"]["format"], "password");
    assert_eq!(schema["properties"]["client_secret"]["format"], "password");
    assert_eq!(schema["required"], json!(["username", "password"]));
    assert!(doc["paths"]["/token"]["post"].get("security").is_none());
    assert_eq!(
        doc["paths"]["/users/me/"]["get"]["security"],
        json!([{"OAuth2PasswordBearer": []}])
    );
}

#[tokio::test]
async fn oauth2_scopes_grants_only_allowed_scopes() {
    let ex = start("oauth2_scopes");
    let scopes = |t: &str| payload(t)["scopes"].clone();
    let alice = login(
        &ex,
        "alice",
        "items:read items:write admin users:read items:read",
    )
    .await;
    assert_eq!(scopes(&alice), json!(["items:read", "users:read"]));
    let none = login(&ex, "alice", "").await;
    assert!(
        scopes(&none).as_array().is_none_or(Vec::is_empty),
        "{}",
        payload(&none)
    );
    let john = login(&ex, "johndoe", "items:write").await;
    assert_eq!(scopes(&john), json!(["items:write"]));

    assert_eq!(
        with_token(&ex, Method::GET, "/items/", &alice).await,
        (200, None, json!([{"item_id": "1", "owner": "alice"}]))
    );
    assert_eq!(
        with_token(&ex, Method::GET, "/users/me/", &alice).await.2["username"],
        "alice"
    );
    assert_eq!(
        with_token(&ex, Method::POST, "/items/", &alice).await,
        (
            403,
            Some(r#"Bearer scope="items:write""#.into()),
            json!({"detail": "Not enough permissions"})
        )
    );
    assert_eq!(
        with_token(&ex, Method::GET, "/items/", &none).await,
        (
            403,
            Some(r#"Bearer scope="items:read""#.into()),
            json!({"detail": "Not enough permissions"})
        )
    );
    assert_eq!(
        with_token(&ex, Method::POST, "/items/", &john).await,
        (
            200,
            None,
            json!({"result": "Item created", "owner": "johndoe"})
        )
    );
}

#[tokio::test]
async fn oauth2_scopes_every_401_names_the_routes_scopes() {
    let ex = start("oauth2_scopes");
    let missing = support::answer(
        client()
            .get(ex.url("/users/me/"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(
        missing,
        (
            401,
            Some(r#"Bearer scope="users:read""#.into()),
            json!({"detail": "Not authenticated"})
        )
    );
    let bad = with_token(&ex, Method::POST, "/items/", "garbage").await;
    assert_eq!(bad, could_not_validate(r#"Bearer scope="items:write""#));
    let bob = login(&ex, "bob", "users:read").await;
    assert_eq!(
        with_token(&ex, Method::GET, "/users/me/", &bob).await,
        (400, None, json!({"detail": "Inactive user"}))
    );

    let doc: Value = client()
        .get(ex.url("/openapi.json"))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    let flow = &doc["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"];
    assert_eq!(flow["tokenUrl"], "/token");
    assert_eq!(flow["scopes"].as_object().map(|s| s.len()), Some(4));
    assert_eq!(
        doc["paths"]["/items/"]["post"]["security"],
        json!([{"OAuth2PasswordBearer": ["items:write"]}])
    );
    assert_eq!(
        doc["paths"]["/items/"]["get"]["security"],
        json!([{"OAuth2PasswordBearer": ["items:read"]}])
    );
    assert_eq!(
        doc["paths"]["/users/me/"]["get"]["security"],
        json!([{"OAuth2PasswordBearer": ["users:read"]}])
    );
}

#[tokio::test]
async fn multi_layer_accepts_a_user_or_a_system() {
    let ex = start("multi_layer");
    assert!(ex.stderr().contains("SYSTEM_API_KEY"));
    let get = |headers: Vec<(&'static str, String)>| {
        let mut request = client().get(ex.url("/dual-secured/"));
        for (k, v) in headers {
            request = request.header(k, v);
        }
        async move { support::answer(request.send().await.expect("request")).await }
    };
    let john = login(&ex, "johndoe", "").await;
    let bob = login(&ex, "bob", "").await;
    let bearer = |t: &str| ("authorization", format!("Bearer {t}"));
    let key = |k: &str| ("x-system-api-key", k.to_owned());
    let hello_user = (200, None, json!({"message": "Hello user johndoe"}));
    let hello_system = (200, None, json!({"message": "Hello system integration"}));
    let not_authenticated = (
        401,
        Some("Bearer".to_owned()),
        json!({"detail": "Not authenticated"}),
    );

    assert_eq!(get(vec![bearer(&john)]).await, hello_user);
    assert_eq!(get(vec![key("system_integration_key")]).await, hello_system);
    assert_eq!(
        get(vec![bearer(&john), key("system_integration_key")]).await,
        hello_user
    );
    assert_eq!(
        get(vec![bearer("garbage"), key("system_integration_key")]).await,
        hello_system
    );
    assert_eq!(get(vec![]).await, not_authenticated);
    assert_eq!(get(vec![bearer("garbage")]).await, not_authenticated);
    assert_eq!(get(vec![key("wrong")]).await, not_authenticated);
    assert_eq!(
        get(vec![bearer("garbage"), key("wrong")]).await,
        not_authenticated
    );
    assert_eq!(
        get(vec![bearer(&bob)]).await,
        (400, None, json!({"detail": "Inactive user"}))
    );

    let doc: Value = client()
        .get(ex.url("/openapi.json"))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    assert_eq!(
        doc["paths"]["/dual-secured/"]["get"]["security"],
        json!([{"OAuth2PasswordBearer": []}, {"APIKeyHeader": []}])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["APIKeyHeader"],
        json!({"type": "apiKey", "in": "header", "name": "X-System-API-Key"})
    );
}
