//! Large first loads: the secondary indexes of `traces` whose keys arrive in random order are
//! dropped before the rows go in and built once, by sorting, after them — much cheaper than
//! keeping them up to date row by row. Those whose keys arrive in a few sorted runs (see
//! [`KEPT_IN_BULK`]) and the dedupe index stay, so dedupe is exact throughout.
//!
//! A load that is killed leaves the indexes missing; every opening for writing builds the
//! missing ones ([`ensure_indexes`]), and queries are correct without them in the meantime.

use super::Store;
use crate::error::Result;
use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
use rusqlite::Connection;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

/// The secondary indexes of `traces` as the migrations leave them: name and definition.
const SECONDARY: &[(&str, &str)] = &[
    ("traces_repo_date", "traces(repo_slug, event_date)"),
    ("traces_timestamp", "traces(timestamp_us)"),
    ("traces_developer", "traces(developer_id)"),
    ("traces_session", "traces(session_id)"),
    (
        "traces_repo_branch",
        "traces(repo_slug, git_branch, timestamp_us, tokens_in, tokens_out, cost_usd) \
         WHERE git_branch IS NOT NULL",
    ),
    (
        "traces_developer_team",
        "traces(developer_id, team_id) WHERE team_id IS NOT NULL AND developer_id IS NOT NULL",
    ),
];

/// Secondary indexes kept up to date during a large load: their keys have few distinct leading
/// values (developers; repo and day), so new rows go to a few places in them and the pages those
/// are on stay cached. Building them after the load is a full scan of `traces` each, on the
/// writer alone at the end of the run: a 20 000-session Claude Code tree's first ingest took
/// 4.09–4.25 s with them kept against 4.26–4.32 s with them dropped; 1 M LiteLLM lines took the
/// same either way (14.3 s against 13.9–14.4 s).
const KEPT_IN_BULK: &[&str] = &[
    "traces_repo_date",
    "traces_developer",
    "traces_developer_team",
];

/// Input smaller than this is loaded with the indexes in place and the usual checkpoints.
const BULK_MIN_BYTES: u64 = 64 << 20;
/// WAL bytes between automatic checkpoints during a large load (256 MiB; 32 MiB otherwise, see
/// `Store::configure`). A checkpoint copies every page changed since the last one
/// into the database and syncs it; the dedupe and rollup pages a load changes are spread over the
/// whole index, so fewer checkpoints copy them fewer times (1 M LiteLLM lines: 56 s -> 49 s).
const LARGE_LOAD_CHECKPOINT_BYTES: i64 = 256 << 20;
/// Input bytes per stored row assumed when comparing a load with the store it goes into
/// (a LiteLLM payload line is ~860 bytes, a Claude Code transcript ~1.5 KB per call).
const BYTES_PER_ROW: u64 = 1000;

/// The page cache of a bulk load into an (almost) empty store, in KiB: a sixteenth of the input,
/// 16–64 MiB. With most secondary indexes dropped, what must stay hot is the dedupe index, which
/// grows with the input's rows. A 20 000-session Claude Code tree (505 MB) gets 32 MiB: 4.25/4.41
/// s and 166 MB against 4.49/5.59 s and 179–194 MB with 64 MiB; 4 M LiteLLM lines (3.3 GB) keep 64
/// MiB (32 MiB there: 86 s against 78 s).
fn bulk_cache_kib(bytes: u64) -> i64 {
    ((bytes / 16) >> 10).clamp(16 << 10, super::WRITER_CACHE_KIB as u64) as i64
}

