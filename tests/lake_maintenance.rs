//! `lake compact` and `lake check` on real lakes written by `prod-lens ingest-traces`.

mod lake_support;

use lake_support::*;
use std::path::Path;
use std::process::Command;

fn prod_lens(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .unwrap()
}

/// A lake with several files per partition: three ingests of interleaved lines.
fn fragmented_lake(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, u64) {
    let (lines, valid) = sample_lines(4_000, 9);
    let db = dir.join("cache.db");
    // Interleaved thirds: every partition receives rows from each of the three ingests.
    for i in 0..3 {
        let chunk: Vec<Vec<u8>> = lines.iter().skip(i).step_by(3).cloned().collect();
        let f = dir.join(format!("in{i}.jsonl"));
        write_lines(&f, &chunk);
        let out = Command::new(bin())
            .arg("--db")
            .arg(&db)
            .arg("ingest-traces")
            .arg(&f)
            .args(["--parquet-buffer-rows", "100", "--quiet"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (db, dir.join("parquet"), valid)
}

#[test]
fn compact_merges_each_partition_into_one_file_keeping_every_row_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, lake, valid) = fragmented_lake(tmp.path());
    let before = lake_count(&lake);
    assert_eq!((before.rows, before.distinct), (valid, valid));
    let (report, ok) = lake_check(&db, &lake);
    assert!(ok, "{report:#}");
    let partitions = report["partitions"].as_array().unwrap().len() as u64;
    assert!(before.files > 2 * partitions, "fragmented: {before:?}");

    let out = prod_lens(&db, &["lake", "compact", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files_before"], before.files);
    assert_eq!(v["files_after"], partitions);
    let merged: u64 = v["compacted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rows"].as_u64().unwrap())
        .sum();
    let single: u64 = partitions - v["compacted"].as_array().unwrap().len() as u64;
    assert!(merged <= valid && (single > 0 || merged == valid));

    let after = lake_count(&lake);
    assert_eq!(
        (after.rows, after.distinct, after.files, after.temps),
        (valid, valid, partitions, 0)
    );
    let (report, ok) = lake_check(&db, &lake);
    assert!(ok, "{report:#}");
    for p in report["partitions"].as_array().unwrap() {
        assert_eq!(p["files"], 1);
        assert_eq!(p["rows"], p["store_rows"]);
    }
    // Compacting a compact lake changes nothing.
    let out = prod_lens(&db, &["lake", "compact", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["compacted"].as_array().unwrap().len(), 0);
    assert_eq!(lake_count(&lake), after);
}

#[test]
fn check_reports_unreadable_files_big_partitions_and_differences() {
    let tmp = tempfile::tempdir().unwrap();
    let (db, lake, valid) = fragmented_lake(tmp.path());

    // Everything over a 0 MB threshold is flagged, as a warning only.
    let out = prod_lens(&db, &["lake", "check", "--json", "--max-partition-mb", "0"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["oversize_partitions"].as_array().unwrap().len(),
        v["partitions"].as_array().unwrap().len()
    );
    assert_eq!(v["rows"], valid);
    assert_eq!(v["store_rows"], valid);
    let out = prod_lens(&db, &["lake", "check"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{valid} rows")));

    // A damaged file is found and makes the check fail.
    let victim = tree(&lake)
        .into_iter()
        .find(|f| f.ends_with(".parquet"))
        .unwrap();
    let path = lake.join(&victim);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 9]).unwrap();
    let out = prod_lens(&db, &["lake", "check", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let bad = v["unreadable"].as_array().unwrap();
    assert_eq!(bad.len(), 1);
    assert!(bad[0]["path"].as_str().unwrap().ends_with(&victim));
    assert!(String::from_utf8_lossy(&out.stderr).contains("problem"));

    // No lake at all: a clear error, exit 2.
    let out = Command::new(bin())
        .arg("--db")
        .arg(&db)
        .args(["lake", "check", "--parquet-dir"])
        .arg(tmp.path().join("nowhere"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Parquet lake"));
}
