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
use crossbeam_channel::{bounded, Receiver, Sender};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// Batches of records in flight to the buffering thread (the ingest thread waits beyond).
const IN_FLIGHT: usize = 2;

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

/// What the buffering thread is told, in the order the ingest thread says it.
enum Msg {
    /// Buffer these rows; none may reach a file before the next `Release`.
    Hold(Vec<TraceRecord>),
    /// The store has committed every row held so far.
    Release,
    /// No row will follow and all are committed: write every file, then end.
    Finish,
}

/// The lake writer on a thread of its own: the ingest thread hands it the new records (so it
/// neither buffers them into columns nor frees them) and says when they are committed. The
/// thread ends with the writer and the first error; when its messages stop without `Finish`
/// (a failed ingest), it ends without writing what it holds.
struct Buffering {
    /// None once `Finish` is sent.
    tx: Option<Sender<Msg>>,
    /// Emptied batch vectors coming back (see [`RecordSink::spare`]).
    spare: Receiver<Vec<TraceRecord>>,
    thread: JoinHandle<(LakeWriter, Result<()>)>,
}

impl Buffering {
    fn start(mut w: LakeWriter) -> Result<Self> {
        let (tx, rx) = bounded::<Msg>(IN_FLIGHT);
        // One spare at a time: the ingest thread takes one per batch.
        let (spare_tx, spare) = bounded::<Vec<TraceRecord>>(1);
        let thread = std::thread::Builder::new()
            .name("prod-lens-lake-buffer".into())
            .spawn(move || {
                for msg in rx {
                    let done = match msg {
                        Msg::Hold(mut records) => {
                            records.iter().for_each(|r| w.hold(r));
                            records.clear();
                            // Dropped instead when enough are waiting or nobody takes them.
                            let _ = spare_tx.try_send(records);
                            continue;
                        }
                        Msg::Release => w.release(),
                        Msg::Finish => {
                            let flushed = w.flush_all();
                            return (w, flushed);
                        }
                    };
                    if let Err(e) = done {
                        return (w, Err(e));
                    }
                }
                (w, Ok(()))
            })
            .map_err(|e| Error::io("starting the lake buffering thread", e))?;
        Ok(Buffering {
            tx: Some(tx),
            spare,
            thread,
        })
    }
}

