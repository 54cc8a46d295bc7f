//! Clients, client credentials, revocation, introspection and discovery, with the `oauth2`
//! crate as the client where it has the operation, on SQLite and PostgreSQL.

mod support;

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, RefreshToken, RequestTokenError, ResourceOwnerPassword,
    ResourceOwnerUsername, RevocationUrl, Scope, StandardRevocableToken, TokenResponse, TokenUrl,
};
use serde_json::{Value, json};
use support::{Server, answer, backends, client};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http")
}

fn confidential(
    server: &Server,
    id: &str,
    secret: &str,
) -> BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new(id.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_token_uri(TokenUrl::new(server.url("/token")).expect("url"))
        .set_revocation_url(RevocationUrl::new(server.url("/revoke")).expect("url"))
}

type Grant = Result<
    BasicTokenResponse,
    RequestTokenError<
        oauth2::HttpClientError<reqwest::Error>,
        oauth2::StandardErrorResponse<BasicErrorResponseType>,
    >,
>;

fn error_of(result: Grant) -> BasicErrorResponseType {
    match result {
        Err(RequestTokenError::ServerResponse(e)) => e.error().clone(),
        Err(other) => panic!("not an OAuth error answer: {other:?}"),
        Ok(_) => panic!("the grant succeeded"),
    }
}

async fn user_token(server: &Server, username: &str, password: &str) -> BasicTokenResponse {
    let client = BasicClient::new(ClientId::new("anonymous".into()))
        .set_token_uri(TokenUrl::new(server.url("/token")).expect("url"));
    client
        .exchange_password(
            &ResourceOwnerUsername::new(username.into()),
            &ResourceOwnerPassword::new(password.into()),
        )
        .request_async(&http())
        .await
        .expect("login")
}

async fn introspect(
    server: &Server,
    auth: Option<(&str, &str)>,
    token: &str,
) -> (u16, Option<String>, Value) {
    let mut request = client()
        .post(server.url("/introspect"))
        .form(&[("token", token)]);
    if let Some((id, secret)) = auth {
        request = request.basic_auth(id, Some(secret));
    }
    answer(request.send().await.expect("introspect")).await
}

#[tokio::test]
async fn client_credentials_for_machines() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        let (id, secret) = server.add_client(
            "reporting",
            &["--scope", "items:read", "--scope", "users:read"],
        );
        let secret = secret.expect("a confidential client has a secret");
        assert!(secret.len() >= 43, "at least 256 bits");
        let machine = confidential(&server, &id, &secret);
        let token = machine
            .exchange_client_credentials()
            .add_scope(Scope::new("items:read".into()))
            .request_async(&http())
            .await
            .expect("client credentials");
        assert!(
            token.refresh_token().is_none(),
            "{backend}: no refresh token for client credentials"
        );
        assert_eq!(
            token
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
            Some(vec!["items:read".to_owned()])
        );
        // sub = client id.
        let (_, _, info) =
            introspect(&server, Some((&id, &secret)), token.access_token().secret()).await;
        assert_eq!(
            (
                info["active"].clone(),
                info["sub"].clone(),
                info["client_id"].clone()
            ),
            (json!(true), json!(id), json!(id))
        );
        // Only scopes within the client's set; none requested gives all of it.
        let wider = machine
            .exchange_client_credentials()
            .add_scope(Scope::new("items:write".into()))
            .request_async(&http())
            .await;
        assert_eq!(error_of(wider), BasicErrorResponseType::InvalidScope);
        let all = machine
            .exchange_client_credentials()
            .request_async(&http())
            .await
            .expect("all scopes");
        assert_eq!(all.scopes().map(|s| s.len()), Some(2));
        // client_secret_post works too.
        let post = confidential(&server, &id, &secret).set_auth_type(AuthType::RequestBody);
        assert!(
            post.exchange_client_credentials()
                .request_async(&http())
                .await
                .is_ok(),
            "{backend}"
        );
        // A wrong secret, an unknown client: invalid_client.
        let wrong = confidential(&server, &id, "not-the-secret")
            .exchange_client_credentials()
            .request_async(&http())
            .await;
        assert_eq!(error_of(wrong), BasicErrorResponseType::InvalidClient);
        let unknown = confidential(&server, "cl_nobody", &secret)
            .exchange_client_credentials()
            .request_async(&http())
            .await;
        assert_eq!(error_of(unknown), BasicErrorResponseType::InvalidClient);
        // The machine client may not log users in.
        let password = machine
            .exchange_password(
                &ResourceOwnerUsername::new("admin".into()),
                &ResourceOwnerPassword::new(support::ADMIN_PASSWORD.into()),
            )
            .request_async(&http())
            .await;
        assert_eq!(
            error_of(password),
            BasicErrorResponseType::UnauthorizedClient
        );
        // A client's token is not a user's: the user routes refuse it.
        let me = client()
            .get(server.url("/users/me"))
            .bearer_auth(token.access_token().secret())
            .send()
            .await
            .expect("me");
        assert_eq!(me.status(), 403);
        // Removed (by another process: the CLI) while the server knows it: refused at once.
        assert!(server.cli(&["client", "remove", &id], None).0);
        let removed = machine
            .exchange_client_credentials()
            .request_async(&http())
            .await;
        assert_eq!(
            error_of(removed),
            BasicErrorResponseType::InvalidClient,
            "{backend}: a removed client"
        );
    }
}

