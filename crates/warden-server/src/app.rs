//! The server: state, router, middleware, start-up and shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aide::axum::ApiRouter;
use aide::axum::routing::{get, post};
use anyhow::Context as _;
use arc_swap::ArcSwap;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use schemars::JsonSchema;
use serde::Serialize;
use tower_http::cors::CorsLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use warden::openapi::{ApiRouterExt, Docs};
use warden::password::PasswordHasher;
use warden::token::{Jwt, KeySet};

use crate::config::{Mode, Settings};
use crate::keys::{self, KeyDir};
use crate::store::{DEFAULT_TENANT, NewUser, Store, StoreError};

/// What every handler shares.
pub struct AppState {
    pub store: Store,
    /// Swapped when the key directory changes (rotation); reads are lock-free.
    pub jwt: ArcSwap<Jwt>,
    /// Access tokens that verified already (emptied when the keys change).
    pub verified: crate::api::verified::VerifiedTokens,
    pub hasher: PasswordHasher,
    pub access_ttl: u64,
    pub refresh_ttl: u64,
    /// The `iss` of tokens and of the server metadata.
    pub issuer: String,
    /// Keyed digests of client secrets.
    pub digester: crate::oauth::client::SecretDigester,
    pub clients: crate::oauth::client::ClientCache,
    /// Access tokens revoked before their expiry.
    pub revoked: crate::oauth::revocation::RevokedJtis,
    /// API key uses not yet written.
    pub api_keys_used: crate::apikeys::LastUsed,
    /// API keys as read from the store, with the revision they were read at.
    pub verified_keys: crate::apikeys::VerifiedKeys,
    /// The store's credential revision, read once per batch of requests that use a cached
    /// credential (API keys, clients).
    pub revision: crate::revision::Revision,
    pub metrics: crate::metrics::Metrics,
}

/// The state handlers receive.
pub type App = Arc<AppState>;

#[derive(Serialize, JsonSchema)]
struct Health {
    status: &'static str,
}

async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn readyz(State(app): State<App>) -> Response {
    match app.store.ping().await {
        Ok(()) => Json(Health { status: "ok" }).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "database unavailable",
                }),
            )
                .into_response()
        }
    }
}

/// One log line per request: method, path, status, latency. Never headers, query or body,
/// where tokens and passwords travel.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        path = %path,
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

/// The whole application.
pub fn router(app: App, settings: &Settings) -> Router {
    use crate::oauth::revocation;
    let api = ApiRouter::new()
        .api_route("/token", post(crate::oauth::token))
        .api_route("/revoke", post(revocation::revoke))
        .api_route(
            "/introspect",
            post(revocation::introspect).layer(middleware::map_response(revocation::client_errors)),
        )
        .api_route(
            "/.well-known/oauth-authorization-server",
            get(revocation::metadata),
        )
        .api_route("/.well-known/jwks.json", get(revocation::jwks))
        .merge(crate::api::routes())
        .merge(crate::admin::routes())
        .api_route("/healthz", get(healthz))
        .api_route("/readyz", get(readyz))
        .api_route("/metrics", get(crate::metrics::metrics))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            crate::metrics::track,
        ))
        .with_state(app);
    let docs = Docs::new("warden")
        .version(env!("CARGO_PKG_VERSION"))
        .description(
            "warden's auth server: OAuth2 password and refresh grants, and a protected items API.",
        );
    let mut router = api
        .with_docs(docs)
        .layer(RequestBodyLimitLayer::new(settings.max_body_bytes))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        ));
    // No CORS headers at all unless origins are configured: browsers then refuse cross-origin
    // calls (seed 004's advice: list the origins you trust).
    if !settings.cors_origins.is_empty() {
        router = router.layer(
            CorsLayer::new()
                .allow_origin(settings.cors_origins.clone())
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .max_age(Duration::from_secs(600)),
        );
    }
    router.layer(middleware::from_fn(log_request))
}

/// The default roles and the scopes they grant.
pub const DEFAULT_ROLES: [(&str, &str, &[&str]); 3] = [
    (
        "admin",
        "Everything",
        &[
            "users:read",
            "users:write",
            "items:read",
            "items:write",
            "admin",
        ],
    ),
    (
        "user",
        "A person with items",
        &["users:read", "users:write", "items:read", "items:write"],
    ),
    ("reader", "Read-only access", &["users:read", "items:read"]),
];

