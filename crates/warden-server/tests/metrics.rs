//! `/metrics` in Prometheus' text format.

mod support;

use support::{Server, backends, client};

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

#[tokio::test]
async fn counts_requests_logins_tokens_and_hashing() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    let (id, secret) = server.add_client("metrics", &["--scope", "items:read"]);
    let login = |password: &'static str| {
        client()
            .post(server.url("/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", password),
            ])
            .send()
    };
    assert_eq!(login("wrong").await.expect("login").status(), 400);
    let tokens: serde_json::Value = login(support::ADMIN_PASSWORD)
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let refreshed = client()
        .post(server.url("/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .expect("refresh");
    assert_eq!(refreshed.status(), 200);
    let machine = client()
        .post(server.url("/token"))
        .basic_auth(&id, secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("client credentials");
    assert_eq!(machine.status(), 200);
    let access = tokens["access_token"].as_str().expect("access");
    for id in ["a1", "b2", "c3"] {
        let status = client()
            .get(server.url(&format!("/items/{id}")))
            .bearer_auth(access)
            .send()
            .await
            .expect("item")
            .status();
        assert_eq!(status, 404);
    }

    let response = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/plain; version=0.0.4"))
    );
    let text = response.text().await.expect("text");
    assert_eq!(
        value(&text, r#"warden_logins_total{outcome="success"}"#),
        1.0
    );
    assert_eq!(
        value(&text, r#"warden_logins_total{outcome="failure"}"#),
        1.0
    );
    assert_eq!(
        value(&text, r#"warden_tokens_issued_total{grant="password"}"#),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"warden_tokens_issued_total{grant="refresh_token"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            r#"warden_tokens_issued_total{grant="client_credentials"}"#
        ),
        1.0
    );
    assert_eq!(value(&text, "warden_password_hash_seconds_count"), 2.0);
    // Requests are counted by route template: three ids, one series.
    assert_eq!(
        value(
            &text,
            r#"warden_http_requests_total{route="/items/{id}",method="GET",status="404"}"#
        ),
        3.0
    );
    assert!(!text.contains("/items/a1"));
    // Invented methods never become series of their own.
    assert!(
        !text.contains("method=\"M0\"") && !text.contains("method=\"M1\""),
        "{text}"
    );
    assert!(value(&text, "warden_http_request_duration_seconds_count") >= 7.0);
}
