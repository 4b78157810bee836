//! `prod-lens ingest-traces`.

use super::progress::Bar;
use crate::cli::IngestTracesArgs;
use anyhow::Context;
use prod_lens::ingest::{self, input, repo, IngestOptions};
use prod_lens::lake::{BufferLimits, LakeOptions, LakeSink};
use prod_lens::pricing::{self, PriceTable};
use prod_lens::sinks::RecordSink;
use prod_lens::slug::RepoSlug;
use prod_lens::store::StoreLocation;
use std::path::PathBuf;

/// Folder for dead letters: next to a SQLite file, `./dead-letter` for a PostgreSQL store.
pub fn default_dead_letter_dir(db: &StoreLocation) -> PathBuf {
    db.beside("dead-letter")
        .unwrap_or_else(|| PathBuf::from("dead-letter"))
}

/// Builds ingest options from flags; every flag is validated before anything is written.
pub fn options(db: &StoreLocation, args: &IngestTracesArgs) -> anyhow::Result<IngestOptions> {
    let mut opts = IngestOptions::new(
        args.dead_letter_dir
            .clone()
            .unwrap_or_else(|| default_dead_letter_dir(db)),
    );
    opts.full = args.full;
    opts.default_repo = args.repo.as_deref().map(RepoSlug::parse).transpose()?;
    opts.format = args.format.only();
    if let Some(path) = &args.repo_map {
        let text = std::fs::read_to_string(path).map_err(|source| prod_lens::Error::Input {
            path: path.clone(),
            source,
        })?;
        let map = repo::parse_repo_map(&text).map_err(|e| {
            prod_lens::Error::InvalidArgument(format!("--repo-map {}: {e}", path.display()))
        })?;
        opts.repos = std::sync::Arc::new(repo::RepoResolver::new(map));
    }
    if let Some(path) = &args.pricing {
        let text = std::fs::read_to_string(path).map_err(|source| prod_lens::Error::Input {
            path: path.clone(),
            source,
        })?;
        opts.prices = PriceTable::from_litellm_json(&text, &path.display().to_string())?;
    }
    opts.default_price = args
        .default_price
        .as_deref()
        .map(pricing::parse_default_price)
        .transpose()?;
    if let Some(t) = args.threads {
        anyhow::ensure!(
            (1..=256).contains(&t),
            prod_lens::Error::InvalidArgument(format!("--threads {t}: use 1 to 256"))
        );
        opts.threads = t;
    }
    Ok(opts)
}

/// Lake options from flags (None with `--no-parquet`).
pub fn lake_options(
    db: &StoreLocation,
    args: &IngestTracesArgs,
) -> anyhow::Result<Option<LakeOptions>> {
    if args.no_parquet {
        return Ok(None);
    }
    anyhow::ensure!(
        (1..=10_000_000).contains(&args.parquet_buffer_rows),
        prod_lens::Error::InvalidArgument(format!(
            "--parquet-buffer-rows {}: use 1 to 10000000",
            args.parquet_buffer_rows
        ))
    );
    Ok(Some(LakeOptions {
        root: super::lake::lake_dir(db, args.parquet_dir.as_ref())?,
        db: db.clone(),
        limits: BufferLimits {
            max_buffered_rows: args.parquet_buffer_rows,
            ..BufferLimits::default()
        },
    }))
}

/// The inputs the flags name (files, folders, `-`, and Claude Code's log folders).
fn inputs(args: &IngestTracesArgs) -> anyhow::Result<Vec<input::Input>> {
    let mut paths = args.inputs.clone();
    if args.claude_code {
        let config_dir = std::env::var("CLAUDE_CONFIG_DIR").ok();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        paths.extend(
            prod_lens::sources::claude_code::log_dirs(config_dir.as_deref(), home.as_deref())
                .into_iter()
                .filter(|d| d.is_dir()),
        );
    }
    let inputs = input::discover(&paths)?;
    if inputs.is_empty() {
        return Err(prod_lens::Error::InvalidArgument(format!(
            "no *.jsonl or *.jsonl.gz files found in {}",
            args.inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    Ok(inputs)
}

/// Runs the command.
pub fn run(db: &StoreLocation, args: IngestTracesArgs) -> anyhow::Result<()> {
    let opts = options(db, &args)?;
    let lake_opts = lake_options(db, &args)?;
    let inputs = inputs(&args)?;
    let mut store = db
        .open_loader()
        .with_context(|| format!("opening database {} (--db / PRODLENS_DB)", db.name()))?;
    super::identities::save_map(store.as_mut(), args.identity_map.as_deref())?;
    let first_load = store.built_aside();
    // The lake is opened before the first row is committed (see `prod_lens::lake`).
    let mut lake = lake_opts
        .map(|o| {
            let dir = o.root.display().to_string();
            if first_load {
                LakeSink::open_hidden_until_finish(o)
            } else {
                LakeSink::open(o)
            }
            .with_context(|| format!("opening the Parquet lake {dir}"))
        })
        .transpose()?;
    let mut sinks: Vec<&mut dyn RecordSink> = Vec::new();
    if let Some(l) = lake.as_mut() {
        sinks.push(l);
    }
    let bar = Bar::new(args.quiet);
    let summary = ingest::ingest(store.as_mut(), &inputs, &opts, &mut sinks, &bar);
    let summary = if first_load {
        summary.with_context(|| {
            format!(
                "nothing was stored: the new database {} is created only when its first load \
                 completes; run the ingest again",
                db.name()
            )
        })?
    } else {
        summary?
    };
    print(&args, &summary, lake.as_ref().map(LakeSink::report))
}

/// Prints the summary (and what the lake did).
fn print(
    args: &IngestTracesArgs,
    summary: &ingest::IngestSummary,
    lake_report: Option<prod_lens::lake::LakeReport>,
) -> anyhow::Result<()> {
    if args.json {
        let mut v = serde_json::to_value(summary)?;
        if let (Some(obj), Some(l)) = (v.as_object_mut(), &lake_report) {
            obj.insert("lake".into(), serde_json::to_value(l)?);
        }
        println!("{v}");
    } else {
        println!("{}", summary.line());
        for f in &summary.dead_letter_files {
            println!("dead letters: {f}");
        }
        if let Some(l) = &lake_report {
            println!(
                "parquet lake: {} rows in {} new files under {}",
                l.written.rows, l.written.files, l.dir
            );
            if let Some(r) = &l.recovery {
                println!("{}", super::lake::recovery_line(r));
            }
        }
    }
    Ok(())
}
