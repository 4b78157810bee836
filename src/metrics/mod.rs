//! The report's indicators: pure functions from one repo's rows (see [`input`]) to numbers
//! with their definitions, thresholds and warnings. No I/O; the store loads the rows and the
//! renderers print the [`Report`].
//!
//! - [`aggregate`]: the trace side as hourly cells, built from rows (exact) or rollups, with
//!   [`counters`] (additive counts and sums) and [`distribution`] (values or sketches).
//! - [`usage`]: indicators 1–6 and 11 (traces).
//! - [`delivery`]: indicators 7–10 (GitHub).
//! - [`association`]: indicators 12–13 (lagged correlations, Benjamini–Hochberg).
//! - [`thresholds`]: targets with pass / fail / no data, and warnings.
//! - [`definitions`]: the exact definition text of every indicator.

pub mod aggregate;
pub mod association;
pub mod breakdown;
pub mod cohorts;
pub mod counters;
pub mod definitions;
pub mod delivery;
pub mod distribution;
mod hours;
pub mod input;
pub mod thresholds;
pub mod usage;

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::Serialize;

use crate::stats::calendar::DayWindow;
use crate::stats::StatsError;
use aggregate::TraceAggregate;
use association::{Association, MultipleComparison};
use input::RepoData;
use thresholds::Threshold;

/// Version of the report's JSON layout.
pub const SCHEMA_VERSION: u32 = 1;

/// `a / b`, or `None` when `b` is 0 (no data is not zero).
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0).then(|| a / b).filter(|v| v.is_finite())
}

/// Matches `text` against a glob where `*` is any run of characters and `?` one character.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// What the report is asked for.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The day window.
    pub window: DayWindow,
    /// Timezone for day buckets.
    pub tz: Tz,
    /// Monday–Friday only for the association series.
    pub business_days: bool,
    /// Lag of the seed's `ai_outcome_association` block.
    pub lag_days: usize,
    /// Largest lag in `associations`.
    pub max_lag: usize,
    /// `--policy-model` globs.
    pub policy_models: Vec<String>,
    /// False-discovery rate for BH flags.
    pub q: f64,
    /// What the association series are adjusted for.
    pub adjust: crate::stats::adjusted::Adjust,
    /// Within-weekday permutations per association (0: none).
    pub permutations: usize,
    /// Days dropped from both association series.
    pub holidays: std::collections::BTreeSet<chrono::NaiveDate>,
    /// The headline question.
    pub primary: association::PrimarySpec,
}

impl ReportOptions {
    /// Options over `window` in `tz` with every other setting at its default.
    pub fn new(window: DayWindow, tz: Tz) -> Self {
        ReportOptions {
            window,
            tz,
            business_days: false,
            lag_days: 1,
            max_lag: 3,
            policy_models: Vec::new(),
            q: crate::stats::multiple::DEFAULT_Q,
            adjust: crate::stats::adjusted::Adjust::Calendar,
            permutations: 0,
            holidays: Default::default(),
            primary: association::PrimarySpec::default(),
        }
    }

    /// The association part of the options.
    pub fn association(&self) -> association::AssociationOptions {
        association::AssociationOptions {
            adjust: self.adjust,
            permutations: self.permutations,
            max_lag: self.max_lag.max(self.lag_days),
            business_days: self.business_days,
            holidays: self.holidays.clone(),
            primary: self.primary.clone(),
            q: self.q,
        }
    }
}

/// Data freshness of one repo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Freshness {
    /// The repo.
    pub repo: String,
    /// When the last trace ingest run finished (any repo).
    pub last_trace_ingest: Option<String>,
    /// The newest trace day stored for this repo.
    pub latest_trace_day: Option<String>,
    /// When GitHub data of the repo was last synced or imported.
    pub last_github_sync: Option<String>,
}

/// Whether a local service answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    /// Service name.
    pub name: String,
    /// Port on 127.0.0.1.
    pub port: u16,
    /// A TCP connection succeeded.
    pub answering: bool,
}

