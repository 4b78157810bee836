//! Recovery: bringing the lake back to exactly the rows of the SQLite store after a crash.
//!
//! Runs only under the exclusive lake lock, i.e. when no ingest is writing the lake. Then every
//! hidden temporary file is an abandoned write, every compaction journal an interrupted compaction,
//! and every writer marker an ingest that did not finish. Recovery finishes (or rolls back) the
//! compactions, removes the temporary files, and — when a marker is found, or when asked — writes
//! every SQLite row whose dedupe key is missing from its partition's files as new data files.
//! Rows already in the lake are never written again, so running it twice changes nothing.

use super::files::{self, list_partitions, read_keys};
use super::lock::{self, ExclusiveLock};
use super::partition::Partition;
use super::schema::cost_source_from_name;
use super::writer::{BufferLimits, LakeWriter, WriteStats};
use super::{compact, partition};
use crate::error::{Error, Result};
use crate::record::{SourceFormat, TraceRecord};
use crate::store::Store;
use chrono::{DateTime, NaiveDate};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// What a recovery did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecoveryReport {
    /// Interrupted compactions completed or rolled back.
    pub compactions_resolved: u64,
    /// Abandoned temporary files removed.
    pub temp_files_removed: u64,
    /// Markers of ingests that did not finish.
    pub unfinished_writers: u64,
    /// Whether the lake was compared with SQLite row by row.
    pub reconciled: bool,
    /// Rows found in SQLite but missing from the lake, now written.
    pub rows_restored: u64,
    /// Data files written for them.
    pub files_written: u64,
}

const SELECT_ROWS: &str = "SELECT dedupe_key, call_id, response_id, source_format, timestamp_us,
    event_date, repo_slug, developer_id, session_id, trace_id, team_id, key_alias, model,
    provider, call_type, tokens_in, tokens_out, cache_read_tokens, cache_creation_tokens,
    latency_ms, ttft_ms, status_code, is_error, error_class, accepted, diff_ratio,
    accepted_lines, cache_hit, cost_usd, cost_source, cwd, git_branch, is_sidechain,
    client_version
  FROM traces WHERE repo_slug IS ?1 AND event_date = ?2";

fn bad_row(what: &str, value: &str) -> Error {
    Error::Lake(format!(
        "stored row has an unreadable {what} {value:?}; the database may be damaged"
    ))
}

/// Parses a stored `event_date`.
pub fn parse_event_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad_row("event_date", s))
}

fn row_to_record(r: &rusqlite::Row<'_>) -> Result<TraceRecord> {
    let key: Vec<u8> = r.get(0)?;
    let dedupe_key: [u8; 16] = key
        .as_slice()
        .try_into()
        .map_err(|_| bad_row("dedupe_key", &format!("{key:02x?}")))?;
    let fmt: String = r.get(3)?;
    let ts: i64 = r.get(4)?;
    let date: String = r.get(5)?;
    let cost_source: String = r.get(29)?;
    Ok(TraceRecord {
        dedupe_key,
        call_id: r.get(1)?,
        response_id: r.get(2)?,
        source_format: SourceFormat::from_name(&fmt)
            .ok_or_else(|| bad_row("source_format", &fmt))?,
        timestamp: DateTime::from_timestamp_micros(ts)
            .ok_or_else(|| bad_row("timestamp", &ts.to_string()))?,
        event_date: parse_event_date(&date)?,
        repo_slug: r.get(6)?,
        developer_id: r.get(7)?,
        session_id: r.get(8)?,
        trace_id: r.get(9)?,
        team_id: r.get(10)?,
        key_alias: r.get(11)?,
        model: r.get(12)?,
        provider: r.get(13)?,
        call_type: r.get(14)?,
        tokens_in: r.get(15)?,
        tokens_out: r.get(16)?,
        cache_read_tokens: r.get(17)?,
        cache_creation_tokens: r.get(18)?,
        latency_ms: r.get(19)?,
        ttft_ms: r.get(20)?,
        status_code: r.get(21)?,
        is_error: r.get(22)?,
        error_class: r.get(23)?,
        accepted: r.get(24)?,
        diff_ratio: r.get(25)?,
        accepted_lines: r.get(26)?,
        cache_hit: r.get(27)?,
        reported_cost: None,
        cost_usd: r.get(28)?,
        cost_source: cost_source_from_name(&cost_source)
            .ok_or_else(|| bad_row("cost_source", &cost_source))?,
        cwd: r.get(30)?,
        git_branch: r.get(31)?,
        is_sidechain: r.get(32)?,
        client_version: r.get(33)?,
    })
}

