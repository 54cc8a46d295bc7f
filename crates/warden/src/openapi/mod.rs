//! The OpenAPI document and the offline Swagger UI.
//!
//! Handlers are routed with aide's [`ApiRouter`]; each security extractor in a handler's
//! signature writes the operation's `security` while the router is built. [`finish`] then puts
//! every scheme those extractors named into `components.securitySchemes`, and
//! [`ApiRouterExt::with_docs`] serves the result at `/openapi.json` with Swagger UI at `/docs`.
//!
//! ```
//! use aide::axum::{ApiRouter, routing::get};
//! use warden::Credentials;
//! use warden::openapi::{ApiRouterExt, Docs};
//! use warden::scheme::APIKeyHeader;
//!
//! warden::security_scheme! { pub ApiKey: APIKeyHeader = APIKeyHeader::new("X-API-Key"); }
//!
//! async fn protected(_: Credentials<ApiKey>) -> &'static str { "ok" }
//!
//! let app: axum::Router = ApiRouter::new()
//!     .api_route("/protected", get(protected))
//!     .with_docs(Docs::new("My API"));
//! ```

use aide::axum::ApiRouter;
use aide::openapi::{Info, MediaType, OpenApi, RequestBody, Response, SchemaObject};
use axum::Router;
use serde_json::{Map, Value};
use utoipa_swagger_ui::{Config, SwaggerUi, oauth};

/// Where each operation keeps the schemes its extractors named until [`finish`] moves them.
pub(crate) const SCHEMES_EXTENSION: &str = "x-warden-security-schemes";

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// A media type described by `schema`.
pub fn media(schema: schemars::Schema) -> MediaType {
    MediaType {
        schema: Some(SchemaObject {
            json_schema: schema,
            example: None,
            external_docs: None,
        }),
        ..Default::default()
    }
}

/// A JSON response with a description and a schema.
pub fn json_response(description: &str, schema: schemars::Schema) -> Response {
    let mut response = Response {
        description: description.to_owned(),
        ..Default::default()
    };
    response
        .content
        .insert("application/json".to_owned(), media(schema));
    response
}

/// A required `application/x-www-form-urlencoded` request body, for an operation's
/// `requestBody` (RFC 6749's token, revocation and introspection requests are such forms).
pub fn form_body(schema: schemars::Schema) -> RequestBody {
    let mut body = RequestBody {
        required: true,
        ..Default::default()
    };
    body.content.insert(
        "application/x-www-form-urlencoded".to_owned(),
        media(schema),
    );
    body
}

/// Settings of the served document and Swagger UI.
#[derive(Clone, Debug)]
pub struct Docs {
    api: OpenApi,
    openapi_url: String,
    docs_url: String,
    client_id: Option<String>,
}

impl Docs {
    /// A document titled `title`, version `0.1.0`, served at `/openapi.json` and `/docs`.
    pub fn new(title: impl Into<String>) -> Self {
        Self::from_api(OpenApi {
            info: Info {
                title: title.into(),
                version: "0.1.0".into(),
                ..Info::default()
            },
            ..OpenApi::default()
        })
    }

    /// Starts from a document of your own (info, servers, tags...).
    pub fn from_api(api: OpenApi) -> Self {
        Self {
            api,
            openapi_url: "/openapi.json".into(),
            docs_url: "/docs".into(),
            client_id: None,
        }
    }

    /// The API's version.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.api.info.version = version.into();
        self
    }

    /// The API's description (Markdown).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.api.info.description = Some(description.into());
        self
    }

    /// Where the JSON document is served (default `/openapi.json`).
    pub fn openapi_url(mut self, url: impl Into<String>) -> Self {
        self.openapi_url = url.into();
        self
    }

    /// Where Swagger UI is served (default `/docs`).
    pub fn docs_url(mut self, url: impl Into<String>) -> Self {
        self.docs_url = url.into();
        self
    }

    /// The `client_id` Swagger UI's Authorize dialog fills in for OAuth2 flows.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }
}

