//! Buffers rows per partition and writes each partition's rows as new data files.
//!
//! Memory stays bounded: a partition is written as soon as it holds `rows_per_file` rows, and when
//! all partitions together hold `max_buffered_rows`, the largest one is written early. Each write
//! creates a new file under a unique name, so concurrent writers never touch each other's files.
//!
//! During an ingest the writer itself runs on a thread of its own (see `sink`); encoding and
//! compressing a file happen on a second background thread and its fsync and rename on a third,
//! so all of it overlaps with the SQLite inserts of the ingest thread; at most one finished batch
//! waits for the encoder.

use super::files::{fsync_dir, ClosedPart, FinishedPart, PartWriter};
use super::partition::{self, Partition};
use super::schema::RowBuffer;
use crate::error::{Error, Result};
use crate::record::TraceRecord;
use arrow::array::RecordBatch;
use crossbeam_channel::{bounded, Sender};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// Limits on what a writer holds in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferLimits {
    /// A partition is written out when it holds this many rows (one row group).
    pub rows_per_file: usize,
    /// When all partitions together hold this many rows, the largest is written out early.
    pub max_buffered_rows: usize,
}

impl Default for BufferLimits {
    fn default() -> Self {
        BufferLimits {
            rows_per_file: super::schema::ROW_GROUP_ROWS,
            max_buffered_rows: 30_000,
        }
    }
}

/// What a writer wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WriteStats {
    /// Rows written to data files.
    pub rows: u64,
    /// Data files written.
    pub files: u64,
    /// Bytes of data files written.
    pub bytes: u64,
}

/// Writes rows into new data files of the lake at `root`.
pub struct LakeWriter {
    root: PathBuf,
    token: String,
    seq: u64,
    limits: BufferLimits,
    buffers: HashMap<Partition, Pending>,
    /// The last record's repo and day and their partition: consecutive records mostly share
    /// them, and working a partition out validates the slug and formats the day.
    last: Option<(Option<String>, chrono::NaiveDate, Partition)>,
    buffered: usize,
    pushes: u64,
    stats: WriteStats,
    worker: Option<Worker>,
    /// Files written but kept under their hidden names until [`LakeWriter::publish_held`]
    /// (see [`LakeWriter::hold_files`]), and the folders to sync once they are renamed; None
    /// when files are published as soon as they are synced.
    held: Option<(Vec<FinishedPart>, BTreeSet<PathBuf>)>,
}

/// A partition's buffered rows and when it last received one (in pushes).
struct Pending {
    rows: RowBuffer,
    last_push: u64,
}

/// One file to write: partition, name, rows.
type Job = (Partition, String, RecordBatch);

/// The partition folders the encoder has made (or found), and every folder that may have gained
/// an entry since: the file's folder, its parent and the lake root, synced by
/// [`LakeWriter::flush_all`]. Kept on the encoder thread: creating and resolving ~1 000 folders
/// took a tenth of the ingest thread's time on a first Claude Code ingest.
struct Dirs {
    root: PathBuf,
    made: HashMap<Partition, PathBuf>,
    dirty: BTreeSet<PathBuf>,
}

impl Dirs {
    /// The folder of partition `p`, made if missing and checked to resolve inside the lake.
    fn of(&mut self, p: &Partition) -> Result<PathBuf> {
        if let Some(d) = self.made.get(p) {
            // Already in `dirty` since it was made.
            return Ok(d.clone());
        }
        let dir = p.dir_under(&self.root)?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        partition::ensure_inside(&self.root, &dir)?;
        // New folders must survive a crash too: sync the parents that may have gained entries,
        // and the folder itself, which gains this writer's files.
        for d in [dir.parent(), Some(self.root.as_path()), Some(dir.as_path())]
            .into_iter()
            .flatten()
        {
            self.dirty.insert(d.to_path_buf());
        }
        self.made.insert(p.clone(), dir.clone());
        Ok(dir)
    }
}

/// Files written and closed, waiting for their `fsync`: enough that the encoding thread rarely
/// waits for the disk, few enough to bound the open file handles.
const SYNC_QUEUE: usize = 64;

