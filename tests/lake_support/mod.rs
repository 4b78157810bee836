//! Helpers shared by the Parquet lake tests: sample inputs, the binary, and independent counts
//! of what SQLite and the lake hold.
#![allow(dead_code)]

use prod_lens::lake::files::{list_partitions, read_keys};
use prod_lens::sample::{write_sample, SampleSpec};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The `prod-lens` binary built for these tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_prod-lens"))
}

/// `lines` sample lines (about 1 % malformed), one line per element, and the number of valid ones.
pub fn sample_lines(lines: u64, seed: u64) -> (Vec<Vec<u8>>, u64) {
    let spec = SampleSpec {
        lines,
        seed,
        ..SampleSpec::demo()
    };
    let mut out = Vec::new();
    let stats = write_sample(&spec, &mut out).unwrap();
    let v: Vec<Vec<u8>> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut l = l.to_vec();
            l.push(b'\n');
            l
        })
        .collect();
    (v, stats.valid)
}

/// Writes lines to a file.
pub fn write_lines(path: &Path, lines: &[Vec<u8>]) {
    std::fs::write(path, lines.concat()).unwrap();
}

/// Rows in SQLite `traces`.
pub fn store_count(db: &Path) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row("SELECT COUNT(*) FROM traces", [], |r| r.get(0))
        .unwrap()
}

/// What the lake holds, read file by file with the library's reader.
#[derive(Debug, Default, PartialEq)]
pub struct LakeCount {
    /// Rows over all visible data files.
    pub rows: u64,
    /// Distinct dedupe keys.
    pub distinct: u64,
    /// Visible data files.
    pub files: u64,
    /// Hidden temporary files.
    pub temps: u64,
}

/// Counts the lake at `root`; panics if a visible data file does not decode.
pub fn lake_count(root: &Path) -> LakeCount {
    let mut keys = HashSet::new();
    let mut c = LakeCount::default();
    for pd in list_partitions(root).unwrap() {
        c.temps += pd.temps.len() as u64;
        assert!(pd.foreign.is_empty(), "foreign files: {:?}", pd.foreign);
        for f in &pd.parts {
            let (rows, _) = read_keys(f, &mut keys)
                .unwrap_or_else(|e| panic!("{} does not read: {e}", f.display()));
            c.rows += rows;
            c.files += 1;
        }
    }
    c.distinct = keys.len() as u64;
    c
}

/// Every file below `dir`, relative to it, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                walk(base, &e.path(), out);
            } else {
                out.push(
                    e.path()
                        .strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Runs `prod-lens lake check --json` and returns its report (and whether it exited 0).
pub fn lake_check(db: &Path, lake: &Path) -> (serde_json::Value, bool) {
    let out = std::process::Command::new(bin())
        .args(["--db"])
        .arg(db)
        .args(["lake", "check", "--json", "--parquet-dir"])
        .arg(lake)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "lake check printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.success())
}
