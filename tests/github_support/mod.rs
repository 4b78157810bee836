//! Shared helpers of the GitHub sync tests: the fake server, datasets, the real binary.
#![allow(dead_code)]

pub mod fake_github;
pub mod stores;

use chrono::{DateTime, Duration, TimeZone, Utc};
use fake_github::RepoData;
use prod_lens::github::sample::{commit_json, event_json, pull_json, PullSpec};
use std::path::Path;

/// Start of every dataset.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 9, 1, 8, 0, 0).unwrap()
}

/// A deterministic sha for (repo, n).
pub fn sha(repo: &str, n: i64) -> String {
    blake3::hash(format!("{repo}:{n}").as_bytes()).to_hex()[..40].to_string()
}

/// PR `i` of a dataset.
pub fn pull(repo: &str, i: i64, p: i64) -> serde_json::Value {
    let created = base_time() + Duration::hours(i);
    let merged = (i % 3 != 0).then(|| created + Duration::minutes(20));
    let (title, body) = if i == p {
        (
            "Revert \"Change 5\"".to_string(),
            format!("Reverts {repo}#5"),
        )
    } else {
        (format!("Change {i}"), "Adds a thing.".to_string())
    };
    pull_json(
        repo,
        &PullSpec {
            number: i,
            title,
            body,
            author: format!("dev-{}", ["alice", "bob", "carol"][(i % 3) as usize]),
            created_at: created,
            updated_at: created + Duration::minutes(30),
            closed_at: merged.or((i % 6 == 0).then(|| created + Duration::minutes(25))),
            merged_at: merged,
            merge_commit_sha: merged.map(|_| sha(repo, 10_000 + i)),
        },
    )
}

/// A repo with `p` PRs (the last reverts PR 5), `c` commits (the last reverts PR 7's merge
/// commit) and `e` issue events (every tenth a PR reopen).
pub fn dataset(repo: &str, p: i64, c: i64, e: i64) -> RepoData {
    let pulls = (1..=p).map(|i| pull(repo, i, p)).collect();
    let commits = (1..=c)
        .map(|j| {
            let msg = if j == c {
                format!(
                    "Revert \"Change 7\"\n\nThis reverts commit {}.",
                    sha(repo, 10_007)
                )
            } else {
                format!("Work item {j}\n\nDetails.")
            };
            commit_json(
                repo,
                &sha(repo, j),
                "dev-alice",
                base_time() + Duration::minutes(37 * j),
                &msg,
            )
        })
        .collect();
    let events = (1..=e)
        .map(|k| {
            let (event, number) = if k % 10 == 0 {
                ("reopened", (k % p) + 1)
            } else {
                (if k % 2 == 0 { "closed" } else { "labeled" }, (k % p) + 1)
            };
            event_json(
                repo,
                1000 + k,
                event,
                "dev-bob",
                base_time() + Duration::minutes(20 * k),
                number,
                true,
            )
        })
        .collect();
    RepoData {
        pulls,
        commits,
        events,
    }
}

/// PRs reopened in a dataset of `p` PRs and `e` events.
pub fn reopened_prs(p: i64, e: i64) -> usize {
    let mut v: Vec<i64> = (1..=e)
        .filter(|k| k % 10 == 0)
        .map(|k| (k % p) + 1)
        .collect();
    v.sort();
    v.dedup();
    v.len()
}

/// The real binary, isolated from the caller's environment, with waits scaled down 1000×.
pub fn prodlens(db: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("prod-lens").unwrap();
    cmd.env_remove("GITHUB_TOKEN")
        .env_remove("RUST_LOG")
        .env_remove("PRODLENS_DB")
        .env("PRODLENS_HTTP_TIME_SCALE", "0.001")
        .arg("--db")
        .arg(db);
    cmd
}

/// Row count of a table for a repo.
pub fn count(db: &Path, table: &str, repo: &str) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        &format!("SELECT COUNT(*) FROM {table} WHERE repo = ?1"),
        [repo],
        |r| r.get(0),
    )
    .unwrap()
}

/// Parses the `--json` output of one repo.
pub fn summary(stdout: &[u8]) -> serde_json::Value {
    serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(stdout)))
}
