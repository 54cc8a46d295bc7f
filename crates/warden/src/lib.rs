#![doc = include_str!("docs/overview.md")]

pub mod error;
mod form;
pub mod guide;
pub mod openapi;
pub mod password;
pub mod scheme;
mod scopes;
mod security;
pub mod token;

pub use crate::error::{AuthError, Challenge, ValidationError};
pub use crate::form::{
    OAuth2PasswordRequestForm, OAuth2PasswordRequestFormStrict, is_form_urlencoded,
};
pub use crate::scopes::{ScopeList, SecurityScopes};
pub use crate::security::{
    Authenticator, Credentials, Either, Requirements, Security, SecurityInput,
};

/// Compares two secrets in constant time (for their common length), so the time a comparison
/// takes does not tell an attacker how many leading bytes they got right.
///
/// ```
/// assert!(warden::constant_time_eq(b"secret", b"secret"));
/// assert!(!warden::constant_time_eq(b"secret", b"secreT"));
/// assert!(!warden::constant_time_eq(b"secret", b"secret2"));
/// ```
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    // Lengths are not secret here (keys have a known format); contents are.
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
