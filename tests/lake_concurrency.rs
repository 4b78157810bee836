//! Eight ingests of overlapping files at once — as threads calling the library and as separate
//! `prod-lens` processes — leave SQLite and the Parquet lake each holding exactly the distinct rows.

mod lake_support;

use lake_support::*;
use prod_lens::ingest::{self, input, IngestOptions, NoProgress};
use prod_lens::lake::{BufferLimits, LakeOptions, LakeSink};
use prod_lens::store::Store;
use std::path::{Path, PathBuf};

const WRITERS: usize = 8;

/// Eight files, each a window of the sample that overlaps its neighbours; together they cover
/// every line at least twice. Returns the files and the number of distinct valid calls.
fn overlapping_inputs(dir: &Path, seed: u64) -> (Vec<PathBuf>, u64) {
    let (lines, valid) = sample_lines(8_000, seed);
    let n = lines.len();
    let step = n / WRITERS;
    let files = (0..WRITERS)
        .map(|i| {
            let window: Vec<Vec<u8>> = (0..step * 5 / 2)
                .map(|j| lines[(i * step + j) % n].clone())
                .collect();
            let p = dir.join(format!("window-{i}.jsonl"));
            write_lines(&p, &window);
            p
        })
        .collect();
    (files, valid)
}

fn assert_exact(db: &Path, lake: &Path, expected: u64) {
    assert_eq!(store_count(db), expected as i64, "SQLite rows");
    let c = lake_count(lake);
    assert_eq!(c.rows, expected, "lake rows: {c:?}");
    assert_eq!(c.distinct, expected, "lake distinct rows: {c:?}");
    assert_eq!(c.temps, 0, "temporary files left: {c:?}");
    assert!(
        c.files > WRITERS as u64,
        "expected many small files, got {c:?}"
    );
    let (report, ok) = lake_check(db, lake);
    assert!(ok, "lake check failed: {report:#}");
    assert_eq!(report["quiescent"], true);
    assert_eq!(report["pending_writers"], 0);
    assert_eq!(report["duplicate_rows"], 0);
    assert_eq!(report["unreadable"].as_array().unwrap().len(), 0);
    assert_eq!(report["store_rows"], expected);
}

#[test]
fn eight_threads_ingesting_overlapping_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (files, expected) = overlapping_inputs(tmp.path(), 7);
    let db = tmp.path().join("cache.db");
    let lake = tmp.path().join("parquet");
    // Create the schema once so the threads start on an existing file, as processes would.
    drop(Store::open(&db).unwrap());
    std::thread::scope(|s| {
        for f in &files {
            let (db, lake) = (db.clone(), lake.clone());
            s.spawn(move || {
                let mut store = Store::open(&db).unwrap();
                let mut opts = IngestOptions::new(db.parent().unwrap().join("dead-letter"));
                opts.threads = 1;
                opts.batch_size = 500;
                opts.commit_rows = 1_200;
                let mut sink = LakeSink::open(LakeOptions {
                    root: lake,
                    db: db.clone().into(),
                    limits: BufferLimits {
                        rows_per_file: 300,
                        max_buffered_rows: 400,
                    },
                })
                .unwrap();
                let inputs = input::discover(std::slice::from_ref(f)).unwrap();
                ingest::ingest(&mut store, &inputs, &opts, &mut [&mut sink], &NoProgress).unwrap();
            });
        }
    });
    assert_exact(&db, &lake, expected);
}

#[test]
fn eight_processes_ingesting_overlapping_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (files, expected) = overlapping_inputs(tmp.path(), 11);
    let db = tmp.path().join("cache.db");
    let lake = tmp.path().join("parquet");
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            std::process::Command::new(bin())
                .arg("--db")
                .arg(&db)
                .arg("ingest-traces")
                .arg(f)
                .arg("--parquet-dir")
                .arg(&lake)
                .args(["--parquet-buffer-rows", "400", "--threads", "1", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let (mut inserted, mut to_lake) = (0u64, 0u64);
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ingest failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        inserted += v["inserted"].as_u64().unwrap();
        to_lake += v["lake"]["rows"].as_u64().unwrap();
    }
    assert_eq!(
        inserted, expected,
        "each call inserted by exactly one process"
    );
    assert_eq!(
        to_lake, expected,
        "each call written to the lake by exactly one process"
    );
    assert_exact(&db, &lake, expected);

    // Ingesting everything again adds nothing anywhere.
    let out = std::process::Command::new(bin())
        .arg("--db")
        .arg(&db)
        .arg("ingest-traces")
        .args(&files)
        .arg("--parquet-dir")
        .arg(&lake)
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["inserted"], 0);
    assert_eq!(v["lake"]["rows"], 0);
    assert_eq!(v["lake"]["files"], 0);
    assert_exact(&db, &lake, expected);
}
