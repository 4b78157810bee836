//! kill -9 of `ingest-traces` writing into PostgreSQL, mid-run: what was committed stays, the
//! re-run stores exactly the calls a clean run stores (none twice), and the rollups equal a
//! rebuild from the rows.

mod common;
mod pg_support;

use common::Work;
use std::time::{Duration, Instant};

#[test]
fn a_killed_writer_loses_nothing_committed_and_the_rerun_converges() {
    let Some(pg) = pg_support::start_or_skip("kill -9 of a PostgreSQL writer") else {
        return;
    };
    let w = Work::new();
    let input = w.path("calls.jsonl");
    let spec = prod_lens::sample::SampleSpec {
        lines: 120_000,
        ..prod_lens::sample::SampleSpec::demo()
    };
    prod_lens::sample::write_sample(&spec, &mut std::fs::File::create(&input).unwrap()).unwrap();
    let input = input.to_str().unwrap().to_string();
    let dead = w.path("dead");
    let ingest = |db: &str| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_prod-lens"));
        c.current_dir(w.root()).env_remove("PRODLENS_DB").args([
            "--db",
            db,
            "ingest-traces",
            "--no-parquet",
            "--quiet",
            "--dead-letter-dir",
            dead.to_str().unwrap(),
            &input,
        ]);
        c
    };
    // The reference: a clean run into SQLite.
    let sqlite = w.path("ref.db");
    let out = ingest(sqlite.to_str().unwrap()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected: i64 = rusqlite::Connection::open(&sqlite)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM traces", [], |r| r.get(0))
        .unwrap();

    let url = pg.url_for("127.0.0.1", "sslmode=disable");
    let mut c = pg.local_client();
    let count = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT COUNT(*) FROM traces", &[])
            .map(|r| r.get(0))
            .unwrap_or(0)
    };
    let mut child = ingest(&url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed once some batches are committed and well before the end.
    let started = Instant::now();
    let at_kill = loop {
        let n = count(&mut c);
        if n >= 2_000 {
            break n;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no batch committed in 120 s"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the writer ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let after_kill = count(&mut c);
    assert!(after_kill >= at_kill, "committed rows were lost");
    assert!(
        after_kill < expected,
        "the writer finished before it was killed ({after_kill} of {expected})"
    );
    // Rollups of a killed run are those of its committed rows.
    let kept = pg_support::rollup_rows(&mut c);
    let rebuild = |w: &Work| {
        let out = w
            .cmd()
            .env_remove("PRODLENS_DB")
            .args(["--db", &url, "rebuild-rollups"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    rebuild(&w);
    pg_support::same_rows(
        "rollups of the killed run's rows",
        &kept,
        &pg_support::rollup_rows(&mut c),
    );

    let out = ingest(&url).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count(&mut c), expected, "the re-run stores every call once");
    let distinct: i64 = c
        .query_one("SELECT COUNT(DISTINCT dedupe_key) FROM traces", &[])
        .unwrap()
        .get(0);
    assert_eq!(distinct, expected);
    let kept = pg_support::rollup_rows(&mut c);
    rebuild(&w);
    pg_support::same_rows(
        "rollups after the re-run",
        &kept,
        &pg_support::rollup_rows(&mut c),
    );
}
