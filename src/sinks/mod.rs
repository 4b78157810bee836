//! Where records go besides the store: the dead-letter queue and the Parquet lake (`crate::lake`).
//!
//! The SQLite store is the dedupe authority: it decides which records are new, and every other
//! sink receives only those, so each call lands once everywhere.

pub mod dead_letter;

use crate::error::{Error, Result};
use crate::record::TraceRecord;
use std::path::Path;

/// Makes renames, links and removals in `dir` durable (the store's and the lake's files).
pub fn fsync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(format!("syncing folder {}", dir.display()), e))
}

/// A destination for records the store has just accepted as new.
pub trait RecordSink {
    /// Receives records that were new to the store, to keep (a sink may work on them on a
    /// thread of its own). The store may not have committed them yet (see
    /// `TraceWriter::begin_writes`): the sink holds them and makes none of them visible before
    /// [`RecordSink::committed`].
    fn write_new(&mut self, records: Vec<TraceRecord>) -> Result<()>;
    /// The store has committed every record given so far: the sink may write them out.
    fn committed(&mut self) -> Result<()>;
    /// No record will follow and every one given is committed: the sink may start writing out
    /// what it holds in the background, while the store finishes its own work (default: no-op).
    fn start_finish(&mut self) {}
    /// Flushes and closes whatever the sink holds open.
    fn finish(&mut self) -> Result<()>;
    /// An emptied vector a sink has finished with, to collect the next batch in: reusing its
    /// memory spares the allocator fresh pages for every batch (default: none).
    fn spare(&mut self) -> Option<Vec<TraceRecord>> {
        None
    }
}
