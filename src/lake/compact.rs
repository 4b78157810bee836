//! `lake compact`: merges the data files of each partition into one, keeping every row once.
//!
//! Runs under the exclusive lake lock (after recovery), so no ingest adds files meanwhile. Per
//! partition: the inputs are streamed into a new hidden file (rows whose dedupe key was already
//! seen are dropped), which is fsynced; a journal naming the output and the inputs is written
//! atomically; the output is renamed into place; the inputs are removed; the journal is removed.
//! A crash at any point is resolved by the next recovery ([`resolve_journal`]): without the
//! published output the temporary file is dropped and the inputs stay; with it the remaining
//! inputs are removed. Either way every row is in the lake exactly once afterwards.

use super::files::{fsync_dir, list_partitions, open_reader, PartWriter};
use super::lock::{ExclusiveLock, WriterMarker};
use super::partition::{self, Partition};
use super::repair::{self, RecoveryReport};
use super::schema::{self, DEDUPE_KEY_COLUMN};
use super::writer::BufferLimits;
use crate::error::{Error, Result};
use crate::store::seam::TraceRows;
use arrow::array::{Array, AsArray, BooleanArray};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const JOURNAL_PREFIX: &str = ".compact-";
const JOURNAL_SUFFIX: &str = ".json";

/// True for the file name of a compaction journal.
pub fn is_journal_name(name: &str) -> bool {
    name.starts_with(JOURNAL_PREFIX) && name.ends_with(JOURNAL_SUFFIX)
}

/// A compaction in progress: which file replaces which.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    output: String,
    inputs: Vec<String>,
}

/// What compaction did to one partition.
#[derive(Clone, Debug, Serialize)]
pub struct PartitionCompaction {
    /// `repo=` value.
    pub repo: String,
    /// `date=` value.
    pub date: String,
    /// Files merged.
    pub files_in: u64,
    /// Rows written to the merged file.
    pub rows: u64,
    /// Rows dropped because their dedupe key was already present.
    pub duplicates_dropped: u64,
    /// Bytes before and after.
    pub bytes_before: u64,
    /// Size of the merged file.
    pub bytes_after: u64,
}

/// What `lake compact` did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CompactReport {
    /// Recovery done before compacting.
    pub recovery: RecoveryReport,
    /// Partitions looked at.
    pub partitions: u64,
    /// Partitions merged (those with more than one file).
    pub compacted: Vec<PartitionCompaction>,
    /// Files before compaction, over all partitions.
    pub files_before: u64,
    /// Files after compaction.
    pub files_after: u64,
}

fn journal_err(path: &Path, what: &str) -> Error {
    Error::Lake(format!(
        "compaction journal {} {what}; inspect it, then remove it to continue",
        path.display()
    ))
}

fn safe_file(dir: &Path, name: &str, journal: &Path) -> Result<PathBuf> {
    if !partition::is_part_name(name) {
        return Err(journal_err(
            journal,
            &format!("names an unexpected file {name:?}"),
        ));
    }
    Ok(dir.join(name))
}

/// Completes or rolls back the compaction recorded in `journal` (in partition folder `dir`).
pub fn resolve_journal(dir: &Path, journal: &Path) -> Result<()> {
    let text = std::fs::read_to_string(journal)
        .map_err(|e| Error::io(format!("reading {}", journal.display()), e))?;
    let j: Journal =
        serde_json::from_str(&text).map_err(|_| journal_err(journal, "is not readable"))?;
    let output = safe_file(dir, &j.output, journal)?;
    if output.is_file() {
        // The merged file was published: the inputs are redundant.
        for name in &j.inputs {
            let p = safe_file(dir, name, journal)?;
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(format!("removing {}", p.display()), e)),
            }
        }
    } else {
        let temp = dir.join(partition::temp_name(&j.output));
        let _ = std::fs::remove_file(temp);
    }
    fsync_dir(dir)?;
    std::fs::remove_file(journal)
        .map_err(|e| Error::io(format!("removing {}", journal.display()), e))?;
    fsync_dir(dir)
}

