//! `prod-lens report`: load each repo's rows for the window, compute, render.

use crate::cli::{ReportArgs, ReportFormat};
use anyhow::Context;
use chrono::Utc;
use prod_lens::metrics::{Report, Service};
use prod_lens::render::{
    csv::CsvRenderer, html::HtmlRenderer, json::JsonRenderer, markdown::MarkdownRenderer,
    table::TableRenderer, Renderer,
};
use prod_lens::report::{runtime_profile, ReportParams, ReportRequest};
use prod_lens::store::prelude::ReportStore;
use prod_lens::Error;
use std::io::IsTerminal;
use std::path::Path;

/// Turns the flags into report parameters.
pub fn params(args: &ReportArgs) -> ReportParams {
    ReportParams {
        repos: args.repos.clone(),
        since: args.since.clone(),
        until: args.until.clone(),
        timezone: args.timezone.clone(),
        lag_days: args.lag_days,
        max_lag: args.max_lag,
        policy_models: args.policy_models.clone(),
        business_days: args.business_days,
        exact: args.exact,
        developer: args.developer.clone(),
        model: args.model.clone(),
        adjust: args.adjust,
        permutations: args.permutations,
        holidays: args.holidays.clone(),
        primary: args.primary.clone(),
        identity_map: Vec::new(),
        team: args.team.clone(),
        teams: Vec::new(),
    }
}

/// Reads `--holidays FILE`: one `YYYY-MM-DD` a line; blank lines and `#` comments are skipped.
pub fn read_holidays(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--holidays: reading {}", path.display()))?;
    let mut days = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        chrono::NaiveDate::parse_from_str(line, "%Y-%m-%d").map_err(|e| {
            Error::InvalidArgument(format!(
                "--holidays {}: line {}: {line:?} is not a date ({e}; write one YYYY-MM-DD a line)",
                path.display(),
                i + 1
            ))
        })?;
        days.push(line.to_string());
    }
    Ok(days)
}

/// Parses the flags into parameters with holidays from `--holidays` files added.
pub fn params_with_files(args: &ReportArgs) -> anyhow::Result<ReportParams> {
    let mut p = params(args);
    for f in &args.holidays_files {
        p.holidays.extend(read_holidays(f)?);
    }
    if let Some(f) = &args.identity_map {
        p.identity_map = super::identities::read_map(f)?;
    }
    if let Some(f) = &args.teams {
        p.teams = super::teams::read_teams(f, "--teams")?;
    }
    Ok(p)
}

/// Builds the report from the store; `generated_at` and `runtime_profile` are injected.
pub fn build(
    store: &dyn ReportStore,
    req: &ReportRequest,
    generated_at: String,
    runtime_profile: Vec<Service>,
) -> anyhow::Result<Report> {
    prod_lens::report::build(store, req, generated_at, runtime_profile)
        .context("building the report")
}

fn color_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Renders in `format` (`color` only applies to the table).
pub fn render(report: &Report, format: ReportFormat, color: bool) -> anyhow::Result<String> {
    Ok(match format {
        ReportFormat::Table => TableRenderer { color }.render(report)?,
        ReportFormat::Json => JsonRenderer.render(report)?,
        ReportFormat::Csv => CsvRenderer.render(report)?,
        ReportFormat::Md => MarkdownRenderer.render(report)?,
        ReportFormat::Html => HtmlRenderer.render(report)?,
    })
}

fn format_of_file(path: &Path) -> ReportFormat {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("json") => ReportFormat::Json,
        Some("md" | "markdown") => ReportFormat::Md,
        Some("txt") => ReportFormat::Table,
        Some("html" | "htm") => ReportFormat::Html,
        _ => ReportFormat::Csv,
    }
}

/// Prints `report` to stdout and writes `--output`.
pub fn emit(
    report: &Report,
    format: Option<ReportFormat>,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    if let Some(path) = output {
        let text = render(report, format_of_file(path), false)?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    // As in the seed, `--output` adds a file and stdout keeps the JSON.
    let format = format.unwrap_or(if output.is_none() && std::io::stdout().is_terminal() {
        ReportFormat::Table
    } else {
        ReportFormat::Json
    });
    print!("{}", render(report, format, color_wanted())?);
    Ok(())
}

/// Runs the command.
pub fn run(db: &prod_lens::store::StoreLocation, args: ReportArgs) -> anyhow::Result<()> {
    let p = params_with_files(&args)?;
    // Flags are checked before the store is opened, so a typo is named first.
    ReportRequest::from_params(&p, "--")?;
    let opened = super::open_reader(db, "ingest traces")?;
    let store: &dyn ReportStore = opened.as_ref();
    let p = prod_lens::report::fill_window(store, &p)?;
    let mut req = ReportRequest::from_params(&p, "--")?;
    req.privacy = super::privacy(store, &args.privacy)?;
    let report = build(
        store,
        &req,
        Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        runtime_profile(),
    )?;
    emit(&report, args.format, args.output.as_deref())
}
