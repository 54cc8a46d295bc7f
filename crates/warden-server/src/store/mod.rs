//! Storage: SQLite (embedded, the default) or PostgreSQL, chosen by the URL at start.
//!
//! Both go through sqlx's `Any` driver with one schema and one set of queries, so the two
//! backends cannot drift apart: the same tests run against both. Every row belongs to a tenant.
//! SQLite runs in WAL mode with `synchronous=FULL`, so a write that was acknowledged survives a
//! crash or power loss.

use std::collections::{BTreeSet, HashMap};
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

/// The id of the tenant every row belongs to until tenants are exposed.
pub const DEFAULT_TENANT: &str = "default";

/// Storage errors.
#[derive(Debug)]
pub enum StoreError {
    /// No such row (in this tenant).
    NotFound,
    /// A unique name is taken.
    Conflict(&'static str),
    /// The database failed.
    Db(sqlx::Error),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("not found"),
            Self::Conflict(what) => write!(f, "{what} already exists"),
            Self::Db(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Self::NotFound,
            e => Self::Db(e),
        }
    }
}

fn conflict(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Db(e),
    }
}

type Result<T> = std::result::Result<T, StoreError>;

/// A new random id (128 bits, hex).
pub fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// An id that sorts in creation order (microseconds, then randomness): audit events keep their
/// order within one second.
fn time_ordered_id() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    format!("{micros:016x}{:016x}", rand::random::<u64>())
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    warden::token::now()
}

/// A user as stored.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub tenant_id: String,
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub disabled: bool,
    pub password_hash: String,
    pub created_at: i64,
}

impl User {
    fn from_row(row: &AnyRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            username: row.try_get("username")?,
            email: row.try_get("email")?,
            full_name: row.try_get("full_name")?,
            disabled: row.try_get::<i64, _>("disabled")? != 0,
            password_hash: row.try_get("password_hash")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// A user with the names of their roles and the scopes those grant, each sorted.
#[derive(Clone, Debug)]
pub struct UserWithGrants {
    pub user: User,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
}

/// What a new user is made of.
#[derive(Clone, Debug, Default)]
pub struct NewUser {
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub password_hash: String,
}

/// A role and the scopes it grants.
#[derive(Clone, Debug)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub scopes: Vec<String>,
}

/// An item of the protected API.
#[derive(Clone, Debug)]
pub struct Item {
    pub id: String,
    pub owner_id: String,
    pub title: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Item {
    fn from_row(row: &AnyRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            owner_id: row.try_get("owner_id")?,
            title: row.try_get("title")?,
            description: row.try_get("description")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// A stored refresh token (its hash, never the token).
#[derive(Clone, Debug)]
pub struct RefreshToken {
    pub id: String,
    pub tenant_id: String,
    pub family_id: String,
    pub user_id: String,
    pub scope: String,
    pub expires_at: i64,
    /// The client it was issued to, if one identified itself.
    pub client_id: Option<String>,
}

/// An OAuth client.
#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// The keyed digest of its secret; `None` for a public client.
    pub secret_digest: Option<String>,
    pub grant_types: Vec<String>,
    /// The most it may be granted.
    pub scopes: Vec<String>,
    pub created_at: i64,
}

impl Client {
    fn from_row(row: &AnyRow) -> std::result::Result<Self, sqlx::Error> {
        let split = |s: String| s.split_whitespace().map(str::to_owned).collect();
        Ok(Self {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            name: row.try_get("name")?,
            secret_digest: row.try_get("secret_digest")?,
            grant_types: split(row.try_get("grant_types")?),
            scopes: split(row.try_get("scopes")?),
            created_at: row.try_get("created_at")?,
        })
    }

    /// True for a client with a secret.
    pub fn is_confidential(&self) -> bool {
        self.secret_digest.is_some()
    }
}

/// An API key as stored (its digest, never the key).
#[derive(Clone, Debug)]
pub struct ApiKey {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub owner_user_id: Option<String>,
    pub owner_client_id: Option<String>,
    pub digest: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Whether the owning user is disabled (false for a client's key).
    pub owner_disabled: bool,
}

impl ApiKey {
    fn from_row(row: &AnyRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            name: row.try_get("name")?,
            owner_user_id: row.try_get("owner_user_id")?,
            owner_client_id: row.try_get("owner_client_id")?,
            digest: row.try_get("digest")?,
            scopes: row
                .try_get::<String, _>("scopes")?
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            expires_at: row.try_get("expires_at")?,
            created_at: row.try_get("created_at")?,
            last_used_at: row.try_get("last_used_at")?,
            revoked_at: row.try_get("revoked_at")?,
            owner_disabled: row
                .try_get::<Option<i64>, _>("owner_disabled")?
                .unwrap_or(0)
                != 0,
        })
    }
}

/// The columns of [`ApiKey::from_row`] ...
const API_KEY_COLUMNS: &str = "k.id, k.tenant_id, k.name, k.owner_user_id, k.owner_client_id, k.digest, k.scopes, \
     k.expires_at, k.created_at, k.last_used_at, k.revoked_at, u.disabled AS owner_disabled";
/// ... and where they come from.
const API_KEY_FROM: &str = "FROM api_keys k LEFT JOIN users u ON u.id = k.owner_user_id";

/// A key with its owner's status and the scopes the owner holds now: one row per scope.
static API_KEY_WITH_OWNER_SCOPES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT {API_KEY_COLUMNS}, c.scopes AS client_scopes, rs.scope AS owner_scope {API_KEY_FROM} \
         LEFT JOIN clients c ON c.id = k.owner_client_id \
         LEFT JOIN user_roles ur ON ur.user_id = k.owner_user_id \
         LEFT JOIN role_scopes rs ON rs.role_id = ur.role_id \
         WHERE k.id = $1"
    )
});

