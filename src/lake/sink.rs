//! The lake as an ingest sink: receives the rows SQLite has just accepted as new and writes them
//! as new data files (see the module documentation of `lake` for why this is safe).

use super::lock::{self, ExclusiveLock, SharedLock, WriterMarker};
use super::partition;
use super::repair::{self, RecoveryReport};
use super::writer::{BufferLimits, LakeWriter, WriteStats};
use crate::error::{Error, Result};
use crate::record::TraceRecord;
use crate::sinks::RecordSink;
use crate::store::StoreLocation;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Where and how an ingest writes the lake.
#[derive(Clone, Debug)]
pub struct LakeOptions {
    /// The lake folder (`--parquet-dir`).
    pub root: PathBuf,
    /// The store the lake mirrors (read when recovering).
    pub db: StoreLocation,
    /// Memory limits of the row buffers.
    pub limits: BufferLimits,
}

/// What the lake sink did in one ingest.
#[derive(Clone, Debug, Default, Serialize)]
pub struct LakeReport {
    /// The lake folder.
    pub dir: String,
    /// Rows, files and bytes written for this ingest's new rows.
    #[serde(flatten)]
    pub written: WriteStats,
    /// Recovery of earlier, unfinished ingests done before or after this one (if any was due).
    pub recovery: Option<RecoveryReport>,
}

/// The ingest sink writing the Parquet lake.
pub struct LakeSink {
    opts: LakeOptions,
    writer: LakeWriter,
    marker: Option<WriterMarker>,
    lock: Option<SharedLock>,
    report: LakeReport,
}

fn merge(into: &mut Option<RecoveryReport>, r: RecoveryReport) {
    if r == RecoveryReport::default() {
        return;
    }
    let t = into.get_or_insert_with(RecoveryReport::default);
    t.compactions_resolved += r.compactions_resolved;
    t.temp_files_removed += r.temp_files_removed;
    t.unfinished_writers += r.unfinished_writers;
    t.reconciled |= r.reconciled;
    t.rows_restored += r.rows_restored;
    t.files_written += r.files_written;
}

/// Recovers the lake if no ingest is writing it and an earlier one did not finish.
fn recover_if_alone(opts: &LakeOptions) -> Result<Option<RecoveryReport>> {
    let Some(x) = ExclusiveLock::try_acquire(&opts.root)? else {
        return Ok(None); // Someone is writing; the last one out recovers.
    };
    if lock::stale_markers(&opts.root, &x)?.is_empty() {
        return Ok(None);
    }
    if !opts.db.exists() {
        return Ok(None);
    }
    let store = opts.db.open_rows()?;
    let report = repair::recover(&opts.root, Some(store.as_ref()), &x, opts.limits, false)?;
    tracing::info!(?report, "recovered the parquet lake");
    Ok(Some(report))
}

impl LakeSink {
    /// Opens the lake for one ingest: recovers it first if an earlier ingest did not finish and
    /// none is running, then takes the shared lock and leaves this ingest's marker. Must be called
    /// before the ingest commits any row to SQLite.
    pub fn open(opts: LakeOptions) -> Result<Self> {
        let mut report = LakeReport {
            dir: opts.root.display().to_string(),
            ..Default::default()
        };
        if let Some(r) = recover_if_alone(&opts)? {
            merge(&mut report.recovery, r);
        }
        let lock = SharedLock::acquire(&opts.root)?;
        let token = partition::unique_token();
        let marker = WriterMarker::create(&opts.root, &token, &lock)?;
        Ok(LakeSink {
            writer: LakeWriter::new(&opts.root, token, opts.limits),
            opts,
            marker: Some(marker),
            lock: Some(lock),
            report,
        })
    }

    /// The lake folder.
    pub fn root(&self) -> &Path {
        &self.opts.root
    }

    /// What this sink did so far.
    pub fn report(&self) -> LakeReport {
        LakeReport {
            written: self.writer.stats().clone(),
            ..self.report.clone()
        }
    }
}

impl RecordSink for LakeSink {
    fn write_new(&mut self, records: &[&TraceRecord]) -> Result<()> {
        if self.marker.is_none() {
            return Err(Error::Lake("the lake sink is already finished".into()));
        }
        for r in records {
            self.writer.hold(r);
        }
        Ok(())
    }

    fn committed(&mut self) -> Result<()> {
        self.writer.release()
    }

    fn finish(&mut self) -> Result<()> {
        let Some(marker) = self.marker.take() else {
            return Ok(());
        };
        self.writer.flush_all()?;
        // Every row is now durably in a visible file: this ingest is complete.
        marker.clear()?;
        self.lock = None;
        if let Some(r) = recover_if_alone(&self.opts)? {
            merge(&mut self.report.recovery, r);
        }
        Ok(())
    }
}
