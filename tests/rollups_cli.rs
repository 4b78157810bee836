//! Rollups through the real binary on a real store: what `ingest-traces` keeps equals what
//! `rebuild-rollups` computes, a damaged rollup is found and repaired exactly, and version-4, -6
//! and -7 files get their rollups when they are first opened for writing.

mod common;
mod rollups_support;

use chrono::NaiveDate;
use common::{int, open_db, query_i64, run_ok, Work};
use prod_lens::sample::{write_sample, SampleSpec};
use prod_lens::store::prelude::*;
use prod_lens::store::Store;
use rollups_support::{assert_same, snapshot};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Sample calls (two repos, a few developers) ingested in two runs, then Claude Code streaming
/// logs whose early copies arrive in one run and final copies in a later one (rows raised).
fn ingested(w: &Work) -> PathBuf {
    let spec = SampleSpec {
        lines: 3_000,
        developers: 6,
        start: NaiveDate::from_ymd_opt(2025, 10, 20).unwrap(),
        days: 10,
        repos: vec!["acme/api".into(), "acme/web".into()],
        malformed_per_mille: 0,
        seed: 5,
    };
    let mut bytes = Vec::new();
    write_sample(&spec, &mut bytes).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let db = w.path("r.db");
    for (name, part) in [("a.jsonl", a), ("b.jsonl", b)] {
        let f = w.write(name, (part.join("\n") + "\n").as_bytes());
        w.ingest(&db, &[f.to_str().unwrap(), "--no-parquet"]);
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/claude_code/streaming/projects/-home-dev-work-api");
    let mut raised = 0;
    for file in std::fs::read_dir(src).unwrap() {
        let file = file.unwrap().path();
        let full = std::fs::read_to_string(&file).unwrap();
        let early: String = full
            .lines()
            .filter(|l| !l.contains("\"stop_reason\":\"end_turn\""))
            .map(|l| format!("{l}\n"))
            .collect();
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        for (dir, body) in [("early", early), ("full", full)] {
            let f = w.write(&format!("{dir}/{name}"), body.as_bytes());
            let s = w.ingest(
                &db,
                &[f.to_str().unwrap(), "--repo", "acme/api", "--no-parquet"],
            );
            raised += int(&s, "raised");
        }
    }
    assert!(raised > 0, "the fixture raises stored rows");
    db
}

fn rebuild(w: &Work, db: &Path, args: &[&str]) -> Value {
    let out = run_ok(
        w.cmd()
            .arg("--db")
            .arg(db)
            .args(["rebuild-rollups", "--json"])
            .args(args),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn report(w: &Work, db: &Path, extra: &[&str]) -> std::process::Output {
    w.cmd()
        .arg("--db")
        .arg(db)
        .args([
            "report",
            "--since",
            "2025-10-01",
            "--until",
            "2025-11-05",
            "--format",
            "json",
        ])
        .args(extra)
        .output()
        .unwrap()
}

fn report_ok(w: &Work, db: &Path, extra: &[&str]) -> Value {
    let out = report(w, db, extra);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn rollups_kept_by_ingest_equal_a_rebuild() {
    let w = Work::new();
    let db = ingested(&w);
    let c = open_db(&db);
    let kept = snapshot(&c, None);
    assert_eq!(
        query_i64(&c, "SELECT SUM(requests) FROM rollup_cells"),
        query_i64(
            &c,
            "SELECT COUNT(*) FROM traces WHERE repo_slug IS NOT NULL"
        ),
    );
    assert_eq!(
        query_i64(&c, "SELECT SUM(tokens) FROM rollup_cells"),
        query_i64(
            &c,
            "SELECT SUM(tokens_in + tokens_out) FROM traces WHERE repo_slug IS NOT NULL"
        ),
    );
    let all = rebuild(&w, &db, &[]);
    assert_eq!(all[0]["repo"], Value::Null);
    assert!(all[0]["cells"].as_u64().unwrap() > 0);
    assert_same(&snapshot(&c, None), &kept);
    let one = rebuild(&w, &db, &["--repo", "acme/web", "--repo", "acme/api"]);
    assert_eq!(one.as_array().unwrap().len(), 2);
    assert_eq!(one[0]["repo"], "acme/web");
    assert_same(&snapshot(&c, None), &kept);
    let text = run_ok(w.cmd().arg("--db").arg(&db).arg("rebuild-rollups"));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with("rebuilt rollups of every repo from "),
        "{text}"
    );
}

#[test]
fn rebuild_rollups_repairs_a_damaged_repo_exactly() {
    let w = Work::new();
    let db = ingested(&w);
    let c = open_db(&db);
    let before = snapshot(&c, None);
    let exact = report_ok(&w, &db, &["--exact"]);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "UPDATE rollup_cells SET requests = requests + 7, tokens = -1, latency_sketch = x'01ff'
           WHERE repo = 'acme/api' AND (hour, developer, model) =
             (SELECT hour, developer, model FROM rollup_cells WHERE repo = 'acme/api'
              ORDER BY requests DESC LIMIT 1);
         DELETE FROM rollup_sessions WHERE repo = 'acme/api'
           AND day = (SELECT MAX(day) FROM rollup_sessions WHERE repo = 'acme/api');
         INSERT INTO rollup_errors VALUES ('acme/api', 1, 'ghost', '', 500, 'X', 9);",
        )
        .unwrap();
    // The damaged sketch is reported with the repair, not read as a number.
    let broken = report(&w, &db, &[]);
    assert_eq!(broken.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("rebuild-rollups"), "{stderr}");

    let done = rebuild(&w, &db, &["--repo", "acme/api"]);
    assert_eq!(done[0]["repo"], "acme/api");
    assert_same(&snapshot(&c, None), &before);
    let fast = report_ok(&w, &db, &[]);
    assert_eq!(fast["metadata"]["mode"], "rollups");
    for repo in ["acme/api", "acme/web"] {
        for path in [
            ["velocity", "requests"],
            ["velocity", "tokens"],
            ["velocity", "sessions"],
            ["velocity", "active_developer_hours"],
            ["errors", "errors"],
            ["acceptance", "n"],
        ] {
            let (f, e) = (
                &fast["metrics"][repo][path[0]][path[1]],
                &exact["metrics"][repo][path[0]][path[1]],
            );
            assert!(
                f.as_u64().is_some() || f.as_i64().is_some(),
                "{repo} {path:?}"
            );
            assert_eq!(f, e, "{repo} {path:?}");
        }
        assert_eq!(
            fast["metrics"][repo]["errors"]["by_status"],
            exact["metrics"][repo]["errors"]["by_status"]
        );
    }
}

#[test]
fn a_version_4_store_gets_its_rollups_when_first_opened_for_writing() {
    let w = Work::new();
    let db = ingested(&w);
    let want = snapshot(&open_db(&db), None);
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "DROP TABLE teams; DROP TABLE settings; DROP INDEX traces_developer_team; DROP TABLE input_files; DROP TABLE identity_map; DROP INDEX traces_repo_branch; ALTER TABLE gh_commits DROP COLUMN body; DROP INDEX gh_commits_repo_committed_subject; DROP INDEX gh_commits_email_login; CREATE INDEX gh_commits_repo_committed ON gh_commits(repo, committed_at);
             DROP TABLE rollup_cells; DROP TABLE rollup_errors; DROP TABLE rollup_sessions;
             DROP TABLE rollup_session_models; PRAGMA user_version = 4;",
        )
        .unwrap();
    }
    // Read-only commands do not migrate: the report says it scanned the rows.
    let old = report_ok(&w, &db, &[]);
    assert_eq!(old["metadata"]["mode"], "exact-fallback");
    let warned = old["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("schema version 4"));
    assert!(warned, "{}", old["warnings"]);

    let store = Store::open(&db).unwrap();
    assert_eq!(store.schema_version().unwrap(), 13);
    drop(store);
    assert_same(&snapshot(&open_db(&db), None), &want);
    let new = report_ok(&w, &db, &[]);
    assert_eq!(new["metadata"]["mode"], "rollups");
    assert_eq!(
        new["metrics"]["acme/api"]["velocity"]["requests"],
        old["metrics"]["acme/api"]["velocity"]["requests"]
    );
}

#[test]
fn a_version_6_store_gets_its_per_model_session_days_when_first_opened_for_writing() {
    let w = Work::new();
    let db = ingested(&w);
    let want = snapshot(&open_db(&db), None);
    assert!(
        !want[3].1.is_empty(),
        "the ingest wrote per-model session-days"
    );
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "DROP TABLE teams; DROP TABLE settings; DROP INDEX traces_developer_team; DROP TABLE input_files; DROP TABLE identity_map; DROP INDEX traces_repo_branch; ALTER TABLE gh_commits DROP COLUMN body; DROP INDEX gh_commits_repo_committed_subject; DROP INDEX gh_commits_email_login; CREATE INDEX gh_commits_repo_committed ON gh_commits(repo, committed_at);
             DROP TABLE rollup_session_models;
             ALTER TABLE rollup_cells DROP COLUMN line_calls;
             ALTER TABLE rollup_cells DROP COLUMN line_output_tokens;
             PRAGMA user_version = 6;",
        )
        .unwrap();
    // Read-only, the sessions list still answers a model filter (from the rows).
    let q = prod_lens::store::sessions::SessionQuery {
        model: Some("gpt-4o".into()),
        ..Default::default()
    };
    let before = Store::open_read_only(&db)
        .unwrap()
        .sessions_page(&q)
        .unwrap();
    let store = Store::open(&db).unwrap();
    assert_eq!(store.schema_version().unwrap(), 13);
    assert!(store.has_session_model_rollups().unwrap());
    // Equal but for the order of float additions in summed costs.
    let rounded = |mut p: prod_lens::store::sessions::SessionPage| {
        for s in &mut p.items {
            s.cost_usd = (s.cost_usd * 1e9).round() / 1e9;
        }
        p
    };
    let after = store.sessions_page(&q).unwrap();
    assert!(!after.items.is_empty());
    assert_eq!(rounded(after), rounded(before));
    drop(store);
    assert_same(&snapshot(&open_db(&db), None), &want);
}

