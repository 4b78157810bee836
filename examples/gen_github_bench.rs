//! Deterministic GitHub rows for the report benchmark, written straight into a store:
//! `cargo run --release --example gen_github_bench -- --db FILE [--prs 10000] [--commits 50000]`.
//!
//! Spreads the PRs and commits over the demo repos (`acme/api`, `acme/web`) and the demo window
//! (42 days from 2025-09-01), every tenth merged PR reverted and every twentieth reopened, then
//! recomputes the rework links as a sync would.

use chrono::{Duration, NaiveDate};
use prod_lens::sample::Rng;
use prod_lens::store::prelude::*;
use prod_lens::store::Store;
use rusqlite::params;

fn main() {
    if let Err(e) = run() {
        eprintln!("gen_github_bench: {e}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut db, mut prs, mut commits) = (None, 10_000u64, 50_000u64);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--db" => db = args.next(),
            "--prs" => prs = args.next().ok_or("--prs needs a value")?.parse()?,
            "--commits" => commits = args.next().ok_or("--commits needs a value")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let db = db.ok_or("--db FILE is required")?;
    let mut store = Store::open(std::path::Path::new(&db))?;
    let start = NaiveDate::from_ymd_opt(2025, 9, 1)
        .ok_or("bad date")?
        .and_hms_opt(0, 0, 0)
        .ok_or("bad time")?
        .and_utc();
    let repos = ["acme/api", "acme/web"];
    let fmt = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut r = Rng::new(11);
    {
        // The store made the schema; the rows go in through a connection of this tool's own.
        let mut conn = rusqlite::Connection::open(&db)?;
        conn.busy_timeout(std::time::Duration::from_secs(60))?;
        let tx = conn.transaction()?;
        {
            let mut pr = tx.prepare(
                "INSERT OR REPLACE INTO gh_pull_requests (repo, number, title, author, state, draft,
                   created_at, updated_at, merged_at, closed_at, merge_commit_sha, revert_numbers)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?8, ?9, ?10)",
            )?;
            for i in 0..prs {
                let repo = repos[(i % 2) as usize];
                let number = (i / 2 + 1) as i64;
                let created = start + Duration::seconds(r.range(0, 41 * 86_400) as i64);
                let merged = created + Duration::minutes(r.range(10, 5 * 24 * 60) as i64);
                let reverts = (number % 10 == 0 && number > 1).then(|| (number - 1).to_string());
                let title = if reverts.is_some() {
                    format!("Revert \"change {}\"", number - 1)
                } else {
                    format!("change {number}")
                };
                pr.execute(params![
                    repo,
                    number,
                    title,
                    format!("dev-{}", r.range(0, 49)),
                    "closed",
                    fmt(created),
                    fmt(merged),
                    fmt(merged),
                    format!("{:040x}", i),
                    reverts
                ])?;
            }
            let mut c = tx.prepare(
                "INSERT OR REPLACE INTO gh_commits (repo, sha, author_login, authored_at, committed_at, message)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            )?;
            for i in 0..commits {
                let at = start + Duration::seconds(r.range(0, 42 * 86_400 - 1) as i64);
                c.execute(params![
                    repos[(i % 2) as usize],
                    format!("{:040x}", (1u64 << 40) + i),
                    format!("dev-{}", r.range(0, 49)),
                    fmt(at),
                    format!("commit {i}")
                ])?;
            }
            let mut e = tx.prepare(
                "INSERT OR REPLACE INTO gh_issue_events (repo, id, event, issue_number, is_pull_request, created_at)
                 VALUES (?1, ?2, 'reopened', ?3, 1, ?4)",
            )?;
            for i in (0..prs).step_by(40) {
                let at = start + Duration::seconds(r.range(0, 41 * 86_400) as i64);
                e.execute(params![
                    repos[(i % 2) as usize],
                    i as i64,
                    (i / 2 + 1) as i64,
                    fmt(at)
                ])?;
            }
            for repo in repos {
                tx.execute(
                    "INSERT OR REPLACE INTO gh_repos (repo, last_sync, last_outcome) VALUES (?1, ?2, 'ok')",
                    params![repo, fmt(chrono::Utc::now())],
                )?;
            }
        }
        tx.commit()?;
    }
    for repo in repos {
        store.gh_recompute_rework(repo)?;
    }
    eprintln!("wrote {prs} PRs and {commits} commits into {db}");
    Ok(())
}
