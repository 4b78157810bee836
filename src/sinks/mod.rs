//! Where records go besides the store: the dead-letter queue (and, later, the Parquet lake).
//!
//! The SQLite store is the dedupe authority: it decides which records are new, and every other
//! sink receives only those, so each call lands once everywhere.

pub mod dead_letter;

use crate::error::Result;
use crate::record::TraceRecord;

/// A destination for records the store has just accepted as new.
pub trait RecordSink {
    /// Receives records that were new to the store, after the store committed them.
    fn write_new(&mut self, records: &[&TraceRecord]) -> Result<()>;
    /// Flushes and closes whatever the sink holds open.
    fn finish(&mut self) -> Result<()>;
}
