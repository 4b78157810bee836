//! An ingest killed with SIGKILL while writing the lake leaves no partial file visible, and the
//! next ingest brings the lake back to exactly SQLite's rows. A first load into a new store,
//! killed, leaves neither a database nor a visible lake row.

mod common;
mod lake_support;

use common::run_ok;
use lake_support::*;
use prod_lens::lake::files::{list_partitions, open_reader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Decodes every visible data file completely; returns how many there were.
fn every_visible_file_decodes(lake: &Path) -> usize {
    let mut n = 0;
    for pd in list_partitions(lake).unwrap() {
        for f in &pd.parts {
            let reader = open_reader(f, false)
                .unwrap_or_else(|e| panic!("visible file {} does not open: {e}", f.display()));
            for batch in reader {
                batch.unwrap_or_else(|e| {
                    panic!("visible file {} does not decode: {e}", f.display())
                });
            }
            n += 1;
        }
    }
    n
}

fn ingest(db: &Path, lake: &Path, input: &Path) -> Command {
    let mut c = Command::new(bin());
    c.arg("--db")
        .arg(db)
        .arg("ingest-traces")
        .arg(input)
        .arg("--parquet-dir")
        .arg(lake)
        .args(["--parquet-buffer-rows", "2000", "--quiet"]);
    c
}

/// Starts `ingest` and kills it (SIGKILL) as soon as `ready` holds, polling every 10 ms; fails
/// with `not_yet` after 120 s, or if the ingest finishes first.
fn kill_when(mut ingest: Command, not_yet: &str, mut ready: impl FnMut() -> bool) {
    let mut child = ingest
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the ingest finished before it could be killed; use a larger input"
        );
        if ready() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{not_yet}");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Ingests `input` into `db` without the lake; panics unless it succeeds.
fn ingest_without_lake(db: &Path, input: &Path) {
    run_ok(
        assert_cmd::Command::new(bin())
            .arg("--db")
            .arg(db)
            .args(["ingest-traces", "--no-parquet", "--quiet"])
            .arg(input),
    );
}

/// Creates the store at `db` (an ingest of an empty file), so that later loads write in place.
fn create_store(db: &Path, dir: &Path) {
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, b"").unwrap();
    ingest_without_lake(db, &empty);
    assert!(db.is_file());
}

/// A kill test's paths under `dir`: 120 000 sample lines (seed `seed`) in `big.jsonl`, the store
/// and the lake; with the number of valid lines.
struct Case {
    input: PathBuf,
    db: PathBuf,
    lake: PathBuf,
    valid: u64,
}

fn big_case(dir: &Path, seed: u64) -> Case {
    let (lines, valid) = sample_lines(120_000, seed);
    let input = dir.join("big.jsonl");
    write_lines(&input, &lines);
    Case {
        input,
        db: dir.join("cache.db"),
        lake: dir.join("parquet"),
        valid,
    }
}

