//! Partition and file names of the lake: `repo=<owner>__<name>/date=<YYYY-MM-DD>/part-<unique>.parquet`.
//!
//! Every component is built from validated values only: the repo through [`RepoSlug`] (records
//! without a repo go to `repo=__unknown__`, any value that fails validation to `repo=__invalid__`),
//! the date through chrono's formatter. [`Partition::dir_under`] checks each component again and
//! [`ensure_inside`] checks the created folder against the lake root, so no value can place a
//! file outside the lake.

use crate::error::{Error, Result};
use crate::slug::RepoSlug;
use chrono::NaiveDate;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Partition value for records that name no repository.
pub const UNKNOWN_REPO: &str = "__unknown__";
/// Partition value for a repository value that fails slug validation (never from the CLI path).
pub const INVALID_REPO: &str = "__invalid__";
/// Partition value for a date that cannot be written as a path component (never expected).
pub const INVALID_DATE: &str = "__invalid__";
/// Prefix of visible data files.
pub const PART_PREFIX: &str = "part-";
/// Suffix of data files.
pub const PART_SUFFIX: &str = ".parquet";
/// Suffix of files still being written (their names also start with a dot, so readers skip them).
pub const TEMP_SUFFIX: &str = ".tmp";

/// One Hive partition: the values of `repo=` and `date=`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    /// `owner__name`, [`UNKNOWN_REPO`] or [`INVALID_REPO`].
    pub repo: String,
    /// `YYYY-MM-DD`.
    pub date: String,
}

impl Partition {
    /// The partition of a record with this repo value and event date.
    pub fn of(repo: Option<&str>, date: NaiveDate) -> Self {
        let repo = match repo {
            None => UNKNOWN_REPO.to_string(),
            Some(r) => RepoSlug::parse(r)
                .map(|s| s.path_component())
                .unwrap_or_else(|_| INVALID_REPO.to_string()),
        };
        let date = crate::time::iso_date(date);
        let date = if date
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+')
            && !date.starts_with('-')
        {
            date
        } else {
            INVALID_DATE.to_string()
        };
        Partition { repo, date }
    }

    /// Reads a partition back from its two folder names (`repo=…`, `date=…`), if both are valid.
    pub fn from_dir_names(repo_dir: &str, date_dir: &str) -> Option<Self> {
        let repo = repo_dir.strip_prefix("repo=")?;
        let date = date_dir.strip_prefix("date=")?;
        (safe_value(repo) && safe_value(date)).then(|| Partition {
            repo: repo.to_string(),
            date: date.to_string(),
        })
    }

    /// The partition folder relative to the lake root.
    pub fn relative(&self) -> PathBuf {
        PathBuf::from(format!("repo={}", self.repo)).join(format!("date={}", self.date))
    }

    /// The partition folder under `root`, after checking that both components are plain names.
    pub fn dir_under(&self, root: &Path) -> Result<PathBuf> {
        if !safe_value(&self.repo) || !safe_value(&self.date) {
            return Err(Error::Lake(format!(
                "refusing unsafe partition value repo={:?} date={:?}",
                self.repo, self.date
            )));
        }
        let rel = self.relative();
        if rel.components().count() != 2
            || !rel.components().all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(Error::Lake(format!(
                "refusing partition path {}",
                rel.display()
            )));
        }
        Ok(root.join(rel))
    }
}

/// True when `v` is a partition value that is a single, plain, non-hidden path component.
pub fn safe_value(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 255 - "repo=".len()
        && !v.starts_with('.')
        && !v.contains("..")
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

/// Checks that `dir` (which must exist) resolves to a folder inside `root` (defence in depth:
/// catches a partition folder replaced by a symlink pointing elsewhere).
pub fn ensure_inside(root: &Path, dir: &Path) -> Result<()> {
    let canon = |p: &Path| {
        p.canonicalize()
            .map_err(|e| Error::io(format!("resolving {}", p.display()), e))
    };
    let (root_c, dir_c) = (canon(root)?, canon(dir)?);
    if dir_c.starts_with(&root_c) && dir_c != root_c {
        Ok(())
    } else {
        Err(Error::Lake(format!(
            "{} resolves outside the lake {}",
            dir.display(),
            root.display()
        )))
    }
}

/// A name part unique across processes and runs: time, process id, a per-process counter and a
/// hash of them (so a reused pid at the same clock reading still differs by counter and thread).
pub fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let pid = std::process::id();
    let mut h = blake3::Hasher::new();
    h.update(&nanos.to_le_bytes());
    h.update(&pid.to_le_bytes());
    h.update(&n.to_le_bytes());
    h.update(format!("{:?}", std::thread::current().id()).as_bytes());
    let tag = h.finalize().to_hex();
    format!("{nanos:x}-{pid}-{n}-{}", &tag[..8])
}

