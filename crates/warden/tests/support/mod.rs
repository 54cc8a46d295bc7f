//! Starts the example binaries as a user would, on 127.0.0.1 with `PORT=0`, and talks to them
//! over real HTTP.

#![allow(dead_code)] // each test file uses the part it needs

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running example, killed when dropped.
pub struct Example {
    child: Child,
    pub base: String,
    stderr: Arc<Mutex<String>>,
}

fn examples_dir() -> PathBuf {
    // tests run from target/<profile>/deps; examples are built into target/<profile>/examples.
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target dir")
        .join("examples")
}

impl Example {
    /// Starts `name` with the given environment (on top of a clean one for the example's own
    /// settings) and waits until it listens.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Self {
        let path = examples_dir().join(name);
        assert!(
            path.exists(),
            "{} is not built: run `cargo test` (which builds the examples)",
            path.display()
        );
        let mut command = Command::new(&path);
        for var in [
            "SECRET_KEY",
            "API_KEY",
            "SYSTEM_API_KEY",
            "BASIC_USERNAME",
            "BASIC_PASSWORD",
        ] {
            command.env_remove(var);
        }
        command.env("PORT", "0").envs(env.iter().copied());
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let stdout = child.stdout.take().expect("stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read the example's first line");
        // Keep draining stdout so that a later line never meets a closed pipe.
        std::thread::spawn(move || for _ in stdout.lines() {});
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("{name} printed no address: {line:?}"))
            .to_owned();
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stderr.take() {
            let sink = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&line);
                        s.push('\n');
                    }
                }
            });
        }
        Self {
            child,
            base,
            stderr,
        }
    }

    /// What the example wrote on stderr so far (its warnings come before it listens).
    pub fn stderr(&self) -> String {
        std::thread::sleep(Duration::from_millis(100));
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Status, `WWW-Authenticate` and JSON body of an answer.
pub async fn answer(response: reqwest::Response) -> (u16, Option<String>, serde_json::Value) {
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap_or("<not ascii>").to_owned());
    let body = response.bytes().await.expect("body");
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, challenge, json)
}

/// A JWT built by hand: any header, any payload, signed HMAC-SHA256 with `secret`.
pub fn hs256(header: &serde_json::Value, payload: &serde_json::Value, secret: &[u8]) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let input = format!("{}.{}", b64(header), b64(payload));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("hmac key");
    mac.update(input.as_bytes());
    let signature =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{input}.{signature}")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `POST /token` with a form; returns the answer and the `Cache-Control` header.
pub async fn token(
    ex: &Example,
    form: &[(&str, &str)],
) -> (u16, Option<String>, serde_json::Value, Option<String>) {
    let response = client()
        .post(ex.url("/token"))
        .form(form)
        .send()
        .await
        .expect("token request");
    let cache = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, challenge, body) = answer(response).await;
    (status, challenge, body, cache)
}

/// Logs in and returns the access token.
pub async fn login(ex: &Example, username: &str, scope: &str) -> String {
    let (status, _, body, _) = token(
        ex,
        &[
            ("username", username),
            ("password", "secret"),
            ("scope", scope),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// GET (or another method) with a bearer token.
pub async fn with_token(
    ex: &Example,
    method: reqwest::Method,
    path: &str,
    token: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let response = client()
        .request(method, ex.url(path))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("request");
    answer(response).await
}

/// The payload of a JWT, unverified.
pub fn payload(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("json")
}