#[tokio::test]
async fn public_clients_and_client_rules_on_the_password_grant() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    let (ok, _, err) = server.cli(
        &[
            "client",
            "add",
            "bad",
            "--public",
            "--grant-type",
            "client_credentials",
        ],
        None,
    );
    assert!(!ok && err.contains("public client"), "{err}");
    let (app, secret) = server.add_client("mobile app", &["--public", "--scope", "items:read"]);
    assert!(secret.is_none());
    let public = BasicClient::new(ClientId::new(app.clone()))
        .set_token_uri(TokenUrl::new(server.url("/token")).expect("url"));
    let token = public
        .exchange_password(
            &ResourceOwnerUsername::new("admin".into()),
            &ResourceOwnerPassword::new(support::ADMIN_PASSWORD.into()),
        )
        .request_async(&http())
        .await
        .expect("login through a public client");
    // The client's scopes bound what the user gets through it.
    assert_eq!(
        token
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        Some(vec!["items:read".to_owned()])
    );
    // Its refresh token is bound to it: another client cannot use it.
    let refresh = token.refresh_token().expect("refresh").secret().clone();
    let (other, _) = server.add_client("other app", &["--public", "--scope", "items:read"]);
    let thief = BasicClient::new(ClientId::new(other))
        .set_token_uri(TokenUrl::new(server.url("/token")).expect("url"));
    let stolen = thief
        .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
        .request_async(&http())
        .await;
    assert_eq!(error_of(stolen), BasicErrorResponseType::InvalidGrant);
    assert!(
        public
            .exchange_refresh_token(&RefreshToken::new(refresh))
            .request_async(&http())
            .await
            .is_ok()
    );
    // A confidential client must prove its secret even on the password grant.
    let (confidential_id, _) = server.add_client(
        "backend",
        &["--grant-type", "password", "--scope", "items:read"],
    );
    let no_secret = BasicClient::new(ClientId::new(confidential_id))
        .set_token_uri(TokenUrl::new(server.url("/token")).expect("url"));
    let refused = no_secret
        .exchange_password(
            &ResourceOwnerUsername::new("admin".into()),
            &ResourceOwnerPassword::new(support::ADMIN_PASSWORD.into()),
        )
        .request_async(&http())
        .await;
    assert_eq!(error_of(refused), BasicErrorResponseType::InvalidClient);
    let (ok, out, _) = server.cli(&["client", "list"], None);
    assert!(
        ok && out.contains("mobile app") && out.contains("public") && out.contains("confidential"),
        "{out}"
    );
}

