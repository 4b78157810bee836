//! `prod-lens migrate-store`: copy a pilot's SQLite store into the team's PostgreSQL store.

use crate::cli::MigrateStoreArgs;
use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use prod_lens::store::copy::{copy_store, CopyProgress, TableCopied};
use prod_lens::store::StoreLocation;
use prod_lens::Error;
use std::io::IsTerminal;
use std::path::Path;

/// A bar of rows copied, on stderr when it is a terminal.
struct Bar(ProgressBar);

impl CopyProgress for Bar {
    fn update(&self, table: &str, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
        self.0.set_message(table.to_string());
    }
}

/// Runs the command.
pub fn run(args: MigrateStoreArgs) -> anyhow::Result<()> {
    let from = &args.from;
    anyhow::ensure!(
        from.is_file(),
        Error::InvalidArgument(format!(
            "--from {}: no such SQLite store (give the file `--db` names, e.g. .prod-lens/cache.db)",
            from.display()
        ))
    );
    anyhow::ensure!(
        args.to.starts_with("postgres://") || args.to.starts_with("postgresql://"),
        Error::InvalidArgument(
            "--to: give the PostgreSQL store as a postgres://USER@HOST/DB URL".into()
        )
    );
    let to = StoreLocation::parse(
        Path::new(&args.to),
        args.pg_ca.as_deref(),
        "--to",
        "--pg-ca",
    )?;
    let source = StoreLocation::Sqlite(from.clone())
        .open_copy_source()
        .with_context(|| format!("opening --from {}", from.display()))?;
    let mut target = to
        .open_copy_target()
        .with_context(|| format!("opening --to {}", to.name()))?;
    let draw = if args.quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(None, draw);
    if let Ok(style) =
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} rows {msg} ({per_sec})")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix("copying");
    let bar = Bar(bar);
    let name = from.display().to_string();
    let copied = copy_store(source.as_ref(), target.as_mut(), &name, &bar)
        .with_context(|| format!("copying {} into {}", from.display(), to.name()))?;
    bar.0.finish_and_clear();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "from": name,
                "to": to.name(),
                "tables": copied,
            }))?
        );
    } else {
        print!("{}", render(&copied));
        println!("copied {} into {}", name, to.name());
    }
    Ok(())
}

/// The per-table counts as a table.
fn render(copied: &[TableCopied]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(["table", "read", "copied", "already there"]);
    for c in copied {
        t.add_row([
            c.table.clone(),
            c.read.to_string(),
            c.copied.to_string(),
            c.present.to_string(),
        ]);
    }
    format!("{t}\n")
}
