//! Command implementations at the binary edge: flags → library calls → output, with `anyhow`
//! context naming the file or flag involved.

mod collect;
mod demo;
mod identities;
mod ingest_github;
mod ingest_litellm;
mod ingest_traces;
mod lake;
mod migrate_store;
mod progress;
mod prs;
mod prune;
mod rebuild_rollups;
mod report;
mod serve;
mod status;
mod teams;

use crate::cli::{Cli, Command};
use prod_lens::store::StoreLocation;
use prod_lens::Error;

/// Runs the chosen command on the store `--db` names (a SQLite file or a PostgreSQL server).
pub fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let db = StoreLocation::parse(&cli.db, cli.db_ca.as_deref(), "--db", "--db-ca")?;
    match cli.command {
        Command::IngestTraces(args) => ingest_traces::run(&db, args),
        Command::IngestLitellm(args) => ingest_litellm::run(&db, args),
        Command::IngestGithub(args) => ingest_github::run(&db, args),
        Command::Status(args) => status::run(&db, args),
        Command::Demo(args) => demo::run(args),
        Command::Lake(cmd) => lake::run(&db, cmd),
        Command::Collect(args) => collect::run(&db, args),
        Command::Report(args) => report::run(&db, args),
        Command::Serve(args) => serve::run(&db, args),
        Command::RebuildRollups(args) => rebuild_rollups::run(&db, args),
        Command::Identities(args) => identities::run(&db, args),
        Command::Prs(args) => prs::run(&db, args),
        Command::MigrateStore(args) => migrate_store::run(args),
        Command::Prune(args) => prune::run(&db, args),
        Command::Teams(args) => teams::run(&db, args),
        Command::Privacy(args) => teams::privacy(&db, args),
    }
}

/// Opens the store `--db` names for reading; a missing SQLite file is an error that says
/// `what` to do first.
pub fn open_reader(
    location: &StoreLocation,
    what: &str,
) -> anyhow::Result<Box<dyn prod_lens::store::prelude::DashboardStore>> {
    use anyhow::Context;
    anyhow::ensure!(
        location.exists(),
        Error::InvalidArgument(format!(
            "no database at {} ({what} first, or pass --db){}",
            location.name(),
            location.missing_hint()
        ))
    );
    location
        .open_reader()
        .with_context(|| format!("opening {} (--db / PRODLENS_DB)", location.name()))
}

/// The privacy a command applies: the store's setting, `flags` on top, the key from
/// `PRODLENS_PSEUDONYM_KEY` when set.
pub fn privacy(
    store: &dyn prod_lens::store::prelude::TeamReader,
    flags: &prod_lens::privacy::PrivacyFlags,
) -> anyhow::Result<prod_lens::privacy::Privacy> {
    let stored = store.privacy_settings()?;
    let key = std::env::var(prod_lens::privacy::KEY_ENV).ok();
    Ok(prod_lens::privacy::Privacy::resolve(
        &stored,
        flags,
        key.as_deref(),
    )?)
}

/// Exit code for an error: 2 for bad input (flags, paths, slugs), 3 when a GitHub rate limit
/// stopped the run (re-run later), 1 otherwise.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    match e.downcast_ref::<Error>() {
        Some(
            Error::InvalidSlug(_)
            | Error::Input { .. }
            | Error::InvalidArgument(_)
            | Error::Pricing { .. },
        ) => 2,
        Some(Error::RateLimited { .. }) => 3,
        _ => 1,
    }
}

/// Sets up `tracing` output on stderr (`-v` info, `-vv` debug; `RUST_LOG` overrides).
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    // The HTTP stack's wire-level trace output is not redacted: cap it whatever RUST_LOG says.
    for cap in ["ureq=info", "ureq_proto=info", "rustls=info"] {
        if let Ok(d) = cap.parse() {
            filter = filter.add_directive(d);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
