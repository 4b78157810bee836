//! `prod-lens ingest-traces` end to end: the real binary, real files, a real SQLite database.
//! Mixed shapes with malformed lines, dead letters, dedupe, repo-slug refusal, database selection
//! and the `--json` contract.

mod common;

use common::*;
use serde_json::Value;

/// Ingests [`MIXED`] with `--repo acme/default` into `db` and returns the summary.
fn ingest_mixed(w: &Work, db: &std::path::Path, dead_dir: &std::path::Path) -> Value {
    let input = w.write("in/mixed.jsonl", &mixed_bytes());
    w.ingest(
        db,
        &[
            input.to_str().unwrap(),
            "--repo",
            "acme/default",
            "--dead-letter-dir",
            dead_dir.to_str().unwrap(),
        ],
    )
}

#[test]
fn mixed_shapes_with_malformed_lines_give_exact_counts_and_dead_letters() {
    let w = Work::new();
    let db = w.path("store/x.db");
    let dead_dir = w.path("dl");
    let s = ingest_mixed(&w, &db, &dead_dir);

    assert_eq!(counts(&s), MIXED_COUNTS, "{s}");
    assert_close(s["cost_usd"].as_f64().unwrap(), MIXED_COST);
    // The expectations table agrees with the hard-coded figures.
    let n = |f: fn(&Want) -> bool| MIXED.iter().filter(|(_, w)| f(w)).count() as i64;
    assert_eq!(n(|w| *w == Want::Insert), MIXED_COUNTS[1]);
    assert_eq!(n(|w| matches!(w, Want::Dead(_))), MIXED_COUNTS[3]);
    assert_eq!(n(|w| *w != Want::Blank), MIXED_COUNTS[0]);

    // Every dead letter: right file, right line number, a reason, the raw line.
    let file = dead_dir.join("mixed.deadletter.jsonl");
    let dead = dead_letters(&file);
    let expected: Vec<(u64, &str, &[u8])> = MIXED
        .iter()
        .enumerate()
        .filter_map(|(i, (raw, w))| match w {
            Want::Dead(why) => Some((i as u64 + 1, *why, *raw)),
            _ => None,
        })
        .collect();
    assert_eq!(dead.len(), expected.len());
    for (d, (line, why, raw)) in dead.iter().zip(&expected) {
        assert_eq!(d["line"].as_u64(), Some(*line), "{d}");
        let reason = d["reason"].as_str().unwrap();
        assert!(
            reason.contains(why),
            "line {line}: {reason:?} lacks {why:?}"
        );
        assert_eq!(
            d["source"].as_str(),
            Some(w.path("in/mixed.jsonl").to_str().unwrap())
        );
        assert_eq!(
            d["raw"].as_str().unwrap(),
            String::from_utf8_lossy(raw),
            "line {line}"
        );
    }
    assert_eq!(
        s["dead_letter_files"],
        serde_json::json!([file.to_str().unwrap()])
    );

    // The rows themselves.
    let c = open_db(&db);
    assert_eq!(query_i64(&c, "SELECT COUNT(*) FROM traces"), 6);
    let formats: Vec<(String, i64)> = c
        .prepare("SELECT source_format, COUNT(*) FROM traces GROUP BY 1 ORDER BY 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        formats,
        [
            ("litellm-logger".to_string(), 2),
            ("litellm-payload".to_string(), 2),
            ("seed-span".to_string(), 2)
        ]
    );
    let repos: Vec<(String, i64)> = c
        .prepare("SELECT repo_slug, COUNT(*) FROM traces GROUP BY 1 ORDER BY 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        repos,
        [
            ("acme/api".to_string(), 2),
            ("acme/default".to_string(), 3),
            ("acme/web".to_string(), 1)
        ]
    );
    // The logger's `+00:00Z` timestamp, the seed's session and acceptance rules.
    let (ts, session, dev): (i64, String, String) = c
        .query_row(
            "SELECT timestamp_us, session_id, developer_id FROM traces WHERE repo_slug = 'acme/web'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (ts, session.as_str(), dev.as_str()),
        (1_760_295_900_123_456, "s1", "dev-2")
    );
    let (session, accepted): (String, i64) = c
        .query_row(
            "SELECT session_id, accepted FROM traces WHERE source_format = 'seed-span' AND repo_slug = 'acme/api'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((session.as_str(), accepted), ("alpha", 1));
    let unknown: (String, Option<f64>) = c
        .query_row(
            "SELECT model, cost_usd FROM traces WHERE cost_source = 'unknown'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(unknown, ("my-internal-model".to_string(), None));
    let failed: (Option<i64>, String, f64, String) = c
        .query_row(
            "SELECT status_code, error_class, cost_usd, cost_source FROM traces WHERE is_error = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        failed,
        (
            Some(429),
            "RateLimitError".to_string(),
            0.0,
            "reported".to_string()
        )
    );
    // The payload's prompt and response never reach the database.
    drop(c);
    let bytes = std::fs::read(&db).unwrap();
    for secret in [&b"TOP-SECRET-PROMPT"[..], b"TOP-SECRET-ANSWER"] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret));
    }
}

