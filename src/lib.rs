#![recursion_limit = "256"]
//! ProdLens: how AI coding assistants are used and how that use goes with software delivery.
//!
//! Pipeline: `sources` (one module per trace format) → `normalise` (one canonical
//! [`record::TraceRecord`]) → `pricing` → `store` (SQLite) and `sinks` (dead-letter queue, …).
//! `stats` holds the pure statistics behind reports (checked against scipy/numpy).
//! `ingest` wires the stages together; `sample` generates deterministic demo and benchmark data.

pub mod error;
pub mod ingest;
pub mod normalise;
pub mod pricing;
pub mod record;
pub mod sample;
pub mod sinks;
pub mod slug;
pub mod sources;
pub mod stats;
pub mod store;
pub mod time;

pub use error::{Error, Result};
