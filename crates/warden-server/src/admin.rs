//! The admin API under `/admin`, for callers holding the `admin` scope: users, roles, clients,
//! API keys and the audit log. Every change is written to the audit log with the caller as actor.
//! Secrets (a client secret, an API key) appear once, in the answer that creates them.

use aide::axum::ApiRouter;
use aide::axum::routing::{get, put};
use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use warden::Security;

use crate::api::{ApiError, ApiJson, ApiQuery, Caller};
use crate::app::App;
use crate::manage::{self, ManageError};
use crate::oauth::ClientIp;
use crate::store::{AuditEvent, AuditQuery, DEFAULT_TENANT, StoreError};

warden::scopes! {
    /// Everything under `/admin`.
    pub Admin = ["admin"];
}

type AdminCaller = Security<Caller, Admin>;

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid(why) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, why),
            ManageError::NotFound(why) => ApiError::new(StatusCode::NOT_FOUND, why),
            ManageError::Conflict(why) => ApiError::new(StatusCode::CONFLICT, why),
            ManageError::Store(e) => e.into(),
        }
    }
}

/// Ids warden makes are ASCII letters, digits and `_`; anything else names nothing (and never
/// reaches the database, which may not even store it: PostgreSQL refuses NUL).
fn known_id(id: &str, what: &str) -> Result<(), ApiError> {
    if !id.is_empty()
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("{what} not found"),
        ))
    }
}

/// Free text from a query string, without NUL.
fn clean(text: Option<String>, what: &str) -> Result<Option<String>, ApiError> {
    match text {
        Some(text) if text.contains('\0') || text.len() > 200 => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{what} must be at most 200 characters, without NUL"),
        )),
        text => Ok(text),
    }
}

/// The user a path names: 404 for an id that cannot exist or does not.
async fn load_user(app: &App, id: &str) -> Result<crate::store::User, ApiError> {
    known_id(id, "User")?;
    app.store
        .user(DEFAULT_TENANT, id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "User not found"),
            e => e.into(),
        })
}

async fn audit(
    app: &App,
    caller: &Caller,
    ip: &ClientIp,
    event: &str,
    subject: &str,
    detail: Option<&str>,
) {
    app.store
        .audit(
            DEFAULT_TENANT,
            event,
            Some(&caller.actor()),
            Some(subject),
            ip.0.as_deref(),
            detail,
        )
        .await;
}

// ---- users ----

/// A user, as the admin API shows it.
#[derive(Serialize, JsonSchema)]
pub struct UserOut {
    pub id: String,
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub disabled: bool,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub created_at: i64,
}

impl UserOut {
    fn new(user: crate::store::User, roles: Vec<String>, scopes: Vec<String>) -> Self {
        Self {
            roles,
            scopes,
            id: user.id,
            username: user.username,
            email: user.email,
            full_name: user.full_name,
            disabled: user.disabled,
            created_at: user.created_at,
        }
    }
}

async fn user_out(app: &App, user: crate::store::User) -> Result<UserOut, ApiError> {
    let roles = app.store.user_roles(&user.id).await?;
    let scopes = app.store.user_scopes(&user.id).await?;
    Ok(UserOut::new(user, roles, scopes))
}

/// `?limit=&offset=`
#[derive(Deserialize, JsonSchema)]
pub struct PageQuery {
    /// 1 to 500 [default: 50].
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

/// One page of a list.
#[derive(Serialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub limit: u32,
    pub offset: u32,
    pub total: i64,
}

async fn list_users(
    State(app): State<App>,
    _: AdminCaller,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<UserOut>>, ApiError> {
    let (limit, offset) = (
        page.limit.unwrap_or(50).clamp(1, 500),
        page.offset.unwrap_or(0),
    );
    let (users, total) = app.store.users_page(DEFAULT_TENANT, limit, offset).await?;
    let items = users
        .into_iter()
        .map(|u| UserOut::new(u.user, u.roles, u.scopes))
        .collect();
    Ok(Json(Page {
        items,
        limit,
        offset,
        total,
    }))
}

/// A new user.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    /// [default: user]
    #[serde(default)]
    pub roles: Vec<String>,
}

