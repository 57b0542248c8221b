//! Glidepath: on-call alerting for teams that run on ServiceNow.
//!
//! See ARCHITECTURE.md at the repository root for a map of this crate.

pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod engine;
pub mod entity;
pub mod error;
pub mod graphql;
pub mod http;
pub mod net_guard;
pub mod secrets;
pub mod service;
pub mod servicenow;
pub mod startup;
pub mod state;
pub mod telemetry;