/// Report metadata (what, when, from which data).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    /// Repos reported.
    pub repos: Vec<String>,
    /// First day.
    pub since: String,
    /// Last day (inclusive).
    pub until: String,
    /// IANA timezone of the day buckets.
    pub timezone: String,
    /// Weekends dropped from association series.
    pub business_days: bool,
    /// Lag of `ai_outcome_association`.
    pub lag_days: usize,
    /// Lags 0..=max_lag in `associations`.
    pub max_lag: usize,
    /// Only this developer's calls, commits and PRs, when set.
    pub developer: Option<String>,
    /// Only the calls, commits and PRs of this team's developers, when set.
    pub team: Option<String>,
    /// Only this model's calls, when set.
    pub model: Option<String>,
    /// `rollups`, `exact` (asked with `--exact`) or `exact-fallback` (rollups cannot answer).
    pub mode: String,
    /// When the report was made (RFC 3339).
    pub generated_at: String,
    /// prod-lens version.
    pub tool_version: String,
    /// Data freshness per repo.
    pub freshness: Vec<Freshness>,
    /// Which local LLM-tooling services answer.
    pub runtime_profile: Vec<Service>,
}

/// Every indicator of one repo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoMetrics {
    /// Indicator 1.
    pub velocity: usage::Velocity,
    /// Indicator 2.
    pub acceptance: usage::Acceptance,
    /// Indicator 3.
    pub model_selection: usage::ModelSelection,
    /// Indicator 4.
    pub errors: usage::Errors,
    /// Indicator 5.
    pub token_efficiency: usage::TokenEfficiency,
    /// Indicator 6.
    pub acceptance_quality: usage::AcceptanceQuality,
    /// Indicator 7.
    pub pr_throughput: delivery::PrThroughput,
    /// Indicator 8.
    pub commit_frequency: delivery::CommitFrequency,
    /// Indicator 9.
    pub merge_time: delivery::MergeTime,
    /// Indicator 10.
    pub rework: delivery::Rework,
    /// Indicator 11.
    pub cost: usage::Cost,
    /// Every day of the window, for charts.
    pub daily: Vec<breakdown::DailyPoint>,
    /// One line per developer, for the per-developer table (empty when hidden for privacy).
    pub developers: Vec<breakdown::DeveloperSummary>,
    /// One line per team (empty when no developer has a team; small teams folded for privacy).
    pub teams: Vec<crate::privacy::teams::TeamSummary>,
}

/// One statistic of the seed's block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedStat {
    /// Coefficient.
    pub r: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Pairs.
    pub count: usize,
}

/// The seed's `ai_outcome_association` block: requests vs commits at `--lag-days`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedAssociation {
    /// Repo it describes.
    pub repo: String,
    /// Pearson.
    pub pearson: SeedStat,
    /// Spearman.
    pub spearman: SeedStat,
    /// The lag.
    pub lag_days: usize,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Layout version.
    pub schema_version: u32,
    /// What and when.
    pub metadata: Metadata,
    /// Indicators per repo.
    pub metrics: BTreeMap<String, RepoMetrics>,
    /// The pre-stated question per repo: the headline.
    pub primary: Vec<association::Primary>,
    /// `tested` when some repo's primary question has enough paired days, else `insufficient`.
    pub inference: association::Inference,
    /// What the associations were adjusted for, and the days their series cover.
    pub adjustment: association::Adjustment,
    /// AI-assisted vs other merged PRs (filled by the store-backed report builder).
    pub cohorts: Vec<cohorts::Cohort>,
    /// The cohort family's Benjamini–Hochberg summary.
    pub cohort_comparison: Option<cohorts::CohortFamily>,
    /// Cost per AI-assisted merged PR, from the calls attributed to each PR by branch.
    pub assisted_cost: Vec<crate::prs::AssistedCost>,
    /// Indicator 12, every repo.
    pub associations: Vec<Association>,
    /// Indicator 13.
    pub multiple_comparison: MultipleComparison,
    /// Seed block (first repo when several; per repo in `ai_outcome_association_by_repo`).
    pub ai_outcome_association: Option<SeedAssociation>,
    /// Seed block per repo.
    pub ai_outcome_association_by_repo: BTreeMap<String, SeedAssociation>,
    /// Targets with pass / fail / no data.
    pub thresholds: Vec<Threshold>,
    /// Definition text per indicator.
    pub definitions: BTreeMap<String, String>,
    /// Things the reader must know.
    pub warnings: Vec<String>,
    /// Pseudonyms, minimum group size, and what was folded or hidden.
    pub privacy: crate::privacy::PrivacyNote,
}

