//! `prod-lens lake compact | check | repair`.

use crate::cli::{LakeArgs, LakeCommand};
use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use prod_lens::lake::{self, check::CheckReport, compact::CompactReport, repair::RecoveryReport};
use prod_lens::store::seam::TraceRows;
use prod_lens::store::StoreLocation;
use prod_lens::Error;
use std::path::PathBuf;

/// The lake folder from `--parquet-dir`, else the default next to a SQLite file; a PostgreSQL
/// store has no folder of its own, so its lake must be named.
pub fn lake_dir(db: &StoreLocation, flag: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        return Ok(dir.clone());
    }
    match db {
        StoreLocation::Sqlite(p) => Ok(lake::default_dir(p)),
        StoreLocation::Postgres(t) => Err(Error::InvalidArgument(format!(
            "--db {}: a PostgreSQL store keeps no Parquet lake of its own; pass --parquet-dir \
             (a folder every machine reaches, e.g. shared storage) or --no-parquet",
            t.name()
        ))
        .into()),
    }
}

fn existing_lake(db: &StoreLocation, args: &LakeArgs) -> anyhow::Result<PathBuf> {
    let dir = lake_dir(db, args.parquet_dir.as_ref())?;
    if !dir.is_dir() {
        return Err(Error::InvalidArgument(format!(
            "no Parquet lake at {} — ingest first, or pass --parquet-dir",
            dir.display()
        ))
        .into());
    }
    Ok(dir)
}

fn store_if_any(db: &StoreLocation) -> anyhow::Result<Option<Box<dyn TraceRows>>> {
    if !db.exists() {
        return Ok(None);
    }
    db.open_rows()
        .with_context(|| format!("opening database {}", db.name()))
        .map(Some)
}

/// Runs a `lake` subcommand.
pub fn run(db: &StoreLocation, cmd: LakeCommand) -> anyhow::Result<()> {
    match cmd {
        LakeCommand::Compact(args) => {
            let dir = existing_lake(db, &args)?;
            let store = store_if_any(db)?;
            let report = lake::compact::compact(&dir, store.as_deref())
                .with_context(|| format!("compacting {}", dir.display()))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render_compact(&report));
            }
            Ok(())
        }
        LakeCommand::Check(args) => {
            let dir = existing_lake(db, &args.lake)?;
            let store = store_if_any(db)?;
            let max = args.max_partition_mb.saturating_mul(1024 * 1024);
            let report = lake::check::check(&dir, store.as_deref(), max)
                .with_context(|| format!("checking {}", dir.display()))?;
            if args.lake.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render_check(&report, store.is_some()));
            }
            if !report.ok {
                anyhow::bail!(
                    "the lake at {} has {} problem(s)",
                    dir.display(),
                    report.problems.len()
                );
            }
            Ok(())
        }
        LakeCommand::Repair(args) => {
            let dir = lake_dir(db, args.parquet_dir.as_ref())?;
            let store = store_if_any(db)?.ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "no database at {}: nothing to repair the lake from (--db / PRODLENS_DB)",
                    db.name()
                ))
            })?;
            let report = lake::repair(&dir, store.as_ref())
                .with_context(|| format!("repairing {}", dir.display()))?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", recovery_line(&report));
            }
            Ok(())
        }
    }
}

/// One line describing a recovery.
pub fn recovery_line(r: &RecoveryReport) -> String {
    format!(
        "lake repair: {} rows restored in {} files, {} unfinished ingests, {} interrupted compactions resolved, {} temporary files removed",
        r.rows_restored,
        r.files_written,
        r.unfinished_writers,
        r.compactions_resolved,
        r.temp_files_removed
    )
}

fn render_compact(r: &CompactReport) -> String {
    let mut out = String::new();
    if r.recovery != RecoveryReport::default() {
        out += &format!("{}\n", recovery_line(&r.recovery));
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "repo",
        "date",
        "files",
        "rows",
        "dupes dropped",
        "MB before",
        "MB after",
    ]);
    for c in &r.compacted {
        t.add_row([
            c.repo.clone(),
            c.date.clone(),
            c.files_in.to_string(),
            c.rows.to_string(),
            c.duplicates_dropped.to_string(),
            format!("{:.2}", c.bytes_before as f64 / 1048576.0),
            format!("{:.2}", c.bytes_after as f64 / 1048576.0),
        ]);
    }
    if !r.compacted.is_empty() {
        out += &format!("{t}\n");
    }
    out += &format!(
        "compacted {} of {} partitions: {} files → {}\n",
        r.compacted.len(),
        r.partitions,
        r.files_before,
        r.files_after
    );
    out
}

fn render_check(r: &CheckReport, with_db: bool) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(["repo", "date", "files", "rows", "distinct", "SQLite", "MB"]);
    for p in &r.partitions {
        t.add_row([
            p.repo.clone(),
            p.date.clone(),
            p.files.to_string(),
            p.rows.to_string(),
            p.distinct.to_string(),
            p.store_rows
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            format!("{:.2}", p.bytes as f64 / 1048576.0),
        ]);
    }
    let mut out = format!("lake {}\n{t}\n", r.lake);
    out += &format!(
        "{} files, {} rows ({} distinct), {:.2} MB; SQLite: {}\n",
        r.files,
        r.rows,
        r.distinct,
        r.bytes as f64 / 1048576.0,
        match r.store_rows {
            Some(n) => format!("{n} rows"),
            None if with_db => "-".into(),
            None => "no database, not compared".into(),
        }
    );
    for w in &r.warnings {
        out += &format!("warning: {w}\n");
    }
    for p in &r.problems {
        out += &format!("problem: {p}\n");
    }
    if r.ok {
        out += "ok\n";
    }
    out
}
