//! `prod-lens ingest-github`: live sync of each `--repo`, or `--from-json` import.

use crate::cli::IngestGithubArgs;
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use prod_lens::github::client::{Client, ClientConfig, SystemClock, Token};
use prod_lens::github::sync::{self, RepoSummary, SyncOptions};
use prod_lens::github::{import, policy};
use prod_lens::slug::RepoSlug;
use prod_lens::store::prelude::*;
use prod_lens::store::StoreLocation;
use prod_lens::Error;
use std::path::PathBuf;
use std::sync::Arc;

fn invalid(msg: String) -> anyhow::Error {
    Error::InvalidArgument(msg).into()
}

fn parse_since(raw: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(d) = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    prod_lens::time::parse_str(raw)
        .map_err(|e| invalid(format!("--since {raw:?}: {e} (use YYYY-MM-DD or RFC 3339)")))
}

fn print(summaries: &[RepoSummary], json: bool) -> anyhow::Result<()> {
    if json {
        let text = match summaries {
            [one] => serde_json::to_string(one)?,
            many => serde_json::to_string(many)?,
        };
        println!("{text}");
    } else {
        for s in summaries {
            println!("{}", s.line());
        }
    }
    Ok(())
}

/// Where the rows come from: `gh api` output files, or GitHub itself.
enum Source {
    Files(Vec<PathBuf>),
    Live(Box<Client>),
}

/// The validated flags: every one is checked before the store is opened.
struct Plan {
    repos: Vec<RepoSlug>,
    source: Source,
    since: Option<DateTime<Utc>>,
}

/// Checks every flag and finds the files (or makes the GitHub client) before a store is opened.
fn plan(args: &IngestGithubArgs) -> anyhow::Result<Plan> {
    let mut repos: Vec<RepoSlug> = Vec::new();
    for raw in &args.repos {
        let slug = RepoSlug::parse(raw)?;
        if !repos.contains(&slug) {
            repos.push(slug);
        }
    }
    let max_wait =
        policy::parse_duration(&args.max_wait).map_err(|e| invalid(format!("--max-wait: {e}")))?;
    let timeout =
        policy::parse_duration(&args.timeout).map_err(|e| invalid(format!("--timeout: {e}")))?;
    anyhow::ensure!(
        args.max_retries <= 20,
        Error::InvalidArgument("--max-retries: use 0 to 20".into())
    );
    let since = args.since.as_deref().map(parse_since).transpose()?;

    if !args.from_json.is_empty() {
        let files = import::discover(&args.from_json)?;
        if files.is_empty() {
            return Err(invalid(
                "no *.json or *.json.gz files found in --from-json".into(),
            ));
        }
        return Ok(Plan {
            repos,
            source: Source::Files(files),
            since,
        });
    }

    let token = args.token.as_deref().and_then(Token::new);
    if token.is_none() {
        eprintln!(
            "note: no GitHub token (GITHUB_TOKEN or --token): unauthenticated requests reach public repos only, at 60 per hour"
        );
    }
    let cfg = ClientConfig {
        api_url: args.api_url.clone(),
        token,
        timeout,
        max_retries: args.max_retries,
        max_wait,
    };
    let client = Client::new(cfg, Arc::new(SystemClock::from_env()))?;
    Ok(Plan {
        repos,
        source: Source::Live(Box::new(client)),
        since,
    })
}

/// Runs the command.
pub fn run(db: &StoreLocation, args: IngestGithubArgs) -> anyhow::Result<()> {
    let plan = plan(&args)?;
    let mut store = db
        .open_writer()
        .with_context(|| format!("opening database {} (--db / PRODLENS_DB)", db.name()))?;
    ingest(store.as_mut(), plan, &args)
}

/// Stores the identity map, then imports the files or syncs each repo, and prints the summaries.
fn ingest(store: &mut dyn WriteStore, plan: Plan, args: &IngestGithubArgs) -> anyhow::Result<()> {
    super::identities::save_map(store, args.identity_map.as_deref())?;
    let mut client = match plan.source {
        Source::Files(files) => {
            let summaries = import::import(store, &plan.repos, &files)?;
            return print(&summaries, args.json);
        }
        Source::Live(client) => client,
    };
    let opts = SyncOptions {
        since: plan.since,
        ..Default::default()
    };
    let mut summaries = Vec::new();
    let mut failures: Vec<Error> = Vec::new();
    for repo in &plan.repos {
        let (summary, outcome) = sync::sync_repo(store, &mut client, repo, &opts)?;
        summaries.push(summary);
        if let Err(e) = outcome {
            // Credentials and rate limits are per token: the other repos would fail the same way.
            let token_wide = matches!(
                e,
                Error::GitHubUnauthorized { .. } | Error::RateLimited { .. }
            );
            failures.push(e);
            if token_wide {
                break;
            }
        }
    }
    print(&summaries, args.json)?;
    let mut failures = failures.into_iter();
    match failures.next() {
        None => Ok(()),
        Some(first) => {
            for other in failures {
                eprintln!("error: {other}");
            }
            Err(first.into())
        }
    }
}