impl Case {
    /// Runs the ingest again to completion and returns its `--json` summary.
    fn rerun(&self) -> serde_json::Value {
        let mut c = ingest(&self.db, &self.lake, &self.input);
        c.arg("--json");
        let out = run_ok(&mut assert_cmd::Command::from_std(c));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Asserts that the store and the lake hold every valid line exactly once, with no temporary
    /// file left and a passing `lake check`.
    fn assert_exact(&self) {
        assert_eq!(store_count(&self.db), self.valid as i64);
        let after = lake_count(&self.lake);
        assert_eq!(
            (after.rows, after.distinct),
            (self.valid, self.valid),
            "{after:?}"
        );
        assert_eq!(
            after.temps, 0,
            "the killed run's temporary files are removed"
        );
        let (report, ok) = lake_check(&self.db, &self.lake);
        assert!(ok, "{report:#}");
        assert_eq!(report["pending_writers"], 0);
    }
}

#[test]
fn sigkill_mid_write_then_rerun_converges() {
    let tmp = tempfile::tempdir().unwrap();
    let case = big_case(tmp.path(), 3);
    let (db, lake, input, valid) = (&case.db, &case.lake, &case.input, case.valid);
    // An existing store: rows are committed in place as the load goes.
    create_store(db, tmp.path());

    // Watch the lake like a reader would, and kill the ingest once its first files are visible.
    kill_when(ingest(db, lake, input), "no lake files appeared", || {
        lake.exists() && every_visible_file_decodes(lake) >= 3
    });

    // The crash left the lake short of SQLite, with the dead ingest's marker, but every visible
    // file is whole.
    let stored = store_count(db);
    let before = lake_count(lake);
    assert!(
        stored > 0 && stored < valid as i64,
        "killed mid-run: {stored} of {valid}"
    );
    assert!(
        before.distinct < stored as u64,
        "rows of the killed ingest are missing from the lake ({before:?}, {stored} stored)"
    );
    assert_eq!(before.rows, before.distinct, "no row twice");
    assert!(every_visible_file_decodes(lake) > 0);
    let (report, ok) = lake_check(db, lake);
    assert!(!ok, "check must flag the unfinished ingest: {report:#}");
    assert_eq!(report["pending_writers"], 1);

    // Re-running the same ingest recovers the lost rows and adds the rest: exact counts.
    let v = case.rerun();
    assert_eq!(v["lake"]["recovery"]["unfinished_writers"], 1);
    assert_eq!(
        v["lake"]["recovery"]["rows_restored"].as_u64().unwrap(),
        stored as u64 - before.distinct
    );
    case.assert_exact();
}

#[test]
fn repair_restores_rows_ingested_without_the_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let (lines, valid) = sample_lines(3_000, 5);
    let (a, b) = lines.split_at(lines.len() / 2);
    let (fa, fb) = (tmp.path().join("a.jsonl"), tmp.path().join("b.jsonl"));
    write_lines(&fa, a);
    write_lines(&fb, b);
    let db = tmp.path().join("cache.db");
    let lake = tmp.path().join("parquet");
    run_ok(&mut assert_cmd::Command::from_std(ingest(&db, &lake, &fa)));
    ingest_without_lake(&db, &fb);
    assert_eq!(store_count(&db), valid as i64);
    let short = lake_count(&lake);
    assert!(short.distinct < valid);
    let (report, ok) = lake_check(&db, &lake);
    assert!(!ok && !report["problems"].as_array().unwrap().is_empty());

    let out = run_ok(
        assert_cmd::Command::new(bin())
            .arg("--db")
            .arg(&db)
            .args(["lake", "repair", "--json", "--parquet-dir"])
            .arg(&lake),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rows_restored"].as_u64().unwrap(), valid - short.distinct);
    let c = lake_count(&lake);
    assert_eq!((c.rows, c.distinct), (valid, valid));
    assert!(lake_check(&db, &lake).1);

    // Repairing a complete lake writes nothing.
    let out = Command::new(bin())
        .arg("--db")
        .arg(&db)
        .args(["lake", "repair", "--json", "--parquet-dir"])
        .arg(&lake)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["rows_restored"], 0);
    assert_eq!(lake_count(&lake), c);
}

#[test]
fn a_first_load_killed_leaves_no_store_and_no_lake_rows_then_reruns_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let case = big_case(tmp.path(), 4);
    let (db, lake, input, valid) = (&case.db, &case.lake, &case.input, case.valid);
    let hidden = tmp.path().join(".cache.db.new");

    // Killed once the new store has rows and the lake has written (hidden) files.
    let not_yet = "the new store and the lake's files did not appear";
    kill_when(ingest(db, lake, input), not_yet, || {
        let grown = std::fs::metadata(&hidden).is_ok_and(|m| m.len() > 8 << 20);
        let ready = grown && lake.exists() && lake_count(lake).temps > 0;
        assert!(
            !ready || !db.exists(),
            "a new store is not visible before the load completes"
        );
        ready
    });

    assert!(!db.exists(), "killed: no database at the path");
    let before = lake_count(lake);
    assert_eq!(
        (before.rows, before.files),
        (0, 0),
        "no visible lake row: {before:?}"
    );

    // The re-run builds the store again from the start and the lake with it.
    let v = case.rerun();
    assert_eq!(v["inserted"].as_u64().unwrap(), valid);
    assert_eq!(
        v["lake"]["recovery"]["rows_restored"].as_u64().unwrap_or(0),
        0
    );
    case.assert_exact();
    assert!(!hidden.exists(), "the hidden store is gone once published");
}
