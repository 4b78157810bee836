//! The demo's inputs into a SQLite file and into PostgreSQL (by `ingest-traces` and
//! `ingest-github --from-json`) give the same `report --format json` (rollups and `--exact`,
//! narrowed by developer and model, another timezone), the same `prs` and the same `status`.

mod common;
mod pg_support;

use common::Work;
use pg_support::{diff, scrub};
use serde_json::Value;

fn run(w: &Work, db: &str, args: &[&str]) -> String {
    let out = w
        .cmd()
        .env_remove("PRODLENS_DB")
        .args(["--db", db])
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{args:?}: {stderr}");
    stdout
}

#[test]
fn the_demo_reports_the_same_from_postgresql_as_from_sqlite() {
    let Some(pg) = pg_support::start_or_skip("report from PostgreSQL") else {
        return;
    };
    let w = Work::new();
    let dir = w.path("demo");
    let d = dir.to_str().unwrap();
    let out = w
        .cmd()
        .env_remove("PRODLENS_DB")
        .args(["--db", &format!("{d}/cache.db"), "demo", "--dir", d])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The demo's inputs into a fresh SQLite file and into PostgreSQL by the same commands.
    let sqlite = w.path("s.db").to_str().unwrap().to_string();
    let url = pg.url_for("127.0.0.1", "sslmode=disable");
    for db in [&sqlite, &url] {
        let dead = w.path("dead");
        run(
            &w,
            db,
            &[
                "ingest-traces",
                "--no-parquet",
                "--dead-letter-dir",
                dead.to_str().unwrap(),
                &format!("{d}/traces"),
            ],
        );
        run(
            &w,
            db,
            &[
                "ingest-github",
                "--repo",
                "acme/api",
                "--repo",
                "acme/web",
                "--from-json",
                &format!("{d}/github"),
            ],
        );
    }
    let json = |db: &str, args: &[&str]| -> Value {
        let mut v: Value = serde_json::from_str(&run(&w, db, args)).unwrap();
        scrub(&mut v);
        v
    };
    let window = ["--since", "2025-09-01", "--until", "2025-10-12"];
    let cases: Vec<Vec<&str>> = vec![
        vec!["report", "--format", "json"],
        vec!["report", "--format", "json", "--exact"],
        vec![
            "report",
            "--format",
            "json",
            "--timezone",
            "America/New_York",
        ],
        vec!["report", "--format", "json", "--developer", "DEV-Alice"],
        vec![
            "report",
            "--format",
            "json",
            "--model",
            "claude-sonnet-4-5-20250929",
        ],
        vec!["prs", "--format", "json"],
        vec!["status", "--json"],
    ];
    for case in cases {
        let mut args = case.clone();
        if case[0] != "status" {
            args.extend(window);
        }
        let (a, b) = (json(&sqlite, &args), json(&url, &args));
        if let Some(d) = diff("", &a, &b) {
            panic!("{args:?}: SQLite and PostgreSQL differ at {d}");
        }
        assert_ne!(a, Value::Null);
    }
}
