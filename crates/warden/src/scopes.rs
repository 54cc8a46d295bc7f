//! Scope requirements and FastAPI's `SecurityScopes`.
//!
//! A route names the scopes it needs with a type (written by [`scopes!`](crate::scopes)), in the
//! same declaration as its security: `Security<User, ItemsRead>` is FastAPI's
//! `Security(get_current_user, scopes=["items:read"])`. When one authenticator is built on
//! another, scopes accumulate outside-in, as FastAPI's `SecurityScopes` do.

use std::fmt;

/// A list of scopes known at compile time. Write one with [`scopes!`](crate::scopes);
/// `()` is the empty list.
pub trait ScopeList: Send + Sync + 'static {
    /// The scopes, in the order they are documented and checked.
    const SCOPES: &'static [&'static str];
}

impl ScopeList for () {
    const SCOPES: &'static [&'static str] = &[];
}

/// The scopes required where an authenticator is used: its callers' scopes first, then its own,
/// each once. FastAPI's `SecurityScopes`.
///
/// ```
/// use warden::SecurityScopes;
///
/// let scopes = SecurityScopes::from_iter(["items:read", "me"]);
/// assert_eq!(scopes.scope_str(), "items:read me");
/// assert!(scopes.contains("me"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityScopes {
    scopes: Vec<&'static str>,
}

impl SecurityScopes {
    /// The required scopes.
    pub fn scopes(&self) -> &[&'static str] {
        &self.scopes
    }

    /// The scopes separated by spaces, as they go in a token's `scope` or a `WWW-Authenticate`.
    pub fn scope_str(&self) -> String {
        self.scopes.join(" ")
    }

    /// True when no scope is required.
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// True when `scope` is required.
    pub fn contains(&self, scope: &str) -> bool {
        self.scopes.contains(&scope)
    }

    /// These scopes followed by `more`, without duplicates.
    pub fn with(&self, more: &[&'static str]) -> Self {
        let mut out = self.clone();
        out.extend(more.iter().copied());
        out
    }
}

impl Extend<&'static str> for SecurityScopes {
    fn extend<I: IntoIterator<Item = &'static str>>(&mut self, iter: I) {
        for scope in iter {
            if !self.scopes.contains(&scope) {
                self.scopes.push(scope);
            }
        }
    }
}

impl FromIterator<&'static str> for SecurityScopes {
    fn from_iter<I: IntoIterator<Item = &'static str>>(iter: I) -> Self {
        let mut out = Self::default();
        out.extend(iter);
        out
    }
}

impl fmt::Display for SecurityScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.scope_str())
    }
}

/// Declares scope lists, one type each, to name in `Security<Authenticator, Scopes>`.
///
/// ```
/// warden::scopes! {
///     /// Reading items.
///     pub ItemsRead = ["items:read"];
///     pub ItemsWrite = ["items:read", "items:write"];
/// }
///
/// use warden::ScopeList;
/// assert_eq!(ItemsWrite::SCOPES, ["items:read", "items:write"]);
/// ```
#[macro_export]
macro_rules! scopes {
    ($( $(#[$meta:meta])* $vis:vis $name:ident = [$($scope:expr),* $(,)?]; )+) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default)]
        $vis struct $name;

        impl $crate::ScopeList for $name {
            const SCOPES: &'static [&'static str] = &[$($scope),*];
        }
    )+};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_accumulate_outside_in_without_duplicates() {
        let outer = SecurityScopes::from_iter(["items"]);
        let inner = outer.with(&["me", "items"]);
        assert_eq!(inner.scopes(), ["items", "me"]);
        assert_eq!(inner.scope_str(), "items me");
        assert_eq!(SecurityScopes::default().scope_str(), "");
    }
}