#[test]
fn reingest_inserts_nothing_and_counts_duplicates() {
    let w = Work::new();
    let db = w.path("x.db");
    let dead_dir = w.path("dl");
    let first = ingest_mixed(&w, &db, &dead_dir);
    let second = ingest_mixed(&w, &db, &dead_dir);
    assert_eq!(int(&first, "inserted"), 6);
    let mut want = MIXED_COUNTS;
    want[1] = 0; // inserted
    want[2] = 6; // duplicates = first run's inserted
    want[4] = 0; // cost_unknown counts inserted rows only
    want[6..].fill(0); // sums over inserted rows
    assert_eq!(counts(&second), want, "{second}");
    assert_eq!(second["cost_usd"].as_f64(), Some(0.0));
    assert_eq!(query_i64(&open_db(&db), "SELECT COUNT(*) FROM traces"), 6);
    // Dead letters of both runs are kept (appended).
    assert_eq!(
        dead_letters(&dead_dir.join("mixed.deadletter.jsonl")).len(),
        2 * MIXED_COUNTS[3] as usize
    );
}

/// A payload line with a given call id and end time (so the two copies differ in bytes).
fn payload(call_id: &str, end: f64) -> String {
    format!(
        r#"{{"id":"chatcmpl-x","litellm_call_id":"{call_id}","startTime":1760295600.0,"endTime":{end},"status":"success","call_type":"completion","model":"gpt-4o","prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"response_cost":0.000045}}"#
    )
}