async fn create_user(
    State(app): State<App>,
    caller: AdminCaller,
    ip: ClientIp,
    ApiJson(input): ApiJson<UserCreate>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    let input = manage::UserInput {
        username: input.username,
        password: input.password,
        email: input.email,
        full_name: input.full_name,
        roles: input.roles,
    };
    let (user, roles) = manage::create_user(&app.store, &app.hasher, input).await?;
    audit(
        &app,
        &caller,
        &ip,
        "user_created",
        &user.username,
        Some(&roles.join(" ")),
    )
    .await;
    Ok((StatusCode::CREATED, Json(user_out(&app, user).await?)))
}

async fn read_user(
    State(app): State<App>,
    _: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<UserOut>, ApiError> {
    let user = load_user(&app, &id).await?;
    Ok(Json(user_out(&app, user).await?))
}

/// Changes to a user; absent fields stay as they are.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub email: Option<String>,
    pub full_name: Option<String>,
    /// Disabling revokes the user's refresh tokens.
    pub disabled: Option<bool>,
}

async fn update_user(
    State(app): State<App>,
    caller: AdminCaller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<UserUpdate>,
) -> Result<Json<UserOut>, ApiError> {
    let user = load_user(&app, &id).await?;
    manage::check_text(input.email.as_deref(), "email")?;
    manage::check_text(input.full_name.as_deref(), "full name")?;
    if input.email.is_some() || input.full_name.is_some() {
        let email = input.email.as_deref().or(user.email.as_deref());
        let full_name = input.full_name.as_deref().or(user.full_name.as_deref());
        app.store
            .update_profile(DEFAULT_TENANT, &id, email, full_name)
            .await?;
        audit(&app, &caller, &ip, "user_updated", &user.username, None).await;
    }
    if let Some(disabled) = input.disabled {
        app.store
            .set_disabled(DEFAULT_TENANT, &id, disabled)
            .await?;
        let event = if disabled {
            "user_disabled"
        } else {
            "user_enabled"
        };
        audit(&app, &caller, &ip, event, &user.username, None).await;
    }
    let user = load_user(&app, &id).await?;
    Ok(Json(user_out(&app, user).await?))
}

async fn delete_user(
    State(app): State<App>,
    caller: AdminCaller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = load_user(&app, &id).await?;
    app.store.delete_user(DEFAULT_TENANT, &id).await?;
    audit(&app, &caller, &ip, "user_deleted", &user.username, None).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The roles a user holds, replacing the current ones.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesInput {
    pub roles: Vec<String>,
}

async fn set_roles(
    State(app): State<App>,
    caller: AdminCaller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<RolesInput>,
) -> Result<Json<UserOut>, ApiError> {
    let user = load_user(&app, &id).await?;
    manage::set_roles(&app.store, &user, &input.roles).await?;
    audit(
        &app,
        &caller,
        &ip,
        "roles_set",
        &user.username,
        Some(&input.roles.join(" ")),
    )
    .await;
    Ok(Json(user_out(&app, user).await?))
}

/// A new password.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordInput {
    pub password: String,
}

async fn reset_password(
    State(app): State<App>,
    caller: AdminCaller,
    ip: ClientIp,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<PasswordInput>,
) -> Result<StatusCode, ApiError> {
    let user = load_user(&app, &id).await?;
    manage::check_password(&input.password)?;
    let hash = app
        .hasher
        .hash(&input.password)
        .await
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    app.store
        .set_password_hash(DEFAULT_TENANT, &id, &hash)
        .await?;
    audit(&app, &caller, &ip, "password_reset", &user.username, None).await;
    Ok(StatusCode::NO_CONTENT)
}

// ---- roles ----

/// A role and the scopes it grants.
#[derive(Serialize, Deserialize, JsonSchema)]
pub struct RoleOut {
    pub name: String,
    pub description: Option<String>,
    pub scopes: Vec<String>,
}

impl From<crate::store::Role> for RoleOut {
    fn from(r: crate::store::Role) -> Self {
        Self {
            name: r.name,
            description: r.description,
            scopes: r.scopes,
        }
    }
}