#[tokio::test]
async fn revocation_of_access_and_refresh_tokens() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        server.add_user("rita", "rita-password", &["user"]);
        let (id, secret) = server.add_client(
            "app",
            &[
                "--grant-type",
                "password",
                "--grant-type",
                "refresh_token",
                "--scope",
                "items:read",
            ],
        );
        let app = confidential(&server, &id, secret.as_deref().expect("secret"));
        let token = app
            .exchange_password(
                &ResourceOwnerUsername::new("rita".into()),
                &ResourceOwnerPassword::new("rita-password".into()),
            )
            .request_async(&http())
            .await
            .expect("login");
        let access = token.access_token().clone();
        let items = |token: String| {
            let request = client().get(server.url("/items")).bearer_auth(token);
            async move { request.send().await.expect("items").status().as_u16() }
        };
        assert_eq!(items(access.secret().clone()).await, 200);
        // The oauth2 crate revokes only over HTTPS (RFC 7009 §2), which `tests/tls.rs` does; here,
        // on plain HTTP, the same RFC 7009 requests are sent by hand, with hints and edge cases.
        assert!(
            app.revoke_token(StandardRevocableToken::AccessToken(access.clone()))
                .is_err(),
            "the crate refuses an http revocation URL"
        );
        let revoke = |token: &str, hint: &str| {
            let request = client()
                .post(server.url("/revoke"))
                .basic_auth(&id, secret.as_deref())
                .form(&[("token", token), ("token_type_hint", hint)]);
            async move { request.send().await.expect("revoke").status().as_u16() }
        };
        assert_eq!(revoke(access.secret(), "access_token").await, 200);
        assert_eq!(
            items(access.secret().clone()).await,
            401,
            "{backend}: a revoked access token is refused"
        );
        let refresh = token.refresh_token().expect("refresh").clone();
        assert_eq!(revoke(refresh.secret(), "refresh_token").await, 200);
        let again = app
            .exchange_refresh_token(&refresh)
            .request_async(&http())
            .await;
        assert_eq!(
            error_of(again),
            BasicErrorResponseType::InvalidGrant,
            "{backend}"
        );
        // Unknown tokens: 200 all the same (RFC 7009 §2.2); an unknown hint is unsupported_token_type.
        assert_eq!(revoke("no-such-token", "access_token").await, 200);
        assert_eq!(revoke("no-such-token", "id_token").await, 400);
        // Another client's token is not this client's to revoke.
        let other = user_token(&server, "rita", "rita-password").await;
        let (other_id, other_secret) = server.add_client("other", &["--grant-type", "password"]);
        let theirs = client()
            .post(server.url("/revoke"))
            .basic_auth(&other_id, other_secret.as_deref())
            .form(&[("token", other.access_token().secret().as_str())])
            .send()
            .await
            .expect("revoke");
        assert_eq!(
            theirs.status(),
            200,
            "an anonymous token may be revoked by its holder"
        );
        let apps = app
            .exchange_password(
                &ResourceOwnerUsername::new("rita".into()),
                &ResourceOwnerPassword::new("rita-password".into()),
            )
            .request_async(&http())
            .await
            .expect("login");
        let not_yours = client()
            .post(server.url("/revoke"))
            .basic_auth(&other_id, other_secret.as_deref())
            .form(&[(
                "token",
                apps.refresh_token().expect("refresh").secret().as_str(),
            )])
            .send()
            .await
            .expect("revoke");
        let (status, _, body) = answer(not_yours).await;
        assert_eq!(
            (status, body["error"].clone()),
            (400, json!("unauthorized_client")),
            "{backend}"
        );
        assert!(
            app.exchange_refresh_token(apps.refresh_token().expect("refresh"))
                .request_async(&http())
                .await
                .is_ok()
        );
    }
}

