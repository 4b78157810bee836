//! The demo's inputs into a SQLite file and into PostgreSQL (by `ingest-traces` and
//! `ingest-github --from-json`) give the same `report --format json` (rollups and `--exact`,
//! narrowed by developer and model, another timezone), the same `prs` and the same `status`.

mod common;
mod pg_support;

use common::Work;
use pg_support::{diff, scrub};
use serde_json::Value;

#[test]
fn the_demo_reports_the_same_from_postgresql_as_from_sqlite() {
    let Some(pg) = pg_support::start_or_skip("report from PostgreSQL") else {
        return;
    };
    let w = Work::new();
    let sqlite = w.path("s.db").to_str().unwrap().to_string();
    let url = pg.url_for("127.0.0.1", "sslmode=disable");
    pg_support::fill_with_demo_inputs(w.root(), &[&sqlite, &url]);
    let json = |db: &str, args: &[&str]| -> Value {
        let mut full = vec!["--db", db];
        full.extend(args);
        let mut v: Value = serde_json::from_str(&pg_support::prod_lens(w.root(), &full)).unwrap();
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
    // Teams (the calls' team ids, then a stored file) and pseudonyms under one key.
    let without_file = json(
        &url,
        &[&["report", "--format", "json"][..], &window].concat(),
    );
    let teams = without_file["metrics"]["acme/api"]["teams"]
        .as_array()
        .unwrap();
    assert!(
        teams.iter().any(|t| t["team"] == "team-platform"),
        "{teams:?}"
    );
    let file = w.write(
        "teams.csv",
        b"member,team\ndev-alice,platform\ndev-bob,platform\ndev-chen,web\n",
    );
    let key = [("PRODLENS_PSEUDONYM_KEY", "one key for both stores")];
    for db in [&sqlite, &url] {
        pg_support::prod_lens(w.root(), &["--db", db, "teams", file.to_str().unwrap()]);
        pg_support::prod_lens(w.root(), &["--db", db, "privacy", "--pseudonymize"]);
    }
    let cases: Vec<Vec<&str>> = vec![
        vec!["report", "--format", "json"],
        vec!["report", "--format", "json", "--show-developers"],
        vec![
            "report",
            "--format",
            "json",
            "--team",
            "platform",
            "--min-group-size",
            "2",
        ],
        vec!["prs", "--format", "json", "--show-developers"],
        vec!["teams", "--json"],
        vec!["privacy", "--json"],
    ];
    for case in cases {
        let mut args = case.clone();
        if case[0] == "report" || case[0] == "prs" {
            args.extend(window);
        }
        let run = |db: &str| -> Value {
            let out = common::run_ok(
                w.cmd()
                    .arg("--db")
                    .arg(db)
                    .args(&args)
                    .envs(key.iter().copied()),
            );
            let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
            scrub(&mut v);
            v
        };
        let (a, b) = (run(&sqlite), run(&url));
        if let Some(d) = diff("", &a, &b) {
            panic!("{args:?}: SQLite and PostgreSQL differ at {d}");
        }
        assert!(!a.to_string().contains("dev-alice"), "{args:?}");
    }
}
