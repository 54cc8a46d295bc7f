//! Administrative operations, shared by the command line and the admin API: one place checks
//! names, scopes and ownership, so both front ends refuse the same things.

use crate::oauth::client::{SecretDigester, new_client_id, new_secret};
use crate::store::{ApiKey, Client, DEFAULT_TENANT, NewUser, Role, Store, StoreError, User};

/// Why an operation was refused.
#[derive(Debug)]
pub enum ManageError {
    /// The input is not acceptable (the message says why).
    Invalid(String),
    /// Something named does not exist.
    NotFound(String),
    /// A name is taken.
    Conflict(String),
    /// The store failed.
    Store(StoreError),
}

impl std::fmt::Display for ManageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(why) | Self::NotFound(why) | Self::Conflict(why) => f.write_str(why),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ManageError {}

impl From<StoreError> for ManageError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::Conflict(format!("that {what} exists")),
            StoreError::NotFound => Self::NotFound("not found".into()),
            e => Self::Store(e),
        }
    }
}

type Result<T> = std::result::Result<T, ManageError>;

/// Maps "no such row" to a message that names what was looked for.
pub fn not_found(what: &str, name: &str) -> impl FnOnce(StoreError) -> ManageError {
    let message = format!("no {what} named {name:?}");
    move |e| match e {
        StoreError::NotFound => ManageError::NotFound(message),
        e => e.into(),
    }
}

/// A username or role name: 1 to 64 characters, no spaces or control characters.
pub fn check_name(name: &str, what: &str) -> Result<()> {
    if name.is_empty()
        || name.chars().count() > 64
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ManageError::Invalid(format!(
            "a {what} is 1 to 64 characters, without spaces"
        )));
    }
    Ok(())
}

/// Free text (an email, a full name, a role's description): at most 200 characters, no NUL
/// (which PostgreSQL cannot store).
pub fn check_text(text: Option<&str>, what: &str) -> Result<()> {
    match text {
        Some(text) if text.chars().count() > 200 || text.contains('\0') => {
            Err(ManageError::Invalid(format!(
                "{what} must be at most 200 characters, without NUL"
            )))
        }
        _ => Ok(()),
    }
}

/// A role by name; a name no role could have is not found, like any unknown one.
async fn find_role(store: &Store, name: &str) -> Result<Role> {
    let missing = || ManageError::NotFound(format!("no role named {name:?}"));
    check_name(name, "role name").map_err(|_| missing())?;
    store
        .role(DEFAULT_TENANT, name)
        .await
        .map_err(not_found("role", name))
}

/// A scope warden knows.
pub fn check_scope(scope: &str) -> Result<()> {
    if !crate::api::SCOPES.iter().any(|(name, _)| *name == scope) {
        let known: Vec<&str> = crate::api::SCOPES.iter().map(|(name, _)| *name).collect();
        return Err(ManageError::Invalid(format!(
            "unknown scope {scope:?}; the scopes are {}",
            known.join(", ")
        )));
    }
    Ok(())
}

/// A password as users may set it.
pub fn check_password(password: &str) -> Result<()> {
    if password.is_empty()
        || password.len() > warden::password::MAX_PASSWORD_BYTES
        || password.contains('\0')
    {
        return Err(ManageError::Invalid(format!(
            "a password is 1 to {} bytes, without NUL",
            warden::password::MAX_PASSWORD_BYTES
        )));
    }
    Ok(())
}

/// A new user.
pub struct UserInput {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    /// Roles to hold [default: `user`].
    pub roles: Vec<String>,
}

pub async fn create_user(
    store: &Store,
    hasher: &warden::password::PasswordHasher,
    input: UserInput,
) -> Result<(User, Vec<String>)> {
    check_name(&input.username, "username")?;
    check_password(&input.password)?;
    check_text(input.email.as_deref(), "email")?;
    check_text(input.full_name.as_deref(), "full name")?;
    let roles = if input.roles.is_empty() {
        vec!["user".to_owned()]
    } else {
        input.roles
    };
    for role in &roles {
        find_role(store, role).await?;
    }
    let password_hash = hasher
        .hash(&input.password)
        .await
        .map_err(|e| ManageError::Invalid(e.to_string()))?;
    let new = NewUser {
        username: input.username,
        email: input.email,
        full_name: input.full_name,
        password_hash,
    };
    let user = store
        .create_user(DEFAULT_TENANT, &new)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ManageError::Conflict("that username is taken".into()),
            e => e.into(),
        })?;
    for role in &roles {
        store.grant_role(DEFAULT_TENANT, &user.id, role).await?;
    }
    Ok((user, roles))
}

/// Makes a user hold exactly `roles`.
pub async fn set_roles(store: &Store, user: &User, roles: &[String]) -> Result<()> {
    for role in roles {
        find_role(store, role).await?;
    }
    for held in store.user_roles(&user.id).await? {
        if !roles.contains(&held) {
            store.revoke_role(DEFAULT_TENANT, &user.id, &held).await?;
        }
    }
    for role in roles {
        store.grant_role(DEFAULT_TENANT, &user.id, role).await?;
    }
    Ok(())
}

