//! An ingest commits its store transaction every `commit_rows` records, several batches at a
//! time: rows, rollups, the Parquet lake and the remembered input files come out exactly as when
//! every batch was committed alone.

mod lake_support;
mod rollups_support;

use lake_support::*;
use prod_lens::ingest::{self, input, IngestOptions, IngestSummary, NoProgress};
use prod_lens::lake::{BufferLimits, LakeOptions, LakeSink};
use prod_lens::store::Store;
use rollups_support::{assert_same, snapshot};
use std::path::{Path, PathBuf};

/// Ingests `files` in one run with small batches and commits every `commit_rows` records.
fn ingest_with(db: &Path, lake: &Path, files: &[PathBuf], commit_rows: u64) -> IngestSummary {
    let mut store = Store::open(db).unwrap();
    let mut opts = IngestOptions::new(db.parent().unwrap().join("dead-letter"));
    opts.batch_size = 100;
    opts.commit_rows = commit_rows;
    let mut sink = LakeSink::open(LakeOptions {
        root: lake.to_path_buf(),
        db: db.to_path_buf().into(),
        limits: BufferLimits {
            rows_per_file: 300,
            max_buffered_rows: 400,
        },
    })
    .unwrap();
    let inputs = input::discover(files).unwrap();
    ingest::ingest(&mut store, &inputs, &opts, &mut [&mut sink], &NoProgress).unwrap()
}

#[test]
fn commits_of_several_batches_give_the_same_rows_rollups_and_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let (lines, valid) = sample_lines(6_000, 5);
    // Two files that overlap by 1 000 lines, so the second repeats rows of the first's commits.
    let files = [
        (tmp.path().join("a.jsonl"), &lines[..3_500]),
        (tmp.path().join("b.jsonl"), &lines[2_500..]),
    ]
    .map(|(p, l)| {
        write_lines(&p, l);
        p
    });

    // Commits of 450 records (not a whole number of batches) against one commit per batch.
    let (grouped, alone) = (tmp.path().join("grouped"), tmp.path().join("alone"));
    for (dir, commit_rows) in [(&grouped, 450), (&alone, 1)] {
        std::fs::create_dir_all(dir).unwrap();
        let s = ingest_with(&dir.join("x.db"), &dir.join("lake"), &files, commit_rows);
        assert_eq!(s.inserted, valid, "{dir:?}");
        assert_eq!(store_count(&dir.join("x.db")), valid as i64);
        let c = lake_count(&dir.join("lake"));
        assert_eq!((c.rows, c.distinct, c.temps), (valid, valid, 0), "{c:?}");
        let (report, ok) = lake_check(&dir.join("x.db"), &dir.join("lake"));
        assert!(ok, "lake check failed: {report:#}");
    }
    let open = |dir: &Path| rusqlite::Connection::open(dir.join("x.db")).unwrap();
    let got = snapshot(&open(&grouped), None);
    assert!(!got[0].1.is_empty());
    assert_same(&got, &snapshot(&open(&alone), None));

    // The rollups are those of the stored rows.
    let out = std::process::Command::new(bin())
        .arg("--db")
        .arg(grouped.join("x.db"))
        .arg("rebuild-rollups")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_same(&got, &snapshot(&open(&grouped), None));

    // Both files were remembered once their rows were committed: a re-run reads neither.
    let again = ingest_with(&grouped.join("x.db"), &grouped.join("lake"), &files, 450);
    assert_eq!((again.files_skipped, again.inserted, again.read), (2, 0, 0));
}

#[test]
fn a_failed_run_logs_as_inserted_only_the_rows_its_commits_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let (lines, valid) = sample_lines(6_000, 7);
    let file = tmp.path().join("a.jsonl");
    write_lines(&file, &lines);
    // Parsers hand over chunks of 1 MiB: several per transaction below.
    assert!(std::fs::metadata(&file).unwrap().len() > 4 << 20);
    for (commit_rows, fail_at) in [(1_000_000, valid - 20), (2_000, valid - 20)] {
        let dir = tmp.path().join(format!("c{commit_rows}"));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("x.db");
        drop(Store::open(&db).unwrap());
        // A late row fails, inside a transaction that already holds rows of earlier batches.
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch(&format!(
                "CREATE TRIGGER fail_late BEFORE INSERT ON traces
                 WHEN (SELECT COUNT(*) FROM traces) >= {fail_at}
                 BEGIN SELECT RAISE(ABORT, 'disk trouble'); END;"
            ))
            .unwrap();
        let mut store = Store::open(&db).unwrap();
        let mut opts = IngestOptions::new(dir.join("dead-letter"));
        opts.batch_size = 100;
        opts.commit_rows = commit_rows;
        let inputs = input::discover(std::slice::from_ref(&file)).unwrap();
        let err = ingest::ingest(&mut store, &inputs, &opts, &mut [], &NoProgress).unwrap_err();
        assert!(err.to_string().contains("disk trouble"), "{err}");
        drop(store);

        let stored = store_count(&db);
        assert!(stored < fail_at as i64, "{stored}");
        let c = rusqlite::Connection::open(&db).unwrap();
        let (outcome, inserted, details): (String, i64, String) = c
            .query_row(
                "SELECT outcome, inserted, details FROM etl_runs ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert!(outcome.starts_with("failed"), "{outcome}");
        assert_eq!(
            inserted, stored,
            "commits of {commit_rows}: the rows that stayed"
        );
        let details: serde_json::Value = serde_json::from_str(&details).unwrap();
        assert_eq!(details["inserted"], stored);
        let tokens: i64 = c
            .query_row("SELECT COALESCE(SUM(tokens_in), 0) FROM traces", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(details["tokens_in"], tokens);
        // What was read is still reported as read.
        assert!(details["read"].as_u64().unwrap() > stored as u64);
        if commit_rows == 2_000 {
            assert!(stored > 0, "a commit came before the failure");
        }
    }
}
