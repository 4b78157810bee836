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
use super::writer::{BufferLimits, LakeWriter, WriteStats};
use super::{compact, partition};
use crate::error::{Error, Result};
use crate::store::prelude::*;
use crate::store::trace_rows::TraceGroup;
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

/// Stored rows per lake partition: the store's (repo value, event date) groups that map to it.
pub type StoreGroups = BTreeMap<Partition, Vec<TraceGroup>>;

/// Counts stored rows per lake partition (several repo values can share one, e.g. invalid ones).
pub fn store_groups(store: &dyn TraceRows) -> Result<StoreGroups> {
    let mut out: StoreGroups = BTreeMap::new();
    for g in store.trace_groups()? {
        out.entry(Partition::of(g.repo.as_deref(), g.date))
            .or_default()
            .push(g);
    }
    Ok(out)
}

/// Writes every SQLite row missing from the lake (by dedupe key, partition by partition, so
/// memory is bounded by the largest partition). Requires the exclusive lock.
pub fn reconcile(
    root: &Path,
    store: &dyn TraceRows,
    _lock: &ExclusiveLock,
    limits: BufferLimits,
) -> Result<WriteStats> {
    let on_disk: BTreeMap<Partition, Vec<std::path::PathBuf>> = list_partitions(root)?
        .into_iter()
        .map(|pd| (pd.partition, pd.parts))
        .collect();
    let mut writer = LakeWriter::new(root, format!("r{}", partition::unique_token()), limits);
    for (p, groups) in store_groups(store)? {
        let mut keys = HashSet::new();
        for f in on_disk.get(&p).map(Vec::as_slice).unwrap_or_default() {
            read_keys(f, &mut keys)?;
        }
        let expected: i64 = groups.iter().map(|g| g.rows).sum();
        if keys.len() as i64 == expected {
            // Every lake key comes from this database, so equal counts mean equal sets; the
            // per-key pass below is needed only when rows are missing.
            continue;
        }
        for g in &groups {
            store.for_each_trace_in(g.repo.as_deref(), g.date, &mut |rec| {
                if !keys.contains(&u128::from_be_bytes(rec.dedupe_key)) {
                    writer.push(&rec)?;
                }
                Ok(())
            })?;
        }
    }
    writer.flush_all()?;
    Ok(writer.stats().clone())
}

/// Resolves interrupted compactions, removes abandoned temporary files and, when an ingest did not
/// finish (or `full`), reconciles with the store. Requires the exclusive lock.
pub fn recover(
    root: &Path,
    store: Option<&dyn TraceRows>,
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
    use crate::record::TraceRecord;
    use crate::store::Store;

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
}
