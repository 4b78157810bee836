//! `migrate-store` moves the demo's SQLite store into PostgreSQL: every call, GitHub row, cache
//! entry, checkpoint, run and link arrives; the report, `prs` and the GitHub status are the
//! same before and after; the rollups equal a rebuild; a second copy adds nothing.

mod common;
mod pg_support;

use common::Work;
use pg_support::{diff, scrub};
use serde_json::Value;

fn run(w: &Work, args: &[&str]) -> String {
    let out = w
        .cmd()
        .env_remove("PRODLENS_DB")
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{args:?}: {stderr}");
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
    stdout
}

fn count(c: &mut postgres::Client, table: &str) -> i64 {
    c.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])
        .unwrap()
        .get(0)
}

fn sqlite_count(db: &str, table: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn tables(v: &Value) -> std::collections::BTreeMap<String, (u64, u64, u64)> {
    v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let n = |k: &str| t[k].as_u64().unwrap();
            (
                t["table"].as_str().unwrap().to_string(),
                (n("read"), n("copied"), n("present")),
            )
        })
        .collect()
}

#[test]
fn the_demo_store_moves_to_postgresql_with_the_same_report() {
    let Some(pg) = pg_support::start_or_skip("migrate-store") else {
        return;
    };
    let w = Work::new();
    let dir = w.path("demo");
    let d = dir.to_str().unwrap();
    let sqlite = format!("{d}/cache.db");
    run(&w, &["--db", &sqlite, "demo", "--dir", d]);
    // Pseudonyms on: the setting and its key move with the store, so the pseudonyms stay.
    run(
        &w,
        &[
            "--db",
            &sqlite,
            "privacy",
            "--pseudonymize",
            "--min-group-size",
            "3",
        ],
    );
    let window = ["--since", "2025-09-01", "--until", "2025-10-12"];
    let cases: Vec<Vec<&str>> = vec![
        vec!["report", "--format", "json"],
        vec!["report", "--format", "json", "--exact"],
        vec!["report", "--format", "json", "--show-developers"],
        vec!["prs", "--format", "json", "--show-developers"],
    ];
    let json = |db: &str, args: &[&str]| -> Value {
        let mut full = vec!["--db", db];
        full.extend(args);
        let mut v: Value = serde_json::from_str(&run(&w, &full)).unwrap();
        scrub(&mut v);
        v
    };
    let before: Vec<Value> = cases
        .iter()
        .map(|c| json(&sqlite, &[c.as_slice(), &window].concat()))
        .collect();
    let status_before = json(&sqlite, &["status", "--json"]);

    let mut c = pg.local_client();
    c.batch_execute("CREATE ROLE mover LOGIN PASSWORD 'hunter2' SUPERUSER")
        .unwrap();
    let url = pg
        .url_for("127.0.0.1", "sslmode=disable")
        .replacen("postgres@", "mover:hunter2@", 1);
    let first: Value = serde_json::from_str(&run(
        &w,
        &["migrate-store", "--from", &sqlite, "--to", &url, "--json"],
    ))
    .unwrap();
    let t = tables(&first);
    assert_eq!(t["traces"], (6187, 6187, 0), "{first}");
    for table in [
        "gh_pull_requests",
        "gh_commits",
        "gh_issue_events",
        "gh_rework",
        "gh_repos",
        "etl_runs",
        "teams",
        "settings",
    ] {
        let n = sqlite_count(&sqlite, table);
        assert!(n > 0, "{table} is empty in the demo");
        assert_eq!(t[table], (n as u64, n as u64, 0), "{table}");
        // The copy logs its own run beside the copied ones.
        let own = i64::from(table == "etl_runs");
        assert_eq!(count(&mut c, table), n + own, "{table}");
    }
    assert!(!first.to_string().contains("hunter2"));

    // The same figures from PostgreSQL.
    for (case, b) in cases.iter().zip(&before) {
        let after = json(&url, &[case.as_slice(), &window].concat());
        if let Some(d) = diff("", b, &after) {
            panic!("{case:?}: before and after differ at {d}");
        }
    }
    let status_after = json(&url, &["status", "--json"]);
    assert_eq!(status_before["github"], status_after["github"]);
    assert_eq!(status_before["traces"], status_after["traces"]);
    assert_eq!(status_before["dead_letters"], status_after["dead_letters"]);

    // Rollups written by the copy equal a rebuild from the copied rows.
    let copied = pg_support::rollup_rows(&mut c);
    assert!(!copied.is_empty());
    run(&w, &["--db", &url, "rebuild-rollups"]);
    pg_support::same_rows(
        "rollups copied vs rebuilt",
        &copied,
        &pg_support::rollup_rows(&mut c),
    );

    // A second copy finds everything there.
    let again: Value = serde_json::from_str(&run(
        &w,
        &["migrate-store", "--from", &sqlite, "--to", &url, "--json"],
    ))
    .unwrap();
    for (table, (read, copied, present)) in tables(&again) {
        assert_eq!(copied, 0, "{table} copied again");
        assert_eq!(read, present, "{table}");
    }
    assert_eq!(count(&mut c, "traces"), 6187);
    // The copy's own runs are logged (one per copy) besides the copied ones.
    let n: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM etl_runs WHERE job = 'migrate-store'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}

#[test]
fn migrate_store_refuses_what_it_cannot_copy() {
    let w = Work::new();
    let out = w
        .cmd()
        .args([
            "migrate-store",
            "--from",
            "/nonexistent/cache.db",
            "--to",
            "postgres://x@127.0.0.1:1/db",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from /nonexistent/cache.db"));
    let db = w.path("s.db");
    std::fs::write(&db, b"").unwrap();
    let out = w
        .cmd()
        .args([
            "migrate-store",
            "--from",
            db.to_str().unwrap(),
            "--to",
            "mysql://x@h/db",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--to"));
}
