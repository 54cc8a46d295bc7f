//! The guide, following FastAPI's security tutorial chapter by chapter.

#[doc = include_str!("docs/guide/intro.md")]
pub mod intro {}