fn write_journal(dir: &Path, token: &str, j: &Journal) -> Result<PathBuf> {
    let name = format!("{JOURNAL_PREFIX}{token}{JOURNAL_SUFFIX}");
    let path = dir.join(&name);
    let temp = dir.join(partition::temp_name(&name));
    let text = serde_json::to_vec(j)?;
    let io = |what: &str, p: &Path| {
        let ctx = format!("{what} {}", p.display());
        move |e| Error::io(ctx, e)
    };
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&temp).map_err(io("creating", &temp))?;
        f.write_all(&text).map_err(io("writing", &temp))?;
        f.sync_all().map_err(io("syncing", &temp))?;
    }
    std::fs::rename(&temp, &path).map_err(io("renaming", &temp))?;
    fsync_dir(dir)?;
    Ok(path)
}

fn size_of(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn compact_partition(p: &Partition, dir: &Path, inputs: &[PathBuf]) -> Result<PartitionCompaction> {
    let token = format!("c{}", partition::unique_token());
    let name = partition::part_name(&token, 0);
    let mut out = PartWriter::create(dir, &name, usize::MAX)?;
    let mut keys: HashSet<u128> = HashSet::new();
    let (mut rows, mut dupes, mut bytes_before) = (0u64, 0u64, 0u64);
    for input in inputs {
        bytes_before += size_of(input);
        for batch in open_reader(input, false)? {
            let batch = batch.map_err(|source| Error::Arrow {
                context: format!("decoding {}", input.display()),
                source,
            })?;
            let col = batch
                .column(DEDUPE_KEY_COLUMN)
                .as_string_opt::<i32>()
                .ok_or_else(|| {
                    Error::Lake(format!("{}: dedupe_key is not text", input.display()))
                })?;
            let mut keep = Vec::with_capacity(col.len());
            for v in col.iter() {
                let k = v.and_then(schema::parse_key_hex).ok_or_else(|| {
                    Error::Lake(format!("{}: malformed dedupe_key {v:?}", input.display()))
                })?;
                keep.push(keys.insert(k));
            }
            let kept = keep.iter().filter(|k| **k).count() as u64;
            dupes += keep.len() as u64 - kept;
            rows += kept;
            let batch = if kept == keep.len() as u64 {
                batch
            } else {
                arrow::compute::filter_record_batch(&batch, &BooleanArray::from(keep)).map_err(
                    |source| Error::Arrow {
                        context: format!("filtering {}", input.display()),
                        source,
                    },
                )?
            };
            out.write(&batch)?;
        }
    }
    let done = out.finish()?;
    let bytes_after = done.size();
    let journal = Journal {
        output: name,
        inputs: inputs
            .iter()
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
            .collect(),
    };
    let jpath = write_journal(dir, &token, &journal)?;
    done.publish()?;
    fsync_dir(dir)?;
    resolve_journal(dir, &jpath)?;
    Ok(PartitionCompaction {
        repo: p.repo.clone(),
        date: p.date.clone(),
        files_in: inputs.len() as u64,
        rows,
        duplicates_dropped: dupes,
        bytes_before,
        bytes_after,
    })
}

/// Compacts every partition of the lake at `root` that has more than one data file. Waits for
/// running ingests to finish (it needs the exclusive lock), and recovers first.
pub fn compact(root: &Path, store: Option<&dyn TraceRows>) -> Result<CompactReport> {
    let lock = ExclusiveLock::acquire(root)?;
    let recovery = repair::recover(root, store, &lock, BufferLimits::default(), false)?;
    // A compaction that dies leaves this marker, so the next recovery looks at the lake.
    let token = format!("compact-{}", partition::unique_token());
    let marker = WriterMarker::create(root, &token, &lock)?;
    let mut report = CompactReport {
        recovery,
        ..Default::default()
    };
    for pd in list_partitions(root)? {
        report.partitions += 1;
        report.files_before += pd.parts.len() as u64;
        if pd.parts.len() < 2 {
            report.files_after += pd.parts.len() as u64;
            continue;
        }
        report
            .compacted
            .push(compact_partition(&pd.partition, &pd.path, &pd.parts)?);
        report.files_after += 1;
    }
    marker.clear()?;
    drop(lock);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::files::{self, read_keys};
    use crate::lake::schema::RowBuffer;

    fn part(dir: &Path, name: &str, keys: &[u8]) {
        let mut b = RowBuffer::new();
        for k in keys {
            b.push(&crate::lake::tests::record(*k, Some("acme/api")));
        }
        files::write_part(dir, name, &b.take_batch().unwrap()).unwrap();
    }

    fn lake_keys(root: &Path) -> (u64, usize, usize) {
        let mut keys = HashSet::new();
        let (mut rows, mut files) = (0, 0);
        for pd in list_partitions(root).unwrap() {
            for f in &pd.parts {
                rows += read_keys(f, &mut keys).unwrap().0;
                files += 1;
            }
        }
        (rows, keys.len(), files)
    }

    #[test]
    fn merges_files_and_drops_duplicate_keys() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("repo=acme__api/date=2025-10-12");
        std::fs::create_dir_all(&dir).unwrap();
        part(&dir, "part-a.parquet", &[1, 2, 3]);
        part(&dir, "part-b.parquet", &[3, 4]);
        part(&dir, "part-c.parquet", &[5]);
        let r = compact(root.path(), None).unwrap();
        assert_eq!(r.compacted.len(), 1);
        assert_eq!(r.compacted[0].rows, 5);
        assert_eq!(r.compacted[0].duplicates_dropped, 1);
        assert_eq!((r.files_before, r.files_after), (3, 1));
        assert_eq!(lake_keys(root.path()), (5, 5, 1));
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "only the merged file remains");
    }

    #[test]
    fn interrupted_compaction_resolves_both_ways() {
        // Crash after publishing the output, before removing the inputs.
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("repo=acme__api/date=2025-10-12");
        std::fs::create_dir_all(&dir).unwrap();
        part(&dir, "part-a.parquet", &[1, 2]);
        part(&dir, "part-b.parquet", &[3]);
        part(&dir, "part-merged.parquet", &[1, 2, 3]);
        write_journal(
            &dir,
            "x",
            &Journal {
                output: "part-merged.parquet".into(),
                inputs: vec!["part-a.parquet".into(), "part-b.parquet".into()],
            },
        )
        .unwrap();
        let r = compact(root.path(), None).unwrap();
        assert_eq!(r.recovery.compactions_resolved, 1);
        assert_eq!(lake_keys(root.path()), (3, 3, 1));

        // Crash before publishing: the temporary output goes, the inputs stay.
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("repo=acme__api/date=2025-10-12");
        std::fs::create_dir_all(&dir).unwrap();
        part(&dir, "part-a.parquet", &[1, 2]);
        part(&dir, ".part-merged.parquet.tmp", &[1, 2]);
        write_journal(
            &dir,
            "y",
            &Journal {
                output: "part-merged.parquet".into(),
                inputs: vec!["part-a.parquet".into()],
            },
        )
        .unwrap();
        compact(root.path(), None).unwrap();
        assert_eq!(lake_keys(root.path()), (2, 2, 1));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn a_journal_naming_other_files_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("repo=acme__api/date=2025-10-12");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(root.path().join("precious"), "x").unwrap();
        part(&dir, "part-out.parquet", &[1]);
        let j = write_journal(
            &dir,
            "z",
            &Journal {
                output: "part-out.parquet".into(),
                inputs: vec!["../../precious".into()],
            },
        )
        .unwrap();
        assert!(resolve_journal(&dir, &j).is_err());
        assert!(root.path().join("precious").exists());
    }
}