#[test]
fn a_version_7_store_gets_its_line_counters_when_first_opened_for_writing() {
    let w = Work::new();
    let db = ingested(&w);
    let want = snapshot(&open_db(&db), None);
    let exact = report_ok(&w, &db, &["--exact"]);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "DROP TABLE teams; DROP TABLE settings; DROP INDEX traces_developer_team; DROP TABLE input_files; DROP TABLE identity_map; DROP INDEX traces_repo_branch; ALTER TABLE gh_commits DROP COLUMN body; DROP INDEX gh_commits_repo_committed_subject; DROP INDEX gh_commits_email_login; CREATE INDEX gh_commits_repo_committed ON gh_commits(repo, committed_at);
             ALTER TABLE rollup_cells DROP COLUMN line_calls;
             ALTER TABLE rollup_cells DROP COLUMN line_output_tokens;
             PRAGMA user_version = 7;",
        )
        .unwrap();
    // Read-only, the report cannot take output tokens per line from the old cells: it scans.
    let old = report_ok(&w, &db, &[]);
    assert_eq!(old["metadata"]["mode"], "exact-fallback");
    let store = Store::open(&db).unwrap();
    assert_eq!(store.schema_version().unwrap(), 13);
    drop(store);
    assert_same(&snapshot(&open_db(&db), None), &want);
    let new = report_ok(&w, &db, &[]);
    assert_eq!(new["metadata"]["mode"], "rollups");
    for repo in ["acme/api", "acme/web"] {
        let te = &new["metrics"][repo]["token_efficiency"];
        assert!(te["line_calls"].as_u64().unwrap() > 0, "{te}");
        assert_eq!(te, &exact["metrics"][repo]["token_efficiency"]);
        assert_eq!(te, &old["metrics"][repo]["token_efficiency"]);
    }
}

#[test]
fn rebuild_rollups_refuses_bad_input() {
    let w = Work::new();
    let out = w
        .cmd()
        .args(["--db", "missing.db", "rebuild-rollups"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!w.path("missing.db").exists());
    let db = ingested(&w);
    let out = w
        .cmd()
        .arg("--db")
        .arg(&db)
        .args(["rebuild-rollups", "--repo", "../etc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
