//! `prod-lens prune --before DATE`: retention. Deletes calls, code activity and their rollups
//! (with `--github` also GitHub rows) older than a UTC day in one store transaction, then the
//! lake's partition folders dated before it, under the lake's exclusive lock.

use super::lake::lake_dir;
use crate::cli::PruneArgs;
use anyhow::Context;
use chrono::{NaiveDate, Utc};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use prod_lens::lake::lock::ExclusiveLock;
use prod_lens::lake::prune::{self as lake_prune, LakePrune};
use prod_lens::store::prelude::*;
use prod_lens::store::prune::PruneCounts;
use prod_lens::store::runs::RunCounts;
use prod_lens::store::StoreLocation;
use prod_lens::Error;
use serde::Serialize;
use std::path::Path;

/// What a prune did (or would do), as `--json` prints it and the run log keeps it.
#[derive(Debug, Serialize)]
struct Outcome {
    #[serde(flatten)]
    store: PruneCounts,
    /// The lake's partitions before the cut; None without a lake (or with `--no-parquet`).
    lake: Option<LakePrune>,
}

/// The validated `--before` day: not malformed, not in the future.
fn cut_day(raw: &str, today: NaiveDate) -> Result<NaiveDate, Error> {
    let day = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        Error::InvalidArgument(format!(
            "--before {raw:?}: expected a UTC day as YYYY-MM-DD, e.g. 2025-01-01"
        ))
    })?;
    if day > today {
        return Err(Error::InvalidArgument(format!(
            "--before {day} is in the future (today is {today} UTC): it would delete every call"
        )));
    }
    Ok(day)
}

/// Runs the command.
pub fn run(db: &StoreLocation, args: PruneArgs) -> anyhow::Result<()> {
    let day = cut_day(&args.before, Utc::now().date_naive())?;
    anyhow::ensure!(
        db.exists(),
        Error::InvalidArgument(format!(
            "no database at {} (nothing to prune; pass --db)",
            db.name()
        ))
    );
    let lake = if args.no_parquet {
        None
    } else {
        Some(lake_dir(db, args.parquet_dir.as_ref())?).filter(|d| d.is_dir())
    };
    let mut store = db
        .open_writer()
        .with_context(|| format!("opening {}", db.name()))?;
    let before = day.and_time(chrono::NaiveTime::MIN).and_utc();
    let outcome = if args.dry_run {
        Outcome {
            store: store.prune(before, args.github, true)?,
            lake: lake
                .as_deref()
                .map(|d| lake_prune::plan(d, day))
                .transpose()?,
        }
    } else {
        prune_logged(store.as_mut(), before, day, args.github, lake.as_deref())?
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!("{}", render(&outcome));
    }
    Ok(())
}

/// Prunes the store, then the lake (the lake locked exclusively throughout, so no ingest writes
/// it meanwhile), recording the run and its counts in the run log.
fn prune_logged(
    store: &mut dyn WriteStore,
    before: chrono::DateTime<Utc>,
    day: NaiveDate,
    github: bool,
    lake: Option<&Path>,
) -> anyhow::Result<Outcome> {
    let lock = lake
        .map(ExclusiveLock::acquire)
        .transpose()
        .context("locking the Parquet lake")?;
    let run_id = store.start_run("prune", &format!("before {day}"))?;
    let result = (|| -> anyhow::Result<Outcome> {
        let counts = store
            .prune(before, github, false)
            .context("deleting rows from the store")?;
        let lake = match (lake, &lock) {
            (Some(dir), Some(lock)) => Some(
                lake_prune::prune(dir, day, lock)
                    .with_context(|| format!("removing partitions from {}", dir.display()))?,
            ),
            _ => None,
        };
        Ok(Outcome {
            store: counts,
            lake,
        })
    })();
    let (outcome, details) = match &result {
        Ok(o) => ("ok".to_string(), serde_json::to_string(o)?),
        Err(e) => (
            format!("failed: {e:#}"),
            serde_json::json!({ "before": before.to_rfc3339() }).to_string(),
        ),
    };
    store.finish_run(run_id, &RunCounts::default(), &outcome, Some(&details))?;
    result
}

fn render(o: &Outcome) -> String {
    let (header, verb) = if o.store.dry_run {
        ("rows to delete", "would be deleted")
    } else {
        ("rows deleted", "deleted")
    };
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(["table", header]);
    for c in &o.store.tables {
        t.add_row([c.table.clone(), c.rows.to_string()]);
    }
    let mut out = format!("prune before {}\n{t}\n", o.store.before);
    out += &format!("{} rows {verb} in all\n", o.store.total());
    if !o.store.rework_repos.is_empty() {
        let what = if o.store.dry_run {
            "would be recomputed"
        } else {
            "recomputed"
        };
        out += &format!(
            "rework links {what} for {}\n",
            o.store.rework_repos.join(", ")
        );
    }
    match &o.lake {
        Some(l) => {
            out += &format!(
                "lake {}: {} partitions ({} files, {:.2} MB) {}\n",
                l.lake,
                l.partitions.len(),
                l.files,
                l.bytes as f64 / 1048576.0,
                if o.store.dry_run {
                    "would be removed"
                } else {
                    "removed"
                }
            );
        }
        None => out += "lake: none (or --no-parquet), not touched\n",
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_day_is_checked() {
        let today = NaiveDate::from_ymd_opt(2025, 10, 12).unwrap();
        assert_eq!(cut_day("2025-10-12", today).unwrap(), today);
        let e = cut_day("2025-10-13", today).unwrap_err().to_string();
        assert!(e.contains("future"), "{e}");
        let e = cut_day("12/10/2025", today).unwrap_err().to_string();
        assert!(e.contains("--before"), "{e}");
    }
}
