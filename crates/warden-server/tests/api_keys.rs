//! API keys on the protected API, beside bearer tokens, on SQLite and PostgreSQL.

mod support;

use serde_json::{Value, json};
use support::{Server, answer, backends, client};

fn create_key(server: &Server, args: &[&str]) -> (String, String) {
    let mut all = vec!["apikey", "create"];
    all.extend_from_slice(args);
    let (ok, out, err) = server.cli(&all, None);
    assert!(ok, "{out} {err}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|r| r.split_whitespace().next())
            .map(str::to_owned)
    };
    (field("api key:").expect("key"), field("id:").expect("id"))
}

async fn with_key(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    key: &str,
) -> (u16, Option<String>, Value) {
    let mut request = client()
        .request(method.clone(), server.url(path))
        .header("x-api-key", key);
    if method == reqwest::Method::POST {
        request = request.json(&json!({"title": "made with a key"}));
    }
    answer(request.send().await.expect("request")).await
}

#[tokio::test]
async fn a_read_key_reads_and_does_not_write() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        server.add_user("kim", "kim-password", &["user"]);
        let (key, _) = create_key(
            &server,
            &[
                "--user",
                "kim",
                "--scope",
                "items:read",
                "--name",
                "reporting",
            ],
        );
        assert!(key.starts_with("wdn_"), "{key}");
        let (status, _, body) = with_key(&server, reqwest::Method::GET, "/items", &key).await;
        assert_eq!((status, body), (200, json!([])), "{backend}");
        let (status, challenge, body) =
            with_key(&server, reqwest::Method::POST, "/items", &key).await;
        assert_eq!(
            (status, body),
            (403, json!({"detail": "Not enough permissions"})),
            "{backend}"
        );
        assert!(challenge.is_some_and(|c| c.contains("insufficient_scope")));
        let (status, _, me) = with_key(&server, reqwest::Method::GET, "/users/me", &key).await;
        assert_eq!(
            (status, me["username"].clone(), me["scopes"].clone()),
            (200, json!("kim"), json!(["items:read"]))
        );
        // A key gets no more than its owner holds.
        let (ok, _, err) = server.cli(
            &["apikey", "create", "--user", "kim", "--scope", "admin"],
            None,
        );
        assert!(!ok && err.contains("does not hold"), "{err}");
    }
}

#[tokio::test]
async fn refused_keys_answer_like_a_missing_credential() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        server.add_user("lee", "lee-password", &["user"]);
        server.add_user("max", "max-password", &["user"]);
        let missing = answer(
            client()
                .get(server.url("/items"))
                .send()
                .await
                .expect("request"),
        )
        .await;
        assert_eq!(missing.0, 401);
        let (revoked, revoked_id) = create_key(&server, &["--user", "lee"]);
        assert_eq!(
            with_key(&server, reqwest::Method::GET, "/items", &revoked)
                .await
                .0,
            200
        );
        assert!(server.cli(&["apikey", "revoke", &revoked_id], None).0);
        // Each in use (so in the server's memory) before it goes bad; the expiring one at once,
        // as it lives 1 to 2 s (whole seconds).
        let (expiring, _) = create_key(&server, &["--user", "lee", "--expires-in", "2"]);
        let use_expiring = with_key(&server, reqwest::Method::GET, "/items", &expiring).await;
        let (disabled_owner, _) = create_key(&server, &["--user", "max"]);
        assert_eq!(
            with_key(&server, reqwest::Method::GET, "/items", &disabled_owner)
                .await
                .0,
            200
        );
        assert_eq!(use_expiring.0, 200);
        assert!(server.cli(&["user", "disable", "max"], None).0);
        let (good, _) = create_key(&server, &["--user", "lee"]);
        let mut altered = good.clone();
        let last = altered.pop().expect("char");
        altered.push(if last == 'A' { 'B' } else { 'A' });
        tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
        for (what, key) in [
            ("revoked", revoked.as_str()),
            ("expired", expiring.as_str()),
            ("owner disabled", disabled_owner.as_str()),
            ("altered", altered.as_str()),
            (
                "unknown",
                "wdn_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            ),
            ("garbage", "hello"),
        ] {
            assert_eq!(
                with_key(&server, reqwest::Method::GET, "/items", key).await,
                missing,
                "{backend}: {what}"
            );
        }
        assert_eq!(
            with_key(&server, reqwest::Method::GET, "/items", &good)
                .await
                .0,
            200
        );
        let (ok, out, _) = server.cli(&["apikey", "list"], None);
        assert!(
            ok && out.contains("revoked") && out.contains("expired") && !out.contains(&good),
            "{out}"
        );
    }
}