/// Finishes an [`ApiRouter`] into a plain router and its OpenAPI document, with every security
/// scheme the handlers use registered in `components.securitySchemes`.
///
/// # Panics
///
/// When two different schemes are declared under one name (give one a `scheme_name`): the
/// document could not say which one a requirement means. This happens while the app is built,
/// never on a request.
pub fn finish<S>(router: ApiRouter<S>, mut api: OpenApi) -> (Router<S>, Value)
where
    S: Clone + Send + Sync + 'static,
{
    let router = router.finish_api(&mut api);
    let mut document = serde_json::to_value(&api).unwrap_or_else(|_| Value::Object(Map::new()));
    register_schemes(&mut document);
    replace_true_schemas(&mut document);
    (router, document)
}

/// `"schema": true` (what schemars writes for "any JSON", such as `Json<Value>`) is valid JSON
/// Schema, but Swagger UI fails to render a response described by it; `{}` means the same.
fn replace_true_schemas(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, child) in object.iter_mut() {
                if matches!(key.as_str(), "schema" | "items") && *child == Value::Bool(true) {
                    *child = Value::Object(Map::new());
                } else {
                    replace_true_schemas(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(replace_true_schemas),
        _ => {}
    }
}

fn register_schemes(document: &mut Value) {
    let mut schemes = Map::new();
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            for method in METHODS {
                let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) else {
                    continue;
                };
                let Some(Value::Array(named)) = operation.remove(SCHEMES_EXTENSION) else {
                    continue;
                };
                for entry in named {
                    let (Some(name), Some(definition)) = (entry[0].as_str(), entry.get(1)) else {
                        continue;
                    };
                    match schemes.get(name) {
                        Some(existing) if existing != definition => panic!(
                            "warden: two different security schemes are both named {name:?} \
                             ({existing} and {definition}); give one of them a scheme_name"
                        ),
                        Some(_) => {}
                        None => {
                            schemes.insert(name.to_owned(), definition.clone());
                        }
                    }
                }
            }
        }
    }
    if schemes.is_empty() {
        return;
    }
    if let Some(root) = document.as_object_mut() {
        let components = root
            .entry("components")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(components) = components.as_object_mut() {
            let existing = components
                .entry("securitySchemes")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(existing) = existing.as_object_mut() {
                existing.extend(schemes);
            }
        }
    }
}

/// Swagger UI, with every asset served from the binary (no CDN), reading the document at
/// `openapi_url`: the password flow's Authorize button posts to the scheme's `tokenUrl`, the
/// authorization code flow uses PKCE, and the OAuth2 redirect page is served beside it.
pub fn swagger_ui<S>(docs: &Docs, document: Value) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let config = Config::new([docs.openapi_url.clone()])
        .persist_authorization(true)
        // No call to the public validator badge service: everything stays on this host.
        .validator_url("none");
    let mut oauth = oauth::Config::new().use_pkce_with_authorization_code_grant(true);
    if let Some(client_id) = &docs.client_id {
        oauth = oauth.client_id(client_id);
    }
    let ui = SwaggerUi::new(docs.docs_url.clone())
        .external_url_unchecked(docs.openapi_url.clone(), document)
        .config(config)
        .oauth(oauth);
    Router::from(ui)
}

/// Mounts the document and Swagger UI on an [`ApiRouter`] in one call.
pub trait ApiRouterExt<S> {
    /// Finishes the router (see [`finish`]) and serves `/openapi.json` and `/docs`.
    fn with_docs(self, docs: Docs) -> Router<S>;
}

impl<S> ApiRouterExt<S> for ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn with_docs(self, docs: Docs) -> Router<S> {
        let (router, document) = finish(self, docs.api.clone());
        router.merge(swagger_ui(&docs, document))
    }
}
