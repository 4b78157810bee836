//! `prune --before DATE` through the real binary: the demo's inputs in a SQLite store with its
//! Parquet lake, and in PostgreSQL. Calls before the cut go and every later one stays, the
//! rollups left equal what `rebuild-rollups` computes, the lake still mirrors the store, a dry
//! run changes nothing and says what the real run does, and GitHub rows go with `--github`
//! (with their rework links recomputed).

mod common;
mod pg_support;
mod rollups_support;

use common::{open_db, query_i64, Work};
use pg_support::prod_lens;
use prod_lens::store::prelude::*;
use prod_lens::store::Store;
use rollups_support::{assert_same, snapshot};
use rusqlite::Connection;
use serde_json::Value;
use std::path::Path;

const CUT: &str = "2025-09-20";

/// Calls per UTC day.
fn per_day(c: &Connection) -> Vec<(String, i64)> {
    let mut stmt = c
        .prepare("SELECT event_date, COUNT(*) FROM traces GROUP BY 1 ORDER BY 1")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Every row of a few tables, as text, to tell whether anything changed.
fn fingerprint(c: &Connection) -> Vec<String> {
    [
        "SELECT COUNT(*), TOTAL(cost_usd) FROM traces",
        "SELECT COUNT(*), TOTAL(requests) FROM rollup_cells",
        "SELECT COUNT(*), TOTAL(requests) FROM rollup_sessions",
        "SELECT COUNT(*) FROM gh_pull_requests",
        "SELECT COUNT(*) FROM gh_commits",
        "SELECT COUNT(*) FROM gh_issue_events",
        "SELECT COUNT(*) FROM gh_rework",
        "SELECT COUNT(*) FROM etl_runs",
    ]
    .iter()
    .map(|sql| {
        c.query_row(sql, [], |r| {
            let n: i64 = r.get(0)?;
            let t: Option<f64> = r.get(1).ok();
            Ok(format!("{sql}: {n} {t:?}"))
        })
        .unwrap()
    })
    .collect()
}

/// Files under the lake, by path.
fn lake_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn rows_of(v: &Value) -> Vec<(String, i64)> {
    v["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["rows"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn prune(dir: &Path, db: &str, extra: &[&str]) -> Value {
    let mut args = vec!["--db", db, "prune", "--before", CUT, "--json"];
    args.extend(extra);
    serde_json::from_str(&prod_lens(dir, &args)).unwrap()
}

/// The demo's inputs in `db` (with its lake unless `--no-parquet` is in `lake`).
fn fill(dir: &Path, db: &str, lake: &[&str]) {
    let d = dir.join("demo");
    let d = d.to_str().unwrap();
    if !dir.join("demo/traces").is_dir() {
        prod_lens(dir, &["--db", &format!("{d}/cache.db"), "demo", "--dir", d]);
    }
    let mut args = vec!["--db", db, "ingest-traces", "--quiet"];
    args.extend(lake);
    let dead = dir.join("dead");
    let traces = format!("{d}/traces");
    args.extend(["--dead-letter-dir", dead.to_str().unwrap(), &traces]);
    prod_lens(dir, &args);
    let github = format!("{d}/github");
    prod_lens(
        dir,
        &[
            "--db",
            db,
            "ingest-github",
            "--repo",
            "acme/api",
            "--repo",
            "acme/web",
            "--from-json",
            &github,
        ],
    );
}

#[test]
fn prune_keeps_later_calls_rollups_and_lake_exact() {
    let w = Work::new();
    let db = w.path("p.db");
    let reference = w.path("ref.db");
    let (p, r) = (db.to_str().unwrap(), reference.to_str().unwrap());
    fill(w.root(), p, &[]);
    fill(w.root(), r, &["--no-parquet"]);
    let lake = w.path("parquet");
    assert!(lake_files(&lake)
        .iter()
        .any(|f| f.contains("date=2025-09-0")));

    // A dry run changes nothing, records nothing, and says what the real run does.
    let before = fingerprint(&open_db(&db));
    let files = lake_files(&lake);
    let dry = prune(w.root(), p, &["--dry-run", "--github"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(fingerprint(&open_db(&db)), before);
    assert_eq!(lake_files(&lake), files);

    let done = prune(w.root(), p, &["--github"]);
    assert_eq!(rows_of(&done), rows_of(&dry));
    assert_eq!(done["lake"], dry["lake"]);
    assert!(done["lake"]["partitions"].as_array().unwrap().len() > 10);
    let deleted: std::collections::HashMap<String, i64> = rows_of(&done).into_iter().collect();
    for t in [
        "traces",
        "rollup_cells",
        "rollup_sessions",
        "gh_pull_requests",
        "gh_commits",
    ] {
        assert!(deleted[t] > 0, "{t}: nothing deleted");
    }

    // Calls before the cut are gone; every later day is whole.
    let c = open_db(&db);
    let want: Vec<(String, i64)> = per_day(&open_db(&reference))
        .into_iter()
        .filter(|(d, _)| d.as_str() >= CUT)
        .collect();
    assert_eq!(per_day(&c), want);
    let ref_total = query_i64(&open_db(&reference), "SELECT COUNT(*) FROM traces");
    let kept: i64 = want.iter().map(|(_, n)| n).sum();
    assert_eq!(deleted["traces"], ref_total - kept);

    // GitHub rows before the cut are gone, later ones stay.
    let cut_text = format!("{CUT}T00:00:00Z");
    let old = |sql: &str| query_i64(&c, &sql.replace("CUT", &cut_text));
    assert_eq!(
        old("SELECT COUNT(*) FROM gh_commits WHERE committed_at < 'CUT'"),
        0
    );
    assert_eq!(
        old("SELECT COUNT(*) FROM gh_issue_events WHERE created_at < 'CUT'"),
        0
    );
    assert_eq!(
        old("SELECT COUNT(*) FROM gh_pull_requests WHERE updated_at < 'CUT'"),
        0
    );
    let rc = open_db(&reference);
    assert_eq!(
        query_i64(&c, "SELECT COUNT(*) FROM gh_commits"),
        query_i64(
            &rc,
            &format!("SELECT COUNT(*) FROM gh_commits WHERE committed_at >= '{cut_text}'")
        )
    );
    drop(c);

    // The rollups left are exactly what a rebuild makes, and rework is already recomputed.
    let kept_rollups = snapshot(&open_db(&db), None);
    let rework = |path: &Path| {
        let c = open_db(path);
        let mut s = c
            .prepare("SELECT kind, pr_number, source FROM gh_rework ORDER BY 1, 2, 3")
            .unwrap();
        s.query_map([], |r| {
            Ok(format!(
                "{} {} {}",
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?
            ))
        })
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
    };
    let rework_after = rework(&db);
    {
        let mut s = Store::open(&db).unwrap();
        s.rebuild_rollups(None).unwrap();
        for repo in ["acme/api", "acme/web"] {
            s.gh_recompute_rework(repo).unwrap();
        }
    }
    assert_same(&kept_rollups, &snapshot(&open_db(&db), None));
    assert_eq!(rework_after, rework(&db));
    assert_ne!(
        rework_after,
        rework(&reference),
        "pruning changed no rework link"
    );

    // The lake still mirrors the store.
    let check: Value = serde_json::from_str(&prod_lens(
        w.root(),
        &["--db", p, "lake", "check", "--json"],
    ))
    .unwrap();
    assert_eq!(check["ok"], true, "{check}");

    // Nothing is left to prune; the run log has the runs, with their counts.
    let again = prune(w.root(), p, &["--github"]);
    assert!(rows_of(&again).iter().all(|(_, n)| *n == 0), "{again}");
    assert!(again["lake"]["partitions"].as_array().unwrap().is_empty());
    let c = open_db(&db);
    let details: String = c
        .query_row(
            "SELECT details FROM etl_runs WHERE job = 'prune' AND outcome = 'ok' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let details: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(rows_of(&details), rows_of(&done));
    assert_eq!(
        query_i64(&c, "SELECT COUNT(*) FROM etl_runs WHERE job = 'prune'"),
        2
    );
}

#[test]
fn bad_dates_are_refused_with_exit_code_2() {
    let w = Work::new();
    let db = w.path("p.db");
    Store::open(&db).unwrap();
    for (date, says) in [("2999-01-01", "future"), ("20-09-2025", "--before")] {
        let out = w
            .cmd()
            .arg("--db")
            .arg(&db)
            .args(["prune", "--before", date])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
    }
}

/// Every row of `rollup_session_models` as text (costs to 9 decimals).
fn session_models(c: &mut postgres::Client) -> Vec<String> {
    c.query(
        "SELECT repo, day, developer, session, model, requests, tokens, errors, cost_unknown,
                ROUND(cost_usd::NUMERIC, 9)::TEXT, first_us, last_us
         FROM rollup_session_models ORDER BY 1, 2, 3, 4, 5",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| {
        let ints: Vec<i64> = [1, 5, 6, 7, 8, 10, 11].iter().map(|&i| r.get(i)).collect();
        let text: Vec<String> = [0, 2, 3, 4, 9].iter().map(|&i| r.get(i)).collect();
        format!("{text:?} {ints:?}")
    })
    .collect()
}

#[test]
fn prune_on_postgresql_leaves_rollups_equal_to_a_rebuild() {
    let Some(pg) = pg_support::start_or_skip("prune on PostgreSQL") else {
        return;
    };
    let w = Work::new();
    let url = pg.url_for("127.0.0.1", "sslmode=disable");
    pg_support::fill_with_demo_inputs(w.root(), &[&url]);
    let mut c = pg.local_client();
    let count =
        |c: &mut postgres::Client, sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
    let rework_before = count(&mut c, "SELECT COUNT(*) FROM gh_rework");
    // Without --parquet-dir a PostgreSQL store names no lake: refused, nothing deleted.
    let out = w
        .cmd()
        .args(["--db", &url, "prune", "--before", CUT])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The store's lake on a folder of its own, written from the store.
    prod_lens(
        w.root(),
        &["--db", &url, "lake", "repair", "--parquet-dir", "lake"],
    );
    let done = prune(w.root(), &url, &["--github", "--parquet-dir", "lake"]);
    assert!(
        !done["lake"]["partitions"].as_array().unwrap().is_empty(),
        "{done}"
    );
    let check = prod_lens(
        w.root(),
        &[
            "--db",
            &url,
            "lake",
            "check",
            "--parquet-dir",
            "lake",
            "--json",
        ],
    );
    let check: Value = serde_json::from_str(&check).unwrap();
    assert_eq!(check["ok"], true, "{check}");
    let deleted: std::collections::HashMap<String, i64> = rows_of(&done).into_iter().collect();
    assert!(
        deleted["traces"] > 0 && deleted["gh_pull_requests"] > 0,
        "{done}"
    );
    let cut_us = "1758326400000000"; // 2025-09-20T00:00:00Z
    assert_eq!(
        count(
            &mut c,
            &format!("SELECT COUNT(*) FROM traces WHERE timestamp_us < {cut_us}")
        ),
        0
    );
    assert!(count(&mut c, "SELECT COUNT(*) FROM traces") > 0);
    for sql in [
        "SELECT COUNT(*) FROM gh_commits WHERE committed_at < '2025-09-20T00:00:00Z'",
        "SELECT COUNT(*) FROM gh_issue_events WHERE created_at < '2025-09-20T00:00:00Z'",
        "SELECT COUNT(*) FROM gh_pull_requests WHERE updated_at < '2025-09-20T00:00:00Z'",
    ] {
        assert_eq!(count(&mut c, sql), 0, "{sql}");
    }
    let rework_after = count(&mut c, "SELECT COUNT(*) FROM gh_rework");
    assert!(
        rework_after < rework_before,
        "rework {rework_before} → {rework_after}"
    );
    let kept = pg_support::rollup_rows(&mut c);
    let kept_models = session_models(&mut c);
    prod_lens(w.root(), &["--db", &url, "rebuild-rollups", "--json"]);
    pg_support::same_rows(
        "rollups after prune vs rebuilt",
        &kept,
        &pg_support::rollup_rows(&mut c),
    );
    pg_support::same_rows(
        "session models after prune vs rebuilt",
        &kept_models,
        &session_models(&mut c),
    );
    let again = prune(w.root(), &url, &["--github", "--no-parquet"]);
    assert!(rows_of(&again).iter().all(|(_, n)| *n == 0), "{again}");
    assert_eq!(
        count(
            &mut c,
            "SELECT COUNT(*) FROM etl_runs WHERE job = 'prune' AND outcome = 'ok'"
        ),
        2
    );
}
