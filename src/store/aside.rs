//! A first load into a new SQLite store, built aside and published whole.
//!
//! When `ingest-traces` finds no database at its path, it builds the new one in a hidden file
//! next to it (`.<name>.new`) without a journal and without syncs, and only when the load is
//! complete syncs it and links it under its path. Every page is then written once: in WAL mode
//! each commit appends the pages it changed to the WAL and checkpoints copy them again (a 20 000
//! session Claude Code tree wrote ~670 MB for a 200 MB database and spent ~2.3 s in the kernel).
//!
//! Crash safety comes from the file never being visible half-built: killed before the link,
//! the path still holds no database and the next load starts over (truncating the hidden file);
//! killed after it, the database is complete. Sinks that write beside the store (the Parquet
//! lake) keep their files hidden until [`Store::publish`] has returned, so they never hold a row
//! the store does not (see [`crate::store::seam::TraceWriter::built_aside`]).
//!
//! The hidden file carries an exclusive `flock` for as long as a load builds it: a second load
//! of the same new path waits for the first, then finds the database published and writes into
//! it as usual; a writer that opens the published store removes a hidden file left by a killed
//! load. The lock handle is closed only while no SQLite connection has the file open (closing
//! any handle of a file drops the process's POSIX locks on it, which SQLite relies on).

use super::Store;
use crate::error::{Error, Result};
use rusqlite::Connection;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// The hidden file a new store at `path` is built in.
fn aside_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store.db".into());
    path.with_file_name(format!(".{name}.new"))
}

/// Files SQLite may keep beside a database file.
fn companions(db: &Path) -> [PathBuf; 3] {
    ["-journal", "-wal", "-shm"].map(|s| {
        let mut p = db.as_os_str().to_owned();
        p.push(s);
        PathBuf::from(p)
    })
}

fn io_err(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(what, e)
}

/// The folder of `path` ("." for a bare file name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// A new store's hidden file while a load builds it; removed (unless published) when dropped.
pub(super) struct Aside {
    /// The hidden file.
    file: PathBuf,
    /// The path the store is published under.
    target: PathBuf,
    /// Holds the exclusive `flock` on the hidden file.
    lock: Option<File>,
}

impl Drop for Aside {
    fn drop(&mut self) {
        // The store's connection is closed by now (it is dropped before this field).
        if self.lock.is_some() {
            let _ = std::fs::remove_file(&self.file);
        }
    }
}

/// A load that found no database at `path`: the locked hidden file to build it in, or None
/// when another load published one meanwhile (waited for while it held the lock).
fn claim(path: &Path) -> Result<Option<Aside>> {
    let file = aside_path(path);
    let lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&file)
        .map_err(io_err(format!("creating {}", file.display())))?;
    lock.lock()
        .map_err(io_err(format!("locking {}", file.display())))?;
    if path.exists() {
        // Published by the load that held the lock. Closing the handle before any connection
        // opens the store keeps SQLite's locks intact.
        return Ok(None);
    }
    // Whatever is in the file is a killed load's: start over.
    lock.set_len(0)
        .map_err(io_err(format!("emptying {}", file.display())))?;
    for c in companions(&file) {
        match std::fs::remove_file(&c) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(format!("removing {}", c.display()), e))
            }
            _ => {}
        }
    }
    Ok(Some(Aside {
        file,
        target: path.to_path_buf(),
        lock: Some(lock),
    }))
}

/// Removes the hidden file of a killed first load of `path`, when no load holds it. Called by
/// writers once the database at `path` exists, so no new load can claim the file afterwards.
pub(super) fn remove_abandoned(path: &Path) {
    let file = aside_path(path);
    let Ok(handle) = OpenOptions::new().read(true).write(true).open(&file) else {
        return;
    };
    // Not taken: a load holds it (or the lock cannot be had); either way it stays.
    if handle.try_lock().is_ok() {
        let _ = std::fs::remove_file(&file);
        for c in companions(&file) {
            let _ = std::fs::remove_file(c);
        }
    }
}