/// The background threads writing files, and the way to hand them work: one encodes and
/// compresses each batch into a closed temporary file, the other fsyncs and publishes the files
/// in the same order. A sync takes about as long as encoding a small file, so the thread buffering
/// rows, which waits whenever the encoder is busy, waits half as often.
struct Worker {
    tx: Sender<Job>,
    encoder: JoinHandle<Result<BTreeSet<PathBuf>>>,
    syncer: JoinHandle<Result<(WriteStats, Vec<FinishedPart>)>>,
}

impl Worker {
    /// Starts the threads; with `hold`, synced files are kept hidden and returned by `join`.
    fn start(root: &Path, hold: bool) -> Result<Self> {
        let mut dirs = Dirs {
            root: root.to_path_buf(),
            made: HashMap::new(),
            dirty: BTreeSet::new(),
        };
        let (tx, rx) = bounded::<Job>(1);
        let (closed_tx, closed_rx) = bounded::<(ClosedPart, u64)>(SYNC_QUEUE);
        let syncer = std::thread::Builder::new()
            .name("prod-lens-lake-sync".into())
            .spawn(move || {
                let mut stats = WriteStats::default();
                let mut held = Vec::new();
                for (closed, rows) in closed_rx {
                    let done = closed.sync()?;
                    stats.bytes += done.size();
                    if hold {
                        held.push(done);
                    } else {
                        done.publish()?;
                    }
                    stats.rows += rows;
                    stats.files += 1;
                }
                Ok((stats, held))
            })
            .map_err(|e| Error::io("starting the lake sync thread", e))?;
        let encoder = std::thread::Builder::new()
            .name("prod-lens-lake".into())
            .spawn(move || {
                for (part, name, batch) in rx {
                    let dir = dirs.of(&part)?;
                    let rows = batch.num_rows();
                    let mut w = PartWriter::create(&dir, &name, rows)?;
                    w.write(&batch)?;
                    drop(batch);
                    let closed = w.close()?;
                    if closed_tx.send((closed, rows as u64)).is_err() {
                        return Err(Error::Lake("the lake sync thread stopped".into()));
                    }
                }
                Ok(dirs.dirty)
            });
        let encoder = match encoder {
            Ok(h) => h,
            Err(e) => {
                // The syncer ends once its sender (moved into the failed closure) is gone.
                let _ = syncer.join();
                return Err(Error::io("starting the lake writer thread", e));
            }
        };
        Ok(Worker {
            tx,
            encoder,
            syncer,
        })
    }

    /// Waits for every handed-over file; returns what was written, the files held hidden and
    /// the folders to sync, or the first error (a sync error before the encoder's, which may
    /// only be its consequence).
    fn join(self) -> Result<(WriteStats, Vec<FinishedPart>, BTreeSet<PathBuf>)> {
        drop(self.tx);
        let panicked = |what: &str| Error::Lake(format!("the lake {what} thread panicked"));
        let encoded = self
            .encoder
            .join()
            .unwrap_or_else(|_| Err(panicked("writer")));
        let synced = self.syncer.join().unwrap_or_else(|_| Err(panicked("sync")));
        let (stats, held) = synced?;
        Ok((stats, held, encoded?))
    }
}

impl LakeWriter {
    /// A writer whose files are named after `token` (unique per writer).
    pub fn new(root: &Path, token: String, limits: BufferLimits) -> Self {
        LakeWriter {
            root: root.to_path_buf(),
            token,
            seq: 0,
            limits: BufferLimits {
                rows_per_file: limits.rows_per_file.max(1),
                max_buffered_rows: limits.max_buffered_rows.max(1),
            },
            buffers: HashMap::new(),
            last: None,
            buffered: 0,
            pushes: 0,
            stats: WriteStats::default(),
            worker: None,
            held: None,
        }
    }

    /// Keeps every file this writer writes under its hidden name (a crash leaves it to the
    /// lake's recovery to remove) until [`LakeWriter::publish_held`]: for a store that is
    /// itself not visible yet. Must be called before the first file is written.
    pub fn hold_files(&mut self) {
        self.held.get_or_insert_with(Default::default);
    }

    /// Renames the files held back by [`LakeWriter::hold_files`] to their final names and syncs
    /// their folders; files written after it are published as they are synced again.
    pub fn publish_held(&mut self) -> Result<()> {
        let Some((parts, dirs)) = self.held.take() else {
            return Ok(());
        };
        for p in parts {
            p.publish()?;
        }
        for d in dirs {
            fsync_dir(&d)?;
        }
        Ok(())
    }

