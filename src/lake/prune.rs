//! Retention in the lake (`prune`): removing whole partition folders dated before a cut.
//!
//! Only real folders named `date=YYYY-MM-DD` inside real folders named `repo=<value>` of the
//! lake root are considered; symlinks are never followed (a symlinked folder is never taken for
//! a partition) and each folder is checked to resolve inside the lake before it is removed.
//! Removal runs under the exclusive lake lock, so no ingest writes meanwhile.

use super::files::fsync_dir;
use super::lock::ExclusiveLock;
use super::partition::{ensure_inside, safe_value};
use crate::error::{Error, Result};
use chrono::NaiveDate;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One partition folder before the cut.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PrunedPartition {
    /// `repo=` value.
    pub repo: String,
    /// `date=` value.
    pub date: String,
    /// Files in the folder.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The folder.
    #[serde(skip)]
    pub path: PathBuf,
}

/// What a lake prune removed (or, in a dry run, would remove).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LakePrune {
    /// The lake root.
    pub lake: String,
    /// Partition folders, by repo then date.
    pub partitions: Vec<PrunedPartition>,
    /// Files in them.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

fn io(what: &str, p: &Path) -> impl FnOnce(std::io::Error) -> Error {
    let context = format!("{what} {}", p.display());
    move |e| Error::io(context, e)
}

/// Real sub-folders of `dir` (never symlinks), with their names, sorted by name.
fn folders(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io("listing", dir))? {
        let entry = entry.map_err(io("listing", dir))?;
        // file_type() does not follow symlinks.
        let ft = entry.file_type().map_err(io("inspecting", &entry.path()))?;
        if let (true, Ok(name)) = (ft.is_dir(), entry.file_name().into_string()) {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The date of a `date=YYYY-MM-DD` folder name written exactly so, else None.
fn folder_date(name: &str) -> Option<NaiveDate> {
    let v = name.strip_prefix("date=")?;
    let d = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok()?;
    (d.format("%Y-%m-%d").to_string() == v).then_some(d)
}

/// Files (any kind, not followed) directly in a partition folder, and their bytes.
fn contents(dir: &Path) -> Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    for entry in std::fs::read_dir(dir).map_err(io("listing", dir))? {
        let entry = entry.map_err(io("listing", dir))?;
        let meta = entry.metadata().map_err(io("inspecting", &entry.path()))?;
        files += 1;
        bytes += meta.len();
    }
    Ok((files, bytes))
}

/// The partition folders of the lake at `root` dated before `before` (none without a lake).
pub fn plan(root: &Path, before: NaiveDate) -> Result<LakePrune> {
    let mut out = LakePrune {
        lake: root.display().to_string(),
        ..Default::default()
    };
    if !root.is_dir() {
        return Ok(out);
    }
    for (repo_name, repo_path) in folders(root)? {
        let Some(repo) = repo_name.strip_prefix("repo=").filter(|r| safe_value(r)) else {
            continue;
        };
        for (date_name, path) in folders(&repo_path)? {
            let Some(date) = folder_date(&date_name).filter(|d| *d < before) else {
                continue;
            };
            let (files, bytes) = contents(&path)?;
            out.files += files;
            out.bytes += bytes;
            out.partitions.push(PrunedPartition {
                repo: repo.to_string(),
                date: date.format("%Y-%m-%d").to_string(),
                files,
                bytes,
                path,
            });
        }
    }
    Ok(out)
}

/// Removes the partition folders of the lake at `root` dated before `before` (and `repo=`
/// folders left empty); requires the exclusive lake lock.
pub fn prune(root: &Path, before: NaiveDate, _lock: &ExclusiveLock) -> Result<LakePrune> {
    let done = plan(root, before)?;
    let mut parents: Vec<PathBuf> = Vec::new();
    for p in &done.partitions {
        ensure_inside(root, &p.path)?;
        std::fs::remove_dir_all(&p.path).map_err(io("removing", &p.path))?;
        if let Some(parent) = p.path.parent() {
            if !parents.iter().any(|q| q == parent) {
                parents.push(parent.to_path_buf());
            }
        }
    }
    for parent in &parents {
        let empty = std::fs::read_dir(parent)
            .map_err(io("listing", parent))?
            .next()
            .is_none();
        if empty {
            std::fs::remove_dir(parent).map_err(io("removing", parent))?;
        } else {
            fsync_dir(parent)?;
        }
    }
    if !parents.is_empty() {
        fsync_dir(root)?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dated_partitions_before_the_cut_go() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("lake");
        for rel in [
            "repo=acme__api/date=2025-09-01",
            "repo=acme__api/date=2025-09-20",
            "repo=acme__web/date=2025-09-02",
            "repo=acme__web/date=2025-9-3",
            "repo=acme__web/notes",
            "other/date=2025-09-01",
        ] {
            std::fs::create_dir_all(root.join(rel)).unwrap();
            std::fs::write(root.join(rel).join("part-a.parquet"), b"1234").unwrap();
        }
        // A symlinked "partition" pointing out of the lake is never followed or removed.
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("keep"), b"x").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("repo=acme__api/date=2025-08-01")).unwrap();
        let cut = NaiveDate::from_ymd_opt(2025, 9, 20).unwrap();
        let planned = plan(&root, cut).unwrap();
        assert_eq!(planned.partitions.len(), 2);
        assert_eq!((planned.files, planned.bytes), (2, 8));
        let lock = ExclusiveLock::acquire(&root).unwrap();
        let done = prune(&root, cut, &lock).unwrap();
        assert_eq!(done, planned);
        assert!(!root.join("repo=acme__api/date=2025-09-01").exists());
        assert!(root.join("repo=acme__api/date=2025-09-20").exists());
        assert!(root.join("repo=acme__web/date=2025-9-3").exists());
        assert!(root.join("other/date=2025-09-01").exists());
        assert!(outside.join("keep").exists());
        assert!(prune(&root, cut, &lock).unwrap().partitions.is_empty());
    }
}
