//! GitHub delivery data: pull requests, commits, issue events and the rework signals derived
//! from them, synced incrementally from the REST API or imported offline from `gh api` output.
//!
//! `client` (HTTP, retries, rate limits) → `model` (typed objects → rows) → `store::github`
//! (one transaction per page) ← `import` (offline files); `sync` drives the paging and
//! checkpoints; `rework` (pure) derives reverts and reopens; `policy` (pure) holds the client's
//! decisions.

pub mod client;
pub mod import;
pub mod model;
pub mod policy;
pub mod rework;
pub mod sample;
pub mod sync;
