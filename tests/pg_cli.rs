//! `--db postgres://…` on the command line, against a real server (`pg_support`): ingest-traces
//! and status give what they give on a SQLite file, commands without PostgreSQL support refuse
//! it clearly, and the password never shows.

mod common;
mod pg_support;

use common::{int, Work};
use serde_json::Value;

fn run(w: &Work, db: &str, args: &[&str]) -> (Option<i32>, String, String) {
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
    assert!(
        !stdout.contains("hunter2") && !stderr.contains("hunter2"),
        "password shown: {stdout}{stderr}"
    );
    (out.status.code(), stdout, stderr)
}

/// The status without what differs by nature between the stores (name, times, run ids).
fn comparable(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("database");
    o.remove("schema_version");
    o.remove("github");
    for r in o["runs"].as_array_mut().unwrap() {
        let r = r.as_object_mut().unwrap();
        for k in ["id", "started_at", "finished_at"] {
            r.remove(k);
        }
    }
    v
}

#[test]
fn ingest_traces_and_status_work_on_a_postgresql_store() {
    let Some(pg) = pg_support::start_or_skip("--db postgres://") else {
        return;
    };
    let w = Work::new();
    let input = w.path("mixed.jsonl");
    std::fs::write(&input, common::mixed_bytes()).unwrap();
    let input = input.to_str().unwrap().to_string();
    let url = pg.url_for("127.0.0.1", "sslmode=disable");
    let sqlite = w.path("s.db").to_str().unwrap().to_string();
    let mut statuses = Vec::new();
    for db in [&url, &sqlite] {
        let dead = w.path(&format!("dead-{}", statuses.len()));
        let (code, out, err) = run(
            &w,
            db,
            &[
                "ingest-traces",
                "--no-parquet",
                "--json",
                "--dead-letter-dir",
                dead.to_str().unwrap(),
                &input,
            ],
        );
        assert_eq!(code, Some(0), "{err}");
        let s = common::single_json_object(&out);
        assert!(
            int(&s, "inserted") > 0 && int(&s, "dead_lettered") > 0,
            "{s}"
        );
        let (code, out, err) = run(&w, db, &["status", "--json"]);
        assert_eq!(code, Some(0), "{err}");
        statuses.push(serde_json::from_str::<Value>(&out).unwrap());
    }
    assert_eq!(
        statuses[0]["database"],
        format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port)
    );
    assert_eq!(
        comparable(statuses[0].clone()),
        comparable(statuses[1].clone())
    );
    // The table form too.
    let (code, out, _) = run(&w, &url, &["status"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("traces: ") && out.contains("postgres://postgres@127.0.0.1"),
        "{out}"
    );

    let (code, out, err) = run(&w, &url, &["rebuild-rollups", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let rebuilt: Value = serde_json::from_str(&out).unwrap();
    let with_repo: i64 = statuses[0]["traces"]["by_repo"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["repo"].is_null())
        .map(|r| r["count"].as_i64().unwrap())
        .sum();
    assert_eq!(rebuilt[0]["traces"], with_repo);
    let (_, after, _) = run(&w, &url, &["status", "--json"]);
    assert_eq!(
        comparable(serde_json::from_str(&after).unwrap())["traces"],
        comparable(statuses[0].clone())["traces"],
        "a rebuild changes no figure"
    );

    // A PostgreSQL store has no folder of its own: its lake is named, and then works as beside
    // a SQLite file (checked against the store's rows).
    let (code, _, err) = run(&w, &url, &["ingest-traces", &input]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("pass --parquet-dir") && err.contains("postgres://postgres@127.0.0.1"),
        "{err}"
    );
    let lake = w.path("lake");
    let lake = lake.to_str().unwrap();
    let dead = w.path("dead-lake");
    let (code, _, err) = run(
        &w,
        &url,
        &[
            "ingest-traces",
            "--full",
            "--parquet-dir",
            lake,
            "--dead-letter-dir",
            dead.to_str().unwrap(),
            &input,
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    // The rows stored before the lake existed are missing from it: `check` reads the store's
    // rows and says so, `repair` writes them, and then the lake holds every stored row.
    let (code, out, _) = run(
        &w,
        &url,
        &["lake", "check", "--parquet-dir", lake, "--json"],
    );
    assert_eq!(code, Some(1), "{out}");
    let (code, _, err) = run(&w, &url, &["lake", "repair", "--parquet-dir", lake]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = run(
        &w,
        &url,
        &["lake", "check", "--parquet-dir", lake, "--json"],
    );
    assert_eq!(code, Some(0), "{out}{err}");
    let check: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(check["ok"], true, "{check}");
    let (code, _, err) = run(&w, &pg.url_for("127.0.0.1", "sslmode=bogus"), &["status"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--db: sslmode=bogus"), "{err}");
}

#[test]
fn a_postgresql_db_over_tls_checks_its_certificate_with_db_ca() {
    // The certificate names `localhost`; the server takes TCP over TLS only.
    let ca = pg_support::TestCa::new(&["localhost"]);
    let Some(pg) = pg_support::start_tls_or_skip(&ca, "--db over TLS") else {
        return;
    };
    let w = Work::new();
    let ca_file = w.path("ca.pem");
    std::fs::write(&ca_file, &ca.ca_pem).unwrap();
    let ca_file = ca_file.to_str().unwrap();
    let full = pg.url_for("localhost", "sslmode=verify-full");
    let (code, out, err) = run(&w, &full, &["--db-ca", ca_file, "status", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let status: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["traces"]["total"], 0);
    // Without the CA the server is not trusted, and the message names the option to use.
    let (code, _, err) = run(&w, &full, &["status"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("--db-ca FILE"), "{err}");
    // The host name is checked under verify-full, not under verify-ca.
    let by_ip = pg.url_for("127.0.0.1", "sslmode=verify-full");
    let (code, _, err) = run(&w, &by_ip, &["--db-ca", ca_file, "status"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("not valid for name"), "{err}");
    let ca_only = pg.url_for("127.0.0.1", "sslmode=verify-ca");
    let (code, _, err) = run(&w, &ca_only, &["--db-ca", ca_file, "status"]);
    assert_eq!(code, Some(0), "{err}");
    // Plain TCP is refused by this server; a missing CA file is named.
    let (code, _, _) = run(&w, &pg.url_for("127.0.0.1", "sslmode=disable"), &["status"]);
    assert_ne!(code, Some(0));
    let (code, _, err) = run(&w, &full, &["--db-ca", "/nonexistent/ca.pem", "status"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("--db-ca /nonexistent/ca.pem"), "{err}");
}
