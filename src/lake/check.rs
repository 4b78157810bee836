//! `lake check`: opens and decodes every data file, counts rows and distinct dedupe keys per
//! partition, compares them with SQLite, and warns about partitions above a size threshold.
//!
//! When no ingest is running (the exclusive lock is free) the comparison with SQLite is exact and
//! any difference is a problem; while ingests run, differences are expected and only reported.

use super::files::{list_partitions, open_reader};
use super::lock::{self, ExclusiveLock, SharedLock};
use super::partition::Partition;
use super::repair::store_groups;
use super::schema::{self, DEDUPE_KEY_COLUMN};
use crate::error::{Error, Result};
use crate::store::seam::TraceRows;
use arrow::array::AsArray;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Default size above which a partition is reported (the seed's guideline).
pub const DEFAULT_MAX_PARTITION_BYTES: u64 = 100 * 1024 * 1024;

/// One partition's figures.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionReport {
    /// `repo=` value.
    pub repo: String,
    /// `date=` value.
    pub date: String,
    /// Data files.
    pub files: u64,
    /// Rows in them.
    pub rows: u64,
    /// Distinct dedupe keys in them.
    pub distinct: u64,
    /// Bytes on disk.
    pub bytes: u64,
    /// Rows SQLite holds for this partition (when a database was given).
    pub store_rows: Option<i64>,
}

/// A data file that could not be read.
#[derive(Clone, Debug, Serialize)]
pub struct Unreadable {
    /// The file.
    pub path: String,
    /// Why.
    pub error: String,
}

/// The whole check.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    /// The lake folder.
    pub lake: String,
    /// True when no ingest was running, so the SQLite comparison is exact.
    pub quiescent: bool,
    /// Partitions, sorted.
    pub partitions: Vec<PartitionReport>,
    /// Data files.
    pub files: u64,
    /// Rows in the lake.
    pub rows: u64,
    /// Distinct dedupe keys in the lake.
    pub distinct: u64,
    /// Rows whose dedupe key appears more than once in their partition.
    pub duplicate_rows: u64,
    /// Bytes of data files.
    pub bytes: u64,
    /// Rows in SQLite `traces` (when a database was given).
    pub store_rows: Option<i64>,
    /// Files that do not open or decode.
    pub unreadable: Vec<Unreadable>,
    /// Hidden temporary files (writes in progress, or abandoned).
    pub temp_files: u64,
    /// Visible files that are not ProdLens data files.
    pub foreign_files: Vec<String>,
    /// Markers of ingests running or not finished.
    pub pending_writers: u64,
    /// Partitions above the size threshold.
    pub oversize_partitions: Vec<String>,
    /// The size threshold in bytes.
    pub max_partition_bytes: u64,
    /// Things to look at (not failures).
    pub warnings: Vec<String>,
    /// Failures: unreadable files, duplicates, or (when quiescent) a difference from SQLite.
    pub problems: Vec<String>,
    /// True when there are no problems.
    pub ok: bool,
}

