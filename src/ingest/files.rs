//! Incremental inputs: what was ingested of each file, and what a re-run must read of it.
//!
//! After a file is read, the store remembers its size, modification time, how far its complete
//! (newline-terminated) lines go (`offset`, `lines`) and two fingerprints: a hash of its first
//! [`SPAN`] bytes and of the [`SPAN`] bytes before `offset`. On the next run:
//!
//! * same size and modification time (to the nanosecond): **skipped** without opening it, the
//!   quick check `rsync` and `make` rely on;
//! * larger, same fingerprints, plain JSONL: **resumed** at `offset` (Claude Code appends to a
//!   session file, a proxy to its log); a last line that had no newline yet is read again;
//! * anything else (shorter, rewritten, touched, gzip or JSON-array files that changed): read
//!   again from the start; the store's dedupe keeps the rows exact;
//! * a path never seen whose size, time and fingerprints equal a remembered file's (a renamed
//!   or copied file): skipped.
//!
//! The deciding ([`plan`]) is pure; [`Probe`] does the reading of sizes and fingerprints.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes hashed at the start of a file and before its ingested end.
pub const SPAN: u64 = 4096;

/// What the store remembers of one ingested file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileState {
    /// Absolute path.
    pub path: String,
    /// Bytes read.
    pub size: u64,
    /// Modification time when it was read, in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    /// Hash of the first `min(SPAN, offset)` bytes.
    pub head_hash: Vec<u8>,
    /// Hash of the `min(SPAN, offset)` bytes before `offset`.
    pub tail_hash: Vec<u8>,
    /// End of the last complete line read (the whole file for gzip and JSON arrays).
    pub offset: u64,
    /// Lines before `offset` (so resumed dead letters carry the right line numbers).
    pub lines: u64,
    /// False for files that cannot be resumed mid-way (gzip, one JSON array).
    pub resumable: bool,
}

/// A file as found on disk now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Size in bytes.
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

/// What to read of one file in this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Read it whole.
    Full,
    /// Read from byte `offset`, numbering lines from `lines + 1`.
    Resume {
        /// Where the unread part starts.
        offset: u64,
        /// Lines before it.
        lines: u64,
    },
    /// Nothing new: do not read it.
    Skip,
}

/// The fingerprints of a file at a remembered state's `offset`: `(head, tail)`, or None when the
/// file is now shorter than that offset.
pub type Fingerprints = Option<(Vec<u8>, Vec<u8>)>;

/// Decides what to read of a file, given what is remembered of it and what it is now.
/// `now_prints` are the file's fingerprints taken at `known.offset`.
pub fn plan(known: Option<&FileState>, now: &Stat, now_prints: &Fingerprints) -> Plan {
    let Some(k) = known else { return Plan::Full };
    let same_prints = matches!(now_prints, Some((h, t)) if *h == k.head_hash && *t == k.tail_hash);
    if !same_prints {
        return Plan::Full;
    }
    if now.size == k.size && now.mtime_ns == k.mtime_ns {
        return Plan::Skip;
    }
    if k.resumable && now.size > k.size {
        return Plan::Resume {
            offset: k.offset,
            lines: k.lines,
        };
    }
    Plan::Full
}

/// Hash of a file region, as stored.
pub fn hash(bytes: &[u8]) -> Vec<u8> {
    blake3::hash(bytes).as_bytes()[..16].to_vec()
}

/// Size and modification time of an open file.
pub fn stat(file: &File) -> io::Result<Stat> {
    Ok(stat_of(&file.metadata()?))
}

/// Size and modification time of a path (symbolic links followed).
pub fn stat_path(path: &Path) -> io::Result<Stat> {
    Ok(stat_of(&std::fs::metadata(path)?))
}

fn stat_of(m: &std::fs::Metadata) -> Stat {
    let mtime_ns = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Stat {
        size: m.len(),
        mtime_ns,
    }
}

/// The fingerprints of `file` at `offset`: hashes of its first `min(SPAN, offset)` bytes and
/// of the same number of bytes before `offset`. None when the file is shorter than `offset`.
pub fn fingerprints(file: &File, offset: u64, size: u64) -> io::Result<Fingerprints> {
    if size < offset {
        return Ok(None);
    }
    let span = SPAN.min(offset) as usize;
    let mut buf = vec![0u8; span];
    file.read_exact_at(&mut buf, 0)?;
    let head = hash(&buf);
    file.read_exact_at(&mut buf, offset - span as u64)?;
    Ok(Some((head, hash(&buf))))
}

