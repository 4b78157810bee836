//! `prod-lens ingest-litellm`.

use crate::cli::IngestLitellmArgs;
use anyhow::Context;
use prod_lens::ingest::{postgres, IngestOptions};
use prod_lens::lake::{BufferLimits, LakeOptions, LakeSink};
use prod_lens::pg::PgTarget;
use prod_lens::sinks::RecordSink;
use prod_lens::slug::RepoSlug;
use prod_lens::store::StoreLocation;

/// Runs the command.
pub fn run(db: &StoreLocation, args: IngestLitellmArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=1_000_000).contains(&args.batch_rows),
        prod_lens::Error::InvalidArgument(format!(
            "--batch-rows {}: use 1 to 1000000",
            args.batch_rows
        ))
    );
    // Only the password-free identity of the database is ever shown or stored.
    let target = PgTarget::parse(&args.database_url, args.pg_ca.as_deref(), "--database-url")?;
    let source = target.name().to_string();
    let mut opts = IngestOptions::new(
        args.dead_letter_dir
            .clone()
            .unwrap_or_else(|| super::ingest_traces::default_dead_letter_dir(db)),
    );
    opts.default_repo = args.repo.as_deref().map(RepoSlug::parse).transpose()?;
    let mut store = db
        .open_writer()
        .with_context(|| format!("opening database {} (--db / PRODLENS_DB)", db.name()))?;
    super::identities::save_map(store.as_mut(), args.identity_map.as_deref())?;
    let mut lake = if args.no_parquet {
        None
    } else {
        let root = super::lake::lake_dir(db, args.parquet_dir.as_ref())?;
        let dir = root.display().to_string();
        Some(
            LakeSink::open(LakeOptions {
                root,
                db: db.clone(),
                limits: BufferLimits::default(),
            })
            .with_context(|| format!("opening the Parquet lake {dir}"))?,
        )
    };
    let mut sinks: Vec<&mut dyn RecordSink> = Vec::new();
    if let Some(l) = lake.as_mut() {
        sinks.push(l);
    }
    let mut client = target.connect()?;
    let summary = postgres::ingest_spend_logs(
        store.as_mut(),
        &mut client,
        &source,
        &opts,
        args.batch_rows,
        &mut sinks,
    )
    .with_context(|| format!("reading \"LiteLLM_SpendLogs\" from {source}"))?;
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("{source}: {}", summary.line());
        for f in &summary.dead_letter_files {
            println!("dead letters: {f}");
        }
    }
    Ok(())
}