/// Stored rows per lake partition: the (repo_slug, event_date) groups of SQLite that map to it,
/// with their row counts.
pub type StoreGroups = BTreeMap<Partition, Vec<(Option<String>, String, i64)>>;

/// Counts SQLite rows per lake partition (several repo values can share one, e.g. invalid ones).
pub fn store_groups(store: &Store) -> Result<StoreGroups> {
    let mut stmt = store.conn().prepare(
        "SELECT repo_slug, event_date, COUNT(*) FROM traces GROUP BY repo_slug, event_date",
    )?;
    let mut rows = stmt.query([])?;
    let mut out: StoreGroups = BTreeMap::new();
    while let Some(r) = rows.next()? {
        let repo: Option<String> = r.get(0)?;
        let date: String = r.get(1)?;
        let n: i64 = r.get(2)?;
        let p = Partition::of(repo.as_deref(), parse_event_date(&date)?);
        out.entry(p).or_default().push((repo, date, n));
    }
    Ok(out)
}

/// Writes every SQLite row missing from the lake (by dedupe key, partition by partition, so
/// memory is bounded by the largest partition). Requires the exclusive lock.
pub fn reconcile(
    root: &Path,
    store: &Store,
    _lock: &ExclusiveLock,
    limits: BufferLimits,
) -> Result<WriteStats> {
    let on_disk: BTreeMap<Partition, Vec<std::path::PathBuf>> = list_partitions(root)?
        .into_iter()
        .map(|pd| (pd.partition, pd.parts))
        .collect();
    let mut writer = LakeWriter::new(root, format!("r{}", partition::unique_token()), limits);
    let mut stmt = store.conn().prepare(SELECT_ROWS)?;
    for (p, groups) in store_groups(store)? {
        let mut keys = HashSet::new();
        for f in on_disk.get(&p).map(Vec::as_slice).unwrap_or_default() {
            read_keys(f, &mut keys)?;
        }
        let expected: i64 = groups.iter().map(|g| g.2).sum();
        if keys.len() as i64 == expected {
            // Every lake key comes from this database, so equal counts mean equal sets; the
            // per-key pass below is needed only when rows are missing.
            continue;
        }
        for (repo, date, _) in &groups {
            let mut rows = stmt.query(rusqlite::params![repo, date])?;
            while let Some(row) = rows.next()? {
                let rec = row_to_record(row)?;
                if !keys.contains(&u128::from_be_bytes(rec.dedupe_key)) {
                    writer.push(&rec)?;
                }
            }
        }
    }
    writer.flush_all()?;
    Ok(writer.stats().clone())
}