#[test]
fn same_litellm_call_id_in_two_files_inserts_once() {
    let w = Work::new();
    let a = w.write("a.jsonl", payload("call-same", 1760295601.0).as_bytes());
    let b = w.write(
        "b.jsonl",
        format!(
            "{}\n{}\n",
            payload("call-same", 1760295601.7),
            payload("call-other", 1760295601.0)
        )
        .as_bytes(),
    );
    // Two runs.
    let db = w.path("two-runs.db");
    let s1 = w.ingest(&db, &[a.to_str().unwrap()]);
    let s2 = w.ingest(&db, &[b.to_str().unwrap()]);
    assert_eq!(
        (int(&s1, "inserted"), int(&s1, "duplicates")),
        (1, 0),
        "{s1}"
    );
    assert_eq!(
        (int(&s2, "inserted"), int(&s2, "duplicates")),
        (1, 1),
        "{s2}"
    );
    // One run over both files.
    let db = w.path("one-run.db");
    let s = w.ingest(&db, &[a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(
        (int(&s, "read"), int(&s, "inserted"), int(&s, "duplicates")),
        (3, 2, 1),
        "{s}"
    );
    let c = open_db(&db);
    assert_eq!(
        query_i64(
            &c,
            "SELECT COUNT(*) FROM traces WHERE call_id = 'call-same'"
        ),
        1
    );
    // The first copy wins: its latency (1.0 s), not the second file's (1.7 s).
    let latency: f64 = c
        .query_row(
            "SELECT latency_ms FROM traces WHERE call_id = 'call-same'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!((latency - 1000.0).abs() < 1e-3, "{latency}");
}

#[test]
fn byte_identical_failure_lines_insert_once() {
    let w = Work::new();
    let line = fixture_line(9);
    let mut bytes = line.clone();
    bytes.push(b'\n');
    bytes.extend_from_slice(&line);
    bytes.push(b'\n');
    let input = w.write("twice.jsonl", &bytes);
    let db = w.path("x.db");
    let s = w.ingest(&db, &[input.to_str().unwrap()]);
    assert_eq!(
        (
            int(&s, "read"),
            int(&s, "inserted"),
            int(&s, "duplicates"),
            int(&s, "dead_lettered")
        ),
        (2, 1, 1, 0),
        "{s}"
    );
    let c = open_db(&db);
    let (n, code, err): (i64, i64, i64) = c
        .query_row(
            "SELECT COUNT(*), MAX(status_code), MAX(is_error) FROM traces",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((n, code, err), (1, 429, 1));
}

#[test]
fn bad_repo_flags_exit_2_and_write_nothing() {
    for bad in ["../../etc/passwd", "/abs", "a/b/c", "a\\b", "acme/..", ""] {
        let w = Work::new();
        w.write("in.jsonl", &mixed_bytes());
        let before = w.tree();
        // Default database and an explicit one (whose folder does not exist yet).
        for db in [None, Some("newdir/x.db")] {
            let mut c = w.cmd();
            if let Some(db) = db {
                c.args(["--db", db]);
            }
            let out = c
                .args(["ingest-traces", "in.jsonl", "--repo", bad, "--json"])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
            assert!(stderr.contains("invalid repo slug"), "{bad:?}: {stderr}");
            assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
            assert!(out.stdout.is_empty(), "{bad:?}");
            assert_eq!(w.tree(), before, "{bad:?} wrote something");
        }
    }
}

#[test]
fn good_repo_flag_is_accepted() {
    let w = Work::new();
    w.write("in.jsonl", payload("c1", 1760295601.0).as_bytes());
    let s = w.ingest(
        &w.path("x.db"),
        &["in.jsonl", "--repo", "Acme-Corp/api.v2_x"],
    );
    assert_eq!(int(&s, "inserted"), 1);
    let repo: String = open_db(&w.path("x.db"))
        .query_row("SELECT repo_slug FROM traces", [], |r| r.get(0))
        .unwrap();
    assert_eq!(repo, "Acme-Corp/api.v2_x");
}

#[test]
fn database_is_chosen_by_flag_env_or_default() {
    let w = Work::new();
    w.write("in.jsonl", &mixed_bytes());
    let run = |env_db: Option<&str>, flag_db: Option<&str>| {
        let mut c = w.cmd();
        if let Some(e) = env_db {
            c.env("PRODLENS_DB", e);
        }
        if let Some(f) = flag_db {
            c.args(["--db", f]);
        }
        let out = common::run_ok(c.args(["ingest-traces", "in.jsonl", "--json"]));
        single_json_object(&String::from_utf8(out.stdout).unwrap())
    };

    // Default: .prod-lens/cache.db in the working folder, dead letters next to it.
    let s = run(None, None);
    assert_eq!(int(&s, "inserted"), 6);
    assert_eq!(
        query_i64(
            &open_db(&w.path(".prod-lens/cache.db")),
            "SELECT COUNT(*) FROM traces"
        ),
        6
    );
    assert_eq!(
        dead_letters(&w.path(".prod-lens/dead-letter/in.deadletter.jsonl")).len(),
        15
    );

    // PRODLENS_DB selects another file (a fresh one: everything inserts again).
    let s = run(Some("env/e.db"), None);
    assert_eq!(int(&s, "inserted"), 6, "{s}");
    assert!(w.path("env/e.db").is_file());
    assert!(w.path("env/dead-letter/in.deadletter.jsonl").is_file());

    // --db wins over PRODLENS_DB.
    let s = run(Some("env/e.db"), Some("flag/f.db"));
    assert_eq!(int(&s, "inserted"), 6, "{s}");
    assert!(w.path("flag/f.db").is_file());
    // … and the env file was not touched by that run (still one run recorded).
    assert_eq!(
        query_i64(
            &open_db(&w.path("env/e.db")),
            "SELECT COUNT(*) FROM etl_runs"
        ),
        1
    );

    // `status` reads the same selection.
    for (env, flag, runs) in [
        (None, None, 1),
        (Some("env/e.db"), None, 1),
        (Some("env/e.db"), Some("flag/f.db"), 1),
    ] {
        let mut c = w.cmd();
        if let Some(e) = env {
            c.env("PRODLENS_DB", e);
        }
        if let Some(f) = flag {
            c.args(["--db", f]);
        }
        let out = c.args(["status", "--json"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let st: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(st["traces"]["total"], 6);
        assert_eq!(st["runs"].as_array().unwrap().len(), runs);
        let want = flag.or(env).unwrap_or(".prod-lens/cache.db");
        assert!(st["database"].as_str().unwrap().ends_with(want), "{st}");
    }
}

#[test]
fn json_summary_is_one_object_with_every_key_and_nothing_else() {
    let w = Work::new();
    w.write("in.jsonl", &mixed_bytes());
    // Without --quiet: stderr is a pipe here, so no progress bar may appear.
    let out = w
        .cmd()
        .args(["--db", "x.db", "ingest-traces", "in.jsonl", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = single_json_object(&String::from_utf8(out.stdout).unwrap());
    for k in SUMMARY_INT_KEYS {
        assert!(
            s[k].is_i64() || s[k].is_u64(),
            "{k} missing or not an integer: {s}"
        );
    }
    assert!(s["cost_usd"].is_f64(), "{s}");

    // Human mode: one summary line, the dead-letter file and the lake line; still nothing on stderr.
    let out = w
        .cmd()
        .args(["--db", "y.db", "ingest-traces", "in.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].starts_with("dead letters: "), "{text}");
    assert!(lines[2].starts_with("parquet lake: 6 rows"), "{text}");
    for part in [
        "read 22",
        "inserted 6",
        "duplicates skipped 0",
        "dead-lettered 15",
        "cost-unknown 1",
    ] {
        assert!(lines[0].contains(part), "{part:?} not in {:?}", lines[0]);
    }
    assert!(lines[1].starts_with("dead letters: ") && lines[1].ends_with("in.deadletter.jsonl"));
    assert!(lines[2].starts_with("parquet lake: 6 rows"), "{text}");
}

#[test]
fn no_progress_output_on_a_larger_input_when_stderr_is_a_pipe() {
    // Big enough (~60k lines) that a visible bar would have drawn many times.
    let w = Work::new();
    let spec = prod_lens::sample::SampleSpec {
        lines: 60_000,
        ..prod_lens::sample::SampleSpec::demo()
    };
    let mut bytes = Vec::new();
    let stats = prod_lens::sample::write_sample(&spec, &mut bytes).unwrap();
    w.write_gz("big.jsonl.gz", &bytes);
    let s = w.ingest(&w.path("x.db"), &["big.jsonl.gz"]);
    assert_eq!(int(&s, "read"), (stats.valid + stats.malformed) as i64);
    assert_eq!(int(&s, "inserted"), stats.valid as i64, "{s}");
    assert_eq!(int(&s, "dead_lettered"), stats.malformed as i64, "{s}");
}