/// How often the background checkpointer of a large load copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Checkpoints a store's WAL from a thread and connection of its own during a large load, so
/// that copying pages into the database and syncing it (70 ms per sync here) happen beside the
/// writer instead of inside its commits. Its checkpoints are PASSIVE: they copy what they can
/// without waiting for, or blocking, the writer; the writer's own automatic checkpoint (every
/// [`LARGE_LOAD_CHECKPOINT_BYTES`]) finishes what is left. Stopped and joined when dropped.
pub(crate) struct Checkpointer {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts one for the database at `path`; None if its connection or thread cannot be made
    /// (the writer then checkpoints alone, as for small loads).
    fn start(path: &Path) -> Option<Self> {
        let conn = Connection::open(path).ok()?;
        conn.busy_timeout(super::BUSY_TIMEOUT).ok()?;
        let (stop, stopped) = bounded::<()>(0);
        let thread = std::thread::Builder::new()
            .name("prod-lens-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_EVERY) {
                    // A checkpoint that fails (busy, I/O) leaves the WAL to the writer's own.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .ok()?;
        Some(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Hanging up wakes the thread; it ends after the checkpoint it may be in.
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Builds every secondary index of `traces` that is missing, in one transaction.
pub(crate) fn ensure_indexes(conn: &mut Connection) -> Result<()> {
    let present: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'traces'")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let missing: Vec<_> = SECONDARY
        .iter()
        .filter(|(name, _)| !present.iter().any(|p| p == name))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // The sorts spill to temporary files rather than memory, and sort in 16 MiB runs (SQLite
    // sizes them by the page cache): building an index over millions of rows must not need
    // memory in proportion to them.
    let cache: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
    conn.pragma_update(None, "temp_store", "FILE")?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    let built = (|| -> Result<()> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (name, def) in missing {
            tx.execute_batch(&format!("CREATE INDEX IF NOT EXISTS {name} ON {def}"))?;
        }
        tx.commit()?;
        Ok(())
    })();
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", cache)?;
    built
}

impl Store {
    /// Starts a load of about `bytes` of input. A large input is checkpointed by a
    /// [`Checkpointer`] beside the writer, and by the writer only every 256 MiB; when the store is
    /// also small next to it, the secondary indexes not [`KEPT_IN_BULK`] are dropped
    /// and true is returned. [`Store::finish_bulk_load`] undoes both.
    pub(super) fn bulk_start(&mut self, bytes: u64) -> Result<bool> {
        if bytes < BULK_MIN_BYTES {
            return Ok(false);
        }
        let pages = super::wal_pages(&self.conn, LARGE_LOAD_CHECKPOINT_BYTES)?;
        self.conn.pragma_update(None, "wal_autocheckpoint", pages)?;
        // A store built aside has no WAL to checkpoint.
        if self.checkpointer.is_none() && self.aside.is_none() {
            self.checkpointer = Checkpointer::start(&self.path);
        }
        // The largest rowid bounds the row count without a scan.
        let rows: i64 =
            self.conn
                .query_row("SELECT COALESCE(MAX(id), 0) FROM traces", [], |r| r.get(0))?;
        if (rows.max(0) as u64).saturating_mul(BYTES_PER_ROW) > bytes {
            return Ok(false);
        }
        self.conn
            .pragma_update(None, "cache_size", -bulk_cache_kib(bytes))?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (name, _) in SECONDARY.iter().filter(|(n, _)| !KEPT_IN_BULK.contains(n)) {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Ends any load started with [`Store::start_bulk_load`]: builds missing secondary indexes
    /// and restores the usual checkpoint interval.
    pub(super) fn bulk_finish(&mut self) -> Result<()> {
        self.checkpointer = None;
        let pages = super::wal_pages(&self.conn, super::CHECKPOINT_BYTES)?;
        self.conn.pragma_update(None, "wal_autocheckpoint", pages)?;
        // The indexes are built even if the cache size cannot be restored.
        let restored = self
            .conn
            .pragma_update(None, "cache_size", -super::WRITER_CACHE_KIB);
        ensure_indexes(&mut self.conn)?;
        Ok(restored?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::seam::*;

    fn indexes(s: &Store) -> Vec<(String, String)> {
        s.conn()
            .prepare(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'traces'
                 AND sql IS NOT NULL ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn a_bulk_load_caches_a_sixteenth_of_its_input_within_16_and_64_mib() {
        assert_eq!(bulk_cache_kib(64 << 20), 16 << 10);
        assert_eq!(bulk_cache_kib(505 << 20), 32_320);
        assert_eq!(bulk_cache_kib(4 << 30), 64 << 10);
    }

    #[test]
    fn a_bulk_load_ends_with_the_indexes_the_migrations_made() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("x.db")).unwrap();
        let before = indexes(&s);
        assert_eq!(before.len(), SECONDARY.len());
        assert!(
            !s.start_bulk_load(1 << 20).unwrap(),
            "small input: indexes kept"
        );
        let checkpoint = |s: &Store| -> i64 {
            s.conn()
                .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
                .unwrap()
        };
        // 16 KiB pages: 32 MiB and 256 MiB of WAL.
        assert_eq!(checkpoint(&s), 2048);
        assert!(s.start_bulk_load(1 << 30).unwrap());
        let kept: Vec<String> = indexes(&s).into_iter().map(|(n, _)| n).collect();
        let mut want: Vec<&str> = KEPT_IN_BULK.to_vec();
        want.sort_unstable();
        assert_eq!(kept, want, "only the indexes with sorted runs stay");
        assert_eq!(checkpoint(&s), 16_384);
        let cache = |s: &Store| -> i64 {
            s.conn()
                .query_row("PRAGMA cache_size", [], |r| r.get(0))
                .unwrap()
        };
        assert_eq!(cache(&s), -65_536, "1 GiB of input: the full 64 MiB");
        s.finish_bulk_load().unwrap();
        assert_eq!(checkpoint(&s), 2048);
        assert_eq!(cache(&s), -crate::store::WRITER_CACHE_KIB);
        // Same definitions (SQLite keeps the text without IF NOT EXISTS).
        let norm = |v: Vec<(String, String)>| -> Vec<(String, String)> {
            v.into_iter()
                .map(|(n, sql)| (n, sql.split_whitespace().collect::<Vec<_>>().join(" ")))
                .collect()
        };
        assert_eq!(norm(indexes(&s)), norm(before));
        // A killed load: the next opening for writing builds them.
        assert!(s.start_bulk_load(1 << 30).unwrap());
        drop(s);
        let s = Store::open(&d.path().join("x.db")).unwrap();
        assert_eq!(indexes(&s).len(), SECONDARY.len());
    }

    #[test]
    fn a_large_load_is_checkpointed_beside_the_writer() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("x.db");
        let mut s = Store::open(&db).unwrap();
        s.start_bulk_load(1 << 30).unwrap();
        assert!(s.checkpointer.is_some());
        let rows: Vec<_> = (1..=200u8)
            .map(|k| crate::lake::tests::record(k, Some("acme/api")))
            .collect();
        s.insert_traces(&rows, None).unwrap();
        // The writer checkpoints only every 256 MiB now, so the rows reach the database file
        // (which grows from its few schema pages) only through the background checkpoints.
        let size = || std::fs::metadata(&db).unwrap().len();
        let before = size();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while size() == before && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(size() > before, "no background checkpoint within 10 s");
        s.finish_bulk_load().unwrap();
        assert!(s.checkpointer.is_none());
        assert_eq!(s.trace_count().unwrap(), 200);
    }
}
