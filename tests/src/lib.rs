//! Black-box harness for the Glidepath server.
//!
//! Every test starts the real `glidepath` binary on its own throwaway database and talks to it
//! over HTTP only, so the tests check the published contract (`docs/API-CONTRACT.md`) and
//! nothing else.
//!
//! The helpers live in one module per concern and are re-exported here, so a test needs only
//! `use glidepath_tests::*;` (plus `browser` or `business_rule`, which keep their own paths).

mod app;
pub mod browser;
pub mod business_rule;
mod db;
mod fixtures;
mod graphql;
mod receiver;
mod simulator;
mod smtp;

pub use app::*;
pub use db::*;
pub use fixtures::*;
pub use graphql::*;
pub use receiver::*;
pub use simulator::*;
pub use smtp::*;

pub use reqwest::StatusCode;
pub use serde_json;