/// Computes the report from every repo's rows (or trace aggregate); `metadata` comes from the
/// caller.
pub fn compute(
    data: &[RepoData],
    opts: &ReportOptions,
    metadata: Metadata,
) -> Result<Report, StatsError> {
    let aopts = opts.association();
    // Repos are independent: computed side by side, combined in the repos' order.
    let workers = vec![(); crate::parallel::threads_for(data.len())];
    let parts = crate::parallel::map_in_order(data.len(), workers, |_, i| {
        repo_part(&data[i], opts, &aopts)
    })
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    let mut metrics = BTreeMap::new();
    let mut associations = Vec::new();
    let mut warnings = Vec::new();
    let mut spans = Vec::new();
    for (repo, part) in data.iter().zip(parts) {
        warnings.extend(part.warnings);
        spans.push(part.span);
        associations.extend(part.associations);
        metrics.insert(repo.repo.clone(), part.metrics);
    }
    let multiple_comparison = association::adjust(&mut associations, opts.q);
    let low = associations.iter().filter(|a| a.low_sample).count();
    if low > 0 {
        warnings.push(format!(
            "{low} associations have fewer than {} pairs (low_sample): listed, not tested",
            association::MIN_INFERENCE_DAYS
        ));
    }
    let primary: Vec<association::Primary> = data
        .iter()
        .map(|r| association::primary(&r.repo, &associations, &opts.primary))
        .collect();
    let inference = if primary
        .iter()
        .any(|p| p.inference == association::Inference::Tested)
    {
        association::Inference::Tested
    } else {
        association::Inference::Insufficient
    };
    warnings.push(match opts.adjust {
        crate::stats::adjusted::Adjust::Calendar => "associations are partial correlations with day of week and trend removed: still correlations over one window, not causation; exploratory rows need confirming on new data".into(),
        crate::stats::adjusted::Adjust::None => "associations are NOT adjusted (--adjust none): weekday rhythm and trends shared by AI use and delivery produce correlations without any link; read them as exploratory".into(),
    });
    let by_repo: BTreeMap<String, SeedAssociation> = data
        .iter()
        .filter_map(|r| seed_block(&r.repo, &associations, opts.lag_days))
        .map(|s| (s.repo.clone(), s))
        .collect();
    let thresholds = metrics
        .iter()
        .flat_map(|(repo, m)| thresholds::evaluate(repo, m))
        .collect();
    Ok(Report {
        schema_version: SCHEMA_VERSION,
        metadata,
        metrics,
        ai_outcome_association: data.first().and_then(|r| by_repo.get(&r.repo)).cloned(),
        ai_outcome_association_by_repo: by_repo,
        primary,
        inference,
        cohorts: Vec::new(),
        cohort_comparison: None,
        assisted_cost: Vec::new(),
        adjustment: association::Adjustment {
            method: opts.adjust,
            covariates: match opts.adjust {
                crate::stats::adjusted::Adjust::Calendar => vec![
                    "day of week of the AI day".into(),
                    "day of week of the outcome day".into(),
                    "linear trend".into(),
                ],
                crate::stats::adjusted::Adjust::None => Vec::new(),
            },
            holidays: opts.holidays.iter().map(|d| d.to_string()).collect(),
            business_days: opts.business_days,
            permutations: opts.permutations,
            spans,
        },
        associations,
        multiple_comparison,
        thresholds,
        definitions: definitions::definitions(),
        warnings,
        privacy: crate::privacy::PrivacyNote::default(),
    })
}

/// What one repo adds to the report: its indicators, associations, series span and warnings
/// (in the order the report lists them).
struct RepoPart {
    metrics: RepoMetrics,
    associations: Vec<Association>,
    span: association::SeriesSpan,
    warnings: Vec<String>,
}