#[tokio::test]
async fn introspection_answers_only_confidential_clients_and_never_says_why() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        let (id, secret) = server.add_client("resource server", &[]);
        let secret = secret.expect("secret");
        let user = user_token(&server, "admin", support::ADMIN_PASSWORD).await;
        let access = user.access_token().secret().clone();
        let (status, _, info) = introspect(&server, Some((&id, &secret)), &access).await;
        assert_eq!(status, 200);
        assert_eq!(info["active"], true, "{backend}: {info}");
        assert_eq!(info["username"], "admin");
        assert_eq!(info["token_type"], "Bearer");
        assert!(info["scope"].as_str().is_some_and(|s| s.contains("admin")));
        assert!(
            info["exp"].is_i64()
                && info["iss"]
                    .as_str()
                    .is_some_and(|i| i.starts_with("http://127.0.0.1:"))
        );
        let refresh = user.refresh_token().expect("refresh").secret().clone();
        let (_, _, info) = introspect(&server, Some((&id, &secret)), &refresh).await;
        assert_eq!(
            (info["active"].clone(), info["token_type"].clone()),
            (json!(true), json!("refresh_token"))
        );

        // Expired (signed with the server's own key), forged, garbage, revoked: {"active": false}.
        let key_file = std::fs::read_dir(server.data_dir().join("keys"))
            .expect("keys")
            .next()
            .expect("a key")
            .expect("entry")
            .path();
        let pem = std::fs::read(&key_file).expect("pem");
        let encoding = jsonwebtoken::EncodingKey::from_ed_pem(&pem).expect("key");
        let now = warden::token::now();
        let expired = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
            &json!({"sub": "x", "exp": now - 60, "iat": now - 1000, "tid": "default", "iss": server.base}),
            &encoding,
        )
        .expect("sign");
        let mut forged: Vec<&str> = access.split('.').collect();
        let other_payload = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(json!({"sub": "root", "exp": now + 600}).to_string())
        };
        forged[1] = &other_payload;
        let forged = forged.join(".");
        for token in [expired.as_str(), forged.as_str(), "garbage", ""] {
            let (status, _, info) = introspect(&server, Some((&id, &secret)), token).await;
            if token.is_empty() {
                assert_eq!(status, 400, "a missing token is invalid_request");
            } else {
                assert_eq!(info, json!({"active": false}), "{backend}: {token}");
            }
        }
        let revoke = client()
            .post(server.url("/revoke"))
            .form(&[("token", access.as_str())])
            .send()
            .await
            .expect("revoke");
        assert_eq!(revoke.status(), 200);
        assert_eq!(
            introspect(&server, Some((&id, &secret)), &access).await.2,
            json!({"active": false})
        );

        // Only an authenticated confidential client may ask: 401 invalid_client with a Basic challenge.
        for auth in [
            None,
            Some((id.as_str(), "wrong")),
            Some(("cl_unknown", secret.as_str())),
        ] {
            let (status, challenge, body) = introspect(&server, auth, &refresh).await;
            assert_eq!(
                (status, body["error"].clone()),
                (401, json!("invalid_client")),
                "{auth:?}"
            );
            assert!(challenge.is_some_and(|c| c.starts_with("Basic")));
        }
        let (public, _) = server.add_client("spa", &["--public"]);
        assert_eq!(
            introspect(&server, Some((&public, "")), &refresh).await.0,
            401
        );
    }
}

#[tokio::test]
async fn discovery_and_a_jwks_that_verifies_tokens() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    let metadata: Value = server
        .get_json("/.well-known/oauth-authorization-server")
        .await;
    assert_eq!(metadata["issuer"], server.base);
    for (field, path) in [
        ("token_endpoint", "/token"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ] {
        assert_eq!(metadata[field], server.url(path), "{field}");
    }
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .is_some_and(|g| g.contains(&json!("client_credentials")))
    );
    assert!(
        metadata["scopes_supported"]
            .as_array()
            .is_some_and(|s| s.contains(&json!("items:read")))
    );
    assert!(
        metadata["token_endpoint_auth_methods_supported"]
            .as_array()
            .is_some_and(|m| m.contains(&json!("client_secret_basic")))
    );

    // A key from the JWKS verifies an access token, using nothing but jsonwebtoken.
    let token = user_token(&server, "admin", support::ADMIN_PASSWORD)
        .await
        .access_token()
        .secret()
        .clone();
    let jwks: jsonwebtoken::jwk::JwkSet = server.get_json("/.well-known/jwks.json").await;
    let kid = jsonwebtoken::decode_header(&token)
        .expect("header")
        .kid
        .expect("kid");
    let jwk = jwks.find(&kid).expect("the token's key is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("decoding key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&[server.base.as_str()]);
    let data = jsonwebtoken::decode::<Value>(&token, &key, &validation).expect("verifies");
    assert_eq!(data.claims["preferred_username"], "admin");
    // After a rotation both keys are published.
    assert!(server.cli(&["keys", "rotate"], None).0);
}

#[tokio::test]
async fn every_route_that_answers_401_documents_its_security() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    let doc: Value = server.get_json("/openapi.json").await;
    assert_eq!(
        doc["paths"]["/introspect"]["post"]["security"],
        json!([{"clientBasic": []}])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["clientBasic"],
        json!({"type": "http", "scheme": "basic", "description": "OAuth client id and secret (RFC 6749 §2.3.1)."})
    );
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let url = server.url(&path.replace("{id}", "some-id"));
            let method =
                reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let response = client()
                .request(method.clone(), url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("token=x")
                .send()
                .await
                .expect("request");
            if response.status() == 401 {
                assert!(
                    operation
                        .get("security")
                        .is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty())),
                    "{method} {path}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 7, "only {checked} protected operations found");
}
