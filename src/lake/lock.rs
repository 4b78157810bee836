//! The lake's OS file lock and the markers of ingests in progress.
//!
//! `<lake>/.prod-lens-lake.lock` is locked with `flock` (std's `File::lock*`): every ingest that
//! writes the lake holds it *shared* for its whole run, so any number of ingests write side by
//! side; maintenance (`lake compact`, `lake repair`, and the recovery an ingest runs when it finds
//! itself alone) holds it *exclusive*. The OS releases the lock when a process dies, however it
//! dies, so a crash never leaves the lake locked.
//!
//! An ingest also creates `<lake>/.writer-<token>.pending` before its first row is committed to
//! SQLite and removes it only after all of its files are durable. A marker found while holding the
//! exclusive lock therefore belongs to an ingest that died or failed: its rows may be missing from
//! the lake, and recovery reconciles the lake with SQLite.

use super::partition;
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Name of the lock file in the lake root.
pub const LOCK_NAME: &str = ".prod-lens-lake.lock";
const MARKER_PREFIX: &str = ".writer-";
const MARKER_SUFFIX: &str = ".pending";

fn open_lock_file(root: &Path) -> Result<File> {
    std::fs::create_dir_all(root)
        .map_err(|e| Error::io(format!("creating lake folder {}", root.display()), e))?;
    let path = root.join(LOCK_NAME);
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(format!("opening lake lock {}", path.display()), e))
}

fn lock_err(root: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(format!("locking lake {}", root.display()), e)
}

/// The lake lock held shared (an ingest writing new files); released on drop.
pub struct SharedLock {
    _file: File,
}

/// The lake lock held exclusive (no ingest is writing the lake); released on drop.
pub struct ExclusiveLock {
    _file: File,
}

impl SharedLock {
    /// Waits for and takes the lock shared.
    pub fn acquire(root: &Path) -> Result<Self> {
        let file = open_lock_file(root)?;
        file.lock_shared().map_err(lock_err(root))?;
        Ok(SharedLock { _file: file })
    }
}

impl ExclusiveLock {
    /// Waits for and takes the lock exclusive.
    pub fn acquire(root: &Path) -> Result<Self> {
        let file = open_lock_file(root)?;
        file.lock().map_err(lock_err(root))?;
        Ok(ExclusiveLock { _file: file })
    }

    /// Takes the lock exclusive if nobody holds it; None when another process does.
    pub fn try_acquire(root: &Path) -> Result<Option<Self>> {
        let file = open_lock_file(root)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(ExclusiveLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(lock_err(root)(e)),
        }
    }
}

/// Proof that the caller holds the lake lock (shared or exclusive).
pub trait HeldLock {}
impl HeldLock for SharedLock {}
impl HeldLock for ExclusiveLock {}

/// The marker of one ingest (or compaction) writing the lake; see the module documentation.
pub struct WriterMarker {
    path: PathBuf,
}

impl WriterMarker {
    /// Creates (and makes durable) the marker for writer `token`; requires holding the lock.
    pub fn create(root: &Path, token: &str, _lock: &dyn HeldLock) -> Result<Self> {
        let path = root.join(format!("{MARKER_PREFIX}{token}{MARKER_SUFFIX}"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        file.sync_all()
            .map_err(|e| Error::io(format!("syncing {}", path.display()), e))?;
        super::files::fsync_dir(root)?;
        Ok(WriterMarker { path })
    }

    /// Removes the marker: every row of this writer is durably in the lake.
    pub fn clear(self) -> Result<()> {
        std::fs::remove_file(&self.path)
            .map_err(|e| Error::io(format!("removing {}", self.path.display()), e))?;
        if let Some(root) = self.path.parent() {
            super::files::fsync_dir(root)?;
        }
        Ok(())
    }
}

/// Markers left by ingests that did not finish (meaningful only under the exclusive lock).
pub fn stale_markers(root: &Path, _lock: &ExclusiveLock) -> Result<Vec<PathBuf>> {
    pending_markers(root)
}

/// Markers present now: ingests running, or ones that did not finish.
pub fn pending_markers(root: &Path) -> Result<Vec<PathBuf>> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    let rd =
        std::fs::read_dir(root).map_err(|e| Error::io(format!("listing {}", root.display()), e))?;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", root.display()), e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(MARKER_PREFIX) && name.ends_with(MARKER_SUFFIX) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Whether `name` is one of the lake's bookkeeping files in the root (lock, markers).
pub fn is_bookkeeping_name(name: &str) -> bool {
    name == LOCK_NAME
        || (name.starts_with(MARKER_PREFIX) && name.ends_with(MARKER_SUFFIX))
        || partition::is_temp_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_locks_coexist_and_exclude_the_exclusive_one() {
        let dir = tempfile::tempdir().unwrap();
        let a = SharedLock::acquire(dir.path()).unwrap();
        let b = SharedLock::acquire(dir.path()).unwrap();
        assert!(ExclusiveLock::try_acquire(dir.path()).unwrap().is_none());
        drop(a);
        assert!(ExclusiveLock::try_acquire(dir.path()).unwrap().is_none());
        drop(b);
        let x = ExclusiveLock::try_acquire(dir.path()).unwrap();
        assert!(x.is_some());
        assert!(ExclusiveLock::try_acquire(dir.path()).unwrap().is_none());
    }

    #[test]
    fn markers_are_listed_until_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let lock = SharedLock::acquire(dir.path()).unwrap();
        let m = WriterMarker::create(dir.path(), "t1", &lock).unwrap();
        assert_eq!(pending_markers(dir.path()).unwrap().len(), 1);
        m.clear().unwrap();
        assert!(pending_markers(dir.path()).unwrap().is_empty());
    }
}
