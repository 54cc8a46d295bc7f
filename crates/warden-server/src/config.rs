//! Configuration: flags, then environment (`WARDEN_*`), then an optional TOML file, then
//! defaults. Validated once at start, with errors that say what to change.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use zeroize::Zeroizing;

/// Where the data lives: shared by every subcommand.
#[derive(Args, Clone, Debug, Default)]
pub struct StorageArgs {
    /// TOML configuration file (its settings come after flags and environment).
    #[arg(long, env = "WARDEN_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// `sqlite://path/to/file.db` or `postgres://user@host/db` [default: sqlite in the data dir].
    #[arg(
        long,
        env = "WARDEN_DATABASE_URL",
        global = true,
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Directory for the embedded database and the signing keys [default: ./warden-data].
    #[arg(long, env = "WARDEN_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

/// `warden serve` settings.
#[derive(Args, Clone, Debug, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8000].
    #[arg(long, env = "WARDEN_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// `development` or `production` (which refuses generated keys, short secrets and a missing
    /// admin password) [default: development].
    #[arg(long = "env", env = "WARDEN_ENV", value_enum)]
    pub mode: Option<Mode>,

    /// The `iss` of issued tokens [default: http://<listen>, https://<listen> with TLS].
    #[arg(long, env = "WARDEN_ISSUER")]
    pub issuer: Option<String>,

    /// Access token lifetime in seconds [default: 900].
    #[arg(long, env = "WARDEN_ACCESS_TOKEN_TTL")]
    pub access_token_ttl: Option<u64>,

    /// Refresh token lifetime in seconds [default: 2592000, 30 days].
    #[arg(long, env = "WARDEN_REFRESH_TOKEN_TTL")]
    pub refresh_token_ttl: Option<u64>,

    /// Origins allowed by CORS, comma-separated (none unless set).
    #[arg(long, env = "WARDEN_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Option<Vec<String>>,

    /// Largest request body in bytes; larger ones get 413 [default: 65536].
    #[arg(long, env = "WARDEN_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,

    /// PEM file of the signing key (Ed25519, P-256 or RSA private key, PKCS#8), instead of the
    /// keys in the data dir.
    #[arg(long, env = "WARDEN_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,

    /// PEM certificate chain to serve HTTPS with (with --tls-key); re-read when the file changes.
    #[arg(long, env = "WARDEN_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of the --tls-cert certificate.
    #[arg(long, env = "WARDEN_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

/// Development or production.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Generates what is missing (keys, the admin password) and says so.
    #[default]
    Development,
    /// Refuses to start with anything generated or weak.
    Production,
}

/// The TOML file: the same settings, snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    env: Option<Mode>,
    issuer: Option<String>,
    access_token_ttl: Option<u64>,
    refresh_token_ttl: Option<u64>,
    cors_origins: Option<Vec<String>>,
    max_body_bytes: Option<usize>,
    signing_key_file: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
}

/// Where the data is, resolved.
#[derive(Clone, Debug)]
pub struct Storage {
    pub database_url: String,
    pub data_dir: PathBuf,
    /// `WARDEN_ENV`, else the file's `env`: every subcommand that makes secrets (`client add`,
    /// `apikey create`) must refuse, as `serve` does, to generate a digest key in production.
    pub mode: Mode,
}

/// Every setting of `warden serve`, resolved and checked.
#[derive(Debug)]
pub struct Settings {
    pub storage: Storage,
    pub listen: SocketAddr,
    pub mode: Mode,
    pub issuer: Option<String>,
    pub access_token_ttl: u64,
    pub refresh_token_ttl: u64,
    pub cors_origins: Vec<http::HeaderValue>,
    pub max_body_bytes: usize,
    pub signing_key_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain and key (PEM files).
    pub tls: Option<Tls>,
    /// `WARDEN_ADMIN_PASSWORD`: from the environment only, never a flag (flags show in `ps`).
    pub admin_password: Option<Zeroizing<String>>,
    /// `WARDEN_HMAC_SECRET`: sign with HS256 and this secret instead of a key pair (environment
    /// only). Other services then cannot verify tokens themselves: prefer key pairs.
    pub hmac_secret: Option<Zeroizing<String>>,
}

/// The certificate and key files of `--tls-cert` and `--tls-key`.
#[derive(Clone, Debug)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn read_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("{} is not a valid warden configuration", path.display()))
}