async fn list_roles(
    State(app): State<App>,
    _: AdminCaller,
) -> Result<Json<Vec<RoleOut>>, ApiError> {
    Ok(Json(
        app.store
            .roles(DEFAULT_TENANT)
            .await?
            .into_iter()
            .map(RoleOut::from)
            .collect(),
    ))
}

async fn create_role(
    State(app): State<App>,
    caller: AdminCaller,
    ip: ClientIp,
    ApiJson(input): ApiJson<RoleOut>,
) -> Result<(StatusCode, Json<RoleOut>), ApiError> {
    let role = manage::create_role(
        &app.store,
        &input.name,
        input.description.as_deref(),
        &input.scopes,
    )
    .await?;
    audit(
        &app,
        &caller,
        &ip,
        "role_created",
        &role.name,
        Some(&role.scopes.join(" ")),
    )
    .await;
    Ok((StatusCode::CREATED, Json(role.into())))
}

// ---- clients ----

/// A client, as listed (never its secret).
#[derive(Serialize, JsonSchema)]
pub struct ClientOut {
    pub client_id: String,
    pub name: String,
    pub confidential: bool,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub created_at: i64,
    /// Only in the answer that creates a confidential client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<crate::store::Client> for ClientOut {
    fn from(c: crate::store::Client) -> Self {
        Self {
            confidential: c.is_confidential(),
            client_id: c.id,
            name: c.name,
            grant_types: c.grant_types,
            scopes: c.scopes,
            created_at: c.created_at,
            client_secret: None,
        }
    }
}

/// A new client.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientCreate {
    pub name: String,
    #[serde(default)]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub public: bool,
}

async fn list_clients(
    State(app): State<App>,
    _: AdminCaller,
) -> Result<Json<Vec<ClientOut>>, ApiError> {
    Ok(Json(
        app.store
            .clients(DEFAULT_TENANT)
            .await?
            .into_iter()
            .map(ClientOut::from)
            .collect(),
    ))
}

async fn create_client(
    State(app): State<App>,
    caller: AdminCaller,
    ip: ClientIp,
    ApiJson(input): ApiJson<ClientCreate>,
) -> Result<(StatusCode, Json<ClientOut>), ApiError> {
    let input = manage::ClientInput {
        name: input.name,
        grant_types: input.grant_types,
        scopes: input.scopes,
        public: input.public,
    };
    let (client, secret) = manage::create_client(&app.store, &app.digester, input).await?;
    audit(
        &app,
        &caller,
        &ip,
        "client_created",
        &client.id,
        Some(&client.name),
    )
    .await;
    let mut out = ClientOut::from(client);
    out.client_secret = secret;
    Ok((StatusCode::CREATED, Json(out)))
}

async fn delete_client(
    State(app): State<App>,
    caller: AdminCaller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    known_id(&id, "Client")?;
    app.store
        .delete_client(DEFAULT_TENANT, &id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "Client not found"),
            e => e.into(),
        })?;
    audit(&app, &caller, &ip, "client_removed", &id, None).await;
    Ok(StatusCode::NO_CONTENT)
}

// ---- API keys ----

/// An API key, as listed (never the key).
#[derive(Serialize, JsonSchema)]
pub struct ApiKeyOut {
    pub id: String,
    pub name: String,
    pub owner_user_id: Option<String>,
    pub owner_client_id: Option<String>,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Only in the answer that creates the key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<crate::store::ApiKey> for ApiKeyOut {
    fn from(k: crate::store::ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            owner_user_id: k.owner_user_id,
            owner_client_id: k.owner_client_id,
            scopes: k.scopes,
            expires_at: k.expires_at,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            key: None,
        }
    }
}

/// A new API key: for a user (by username) or a client (by id).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyCreate {
    pub user: Option<String>,
    pub client_id: Option<String>,
    #[serde(default = "default_key_name")]
    pub name: String,
    /// Within the owner's scopes [default: all of them].
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Lifetime in seconds.
    pub expires_in: Option<u64>,
    /// Or an expiry time, seconds since the epoch.
    pub expires_at: Option<i64>,
}

fn default_key_name() -> String {
    "api key".into()
}