/// First start: the default roles, and an admin user. Returns the generated admin password, if
/// one was generated (to be shown once).
pub async fn bootstrap(
    store: &Store,
    hasher: &PasswordHasher,
    settings: &Settings,
) -> anyhow::Result<Option<String>> {
    if store.roles(DEFAULT_TENANT).await?.is_empty() {
        for (name, description, scopes) in DEFAULT_ROLES {
            store
                .create_role(DEFAULT_TENANT, name, Some(description))
                .await?;
            for scope in scopes {
                store.grant_scope(DEFAULT_TENANT, name, scope).await?;
            }
        }
    }
    match store.user_by_username(DEFAULT_TENANT, "admin").await {
        Ok(_) => return Ok(None),
        Err(StoreError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let (password, generated) = match &settings.admin_password {
        Some(password) => (password.to_string(), false),
        None if settings.mode == Mode::Production => {
            anyhow::bail!(
                "production mode: set WARDEN_ADMIN_PASSWORD for the first start (it creates the admin user)"
            )
        }
        None => (random_password(), true),
    };
    let hash = hasher
        .hash(&password)
        .await
        .context("cannot hash the admin password")?;
    let admin = NewUser {
        username: "admin".into(),
        full_name: Some("Administrator".into()),
        password_hash: hash,
        ..Default::default()
    };
    let admin = store.create_user(DEFAULT_TENANT, &admin).await?;
    store.grant_role(DEFAULT_TENANT, &admin.id, "admin").await?;
    Ok(generated.then_some(password))
}

/// A password of 128 random bits.
pub fn random_password() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The key set to start with: the configured key file, or the key directory (generating the first
/// key, except in production).
fn initial_keys(settings: &Settings) -> anyhow::Result<(KeySet, Option<KeyDir>)> {
    if let Some(secret) = &settings.hmac_secret {
        let key = warden::token::Key::hmac(warden::token::Algorithm::HS256, secret.as_bytes())?;
        return Ok((KeySet::new(key), None));
    }
    if let Some(path) = &settings.signing_key_file {
        let pem = zeroize::Zeroizing::new(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        );
        let key = keys::key_from_pem(&pem).with_context(|| format!("{}", path.display()))?;
        return Ok((KeySet::new(key), None));
    }
    let dir = KeyDir::new(&settings.storage.data_dir);
    let mut stored = dir.load()?;
    if stored.is_empty() {
        if settings.mode == Mode::Production {
            anyhow::bail!(
                "production mode: no signing key. Create one with `warden keys rotate`, or set WARDEN_SIGNING_KEY_FILE"
            );
        }
        let key = dir.generate()?;
        eprintln!("generated a signing key: {}", key.path.display());
        stored.push(key);
    }
    let set = keys::key_set(&stored, settings.access_token_ttl, crate::store::now())
        .context("no signing key")?;
    Ok((set, Some(dir)))
}

/// Opens the database: creates the data directory for an embedded database, and migrates.
pub async fn open_store(storage: &crate::config::Storage) -> anyhow::Result<Store> {
    if let Some(rest) = storage.database_url.strip_prefix("sqlite:") {
        keys::create_private_dir(&storage.data_dir)?;
        // Create the database file readable by its owner only; SQLite gives its -wal and -shm
        // files the same permissions.
        let path = std::path::Path::new(
            rest.trim_start_matches("//")
                .split('?')
                .next()
                .unwrap_or_default(),
        );
        if !path.as_os_str().is_empty() && !path.exists() && !rest.contains(":memory:") {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                keys::create_private_dir(parent)?;
            }
            keys::write_private_file(path, b"")?;
        }
    }
    let store = Store::connect(&storage.database_url)
        .await
        .context("cannot open the database")?;
    store
        .migrate()
        .await
        .context("cannot migrate the database")?;
    Ok(store)
}

/// `warden serve`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    // Checked before anything is written: a first start that fails on its certificate must not
    // have made (and not shown) the admin password.
    let tls = match &settings.tls {
        Some(files) => Some(load_tls(files).await?),
        None => None,
    };
    let store = open_store(&settings.storage).await?;
    let hasher = PasswordHasher::new();
    let (key_set, key_dir) = initial_keys(&settings)?;
    let generated_password = bootstrap(&store, &hasher, &settings).await?;
    let digester =
        crate::oauth::client::SecretDigester::load(&settings.storage.data_dir, settings.mode)?;

    let scheme = if tls.is_some() { "https" } else { "http" };

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr()?;
    let issuer = settings
        .issuer
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{address}"));
    let make_jwt = {
        let issuer = issuer.clone();
        move |set: KeySet| Jwt::new(set).issuer(issuer.clone()).leeway(keys::LEEWAY)
    };
    let app = Arc::new(AppState {
        store,
        jwt: ArcSwap::from_pointee(make_jwt(key_set)),
        verified: Default::default(),
        hasher,
        access_ttl: settings.access_token_ttl,
        refresh_ttl: settings.refresh_token_ttl,
        issuer,
        digester,
        clients: Default::default(),
        revoked: Default::default(),
        api_keys_used: Default::default(),
        verified_keys: Default::default(),
        revision: Default::default(),
        metrics: Default::default(),
    });
    tokio::spawn(crate::apikeys::flush_last_used(Arc::clone(&app)));
    tokio::spawn(crate::oauth::revocation::sync_revocations(Arc::clone(&app)));
    if let Some(dir) = key_dir {
        tokio::spawn(reload_keys(
            Arc::clone(&app),
            dir,
            settings.access_token_ttl,
            make_jwt,
        ));
    }

    // Written with errors ignored: a closed stdout (`warden serve | head -1`) must not stop the server.
    let say = |line: String| {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    say(format!("warden listening on {scheme}://{address}"));
    say(format!("  Swagger UI:  {scheme}://{address}/docs"));
    if let Some(password) = &generated_password {
        say(format!(
            "  admin user:  admin / {password}   (generated now and shown once; change it with `warden user set-password admin`)"
        ));
    }
    say(format!(
        "  log in:      curl -d grant_type=password -d username=admin -d password=... {scheme}://{address}/token"
    ));
    let service = router(Arc::clone(&app), &settings)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    match (tls, &settings.tls) {
        (Some(config), Some(files)) => {
            let handle = axum_server::Handle::new();
            tokio::spawn({
                let handle = handle.clone();
                async move {
                    shutdown_signal().await;
                    handle.graceful_shutdown(Some(Duration::from_secs(10)));
                }
            });
            tokio::spawn(reload_tls(config.clone(), files.clone()));
            axum_server::from_tcp_rustls(listener.into_std()?, config)?
                .handle(handle)
                .serve(service)
                .await?;
        }
        _ => {
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
    }
    crate::apikeys::flush(&app).await;
    tracing::info!("shut down");
    Ok(())
}

/// The certificate and key for HTTPS, checked before the server starts listening.
async fn load_tls(
    files: &crate::config::Tls,
) -> anyhow::Result<axum_server::tls_rustls::RustlsConfig> {
    // One crypto provider for the process (ring); rustls will not guess when several are linked.
    let _ = rustls::crypto::ring::default_provider().install_default();
    axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
        .await
        .with_context(|| {
            format!(
                "cannot serve HTTPS with the certificate {} and the key {}",
                files.cert.display(),
                files.key.display()
            )
        })
}

/// Rereads the certificate and key when either file changes (checked every 30 s), so a renewed
/// certificate is served without a restart. A bad pair is logged and the current one kept.
async fn reload_tls(config: axum_server::tls_rustls::RustlsConfig, files: crate::config::Tls) {
    let stamp = || {
        [&files.cert, &files.key]
            .map(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok())
    };
    let mut seen = stamp();
    let mut interval = tokio::time::interval(Duration::from_secs(30));
    interval.tick().await;
    loop {
        interval.tick().await;
        let now = stamp();
        if now == seen {
            continue;
        }
        // `seen` moves only on success: a half-written file is tried again next time.
        match config.reload_from_pem_file(&files.cert, &files.key).await {
            Ok(()) => {
                seen = now;
                tracing::info!(cert = %files.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot reload the TLS certificate; keeping the current one")
            }
        }
    }
}

/// Rereads the key directory every 30 s, so `warden keys rotate` takes effect without a restart.
async fn reload_keys(app: App, dir: KeyDir, access_ttl: u64, make_jwt: impl Fn(KeySet) -> Jwt) {
    let mut interval = tokio::time::interval(Duration::from_secs(30));
    interval.tick().await;
    loop {
        interval.tick().await;
        match dir.load() {
            Ok(stored) => {
                if let Some(set) = keys::key_set(&stored, access_ttl, crate::store::now()) {
                    let current = app.jwt.load();
                    let same = current
                        .keys()
                        .keys()
                        .iter()
                        .map(|k| k.kid())
                        .eq(set.keys().iter().map(|k| k.kid()))
                        && current.keys().signing_key().kid() == set.signing_key().kid();
                    if !same {
                        tracing::info!(kid = set.signing_key().kid(), "signing keys reloaded");
                        app.jwt.store(Arc::new(make_jwt(set)));
                        app.verified.clear();
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot reload the signing keys"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
