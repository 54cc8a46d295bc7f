//! The admin API: only for the `admin` scope; users, roles, clients, API keys, the audit log.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Server, answer, backends, client};

async fn token(server: &Server, username: &str, password: &str) -> String {
    let response = client()
        .post(server.url("/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .expect("login");
    let body: Value = response.json().await.expect("json");
    body["access_token"].as_str().unwrap_or_default().to_owned()
}

async fn call(
    server: &Server,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client()
        .request(method, server.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let (status, _, json) = answer(request.send().await.expect("request")).await;
    (status, json)
}

#[tokio::test]
async fn only_admins_reach_the_admin_api() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    server.add_user("pat", "pat-password", &["user"]);
    let user = token(&server, "pat", "pat-password").await;
    let (status, body) = call(&server, Method::GET, "/admin/users", &user, None).await;
    assert_eq!(
        (status, body),
        (403, json!({"detail": "Not enough permissions"}))
    );
    let anonymous = answer(
        client()
            .get(server.url("/admin/users"))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_eq!(anonymous.0, 401);
}

#[tokio::test]
async fn users_roles_clients_keys_and_the_audit_log() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        let admin = token(&server, "admin", support::ADMIN_PASSWORD).await;
        let post =
            |path: &'static str, body: Value| call(&server, Method::POST, path, &admin, Some(body));

        // Users.
        let (status, quinn) = post(
            "/admin/users",
            json!({"username": "quinn", "password": "quinn-password", "email": "q@example.com"}),
        )
        .await;
        assert_eq!(status, 201, "{backend}: {quinn}");
        assert_eq!(quinn["roles"], json!(["user"]));
        let id = quinn["id"].as_str().expect("id").to_owned();
        assert_eq!(
            post(
                "/admin/users",
                json!({"username": "quinn", "password": "another-pw"})
            )
            .await
            .0,
            409
        );
        assert_eq!(
            post(
                "/admin/users",
                json!({"username": "two words", "password": "pw-pw-pw"})
            )
            .await
            .0,
            422
        );
        assert_eq!(
            post(
                "/admin/users",
                json!({"username": "x", "password": "p", "roles": ["nope"]})
            )
            .await
            .0,
            404
        );
        assert_eq!(
            post("/admin/users", json!({"username": "y"})).await.0,
            422,
            "missing password"
        );
        let (status, page) = call(
            &server,
            Method::GET,
            "/admin/users?limit=1&offset=1",
            &admin,
            None,
        )
        .await;
        assert_eq!(
            (
                status,
                page["total"].clone(),
                page["items"].as_array().map(Vec::len)
            ),
            (200, json!(2), Some(1))
        );
        assert_eq!(
            page["items"][0]["username"], "quinn",
            "sorted by username: admin, quinn"
        );
        // A page shows each user as reading them one by one does, roles and scopes included.
        let (_, all) = call(&server, Method::GET, "/admin/users", &admin, None).await;
        for listed in all["items"].as_array().expect("items") {
            let (_, one) = call(
                &server,
                Method::GET,
                &format!("/admin/users/{}", listed["id"].as_str().expect("id")),
                &admin,
                None,
            )
            .await;
            assert_eq!(listed, &one, "{backend}");
        }
        assert_eq!(all["items"][0]["roles"], json!(["admin"]));
        assert_eq!(
            all["items"][1]["scopes"],
            json!(["items:read", "items:write", "users:read", "users:write"])
        );

        let path = format!("/admin/users/{id}");
        let (status, updated) = call(
            &server,
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"full_name": "Quinn Q", "disabled": true})),
        )
        .await;
        assert_eq!(
            (
                status,
                updated["full_name"].clone(),
                updated["disabled"].clone()
            ),
            (200, json!("Quinn Q"), json!(true))
        );
        assert_eq!(updated["email"], "q@example.com", "absent fields stay");
        assert!(
            token(&server, "quinn", "quinn-password").await.is_empty(),
            "a disabled user cannot log in"
        );
        call(
            &server,
            Method::PATCH,
            &path,
            &admin,
            Some(json!({"disabled": false})),
        )
        .await;
        let (status, _) = call(
            &server,
            Method::PUT,
            &format!("{path}/password"),
            &admin,
            Some(json!({"password": "new-quinn-password"})),
        )
        .await;
        assert_eq!(status, 204);
        assert!(
            !token(&server, "quinn", "new-quinn-password")
                .await
                .is_empty()
        );
        let (status, roles) = call(
            &server,
            Method::PUT,
            &format!("{path}/roles"),
            &admin,
            Some(json!({"roles": ["reader"]})),
        )
        .await;
        assert_eq!(
            (status, roles["roles"].clone(), roles["scopes"].clone()),
            (200, json!(["reader"]), json!(["items:read", "users:read"]))
        );

        // Roles.
        let (status, role) = post(
            "/admin/roles",
            json!({"name": "auditor", "description": "Reads", "scopes": ["items:read"]}),
        )
        .await;
        assert_eq!(
            (status, role["scopes"].clone()),
            (201, json!(["items:read"]))
        );
        assert_eq!(
            post("/admin/roles", json!({"name": "bad", "scopes": ["root"]}))
                .await
                .0,
            422
        );
        let (_, roles) = call(&server, Method::GET, "/admin/roles", &admin, None).await;
        assert_eq!(roles.as_array().map(Vec::len), Some(4));

        // Clients: the secret is in the creating answer only.
        let (status, created) = post(
            "/admin/clients",
            json!({"name": "etl", "scopes": ["items:read"]}),
        )
        .await;
        assert_eq!(status, 201);
        assert!(
            created["client_secret"]
                .as_str()
                .is_some_and(|s| s.len() >= 43)
        );
        let (_, clients) = call(&server, Method::GET, "/admin/clients", &admin, None).await;
        assert!(clients[0].get("client_secret").is_none());
        let client_id = created["client_id"].as_str().expect("id").to_owned();

        // API keys: the key is in the creating answer only; revocation takes effect at once.
        let (status, key) = post(
            "/admin/api-keys",
            json!({"user": "quinn", "scopes": ["items:read"], "expires_in": 3600}),
        )
        .await;
        assert_eq!(status, 201, "{key}");
        let secret = key["key"].as_str().expect("key").to_owned();
        let read = |key: String| {
            let request = client().get(server.url("/items")).header("x-api-key", key);
            async move { request.send().await.expect("items").status().as_u16() }
        };
        assert_eq!(read(secret.clone()).await, 200);
        let (_, keys) = call(&server, Method::GET, "/admin/api-keys", &admin, None).await;
        assert!(keys[0].get("key").is_none());
        let (status, _) = call(
            &server,
            Method::DELETE,
            &format!("/admin/api-keys/{}", key["id"].as_str().expect("id")),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 204);
        assert_eq!(read(secret).await, 401);
        assert_eq!(
            post(
                "/admin/api-keys",
                json!({"client_id": client_id, "scopes": ["admin"]})
            )
            .await
            .0,
            422
        );

        let (status, _) = call(
            &server,
            Method::DELETE,
            &format!("/admin/clients/{client_id}"),
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 204);
        let (status, _) = call(&server, Method::DELETE, &path, &admin, None).await;
        assert_eq!(status, 204);
        assert_eq!(call(&server, Method::GET, &path, &admin, None).await.0, 404);

        // The audit log: newest first, filtered, paged with a cursor.
        let (_, log) = call(&server, Method::GET, "/admin/audit?limit=3", &admin, None).await;
        assert_eq!(log["items"][0]["event"], "user_deleted", "{backend}: {log}");
        let next = log["next"].as_str().expect("a next page").to_owned();
        let (_, older) = call(
            &server,
            Method::GET,
            &format!("/admin/audit?limit=3&before={next}"),
            &admin,
            None,
        )
        .await;
        assert_eq!(log["items"][1]["event"], "client_removed");
        assert_eq!(older["items"][0]["event"], "api_key_created", "{older}");
        let (_, created) = call(
            &server,
            Method::GET,
            "/admin/audit?event=user_created&subject=quinn",
            &admin,
            None,
        )
        .await;
        assert_eq!(created["items"].as_array().map(Vec::len), Some(1));
        assert!(!created.to_string().contains("quinn-password"));
        assert_eq!(
            call(
                &server,
                Method::GET,
                "/admin/audit?before=garbage",
                &admin,
                None
            )
            .await
            .0,
            422
        );
    }
}

