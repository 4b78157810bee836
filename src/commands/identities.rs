//! `prod-lens identities`: every developer id and GitHub login, linked or not.

use crate::cli::IdentitiesArgs;
use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use prod_lens::store::identities::IdentityRow;
use prod_lens::store::prelude::*;
use prod_lens::store::StoreLocation;
use std::path::Path;

/// Reads an identity map file, naming the file and line of a bad entry.
pub fn read_map(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--identity-map: reading {}", path.display()))?;
    prod_lens::identity::parse_map(&text).map_err(|e| {
        prod_lens::Error::InvalidArgument(format!(
            "--identity-map {}: {e} (write one developer_id,github_login a line)",
            path.display()
        ))
        .into()
    })
}

/// Stores the links of `--identity-map FILE` of an ingest command, if given.
pub fn save_map(store: &mut dyn IdentityStore, path: Option<&Path>) -> anyhow::Result<()> {
    if let Some(path) = path {
        let entries = read_map(path)?;
        let name = path.file_name().map(|n| n.to_string_lossy().to_string());
        store.save_identity_map(&entries, name.as_deref().unwrap_or("identity map"))?;
    }
    Ok(())
}

/// Runs the command (a SQLite file is opened read-only unless links are to be stored).
pub fn run(db: &StoreLocation, args: IdentitiesArgs) -> anyhow::Result<()> {
    let map = args.identity_map.as_deref().map(read_map).transpose()?;
    anyhow::ensure!(
        db.exists() || map.is_some(),
        prod_lens::Error::InvalidArgument(format!(
            "no database at {} (ingest traces first, or pass --db)",
            db.name()
        ))
    );
    let opening = || format!("opening {}", db.name());
    if map.is_some() {
        let mut store = db.open_writer().with_context(opening)?;
        list(store.as_mut(), map, &args)
    } else {
        let mut store = db.open_reader().with_context(opening)?;
        list(store.as_mut(), map, &args)
    }
}

/// Stores the entries of `--identity-map` (already read), then prints every id and login.
fn list(
    store: &mut dyn ReportStore,
    map: Option<Vec<(String, String)>>,
    args: &IdentitiesArgs,
) -> anyhow::Result<()> {
    if let (Some(entries), Some(path)) = (&map, &args.identity_map) {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string());
        store.save_identity_map(entries, name.as_deref().unwrap_or("identity map"))?;
    }
    let linker = store.linker(&[])?;
    let mut rows = store.identities(&linker)?;
    let privacy = super::privacy(store, &args.privacy)?;
    privacy.refuse_developer_view("prod-lens identities")?;
    if privacy.pseudonyms.is_some() {
        for r in &mut rows {
            r.developer_id = r.developer_id.as_deref().map(|d| privacy.name(d));
            r.github_login = r.github_login.as_deref().map(|l| privacy.name(l));
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", render(&rows));
    }
    Ok(())
}

/// The rows as a table, with a count of unmatched ids and logins.
pub fn render(rows: &[IdentityRow]) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "developer id",
        "GitHub login",
        "linked by",
        "calls",
        "commits",
    ]);
    for r in rows {
        t.add_row([
            r.developer_id.clone().unwrap_or_else(|| "—".into()),
            r.github_login.clone().unwrap_or_else(|| "—".into()),
            r.rule.clone().unwrap_or_else(|| "unmatched".into()),
            r.calls.to_string(),
            r.commits.to_string(),
        ]);
    }
    let unmatched_ids = rows
        .iter()
        .filter(|r| r.developer_id.is_some() && r.rule.is_none())
        .count();
    let unmatched_logins = rows.iter().filter(|r| r.developer_id.is_none()).count();
    format!(
        "{t}\n{unmatched_ids} developer ids without a GitHub login, {unmatched_logins} GitHub logins without calls. Link them with a CSV file: prod-lens identities --identity-map FILE (developer_id,github_login).\n"
    )
}