impl StorageArgs {
    fn resolve_with(&self, file: &FileConfig) -> anyhow::Result<Storage> {
        let data_dir = self
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| "warden-data".into());
        let database_url = match self
            .database_url
            .clone()
            .or_else(|| file.database_url.clone())
        {
            Some(url) => url,
            None => format!("sqlite://{}", data_dir.join("warden.db").display()),
        };
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres:")
            || database_url.starts_with("postgresql:"))
        {
            bail!("--database-url must start with sqlite:// or postgres://");
        }
        let mode = match std::env::var("WARDEN_ENV") {
            Ok(text) if !text.is_empty() => Mode::from_str(&text, true).map_err(|_| {
                anyhow::anyhow!("WARDEN_ENV must be development or production, not {text:?}")
            })?,
            _ => file.env.unwrap_or_default(),
        };
        Ok(Storage {
            database_url,
            data_dir,
            mode,
        })
    }

    /// The storage settings (for the subcommands that only need the database).
    pub fn resolve(&self) -> anyhow::Result<Storage> {
        self.resolve_with(&read_file(self.config.as_deref())?)
    }
}

impl Settings {
    /// Resolves and validates `warden serve`'s settings.
    pub fn resolve(storage: &StorageArgs, serve: &ServeArgs) -> anyhow::Result<Self> {
        let file = read_file(storage.config.as_deref())?;
        let mode = serve.mode.or(file.env).unwrap_or_default();
        let access_token_ttl = serve
            .access_token_ttl
            .or(file.access_token_ttl)
            .unwrap_or(15 * 60);
        let refresh_token_ttl = serve
            .refresh_token_ttl
            .or(file.refresh_token_ttl)
            .unwrap_or(30 * 24 * 3600);
        if !(10..=24 * 3600).contains(&access_token_ttl) {
            bail!(
                "the access token lifetime must be from 10 seconds to 24 hours, not {access_token_ttl} s"
            );
        }
        if !(60..=366 * 24 * 3600).contains(&refresh_token_ttl) {
            bail!(
                "the refresh token lifetime must be from 60 seconds to a year, not {refresh_token_ttl} s"
            );
        }
        let max_body_bytes = serve
            .max_body_bytes
            .or(file.max_body_bytes)
            .unwrap_or(64 * 1024);
        if !(1024..=16 * 1024 * 1024).contains(&max_body_bytes) {
            bail!("--max-body-bytes must be from 1 KiB to 16 MiB");
        }
        let mut cors_origins = Vec::new();
        for origin in serve
            .cors_origins
            .clone()
            .or_else(|| file.cors_origins.clone())
            .unwrap_or_default()
        {
            let origin = origin.trim();
            if origin.is_empty() {
                continue;
            }
            if origin == "*" {
                bail!(
                    "a CORS origin of * would let any site use logged-in users' tokens; list the origins"
                );
            }
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                bail!(
                    "CORS origin {origin:?} must be a full origin such as https://app.example.com"
                );
            }
            cors_origins.push(
                http::HeaderValue::from_str(origin)
                    .with_context(|| format!("CORS origin {origin:?}"))?,
            );
        }
        let admin_password = std::env::var("WARDEN_ADMIN_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
            .map(Zeroizing::new);
        let hmac_secret = std::env::var("WARDEN_HMAC_SECRET")
            .ok()
            .filter(|p| !p.is_empty())
            .map(Zeroizing::new);
        if let Some(secret) = &hmac_secret {
            // RFC 7518 §3.2: an HS256 key at least as long as the hash.
            if secret.len() < 32 {
                if mode == Mode::Production {
                    bail!(
                        "production mode: WARDEN_HMAC_SECRET must be at least 32 bytes (RFC 7518 §3.2); try `openssl rand -hex 32`"
                    );
                }
                eprintln!(
                    "warning: WARDEN_HMAC_SECRET is shorter than 32 bytes; production mode would refuse it"
                );
            }
            if serve.signing_key_file.is_some() {
                bail!("set either WARDEN_HMAC_SECRET or --signing-key-file, not both");
            }
        }
        let tls = match (
            serve.tls_cert.clone().or_else(|| file.tls_cert.clone()),
            serve.tls_key.clone().or_else(|| file.tls_key.clone()),
        ) {
            (Some(cert), Some(key)) => Some(Tls { cert, key }),
            (None, None) => None,
            _ => bail!(
                "HTTPS needs both a certificate and its key: set --tls-cert and --tls-key (or tls_cert and tls_key)"
            ),
        };
        if mode == Mode::Production {
            if let Some(password) = &admin_password {
                if password.len() < 12 {
                    bail!("production mode: WARDEN_ADMIN_PASSWORD must be at least 12 characters");
                }
            }
        }
        Ok(Self {
            storage: storage.resolve_with(&file)?,
            listen: serve
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8000))),
            mode,
            issuer: serve.issuer.clone().or_else(|| file.issuer.clone()),
            access_token_ttl,
            refresh_token_ttl,
            cors_origins,
            max_body_bytes,
            signing_key_file: serve
                .signing_key_file
                .clone()
                .or_else(|| file.signing_key_file.clone()),
            tls,
            admin_password,
            hmac_secret,
        })
    }
}