#[tokio::test]
async fn hostile_ids_and_filters_are_clear_4xx() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        let admin = token(&server, "admin", support::ADMIN_PASSWORD).await;
        for path in [
            "/admin/users/%00",
            "/admin/users/a%00b",
            "/admin/users/..%2F..",
            "/admin/users/ünï",
        ] {
            assert_eq!(
                call(&server, Method::GET, path, &admin, None).await.0,
                404,
                "{backend}: {path}"
            );
        }
        assert_eq!(
            call(&server, Method::DELETE, "/admin/api-keys/%00", &admin, None)
                .await
                .0,
            404
        );
        assert_eq!(
            call(&server, Method::GET, "/admin/audit?event=%00", &admin, None)
                .await
                .0,
            422,
            "{backend}"
        );
        let (status, _) = call(
            &server,
            Method::POST,
            "/admin/api-keys",
            &admin,
            Some(json!({"user": "a\u{0}b"})),
        )
        .await;
        assert_eq!(status, 404, "{backend}");
        let (status, _) = call(
            &server,
            Method::POST,
            "/admin/users",
            &admin,
            Some(json!({"username": "x", "password": "p", "extra": 1})),
        )
        .await;
        assert_eq!(status, 422, "unknown fields are refused");
        // NUL and other impossible names in roles, and NUL in free text: clear 4xx, never a
        // database error (PostgreSQL cannot store NUL).
        let (status, body) = call(
            &server,
            Method::POST,
            "/admin/users",
            &admin,
            Some(json!({"username": "nul", "password": "nul-password", "roles": ["a\u{0}b"]})),
        )
        .await;
        assert_eq!(status, 404, "{backend}: {body}");
        let (status, user) = call(
            &server,
            Method::POST,
            "/admin/users",
            &admin,
            Some(json!({"username": "nul", "password": "nul-password"})),
        )
        .await;
        assert_eq!(status, 201, "{backend}: {user}");
        let roles = format!("/admin/users/{}/roles", user["id"].as_str().expect("id"));
        for bad in ["a\u{0}b", "", "x y", &"r".repeat(100)] {
            let (status, body) = call(
                &server,
                Method::PUT,
                &roles,
                &admin,
                Some(json!({"roles": [bad]})),
            )
            .await;
            assert_eq!(status, 404, "{backend}: {bad:?} {body}");
        }
        let (status, body) = call(
            &server,
            Method::POST,
            "/admin/roles",
            &admin,
            Some(json!({"name": "nulrole", "description": "a\u{0}b", "scopes": []})),
        )
        .await;
        assert_eq!(status, 422, "{backend}: {body}");
        // A bad query parameter is a JSON 422 that names it, like a bad body field.
        for path in [
            "/admin/users?limit=abc",
            "/admin/users?offset=-1",
            "/admin/audit?limit=99999999999",
        ] {
            let (status, body) = call(&server, Method::GET, path, &admin, None).await;
            let detail = body["detail"].as_str().unwrap_or_default().to_owned();
            assert!(
                status == 422 && (detail.contains("limit") || detail.contains("offset")),
                "{backend}: {path}: {status} {body}"
            );
        }
    }
}