/// One audit event.
#[derive(Clone, Debug, Default, serde::Serialize, schemars::JsonSchema)]
pub struct AuditEvent {
    pub id: String,
    /// Seconds since the epoch.
    pub at: i64,
    /// What happened: `login_succeeded`, `login_failed`, `token_refreshed`,
    /// `refresh_token_reuse_detected`, `token_revoked`, `client_token_issued`, `user_created`, ...
    pub event: String,
    /// Who did it (a user id, a client id, `cli`).
    pub actor: Option<String>,
    /// Whom or what it was about (for a failed login, the username tried).
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

/// Which audit events to list.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub event: Option<String>,
    pub subject: Option<String>,
    /// Only events older than this (`at`, `id`) cursor, for the next page.
    pub before: Option<(i64, String)>,
    pub limit: u32,
}

/// What happened when a refresh token was presented.
#[derive(Debug)]
pub enum Consumed {
    /// It was valid and is now used: this caller, and only this one, may rotate it.
    Fresh(RefreshToken),
    /// It had been used (or revoked) before: a replay. Its family is now revoked.
    Reused(RefreshToken),
    /// Unknown, or expired.
    Invalid,
}

/// The database.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
}

impl Store {
    /// Connects to `sqlite://path` (created if missing) or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let is_sqlite = url.starts_with("sqlite:");
        let url = if is_sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_owned()
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if is_sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if is_sqlite {
                        // WAL lets readers run beside the writer; FULL makes each commit durable.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 5000",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }

    /// Applies the embedded migrations.
    pub async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("./migrations")
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Db(e.into()))?;
        self.ensure_tenant(DEFAULT_TENANT, "default").await
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn ensure_tenant(&self, id: &str, name: &str) -> Result<()> {
        let exists = sqlx::query("SELECT id FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(name)
                .bind(now())
                .execute(&self.pool)
                .await
                .map_err(conflict("tenant"))?;
        }
        Ok(())
    }

    // ---- users ----

