//! The guide, following FastAPI's security tutorial chapter by chapter. Every example compiles.

#[doc = include_str!("docs/guide/intro.md")]
pub mod intro {}

#[doc = include_str!("docs/guide/first_steps.md")]
pub mod first_steps {}

#[doc = include_str!("docs/guide/current_user.md")]
pub mod current_user {}

#[doc = include_str!("docs/guide/api_keys.md")]
pub mod api_keys {}

#[doc = include_str!("docs/guide/http_basic.md")]
pub mod http_basic {}

#[doc = include_str!("docs/guide/scopes.md")]
pub mod scopes {}
