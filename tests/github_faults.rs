//! `ingest-github` faults against a fake GitHub on 127.0.0.1: server errors, resets, rate
//! limits, bad credentials, missing repos, malformed pages, a killed run, and the token's secrecy.

mod github_support;
use github_support as common;

use common::fake_github::{FakeGitHub, Fault};
use common::*;
use prod_lens::github::client::{Client, ClientConfig, Clock, Token};
use prod_lens::github::sync::{self, SyncOptions};
use prod_lens::slug::RepoSlug;
use prod_lens::store::Store;
use serde_json::Value;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

const REPO: &str = "acme/api";
const TOKEN: &str = "ghp_SECRETtoken0123456789abcdefXYZ";

fn run(db: &Path, gh: &FakeGitHub, extra: &[&str]) -> assert_cmd::assert::Assert {
    prodlens(db)
        .args([
            "ingest-github",
            "--repo",
            REPO,
            "--api-url",
            &gh.url,
            "--json",
        ])
        .args(extra)
        .env("GITHUB_TOKEN", TOKEN)
        .assert()
}

fn stderr(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).to_string()
}

fn setup(p: i64, c: i64, e: i64) -> (FakeGitHub, tempfile::TempDir, std::path::PathBuf) {
    let gh = FakeGitHub::start();
    gh.set_repo(REPO, dataset(REPO, p, c, e));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    (gh, dir, db)
}

fn assert_complete(db: &Path, p: i64, c: i64, e: i64) {
    assert_eq!(count(db, "gh_pull_requests", REPO), p);
    assert_eq!(count(db, "gh_commits", REPO), c);
    assert_eq!(count(db, "gh_issue_events", REPO), e);
}

#[test]
fn server_errors_502_and_503_are_retried_until_success() {
    let (gh, _d, db) = setup(250, 50, 20);
    gh.fault("/pulls?", Fault::Status(502), 1);
    gh.fault("page=2", Fault::Status(503), 2);
    gh.fault("/issues/events", Fault::Status(504), 1);
    let a = run(&db, &gh, &[]).success();
    let s = summary(&a.get_output().stdout);
    assert_eq!(s["retries"], 4);
    assert_eq!(s["requests"], 5 + 4);
    assert_complete(&db, 250, 50, 20);
}

#[test]
fn retries_are_bounded_and_then_fail_cleanly() {
    let (gh, _d, db) = setup(150, 5, 5);
    gh.fault("page=2", Fault::Status(500), 100);
    let a = run(&db, &gh, &["--max-retries", "2"]).failure().code(1);
    let err = stderr(&a);
    assert!(
        err.contains("after 3 attempt(s)") && err.contains("HTTP 500"),
        "{err}"
    );
    assert_eq!(
        gh.log()
            .iter()
            .filter(|l| l.target.contains("page=2"))
            .count(),
        3
    );
    assert_eq!(count(&db, "gh_pull_requests", REPO), 100, "page 1 kept");
}

#[test]
fn connection_resets_are_retried() {
    let (gh, _d, db) = setup(20, 120, 20);
    gh.fault("/commits", Fault::Reset, 2);
    let a = run(&db, &gh, &[]).success();
    let s = summary(&a.get_output().stdout);
    assert_eq!(s["retries"], 2);
    assert_eq!(gh.log().iter().filter(|l| l.status == 0).count(), 2);
    assert_complete(&db, 20, 120, 20);
}

#[test]
fn timeouts_are_retried() {
    let (gh, _d, db) = setup(20, 20, 20);
    gh.fault("/issues/events", Fault::Delay(Duration::from_secs(3)), 1);
    let a = run(&db, &gh, &["--timeout", "1s"]).success();
    assert_eq!(summary(&a.get_output().stdout)["retries"], 1);
    assert_complete(&db, 20, 20, 20);
}

#[test]
fn primary_rate_limit_resetting_soon_is_waited_for() {
    let (gh, _d, db) = setup(150, 20, 20);
    gh.fault("page=2", Fault::PrimaryLimit { reset_in: 2 }, 1);
    let a = run(&db, &gh, &[]).success();
    let s = summary(&a.get_output().stdout);
    assert_eq!(s["rate_limit_waits"], 1);
    assert_eq!(s["retries"], 1);
    assert!(
        stderr(&a).contains("rate limit exhausted; waiting"),
        "{}",
        stderr(&a)
    );
    assert_complete(&db, 150, 20, 20);
}

#[test]
fn primary_rate_limit_resetting_late_stops_cleanly_and_resumes() {
    let (gh, _d, db) = setup(150, 130, 20);
    gh.fault("/commits", Fault::PrimaryLimit { reset_in: 7200 }, 1);
    let a = run(&db, &gh, &["--max-wait", "15m"]).failure().code(3);
    let err = stderr(&a);
    assert!(
        err.contains("rate limit exhausted") && err.contains("re-run after") && err.contains("2h"),
        "{err}"
    );
    assert_eq!(count(&db, "gh_pull_requests", REPO), 150, "PRs kept");
    assert_eq!(count(&db, "gh_commits", REPO), 0);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let outcome: String = conn
        .query_row(
            "SELECT outcome FROM etl_runs ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        outcome.starts_with("failed: GitHub rate limit"),
        "{outcome}"
    );
    // After the reset: the re-run completes; the stored PR pages answer 304.
    gh.clear_log();
    let a = run(&db, &gh, &[]).success();
    assert_eq!(summary(&a.get_output().stdout)["not_modified"], 1);
    assert_complete(&db, 150, 130, 20);
}

