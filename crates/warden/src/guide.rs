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

#[doc = include_str!("docs/guide/simple_oauth2.md")]
pub mod simple_oauth2 {}

#[doc = include_str!("docs/guide/oauth2_jwt.md")]
pub mod oauth2_jwt {}

#[doc = include_str!("docs/guide/scopes.md")]
pub mod scopes {}
