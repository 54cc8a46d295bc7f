//! The command line: `warden serve` (the default), and the commands that manage users, roles,
//! the database and the signing keys.

use std::io::BufRead as _;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use warden::password::PasswordHasher;

use crate::app::{open_store, random_password};
use crate::config::{ServeArgs, Settings, StorageArgs};
use crate::keys::{self, KeyDir, KeyStatus};
use crate::manage;
use crate::store::{DEFAULT_TENANT, Store};

/// warden: an OAuth2 auth server that runs on an embedded SQLite database, or on PostgreSQL.
///
/// With no command, `warden` runs `warden serve`. Settings come from flags, then WARDEN_*
/// environment variables, then the TOML file given by --config.
#[derive(Parser, Debug)]
#[command(name = "warden", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub storage: StorageArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default command).
    Serve(ServeArgs),
    /// Add, list and change users.
    #[command(subcommand)]
    User(UserCommand),
    /// Add and list roles, and the scopes they grant.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Apply the database migrations (the server also does at start).
    Migrate,
    /// List or rotate the signing keys in the data directory.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Add, list and remove OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Create, list and revoke API keys for systems.
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Show the audit log, newest first.
    Audit {
        /// Only this event (login_failed, refresh_token_reuse_detected, user_created, ...).
        #[arg(long)]
        event: Option<String>,
        /// Only events about this subject (a username, a user id...).
        #[arg(long)]
        subject: Option<String>,
        /// How many events [default: 50].
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyCommand {
    /// Create an API key for a user or a client; the key is shown once.
    Create {
        /// The user who owns the key.
        #[arg(long, conflicts_with = "client", required_unless_present = "client")]
        user: Option<String>,
        /// The client that owns the key.
        #[arg(long)]
        client: Option<String>,
        /// A name to recognise the key by.
        #[arg(long, default_value = "api key")]
        name: String,
        /// Scopes (repeatable), within the owner's [default: all of the owner's].
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, conflicts_with = "expires_at")]
        expires_in: Option<u64>,
        /// Expiry time: RFC 3339 (2027-01-31T12:00:00Z) or seconds since the epoch.
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List the API keys (never the keys themselves).
    List,
    /// Revoke an API key by its id: refused from the next request on.
    Revoke { id: String },
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Add a client. A confidential client gets a secret (256 random bits), shown once.
    Add {
        name: String,
        /// Grants it may use (repeatable): client_credentials, password, refresh_token
        /// [default: client_credentials, or password and refresh_token for --public].
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        /// The most it may be granted (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A public client (an app that cannot keep a secret): no secret, identified by its id.
        #[arg(long)]
        public: bool,
    },
    /// List the clients.
    List,
    /// Remove a client; its tokens expire on their own, its refresh tokens stop working.
    Remove { client_id: String },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user. Without --password-stdin a password is generated and shown once.
    Add {
        username: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        full_name: Option<String>,
        /// Roles to give the user (repeatable) [default: user].
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users.
    List,
    /// Show one user, with roles and scopes.
    Show { username: String },
    /// Disable a user: no more logins or refreshes (issued access tokens expire on their own).
    Disable { username: String },
    /// Enable a disabled user.
    Enable { username: String },
    /// Set a user's password (from standard input with --password-stdin, else generated).
    SetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give a user a role.
    Grant { username: String, role: String },
    /// Take a role from a user.
    Revoke { username: String, role: String },
}

#[derive(Subcommand, Debug)]
pub enum RoleCommand {
    /// Add a role.
    Add {
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Scopes the role grants (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List the roles and their scopes.
    List,
    /// Let a role grant one more scope.
    GrantScope { role: String, scope: String },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// List the signing keys and what each one does now.
    List {
        /// The access token lifetime the server uses, in seconds.
        #[arg(long, env = "WARDEN_ACCESS_TOKEN_TTL", default_value_t = 900)]
        access_token_ttl: u64,
    },
    /// Make a new signing key. The old one keeps verifying until its tokens have expired; a
    /// running server picks the new key up within 30 seconds.
    Rotate,
}

/// Runs the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        None => serve(&cli.storage, &ServeArgs::default()).await,
        Some(Command::Serve(args)) => serve(&cli.storage, &args).await,
        Some(Command::Migrate) => {
            let storage = cli.storage.resolve()?;
            open_store(&storage).await?;
            println!("database is up to date: {}", redact(&storage.database_url));
            Ok(())
        }
        Some(Command::User(command)) => {
            user(&open_store(&cli.storage.resolve()?).await?, command).await
        }
        Some(Command::Role(command)) => {
            role(&open_store(&cli.storage.resolve()?).await?, command).await
        }
        Some(Command::Keys(command)) => keys_command(&cli.storage, command),
        Some(Command::Audit {
            event,
            subject,
            limit,
        }) => {
            let store = open_store(&cli.storage.resolve()?).await?;
            let query = crate::store::AuditQuery {
                event,
                subject,
                before: None,
                limit,
            };
            println!(
                "{:<10} {:<30} {:<34} {:<24} {:<16} detail",
                "at", "event", "actor", "subject", "ip"
            );
            for e in store.audit_events(DEFAULT_TENANT, &query).await? {
                let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                println!(
                    "{:<10} {:<30} {:<34} {:<24} {:<16} {}",
                    e.at,
                    e.event,
                    or_dash(&e.actor),
                    or_dash(&e.subject),
                    or_dash(&e.ip),
                    or_dash(&e.detail)
                );
            }
            Ok(())
        }
        Some(Command::Apikey(command)) => {
            let storage = cli.storage.resolve()?;
            apikey(&open_store(&storage).await?, &storage, command).await
        }
        Some(Command::Client(command)) => {
            let storage = cli.storage.resolve()?;
            client(&open_store(&storage).await?, &storage, command).await
        }
    }
}

async fn serve(storage: &StorageArgs, args: &ServeArgs) -> anyhow::Result<()> {
    crate::app::serve(Settings::resolve(storage, args)?).await
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The password from standard input, or a generated one (printed once).
fn new_password(from_stdin: bool) -> anyhow::Result<zeroize::Zeroizing<String>> {
    if !from_stdin {
        let password = random_password();
        println!("password: {password}   (generated; shown once)");
        return Ok(zeroize::Zeroizing::new(password));
    }
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = zeroize::Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if password.is_empty() {
        bail!("the password on standard input is empty");
    }
    if password.len() > warden::password::MAX_PASSWORD_BYTES {
        bail!(
            "a password is at most {} bytes",
            warden::password::MAX_PASSWORD_BYTES
        );
    }
    Ok(password)
}

async fn user(store: &Store, command: UserCommand) -> anyhow::Result<()> {
    let find = |username: String| async move {
        store
            .user_by_username(DEFAULT_TENANT, &username)
            .await
            .map_err(manage::not_found("user", &username))
    };
    match command {
        UserCommand::Add {
            username,
            email,
            full_name,
            roles,
            password_stdin,
        } => {
            let password = new_password(password_stdin)?;
            let input = manage::UserInput {
                username,
                password: password.to_string(),
                email,
                full_name,
                roles,
            };
            let (user, roles) = manage::create_user(store, &PasswordHasher::new(), input).await?;
            println!(
                "added {} ({}) with roles {}",
                user.username,
                user.id,
                roles.join(", ")
            );
            cli_audit(
                store,
                "user_created",
                &user.username,
                Some(&roles.join(" ")),
            )
            .await;
        }
        UserCommand::List => {
            println!("{:<24} {:<34} {:<9} roles", "username", "id", "status");
            for user in store.users(DEFAULT_TENANT).await? {
                let roles = store.user_roles(&user.id).await?;
                let status = if user.disabled { "disabled" } else { "active" };
                println!(
                    "{:<24} {:<34} {:<9} {}",
                    user.username,
                    user.id,
                    status,
                    roles.join(",")
                );
            }
        }
        UserCommand::Show { username } => {
            let user = find(username).await?;
            println!("username:  {}", user.username);
            println!("id:        {}", user.id);
            println!("email:     {}", user.email.as_deref().unwrap_or("-"));
            println!("full name: {}", user.full_name.as_deref().unwrap_or("-"));
            println!(
                "status:    {}",
                if user.disabled { "disabled" } else { "active" }
            );
            println!(
                "roles:     {}",
                store.user_roles(&user.id).await?.join(", ")
            );
            println!(
                "scopes:    {}",
                store.user_scopes(&user.id).await?.join(" ")
            );
        }
        UserCommand::Disable { username } => {
            let user = find(username).await?;
            store.set_disabled(DEFAULT_TENANT, &user.id, true).await?;
            println!(
                "disabled {}; their refresh tokens are revoked",
                user.username
            );
            cli_audit(store, "user_disabled", &user.username, None).await;
        }
        UserCommand::Enable { username } => {
            let user = find(username).await?;
            store.set_disabled(DEFAULT_TENANT, &user.id, false).await?;
            println!("enabled {}", user.username);
            cli_audit(store, "user_enabled", &user.username, None).await;
        }
        UserCommand::SetPassword {
            username,
            password_stdin,
        } => {
            let user = find(username).await?;
            let password = new_password(password_stdin)?;
            let hash = PasswordHasher::new().hash(&password).await?;
            store
                .set_password_hash(DEFAULT_TENANT, &user.id, &hash)
                .await?;
            println!("password of {} changed", user.username);
            cli_audit(store, "password_changed", &user.username, None).await;
        }
        UserCommand::Grant { username, role } => {
            let user = find(username).await?;
            store
                .grant_role(DEFAULT_TENANT, &user.id, &role)
                .await
                .map_err(manage::not_found("role", &role))?;
            println!("{} now has the role {role}", user.username);
            cli_audit(store, "role_granted", &user.username, Some(&role)).await;
        }
        UserCommand::Revoke { username, role } => {
            let user = find(username).await?;
            store
                .revoke_role(DEFAULT_TENANT, &user.id, &role)
                .await
                .map_err(manage::not_found("role held by the user", &role))?;
            println!("{} no longer has the role {role}", user.username);
            cli_audit(store, "role_revoked", &user.username, Some(&role)).await;
        }
    }
    Ok(())
}

async fn role(store: &Store, command: RoleCommand) -> anyhow::Result<()> {
    match command {
        RoleCommand::Add {
            name,
            description,
            scopes,
        } => {
            let role = manage::create_role(store, &name, description.as_deref(), &scopes).await?;
            let granted = if role.scopes.is_empty() {
                "no scope yet".to_owned()
            } else {
                role.scopes.join(" ")
            };
            println!("added role {name} granting {granted}");
            cli_audit(store, "role_created", &name, Some(&role.scopes.join(" "))).await;
        }
        RoleCommand::List => {
            println!("{:<16} {:<48} description", "role", "scopes");
            for role in store.roles(DEFAULT_TENANT).await? {
                println!(
                    "{:<16} {:<48} {}",
                    role.name,
                    role.scopes.join(" "),
                    role.description.unwrap_or_default()
                );
            }
        }
        RoleCommand::GrantScope { role, scope } => {
            manage::check_scope(&scope)?;
            store
                .grant_scope(DEFAULT_TENANT, &role, &scope)
                .await
                .map_err(manage::not_found("role", &role))?;
            println!("role {role} now grants {scope}");
            cli_audit(store, "scope_granted", &role, Some(&scope)).await;
        }
    }
    Ok(())
}

fn keys_command(storage: &StorageArgs, command: KeysCommand) -> anyhow::Result<()> {
    let dir = KeyDir::new(&storage.resolve()?.data_dir);
    match command {
        KeysCommand::List { access_token_ttl } => {
            let stored = dir.load()?;
            if stored.is_empty() {
                println!(
                    "no signing key yet: `warden keys rotate` makes one (and `warden serve` does in development)"
                );
            }
            println!("{:<46} {:<6} {:<12} status", "kid", "alg", "created");
            for (key, status) in stored.iter().zip(keys::statuses(
                &stored,
                access_token_ttl,
                crate::store::now(),
            )) {
                let status = match status {
                    KeyStatus::Signing => "signing".to_owned(),
                    KeyStatus::Verifying { until } => format!("verifying until {until}"),
                    KeyStatus::Retired => "retired".to_owned(),
                };
                println!(
                    "{:<46} {:<6?} {:<12} {status}",
                    key.key.kid(),
                    key.key.algorithm(),
                    key.created
                );
            }
        }
        KeysCommand::Rotate => {
            let key = dir.generate()?;
            println!("new signing key {} ({})", key.key.kid(), key.path.display());
        }
    }
    Ok(())
}

async fn client(
    store: &Store,
    storage: &crate::config::Storage,
    command: ClientCommand,
) -> anyhow::Result<()> {
    use crate::oauth::client::SecretDigester;
    match command {
        ClientCommand::Add {
            name,
            grant_types,
            scopes,
            public,
        } => {
            let digester = SecretDigester::load(&storage.data_dir, storage.mode)?;
            let input = manage::ClientInput {
                name,
                grant_types,
                scopes,
                public,
            };
            let (client, secret) = manage::create_client(store, &digester, input).await?;
            println!("client_id:     {}", client.id);
            cli_audit(store, "client_created", &client.id, Some(&client.name)).await;
            if let Some(secret) = secret {
                println!("client_secret: {secret}   (shown once: store it now)");
            }
            println!("grant types:   {}", client.grant_types.join(" "));
            println!("scopes:        {}", client.scopes.join(" "));
        }
        ClientCommand::List => {
            println!(
                "{:<28} {:<13} {:<40} {:<24} name",
                "client_id", "type", "grant types", "scopes"
            );
            for client in store.clients(DEFAULT_TENANT).await? {
                let kind = if client.is_confidential() {
                    "confidential"
                } else {
                    "public"
                };
                println!(
                    "{:<28} {:<13} {:<40} {:<24} {}",
                    client.id,
                    kind,
                    client.grant_types.join(" "),
                    client.scopes.join(" "),
                    client.name
                );
            }
        }
        ClientCommand::Remove { client_id } => {
            store
                .delete_client(DEFAULT_TENANT, &client_id)
                .await
                .map_err(manage::not_found("client", &client_id))?;
            println!("removed client {client_id}");
            cli_audit(store, "client_removed", &client_id, None).await;
        }
    }
    Ok(())
}

fn parse_time(text: &str) -> anyhow::Result<i64> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp())
        .with_context(|| {
            format!(
                "{text:?} is neither RFC 3339 (2027-01-31T12:00:00Z) nor seconds since the epoch"
            )
        })
}