#[test]
fn secondary_rate_limit_honours_retry_after() {
    let (gh, _d, db) = setup(20, 20, 20);
    gh.fault(
        "/pulls",
        Fault::Secondary {
            retry_after: Some(2),
        },
        1,
    );
    let a = run(&db, &gh, &[]).success();
    assert!(
        stderr(&a).contains("secondary rate limit; waiting 2s"),
        "{}",
        stderr(&a)
    );
    assert_complete(&db, 20, 20, 20);
}

/// A clock that records waits instead of sleeping (the waits themselves are what is tested).
#[derive(Default)]
struct RecordingClock(Mutex<Vec<Duration>>);

impl Clock for RecordingClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) {
        self.0.lock().unwrap().push(d);
    }
}

#[test]
fn secondary_rate_limit_without_retry_after_waits_at_least_a_minute_with_backoff() {
    let (gh, dir, _) = setup(20, 20, 20);
    gh.fault("/pulls", Fault::Secondary { retry_after: None }, 2);
    gh.fault("/commits", Fault::Status(503), 3);
    let clock = Arc::new(RecordingClock::default());
    let cfg = ClientConfig {
        api_url: gh.url.clone(),
        token: Token::new(TOKEN),
        ..Default::default()
    };
    let mut client = Client::new(cfg, clock.clone()).unwrap();
    let mut store = Store::open(&dir.path().join("lib.db")).unwrap();
    let repo = RepoSlug::parse(REPO).unwrap();
    let (s, outcome) =
        sync::sync_repo(&mut store, &mut client, &repo, &SyncOptions::default()).unwrap();
    outcome.unwrap();
    let waits = clock.0.lock().unwrap().clone();
    assert_eq!(waits.len(), 5, "{waits:?}");
    assert!(
        waits[0] >= Duration::from_secs(60) && waits[1] >= Duration::from_secs(120),
        "{waits:?}"
    );
    // 503s: exponential backoff with jitter, 0.5–1 s, 1–2 s, 2–4 s.
    for (i, w) in waits[2..].iter().enumerate() {
        let step = Duration::from_secs(1 << i);
        assert!(*w >= step / 2 && *w <= step, "{i}: {w:?}");
    }
    assert_eq!(s.retries, 5);
    assert_eq!(s.pull_requests, 20);
}

#[test]
fn bad_credentials_stop_with_a_clear_message() {
    let (gh, _d, db) = setup(5, 5, 5);
    gh.require_token("some-other-token");
    let a = run(&db, &gh, &[]).failure().code(1);
    let err = stderr(&a);
    assert!(
        err.contains("401") && err.contains(REPO) && err.contains("GITHUB_TOKEN"),
        "{err}"
    );
    assert_eq!(gh.log().len(), 1, "no retries on 401");
}

#[test]
fn missing_repo_names_the_repo_and_the_likely_cause() {
    let (gh, _d, db) = setup(5, 5, 5);
    let a = prodlens(&db)
        .args([
            "ingest-github",
            "--repo",
            "acme/apii",
            "--repo",
            REPO,
            "--api-url",
            &gh.url,
        ])
        .env("GITHUB_TOKEN", TOKEN)
        .assert()
        .failure()
        .code(1);
    let err = stderr(&a);
    assert!(
        err.contains("acme/apii") && err.contains("404") && err.contains("typo"),
        "{err}"
    );
    // The other repo still synced.
    assert_complete(&db, 5, 5, 5);
}

#[test]
fn malformed_page_stops_the_repo_naming_the_page_and_keeps_what_came_before() {
    let (gh, _d, db) = setup(250, 5, 5);
    gh.fault("page=2", Fault::Malformed, 1);
    let a = run(&db, &gh, &[]).failure().code(1);
    let err = stderr(&a);
    assert!(
        err.contains("malformed page") && err.contains(&format!("{}/repos/{REPO}/pulls?", gh.url)),
        "{err}"
    );
    assert!(err.contains("page=2"), "{err}");
    assert_eq!(count(&db, "gh_pull_requests", REPO), 100);
    assert_eq!(count(&db, "gh_commits", REPO), 0);
    run(&db, &gh, &[]).success();
    assert_complete(&db, 250, 5, 5);
}