    /// What was written (complete after [`LakeWriter::flush_all`]).
    pub fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// Rows held in memory, not yet in a file.
    pub fn buffered_rows(&self) -> usize {
        self.buffered
    }

    /// Adds a record to its partition's buffer, writing files as the limits require.
    pub fn push(&mut self, r: &TraceRecord) -> Result<()> {
        if let Some(p) = self.buffer(r) {
            self.flush_partition(&p)?;
        }
        self.evict_while_full()
    }

    /// Adds a record to its partition's buffer without writing any file, whatever the limits:
    /// the store may not have committed it yet. [`LakeWriter::release`] writes what the limits
    /// then require.
    pub fn hold(&mut self, r: &TraceRecord) {
        self.buffer(r);
    }

    /// Every row given so far may be written: writes the partitions that are full, then the
    /// largest ones until the buffers are under their limit again.
    pub fn release(&mut self) -> Result<()> {
        let full: Vec<Partition> = self
            .buffers
            .iter()
            .filter(|(_, b)| b.rows.rows() >= self.limits.rows_per_file)
            .map(|(p, _)| p.clone())
            .collect();
        for p in &full {
            self.flush_partition(p)?;
        }
        self.evict_while_full()
    }

    /// Buffers a record; its partition if that is now full.
    fn buffer(&mut self, r: &TraceRecord) -> Option<Partition> {
        let p = match &self.last {
            Some((repo, day, p))
                if *day == r.event_date && repo.as_deref() == r.repo_slug.as_deref() =>
            {
                p
            }
            _ => {
                let p = Partition::of(r.repo_slug.as_deref(), r.event_date);
                &self.last.insert((r.repo_slug.clone(), r.event_date, p)).2
            }
        };
        self.pushes += 1;
        let pushes = self.pushes;
        let full = match self.buffers.get_mut(p) {
            Some(pending) => {
                pending.rows.push(r);
                pending.last_push = pushes;
                pending.rows.rows() >= self.limits.rows_per_file
            }
            None => {
                let mut rows = RowBuffer::new();
                rows.push(r);
                let full = rows.rows() >= self.limits.rows_per_file;
                self.buffers.insert(
                    p.clone(),
                    Pending {
                        rows,
                        last_push: pushes,
                    },
                );
                full
            }
        };
        self.buffered += 1;
        full.then(|| p.clone())
    }

    /// Writes partitions early, largest idle ones first, while all together hold too many rows.
    fn evict_while_full(&mut self) -> Result<()> {
        while self.buffered >= self.limits.max_buffered_rows {
            match self.eviction_candidate() {
                Some(p) => self.flush_partition(&p)?,
                None => break,
            }
        }
        Ok(())
    }

    /// The partition to write early when memory is full: the largest of those that stopped
    /// receiving rows (a finished day in time-ordered logs, so it becomes one whole file), else
    /// the largest overall.
    fn eviction_candidate(&self) -> Option<Partition> {
        let idle_after = (self.limits.max_buffered_rows / 4) as u64;
        let largest = |idle_only: bool| {
            self.buffers
                .iter()
                .filter(|(_, b)| !idle_only || self.pushes - b.last_push > idle_after)
                .max_by_key(|(_, b)| b.rows.rows())
                .map(|(p, _)| p.clone())
        };
        largest(true).or_else(|| largest(false))
    }

    fn flush_partition(&mut self, p: &Partition) -> Result<()> {
        let Some(Pending { rows: mut buf, .. }) = self.buffers.remove(p) else {
            return Ok(());
        };
        let rows = buf.rows();
        if rows == 0 {
            return Ok(());
        }
        self.buffered -= rows;
        let batch = buf.take_batch()?;
        let name = partition::part_name(&self.token, self.seq);
        self.seq += 1;
        if self.worker.is_none() {
            self.worker = Some(Worker::start(&self.root, self.held.is_some())?);
        }
        let sent = match &self.worker {
            Some(w) => w.tx.send((p.clone(), name, batch)).is_ok(),
            None => false,
        };
        if !sent {
            // The thread stopped on an error: report it.
            return match self.worker.take().map(Worker::join) {
                Some(Err(e)) => Err(e),
                _ => Err(Error::Lake("the lake writer thread stopped".into())),
            };
        }
        Ok(())
    }