#[tokio::test]
async fn tokens_and_keys_are_documented_as_alternatives() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    let doc: Value = server.get_json("/openapi.json").await;
    assert_eq!(
        doc["paths"]["/items"]["post"]["security"],
        json!([{"OAuth2PasswordBearer": ["items:write"]}, {"APIKeyHeader": []}])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["APIKeyHeader"]["name"],
        "X-API-Key"
    );
    // A client's key reaches no user data.
    let (id, _) = server.add_client("system", &["--scope", "items:read"]);
    let (key, _) = create_key(&server, &["--client", &id]);
    assert_eq!(
        with_key(&server, reqwest::Method::GET, "/items", &key)
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn a_key_loses_what_its_owner_loses() {
    let (backend, url) = backends().await.remove(0);
    let server = Server::start(backend, &url, &[]);
    server.add_user("olga", "olga-password", &["user"]);
    let (key, _) = create_key(
        &server,
        &[
            "--user",
            "olga",
            "--scope",
            "items:write",
            "--scope",
            "items:read",
        ],
    );
    let created = with_key(&server, reqwest::Method::POST, "/items", &key).await;
    assert_eq!(created.0, 201, "{created:?}");
    assert!(server.cli(&["user", "revoke", "olga", "user"], None).0);
    assert!(server.cli(&["user", "grant", "olga", "reader"], None).0);
    assert_eq!(
        with_key(&server, reqwest::Method::POST, "/items", &key)
            .await
            .0,
        403,
        "items:write went with the role"
    );
    assert_eq!(
        with_key(&server, reqwest::Method::GET, "/items", &key)
            .await
            .0,
        200
    );
}

// Two workers: the CLI blocks one while the callers keep going on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_under_load_is_refused_from_the_next_request() {
    for (backend, url) in backends().await {
        let server = Server::start(backend, &url, &[]);
        server.add_user("rae", "rae-password", &["user"]);
        let (key, id) = create_key(&server, &["--user", "rae"]);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut callers = Vec::new();
        for _ in 0..8 {
            let (url, key, stop) = (server.url("/items"), key.clone(), stop.clone());
            callers.push(tokio::spawn(async move {
                let http = client();
                let mut seen = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let sent = std::time::Instant::now();
                    let status = http
                        .get(&url)
                        .header("x-api-key", &key)
                        .send()
                        .await
                        .expect("request")
                        .status()
                        .as_u16();
                    seen.push((sent, status));
                }
                seen
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        // Revoked by another process (the CLI), while the server answers a stream of requests.
        assert!(server.cli(&["apikey", "revoke", &id], None).0);
        let done = std::time::Instant::now();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut before = 0;
        for caller in callers {
            for (sent, status) in caller.await.expect("caller") {
                if sent >= done {
                    assert_eq!(
                        status, 401,
                        "{backend}: a request sent after the revocation"
                    );
                } else if status == 200 {
                    before += 1;
                }
            }
        }
        assert!(before > 0, "{backend}: the key worked before");
    }
}

#[tokio::test]
async fn last_use_is_written_on_shutdown_too() {
    let (backend, url) = backends().await.remove(0);
    let mut server = Server::start(backend, &url, &[]);
    server.add_user("uma", "uma-password", &["user"]);
    let (key, id) = create_key(&server, &["--user", "uma", "--name", "nightly"]);
    let last_used = |server: &Server| {
        let (ok, out, _) = server.cli(&["apikey", "list"], None);
        assert!(ok, "{out}");
        out.lines()
            .find(|l| l.starts_with(&id))
            .and_then(|l| l.split_whitespace().nth(4))
            .map(str::to_owned)
            .expect("the key's row")
    };
    assert_eq!(last_used(&server), "-", "never used yet");
    let before = warden_server::store::now();
    assert_eq!(
        with_key(&server, reqwest::Method::GET, "/items", &key)
            .await
            .0,
        200
    );
    // Stopped before the periodic write (every 10 s): the use is written on the way out.
    assert!(server.terminate(), "a clean exit");
    let at: i64 = last_used(&server).parse().expect("a time");
    assert!(at >= before, "{at} < {before}");
}