async fn list_api_keys(
    State(app): State<App>,
    _: AdminCaller,
) -> Result<Json<Vec<ApiKeyOut>>, ApiError> {
    Ok(Json(
        app.store
            .api_keys(DEFAULT_TENANT)
            .await?
            .into_iter()
            .map(ApiKeyOut::from)
            .collect(),
    ))
}

async fn create_api_key(
    State(app): State<App>,
    caller: AdminCaller,
    ip: ClientIp,
    ApiJson(input): ApiJson<ApiKeyCreate>,
) -> Result<(StatusCode, Json<ApiKeyOut>), ApiError> {
    let owner = match (input.user, input.client_id) {
        (Some(user), None) => manage::KeyOwner::User(user),
        (None, Some(client)) => manage::KeyOwner::Client(client),
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "give exactly one of user and client_id",
            ));
        }
    };
    let expires_at = match (input.expires_in, input.expires_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "give expires_in or expires_at, not both",
            ));
        }
        (Some(seconds), None) => {
            Some(crate::store::now().saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX)))
        }
        (None, at) => at,
    };
    let input = manage::ApiKeyInput {
        owner,
        name: input.name,
        scopes: input.scopes,
        expires_at,
    };
    let (record, key) = manage::create_api_key(&app.store, &app.digester, input).await?;
    audit(
        &app,
        &caller,
        &ip,
        "api_key_created",
        &record.id,
        Some(&record.name),
    )
    .await;
    let mut out = ApiKeyOut::from(record);
    out.key = Some(key);
    Ok((StatusCode::CREATED, Json(out)))
}

async fn revoke_api_key(
    State(app): State<App>,
    caller: AdminCaller,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    known_id(&id, "API key")?;
    app.store
        .revoke_api_key(DEFAULT_TENANT, &id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                ApiError::new(StatusCode::NOT_FOUND, "No active API key with that id")
            }
            e => e.into(),
        })?;
    audit(&app, &caller, &ip, "api_key_revoked", &id, None).await;
    Ok(StatusCode::NO_CONTENT)
}

// ---- audit log ----

/// `?event=&subject=&limit=&before=`
#[derive(Deserialize, JsonSchema)]
pub struct AuditParams {
    pub event: Option<String>,
    pub subject: Option<String>,
    /// 1 to 1000 [default: 50].
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    pub before: Option<String>,
}

/// Audit events, newest first.
#[derive(Serialize, JsonSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

async fn audit_log(
    State(app): State<App>,
    _: AdminCaller,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let before = match params.before.as_deref() {
        None => None,
        Some(cursor) => {
            let invalid = || {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "before must be the next of a previous page",
                )
            };
            let (at, id) = cursor.split_once(':').ok_or_else(invalid)?;
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid());
            }
            Some((at.parse().map_err(|_| invalid())?, id.to_owned()))
        }
    };
    let limit = params.limit.unwrap_or(50).clamp(1, 1000);
    let query = AuditQuery {
        event: clean(params.event, "event")?,
        subject: clean(params.subject, "subject")?,
        before,
        limit,
    };
    let items = app.store.audit_events(DEFAULT_TENANT, &query).await?;
    let next = (items.len() == limit as usize)
        .then(|| items.last().map(|e| format!("{}:{}", e.at, e.id)))
        .flatten();
    Ok(Json(AuditPage { items, next }))
}

/// The admin routes.
pub fn routes() -> ApiRouter<App> {
    ApiRouter::new()
        .api_route("/admin/users", get(list_users).post(create_user))
        .api_route(
            "/admin/users/{id}",
            get(read_user).patch(update_user).delete(delete_user),
        )
        .api_route("/admin/users/{id}/roles", put(set_roles))
        .api_route("/admin/users/{id}/password", put(reset_password))
        .api_route("/admin/roles", get(list_roles).post(create_role))
        .api_route("/admin/clients", get(list_clients).post(create_client))
        .api_route(
            "/admin/clients/{id}",
            aide::axum::routing::delete(delete_client),
        )
        .api_route("/admin/api-keys", get(list_api_keys).post(create_api_key))
        .api_route(
            "/admin/api-keys/{id}",
            aide::axum::routing::delete(revoke_api_key),
        )
        .api_route("/admin/audit", get(audit_log))
}
