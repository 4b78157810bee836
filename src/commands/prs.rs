//! `prod-lens prs`: every PR of a window with its AI evidence, and AI-assisted vs other PRs.

use std::io::IsTerminal;

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use prod_lens::prs::{PrListing, PrsRequest};
use prod_lens::slug::RepoSlug;
use prod_lens::stats::calendar::DayWindow;
use prod_lens::Error;

use crate::cli::{PrsArgs, PrsFormat};

fn day(flag: &str, raw: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|e| Error::InvalidArgument(format!("{flag} {raw:?}: {e} (use YYYY-MM-DD)")).into())
}

/// The table: one line per PR, then one per comparison.
pub fn render_table(l: &PrListing) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header([
        "repo", "PR", "author", "branch", "state", "merge h", "AI", "evidence", "calls", "cost $",
    ]);
    for p in &l.prs {
        let evidence: Vec<&str> = p
            .evidence
            .iter()
            .map(|e| match e {
                prod_lens::attribution::Evidence::Branch => "branch",
                prod_lens::attribution::Evidence::Trailer => "trailer",
                prod_lens::attribution::Evidence::AuthorWindow => "author_window",
            })
            .collect();
        t.add_row([
            p.repo.clone(),
            format!("#{}", p.number),
            p.author.clone().unwrap_or_default(),
            p.head_ref.clone().unwrap_or_default(),
            p.state.clone(),
            p.merge_hours.map_or(String::new(), |h| format!("{h:.1}")),
            if p.ai_assisted { "yes" } else { "no" }.into(),
            evidence.join("+"),
            p.ai_calls.to_string(),
            format!("{:.2}", p.ai_cost_usd),
        ]);
    }
    let mut s = format!("{t}\n");
    s.push_str("AI-assisted vs other merged PRs (BH over every cohort p at q = 0.05):\n");
    for c in &l.cohorts {
        s.push_str(&format!("  {}\n", prod_lens::render::cohort_line(c)));
    }
    for a in &l.assisted_cost {
        s.push_str(&format!("  {}\n", prod_lens::render::assisted_cost_line(a)));
    }
    s
}

/// One CSV row per PR.
pub fn render_csv(l: &PrListing) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut write_record = |fields: &[String]| {
        let line: Vec<String> = fields
            .iter()
            .map(|f| prod_lens::render::csv::quote(f))
            .collect();
        out.push_str(&line.join(","));
        out.push('\n');
    };
    write_record(
        &[
            "repo",
            "number",
            "author",
            "head_ref",
            "created_at",
            "merged_at",
            "merge_hours",
            "state",
            "reverted",
            "reopened",
            "ai_assisted",
            "evidence",
            "ai_calls",
            "ai_tokens",
            "ai_cost_usd",
        ]
        .map(String::from),
    );
    for p in &l.prs {
        let evidence = serde_json::to_value(&p.evidence)?
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .unwrap_or_default();
        write_record(&[
            p.repo.clone(),
            p.number.to_string(),
            p.author.clone().unwrap_or_default(),
            p.head_ref.clone().unwrap_or_default(),
            p.created_at.clone(),
            p.merged_at.clone().unwrap_or_default(),
            p.merge_hours.map(|h| h.to_string()).unwrap_or_default(),
            p.state.clone(),
            p.reverted.to_string(),
            p.reopened.to_string(),
            p.ai_assisted.to_string(),
            evidence,
            p.ai_calls.to_string(),
            p.ai_tokens.to_string(),
            p.ai_cost_usd.to_string(),
        ]);
    }
    Ok(out)
}

/// Runs the command.
pub fn run(db: &prod_lens::store::StoreLocation, args: PrsArgs) -> anyhow::Result<()> {
    let mut repos = Vec::new();
    for r in &args.repos {
        repos.push(RepoSlug::parse(r)?.as_str().to_string());
    }
    let since = args
        .since
        .as_deref()
        .map(|s| day("--since", s))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| day("--until", s))
        .transpose()?;
    let identity_map = args
        .identity_map
        .as_deref()
        .map(super::identities::read_map)
        .transpose()?
        .unwrap_or_default();
    prod_lens::attribution::Trailers::new(&args.ai_trailers).map_err(Error::InvalidArgument)?;
    let opened = super::open_reader(db, "ingest traces and GitHub data")?;
    let store: &dyn prod_lens::store::prelude::ReportStore = opened.as_ref();
    let tz = chrono_tz::UTC;
    // The same rule as `report`: the last day with data, `--since` itself when that lies after
    // the data, today on an empty store.
    let until = match until {
        Some(u) => u,
        None => match prod_lens::report::last_data_day(store, &repos, tz)? {
            Some(d) if since.is_none_or(|s| s <= d) => d,
            Some(_) => since.unwrap_or_else(|| Utc::now().date_naive()),
            None => Utc::now().date_naive(),
        },
    };
    let since = since.unwrap_or_else(|| {
        until
            .checked_sub_days(chrono::Days::new(
                prod_lens::report::DEFAULT_WINDOW_DAYS - 1,
            ))
            .unwrap_or(until)
    });
    let window = DayWindow::new(since, until)
        .map_err(|e| Error::InvalidArgument(format!("--since/--until: {e}")))?;
    let (start, end) = window.utc_bounds(tz).ok_or_else(|| {
        Error::InvalidArgument("the window lies outside the supported dates".into())
    })?;
    let req = PrsRequest {
        repos,
        start,
        end,
        attribution: args.attribution,
        ai_trailers: args.ai_trailers.clone(),
        identity_map,
        author_window: true,
    };
    let mut listing = prod_lens::prs::build(store, &req, Utc::now()).context("listing PRs")?;
    super::privacy(store, &args.privacy)?.apply_prs(&mut listing);
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        PrsFormat::Table
    } else {
        PrsFormat::Json
    });
    match format {
        PrsFormat::Table => print!("{}", render_table(&listing)),
        PrsFormat::Json => println!("{}", serde_json::to_string_pretty(&listing)?),
        PrsFormat::Csv => print!("{}", render_csv(&listing)?),
    }
    Ok(())
}