async fn apikey(
    store: &Store,
    storage: &crate::config::Storage,
    command: ApiKeyCommand,
) -> anyhow::Result<()> {
    use crate::oauth::client::SecretDigester;
    match command {
        ApiKeyCommand::Create {
            user,
            client,
            name,
            scopes,
            expires_in,
            expires_at,
        } => {
            let owner = match (user, client) {
                (Some(username), _) => manage::KeyOwner::User(username),
                (None, Some(id)) => manage::KeyOwner::Client(id),
                (None, None) => bail!("give --user or --client"),
            };
            let now = crate::store::now();
            let expires_at = match (expires_in, expires_at) {
                (Some(seconds), _) => {
                    Some(now.saturating_add(i64::try_from(seconds).unwrap_or(i64::MAX)))
                }
                (None, Some(text)) => Some(parse_time(&text)?),
                (None, None) => None,
            };
            let digester = SecretDigester::load(&storage.data_dir, storage.mode)?;
            let input = manage::ApiKeyInput {
                owner,
                name,
                scopes,
                expires_at,
            };
            let (record, key) = manage::create_api_key(store, &digester, input).await?;
            println!("api key: {key}   (shown once: store it now)");
            println!("id:      {}", record.id);
            cli_audit(store, "api_key_created", &record.id, Some(&record.name)).await;
            println!("scopes:  {}", record.scopes.join(" "));
            println!(
                "expires: {}",
                expires_at.map_or("never".to_owned(), |e| e.to_string())
            );
        }
        ApiKeyCommand::List => {
            println!(
                "{:<18} {:<20} {:<34} {:<12} {:<12} {:<8} scopes",
                "id", "name", "owner", "expires", "last used", "status"
            );
            for key in store.api_keys(DEFAULT_TENANT).await? {
                let owner = key
                    .owner_user_id
                    .clone()
                    .or_else(|| key.owner_client_id.clone())
                    .unwrap_or_default();
                let status = if key.revoked_at.is_some() {
                    "revoked"
                } else if key.expires_at.is_some_and(|e| e <= crate::store::now()) {
                    "expired"
                } else {
                    "active"
                };
                let time = |t: Option<i64>| t.map_or("-".to_owned(), |t| t.to_string());
                println!(
                    "{:<18} {:<20} {:<34} {:<12} {:<12} {:<8} {}",
                    key.id,
                    key.name,
                    owner,
                    time(key.expires_at),
                    time(key.last_used_at),
                    status,
                    key.scopes.join(" ")
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            store
                .revoke_api_key(DEFAULT_TENANT, &id)
                .await
                .map_err(manage::not_found("active API key", &id))?;
            println!("revoked API key {id}");
            cli_audit(store, "api_key_revoked", &id, None).await;
        }
    }
    Ok(())
}

/// Records what an administrator did from the command line.
async fn cli_audit(store: &Store, event: &str, subject: &str, detail: Option<&str>) {
    store
        .audit(
            DEFAULT_TENANT,
            event,
            Some("cli"),
            Some(subject),
            None,
            detail,
        )
        .await;
}
