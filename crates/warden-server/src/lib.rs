//! warden's auth server: the library behind the `warden` binary.

// The server is a binary with a library for its tests; its items are documented where it helps,
// not field by field.
#![allow(missing_docs)]

pub mod admin;
pub mod api;
pub mod apikeys;
pub mod app;
pub mod cli;
pub mod config;
pub mod keys;
pub mod manage;
pub mod metrics;
pub mod oauth;
pub mod revision;
pub mod store;