pub async fn create_role(
    store: &Store,
    name: &str,
    description: Option<&str>,
    scopes: &[String],
) -> Result<Role> {
    check_name(name, "role name")?;
    check_text(description, "description")?;
    for scope in scopes {
        check_scope(scope)?;
    }
    store
        .create_role(DEFAULT_TENANT, name, description)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                ManageError::Conflict(format!("a role named {name:?} exists"))
            }
            e => e.into(),
        })?;
    for scope in scopes {
        store.grant_scope(DEFAULT_TENANT, name, scope).await?;
    }
    Ok(store.role(DEFAULT_TENANT, name).await?)
}

/// A new OAuth client.
pub struct ClientInput {
    pub name: String,
    /// [default: client_credentials, or password and refresh_token for a public client]
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub public: bool,
}

/// Creates a client; a confidential one gets a secret, returned here and never again.
pub async fn create_client(
    store: &Store,
    digester: &SecretDigester,
    input: ClientInput,
) -> Result<(Client, Option<String>)> {
    if input.name.trim().is_empty() || input.name.chars().count() > 100 || input.name.contains('\0')
    {
        return Err(ManageError::Invalid(
            "a client name is 1 to 100 characters".into(),
        ));
    }
    let grant_types = match (input.grant_types.is_empty(), input.public) {
        (false, _) => input.grant_types,
        (true, false) => vec!["client_credentials".to_owned()],
        (true, true) => vec!["password".to_owned(), "refresh_token".to_owned()],
    };
    for grant in &grant_types {
        if !["client_credentials", "password", "refresh_token"].contains(&grant.as_str()) {
            return Err(ManageError::Invalid(format!(
                "unknown grant type {grant:?}; use client_credentials, password or refresh_token"
            )));
        }
    }
    if input.public && grant_types.iter().any(|g| g == "client_credentials") {
        return Err(ManageError::Invalid(
            "a public client cannot use client_credentials: it has no secret to authenticate with"
                .into(),
        ));
    }
    for scope in &input.scopes {
        check_scope(scope)?;
    }
    let secret = (!input.public).then(new_secret);
    let client = Client {
        id: new_client_id(),
        tenant_id: DEFAULT_TENANT.into(),
        name: input.name,
        secret_digest: secret.as_deref().map(|s| digester.digest(s)),
        grant_types,
        scopes: input.scopes,
        created_at: crate::store::now(),
    };
    store.create_client(&client).await?;
    Ok((client, secret))
}

/// Who owns a new API key.
pub enum KeyOwner {
    User(String),
    Client(String),
}

/// A new API key.
pub struct ApiKeyInput {
    pub owner: KeyOwner,
    pub name: String,
    /// Within the owner's scopes [default: all of them].
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
}

/// Creates an API key; the key is returned here and never again.
pub async fn create_api_key(
    store: &Store,
    digester: &SecretDigester,
    input: ApiKeyInput,
) -> Result<(ApiKey, String)> {
    if input.name.trim().is_empty() || input.name.chars().count() > 100 || input.name.contains('\0')
    {
        return Err(ManageError::Invalid(
            "an API key name is 1 to 100 characters".into(),
        ));
    }
    let named = match &input.owner {
        KeyOwner::User(name) | KeyOwner::Client(name) => name,
    };
    if named.is_empty() || named.len() > 100 || named.contains('\0') {
        return Err(ManageError::NotFound(format!("no owner named {named:?}")));
    }
    let (owner_user_id, owner_client_id, allowed) = match &input.owner {
        KeyOwner::User(username) => {
            let user = store
                .user_by_username(DEFAULT_TENANT, username)
                .await
                .map_err(not_found("user", username))?;
            let scopes = store.user_scopes(&user.id).await?;
            (Some(user.id), None, scopes)
        }
        KeyOwner::Client(id) => {
            let client = store.client(id).await.map_err(not_found("client", id))?;
            (None, Some(client.id), client.scopes)
        }
    };
    for scope in &input.scopes {
        check_scope(scope)?;
        if !allowed.contains(scope) {
            return Err(ManageError::Invalid(format!(
                "the owner does not hold the scope {scope:?}; a key only gets a subset of its owner's scopes"
            )));
        }
    }
    let now = crate::store::now();
    if input.expires_at.is_some_and(|exp| exp <= now) {
        return Err(ManageError::Invalid("that expiry is in the past".into()));
    }
    let (id, secret, key) = crate::apikeys::new_key();
    let record = ApiKey {
        id,
        tenant_id: DEFAULT_TENANT.into(),
        name: input.name,
        owner_user_id,
        owner_client_id,
        digest: digester.digest(&secret),
        scopes: if input.scopes.is_empty() {
            allowed
        } else {
            input.scopes
        },
        expires_at: input.expires_at,
        created_at: now,
        last_used_at: None,
        revoked_at: None,
        owner_disabled: false,
    };
    store.create_api_key(&record).await?;
    Ok((record, key))
}
