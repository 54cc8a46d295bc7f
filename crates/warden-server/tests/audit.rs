//! The audit log records logins, refreshes, reuse, revocations and administrative changes,
//! newest first, filterable, and never a secret.

mod support;

use support::{Server, backends, client};

fn audit(server: &Server, args: &[&str]) -> Vec<String> {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    let (ok, out, err) = server.cli(&all, None);
    assert!(ok, "{err}");
    out.lines().skip(1).map(str::to_owned).collect()
}

#[tokio::test]
async fn what_happened_is_written_down() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        server.add_user("nina", "nina-password", &["user"]);
        let form = |user: &'static str, password: &'static str| {
            client()
                .post(server.url("/token"))
                .form(&[
                    ("grant_type", "password"),
                    ("username", user),
                    ("password", password),
                ])
                .send()
        };
        assert_eq!(
            form("nina", "wrong-password")
                .await
                .expect("login")
                .status(),
            400
        );
        assert_eq!(
            form("nobody", "whatever-password")
                .await
                .expect("login")
                .status(),
            400
        );
        let tokens: serde_json::Value = form("nina", "nina-password")
            .await
            .expect("login")
            .json()
            .await
            .expect("json");
        let refresh = tokens["refresh_token"]
            .as_str()
            .expect("refresh")
            .to_owned();
        let refresh_form = |token: String| {
            client()
                .post(server.url("/token"))
                .form(&[
                    ("grant_type", "refresh_token".to_owned()),
                    ("refresh_token", token),
                ])
                .send()
        };
        assert_eq!(
            refresh_form(refresh.clone())
                .await
                .expect("refresh")
                .status(),
            200
        );
        assert_eq!(
            refresh_form(refresh.clone())
                .await
                .expect("replay")
                .status(),
            400
        );
        let access = tokens["access_token"].as_str().expect("access").to_owned();
        client()
            .post(server.url("/revoke"))
            .form(&[("token", access.as_str())])
            .send()
            .await
            .expect("revoke");

        let all = audit(&server, &[]).join("\n");
        for event in [
            "user_created",
            "login_failed",
            "login_succeeded",
            "token_refreshed",
            "refresh_token_reuse_detected",
            "token_revoked",
        ] {
            assert!(all.contains(event), "{backend}: no {event} in\n{all}");
        }
        assert!(
            all.contains("127.0.0.1"),
            "the client's address is recorded"
        );
        for secret in [
            "nina-password",
            "wrong-password",
            "whatever-password",
            refresh.as_str(),
            access.as_str(),
        ] {
            assert!(!all.contains(secret), "a secret in the audit log: {secret}");
        }
        // Newest first; filters by event and by subject (the username tried, for failed logins).
        assert!(
            audit(&server, &["--limit", "1"])[0].contains("token_revoked"),
            "{all}"
        );
        let failed = audit(&server, &["--event", "login_failed"]);
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert!(failed[0].contains("nobody") && failed[0].contains("unknown user"));
        assert!(failed[1].contains("nina") && failed[1].contains("wrong password"));
        let about_nobody = audit(&server, &["--subject", "nobody"]);
        assert_eq!(about_nobody.len(), 1);
    }
}
