//! HTTPS (`--tls-cert`, `--tls-key`): what OAuth clients that insist on it (RFC 7009 §2: "Clients
//! MUST verify that the URL is an HTTPS URL") see, with the `oauth2` crate as the client.

mod support;

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    ClientId, ClientSecret, RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername,
    RevocationUrl, StandardRevocableToken, TokenResponse, TokenUrl,
};
use support::{Server, backends};

#[tokio::test]
async fn the_oauth2_crate_revokes_access_and_refresh_tokens_over_https() {
    for (backend, url) in backends().await {
        let server = Server::start_tls(backend, &url, &[]);
        assert!(
            server.base.starts_with("https://127.0.0.1:"),
            "{}",
            server.base
        );
        let https = server.https();
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
        let app = BasicClient::new(ClientId::new(id))
            .set_client_secret(ClientSecret::new(secret.expect("secret")))
            .set_token_uri(TokenUrl::new(server.url("/token")).expect("url"))
            .set_revocation_url(RevocationUrl::new(server.url("/revoke")).expect("url"));
        let (username, password) = (
            ResourceOwnerUsername::new("rita".into()),
            ResourceOwnerPassword::new("rita-password".into()),
        );
        let login = || {
            app.exchange_password(&username, &password)
                .request_async(&https)
        };
        let items = |token: &str| {
            let request = https.get(server.url("/items")).bearer_auth(token);
            async move { request.send().await.expect("items").status().as_u16() }
        };

        // An access token, revoked by the crate: the API refuses it from the next request.
        let token = login().await.expect("login");
        let access = token.access_token().clone();
        assert_eq!(items(access.secret()).await, 200);
        app.revoke_token(StandardRevocableToken::AccessToken(access.clone()))
            .expect("an https revocation URL")
            .request_async(&https)
            .await
            .expect("revoked");
        assert_eq!(items(access.secret()).await, 401, "{backend}");

        // A refresh token, revoked by the crate: it cannot refresh any more.
        let token = login().await.expect("login");
        let refresh = token.refresh_token().expect("refresh token").clone();
        app.revoke_token(StandardRevocableToken::RefreshToken(refresh.clone()))
            .expect("an https revocation URL")
            .request_async(&https)
            .await
            .expect("revoked");
        match app
            .exchange_refresh_token(&refresh)
            .request_async(&https)
            .await
        {
            Err(RequestTokenError::ServerResponse(e)) => {
                assert_eq!(
                    e.error(),
                    &BasicErrorResponseType::InvalidGrant,
                    "{backend}"
                )
            }
            other => panic!("{backend}: a revoked refresh token refreshed: {other:?}"),
        }

        // An unknown token is revoked all the same (RFC 7009 §2.2).
        app.revoke_token(StandardRevocableToken::AccessToken(
            oauth2::AccessToken::new("no-such-token".into()),
        ))
        .expect("an https revocation URL")
        .request_async(&https)
        .await
        .expect("200 for an unknown token");

        // The metadata names the https endpoints.
        let metadata: serde_json::Value = server
            .get_json("/.well-known/oauth-authorization-server")
            .await;
        assert_eq!(metadata["issuer"], server.base.as_str());
        assert_eq!(
            metadata["revocation_endpoint"],
            server.url("/revoke").as_str()
        );
    }
}

#[tokio::test]
async fn plain_http_to_the_https_port_gets_nothing_readable() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start_tls(backend, &url, &[]);
    let plain = server.base.replacen("https://", "http://", 1);
    let answer = support::client()
        .get(format!("{plain}/healthz"))
        .send()
        .await;
    assert!(
        answer.as_ref().map_or(true, |r| !r.status().is_success()),
        "{answer:?}"
    );
    // And a client that does not trust the certificate refuses the server.
    assert!(
        support::client()
            .get(server.url("/healthz"))
            .send()
            .await
            .is_err()
    );
    assert_eq!(
        server
            .https()
            .get(server.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        200
    );
}

#[test]
fn a_bad_certificate_or_a_missing_key_stops_the_start_with_a_reason() {
    let dir = std::env::temp_dir().join(format!("warden-tls-{}", warden_server::store::new_id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("bad.crt"), "not a certificate").expect("write");
    let run = |args: &[&str]| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("--data-dir")
            .arg(&dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("WARDEN_ADMIN_PASSWORD", support::ADMIN_PASSWORD)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run");
        // A server that starts anyway would never exit: fail the test instead of hanging.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while child.try_wait().expect("wait").is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("warden started with {args:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = child.wait_with_output().expect("output");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let bad = dir.join("bad.crt").display().to_string();
    let missing = dir.join("missing.key").display().to_string();
    let (ok, err) = run(&["--tls-cert", &bad, "--tls-key", &missing]);
    assert!(!ok && err.contains("cannot serve HTTPS"), "{err}");
    let (ok, err) = run(&["--tls-cert", &bad]);
    assert!(!ok && err.contains("--tls-key"), "{err}");
    // Nothing was made by the failed starts: the first real start still creates the admin.
    assert!(!dir.join("warden.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
