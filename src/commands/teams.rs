//! `prod-lens teams` (store a teams file, list the teams) and `prod-lens privacy` (the store's
//! privacy setting).

use crate::cli::{PrivacyArgs, TeamsArgs};
use anyhow::Context;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use prod_lens::privacy::pseudonym::Pseudonymizer;
use prod_lens::privacy::teams::{parse_teams, TeamMap, TeamSource};
use prod_lens::privacy::{StoredPrivacy, DEFAULT_MIN_GROUP, KEY_ENV};
use prod_lens::store::prelude::*;
use prod_lens::store::StoreLocation;
use prod_lens::Error;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Reads a teams file given with `flag`, naming the file and line of a bad entry.
pub fn read_teams(path: &Path, flag: &str) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{flag}: reading {}", path.display()))?;
    parse_teams(&text)
        .map_err(|e| Error::InvalidArgument(format!("{flag} {}: {e}", path.display())).into())
}

/// One line of `prod-lens teams`.
#[derive(Debug, Serialize)]
struct TeamLine {
    team: String,
    /// Members named by the file.
    file_members: usize,
    /// People (developer ids linked to one login count once) whose calls carry this team id
    /// and whom no file names.
    trace_developers: usize,
}

/// Runs `teams`: stores the file when one is given, then lists the teams.
pub fn run(db: &StoreLocation, args: TeamsArgs) -> anyhow::Result<()> {
    let entries = args
        .file
        .as_deref()
        .map(|f| read_teams(f, "teams FILE"))
        .transpose()?;
    let opening = || format!("opening {}", db.name());
    let store: Box<dyn ReportStore> = match (&entries, &args.file) {
        (Some(entries), Some(path)) => {
            let mut store = db.open_writer().with_context(opening)?;
            let name = path.file_name().map(|n| n.to_string_lossy().to_string());
            let n = store.save_teams(entries, name.as_deref().unwrap_or("teams file"))?;
            eprintln!("stored {n} team entries from {}", path.display());
            store
        }
        _ => super::open_reader(db, "ingest traces")?,
    };
    let file = store.teams()?;
    let traces = store.trace_teams()?;
    let map = TeamMap::new(&file, &traces);
    let mut lines: BTreeMap<String, TeamLine> = BTreeMap::new();
    let new_line = |team: &str| TeamLine {
        team: team.to_string(),
        file_members: 0,
        trace_developers: 0,
    };
    for (_, team) in &file {
        lines
            .entry(team.clone())
            .or_insert_with(|| new_line(team))
            .file_members += 1;
    }
    // People, not ids: the ids linked to one login count once, under the team of the first.
    let linker = store.linker(&[])?;
    let mut people = std::collections::BTreeSet::new();
    for (d, _, _) in &traces {
        let person = linker.person(d);
        if !people.insert(person.to_ascii_lowercase()) {
            continue;
        }
        if let Some((team, TeamSource::Traces)) = map.team_of([person.as_ref(), d.as_str()]) {
            lines
                .entry(team.to_string())
                .or_insert_with(|| new_line(team))
                .trace_developers += 1;
        }
    }
    let lines: Vec<TeamLine> = lines.into_values().collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&lines)?);
        return Ok(());
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(["team", "members in the file", "people by team id on calls"]);
    for l in &lines {
        t.add_row([
            l.team.clone(),
            l.file_members.to_string(),
            l.trace_developers.to_string(),
        ]);
    }
    println!("{t}");
    if lines.is_empty() {
        println!("No teams: store a CSV file of member,team lines with prod-lens teams FILE.");
    }
    Ok(())
}

/// What `prod-lens privacy` prints (never the key).
#[derive(Debug, Serialize)]
struct PrivacyView {
    pseudonymize: bool,
    min_group_size: usize,
    min_group_size_stored: Option<usize>,
    /// `environment` (PRODLENS_PSEUDONYM_KEY), `store`, or none.
    key: Option<&'static str>,
}

/// Runs `privacy`: changes the stored setting as asked, then prints it.
pub fn privacy(db: &StoreLocation, args: PrivacyArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        db.exists(),
        Error::InvalidArgument(format!(
            "no database at {} (ingest traces first, or pass --db)",
            db.name()
        ))
    );
    let env_key = std::env::var(KEY_ENV).ok().filter(|k| !k.is_empty());
    if let Some(k) = &env_key {
        Pseudonymizer::new(k.as_bytes())
            .map_err(|e| Error::InvalidArgument(format!("{KEY_ENV}: {e}")))?;
    }
    let changing = args.pseudonymize || args.no_pseudonymize || args.min_group_size.is_some();
    let opening = || format!("opening {}", db.name());
    let stored = if changing {
        let mut store = db.open_writer().with_context(opening)?;
        let mut s = store.privacy_settings()?;
        if args.pseudonymize {
            s.turn_on(env_key.is_some())?;
        }
        if args.no_pseudonymize {
            // The key stays, so turning pseudonyms on again gives the same ones.
            s.pseudonymize = false;
        }
        if let Some(k) = args.min_group_size {
            s.min_group_size = (k > 0).then_some(k);
        }
        store.save_privacy_settings(&s)?;
        s
    } else {
        super::open_reader(db, "ingest traces")?.privacy_settings()?
    };
    let view = view(&stored, env_key.is_some());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        println!(
            "pseudonyms: {}{}\nminimum group size: {}{}",
            if view.pseudonymize { "on" } else { "off" },
            match view.key {
                Some("environment") => format!(" (key from {KEY_ENV})"),
                Some(_) => " (key kept in the store)".to_string(),
                None => String::new(),
            },
            view.min_group_size,
            if view.min_group_size_stored.is_some() {
                ""
            } else {
                " (default)"
            },
        );
    }
    Ok(())
}

fn view(s: &StoredPrivacy, env_key: bool) -> PrivacyView {
    let default = if s.pseudonymize { DEFAULT_MIN_GROUP } else { 1 };
    PrivacyView {
        pseudonymize: s.pseudonymize,
        min_group_size: s.min_group_size.unwrap_or(default),
        min_group_size_stored: s.min_group_size,
        key: match (env_key, &s.key) {
            (true, _) => Some("environment"),
            (false, Some(_)) => Some("store"),
            (false, None) => None,
        },
    }
}
