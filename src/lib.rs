#![recursion_limit = "256"]
//! ProdLens: how AI coding assistants are used and how that use goes with software delivery.
//!
//! Pipeline: `sources` (one module per trace format) → `normalise` (one canonical
//! [`record::TraceRecord`]) → `pricing` → `store` (SQLite), `sinks` (dead-letter queue) and `lake`
//! (the Parquet lake); `github` syncs pull requests, commits and rework signals.
//! `stats` holds the pure statistics behind reports (checked against scipy/numpy).
//! `ingest` wires the stages together; `sample` generates deterministic demo and benchmark data.
//! `serve` is the local dashboard and JSON API over the store (read-only).

pub mod attribution;
pub mod collect;
pub mod error;
pub mod github;
pub mod identity;
pub mod ingest;
pub mod lake;
pub mod metrics;
pub mod normalise;
pub mod parallel;
pub mod pg;
pub mod pricing;
pub mod privacy;
pub mod prs;
pub mod record;
pub mod render;
pub mod report;
pub mod sample;
pub mod sample_shapes;
pub mod serve;
pub mod sinks;
pub mod slug;
pub mod sources;
pub mod stats;
pub mod store;
pub mod time;

pub use error::{Error, Result};