enum Held {
    Exclusive(#[allow(dead_code)] ExclusiveLock),
    Shared(#[allow(dead_code)] SharedLock),
}

fn read_file(path: &Path, keys: &mut HashSet<u128>) -> Result<(u64, u64)> {
    let (mut rows, mut dupes) = (0u64, 0u64);
    for batch in open_reader(path, false)? {
        let batch = batch.map_err(|source| Error::Arrow {
            context: format!("decoding {}", path.display()),
            source,
        })?;
        let col = batch
            .column(DEDUPE_KEY_COLUMN)
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::Lake(format!("{}: dedupe_key is not text", path.display())))?;
        for v in col.iter() {
            let k = v.and_then(schema::parse_key_hex).ok_or_else(|| {
                Error::Lake(format!("{}: malformed dedupe_key {v:?}", path.display()))
            })?;
            rows += 1;
            if !keys.insert(k) {
                dupes += 1;
            }
        }
    }
    Ok((rows, dupes))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// Checks the lake at `root` against `store` (if given).
pub fn check(
    root: &Path,
    store: Option<&dyn TraceRows>,
    max_partition_bytes: u64,
) -> Result<CheckReport> {
    let held = match ExclusiveLock::try_acquire(root)? {
        Some(x) => Held::Exclusive(x),
        None => Held::Shared(SharedLock::acquire(root)?),
    };
    let quiescent = matches!(held, Held::Exclusive(_));
    let mut r = CheckReport {
        lake: root.display().to_string(),
        quiescent,
        partitions: Vec::new(),
        files: 0,
        rows: 0,
        distinct: 0,
        duplicate_rows: 0,
        bytes: 0,
        store_rows: None,
        unreadable: Vec::new(),
        temp_files: 0,
        foreign_files: Vec::new(),
        pending_writers: lock::pending_markers(root)?.len() as u64,
        oversize_partitions: Vec::new(),
        max_partition_bytes,
        warnings: Vec::new(),
        problems: Vec::new(),
        ok: false,
    };
    let mut expected: BTreeMap<Partition, i64> = BTreeMap::new();
    if let Some(store) = store {
        for (p, groups) in store_groups(store)? {
            expected.insert(p, groups.iter().map(|g| g.rows).sum());
        }
        r.store_rows = Some(expected.values().sum());
    }
    let mut seen = HashSet::new();
    for pd in list_partitions(root)? {
        let mut keys = HashSet::new();
        let mut pr = PartitionReport {
            repo: pd.partition.repo.clone(),
            date: pd.partition.date.clone(),
            files: pd.parts.len() as u64,
            rows: 0,
            distinct: 0,
            bytes: 0,
            store_rows: expected.get(&pd.partition).copied(),
        };
        for f in &pd.parts {
            pr.bytes += std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
            match read_file(f, &mut keys) {
                Ok((rows, dupes)) => {
                    pr.rows += rows;
                    r.duplicate_rows += dupes;
                }
                Err(e) => r.unreadable.push(Unreadable {
                    path: f.display().to_string(),
                    error: e.to_string(),
                }),
            }
        }
        pr.distinct = keys.len() as u64;
        r.temp_files += pd.temps.len() as u64;
        r.foreign_files
            .extend(pd.foreign.iter().map(|p| p.display().to_string()));
        let name = pd.partition.relative().display().to_string();
        if pr.bytes > max_partition_bytes {
            r.warnings.push(format!(
                "partition {name} holds {} (threshold {}): consider finer partitions or pruning",
                mb(pr.bytes),
                mb(max_partition_bytes)
            ));
            r.oversize_partitions.push(name.clone());
        }
        if store.is_some() && pr.store_rows.unwrap_or(0) != pr.distinct as i64 {
            let msg = format!(
                "partition {name}: {} distinct rows in the lake, {} in SQLite",
                pr.distinct,
                pr.store_rows.unwrap_or(0)
            );
            if quiescent {
                r.problems.push(msg);
            } else {
                r.warnings.push(msg);
            }
        }
        r.files += pr.files;
        r.rows += pr.rows;
        r.distinct += pr.distinct;
        r.bytes += pr.bytes;
        seen.insert(pd.partition.clone());
        if !pd.journals.is_empty() {
            r.warnings.push(format!(
                "partition {name} has an interrupted compaction; `prod-lens lake repair` finishes it"
            ));
        }
        r.partitions.push(pr);
    }
    for (p, n) in &expected {
        if !seen.contains(p) {
            let msg = format!(
                "partition {}: missing from the lake ({n} rows in SQLite)",
                p.relative().display()
            );
            if quiescent {
                r.problems.push(msg);
            } else {
                r.warnings.push(msg);
            }
        }
    }
    for u in &r.unreadable {
        r.problems
            .push(format!("unreadable file {}: {}", u.path, u.error));
    }
    if r.duplicate_rows > 0 {
        r.problems.push(format!(
            "{} rows appear more than once; `prod-lens lake compact` removes the copies",
            r.duplicate_rows
        ));
    }
    if let Some(n) = r.store_rows {
        if quiescent && n != r.distinct as i64 {
            r.problems.push(format!(
                "the lake holds {} distinct rows, SQLite {n}; `prod-lens lake repair` writes the missing ones",
                r.distinct
            ));
        }
    }
    if r.pending_writers > 0 {
        let msg = if quiescent {
            format!(
                "{} ingest(s) did not finish; `prod-lens lake repair` restores their rows",
                r.pending_writers
            )
        } else {
            format!("{} ingest(s) are writing the lake now", r.pending_writers)
        };
        if quiescent {
            r.problems.push(msg);
        } else {
            r.warnings.push(msg);
        }
    }
    if quiescent && r.temp_files > 0 {
        r.warnings.push(format!(
            "{} abandoned temporary files (hidden, ignored by readers); `prod-lens lake repair` removes them",
            r.temp_files
        ));
    }
    if !r.foreign_files.is_empty() {
        r.warnings.push(format!(
            "{} files in partition folders were not written by ProdLens",
            r.foreign_files.len()
        ));
    }
    if !quiescent {
        r.warnings
            .push("ingests are running: the comparison with SQLite is not final".to_string());
    }
    r.ok = r.problems.is_empty();
    drop(held);
    Ok(r)
}