/// True when a file can be resumed mid-way: not gzip, not one JSON array.
pub fn resumable(file: &File) -> io::Result<bool> {
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match file.read_at(&mut head[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let head = &head[..n];
    if head.starts_with(&[0x1f, 0x8b]) {
        return Ok(false);
    }
    let first = head
        .iter()
        .find(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF));
    Ok(first != Some(&b'['))
}

/// Plans files against the remembered states, reading only sizes and fingerprints.
pub struct Probe {
    by_path: HashMap<String, FileState>,
    /// Remembered states by (size, mtime): candidates for renamed or copied files.
    by_stat: HashMap<(u64, i64), Vec<FileState>>,
}

/// One file's plan, with what was found on disk.
#[derive(Debug)]
pub struct Planned {
    /// The key the file is remembered by.
    pub path: String,
    /// What to read.
    pub plan: Plan,
    /// The file as found.
    pub stat: Stat,
    /// The remembered state this plan came from (for a skipped renamed file, the old path's).
    pub known: Option<FileState>,
}

impl Probe {
    /// A probe over the remembered states (empty with `--full`).
    pub fn new(states: Vec<FileState>) -> Self {
        let mut by_stat: HashMap<(u64, i64), Vec<FileState>> = HashMap::new();
        for s in &states {
            by_stat
                .entry((s.size, s.mtime_ns))
                .or_default()
                .push(s.clone());
        }
        Probe {
            by_path: states.into_iter().map(|s| (s.path.clone(), s)).collect(),
            by_stat,
        }
    }

    /// The key a path is remembered by: the absolute path (symbolic links kept, so no lookup
    /// per folder level).
    pub fn key(path: &Path) -> String {
        std::path::absolute(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .to_string_lossy()
            .into_owned()
    }

    /// Plans one file.
    pub fn plan(&self, path: &Path) -> io::Result<Planned> {
        let key = Self::key(path);
        if let Some(k) = self.by_path.get(&key) {
            let now = stat_path(path)?;
            if now.size == k.size && now.mtime_ns == k.mtime_ns {
                return Ok(Planned {
                    plan: Plan::Skip,
                    path: key,
                    stat: now,
                    known: Some(k.clone()),
                });
            }
        }
        if !self.by_path.contains_key(&key) {
            // Nothing remembered under this path, nor (below) under its size and time: it is
            // read whole, and a first run over thousands of files need not open each here.
            let now = stat_path(path)?;
            if !self.by_stat.contains_key(&(now.size, now.mtime_ns)) {
                return Ok(Planned {
                    plan: Plan::Full,
                    path: key,
                    stat: now,
                    known: None,
                });
            }
        }
        let file = File::open(path)?;
        let now = stat(&file)?;
        if let Some(k) = self.by_path.get(&key) {
            let prints = fingerprints(&file, k.offset, now.size)?;
            return Ok(Planned {
                plan: plan(Some(k), &now, &prints),
                path: key,
                stat: now,
                known: Some(k.clone()),
            });
        }
        for k in self
            .by_stat
            .get(&(now.size, now.mtime_ns))
            .into_iter()
            .flatten()
        {
            let prints = fingerprints(&file, k.offset, now.size)?;
            if plan(Some(k), &now, &prints) == Plan::Skip {
                return Ok(Planned {
                    plan: Plan::Skip,
                    path: key,
                    stat: now,
                    known: Some(k.clone()),
                });
            }
        }
        Ok(Planned {
            plan: Plan::Full,
            path: key,
            stat: now,
            known: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> FileState {
        FileState {
            path: "/x.jsonl".into(),
            size: 100,
            mtime_ns: 7,
            head_hash: vec![1],
            tail_hash: vec![2],
            offset: 90,
            lines: 3,
            resumable: true,
        }
    }

    fn prints(h: u8, t: u8) -> Fingerprints {
        Some((vec![h], vec![t]))
    }

    #[test]
    fn decides_by_size_time_and_fingerprints() {
        let k = known();
        let same = Stat {
            size: 100,
            mtime_ns: 7,
        };
        assert_eq!(plan(None, &same, &prints(1, 2)), Plan::Full);
        assert_eq!(plan(Some(&k), &same, &prints(1, 2)), Plan::Skip);
        let grown = Stat {
            size: 150,
            mtime_ns: 9,
        };
        assert_eq!(
            plan(Some(&k), &grown, &prints(1, 2)),
            Plan::Resume {
                offset: 90,
                lines: 3
            }
        );
        // Rewritten: the start or the ingested end differs.
        assert_eq!(plan(Some(&k), &grown, &prints(9, 2)), Plan::Full);
        assert_eq!(plan(Some(&k), &grown, &prints(1, 9)), Plan::Full);
        // Shorter than what was read.
        assert_eq!(plan(Some(&k), &same, &None), Plan::Full);
        // Touched, same size: read again rather than guess.
        let touched = Stat {
            size: 100,
            mtime_ns: 8,
        };
        assert_eq!(plan(Some(&k), &touched, &prints(1, 2)), Plan::Full);
        // Gzip grew: read again whole.
        let gz = FileState {
            resumable: false,
            ..k
        };
        assert_eq!(plan(Some(&gz), &grown, &prints(1, 2)), Plan::Full);
    }

    #[test]
    fn fingerprints_cover_the_start_and_the_ingested_end() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.jsonl");
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &body).unwrap();
        let f = File::open(&p).unwrap();
        let (h, t) = fingerprints(&f, 9000, 10_000).unwrap().unwrap();
        assert_eq!(h, hash(&body[..4096]));
        assert_eq!(t, hash(&body[9000 - 4096..9000]));
        let (h, t) = fingerprints(&f, 10, 10_000).unwrap().unwrap();
        assert_eq!((h, t), (hash(&body[..10]), hash(&body[..10])));
        assert_eq!(fingerprints(&f, 10_001, 10_000).unwrap(), None);
    }

    #[test]
    fn gzip_and_arrays_are_not_resumable() {
        let d = tempfile::tempdir().unwrap();
        let cases: [(&[u8], bool); 4] = [
            (b"{\"a\":1}\n", true),
            (b"\xEF\xBB\xBF {\"a\":1}\n", true),
            (b"  [{\"a\":1}]", false),
            (&[0x1f, 0x8b, 8, 0], false),
        ];
        for (i, (bytes, want)) in cases.iter().enumerate() {
            let p = d.path().join(format!("{i}"));
            std::fs::write(&p, bytes).unwrap();
            assert_eq!(resumable(&File::open(&p).unwrap()).unwrap(), *want, "{i}");
        }
    }
}