#[test]
fn killed_mid_sync_resumes_to_the_exact_rows() {
    let (p, c, e) = (250, 340, 130);
    let (gh, _d, db) = setup(p, c, e);
    gh.fault(
        "/commits?per_page=100&page=3",
        Fault::Delay(Duration::from_secs(30)),
        1,
    );
    let bin = assert_cmd::cargo::cargo_bin("prod-lens");
    let mut child = std::process::Command::new(bin)
        .args(["--db"])
        .arg(&db)
        .args(["ingest-github", "--repo", REPO, "--api-url", &gh.url])
        .env("GITHUB_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !gh
        .received()
        .iter()
        .any(|t| t.contains("page=3") && t.contains("/commits"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never reached commits page 3"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_eq!(count(&db, "gh_pull_requests", REPO), p);
    assert_eq!(count(&db, "gh_commits", REPO), 200, "two committed pages");
    assert_eq!(count(&db, "gh_issue_events", REPO), 0);
    gh.clear_faults();
    gh.clear_log();
    let a = run(&db, &gh, &[]).success();
    let s = summary(&a.get_output().stdout);
    assert_complete(&db, p, c, e);
    // Commit pages 1–2 were stored before the kill: 304 now; pulls probe: 304.
    assert_eq!(s["not_modified"], 3, "{s}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let distinct: i64 = conn
        .query_row(
            "SELECT COUNT(DISTINCT sha) FROM gh_commits WHERE repo = ?1",
            [REPO],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(distinct, c);
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn the_token_never_appears_in_output_logs_store_or_urls() {
    let (gh, dir, db) = setup(150, 20, 20);
    gh.fault("page=2", Fault::Status(502), 1);
    gh.fault(
        "/commits",
        Fault::Secondary {
            retry_after: Some(1),
        },
        1,
    );
    let mut outputs = Vec::new();
    for extra in [vec!["-vv"], vec!["-vv"], vec!["--repo", "acme/missing"]] {
        let a = prodlens(&db)
            .args(["ingest-github", "--repo", REPO, "--api-url", &gh.url])
            .args(&extra)
            .env("GITHUB_TOKEN", TOKEN)
            .env("RUST_LOG", "trace")
            .assert();
        outputs.push(a.get_output().stdout.clone());
        outputs.push(a.get_output().stderr.clone());
    }
    let all_err = String::from_utf8_lossy(&outputs[1]).to_string();
    assert!(
        all_err.contains("DEBUG") && all_err.contains("GET"),
        "debug logging was on: {all_err}"
    );
    for o in &outputs {
        assert!(
            !contains(o, TOKEN) && !contains(o, &TOKEN[4..20]),
            "{}",
            String::from_utf8_lossy(o)
        );
    }
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!contains(&bytes, TOKEN));
    }
    let log = gh.log();
    assert!(log
        .iter()
        .all(|l| !l.target.contains(TOKEN) && !l.target.contains(&TOKEN[4..20])));
    // It was sent, in the header only.
    assert!(log
        .iter()
        .any(|l| l.header("authorization") == Some(&format!("Bearer {TOKEN}"))));
}

#[test]
fn a_token_is_never_sent_over_plain_http_to_a_remote_host() {
    let dir = tempfile::tempdir().unwrap();
    let a = prodlens(&dir.path().join("c.db"))
        .args([
            "ingest-github",
            "--repo",
            REPO,
            "--api-url",
            "http://ghe.example.com/api/v3",
        ])
        .env("GITHUB_TOKEN", TOKEN)
        .assert()
        .failure()
        .code(2);
    let err = stderr(&a);
    assert!(
        err.contains("refusing to send the GitHub token over plain http"),
        "{err}"
    );
    assert!(!err.contains(TOKEN));
}

#[test]
fn bad_flags_exit_2_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    for args in [
        vec!["--repo", "../../etc/passwd"],
        vec!["--repo", REPO, "--max-wait", "soon"],
        vec!["--repo", REPO, "--since", "last tuesday"],
    ] {
        let a = prodlens(&db)
            .arg("ingest-github")
            .args(&args)
            .assert()
            .failure()
            .code(2);
        assert!(!stderr(&a).is_empty());
    }
    assert!(!db.exists());
}

#[test]
fn works_without_a_token_and_says_so() {
    let (gh, _d, db) = setup(5, 5, 5);
    let a = prodlens(&db)
        .args([
            "ingest-github",
            "--repo",
            REPO,
            "--api-url",
            &gh.url,
            "--json",
        ])
        .assert()
        .success();
    assert!(stderr(&a).contains("no GitHub token"), "{}", stderr(&a));
    assert!(gh.log().iter().all(|l| l.header("authorization").is_none()));
    let s: Value = summary(&a.get_output().stdout);
    assert_eq!(s["pull_requests"], 5);
}

#[test]
fn links_to_another_host_are_not_followed() {
    let (gh, _d, db) = setup(150, 5, 5);
    let other = FakeGitHub::start();
    gh.set_link_base(&other.url);
    let a = run(&db, &gh, &[]).failure().code(1);
    assert!(
        stderr(&a).contains("refusing to follow a link outside"),
        "{}",
        stderr(&a)
    );
    assert!(other.received().is_empty(), "the other host got a request");
}