    pub async fn create_user(&self, tenant: &str, user: &NewUser) -> Result<User> {
        let id = new_id();
        let t = now();
        sqlx::query(
            "INSERT INTO users (id, tenant_id, username, email, full_name, disabled, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(&user.username)
        .bind(&user.email)
        .bind(&user.full_name)
        .bind(&user.password_hash)
        .bind(t)
        .bind(t)
        .execute(&self.pool)
        .await
        .map_err(conflict("user"))?;
        self.user(tenant, &id).await
    }

    pub async fn user(&self, tenant: &str, id: &str) -> Result<User> {
        let row = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(User::from_row(&row)?)
    }

    pub async fn user_by_username(&self, tenant: &str, username: &str) -> Result<User> {
        let row = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 AND username = $2")
            .bind(tenant)
            .bind(username)
            .fetch_one(&self.pool)
            .await?;
        Ok(User::from_row(&row)?)
    }

    pub async fn users(&self, tenant: &str) -> Result<Vec<User>> {
        let rows = sqlx::query("SELECT * FROM users WHERE tenant_id = $1 ORDER BY username")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(User::from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    /// One page of users, by username, each with their roles and scopes (sorted), and the number
    /// of users: three queries for the page, not two per user.
    pub async fn users_page(
        &self,
        tenant: &str,
        limit: u32,
        offset: u32,
    ) -> Result<(Vec<UserWithGrants>, i64)> {
        let page = format!(
            "SELECT * FROM users WHERE tenant_id = $1 ORDER BY username LIMIT {} OFFSET {offset}",
            limit.clamp(1, 500)
        );
        let rows = sqlx::query(&page)
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        let grant_rows = sqlx::query(&format!(
            "SELECT ur.user_id, r.name AS role, rs.scope FROM user_roles ur \
             JOIN roles r ON r.id = ur.role_id LEFT JOIN role_scopes rs ON rs.role_id = r.id \
             WHERE ur.user_id IN (SELECT id FROM ({page}) AS page)"
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        let mut grants: HashMap<String, (BTreeSet<String>, BTreeSet<String>)> = HashMap::new();
        for row in &grant_rows {
            let entry = grants.entry(row.try_get("user_id")?).or_default();
            entry.0.insert(row.try_get("role")?);
            if let Some(scope) = row.try_get::<Option<String>, _>("scope")? {
                entry.1.insert(scope);
            }
        }
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            let user = User::from_row(row)?;
            let (roles, scopes) = grants.remove(&user.id).unwrap_or_default();
            users.push(UserWithGrants {
                user,
                roles: roles.into_iter().collect(),
                scopes: scopes.into_iter().collect(),
            });
        }
        Ok((users, total))
    }

    pub async fn update_profile(
        &self,
        tenant: &str,
        id: &str,
        email: Option<&str>,
        full_name: Option<&str>,
    ) -> Result<()> {
        let done = sqlx::query("UPDATE users SET email = $1, full_name = $2, updated_at = $3 WHERE tenant_id = $4 AND id = $5")
            .bind(email)
            .bind(full_name)
            .bind(now())
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        found(done.rows_affected())
    }

    /// Deletes a user with everything that is theirs (roles, refresh tokens, items, API keys).
    pub async fn delete_user(&self, tenant: &str, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        found(done.rows_affected())?;
        bump_credential_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_disabled(&self, tenant: &str, id: &str, disabled: bool) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET disabled = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
        )
        .bind(i64::from(disabled))
        .bind(now())
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        found(done.rows_affected())?;
        if disabled {
            // A disabled user's refresh tokens die with the account (their access tokens expire).
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        bump_credential_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_password_hash(&self, tenant: &str, id: &str, hash: &str) -> Result<()> {
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, updated_at = $2 WHERE tenant_id = $3 AND id = $4",
        )
        .bind(hash)
        .bind(now())
        .bind(tenant)
        .bind(id)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected())
    }

    /// Replaces a hash only if it is still the one that was read (a login's rehash never
    /// overwrites a password changed meanwhile).
    pub async fn upgrade_password_hash(&self, id: &str, old: &str, new: &str) -> Result<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
            .bind(new)
            .bind(id)
            .bind(old)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every scope the user's roles grant, sorted, each once.
    pub async fn user_scopes(&self, user_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT DISTINCT rs.scope FROM user_roles ur JOIN role_scopes rs ON rs.role_id = ur.role_id \
             WHERE ur.user_id = $1 ORDER BY rs.scope",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("scope"))
            .collect::<std::result::Result<_, _>>()?)
    }

    /// The names of the user's roles.
    pub async fn user_roles(&self, user_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1 ORDER BY r.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("name"))
            .collect::<std::result::Result<_, _>>()?)
    }