/// The ingest sink writing the Parquet lake.
pub struct LakeSink {
    opts: LakeOptions,
    /// The writer and its thread while the ingest runs.
    buffering: Option<Buffering>,
    /// The writer once its thread ended (for [`LakeSink::report`]).
    writer: Option<LakeWriter>,
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
        Self::open_with(opts, false)
    }

    /// [`LakeSink::open`] for an ingest into a store built aside (see
    /// [`crate::store::seam::TraceWriter::built_aside`]): its files stay hidden until
    /// [`RecordSink::finish`], which comes after the store is published, so a crash before
    /// that leaves the lake without rows the store lacks.
    pub fn open_hidden_until_finish(opts: LakeOptions) -> Result<Self> {
        Self::open_with(opts, true)
    }

    fn open_with(opts: LakeOptions, hidden: bool) -> Result<Self> {
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
        let mut writer = LakeWriter::new(&opts.root, token, opts.limits);
        if hidden {
            writer.hold_files();
        }
        let buffering = Buffering::start(writer)?;
        Ok(LakeSink {
            buffering: Some(buffering),
            writer: None,
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

    /// What this sink did (its files count once [`RecordSink::finish`] has returned).
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

    /// Tells the buffering thread `msg`; when the thread has ended, its error.
    fn tell(&mut self, msg: Msg) -> Result<()> {
        let sent = match self.buffering.as_ref().and_then(|b| b.tx.as_ref()) {
            Some(tx) => tx.send(msg).is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        self.join()?;
        Err(Error::Lake(
            "the lake buffering thread has ended; the next ingest or `lake repair` writes the \
             missing rows from the store"
                .into(),
        ))
    }

    /// Waits for the buffering thread (if still running) and keeps its writer; its error.
    fn join(&mut self) -> Result<()> {
        let Some(b) = self.buffering.take() else {
            return Ok(());
        };
        drop(b.tx);
        let (w, result) = b
            .thread
            .join()
            .map_err(|_| Error::Lake("the lake buffering thread panicked".into()))?;
        self.writer = Some(w);
        result
    }
}

impl Drop for LakeSink {
    fn drop(&mut self) {
        // Never leave a thread writing files behind (its files stay hidden until synced and
        // renamed; an unfinished ingest's marker makes the next one recover the lake). Without
        // `Finish` it writes nothing more.
        let _ = self.join();
    }
}

impl RecordSink for LakeSink {
    fn write_new(&mut self, records: Vec<TraceRecord>) -> Result<()> {
        if self.marker.is_none() {
            return Err(Error::Lake("the lake sink is already finished".into()));
        }
        self.tell(Msg::Hold(records))
    }

    fn committed(&mut self) -> Result<()> {
        self.tell(Msg::Release)
    }

    fn spare(&mut self) -> Option<Vec<TraceRecord>> {
        self.buffering.as_ref()?.spare.try_recv().ok()
    }

    fn start_finish(&mut self) {
        if self.marker.is_none() {
            return;
        }
        // The thread writes its last files while the store finishes; errors come from finish().
        if let Some(b) = self.buffering.as_mut() {
            if let Some(tx) = b.tx.take() {
                let _ = tx.send(Msg::Finish);
            }
        }
    }

    fn finish(&mut self) -> Result<()> {
        if self.marker.is_none() {
            return Ok(());
        }
        self.start_finish();
        self.join()?;
        if let Some(w) = self.writer.as_mut() {
            w.publish_held()?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::files::{list_partitions, read_keys};
    use std::collections::HashSet;

    fn sink(dir: &Path) -> LakeSink {
        LakeSink::open(LakeOptions {
            root: dir.join("lake"),
            db: dir.join("none.db").into(),
            limits: BufferLimits {
                rows_per_file: 4,
                max_buffered_rows: 5,
            },
        })
        .unwrap()
    }

    fn records(from: u8, n: u8) -> Vec<TraceRecord> {
        (from..from + n)
            .map(|k| crate::lake::tests::record(k, Some(["acme/api", "acme/web"][k as usize % 2])))
            .collect()
    }

    /// Distinct keys in the lake's visible files.
    fn keys(dir: &Path) -> usize {
        let mut keys = HashSet::new();
        for pd in list_partitions(&dir.join("lake")).unwrap() {
            for f in &pd.parts {
                read_keys(f, &mut keys).unwrap();
            }
        }
        keys.len()
    }

    #[test]
    fn committed_rows_are_written_on_the_buffering_thread_and_counted_at_finish() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sink(dir.path());
        for batch in 0..5u8 {
            s.write_new(records(batch * 10, 10)).unwrap();
            s.committed().unwrap();
        }
        assert_eq!(s.report().written.rows, 0, "counted once finished");
        s.start_finish();
        s.finish().unwrap();
        assert_eq!(s.report().written.rows, 50);
        assert_eq!(keys(dir.path()), 50);
        assert!(s.write_new(records(90, 1)).is_err(), "finished");
    }

    #[test]
    fn batch_vectors_come_back_empty_for_reuse() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sink(dir.path());
        assert!(s.spare().is_none(), "nothing given yet");
        let mut batch = Vec::with_capacity(64);
        batch.extend(records(0, 3));
        s.write_new(batch).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let back = loop {
            if let Some(v) = s.spare() {
                break v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no vector back within 10 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert!(back.is_empty());
        assert!(back.capacity() >= 64, "its memory kept");
        s.committed().unwrap();
        s.finish().unwrap();
        assert_eq!(keys(dir.path()), 3, "the rows themselves were kept");
    }

    #[test]
    fn rows_of_an_ingest_that_ends_without_finishing_reach_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sink(dir.path());
        s.write_new(records(0, 10)).unwrap();
        s.committed().unwrap();
        // Held past both limits, never committed: the sink is dropped (a failed ingest).
        s.write_new(records(10, 30)).unwrap();
        drop(s);
        // Only committed rows may be in files (the next ingest's recovery rewrites the rest
        // from the store).
        assert!(keys(dir.path()) <= 10);
    }
}
