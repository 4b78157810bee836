//! `prod-lens status`.

use crate::cli::StatusArgs;
use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use prod_lens::store::status::Status;
use prod_lens::store::StoreLocation;

/// Runs the command (a SQLite file is opened read-only).
pub fn run(db: &StoreLocation, args: StatusArgs) -> anyhow::Result<()> {
    if !db.exists() {
        return Err(prod_lens::Error::InvalidArgument(format!(
            "no database at {} — run `prod-lens ingest-traces …` first, or pass --db / PRODLENS_DB{}",
            db.name(),
            db.missing_hint()
        ))
        .into());
    }
    let store = db
        .open_reader()
        .with_context(|| format!("opening database {}", db.name()))?;
    show(&store.status(args.runs)?, args.json)
}

fn show(status: &Status, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(status)?);
    } else {
        print!("{}", render(status));
    }
    Ok(())
}

/// Renders the status as text tables.
pub fn render(s: &Status) -> String {
    let mut out = format!("database {} (schema v{})\n\n", s.database, s.schema_version);
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(["repo", "calls", "first", "last", "cost USD", "cost unknown"]);
    for r in &s.traces.by_repo {
        t.add_row([
            r.repo.clone().unwrap_or_else(|| "(none)".into()),
            r.count.to_string(),
            r.first.clone().unwrap_or_default(),
            r.last.clone().unwrap_or_default(),
            format!("{:.2}", r.cost_usd),
            r.cost_unknown.to_string(),
        ]);
    }
    out += &format!(
        "traces: {} calls\n{t}\n\ndead letters: {}\n\n",
        s.traces.total, s.dead_letters
    );
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "run", "job", "started", "outcome", "read", "inserted", "dupes", "dead", "skipped",
    ]);
    for r in &s.runs {
        t.add_row([
            r.id.to_string(),
            r.job.clone(),
            r.started_at.clone(),
            r.outcome.clone(),
            r.counts.read.to_string(),
            r.counts.inserted.to_string(),
            r.counts.duplicates.to_string(),
            r.counts.dead_lettered.to_string(),
            r.counts.skipped.to_string(),
        ]);
    }
    out += &format!("last runs:\n{t}\n");
    if !s.github.is_empty() {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header([
            "repo",
            "PRs",
            "merged",
            "commits",
            "reopened",
            "reverted",
            "last sync",
            "outcome",
            "rate limit left",
        ]);
        for g in &s.github {
            t.add_row([
                g.repo.clone(),
                g.pull_requests.to_string(),
                g.merged.to_string(),
                g.commits.to_string(),
                g.reopened.to_string(),
                g.reverted.to_string(),
                g.last_sync.clone().unwrap_or_else(|| "never".into()),
                g.last_outcome
                    .as_deref()
                    .map(|o| o.chars().take(60).collect::<String>())
                    .unwrap_or_default(),
                g.rate_limit_remaining
                    .map_or_else(|| "unknown".into(), |r| r.to_string()),
            ]);
        }
        out += &format!("\ngithub:\n{t}\n");
    }
    out
}