/// File name of the `seq`-th data file written under `token`.
pub fn part_name(token: &str, seq: u64) -> String {
    format!("{PART_PREFIX}{token}-{seq:05}{PART_SUFFIX}")
}

/// The hidden temporary name a data file is written under before it is renamed into place.
pub fn temp_name(final_name: &str) -> String {
    format!(".{final_name}{TEMP_SUFFIX}")
}

/// True for the name of a visible data file (`part-….parquet`).
pub fn is_part_name(name: &str) -> bool {
    name.starts_with(PART_PREFIX) && name.ends_with(PART_SUFFIX) && safe_value(name)
}

/// True for the name of a data file still being written (or abandoned by a crash).
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn partitions_from_valid_values() {
        let p = Partition::of(Some("acme/api"), d(2025, 10, 1));
        assert_eq!(p.repo, "acme__api");
        assert_eq!(p.date, "2025-10-01");
        assert_eq!(
            p.relative(),
            PathBuf::from("repo=acme__api").join("date=2025-10-01")
        );
        assert_eq!(Partition::of(None, d(2025, 1, 2)).repo, UNKNOWN_REPO);
    }

    #[test]
    fn hostile_repo_values_never_become_paths() {
        for bad in [
            "../../etc/passwd",
            "../x",
            "/abs/x",
            "a/b/c",
            "a\\b",
            "..",
            "acme/..",
            "acme/../../x",
            "",
            "a/b\0",
            "acme/api/../../..",
        ] {
            let p = Partition::of(Some(bad), d(2025, 1, 1));
            assert_eq!(p.repo, INVALID_REPO, "{bad:?}");
            let root = Path::new("/lake");
            let dir = p.dir_under(root).unwrap();
            assert!(dir.starts_with(root));
            assert_eq!(dir.components().count(), 4, "{}", dir.display());
        }
    }

    #[test]
    fn crafted_partition_values_are_refused() {
        for (repo, date) in [
            ("..", "2025-01-01"),
            ("a/b", "2025-01-01"),
            ("x", "../.."),
            (".hidden", "2025-01-01"),
            ("", "2025-01-01"),
            ("x", "/etc"),
        ] {
            let p = Partition {
                repo: repo.into(),
                date: date.into(),
            };
            assert!(
                p.dir_under(Path::new("/lake")).is_err(),
                "{repo:?} {date:?}"
            );
        }
        assert!(Partition::from_dir_names("repo=..", "date=2025-01-01").is_none());
        assert!(Partition::from_dir_names("repo=a", "date=2025-01-01").is_some());
        assert!(Partition::from_dir_names("other=a", "date=2025-01-01").is_none());
    }

    #[test]
    fn extreme_dates_stay_plain_components() {
        for date in [NaiveDate::MIN, NaiveDate::MAX, d(1, 1, 1), d(9999, 12, 31)] {
            let p = Partition::of(Some("acme/api"), date);
            assert!(safe_value(&p.date), "{}", p.date);
            assert!(p.dir_under(Path::new("/lake")).is_ok());
        }
    }

    #[test]
    fn names_are_unique_and_classified() {
        let a = unique_token();
        let b = unique_token();
        assert_ne!(a, b);
        let name = part_name(&a, 3);
        assert!(is_part_name(&name), "{name}");
        assert!(!is_temp_name(&name));
        let tmp = temp_name(&name);
        assert!(is_temp_name(&tmp));
        assert!(!is_part_name(&tmp));
    }

    #[cfg(unix)]
    #[test]
    fn ensure_inside_rejects_symlinked_escape() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let inside = root.path().join("repo=a__b");
        std::fs::create_dir(&inside).unwrap();
        assert!(ensure_inside(root.path(), &inside).is_ok());
        let link = root.path().join("repo=evil__x");
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        assert!(ensure_inside(root.path(), &link).is_err());
    }
}
