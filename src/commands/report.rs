//! `prod-lens report`: load each repo's rows for the window, compute, render.

use crate::cli::{ReportArgs, ReportFormat};
use anyhow::Context;
use chrono::{NaiveDate, Utc};
use prod_lens::metrics::{self, Metadata, Report, ReportOptions, Service};
use prod_lens::render::{
    csv::CsvRenderer, json::JsonRenderer, markdown::MarkdownRenderer, table::TableRenderer,
    Renderer,
};
use prod_lens::slug::RepoSlug;
use prod_lens::stats::calendar::{local_day, parse_timezone, DayWindow};
use prod_lens::store::Store;
use prod_lens::Error;
use std::io::IsTerminal;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

/// Local services whose presence is reported in `metadata.runtime_profile`.
const SERVICES: [(&str, u16); 3] = [("litellm", 4000), ("phoenix", 6006), ("arize", 8080)];

fn invalid(msg: String) -> anyhow::Error {
    Error::InvalidArgument(msg).into()
}

fn parse_day(flag: &str, raw: &str) -> anyhow::Result<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|e| invalid(format!("{flag} {raw:?}: {e} (use YYYY-MM-DD)")))
}

/// Which of the local LLM-tooling services accept a TCP connection on 127.0.0.1.
pub fn runtime_profile() -> Vec<Service> {
    SERVICES
        .iter()
        .map(|&(name, port)| Service {
            name: name.to_string(),
            port,
            answering: TcpStream::connect_timeout(
                &SocketAddr::from(([127, 0, 0, 1], port)),
                Duration::from_millis(150),
            )
            .is_ok(),
        })
        .collect()
}

/// What `report` needs besides the store: the options and metadata that are not data.
pub struct Request {
    /// Repos (empty: all).
    pub repos: Vec<String>,
    /// Computation options.
    pub options: ReportOptions,
    /// Timezone name as given.
    pub timezone: String,
    /// Scan rows instead of rollups.
    pub exact: bool,
}

/// Parses the flags into a request.
pub fn request(args: &ReportArgs) -> anyhow::Result<Request> {
    let tz = parse_timezone(&args.timezone).map_err(|e| invalid(format!("--timezone: {e}")))?;
    let since = parse_day("--since", &args.since)?;
    let until = match &args.until {
        Some(u) => parse_day("--until", u)?,
        None => local_day(Utc::now(), tz),
    };
    let window = DayWindow::new(since, until).map_err(|e| invalid(format!("window: {e}")))?;
    anyhow::ensure!(
        args.max_lag <= 60 && args.lag_days <= 60,
        Error::InvalidArgument("--max-lag and --lag-days: use 0 to 60".into())
    );
    let mut repos = Vec::new();
    for raw in &args.repos {
        let slug = RepoSlug::parse(raw)?.as_str().to_string();
        if !repos.contains(&slug) {
            repos.push(slug);
        }
    }
    Ok(Request {
        repos,
        options: ReportOptions {
            window,
            tz,
            business_days: args.business_days,
            lag_days: args.lag_days,
            max_lag: args.max_lag,
            policy_models: args.policy_models.clone(),
            q: prod_lens::stats::multiple::DEFAULT_Q,
        },
        timezone: tz.name().to_string(),
        exact: args.exact,
    })
}

/// Builds the report from the store; `generated_at` and `runtime_profile` are injected.
pub fn build(
    store: &Store,
    req: &Request,
    generated_at: String,
    runtime_profile: Vec<Service>,
) -> anyhow::Result<Report> {
    let repos = if req.repos.is_empty() {
        store.report_repos()?
    } else {
        req.repos.clone()
    };
    let (start, end) = req
        .options
        .window
        .utc_bounds(req.options.tz)
        .ok_or_else(|| invalid("the window lies outside the supported date range".into()))?;
    let mut data = Vec::with_capacity(repos.len());
    let mut freshness = Vec::with_capacity(repos.len());
    for repo in &repos {
        data.push(
            store
                .report_data(repo, start, end)
                .with_context(|| format!("reading {repo}"))?,
        );
        freshness.push(store.report_freshness(repo)?);
    }
    let w = &req.options.window;
    let metadata = Metadata {
        repos: repos.clone(),
        since: w.since().to_string(),
        until: w.until().to_string(),
        timezone: req.timezone.clone(),
        business_days: req.options.business_days,
        lag_days: req.options.lag_days,
        max_lag: req.options.max_lag,
        mode: "exact".into(),
        generated_at,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        freshness,
        runtime_profile,
    };
    let mut report = metrics::compute(&data, &req.options, metadata)?;
    if !req.exact {
        report.warnings.push(
            "rollups are not kept by this version: every row was scanned (same as --exact)".into(),
        );
    }
    if repos.is_empty() {
        report
            .warnings
            .insert(0, "the store holds no repo data yet".into());
    }
    Ok(report)
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
pub fn run(db: &Path, args: ReportArgs) -> anyhow::Result<()> {
    let req = request(&args)?;
    anyhow::ensure!(
        db.exists(),
        Error::InvalidArgument(format!(
            "no database at {} (ingest traces first, or pass --db)",
            db.display()
        ))
    );
    let store = Store::open_read_only(db).with_context(|| format!("opening {}", db.display()))?;
    let report = build(
        &store,
        &req,
        Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        runtime_profile(),
    )?;
    emit(&report, args.format, args.output.as_deref())
}
