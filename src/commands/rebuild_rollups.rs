//! `prod-lens rebuild-rollups`: recompute the hourly rollups exactly from the stored traces.

use crate::cli::RebuildRollupsArgs;
use anyhow::Context;
use prod_lens::slug::RepoSlug;
use prod_lens::store::prelude::*;
use prod_lens::store::StoreLocation;
use prod_lens::Error;
use std::time::Instant;

/// Runs the command: one transaction per `--repo`, or one for every repo.
pub fn run(db: &StoreLocation, args: RebuildRollupsArgs) -> anyhow::Result<()> {
    let repos = repos(&args)?;
    anyhow::ensure!(
        db.exists(),
        Error::InvalidArgument(format!(
            "no database at {} (ingest traces first, or pass --db)",
            db.name()
        ))
    );
    let mut store = db
        .open_writer()
        .with_context(|| format!("opening {}", db.name()))?;
    rebuild(store.as_mut(), &repos, &args)
}

/// The validated `--repo` values, each once.
fn repos(args: &RebuildRollupsArgs) -> anyhow::Result<Vec<String>> {
    let mut repos = Vec::new();
    for raw in &args.repos {
        let slug = RepoSlug::parse(raw)?.as_str().to_string();
        if !repos.contains(&slug) {
            repos.push(slug);
        }
    }
    Ok(repos)
}

/// Rebuilds `repos` (every repo when empty), one transaction each, and prints what was done.
fn rebuild(
    store: &mut dyn RollupRebuild,
    repos: &[String],
    args: &RebuildRollupsArgs,
) -> anyhow::Result<()> {
    let targets: Vec<Option<&str>> = if repos.is_empty() {
        vec![None]
    } else {
        repos.iter().map(|r| Some(r.as_str())).collect()
    };
    let mut done = Vec::new();
    for repo in targets {
        let started = Instant::now();
        let stats = store.rebuild_rollups(repo).with_context(|| {
            format!("rebuilding the rollups of {}", repo.unwrap_or("every repo"))
        })?;
        let secs = started.elapsed().as_secs_f64();
        if !args.json {
            println!(
                "rebuilt rollups of {} from {} trace rows: {} cells, {} error rows, {} session rows, \
                 {} session-model rows ({secs:.2} s)",
                repo.unwrap_or("every repo"),
                stats.traces,
                stats.cells,
                stats.error_rows,
                stats.session_rows,
                stats.session_model_rows
            );
        }
        done.push(stats);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&done)?);
    }
    Ok(())
}
