//! API keys in a header, a query parameter or a cookie (FastAPI's `APIKeyHeader`,
//! `APIKeyQuery`, `APIKeyCookie`).
//!
//! A missing or empty key is `401 {"detail":"Not authenticated"}` with `WWW-Authenticate: APIKey`,
//! as in FastAPI >= 0.122. Comparing the key is the application's job: use
//! [`constant_time_eq`](crate::constant_time_eq).

use http::request::Parts;
use serde_json::{Map, Value, json};

use super::{SchemeKind, SchemeOptions, scheme_options};
use crate::error::Challenge;
use crate::scopes::SecurityScopes;

fn api_key_object(options: &SchemeOptions, location: &str, name: &str) -> Value {
    let mut object = Map::new();
    object.insert("type".into(), json!("apiKey"));
    object.insert("in".into(), json!(location));
    object.insert("name".into(), json!(name));
    options.describe(object)
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

/// An API key in a request header.
///
/// ```
/// use warden::scheme::APIKeyHeader;
///
/// warden::security_scheme! {
///     pub ApiKey: APIKeyHeader = APIKeyHeader::new("X-API-Key");
/// }
/// ```
#[derive(Clone, Debug)]
pub struct APIKeyHeader {
    name: String,
    options: SchemeOptions,
}

impl APIKeyHeader {
    /// A key in the header `name` (matched case-insensitively, as HTTP header names are).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            options: SchemeOptions::default(),
        }
    }
}
scheme_options!(APIKeyHeader);

impl SchemeKind for APIKeyHeader {
    type Credentials = String;
    const CLASS: &'static str = "APIKeyHeader";

    fn extract(&self, parts: &Parts) -> Option<String> {
        let value = parts.headers.get(self.name.as_str())?.to_str().ok()?;
        non_empty(value.trim_matches(|c| c == ' ' || c == '\t'))
    }

    fn challenge(&self, _: &SecurityScopes) -> Challenge {
        Challenge::api_key()
    }

    fn openapi(&self) -> Value {
        api_key_object(&self.options, "header", &self.name)
    }

    fn options(&self) -> &SchemeOptions {
        &self.options
    }
}

/// An API key in a query parameter (the last one wins when it is repeated, as in Starlette).
#[derive(Clone, Debug)]
pub struct APIKeyQuery {
    name: String,
    options: SchemeOptions,
}

impl APIKeyQuery {
    /// A key in the query parameter `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            options: SchemeOptions::default(),
        }
    }
}
scheme_options!(APIKeyQuery);

impl SchemeKind for APIKeyQuery {
    type Credentials = String;
    const CLASS: &'static str = "APIKeyQuery";

    fn extract(&self, parts: &Parts) -> Option<String> {
        let query = parts.uri.query()?;
        let value = form_urlencoded::parse(query.as_bytes())
            .filter(|(k, _)| *k == self.name)
            .last()?
            .1;
        non_empty(&value)
    }

    fn challenge(&self, _: &SecurityScopes) -> Challenge {
        Challenge::api_key()
    }

    fn openapi(&self) -> Value {
        api_key_object(&self.options, "query", &self.name)
    }

    fn options(&self) -> &SchemeOptions {
        &self.options
    }
}

/// An API key in a cookie (the last one wins when it is repeated, as in Starlette).
#[derive(Clone, Debug)]
pub struct APIKeyCookie {
    name: String,
    options: SchemeOptions,
}

impl APIKeyCookie {
    /// A key in the cookie `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            options: SchemeOptions::default(),
        }
    }
}
scheme_options!(APIKeyCookie);

impl SchemeKind for APIKeyCookie {
    type Credentials = String;
    const CLASS: &'static str = "APIKeyCookie";

    fn extract(&self, parts: &Parts) -> Option<String> {
        let value = parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|header| header.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|c| c.name() == self.name)
            .last()?;
        non_empty(value.value_trimmed())
    }

    fn challenge(&self, _: &SecurityScopes) -> Challenge {
        Challenge::api_key()
    }

    fn openapi(&self) -> Value {
        api_key_object(&self.options, "cookie", &self.name)
    }

    fn options(&self) -> &SchemeOptions {
        &self.options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(())
            .map(|r| r.into_parts().0)
            .unwrap_or_else(|_| http::Request::new(()).into_parts().0)
    }

    #[test]
    fn header_key() {
        let s = APIKeyHeader::new("X-API-Key");
        assert_eq!(
            s.extract(&request("/", &[("x-api-key", "k1")])).as_deref(),
            Some("k1")
        );
        assert_eq!(s.extract(&request("/", &[("x-api-key", "")])), None);
        assert_eq!(s.extract(&request("/", &[])), None);
    }

    #[test]
    fn query_key_decodes_and_last_wins() {
        let s = APIKeyQuery::new("api_key");
        assert_eq!(
            s.extract(&request("/?api_key=a%20b", &[])).as_deref(),
            Some("a b")
        );
        assert_eq!(
            s.extract(&request("/?api_key=1&api_key=2", &[])).as_deref(),
            Some("2")
        );
        assert_eq!(s.extract(&request("/?api_key=", &[])), None);
        assert_eq!(s.extract(&request("/?other=1", &[])), None);
        assert_eq!(
            s.extract(&request("/?api_key=%ff%fe", &[])).as_deref(),
            Some("\u{fffd}\u{fffd}")
        );
    }

    #[test]
    fn cookie_key() {
        let s = APIKeyCookie::new("session");
        let r = request("/", &[("cookie", "a=1; session=xyz; b=2")]);
        assert_eq!(s.extract(&r).as_deref(), Some("xyz"));
        assert_eq!(
            s.extract(&request("/", &[("cookie", ";;;=;session")])),
            None
        );
        assert_eq!(s.extract(&request("/", &[("cookie", "session=")])), None);
    }

    #[test]
    fn documented_as_fastapi_does() {
        assert_eq!(
            APIKeyHeader::new("X-API-Key").openapi(),
            json!({"type":"apiKey","in":"header","name":"X-API-Key"})
        );
        assert_eq!(
            APIKeyCookie::new("s").description("d").openapi(),
            json!({"type":"apiKey","in":"cookie","name":"s","description":"d"})
        );
    }
}