    /// Writes every buffered row and makes all new files and folders durable.
    pub fn flush_all(&mut self) -> Result<()> {
        let mut parts: Vec<Partition> = self.buffers.keys().cloned().collect();
        parts.sort();
        for p in parts {
            self.flush_partition(&p)?;
        }
        if let Some(w) = self.worker.take() {
            let (st, parts, dirty) = w.join()?;
            self.stats.rows += st.rows;
            self.stats.files += st.files;
            self.stats.bytes += st.bytes;
            if let Some((held, dirs)) = self.held.as_mut() {
                // Synced with the renames that make them visible.
                held.extend(parts);
                dirs.extend(dirty);
                return Ok(());
            }
            for d in dirty {
                fsync_dir(&d)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::files::{list_partitions, read_keys};
    use std::collections::HashSet;

    /// A writer with tiny limits: files of 4 rows, 5 rows held at most.
    fn small_writer(dir: &Path) -> LakeWriter {
        let limits = BufferLimits {
            rows_per_file: 4,
            max_buffered_rows: 5,
        };
        LakeWriter::new(dir, "t".into(), limits)
    }

    /// Record `k` of 30, over three repos.
    fn record(k: u8) -> TraceRecord {
        let repo = ["acme/api", "acme/web", "x/y"][k as usize % 3];
        crate::lake::tests::record(k, Some(repo))
    }

    #[test]
    fn buffers_stay_bounded_and_every_row_lands_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = small_writer(dir.path());
        for k in 0..30u8 {
            w.push(&record(k)).unwrap();
            assert!(w.buffered_rows() < 5);
        }
        w.flush_all().unwrap();
        assert_eq!(w.buffered_rows(), 0);
        assert_eq!(w.stats().rows, 30);
        let mut keys = HashSet::new();
        let mut rows = 0;
        let parts = list_partitions(dir.path()).unwrap();
        assert_eq!(parts.len(), 3);
        for pd in parts {
            assert!(pd.temps.is_empty());
            for f in &pd.parts {
                rows += read_keys(f, &mut keys).unwrap().0;
            }
        }
        assert_eq!((rows, keys.len()), (30, 30));
    }

    #[test]
    fn held_rows_are_written_only_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = small_writer(dir.path());
        for k in 0..30u8 {
            w.hold(&record(k));
        }
        // Past both limits, yet nothing was handed to the file writer.
        assert_eq!(w.buffered_rows(), 30);
        assert!(list_partitions(dir.path()).unwrap().is_empty());
        w.release().unwrap();
        assert!(w.buffered_rows() < 5);
        w.flush_all().unwrap();
        assert_eq!(w.stats().rows, 30);
        let mut keys = HashSet::new();
        for pd in list_partitions(dir.path()).unwrap() {
            for f in &pd.parts {
                read_keys(f, &mut keys).unwrap();
            }
        }
        assert_eq!(keys.len(), 30);
    }

    /// (visible data files, hidden temporary files) under `dir`.
    fn files(dir: &Path) -> (usize, usize) {
        list_partitions(dir)
            .unwrap()
            .iter()
            .fold((0, 0), |(p, t), pd| {
                (p + pd.parts.len(), t + pd.temps.len())
            })
    }

    #[test]
    fn held_files_stay_hidden_until_published_and_go_if_never_published() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = small_writer(dir.path());
        w.hold_files();
        for k in 0..30u8 {
            w.push(&record(k)).unwrap();
        }
        w.flush_all().unwrap();
        assert_eq!(w.stats().rows, 30);
        let (visible, hidden) = files(dir.path());
        assert_eq!(visible, 0, "nothing visible before publish_held");
        assert!(hidden >= 8, "30 rows in files of 4: {hidden}");
        w.publish_held().unwrap();
        assert_eq!(files(dir.path()), (hidden, 0));
        let mut keys = HashSet::new();
        for pd in list_partitions(dir.path()).unwrap() {
            for f in &pd.parts {
                read_keys(f, &mut keys).unwrap();
            }
        }
        assert_eq!(keys.len(), 30);

        // A writer dropped before publishing (a failed first load) leaves no file behind.
        let other = tempfile::tempdir().unwrap();
        let mut w = small_writer(other.path());
        w.hold_files();
        for k in 0..30u8 {
            w.push(&record(k)).unwrap();
        }
        w.flush_all().unwrap();
        drop(w);
        assert_eq!(files(other.path()), (0, 0));
    }
}