    pub async fn grant_role(&self, tenant: &str, user_id: &str, role: &str) -> Result<()> {
        let role = self.role(tenant, role).await?;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "INSERT INTO user_roles (user_id, role_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(user_id)
        .bind(&role.id)
        .execute(&mut *tx)
        .await?;
        // A role the user already holds changes nothing: no reason to empty every cache.
        if done.rows_affected() > 0 {
            bump_credential_revision(&mut tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn revoke_role(&self, tenant: &str, user_id: &str, role: &str) -> Result<()> {
        let role = self.role(tenant, role).await?;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2")
            .bind(user_id)
            .bind(&role.id)
            .execute(&mut *tx)
            .await?;
        found(done.rows_affected())?;
        bump_credential_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- roles ----

    pub async fn create_role(
        &self,
        tenant: &str,
        name: &str,
        description: Option<&str>,
    ) -> Result<Role> {
        sqlx::query("INSERT INTO roles (id, tenant_id, name, description) VALUES ($1, $2, $3, $4)")
            .bind(new_id())
            .bind(tenant)
            .bind(name)
            .bind(description)
            .execute(&self.pool)
            .await
            .map_err(conflict("role"))?;
        self.role(tenant, name).await
    }

    pub async fn role(&self, tenant: &str, name: &str) -> Result<Role> {
        let row = sqlx::query(
            "SELECT id, name, description FROM roles WHERE tenant_id = $1 AND name = $2",
        )
        .bind(tenant)
        .bind(name)
        .fetch_one(&self.pool)
        .await?;
        self.role_from_row(&row).await
    }

    async fn role_from_row(&self, row: &AnyRow) -> Result<Role> {
        let id: String = row.try_get("id")?;
        let scopes = sqlx::query("SELECT scope FROM role_scopes WHERE role_id = $1 ORDER BY scope")
            .bind(&id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("scope"))
            .collect::<std::result::Result<_, _>>()?;
        Ok(Role {
            id,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            scopes,
        })
    }

    pub async fn roles(&self, tenant: &str) -> Result<Vec<Role>> {
        let rows = sqlx::query(
            "SELECT id, name, description FROM roles WHERE tenant_id = $1 ORDER BY name",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        let mut roles = Vec::with_capacity(rows.len());
        for row in &rows {
            roles.push(self.role_from_row(row).await?);
        }
        Ok(roles)
    }

    pub async fn grant_scope(&self, tenant: &str, role: &str, scope: &str) -> Result<()> {
        let role = self.role(tenant, role).await?;
        if !role.scopes.iter().any(|s| s == scope) {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO role_scopes (role_id, scope) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(&role.id)
            .bind(scope)
            .execute(&mut *tx)
            .await?;
            bump_credential_revision(&mut tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    // ---- refresh tokens ----

    pub async fn insert_refresh_token(&self, token_hash: &str, token: &RefreshToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (id, tenant_id, token_hash, family_id, user_id, scope, created_at, expires_at, client_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&token.id)
        .bind(&token.tenant_id)
        .bind(token_hash)
        .bind(&token.family_id)
        .bind(&token.user_id)
        .bind(&token.scope)
        .bind(now())
        .bind(token.expires_at)
        .bind(&token.client_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A refresh token that is still usable (not used, revoked or expired), without using it.
    pub async fn active_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshToken>> {
        let row = sqlx::query(
            "SELECT id, tenant_id, family_id, user_id, scope, expires_at, client_id FROM refresh_tokens \
             WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2 \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family_id = refresh_tokens.family_id AND f.revoked_at IS NOT NULL)",
        )
        .bind(token_hash)
        .bind(now())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| refresh_token_from_row(&row))
            .transpose()
            .map_err(Into::into)
    }

    /// The family of a refresh token (used or not), for revocation.
    pub async fn refresh_token_family(&self, token_hash: &str) -> Result<Option<RefreshToken>> {
        let row = sqlx::query(
            "SELECT id, tenant_id, family_id, user_id, scope, expires_at, client_id FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| refresh_token_from_row(&row))
            .transpose()
            .map_err(Into::into)
    }

    // ---- clients ----

    pub async fn create_client(&self, client: &Client) -> Result<()> {
        sqlx::query(
            "INSERT INTO clients (id, tenant_id, name, secret_digest, grant_types, scopes, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&client.id)
        .bind(&client.tenant_id)
        .bind(&client.name)
        .bind(&client.secret_digest)
        .bind(client.grant_types.join(" "))
        .bind(client.scopes.join(" "))
        .bind(client.created_at)
        .execute(&self.pool)
        .await
        .map_err(conflict("client"))?;
        Ok(())
    }

    pub async fn client(&self, id: &str) -> Result<Client> {
        let row = sqlx::query("SELECT * FROM clients WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(Client::from_row(&row)?)
    }

    pub async fn clients(&self, tenant: &str) -> Result<Vec<Client>> {
        let rows = sqlx::query("SELECT * FROM clients WHERE tenant_id = $1 ORDER BY name, id")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(Client::from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    pub async fn delete_client(&self, tenant: &str, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM clients WHERE tenant_id = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        found(done.rows_affected())?;
        bump_credential_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- API keys ----

    pub async fn create_api_key(&self, key: &ApiKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant_id, name, owner_user_id, owner_client_id, digest, scopes, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&key.id)
        .bind(&key.tenant_id)
        .bind(&key.name)
        .bind(&key.owner_user_id)
        .bind(&key.owner_client_id)
        .bind(&key.digest)
        .bind(key.scopes.join(" "))
        .bind(key.expires_at)
        .bind(key.created_at)
        .execute(&self.pool)
        .await
        .map_err(conflict("API key"))?;
        Ok(())
    }

    /// A key with its owner's status and the scopes the owner holds now, in one round trip (the
    /// request path of every API-key call).
    pub async fn api_key_with_owner_scopes(
        &self,
        id: &str,
    ) -> Result<Option<(ApiKey, Vec<String>)>> {
        let rows = sqlx::query(&API_KEY_WITH_OWNER_SCOPES)
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let key = ApiKey::from_row(first)?;
        let mut scopes: Vec<String> = match first.try_get::<Option<String>, _>("client_scopes")? {
            Some(client_scopes) => client_scopes
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        };
        for row in &rows {
            if let Some(scope) = row.try_get::<Option<String>, _>("owner_scope")? {
                if !scopes.contains(&scope) {
                    scopes.push(scope);
                }
            }
        }
        Ok(Some((key, scopes)))
    }

    pub async fn api_keys(&self, tenant: &str) -> Result<Vec<ApiKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} {API_KEY_FROM} WHERE k.tenant_id = $1 ORDER BY k.created_at, k.id"
        ))
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(ApiKey::from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    pub async fn revoke_api_key(&self, tenant: &str, id: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
            .bind(now())
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        found(done.rows_affected())?;
        bump_credential_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The counter every change to what decides an API key's validity moves (see migration
    /// 0005): a key checked at one revision is still valid, as checked, while it reads the same.
    pub async fn credential_revision(&self) -> Result<i64> {
        let row = sqlx::query("SELECT n FROM credential_revision WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Records when keys were last used (written in batches, not on every request).
    pub async fn touch_api_keys(&self, used: &[(String, i64)]) -> Result<()> {
        for (id, at) in used {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
                .bind(at)
                .bind(id)
                .bind(at)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    // ---- audit log ----

    /// Appends an event. A failure is logged, never the caller's problem: the action it records
    /// has happened.
    pub async fn audit(
        &self,
        tenant: &str,
        event: &str,
        actor: Option<&str>,
        subject: Option<&str>,
        ip: Option<&str>,
        detail: Option<&str>,
    ) {
        let done = sqlx::query(
            "INSERT INTO audit_log (id, tenant_id, at, event, actor, subject, ip, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(time_ordered_id())
        .bind(tenant)
        .bind(now())
        .bind(event)
        .bind(actor)
        .bind(subject)
        .bind(ip)
        .bind(detail)
        .execute(&self.pool)
        .await;
        if let Err(e) = done {
            tracing::error!(error = %e, event, "cannot write the audit log");
        }
    }

    /// Events newest first, filtered and paged.
    pub async fn audit_events(&self, tenant: &str, query: &AuditQuery) -> Result<Vec<AuditEvent>> {
        let mut sql =
            "SELECT id, at, event, actor, subject, ip, detail FROM audit_log WHERE tenant_id = $1"
                .to_owned();
        let mut n = 1;
        let mut next = |sql: &mut String, clause: &str| {
            n += 1;
            sql.push_str(&clause.replace('?', &format!("${n}")));
        };
        if query.event.is_some() {
            next(&mut sql, " AND event = ?");
        }
        if query.subject.is_some() {
            next(&mut sql, " AND subject = ?");
        }
        if query.before.is_some() {
            next(&mut sql, " AND (at < ?");
            next(&mut sql, " OR (at = ?");
            next(&mut sql, " AND id < ?))");
        }
        sql.push_str(&format!(
            " ORDER BY at DESC, id DESC LIMIT {}",
            query.limit.clamp(1, 1000)
        ));
        let mut q = sqlx::query(&sql).bind(tenant);
        if let Some(event) = &query.event {
            q = q.bind(event);
        }
        if let Some(subject) = &query.subject {
            q = q.bind(subject);
        }
        if let Some((at, id)) = &query.before {
            q = q.bind(*at).bind(*at).bind(id);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r.try_get("id")?,
                    at: r.try_get("at")?,
                    event: r.try_get("event")?,
                    actor: r.try_get("actor")?,
                    subject: r.try_get("subject")?,
                    ip: r.try_get("ip")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    // ---- revoked access tokens ----

    /// Puts an access token's `jti` on the deny list until the token would have expired.
    pub async fn revoke_jti(&self, jti: &str, expires_at: i64) -> Result<()> {
        // Idempotent: revoking twice (or twice at once) is one row.
        sqlx::query("INSERT INTO revoked_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING")
            .bind(jti)
            .bind(expires_at)
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revoked tokens that could still verify (not past `exp` + leeway) and were revoked at or
    /// after `since`, with their expiry.
    pub async fn revoked_since(&self, since: i64) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT jti, expires_at FROM revoked_tokens WHERE revoked_at >= $1 AND expires_at > $2",
        )
        .bind(since)
        .bind(now() - crate::keys::LEEWAY as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("jti")?, r.try_get("expires_at")?)))
            .collect::<std::result::Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Marks a refresh token used, atomically: of several requests presenting the same token at
    /// once, exactly one gets [`Consumed::Fresh`]. A token whose family has any revoked member is
    /// never fresh: a token rotated in while its family was being revoked (a replay or `/revoke`
    /// racing a refresh) is dead on arrival. A token presented again revokes its whole
    /// family (RFC 9700 §4.14.2: the legitimate client and an attacker cannot be told apart).
    pub async fn consume_refresh_token(&self, token_hash: &str) -> Result<Consumed> {
        let t = now();
        let won = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $3 \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens f WHERE f.family_id = refresh_tokens.family_id AND f.revoked_at IS NOT NULL)",
        )
        .bind(t)
        .bind(token_hash)
        .bind(t)
        .execute(&self.pool)
        .await?;
        let row = sqlx::query(
            "SELECT id, tenant_id, family_id, user_id, scope, expires_at, used_at, revoked_at, client_id \
             FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(Consumed::Invalid);
        };
        let token = refresh_token_from_row(&row)?;
        if won.rows_affected() == 1 {
            return Ok(Consumed::Fresh(token));
        }
        let used: Option<i64> = row.try_get("used_at")?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        if used.is_some() || revoked.is_some() {
            self.revoke_family(&token.family_id).await?;
            return Ok(Consumed::Reused(token));
        }
        Ok(Consumed::Invalid)
    }

    pub async fn revoke_family(&self, family_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(family_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ---- items ----

    pub async fn items(&self, tenant: &str, owner: &str) -> Result<Vec<Item>> {
        let rows = sqlx::query(
            "SELECT * FROM items WHERE tenant_id = $1 AND owner_id = $2 ORDER BY created_at, id",
        )
        .bind(tenant)
        .bind(owner)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(Item::from_row)
            .collect::<std::result::Result<_, _>>()?)
    }

    pub async fn item(&self, tenant: &str, owner: &str, id: &str) -> Result<Item> {
        let row =
            sqlx::query("SELECT * FROM items WHERE tenant_id = $1 AND owner_id = $2 AND id = $3")
                .bind(tenant)
                .bind(owner)
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        Ok(Item::from_row(&row)?)
    }

    pub async fn create_item(
        &self,
        tenant: &str,
        owner: &str,
        title: &str,
        description: Option<&str>,
    ) -> Result<Item> {
        let id = new_id();
        let t = now();
        sqlx::query(
            "INSERT INTO items (id, tenant_id, owner_id, title, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(tenant)
        .bind(owner)
        .bind(title)
        .bind(description)
        .bind(t)
        .bind(t)
        .execute(&self.pool)
        .await?;
        self.item(tenant, owner, &id).await
    }

    pub async fn update_item(
        &self,
        tenant: &str,
        owner: &str,
        id: &str,
        title: &str,
        description: Option<&str>,
    ) -> Result<Item> {
        let done = sqlx::query(
            "UPDATE items SET title = $1, description = $2, updated_at = $3 \
             WHERE tenant_id = $4 AND owner_id = $5 AND id = $6",
        )
        .bind(title)
        .bind(description)
        .bind(now())
        .bind(tenant)
        .bind(owner)
        .bind(id)
        .execute(&self.pool)
        .await?;
        found(done.rows_affected())?;
        self.item(tenant, owner, id).await
    }

    pub async fn delete_item(&self, tenant: &str, owner: &str, id: &str) -> Result<()> {
        let done =
            sqlx::query("DELETE FROM items WHERE tenant_id = $1 AND owner_id = $2 AND id = $3")
                .bind(tenant)
                .bind(owner)
                .bind(id)
                .execute(&self.pool)
                .await?;
        found(done.rows_affected())
    }
}

/// Databases for tests: a fresh SQLite file, and a fresh PostgreSQL database on the server that
/// `WARDEN_TEST_DATABASE_URL` names (when it is set), each migrated.
#[doc(hidden)]
pub mod testing {
    use super::Store;

    /// `sqlite://` URL of a new file in the temp directory.
    pub fn sqlite_url() -> String {
        let dir = std::env::temp_dir().join(format!("warden-test-{}", super::new_id()));
        let _ = std::fs::create_dir_all(&dir);
        format!("sqlite://{}", dir.join("warden.db").display())
    }

    /// A new, empty database on the PostgreSQL server of `WARDEN_TEST_DATABASE_URL`, named after
    /// this process; databases left by test processes that have ended are dropped first.
    pub async fn postgres_url() -> Option<String> {
        let base = std::env::var("WARDEN_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let admin = Store::connect(&base)
            .await
            .expect("WARDEN_TEST_DATABASE_URL must be reachable");
        let leftovers = sqlx::query("SELECT CAST(datname AS TEXT) AS datname FROM pg_database WHERE datname LIKE 'warden_test_%'")
            .fetch_all(&admin.pool)
            .await
            .unwrap_or_default();
        for row in leftovers {
            let Ok(name) = sqlx::Row::try_get::<String, _>(&row, "datname") else {
                continue;
            };
            let pid = name
                .strip_prefix("warden_test_")
                .and_then(|rest| rest.split('_').next());
            let alive =
                pid.is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists());
            if !alive {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&admin.pool)
                    .await;
            }
        }
        let name = format!(
            "warden_test_{}_{}",
            std::process::id(),
            &super::new_id()[..12]
        );
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin.pool)
            .await
            .expect("create database");
        admin.pool.close().await;
        let (prefix, _) = base
            .rsplit_once('/')
            .expect("a database URL ends with /name");
        Some(format!("{prefix}/{name}"))
    }

    /// Every backend to test: SQLite always, PostgreSQL when configured.
    pub async fn backends() -> Vec<(&'static str, String)> {
        let mut urls = vec![("sqlite", sqlite_url())];
        if let Some(url) = postgres_url().await {
            urls.push(("postgres", url));
        }
        urls
    }
}

fn refresh_token_from_row(row: &AnyRow) -> std::result::Result<RefreshToken, sqlx::Error> {
    Ok(RefreshToken {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        family_id: row.try_get("family_id")?,
        user_id: row.try_get("user_id")?,
        scope: row.try_get("scope")?,
        expires_at: row.try_get("expires_at")?,
        client_id: row.try_get("client_id")?,
    })
}

/// Moves the credential revision, in the transaction of the change it announces: the change and
/// the announcement commit together or not at all.
async fn bump_credential_revision(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
    sqlx::query("UPDATE credential_revision SET n = n + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn found(rows: u64) -> Result<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
