//! `prod-lens status` (table and `--json`) and `prod-lens demo`, through the real binary.

mod common;

use common::*;
use serde_json::{json, Value};

fn status_json(w: &Work, db: &str) -> Value {
    let out = common::run_ok(w.cmd().args(["--db", db, "status", "--json"]));
    assert!(out.stderr.is_empty());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn status_reports_rows_per_repo_runs_and_dead_letters() {
    let w = Work::new();
    w.write("mixed.jsonl", &mixed_bytes());
    let db = w.path("x.db");
    w.ingest(&db, &["mixed.jsonl", "--repo", "acme/default"]);

    let st = status_json(&w, "x.db");
    for k in ["traces", "dead_letters", "runs"] {
        assert!(st.get(k).is_some(), "{k} missing: {st}");
    }
    assert_eq!(st["traces"]["total"], 6);
    let by_repo: Vec<Value> = st["traces"]["by_repo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!({"repo": r["repo"], "count": r["count"], "first": r["first"], "last": r["last"]}))
        .collect();
    assert_eq!(
        by_repo,
        [
            json!({"repo": "acme/api", "count": 2,
                   "first": "2025-10-12T19:00:00.000Z", "last": "2025-10-12T20:00:00.000Z"}),
            json!({"repo": "acme/default", "count": 3,
                   "first": "2025-10-12T19:06:40.000Z", "last": "2025-10-12T19:20:00.000Z"}),
            json!({"repo": "acme/web", "count": 1,
                   "first": "2025-10-12T19:05:00.123Z", "last": "2025-10-12T19:05:00.123Z"}),
        ]
    );
    assert_eq!(st["dead_letters"], 15);
    let runs = st["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["job"], "ingest-traces");
    assert_eq!(run["outcome"], "ok");
    assert_eq!(run["source"], "mixed.jsonl");
    for (k, v) in [
        ("read", 22),
        ("inserted", 6),
        ("duplicates", 0),
        ("dead_lettered", 15),
        ("skipped", 1),
        ("cost_unknown", 1),
    ] {
        assert_eq!(run[k], v, "{k}: {run}");
    }
    assert!(run["started_at"].as_str().unwrap().ends_with('Z'));
    assert!(run["finished_at"].as_str().unwrap().ends_with('Z'));

    // A second, full run adds a run row (newest first) and its dead letters; no rows.
    w.ingest(&db, &["mixed.jsonl", "--repo", "acme/default", "--full"]);
    let st = status_json(&w, "x.db");
    assert_eq!(st["traces"]["total"], 6);
    assert_eq!(st["dead_letters"], 30);
    let runs = st["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert!(runs[0]["id"].as_i64() > runs[1]["id"].as_i64());
    assert_eq!(
        (runs[0]["inserted"].clone(), runs[0]["duplicates"].clone()),
        (json!(0), json!(6))
    );

    // `--runs 1` limits the list.
    let out = w
        .cmd()
        .args(["--db", "x.db", "status", "--json", "--runs", "1"])
        .output()
        .unwrap();
    let one: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(one["runs"].as_array().unwrap().len(), 1);
    assert_eq!(one["runs"][0]["id"], runs[0]["id"]);

    // The table shows the same facts.
    let out = w.cmd().args(["--db", "x.db", "status"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for part in [
        "traces: 6 calls",
        "acme/api",
        "acme/default",
        "acme/web",
        "2025-10-12T19:00:00.000Z",
        "2025-10-12T20:00:00.000Z",
        "dead letters: 30",
        "last runs:",
        "ingest-traces",
    ] {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
}

#[test]
fn status_without_a_database_exits_2_and_creates_nothing() {
    let w = Work::new();
    let out = w.cmd().arg("status").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(".prod-lens/cache.db"), "{stderr}");
    assert_eq!(w.tree(), Vec::<String>::new());
}

/// Runs `demo --json --dir <dir>` and returns (ingest summary, status).
fn demo(w: &Work, dir: &str) -> (Value, Value) {
    let out = common::run_ok(w.cmd().args(["demo", "--json", "--dir", dir]));
    let v = single_json_object(&String::from_utf8(out.stdout).unwrap());
    (v["ingest"].clone(), v["status"].clone())
}

#[test]
fn demo_runs_twice_in_its_own_folder() {
    let w = Work::new();
    let (s1, st1) = demo(&w, "demo");
    let inserted = int(&s1, "inserted");
    assert!(inserted > 1000, "{s1}");
    assert!(
        int(&s1, "dead_lettered") > 0,
        "the sample has malformed lines: {s1}"
    );
    // Only Claude Code's second streaming copy of each of its 40 messages is a duplicate.
    assert_eq!(int(&s1, "duplicates"), 40);
    assert_eq!(st1["traces"]["total"], inserted);
    let repos: Vec<&str> = st1["traces"]["by_repo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["repo"].as_str().unwrap_or("(none)"))
        .collect();
    // Claude Code's OTel events name no repository.
    assert_eq!(repos, ["acme/api", "acme/web", "(none)"]);
    let db = w.path("demo/cache.db");
    assert_eq!(
        query_i64(&open_db(&db), "SELECT COUNT(*) FROM traces"),
        inserted
    );
    let formats = query_i64(
        &open_db(&db),
        "SELECT COUNT(DISTINCT source_format) FROM traces",
    );
    assert_eq!(formats, 9, "every input shape");
    assert!(w.path("demo/traces/team-calls-1.jsonl").is_file());
    assert!(w.path("demo/traces/team-calls-2.jsonl.gz").is_file());

    // Second run: replaces its own folder, same deterministic result, no doubling.
    let (s2, st2) = demo(&w, "demo");
    assert_eq!(counts(&s2), counts(&s1));
    assert_eq!(st2["traces"]["total"], inserted);
    // A fresh database: one trace ingest, and one GitHub import per demo repo.
    let jobs: Vec<&str> = st2["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["job"].as_str().unwrap())
        .collect();
    assert_eq!(
        jobs.iter().filter(|j| **j == "ingest-traces").count(),
        1,
        "{jobs:?}"
    );
    assert_eq!(jobs.len(), 3, "a fresh database: {jobs:?}");
    assert_eq!(
        query_i64(&open_db(&db), "SELECT COUNT(*) FROM traces"),
        inserted
    );
    let dead: usize = ["team-calls-1", "team-calls-2"]
        .iter()
        .map(|s| w.path(&format!("demo/dead-letter/{s}.deadletter.jsonl")))
        .filter(|p| p.exists())
        .map(|p| dead_letters(&p).len())
        .sum();
    assert_eq!(
        dead as i64,
        int(&s2, "dead_lettered"),
        "dead letters not appended twice"
    );

    // The text mode works too and names the folder.
    let out = w.cmd().args(["demo", "--dir", "demo"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ProdLens demo"), "{text}");
    assert!(text.contains("acme/api"), "{text}");
}

#[test]
fn demo_accepts_an_empty_folder_and_refuses_a_foreign_one() {
    let w = Work::new();
    std::fs::create_dir(w.path("empty")).unwrap();
    demo(&w, "empty");
    assert!(w.path("empty/cache.db").is_file());

    w.write("mine/keep.txt", b"precious\n");
    let before = w.tree();
    let out = w.cmd().args(["demo", "--dir", "mine"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("mine"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(w.tree(), before, "nothing written into a foreign folder");
    assert_eq!(
        std::fs::read(w.path("mine/keep.txt")).unwrap(),
        b"precious\n"
    );
}
