//! Building a report from the store: validated parameters in, [`Report`] out. Shared by the
//! `report` command and the dashboard server, so both compute the same numbers.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{Error, Result};
use crate::metrics::aggregate::hour_aligned;
use crate::metrics::{self, Metadata, Report, ReportOptions, Service};
use crate::slug::RepoSlug;
use crate::stats::calendar::{local_day, parse_timezone, DayWindow};
use crate::store::report_data::TraceFilter;
use crate::store::Store;

/// Local services whose presence is reported in `metadata.runtime_profile`.
pub const SERVICES: [(&str, u16); 3] = [("litellm", 4000), ("phoenix", 6006), ("arize", 8080)];

/// Largest lag accepted by `--lag-days` and `--max-lag`.
pub const MAX_LAG: usize = 60;

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

/// Report parameters as a user gives them (flags or query string), before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportParams {
    /// Repos (`owner/name`); empty for every repo in the store.
    pub repos: Vec<String>,
    /// First day, `YYYY-MM-DD` in `timezone`.
    pub since: String,
    /// Last day, included; `None` for today in `timezone`.
    pub until: Option<String>,
    /// IANA timezone of the day buckets.
    pub timezone: String,
    /// Lag of the seed's `ai_outcome_association` block.
    pub lag_days: usize,
    /// Largest lag in `associations`.
    pub max_lag: usize,
    /// Model policy globs.
    pub policy_models: Vec<String>,
    /// Drop weekends from the association series.
    pub business_days: bool,
    /// Scan rows instead of rollups.
    pub exact: bool,
    /// Only calls (and commits / PRs) of this developer.
    pub developer: Option<String>,
    /// Only calls of this model.
    pub model: Option<String>,
}

impl Default for ReportParams {
    fn default() -> Self {
        Self {
            repos: Vec::new(),
            since: String::new(),
            until: None,
            timezone: "UTC".into(),
            lag_days: 1,
            max_lag: 3,
            policy_models: Vec::new(),
            business_days: false,
            exact: false,
            developer: None,
            model: None,
        }
    }
}

/// A validated report request.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// Repos, validated and de-duplicated (empty: all).
    pub repos: Vec<String>,
    /// Computation options.
    pub options: ReportOptions,
    /// Canonical timezone name.
    pub timezone: String,
    /// Scan rows instead of rollups.
    pub exact: bool,
    /// Developer / model filter on the rows read.
    pub filter: TraceFilter,
}

fn parse_day(what: &str, raw: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|e| Error::InvalidArgument(format!("{what} {raw:?}: {e} (use YYYY-MM-DD)")))
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl ReportRequest {
    /// Validates `p`; `what` prefixes name the flag (`--since`) or parameter (`since`).
    pub fn from_params(p: &ReportParams, flag_prefix: &str) -> Result<Self> {
        let name = |n: &str| format!("{flag_prefix}{n}");
        let tz = parse_timezone(&p.timezone)
            .map_err(|e| Error::InvalidArgument(format!("{}: {e}", name("timezone"))))?;
        let since = parse_day(&name("since"), &p.since)?;
        let until = match &p.until {
            Some(u) if !u.trim().is_empty() => parse_day(&name("until"), u)?,
            _ => local_day(Utc::now(), tz),
        };
        let window = DayWindow::new(since, until)
            .map_err(|e| Error::InvalidArgument(format!("window: {e}")))?;
        if p.max_lag > MAX_LAG || p.lag_days > MAX_LAG {
            return Err(Error::InvalidArgument(format!(
                "{} and {}: use 0 to {MAX_LAG}",
                name("max-lag"),
                name("lag-days")
            )));
        }
        let mut repos = Vec::new();
        for raw in &p.repos {
            let slug = RepoSlug::parse(raw)?.as_str().to_string();
            if !repos.contains(&slug) {
                repos.push(slug);
            }
        }
        Ok(Self {
            repos,
            options: ReportOptions {
                window,
                tz,
                business_days: p.business_days,
                lag_days: p.lag_days,
                max_lag: p.max_lag,
                policy_models: p.policy_models.clone(),
                q: crate::stats::multiple::DEFAULT_Q,
            },
            timezone: tz.name().to_string(),
            exact: p.exact,
            filter: TraceFilter {
                developer: non_empty(&p.developer),
                model: non_empty(&p.model),
            },
        })
    }
}

/// Where the trace-side numbers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceMode {
    /// The hourly rollups (percentiles from sketches).
    Rollups,
    /// Every row of the window, as asked with `--exact`.
    Exact,
    /// Every row of the window because the rollups cannot answer (the reason).
    Fallback(String),
}

impl TraceMode {
    /// The `metadata.mode` value: `rollups`, `exact` or `exact-fallback`.
    pub fn name(&self) -> &'static str {
        match self {
            TraceMode::Rollups => "rollups",
            TraceMode::Exact => "exact",
            TraceMode::Fallback(_) => "exact-fallback",
        }
    }
}

/// Chooses rollups unless `--exact` is asked, the store has none yet, or the timezone cannot
/// be re-bucketed from UTC hours over `[start, end)`.
pub fn trace_mode(
    store: &Store,
    req: &ReportRequest,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<TraceMode> {
    if req.exact {
        return Ok(TraceMode::Exact);
    }
    if !store.has_rollups()? {
        return Ok(TraceMode::Fallback(format!(
            "the store (schema version {}) has no rollups yet; open it once with a writing command (e.g. prod-lens rebuild-rollups) to add them",
            store.schema_version()?
        )));
    }
    if !hour_aligned(req.options.tz, start, end) {
        return Ok(TraceMode::Fallback(format!(
            "timezone {} is not a whole number of hours from UTC over the window, so hourly UTC rollups cannot be re-bucketed into its days",
            req.timezone
        )));
    }
    Ok(TraceMode::Rollups)
}

/// Builds the report from the store; `generated_at` and `runtime_profile` are injected.
pub fn build(
    store: &Store,
    req: &ReportRequest,
    generated_at: String,
    runtime_profile: Vec<Service>,
) -> Result<Report> {
    let repos = if req.repos.is_empty() {
        store.report_repos()?
    } else {
        req.repos.clone()
    };
    let (start, end) = req
        .options
        .window
        .utc_bounds(req.options.tz)
        .ok_or_else(|| {
            Error::InvalidArgument("the window lies outside the supported date range".into())
        })?;
    let mode = trace_mode(store, req, start, end)?;
    let mut data = Vec::with_capacity(repos.len());
    let mut freshness = Vec::with_capacity(repos.len());
    for repo in &repos {
        data.push(match mode {
            TraceMode::Rollups => {
                store.report_data_rollups(repo, start, end, &req.filter, req.options.tz)?
            }
            TraceMode::Exact | TraceMode::Fallback(_) => {
                store.report_data(repo, start, end, &req.filter)?
            }
        });
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
        developer: req.filter.developer.clone(),
        model: req.filter.model.clone(),
        mode: mode.name().into(),
        generated_at,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        freshness,
        runtime_profile,
    };
    let mut report = metrics::compute(&data, &req.options, metadata)?;
    if let TraceMode::Fallback(why) = &mode {
        report.warnings.push(format!(
            "{why}: every trace row of the window was scanned (mode exact-fallback, exact percentiles)"
        ));
    }
    if req.filter.model.is_some() {
        report.warnings.push(
            "the model filter applies to calls only: commits and merged PRs are the repo's (or the developer's)".into(),
        );
    }
    if repos.is_empty() {
        report
            .warnings
            .insert(0, "the store holds no repo data yet".into());
    }
    Ok(report)
}
