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
use std::thread::JoinHandle;

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
    /// None while `flushing` owns it.
    writer: Option<LakeWriter>,
    /// The writer writing its last files on a thread of its own (see `start_finish`).
    flushing: Option<JoinHandle<(LakeWriter, Result<()>)>>,
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
            writer: Some(LakeWriter::new(&opts.root, token, opts.limits)),
            flushing: None,
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

    /// What this sink did so far (the files being written by `start_finish` count once
    /// [`RecordSink::finish`] has returned).
    pub fn report(&self) -> LakeReport {
        LakeReport {
            written: self
                .writer
                .as_ref()
                .map(|w| w.stats().clone())
                .unwrap_or_default(),
            ..self.report.clone()
        }
    }

    /// The writer, back from the flushing thread if one was started.
    fn writer(&mut self) -> Result<&mut LakeWriter> {
        if let Some(h) = self.flushing.take() {
            let (w, flushed) = h
                .join()
                .map_err(|_| Error::Lake("the lake flushing thread panicked".into()))?;
            self.writer = Some(w);
            flushed?;
        }
        self.writer.as_mut().ok_or_else(|| {
            Error::Lake(
                "the lake writer was lost (its flushing thread could not start); the next \
                     ingest or `lake repair` writes the missing rows from the store"
                    .into(),
            )
        })
    }
}

impl Drop for LakeSink {
    fn drop(&mut self) {
        // Never leave a thread writing files behind (its files stay hidden until synced and
        // renamed; an unfinished ingest's marker makes the next one recover the lake).
        if let Some(h) = self.flushing.take() {
            let _ = h.join();
        }
    }
}

impl RecordSink for LakeSink {
    fn write_new(&mut self, records: &[&TraceRecord]) -> Result<()> {
        if self.marker.is_none() {
            return Err(Error::Lake("the lake sink is already finished".into()));
        }
        let w = self.writer()?;
        for r in records {
            w.hold(r);
        }
        Ok(())
    }

    fn committed(&mut self) -> Result<()> {
        self.writer()?.release()
    }

    fn start_finish(&mut self) {
        if self.marker.is_none() {
            return;
        }
        // None when a flush already started.
        let Some(mut w) = self.writer.take() else {
            return;
        };
        let spawned = std::thread::Builder::new()
            .name("prod-lens-lake-flush".into())
            .spawn(move || {
                let flushed = w.flush_all();
                (w, flushed)
            });
        match spawned {
            Ok(h) => self.flushing = Some(h),
            // The writer went with the closure: finish() fails and names the way back.
            Err(e) => tracing::warn!("lake: cannot start the flushing thread: {e}"),
        }
    }

    fn finish(&mut self) -> Result<()> {
        if self.marker.is_none() {
            return Ok(());
        }
        // Flushing again after a background flush only syncs what it already synced (nothing).
        self.writer()?.flush_all()?;
        let Some(marker) = self.marker.take() else {
            return Ok(());
        };
        // Every row is now durably in a visible file: this ingest is complete.
        marker.clear()?;
        self.lock = None;
        if let Some(r) = recover_if_alone(&self.opts)? {
            merge(&mut self.report.recovery, r);
        }
        Ok(())
    }
}
