//! Runs the real `warden` binary on 127.0.0.1:0, on SQLite and (when `WARDEN_TEST_DATABASE_URL`
//! is set) PostgreSQL, and drives it over HTTP and its command line.

#![allow(dead_code)] // each test file uses the part it needs

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// A running server, killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub backend: &'static str,
    data_dir: PathBuf,
    database_url: String,
    /// The certificate the server serves HTTPS with (PEM), when started with [`Server::start_tls`].
    pub certificate: Option<String>,
}

/// Every backend to run a test against.
pub async fn backends() -> Vec<(&'static str, String)> {
    warden_server::store::testing::backends().await
}

impl Server {
    pub fn start(backend: &'static str, database_url: &str, extra: &[&str]) -> Self {
        let data_dir = std::env::temp_dir().join(format!(
            "warden-server-test-{}",
            warden_server::store::new_id()
        ));
        Self::start_in(backend, database_url, extra, data_dir)
    }

    /// Starts the server on HTTPS, with a new self-signed certificate for 127.0.0.1 and
    /// localhost; [`Server::https`] trusts it.
    pub fn start_tls(backend: &'static str, database_url: &str, extra: &[&str]) -> Self {
        let data_dir = std::env::temp_dir().join(format!(
            "warden-server-test-{}",
            warden_server::store::new_id()
        ));
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let certified =
            rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
                .expect("certificate");
        let (cert, key) = (data_dir.join("tls.crt"), data_dir.join("tls.key"));
        std::fs::write(&cert, certified.cert.pem()).expect("write certificate");
        std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
        let mut args = vec![
            "--tls-cert".to_owned(),
            cert.display().to_string(),
            "--tls-key".to_owned(),
            key.display().to_string(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut server = Self::start_in(backend, database_url, &args, data_dir);
        server.certificate = Some(certified.cert.pem());
        server
    }

    /// An HTTP client that trusts this server's certificate (and no other).
    pub fn https(&self) -> reqwest::Client {
        let pem = self.certificate.as_deref().expect("started with start_tls");
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).expect("pem"))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    fn start_in(
        backend: &'static str,
        database_url: &str,
        extra: &[&str],
        data_dir: PathBuf,
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
        command
            .arg("--data-dir")
            .arg(&data_dir)
            .args([
                "--database-url",
                database_url,
                "serve",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env("WARDEN_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("WARDEN_ENV")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = command.spawn().expect("start warden");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("first line");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| panic!("warden printed no address: {line:?}"))
            .to_owned();
        std::thread::spawn(move || for _ in stdout.lines() {});
        Self {
            child,
            base,
            backend,
            data_dir,
            database_url: database_url.to_owned(),
            certificate: None,
        }
    }

    /// `GET path` as JSON (over HTTPS when started with [`Server::start_tls`]).
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let http = if self.certificate.is_some() {
            self.https()
        } else {
            client()
        };
        http.get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: not the JSON expected: {e}"))
    }

    /// Stops the server as `systemctl stop` would (SIGTERM); whether it exited cleanly.
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().is_ok_and(|status| status.success())
    }

    /// The data directory (keys, digest key, embedded database).
    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// Adds an OAuth client through the CLI; returns (client_id, client_secret).
    pub fn add_client(&self, name: &str, extra: &[&str]) -> (String, Option<String>) {
        let mut args = vec!["client", "add", name];
        args.extend_from_slice(extra);
        let (ok, out, err) = self.cli(&args, None);
        assert!(ok, "client add failed: {out} {err}");
        let field = |name: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
        };
        (
            field("client_id:").expect("client_id"),
            field("client_secret:"),
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Runs `warden <args>` against this server's database; returns (success, stdout, stderr).
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--database-url", &self.database_url])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run warden");
        if let Some(input) = stdin {
            let _ = child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes());
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("output");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Adds a user with a password and roles through the CLI.
    pub fn add_user(&self, username: &str, password: &str, roles: &[&str]) {
        let mut args = vec!["user", "add", username, "--password-stdin"];
        for role in roles {
            args.extend(["--role", role]);
        }
        let (ok, out, err) = self.cli(&args, Some(&format!("{password}\n")));
        assert!(ok, "user add failed: {out} {err}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
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
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let body = response.bytes().await.expect("body");
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, challenge, json)
}
