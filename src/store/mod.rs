//! The SQLite store: one file, WAL, versioned migrations, parameterised SQL only.
//!
//! Tables (see `migrations`): `traces` (one row per LLM call), `etl_runs` (one row per ingest run),
//! the `gh_*` tables of GitHub delivery data (see `github`) and the hourly `rollup_*` tables kept
//! with the traces (see `rollups`).
//! The connection is owned by [`Store`] and closed when it is dropped, on every path.

pub mod activity;
mod aside;
pub mod attribution;
mod bulk;
pub mod copy;
pub mod coverage;
pub mod github;
pub mod identities;
mod migrations;
pub mod postgres;
pub mod prune;
mod raw;
pub mod report_data;
pub mod rollups;
pub mod runs;
pub mod seam;
mod session_query;
pub mod sessions;
pub mod source_state;
pub mod status;
pub mod teams;
pub mod trace_rows;
pub mod traces;

/// Where a store lives, as `--db` / `PRODLENS_DB` names it: a SQLite file, or a PostgreSQL
/// server (`postgres://` or `postgresql://` URL).
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// An embedded SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL store.
    Postgres(Box<crate::pg::PgTarget>),
}

impl StoreLocation {
    /// What `db` names (`flag` is named in errors); a URL's password is kept out of every name.
    /// `ca` is the CA file a server's certificate must chain to (see [`crate::pg::PgTarget`]),
    /// given by the option `ca_flag`.
    pub fn parse(db: &Path, ca: Option<&Path>, flag: &str, ca_flag: &str) -> Result<Self> {
        match db.to_str() {
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                let target = crate::pg::PgTarget::parse(s, ca, flag)?.with_ca_flag(ca_flag);
                Ok(StoreLocation::Postgres(Box::new(target)))
            }
            _ => Ok(StoreLocation::Sqlite(db.to_path_buf())),
        }
    }

    /// The store's name for messages (a file path, or a URL without its password).
    pub fn name(&self) -> String {
        match self {
            StoreLocation::Sqlite(p) => p.display().to_string(),
            StoreLocation::Postgres(t) => t.name().to_string(),
        }
    }

    /// Whether the store can be opened for reading: a SQLite file must exist (reading never
    /// creates one); a server is asked when opened.
    pub fn exists(&self) -> bool {
        match self {
            StoreLocation::Sqlite(p) => p.is_file(),
            StoreLocation::Postgres(_) => true,
        }
    }

    /// What to add to a "no database" message: that a first ingest is building it right now
    /// (it appears when that load completes), or nothing.
    pub fn missing_hint(&self) -> &'static str {
        match self {
            StoreLocation::Sqlite(p) if aside::load_in_progress(p) => {
                "; a first ingest is building it now and it appears when that load completes"
            }
            _ => "",
        }
    }

    /// Opens the store for writing (a SQLite file is created, with its folder, when missing;
    /// its schema is brought up to date).
    pub fn open_writer(&self) -> Result<Box<dyn seam::WriteStore>> {
        Ok(match self {
            StoreLocation::Sqlite(p) => Box::new(Store::open(p)?),
            StoreLocation::Postgres(t) => Box::new(postgres::PgStore::open(t)?),
        })
    }

    /// Opens the store for an ingest: as [`StoreLocation::open_writer`], except that a SQLite
    /// file that does not exist yet is built aside and appears only once the load is complete
    /// (see [`seam::TraceWriter::publish`]).
    pub fn open_loader(&self) -> Result<Box<dyn seam::WriteStore>> {
        Ok(match self {
            StoreLocation::Sqlite(p) => Box::new(Store::open_for_load(p)?),
            StoreLocation::Postgres(t) => Box::new(postgres::PgStore::open(t)?),
        })
    }

    /// A folder next to a SQLite file for what the store keeps in files (dead letters, the
    /// Parquet lake); None for a server, which has no folder of its own.
    pub fn beside(&self, name: &str) -> Option<PathBuf> {
        match self {
            StoreLocation::Sqlite(p) => Some(p.parent().unwrap_or(Path::new(".")).join(name)),
            StoreLocation::Postgres(_) => None,
        }
    }

    /// Opens the store as the source of a copy (`migrate-store`): a SQLite file, brought up
    /// to this build's schema first.
    pub fn open_copy_source(&self) -> Result<Box<dyn copy::CopySource>> {
        match self {
            StoreLocation::Sqlite(p) => Ok(Box::new(Store::open(p)?)),
            StoreLocation::Postgres(t) => Err(Error::InvalidArgument(format!(
                "{}: a copy reads a SQLite store",
                t.name()
            ))),
        }
    }

    /// Opens the store as the target of a copy (`migrate-store`): a PostgreSQL store.
    pub fn open_copy_target(&self) -> Result<Box<dyn copy::CopyTarget>> {
        match self {
            StoreLocation::Postgres(t) => Ok(Box::new(postgres::PgStore::open(t)?)),
            StoreLocation::Sqlite(p) => Err(Error::InvalidArgument(format!(
                "{}: a copy writes into a PostgreSQL store",
                p.display()
            ))),
        }
    }

    /// Opens the store to read its rows back as records (a SQLite file read-only).
    pub fn open_rows(&self) -> Result<Box<dyn seam::TraceRows>> {
        Ok(match self {
            StoreLocation::Sqlite(p) => Box::new(Store::open_read_only(p)?),
            StoreLocation::Postgres(t) => Box::new(postgres::PgStore::open(t)?),
        })
    }

    /// Opens the store for a command to read (a SQLite file read-only, with a small page cache).
    pub fn open_reader(&self) -> Result<Box<dyn seam::DashboardStore>> {
        Ok(match self {
            StoreLocation::Sqlite(p) => Box::new(Store::open_read_only(p)?),
            StoreLocation::Postgres(t) => Box::new(postgres::PgStore::open(t)?),
        })
    }

    /// Opens the store for the dashboard to read request after request (a SQLite file
    /// read-only, keeping up to 32 MiB of pages between requests).
    pub fn open_server_reader(&self) -> Result<Box<dyn seam::DashboardStore>> {
        Ok(match self {
            StoreLocation::Sqlite(p) => {
                Box::new(Store::open_read_only_cached(p, SERVER_CACHE_KIB)?)
            }
            StoreLocation::Postgres(t) => Box::new(postgres::PgStore::open(t)?),
        })
    }
}

