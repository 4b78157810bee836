//! `prod-lens demo`: the bundled sample, end to end, offline.

use super::progress::Bar;
use crate::cli::DemoArgs;
use anyhow::Context;
use flate2::{write::GzEncoder, Compression};
use prod_lens::github::import;
use prod_lens::github::sample::{write_gh_sample, GhSampleStats};
use prod_lens::ingest::{self, input, IngestOptions};
use prod_lens::lake::{BufferLimits, LakeOptions, LakeSink};
use prod_lens::sample::{self, SampleSpec};
use prod_lens::slug::RepoSlug;
use prod_lens::store::prelude::*;
use prod_lens::store::StoreLocation;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

/// Marks a folder as made by `demo`, so a re-run may replace what it made.
const MARKER: &str = ".prod-lens-demo";

fn prepare(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_none();
        if !empty && !dir.join(MARKER).exists() {
            anyhow::bail!(prod_lens::Error::InvalidArgument(format!(
                "{} exists and was not made by `prod-lens demo`; pass --dir with a new folder",
                dir.display()
            )));
        }
        for sub in ["traces", "dead-letter", "parquet", "github"] {
            let p = dir.join(sub);
            if p.exists() {
                std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
        for f in [
            "cache.db",
            "cache.db-wal",
            "cache.db-shm",
            "report.html",
            "teams.csv",
        ] {
            let p = dir.join(f);
            if p.exists() {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
    }
    std::fs::create_dir_all(dir.join("traces"))
        .with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by prod-lens demo\n")?;
    Ok(())
}

/// Writes the bundled GitHub sample as `gh api --paginate` files and imports them offline.
fn import_github(
    dir: &Path,
    spec: &SampleSpec,
    store: &mut dyn WriteStore,
) -> anyhow::Result<(GhSampleStats, Vec<prod_lens::github::sync::RepoSummary>)> {
    let repos = spec
        .repos
        .iter()
        .map(|r| RepoSlug::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let gh_dir = dir.join("github");
    let stats = write_gh_sample(
        &gh_dir,
        &repos,
        spec.start,
        spec.days,
        spec.developers,
        spec.seed,
    )
    .with_context(|| format!("writing {}", gh_dir.display()))?;
    let files = import::discover(&[gh_dir])?;
    let summaries = import::import(store, &repos, &files)?;
    Ok((stats, summaries))
}

/// The report over the sample's whole window, every repo, default lags.
fn demo_report(
    store: &dyn ReportStore,
    spec: &SampleSpec,
) -> anyhow::Result<prod_lens::metrics::Report> {
    let until = spec.start + chrono::Duration::days(i64::from(spec.days.max(1)) - 1);
    let params = prod_lens::report::ReportParams {
        repos: spec.repos.clone(),
        since: spec.start.to_string(),
        until: Some(until.to_string()),
        policy_models: vec!["claude-*".into()],
        exact: true,
        ..prod_lens::report::ReportParams::default()
    };
    let mut req = prod_lens::report::ReportRequest::from_params(&params, "--")?;
    req.privacy = super::privacy(store, &prod_lens::privacy::PrivacyFlags::default())?;
    super::report::build(
        store,
        &req,
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        prod_lens::report::runtime_profile(),
    )
}

/// Writes `teams.csv` (the first five sample developers in `platform`, the others in `web`)
/// and stores it, as `prod-lens teams FILE` would.
fn store_teams(dir: &Path, spec: &SampleSpec, store: &mut dyn WriteStore) -> anyhow::Result<()> {
    let mut text = String::from("member,team\n");
    let mut entries = Vec::new();
    for i in 0..spec.developers.max(1) {
        let member = format!("dev-{}", sample::NAMES[i % sample::NAMES.len()]);
        let team = if i < 5 { "platform" } else { "web" };
        text += &format!("{member},{team}\n");
        entries.push((member, team.to_string()));
    }
    let path = dir.join("teams.csv");
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    store.save_teams(&entries, "teams.csv")?;
    Ok(())
}

/// Runs the command.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    prepare(dir)?;
    let spec = SampleSpec::demo();
    // Two files: the first half plain JSONL, the second gzipped, as a proxy's rotated logs would be.
    let mut all = Vec::new();
    let stats = sample::write_sample(&spec, &mut all)?;
    let half = ((stats.valid + stats.malformed) / 2) as usize;
    let cut = all
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(half)
        .map_or(all.len(), |(i, _)| i + 1);
    let plain = dir.join("traces/team-calls-1.jsonl");
    std::fs::write(&plain, &all[..cut]).with_context(|| format!("writing {}", plain.display()))?;
    let gz = dir.join("traces/team-calls-2.jsonl.gz");
    let mut enc = GzEncoder::new(
        BufWriter::new(File::create(&gz).with_context(|| format!("writing {}", gz.display()))?),
        Compression::default(),
    );
    enc.write_all(&all[cut..])?;
    enc.finish()?.flush()?;
    // A few calls in every other input shape (Claude Code logs, spend logs, OTel), 40 of each.
    for f in prod_lens::sample_shapes::other_shapes(&spec, 40) {
        let path = dir.join("traces").join(f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, &f.bytes).with_context(|| format!("writing {}", path.display()))?;
    }

    let db = dir.join("cache.db");
    let mut opts = IngestOptions::new(dir.join("dead-letter"));
    // Claude Code logs carry their working folder; the demo's folders map to the demo repos.
    opts.repos = std::sync::Arc::new(prod_lens::ingest::repo::RepoResolver::new(
        spec.repos
            .iter()
            .filter_map(|r| prod_lens::slug::RepoSlug::parse(r).ok())
            .map(|s| (std::path::PathBuf::from(format!("/work/{s}")), s))
            .collect(),
    ));
    let inputs = input::discover(&[dir.join("traces")])?;
    let location = StoreLocation::Sqlite(db.clone());
    let mut store = location.open_writer()?;
    let mut lake = LakeSink::open(LakeOptions {
        root: dir.join("parquet"),
        db: db.clone().into(),
        limits: BufferLimits::default(),
    })?;
    let summary = ingest::ingest(
        store.as_mut(),
        &inputs,
        &opts,
        &mut [&mut lake],
        &Bar::new(args.json),
    )?;
    let lake = lake.report();
    let (gh_stats, gh_summaries) = import_github(dir, &spec, store.as_mut())?;
    let status = store.status(5)?;
    store_teams(dir, &spec, store.as_mut())?;
    if args.pseudonymize {
        let mut s = store.privacy_settings()?;
        s.turn_on(std::env::var_os(prod_lens::privacy::KEY_ENV).is_some_and(|k| !k.is_empty()))?;
        store.save_privacy_settings(&s)?;
    }
    let report = demo_report(store.as_ref(), &spec)?;
    let html = dir.join("report.html");
    std::fs::write(
        &html,
        super::report::render(&report, crate::cli::ReportFormat::Html, false)?,
    )
    .with_context(|| format!("writing {}", html.display()))?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "ingest": summary, "lake": lake, "github": gh_summaries,
                "status": status, "report": report, "report_html": html
            })
        );
        return Ok(());
    }
    println!(
        "ProdLens demo: {} developers, {} days, {} lines in {} ({} malformed on purpose)\n",
        spec.developers,
        spec.days,
        stats.valid + stats.malformed,
        dir.join("traces").display(),
        stats.malformed
    );
    println!("ingest: {}", summary.line());
    println!(
        "parquet lake: {} rows in {} files under {}\n",
        lake.written.rows, lake.written.files, lake.dir
    );
    print!("{}", super::status::render(&status));
    println!(
        "\ngithub: imported {} PRs, {} commits, {} events ({} reverts, {} reopens) from {}\n",
        gh_stats.pulls,
        gh_stats.commits,
        gh_stats.events,
        gh_stats.reverts,
        gh_stats.reopens,
        dir.join("github").display()
    );
    print!(
        "{}",
        super::report::render(&report, crate::cli::ReportFormat::Table, false)?
    );
    println!(
        "\nTry: prod-lens --db {} status    (dead letters are in {})\n     prod-lens --db {} lake check\n     prod-lens --db {} report --since {} --format md",
        db.display(),
        dir.join("dead-letter").display(),
        db.display(),
        db.display(),
        spec.start
    );
    let url = std::fs::canonicalize(&html)
        .map(|p| format!("file://{}", p.display()))
        .unwrap_or_else(|_| html.display().to_string());
    println!(
        "\nHTML report: {}  (self-contained; open it in any browser: {url})\nDashboard:   prod-lens serve --db {}    (then open http://127.0.0.1:8787)",
        html.display(),
        db.display()
    );
    Ok(())
}