/// One repo's part of the report.
fn repo_part(
    repo: &RepoData,
    opts: &ReportOptions,
    aopts: &association::AssociationOptions,
) -> Result<RepoPart, StatsError> {
    let mut associations = Vec::new();
    let mut warnings = Vec::new();
    let series_span;
    let mut delivery = delivery::compute(
        &repo.pulls,
        &repo.commits,
        &repo.rework,
        &opts.window,
        opts.tz,
    );
    if !repo.has_github {
        // No GitHub data at all: zero merges would be a false "fail", not a measurement.
        delivery.pr_throughput.mean_per_week = None;
        delivery.pr_throughput.median_per_week = None;
    }
    let built;
    let agg = match &repo.aggregate {
        Some(a) => a,
        None => {
            built = TraceAggregate::from_rows(&repo.traces, opts.tz);
            &built
        }
    };
    // Usage counts people: developer ids linked to one GitHub login are one developer
    // (each distinct id looked up once).
    let people: foldhash::HashMap<&str, String> = match &repo.linker {
        Some(l) => agg
            .developer_ids()
            .into_iter()
            .filter_map(|id| l.link(id).map(|k| (id, k.login)))
            .collect(),
        None => foldhash::HashMap::default(),
    };
    let mut usage = usage::compute_as(
        agg,
        &opts.policy_models,
        delivery.pr_throughput.merged,
        |d| people.get(d).map_or(d, String::as_str),
    );
    if let Some(linker) = &repo.linker {
        // Per-developer cost under the linked person, like every per-developer figure.
        let mut merged: BTreeMap<String, f64> = BTreeMap::new();
        for (id, cost) in std::mem::take(&mut usage.cost.per_developer) {
            *merged.entry(linker.person(&id).into_owned()).or_default() += cost;
        }
        usage.cost.per_developer = merged;
    }
    match association::coverage_window(repo, &opts.window, opts.tz) {
        Some(span) => {
            let series = association::repo_series(repo, agg, &span, opts.tz, aopts)?;
            if span != opts.window {
                warnings.push(format!(
                    "{}: the window {} to {} reaches beyond the days both traces and GitHub data cover; association series run from {} to {} only",
                    repo.repo,
                    opts.window.since(),
                    opts.window.until(),
                    span.since(),
                    span.until()
                ));
            }
            series_span = association::SeriesSpan {
                repo: repo.repo.clone(),
                since: Some(span.since().to_string()),
                until: Some(span.until().to_string()),
                days: series.days(),
            };
            associations.extend(association::associations(&repo.repo, &series, aopts));
        }
        None => {
            warnings.push(format!(
                "{}: traces and GitHub data do not overlap in the window, so no association is computed",
                repo.repo
            ));
            series_span = association::SeriesSpan {
                repo: repo.repo.clone(),
                since: None,
                until: None,
                days: 0,
            };
        }
    }
    let m = RepoMetrics {
        velocity: usage.velocity,
        acceptance: usage.acceptance,
        model_selection: usage.model_selection,
        errors: usage.errors,
        token_efficiency: usage.token_efficiency,
        acceptance_quality: usage.acceptance_quality,
        pr_throughput: delivery.pr_throughput,
        commit_frequency: delivery.commit_frequency,
        merge_time: delivery.merge_time,
        rework: delivery.rework,
        cost: usage.cost,
        daily: breakdown::daily(repo, agg, &opts.window, opts.tz),
        developers: breakdown::developers(repo, agg),
        teams: Vec::new(),
    };
    warnings.extend(thresholds::warnings(&repo.repo, repo.has_github, &m));
    Ok(RepoPart {
        metrics: m,
        associations,
        span: series_span,
        warnings,
    })
}

fn seed_block(repo: &str, assocs: &[Association], lag: usize) -> Option<SeedAssociation> {
    let a = assocs.iter().find(|a| {
        a.repo == repo && a.ai_series == "requests" && a.outcome_series == "commits" && a.lag == lag
    })?;
    Some(SeedAssociation {
        repo: repo.to_string(),
        pearson: SeedStat {
            r: a.pearson.r,
            p_value: a.pearson.p_value,
            count: a.n,
        },
        spearman: SeedStat {
            r: a.spearman.r,
            p_value: a.spearman.p_value,
            count: a.n,
        },
        lag_days: lag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("claude-3-*", "claude-3-opus"));
        assert!(glob_match("*", ""));
        assert!(glob_match("gpt-4?", "gpt-4o"));
        assert!(!glob_match("gpt-4?", "gpt-4o-mini"));
        assert!(glob_match("*-mini", "gpt-4o-mini"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn ratio_of_nothing_is_no_data() {
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(1.0, 4.0), Some(0.25));
    }
}