/// Resolves interrupted compactions, removes abandoned temporary files and, when an ingest did not
/// finish (or `full`), reconciles with the store. Requires the exclusive lock.
pub fn recover(
    root: &Path,
    store: Option<&Store>,
    lock: &ExclusiveLock,
    limits: BufferLimits,
    full: bool,
) -> Result<RecoveryReport> {
    let mut report = RecoveryReport::default();
    for pd in list_partitions(root)? {
        for j in &pd.journals {
            compact::resolve_journal(&pd.path, j)?;
            report.compactions_resolved += 1;
        }
        let mut removed = false;
        for t in &pd.temps {
            match std::fs::remove_file(t) {
                Ok(()) => {
                    report.temp_files_removed += 1;
                    removed = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("removing {}", t.display()), e)),
            }
        }
        if removed || !pd.journals.is_empty() {
            files::fsync_dir(&pd.path)?;
        }
    }
    let markers = lock::stale_markers(root, lock)?;
    report.unfinished_writers = markers.len() as u64;
    if !full && markers.is_empty() {
        return Ok(report);
    }
    let Some(store) = store else {
        // Without the database the missing rows cannot be known: keep the markers for later.
        return Ok(report);
    };
    // If this recovery dies too, its own marker makes the next one start over.
    let own =
        lock::WriterMarker::create(root, &format!("repair-{}", partition::unique_token()), lock)?;
    let stats = reconcile(root, store, lock, limits)?;
    report.reconciled = true;
    report.rows_restored = stats.rows;
    report.files_written = stats.files;
    for m in markers {
        std::fs::remove_file(&m).map_err(|e| Error::io(format!("removing {}", m.display()), e))?;
    }
    own.clear()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::lock::{SharedLock, WriterMarker};
    use crate::lake::schema::RowBuffer;
    use crate::lake::tests::record;

    fn lake_keys(root: &Path) -> (u64, usize) {
        let mut keys = HashSet::new();
        let mut rows = 0;
        for pd in list_partitions(root).unwrap() {
            for f in &pd.parts {
                rows += read_keys(f, &mut keys).unwrap().0;
            }
        }
        (rows, keys.len())
    }

    #[test]
    fn recovery_writes_exactly_the_rows_a_dead_writer_lost() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("lake");
        let mut store = Store::open(&tmp.path().join("c.db")).unwrap();
        let recs: Vec<TraceRecord> = (1..=6u8)
            .map(|k| record(k, Some(["acme/api", "acme/web"][k as usize % 2])))
            .chain([record(7, None), record(8, Some("../../x"))])
            .collect();
        store.insert_traces(&recs, None).unwrap();
        // The dead writer got rows 1 and 3 into a visible file, left a temp file and its marker.
        {
            let shared = SharedLock::acquire(&root).unwrap();
            let _marker = WriterMarker::create(&root, "dead", &shared).unwrap();
            let p = Partition::of(Some("acme/web"), recs[0].event_date);
            let dir = p.dir_under(&root).unwrap();
            std::fs::create_dir_all(&dir).unwrap();
            let mut b = RowBuffer::new();
            b.push(&recs[0]);
            b.push(&recs[2]);
            files::write_part(&dir, "part-dead-00000.parquet", &b.take_batch().unwrap()).unwrap();
            std::fs::write(dir.join(".part-dead-00001.parquet.tmp"), b"half").unwrap();
        }
        assert_eq!(lake_keys(&root), (2, 2));
        let x = ExclusiveLock::acquire(&root).unwrap();
        let r = recover(&root, Some(&store), &x, BufferLimits::default(), false).unwrap();
        assert_eq!(r.unfinished_writers, 1);
        assert_eq!(r.temp_files_removed, 1);
        assert_eq!(r.rows_restored, 6);
        assert_eq!(lake_keys(&root), (8, 8));
        assert!(lock::stale_markers(&root, &x).unwrap().is_empty());
        // Nothing left to do: a second recovery changes nothing, even a full one.
        let r = recover(&root, Some(&store), &x, BufferLimits::default(), true).unwrap();
        assert_eq!((r.rows_restored, r.unfinished_writers), (0, 0));
        assert_eq!(lake_keys(&root), (8, 8));
    }

    #[test]
    fn stored_rows_read_back_as_the_records_written() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(&tmp.path().join("c.db")).unwrap();
        let rec = record(9, Some("acme/api"));
        store
            .insert_traces(std::slice::from_ref(&rec), None)
            .unwrap();
        let mut stmt = store.conn().prepare(SELECT_ROWS).unwrap();
        let mut rows = stmt
            .query(rusqlite::params!["acme/api", "2025-10-12"])
            .unwrap();
        let back = row_to_record(rows.next().unwrap().unwrap()).unwrap();
        assert_eq!(back, rec);
    }
}