impl From<PathBuf> for StoreLocation {
    fn from(p: PathBuf) -> Self {
        StoreLocation::Sqlite(p)
    }
}

/// The store traits, for `use crate::store::prelude::*`.
pub mod prelude {
    pub use super::seam::*;
}

use crate::error::{Error, Result};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// GitHub's stored time format (`YYYY-MM-DDTHH:MM:SSZ`), which sorts in time order.
pub(crate) fn gh_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A stored RFC 3339 time, or None when absent or unparsable.
pub(crate) fn parse_ts(s: Option<String>) -> Option<chrono::DateTime<chrono::Utc>> {
    s.as_deref().and_then(parse_time)
}

/// An RFC 3339 time, or None when unparsable. The form GitHub sends and [`gh_time`] writes
/// (`2025-10-01T12:00:00Z`) is read directly, the rest by chrono: a report reads tens of
/// thousands of them.
pub(crate) fn parse_time(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    utc_seconds(s).or_else(|| {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` as a time; None for any other form (or a leap second).
fn utc_seconds(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let b: &[u8; 20] = s.as_bytes().try_into().ok()?;
    if [b[4], b[7], b[10], b[13], b[16], b[19]] != *b"--T::Z" {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    chrono::NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?
        .and_hms_opt(num(11, 13)?, num(14, 16)?, num(17, 19)?)
        .map(|t| t.and_utc())
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(crate::error::StoreError::new(e))
    }
}

/// How long a writer waits for another process's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Page size of a new database file. SQLite's default of 4 KiB made a first load issue one
/// `pread64`/`pwrite64` per 4 KiB (~380 000 for a 20 000-session Claude Code tree); 16 KiB pages
/// made such loads 8-15 % faster (BENCHMARKS.md). Existing files keep the page size they have.
const PAGE_SIZE: i64 = 16 * 1024;

/// WAL bytes between automatic checkpoints: 32 MiB (SQLite's default is 1 000 pages).
const CHECKPOINT_BYTES: i64 = 32 << 20;
/// Page cache of a writing connection, in KiB (64 MiB); a bulk load sizes its own (see `bulk`).
const WRITER_CACHE_KIB: i64 = 65_536;

/// `wal_autocheckpoint` (counted in pages) for a checkpoint every `bytes` of WAL on `conn`.
fn wal_pages(conn: &Connection, bytes: i64) -> Result<i64> {
    let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    Ok((bytes / page.max(512)).max(1))
}

/// Page cache of a dashboard's read-only connection, kept between requests, as SQLite's
/// negative `cache_size` (KiB): 32 MiB.
const SERVER_CACHE_KIB: i64 = -32_768;

/// Page cache of a command's read-only connection, which reads each page about once (a report
/// scans the window's rollups): 8 MiB. The operating system's file cache serves the rest; on
/// the realistic report benchmark this took peak RSS from 115 MB to 90 MB at the same speed.
const ONE_PASS_CACHE_KIB: i64 = -8_192;

/// An open ProdLens database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Checkpoints the WAL beside a large load (see `bulk`).
    checkpointer: Option<bulk::Checkpointer>,
    /// Writes are kept in one open transaction until `commit_writes` (see `traces`); it holds
    /// their rollup change, written just before the commit.
    grouped: Option<rollups::RollupDelta>,
    /// The hidden file of a new store being built (see `aside`); last, so that the connection
    /// is closed before it is removed.
    aside: Option<aside::Aside>,
}

/// Creates the folder a database file at `path` goes in, when it has one and it is missing.
fn create_folder(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::io(
                format!("cannot create database folder {}", dir.display()),
                e,
            )
        })?;
    }
    Ok(())
}

impl Store {
    /// A store on `conn`, the database at `path` (its hidden file `aside` while a load builds
    /// it), with no writes open and no checkpointer.
    fn of(conn: Connection, path: &Path, aside: Option<aside::Aside>) -> Self {
        Store {
            conn,
            path: path.to_path_buf(),
            checkpointer: None,
            grouped: None,
            aside,
        }
    }

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self> {
        create_folder(path)?;
        let conn = Connection::open(path)?;
        Self::configure(&conn)?;
        let mut store = Store::of(conn, path, None);
        migrations::migrate(&mut store.conn)?;
        // A bulk load that was killed left them out (see `bulk`).
        bulk::ensure_indexes(&mut store.conn)?;
        aside::remove_abandoned(path);
        Ok(store)
    }

    /// Opens an existing database read-only (no migrations; fails if the file is missing).
    pub fn open_read_only(path: &Path) -> Result<Self> {
        Self::open_read_only_cached(path, ONE_PASS_CACHE_KIB)
    }

    /// [`Store::open_read_only`] for one of `n` connections reading side by side: each gets
    /// an `n`th of the one-pass page cache, so that together they hold no more.
    pub(crate) fn open_read_only_shared(path: &Path, n: usize) -> Result<Self> {
        let n = i64::try_from(n.max(1)).unwrap_or(i64::MAX);
        Self::open_read_only_cached(path, ONE_PASS_CACHE_KIB / n)
    }

    /// [`Store::open_read_only`] with a page cache of `cache_kib` (SQLite's `cache_size`:
    /// negative for KiB).
    fn open_read_only_cached(path: &Path, cache_kib: i64) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "cache_size", cache_kib)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        migrations::check_version(&conn)?;
        Ok(Store::of(conn, path, None))
    }

    /// Puts the database in WAL mode, retrying (up to [`BUSY_TIMEOUT`]) while another
    /// connection holds the lock the switch needs: SQLite answers that SQLITE_BUSY at once,
    /// without the busy handler, when several processes open a new file together.
    fn switch_to_wal(conn: &Connection) -> Result<()> {
        let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
        let mut pause = Duration::from_millis(2);
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                done => return Ok(done?),
            }
        }
    }

    fn configure(conn: &Connection) -> Result<()> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Takes effect only while the file is empty (before the switch to WAL writes it).
        conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        Self::switch_to_wal(conn)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // 64 MiB page cache: keeps the dedupe and secondary indexes hot while ingesting.
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        // Checkpoint every 32 MiB of WAL instead of 4 MiB: the pages a large batch changes
        // (dedupe index leaves above all) are copied into the database once per checkpoint.
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            wal_pages(conn, CHECKPOINT_BYTES)?,
        )?;
        // A checkpoint after a large load leaves the WAL file at most this long (64 MiB).
        conn.pragma_update(None, "journal_size_limit", 64_i64 << 20)?;
        // Writers merge stored rollup sketches inside their upserts.
        rollups::register_functions(conn)?;
        Ok(())
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for the store's own tests; nothing outside `store/` reaches it.
    #[cfg(test)]
    pub(in crate::store) fn conn(&self) -> &Connection {
        &self.conn
    }
}

impl seam::ChangeDetector for Store {
    /// A number that changes whenever another connection commits to the store, read through
    /// this connection (SQLite's `data_version`): cheap enough to poll.
    fn change_counter(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod time_tests {
    use super::*;
    use proptest::prelude::*;

    fn chrono_parse(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    }

    #[test]
    fn other_forms_and_bad_times_read_as_chrono_reads_them() {
        for s in [
            "2025-10-01T12:00:00Z",
            "2025-10-01T12:00:00+02:00",
            "2025-10-01T12:00:00.250Z",
            "2025-10-01 12:00:00Z",
            "2025-10-01t12:00:00z",
            "2016-12-31T23:59:60Z",
            "2025-02-29T12:00:00Z",
            "2025-13-01T12:00:00Z",
            "2025-10-01T24:00:00Z",
            "2025-1a-01T12:00:00Z",
            "+025-10-01T12:00:00Z",
            "",
            "2025-10-01",
        ] {
            assert_eq!(parse_time(s), chrono_parse(s), "{s:?}");
        }
    }

    proptest! {
        #[test]
        fn seconds_in_utc_read_as_chrono_reads_them(secs in -62_135_596_800i64..253_402_300_799) {
            let t = chrono::DateTime::from_timestamp(secs, 0).unwrap();
            let s = gh_time(t);
            prop_assert_eq!(utc_seconds(&s), Some(t));
            prop_assert_eq!(parse_time(&s), chrono_parse(&s));
        }
    }
}

#[cfg(test)]
mod open_tests {
    use super::*;

    #[test]
    fn connections_opening_a_new_file_together_all_get_it() {
        // Several connections switching a new file to WAL at once: SQLite answers some of them
        // SQLITE_BUSY at once (not after the busy timeout), which must be retried.
        let dir = tempfile::tempdir().unwrap();
        for round in 0..40 {
            let path = dir.path().join(format!("new-{round}.db"));
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    let (p, b) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        b.wait();
                        Store::open(&p).map(|_| ())
                    })
                })
                .collect();
            for o in openers {
                o.join().unwrap().unwrap();
            }
        }
    }

    #[test]
    fn command_readers_keep_a_small_page_cache_and_dashboard_readers_a_large_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        drop(Store::open(&path).unwrap());
        let cache = |s: &Store| -> i64 {
            s.conn
                .query_row("PRAGMA cache_size", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(
            cache(&Store::open_read_only(&path).unwrap()),
            ONE_PASS_CACHE_KIB
        );
        let server = Store::open_read_only_cached(&path, SERVER_CACHE_KIB).unwrap();
        assert_eq!(cache(&server), SERVER_CACHE_KIB);
        // Both read (schema checked) and refuse writes.
        for s in [Store::open_read_only(&path).unwrap(), server] {
            assert!(s.conn.execute("CREATE TABLE t (x)", []).is_err());
        }
    }

    #[test]
    fn new_stores_get_16_kib_pages_and_old_ones_keep_theirs_with_the_same_wal_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let pragma = |s: &Store, name: &str| -> i64 {
            s.conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
                .unwrap()
        };
        let new = Store::open(&dir.path().join("new.db")).unwrap();
        assert_eq!(pragma(&new, "page_size"), 16_384);
        assert_eq!(pragma(&new, "wal_autocheckpoint"), 2048);
        // A store made with SQLite's default page size before this setting existed.
        let old_path = dir.path().join("old.db");
        {
            let c = Connection::open(&old_path).unwrap();
            c.pragma_update(None, "journal_mode", "WAL").unwrap();
            c.execute_batch("CREATE TABLE x (a); INSERT INTO x VALUES (1);")
                .unwrap();
        }
        let old = Store::open(&old_path).unwrap();
        assert_eq!(pragma(&old, "page_size"), 4096);
        assert_eq!(pragma(&old, "wal_autocheckpoint"), 8192);
        let n: i64 = old
            .conn
            .query_row("SELECT a FROM x", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
