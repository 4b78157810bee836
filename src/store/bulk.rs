//! Large first loads: the secondary indexes of `traces` are dropped before the rows go in and
//! built once, by sorting, after them — much cheaper than keeping five indexes up to date row by
//! row. The dedupe index stays, so dedupe is exact throughout.
//!
//! A load that is killed leaves the indexes missing; every opening for writing builds the
//! missing ones ([`ensure_indexes`]), and queries are correct without them in the meantime.

use super::Store;
use crate::error::Result;
use rusqlite::Connection;

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
];

/// Input smaller than this is loaded with the indexes in place.
const BULK_MIN_BYTES: u64 = 64 << 20;
/// Input bytes per stored row assumed when comparing a load with the store it goes into
/// (a LiteLLM payload line is ~860 bytes, a Claude Code transcript ~1.5 KB per call).
const BYTES_PER_ROW: u64 = 1000;

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
    /// Starts a load of about `bytes` of input: when the input is large and the store small
    /// next to it, drops the secondary indexes and returns true ([`Store::finish_bulk_load`]
    /// builds them again).
    pub fn start_bulk_load(&mut self, bytes: u64) -> Result<bool> {
        if bytes < BULK_MIN_BYTES {
            return Ok(false);
        }
        // The largest rowid bounds the row count without a scan.
        let rows: i64 =
            self.conn
                .query_row("SELECT COALESCE(MAX(id), 0) FROM traces", [], |r| r.get(0))?;
        if (rows.max(0) as u64).saturating_mul(BYTES_PER_ROW) > bytes {
            return Ok(false);
        }
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for (name, _) in SECONDARY {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// Ends a bulk load: builds the secondary indexes again.
    pub fn finish_bulk_load(&mut self) -> Result<()> {
        ensure_indexes(&mut self.conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_bulk_load_ends_with_the_indexes_the_migrations_made() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("x.db")).unwrap();
        let before = indexes(&s);
        assert_eq!(before.len(), SECONDARY.len());
        assert!(
            !s.start_bulk_load(1 << 20).unwrap(),
            "small input: indexes kept"
        );
        assert!(s.start_bulk_load(1 << 30).unwrap());
        assert!(indexes(&s).is_empty());
        s.finish_bulk_load().unwrap();
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
}