/// True while a first load is building the store for `path` (its hidden file is locked).
pub(super) fn load_in_progress(path: &Path) -> bool {
    let Ok(handle) = File::open(aside_path(path)) else {
        return false;
    };
    matches!(handle.try_lock_shared(), Err(TryLockError::WouldBlock))
}

impl Store {
    /// Opens the store at `path` for a load: an existing database as [`Store::open`] does; a
    /// missing one is built aside (see the module documentation) until [`Store::publish`].
    pub fn open_for_load(path: &Path) -> Result<Self> {
        if path.exists() {
            return Self::open(path);
        }
        super::create_folder(path)?;
        let Some(aside) = claim(path)? else {
            return Self::open(path);
        };
        let conn = Connection::open(&aside.file)?;
        Self::configure_aside(&conn)?;
        let mut store = Store::of(conn, path, Some(aside));
        super::migrations::migrate(&mut store.conn)?;
        Ok(store)
    }

    /// A connection to a hidden new file: no journal (a killed load's file is discarded
    /// whole) and no syncs until it is published.
    fn configure_aside(conn: &Connection) -> Result<()> {
        conn.pragma_update(None, "page_size", super::PAGE_SIZE)?;
        conn.pragma_update(None, "journal_mode", "OFF")?;
        conn.pragma_update(None, "synchronous", "OFF")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -super::WRITER_CACHE_KIB)?;
        super::rollups::register_functions(conn)?;
        Ok(())
    }

    /// True while this store is a new file built aside, not yet under its path.
    pub fn is_aside(&self) -> bool {
        self.aside.is_some()
    }

    /// Makes a store built aside durable and visible under its path, then reopens it there as
    /// usual (WAL). Nothing for a store that was opened in place. Fails, leaving nothing at the
    /// path, if another process created a database there meanwhile.
    pub fn publish(&mut self) -> Result<()> {
        let Some(mut aside) = self.aside.take() else {
            return Ok(());
        };
        // A rollback journal's header, so that the file opens like any other; then closed.
        self.conn.pragma_update(None, "journal_mode", "DELETE")?;
        let conn = std::mem::replace(&mut self.conn, Connection::open_in_memory()?);
        conn.close().map_err(|(_, e)| Error::from(e))?;
        File::open(&aside.file)
            .and_then(|f| f.sync_all())
            .map_err(io_err(format!("syncing {}", aside.file.display())))?;
        let linked = match std::fs::hard_link(&aside.file, &aside.target) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::io(
                    format!(
                        "{} was created by another process while this first load built it; \
                         nothing of this load was stored: run it again",
                        aside.target.display()
                    ),
                    e,
                ));
            }
            // A file system without hard links: a rename, unless the path was taken meanwhile
            // (checked just before; the window is a few microseconds).
            Err(_) if !aside.target.exists() => false,
            Err(e) => {
                let what = format!("publishing the new database as {}", aside.target.display());
                return Err(Error::io(what, e));
            }
            Ok(()) => true,
        };
        if !linked {
            std::fs::rename(&aside.file, &aside.target).map_err(io_err(format!(
                "publishing the new database as {}",
                aside.target.display()
            )))?;
        }
        crate::sinks::fsync_dir(folder(&aside.target))?;
        // The store is complete under its path: the hidden name goes, then the lock (no
        // connection has the file open now).
        if linked {
            std::fs::remove_file(&aside.file)
                .map_err(io_err(format!("removing {}", aside.file.display())))?;
        }
        drop(aside.lock.take());
        let Store { conn, .. } = Self::open(&self.path)?;
        self.conn = conn;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::seam::*;

    fn rows(n: u8) -> Vec<crate::record::TraceRecord> {
        (1..=n)
            .map(|k| crate::lake::tests::record(k, Some("acme/api")))
            .collect()
    }

    #[test]
    fn a_new_store_appears_only_when_published() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("sub/x.db");
        let mut s = Store::open_for_load(&db).unwrap();
        assert!(s.is_aside());
        assert!(!db.exists(), "not visible while loading");
        assert!(aside_path(&db).exists());
        s.insert_traces(&rows(50), None).unwrap();
        s.publish().unwrap();
        assert!(!s.is_aside());
        assert!(db.exists() && !aside_path(&db).exists());
        // Usable after publishing, in WAL mode, with every row.
        s.insert_traces(&rows(60), None).unwrap();
        let mode: String = s
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(s);
        let r = Store::open_read_only(&db).unwrap();
        assert_eq!(r.trace_count().unwrap(), 60);
        assert_eq!(
            r.conn()
                .query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
                .unwrap(),
            "ok"
        );
    }

    #[test]
    fn a_load_in_progress_is_seen_from_outside() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("x.db");
        assert!(!load_in_progress(&db), "nothing there");
        let mut s = Store::open_for_load(&db).unwrap();
        assert!(load_in_progress(&db));
        s.publish().unwrap();
        assert!(!load_in_progress(&db), "published");
        std::fs::write(aside_path(&db), b"left by a killed load").unwrap();
        assert!(!load_in_progress(&db), "nobody holds it");
    }

    #[test]
    fn an_unpublished_load_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("x.db");
        let mut s = Store::open_for_load(&db).unwrap();
        s.insert_traces(&rows(5), None).unwrap();
        drop(s);
        assert!(!db.exists());
        assert!(!aside_path(&db).exists());
    }

    #[test]
    fn an_existing_store_is_opened_in_place() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("x.db");
        drop(Store::open(&db).unwrap());
        let mut s = Store::open_for_load(&db).unwrap();
        assert!(!s.is_aside());
        s.publish().unwrap();
    }

    #[test]
    fn a_killed_loads_file_is_started_over_or_removed() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("x.db");
        // What a killed load leaves: a hidden file with content, nobody holding its lock.
        std::fs::write(aside_path(&db), b"not a database at all").unwrap();
        let mut s = Store::open_for_load(&db).unwrap();
        s.insert_traces(&rows(3), None).unwrap();
        s.publish().unwrap();
        assert_eq!(s.trace_count().unwrap(), 3);
        drop(s);
        // Left again after the store exists: the next writer removes it.
        std::fs::write(aside_path(&db), b"left over").unwrap();
        drop(Store::open(&db).unwrap());
        assert!(!aside_path(&db).exists());
    }

    #[test]
    fn a_store_created_meanwhile_is_not_overwritten() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("x.db");
        let mut s = Store::open_for_load(&db).unwrap();
        s.insert_traces(&rows(3), None).unwrap();
        // Another command creates the database while the load runs.
        let mut other = Store::open(&db).unwrap();
        other.insert_traces(&rows(1), None).unwrap();
        let err = s.publish().unwrap_err().to_string();
        assert!(err.contains("created by another process"), "{err}");
        drop(s);
        drop(other);
        let r = Store::open_read_only(&db).unwrap();
        assert_eq!(r.trace_count().unwrap(), 1, "the other store is untouched");
    }

    #[test]
    fn a_second_load_of_a_new_path_waits_and_writes_into_the_published_store() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("x.db");
        let mut first = Store::open_for_load(&db).unwrap();
        first.insert_traces(&rows(4), None).unwrap();
        let db2 = db.clone();
        let second = std::thread::spawn(move || {
            let mut s = Store::open_for_load(&db2).unwrap();
            let aside = s.is_aside();
            s.insert_traces(&rows(8), None).unwrap();
            s.publish().unwrap();
            aside
        });
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(
            !second.is_finished(),
            "waits while the first load builds the store"
        );
        first.publish().unwrap();
        drop(first);
        assert!(
            !second.join().unwrap(),
            "opened the published store in place"
        );
        let r = Store::open_read_only(&db).unwrap();
        assert_eq!(r.trace_count().unwrap(), 8);
    }
}
