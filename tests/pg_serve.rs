//! The dashboard served from a PostgreSQL store: every API route answers what it answers from a
//! SQLite file with the same data, and a commit by another process (noticed by LISTEN/NOTIFY)
//! reaches the next answer.

mod common;
mod pg_support;
mod serve_support;

use common::Work;
use pg_support::{diff, scrub};
use serve_support::Server;
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn the_dashboard_answers_the_same_from_postgresql() {
    let Some(pg) = pg_support::start_or_skip("serve from PostgreSQL") else {
        return;
    };
    let w = Work::new();
    let sqlite = w.path("s.db").to_str().unwrap().to_string();
    let url = pg.url_for("127.0.0.1", "sslmode=disable");
    pg_support::fill_with_demo_inputs(w.root(), &[&sqlite, &url]);
    let lite = Server::start(&w, Path::new(&sqlite), &[], &[]);
    let team = Server::start(&w, Path::new(&url), &[], &[]);
    assert!(!team.output().0.contains("hunter2"));
    let window = "since=2025-09-01&until=2025-10-12";
    for path in [
        "/api/status".to_string(),
        format!("/api/report?{window}"),
        format!("/api/report?{window}&timezone=Europe/Berlin&developer=dev-bob"),
        format!("/api/daily?{window}&model=gpt-4o"),
        format!("/api/sessions?{window}"),
        format!("/api/sessions?{window}&sort=tokens&page=2&per_page=25"),
        format!("/api/sessions?{window}&developer=DEV-CHEN&sort=cost"),
        format!("/api/prs?{window}"),
        format!("/api/developers/dev-alice?{window}"),
    ] {
        let (mut a, mut b) = (lite.json(&path), team.json(&path));
        scrub(&mut a);
        scrub(&mut b);
        if let Some(d) = diff("", &a, &b) {
            panic!("{path}: SQLite and PostgreSQL differ at {d}");
        }
    }
    for page in ["/", "/sessions", "/prs"] {
        assert_eq!(team.get(page).status, 200, "{page}");
    }

    // Another process commits: the dashboard's next answer has it.
    let before = team.json("/api/status")["traces"]["total"]
        .as_i64()
        .unwrap();
    let more = w.path("more.jsonl");
    let spec = prod_lens::sample::SampleSpec {
        lines: 200,
        seed: 99,
        ..prod_lens::sample::SampleSpec::demo()
    };
    prod_lens::sample::write_sample(&spec, &mut std::fs::File::create(&more).unwrap()).unwrap();
    let dead = w.path("dead-more");
    pg_support::prod_lens(
        w.root(),
        &[
            "--db",
            &url,
            "ingest-traces",
            "--no-parquet",
            "--dead-letter-dir",
            dead.to_str().unwrap(),
            more.to_str().unwrap(),
        ],
    );
    let started = Instant::now();
    loop {
        let now = team.json("/api/status")["traces"]["total"]
            .as_i64()
            .unwrap();
        if now > before {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the dashboard still shows {now} calls"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // It stops cleanly on SIGTERM (the store's clients are closed outside the async runtime).
    let ended = team.terminate(Duration::from_secs(20));
    assert!(ended.status.success(), "{}", ended.stderr);
    assert!(!ended.stderr.contains("panicked"), "{}", ended.stderr);
}
