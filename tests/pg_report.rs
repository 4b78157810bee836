//! The demo's inputs into a SQLite file (by `demo`) and into PostgreSQL (by `ingest-traces` and
//! `ingest-github --from-json`) give the same `report --format json` (rollups and `--exact`,
//! narrowed by developer and model, another timezone), the same `prs` and the same `status`.

mod common;
mod pg_support;

use common::Work;
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
    assert!(out.status.success(), "{args:?} on {db}: {stderr}");
    stdout
}

/// Removes what differs by nature between two runs or stores: times of the run, the store's
/// name, run ids and durations.
fn scrub(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for k in [
                "generated_at",
                "runtime_profile",
                "database",
                "started_at",
                "finished_at",
                "last_sync",
                "last_trace_ingest",
                "last_github_sync",
                "id",
                "elapsed_ms",
                "schema_version",
            ] {
                o.remove(k);
            }
            o.values_mut().for_each(scrub);
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

/// The first path where `a` and `b` differ (floats equal to 12 significant digits: sums
/// of the same costs in another order).
fn diff(path: &str, a: &Value, b: &Value) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(p), Some(q)) => diff(&format!("{path}.{k}"), p, q),
                _ => Some(format!("{path}.{k}: only on one side")),
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| diff(&format!("{path}[{i}]"), p, q)),
        (Value::Number(p), Value::Number(q)) if p.is_f64() || q.is_f64() => {
            let (p, q) = (p.as_f64().unwrap(), q.as_f64().unwrap());
            ((p - q).abs() > 1e-12 * p.abs().max(q.abs()).max(1.0))
                .then(|| format!("{path}: {p} vs {q}"))
        }
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

#[test]
fn the_demo_reports_the_same_from_postgresql_as_from_sqlite() {
    let Some(pg) = pg_support::start_or_skip("report from PostgreSQL") else {
        return;
    };
    let w = Work::new();
    let dir = w.path("demo");
    let d = dir.to_str().unwrap();
    let sqlite = format!("{d}/cache.db");
    let out = w
        .cmd()
        .env_remove("PRODLENS_DB")
        .args(["--db", &sqlite, "demo", "--dir", d])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = pg.url_for("127.0.0.1", "sslmode=disable");
    let dead = w.path("dead");
    run(
        &w,
        &url,
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
        &url,
        &["ingest-github", "--from-json", &format!("{d}/github")],
    );
    let json = |db: &str, args: &[&str]| -> Value {
        let mut v: Value = serde_json::from_str(&run(&w, db, args)).unwrap();
        scrub(&mut v);
        v
    };
    let window = ["--since", "2025-09-01", "--until", "2025-10-12"];
    let cases: Vec<Vec<&str>> = vec![
        vec!["report", "--format", "json"],
        vec!["report", "--format", "json", "--exact"],
        vec!["report", "--format", "json", "--timezone", "America/New_York"],
        vec!["report", "--format", "json", "--developer", "DEV-Alice"],
        vec!["report", "--format", "json", "--model", "claude-sonnet-4-5-20250929"],
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
