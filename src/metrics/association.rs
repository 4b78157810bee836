//! Indicators 12 and 13: AI → outcome associations over lagged daily series, adjusted for the
//! calendar (day of week, trend, holidays), and the Benjamini–Hochberg adjustment over every
//! test actually run.
//!
//! The series of a repo run only over days on which both sources were collecting (from the
//! later of the first call and the first GitHub activity to the earlier of the last call and
//! the last GitHub sync), inside the report window. Counts are 0 on days without activity;
//! `median_merge_hours` is missing on days without merges, so those days form no pair.
//! Each association's `pearson`/`spearman` are partial (calendar-adjusted) correlations (see
//! [`crate::stats::adjusted`]); the unadjusted figures are kept under `raw`, outside the BH
//! family. One test is the pre-stated primary question ([`PrimarySpec`]); the rest is
//! exploratory. All tests with a p-value form one BH family.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Serialize;

use super::aggregate::TraceAggregate;
use super::delivery::merge_hours;
use super::input::RepoData;
use crate::stats::adjusted::{detectable_r, pair, partial_association, Adjust};
use crate::stats::calendar::{local_day, DayWindow};
use crate::stats::lagged::DailySeries;
use crate::stats::multiple::bh_family;
use crate::stats::StatsError;

/// Stable names of the AI series.
pub const AI_SERIES: [&str; 4] = ["requests", "sessions", "tokens", "cost_usd"];
/// Stable names of the outcome series.
pub const OUTCOME_SERIES: [&str; 3] = ["commits", "merged_prs", "median_merge_hours"];
/// Fewest paired days for the primary question to be inferred at all (fewer: `insufficient`).
pub const MIN_INFERENCE_DAYS: usize = 20;

/// The pre-stated primary question: `AI:OUTCOME:LAG`, e.g. `requests:commits:1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrimarySpec {
    /// AI series (one of [`AI_SERIES`]).
    pub ai_series: String,
    /// Outcome series (one of [`OUTCOME_SERIES`]).
    pub outcome_series: String,
    /// Lag in days (or business days).
    pub lag: usize,
}

impl Default for PrimarySpec {
    fn default() -> Self {
        PrimarySpec {
            ai_series: "requests".into(),
            outcome_series: "commits".into(),
            lag: 1,
        }
    }
}

impl fmt::Display for PrimarySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.ai_series, self.outcome_series, self.lag)
    }
}

impl FromStr for PrimarySpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.trim().split(':').collect();
        let [ai, outcome, lag] = parts.as_slice() else {
            return Err(format!(
                "{s:?}: expected AI:OUTCOME:LAG, e.g. requests:commits:1"
            ));
        };
        if !AI_SERIES.contains(ai) {
            return Err(format!(
                "{s:?}: AI series {ai:?} is not one of {}",
                AI_SERIES.join(", ")
            ));
        }
        if !OUTCOME_SERIES.contains(outcome) {
            return Err(format!(
                "{s:?}: outcome {outcome:?} is not one of {}",
                OUTCOME_SERIES.join(", ")
            ));
        }
        let lag = lag
            .parse::<usize>()
            .map_err(|_| format!("{s:?}: lag {lag:?} is not a whole number of days"))?;
        Ok(PrimarySpec {
            ai_series: ai.to_string(),
            outcome_series: outcome.to_string(),
            lag,
        })
    }
}

/// Whether an association is the pre-stated question or part of the exploratory grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The `--primary` question (the headline).
    Primary,
    /// Everything else: listed, BH-adjusted, to be confirmed on new data.
    Exploratory,
}

/// Pearson results of one association.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PearsonOut {
    /// r, null when undefined.
    pub r: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Fisher-z 95 % CI lower bound.
    pub ci_low: Option<f64>,
    /// Fisher-z 95 % CI upper bound.
    pub ci_high: Option<f64>,
    /// Why something is null.
    pub reason: Option<String>,
}

/// Spearman results of one association.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpearmanOut {
    /// ρ, null when undefined.
    pub r: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Why something is null.
    pub reason: Option<String>,
}

/// Unadjusted figures of one association: exploratory, outside the BH family.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RawOut {
    /// Plain Pearson r of the pairs.
    pub pearson_r: Option<f64>,
    /// Its two-sided p (n − 2 degrees of freedom).
    pub pearson_p: Option<f64>,
    /// Plain Spearman ρ of the pairs.
    pub spearman_r: Option<f64>,
    /// Its two-sided p.
    pub spearman_p: Option<f64>,
}

/// BH-adjusted p-values (null when the test is not in the family).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Adjusted {
    /// Adjusted Pearson p-value.
    pub pearson: Option<f64>,
    /// Adjusted Spearman p-value.
    pub spearman: Option<f64>,
}

/// Significance at the family's q.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Significant {
    /// Pearson adjusted p ≤ q.
    pub pearson: bool,
    /// Spearman adjusted p ≤ q.
    pub spearman: bool,
}

/// One (repo, AI series, outcome series, lag) association.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Association {
    /// Repo the series belong to.
    pub repo: String,
    /// AI series name (see [`AI_SERIES`]).
    pub ai_series: String,
    /// Outcome series name (see [`OUTCOME_SERIES`]).
    pub outcome_series: String,
    /// Outcome day = AI day + lag (days, or business days).
    pub lag: usize,
    /// Primary question or exploratory.
    pub role: Role,
    /// Number of pairs (days with both values).
    pub n: usize,
    /// Calendar covariates removed besides the intercept (q).
    pub q: usize,
    /// Degrees of freedom of the t-tests (n − 2 − q), null when none are left.
    pub df: Option<usize>,
    /// Fewer than 20 pairs ([`MIN_INFERENCE_DAYS`]): listed, not in the BH family.
    pub low_sample: bool,
    /// Partial Pearson r (calendar removed), p and CI.
    pub pearson: PearsonOut,
    /// Partial Spearman ρ and p.
    pub spearman: SpearmanOut,
    /// Within-weekday permutation p of the partial Pearson r (`--permutations`).
    pub permutation_p: Option<f64>,
    /// Unadjusted r and p (exploratory, not in the BH family).
    pub raw: RawOut,
    /// BH-adjusted p-values.
    pub adjusted_p: Adjusted,
    /// Significant after BH at q.
    pub significant: Significant,
}

/// The BH family actually tested.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultipleComparison {
    /// `benjamini-hochberg`.
    pub method: String,
    /// False-discovery rate.
    pub q: f64,
    /// Family size: tests (a hypothesis has a Pearson and a Spearman test).
    pub m: usize,
    /// Of those, primary tests (one per repo with a testable primary question).
    pub primary_m: usize,
    /// Hypotheses (associations) with at least one test in the family.
    pub hypotheses: usize,
    /// Which tests are in the family.
    pub tests: Vec<String>,
    /// Tests excluded as low samples.
    pub excluded_low_sample: usize,
    /// Tests excluded because p was undefined (e.g. a constant series).
    pub excluded_undefined: usize,
    /// Tests significant after adjustment.
    pub significant: usize,
    /// Hypotheses with at least one significant test.
    pub significant_hypotheses: usize,
}

impl MultipleComparison {
    /// One line that counts tests and hypotheses the same way in every format.
    pub fn summary(&self) -> String {
        format!(
            "{} of {} tests significant ({} of {} hypotheses; each hypothesis has a Pearson and a Spearman test) at q = {}: primary test first, then Benjamini–Hochberg over the exploratory tests",
            self.significant, self.m, self.significant_hypotheses, self.hypotheses, self.q
        )
    }
}

/// Whether the primary question can be inferred from the data at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Inference {
    /// At least [`MIN_INFERENCE_DAYS`] paired days: the test is reported.
    Tested,
    /// Too few paired days: descriptive figures only.
    Insufficient,
}

/// The headline: the primary question of one repo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Primary {
    /// Repo.
    pub repo: String,
    /// The question, `AI:OUTCOME:LAG`.
    pub question: String,
    /// AI series.
    pub ai_series: String,
    /// Outcome series.
    pub outcome_series: String,
    /// Lag.
    pub lag: usize,
    /// Paired days.
    pub n: usize,
    /// Covariates removed (q).
    pub q: usize,
    /// Partial Pearson r.
    pub r: Option<f64>,
    /// 95 % CI lower bound.
    pub ci_low: Option<f64>,
    /// 95 % CI upper bound.
    pub ci_high: Option<f64>,
    /// Two-sided p of the partial r.
    pub p_value: Option<f64>,
    /// Adjusted p (Benjamini–Hochberg across the repos' primary tests).
    pub adjusted_p: Option<f64>,
    /// Adjusted p ≤ q.
    pub significant: bool,
    /// Fewer than 20 pairs (not tested).
    pub low_sample: bool,
    /// Smallest |r| detectable with 80 % power at α = 0.05 at this n (Fisher z, n − q pairs).
    pub detectable_r: Option<f64>,
    /// `tested`, or `insufficient` under 20 paired days.
    pub inference: Inference,
    /// One sentence a reader can quote.
    pub statement: String,
    /// Why r is null, if it is.
    pub reason: Option<String>,
}

/// What the associations were adjusted for, and over which days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Adjustment {
    /// `calendar` (day of week, trend, holidays) or `none`.
    pub method: Adjust,
    /// Candidate covariates (collinear or empty ones drop out per association; see `q`).
    pub covariates: Vec<String>,
    /// Days dropped from both series.
    pub holidays: Vec<String>,
    /// Weekends dropped from both series.
    pub business_days: bool,
    /// Shuffles of the within-weekday permutation test (0: none).
    pub permutations: usize,
    /// The days each repo's series cover.
    pub spans: Vec<SeriesSpan>,
}

/// The days one repo's association series cover.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesSpan {
    /// Repo.
    pub repo: String,
    /// First day (null when the sources never overlap in the window).
    pub since: Option<String>,
    /// Last day.
    pub until: Option<String>,
    /// Days in the series (after weekends and holidays are dropped).
    pub days: usize,
}

/// How associations are computed.
#[derive(Debug, Clone, PartialEq)]
pub struct AssociationOptions {
    /// What to adjust for.
    pub adjust: Adjust,
    /// Within-weekday permutations per association (0: none).
    pub permutations: usize,
    /// Lags 0..=max_lag.
    pub max_lag: usize,
    /// Weekends dropped.
    pub business_days: bool,
    /// Days dropped from both series.
    pub holidays: BTreeSet<NaiveDate>,
    /// The headline question.
    pub primary: PrimarySpec,
    /// False-discovery rate.
    pub q: f64,
}

/// The daily series of one repo.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoSeries {
    /// AI series in [`AI_SERIES`] order, as the associations read them (log scale under the
    /// calendar adjustment).
    pub ai: Vec<DailySeries>,
    /// Outcome series in [`OUTCOME_SERIES`] order, likewise.
    pub outcome: Vec<DailySeries>,
    /// The AI series as counted (the `raw` figures read these).
    pub ai_counted: Vec<DailySeries>,
    /// The outcome series as counted.
    pub outcome_counted: Vec<DailySeries>,
}

impl RepoSeries {
    /// The series of counted values (weekends and holidays already dropped), with the values
    /// the associations read derived under `adjust` (see [`AssociationOptions::prepare`]).
    pub fn from_counted(
        ai_counted: Vec<DailySeries>,
        outcome_counted: Vec<DailySeries>,
        adjust: Adjust,
    ) -> Self {
        let scale = |v: &[DailySeries], scales: &[LogScale]| -> Vec<DailySeries> {
            v.iter()
                .zip(scales)
                .map(|(s, sc)| match adjust {
                    Adjust::Calendar => s.map_values(|x| (x.max(0.0) * sc.0).ln_1p()),
                    Adjust::None => s.clone(),
                })
                .collect()
        };
        RepoSeries {
            ai: scale(&ai_counted, &AI_SCALES),
            outcome: scale(&outcome_counted, &OUTCOME_SCALES),
            ai_counted,
            outcome_counted,
        }
    }

    /// Days in the series.
    pub fn days(&self) -> usize {
        self.ai.first().map_or(0, DailySeries::len)
    }
}

/// The days of `window` on which both sources of the repo were collecting, if any.
pub fn coverage_window(data: &RepoData, window: &DayWindow, tz: Tz) -> Option<DayWindow> {
    let Some(c) = data.coverage else {
        return Some(*window);
    };
    let start = [c.trace_first, c.github_first]
        .into_iter()
        .map(|t| t.map(|t| local_day(t, tz)))
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .max()?
        .max(window.since());
    let end = [c.trace_last, c.github_end()]
        .into_iter()
        .map(|t| t.map(|t| local_day(t, tz)))
        .collect::<Option<Vec<_>>>()?
        .into_iter()
        .min()?
        .min(window.until());
    DayWindow::new(start, end).ok()
}

/// How a series is put on the log scale before adjustment: ln(1 + value × scale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogScale(pub f64);

/// Scale of each AI series (requests, sessions, tokens in thousands, cost in cents).
pub const AI_SCALES: [LogScale; 4] = [
    LogScale(1.0),
    LogScale(1.0),
    LogScale(1e-3),
    LogScale(100.0),
];
/// Scale of each outcome series (commits, merged PRs, hours).
pub const OUTCOME_SCALES: [LogScale; 3] = [LogScale(1.0), LogScale(1.0), LogScale(1.0)];

impl AssociationOptions {
    /// `s` without weekends (with `business_days`) and without holidays: the days the
    /// associations pair.
    pub fn select_days(&self, s: DailySeries) -> DailySeries {
        let s = if self.business_days {
            s.business_days_only()
        } else {
            s
        };
        if self.holidays.is_empty() {
            s
        } else {
            s.retain_days(|d| !self.holidays.contains(&d))
        }
    }
}

/// Builds every series of one repo over `window` (zero days for counts, missing days for the
/// median merge time), with weekends and holidays dropped as asked.
pub fn repo_series(
    data: &RepoData,
    agg: &TraceAggregate,
    window: &DayWindow,
    tz: Tz,
    opts: &AssociationOptions,
) -> Result<RepoSeries, StatsError> {
    let mut requests = Vec::with_capacity(agg.cells.len());
    let mut tokens = Vec::with_capacity(agg.cells.len());
    let mut cost = Vec::new();
    for c in &agg.cells {
        let day = c.slot.day;
        requests.push((day, c.counts.requests as f64));
        tokens.push((day, c.counts.tokens as f64));
        if c.counts.known_cost_calls() > 0 && c.counts.cost_usd.is_finite() {
            cost.push((day, c.counts.cost_usd));
        }
    }
    let sessions: Vec<_> = agg
        .sessions_per_day()
        .into_iter()
        .map(|(d, n)| (d, n as f64))
        .collect();
    let commits: Vec<_> = data
        .commits
        .iter()
        .map(|c| (local_day(c.authored_at, tz), 1.0))
        .collect();
    let mut merged = Vec::new();
    let mut hours_by_day: std::collections::BTreeMap<NaiveDate, Vec<f64>> = Default::default();
    for p in &data.pulls {
        if let Some(m) = p.merged_at {
            let day = local_day(m, tz);
            merged.push((day, 1.0));
            if let Some(h) = merge_hours(p) {
                hours_by_day.entry(day).or_default().push(h);
            }
        }
    }
    let medians: Vec<_> = hours_by_day
        .into_iter()
        .filter_map(|(d, h)| {
            crate::stats::quantile::percentile(&h, 50.0)
                .ok()
                .flatten()
                .map(|m| (d, m))
        })
        .collect();
    let sum = |points: Vec<(NaiveDate, f64)>| -> Result<DailySeries, StatsError> {
        Ok(opts.select_days(DailySeries::complete(window, points)?))
    };
    Ok(RepoSeries::from_counted(
        vec![sum(requests)?, sum(sessions)?, sum(tokens)?, sum(cost)?],
        vec![
            sum(commits)?,
            sum(merged)?,
            opts.select_days(DailySeries::observed(window, medians)?),
        ],
        opts.adjust,
    ))
}

/// Computes every association of one repo for lags 0..=max_lag (BH fields left empty).
pub fn associations(repo: &str, s: &RepoSeries, opts: &AssociationOptions) -> Vec<Association> {
    let mut out = Vec::new();
    let max_lag = opts.max_lag.max(opts.primary.lag);
    for (i, (ai_name, ai)) in AI_SERIES.iter().zip(&s.ai).enumerate() {
        for (j, (out_name, outcome)) in OUTCOME_SERIES.iter().zip(&s.outcome).enumerate() {
            for lag in 0..=max_lag {
                let Ok(pairs) = pair(ai, outcome, lag) else {
                    continue;
                };
                let mut a = partial_association(&pairs, opts.adjust, opts.permutations);
                // The raw figures read the values as counted (the same pairs of days).
                if let (Some(x), Some(y)) = (s.ai_counted.get(i), s.outcome_counted.get(j)) {
                    if let Ok(counted) = pair(x, y, lag) {
                        a.raw_pearson = crate::stats::correlation::pearson(&counted.x, &counted.y);
                        a.raw_spearman =
                            crate::stats::correlation::spearman(&counted.x, &counted.y);
                    }
                }
                let is_primary = *ai_name == opts.primary.ai_series
                    && *out_name == opts.primary.outcome_series
                    && lag == opts.primary.lag;
                out.push(Association {
                    repo: repo.to_string(),
                    ai_series: ai_name.to_string(),
                    outcome_series: out_name.to_string(),
                    lag,
                    role: if is_primary {
                        Role::Primary
                    } else {
                        Role::Exploratory
                    },
                    n: a.n,
                    q: a.q,
                    df: a.df,
                    low_sample: a.n < MIN_INFERENCE_DAYS,
                    pearson: PearsonOut {
                        r: a.pearson.r,
                        p_value: a.pearson.p_value,
                        ci_low: a.pearson.ci_low,
                        ci_high: a.pearson.ci_high,
                        reason: a.pearson.reason,
                    },
                    spearman: SpearmanOut {
                        r: a.spearman.r,
                        p_value: a.spearman.p_value,
                        reason: a.spearman.reason,
                    },
                    permutation_p: a.permutation_p,
                    raw: RawOut {
                        pearson_r: a.raw_pearson.r,
                        pearson_p: a.raw_pearson.p_value,
                        spearman_r: a.raw_spearman.r,
                        spearman_p: a.raw_spearman.p_value,
                    },
                    adjusted_p: Adjusted::default(),
                    significant: Significant::default(),
                });
            }
        }
    }
    out
}

/// Applies the two-step multiple-comparison procedure (serial gatekeeping):
///
/// 1. The primary family: each repo's primary partial Pearson test, BH across repos at `q`.
/// 2. The exploratory family: every other Pearson and Spearman test that is not low-sample and
///    has a p-value, BH at `q`; a test's adjusted p is then raised to its repo's primary adjusted
///    p, so an exploratory result is significant only when the repo's primary question is.
///
/// Under no association at all, the chance of any significant result is at most q.
pub fn adjust(assocs: &mut [Association], q: f64) -> MultipleComparison {
    // (index, is_pearson, p)
    let mut primary: Vec<(usize, bool, f64)> = Vec::new();
    let mut family: Vec<(usize, bool, f64)> = Vec::new();
    let mut low = 0;
    let mut undefined = 0;
    for (i, a) in assocs.iter().enumerate() {
        for (is_pearson, p) in [(true, a.pearson.p_value), (false, a.spearman.p_value)] {
            if a.low_sample {
                low += 1;
            } else if let Some(p) = p.filter(|p| (0.0..=1.0).contains(p)) {
                if a.role == Role::Primary && is_pearson {
                    primary.push((i, is_pearson, p));
                } else {
                    family.push((i, is_pearson, p));
                }
            } else {
                undefined += 1;
            }
        }
    }
    let set = |assocs: &mut [Association], tests: &[(usize, bool, f64)], adjusted: &[f64]| {
        for (&(i, is_pearson, _), &adj) in tests.iter().zip(adjusted) {
            if let Some(a) = assocs.get_mut(i) {
                let sig = adj <= q;
                if is_pearson {
                    a.adjusted_p.pearson = Some(adj);
                    a.significant.pearson = sig;
                } else {
                    a.adjusted_p.spearman = Some(adj);
                    a.significant.spearman = sig;
                }
            }
        }
    };
    let ps: Vec<f64> = primary.iter().map(|f| f.2).collect();
    let primary_adj = bh_family(&ps, q).map(|b| b.adjusted).unwrap_or_default();
    set(assocs, &primary, &primary_adj);
    // The gate of each repo: its primary adjusted p (1 when the primary was not tested).
    let gate = |repo: &str, assocs: &[Association]| -> f64 {
        assocs
            .iter()
            .find(|a| a.repo == repo && a.role == Role::Primary)
            .and_then(|a| a.adjusted_p.pearson)
            .unwrap_or(1.0)
    };
    let ps: Vec<f64> = family.iter().map(|f| f.2).collect();
    let bh = bh_family(&ps, q).map(|b| b.adjusted).unwrap_or_default();
    let gated: Vec<f64> = family
        .iter()
        .zip(&bh)
        .map(|(&(i, _, _), &adj)| {
            let g = assocs.get(i).map_or(1.0, |a| gate(&a.repo, assocs));
            adj.max(g)
        })
        .collect();
    set(assocs, &family, &gated);
    let hypotheses: BTreeSet<usize> = primary.iter().chain(&family).map(|f| f.0).collect();
    let significant = assocs
        .iter()
        .map(|a| usize::from(a.significant.pearson) + usize::from(a.significant.spearman))
        .sum();
    MultipleComparison {
        method: "serial gatekeeping: the primary test (Benjamini–Hochberg across repos), then Benjamini–Hochberg over the exploratory tests, each adjusted p raised to its repo's primary adjusted p".into(),
        q,
        m: primary.len() + family.len(),
        primary_m: primary.len(),
        hypotheses: hypotheses.len(),
        tests: vec![
            "associations[].pearson.p_value".into(),
            "associations[].spearman.p_value".into(),
        ],
        excluded_low_sample: low,
        excluded_undefined: undefined,
        significant,
        significant_hypotheses: assocs
            .iter()
            .filter(|a| a.significant.pearson || a.significant.spearman)
            .count(),
    }
}

/// The headline of one repo from its adjusted associations (call after [`adjust`]).
pub fn primary(repo: &str, assocs: &[Association], spec: &PrimarySpec) -> Primary {
    let a = assocs
        .iter()
        .find(|a| a.repo == repo && a.role == Role::Primary);
    let n = a.map_or(0, |a| a.n);
    let q = a.map_or(0, |a| a.q);
    let inference = if n >= MIN_INFERENCE_DAYS && a.and_then(|a| a.pearson.r).is_some() {
        Inference::Tested
    } else {
        Inference::Insufficient
    };
    let mut p = Primary {
        repo: repo.to_string(),
        question: spec.to_string(),
        ai_series: spec.ai_series.clone(),
        outcome_series: spec.outcome_series.clone(),
        lag: spec.lag,
        n,
        q,
        r: a.and_then(|a| a.pearson.r),
        ci_low: a.and_then(|a| a.pearson.ci_low),
        ci_high: a.and_then(|a| a.pearson.ci_high),
        p_value: a.and_then(|a| a.pearson.p_value),
        adjusted_p: a.and_then(|a| a.adjusted_p.pearson),
        significant: a.is_some_and(|a| a.significant.pearson),
        low_sample: a.is_none_or(|a| a.low_sample),
        detectable_r: detectable_r(n.saturating_sub(q)),
        inference,
        statement: String::new(),
        reason: a.and_then(|a| a.pearson.reason.clone()),
    };
    p.statement = statement(&p);
    p
}

fn statement(p: &Primary) -> String {
    let what = format!(
        "{} on day d vs {} on day d+{}",
        p.ai_series, p.outcome_series, p.lag
    );
    if p.inference == Inference::Insufficient {
        return match p.r {
            Some(r) => format!(
                "Not enough data: {} paired days (fewer than {MIN_INFERENCE_DAYS}) are too few to infer anything about {what}; adjusted r = {r:.2} is descriptive only",
                p.n
            ),
            None => format!(
                "Not enough data: {} paired days for {what}{}",
                p.n,
                p.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        };
    }
    let (Some(r), Some(adj)) = (p.r, p.adjusted_p) else {
        return format!(
            "{what}: no test ({})",
            p.reason.as_deref().unwrap_or("undefined")
        );
    };
    let ci = match (p.ci_low, p.ci_high) {
        (Some(l), Some(h)) => format!(", 95 % CI {l:.2} to {h:.2}"),
        _ => String::new(),
    };
    let detect = p
        .detectable_r
        .map(|d| {
            format!(
                "; with {} days only |r| ≥ {d:.2} would be detected reliably",
                p.n
            )
        })
        .unwrap_or_default();
    if p.significant {
        format!(
            "{what}: adjusted r = {r:.2}{ci}, n = {}, adjusted p = {adj:.2e}: an association beyond weekday rhythm and trend (not proof of cause)",
            p.n
        )
    } else {
        format!(
            "{what}: adjusted r = {r:.2}{ci}, n = {}, adjusted p = {adj:.2}: no association found{detect}",
            p.n
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::input::{CommitRow, TraceRow};
    use chrono::{DateTime, NaiveDate, Utc};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn opts(max_lag: usize, business_days: bool) -> AssociationOptions {
        AssociationOptions {
            adjust: Adjust::Calendar,
            permutations: 0,
            max_lag,
            business_days,
            holidays: BTreeSet::new(),
            primary: PrimarySpec::default(),
            q: 0.05,
        }
    }

    fn series_of(
        data: &RepoData,
        w: &DayWindow,
        tz: Tz,
        business: bool,
    ) -> Result<RepoSeries, StatsError> {
        let agg = TraceAggregate::from_rows(&data.traces, tz);
        // Unadjusted options keep the values as counted (no log scale).
        let o = AssociationOptions {
            adjust: Adjust::None,
            ..opts(3, business)
        };
        repo_series(data, &agg, w, tz, &o)
    }

    #[test]
    fn calendar_adjustment_reads_series_on_the_log_scale() {
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-02")).unwrap();
        let data = RepoData {
            repo: "a/b".into(),
            traces: vec![TraceRow {
                timestamp: at("2025-10-01T10:00:00Z"),
                tokens: 4000,
                cost_usd: Some(0.5),
                ..TraceRow::default()
            }],
            ..RepoData::default()
        };
        let agg = TraceAggregate::from_rows(&data.traces, chrono_tz::UTC);
        let s = repo_series(&data, &agg, &w, chrono_tz::UTC, &opts(3, false)).unwrap();
        assert_eq!(s.ai[0].values(), &[2f64.ln(), 0.0]);
        assert!((s.ai[2].values()[0] - 5f64.ln()).abs() < 1e-12);
        assert!((s.ai[3].values()[0] - 51f64.ln()).abs() < 1e-12);
        assert_eq!(s.outcome[2].observed_days(), 0);
    }

    #[test]
    fn raw_figures_read_the_counted_values() {
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-28")).unwrap();
        let draws: Vec<usize> = {
            let mut r = crate::sample::Rng::new(5);
            (0..56).map(|_| r.range(1, 40) as usize).collect()
        };
        let data = counted(28, |i| (draws[i], draws[i + 28]));
        let agg = TraceAggregate::from_rows(&data.traces, chrono_tz::UTC);
        let s = repo_series(&data, &agg, &w, chrono_tz::UTC, &opts(3, false)).unwrap();
        let a = associations("a/b", &s, &opts(3, false));
        let x = &a[1]; // requests vs commits, lag 1
        assert_eq!(
            (x.ai_series.as_str(), x.outcome_series.as_str(), x.lag),
            ("requests", "commits", 1)
        );
        let p = pair(&s.ai_counted[0], &s.outcome_counted[0], 1).unwrap();
        assert_eq!(p.x[0], draws[0] as f64, "counted, not log");
        let want = crate::stats::correlation::pearson(&p.x, &p.y);
        assert_eq!(x.raw.pearson_r, want.r);
        assert_eq!(x.raw.pearson_p, want.p_value);
        let logged = pair(&s.ai[0], &s.outcome[0], 1).unwrap();
        assert!((logged.x[0] - (draws[0] as f64).ln_1p()).abs() < 1e-12);
    }

    #[test]
    fn span_runs_over_days_both_sources_cover() {
        use crate::metrics::input::Coverage;
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-31")).unwrap();
        let mut data = RepoData {
            repo: "a/b".into(),
            coverage: Some(Coverage {
                trace_first: Some(at("2025-09-20T10:00:00Z")),
                trace_last: Some(at("2025-10-20T10:00:00Z")),
                github_first: Some(at("2025-10-03T10:00:00Z")),
                github_last: Some(at("2025-10-10T10:00:00Z")),
                github_last_sync: Some(at("2025-10-25T10:00:00Z")),
            }),
            ..RepoData::default()
        };
        let span = coverage_window(&data, &w, chrono_tz::UTC).unwrap();
        assert_eq!(
            (span.since(), span.until()),
            (d("2025-10-03"), d("2025-10-20"))
        );
        data.coverage = Some(Coverage {
            github_first: None,
            ..data.coverage.unwrap()
        });
        assert_eq!(coverage_window(&data, &w, chrono_tz::UTC), None);
        data.coverage = None;
        assert_eq!(coverage_window(&data, &w, chrono_tz::UTC), Some(w));
    }

    #[test]
    fn primary_spec_parses_and_names_what_is_wrong() {
        let p: PrimarySpec = "sessions:merged_prs:2".parse().unwrap();
        assert_eq!(p.to_string(), "sessions:merged_prs:2");
        assert!("requests:commits"
            .parse::<PrimarySpec>()
            .unwrap_err()
            .contains("AI:OUTCOME:LAG"));
        assert!("calls:commits:1"
            .parse::<PrimarySpec>()
            .unwrap_err()
            .contains("calls"));
        assert!("requests:lines:1"
            .parse::<PrimarySpec>()
            .unwrap_err()
            .contains("lines"));
        assert!("requests:commits:x"
            .parse::<PrimarySpec>()
            .unwrap_err()
            .contains("lag"));
    }

    #[test]
    fn series_are_calendar_complete_and_timezone_bucketed() {
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-04")).unwrap();
        let data = RepoData {
            repo: "a/b".into(),
            traces: vec![TraceRow {
                timestamp: at("2025-10-01T23:30:00Z"),
                session: Some("s".into()),
                tokens: 7,
                ..TraceRow::default()
            }],
            commits: vec![CommitRow {
                author: None,
                authored_at: at("2025-10-03T12:00:00Z"),
            }],
            ..RepoData::default()
        };
        let utc = series_of(&data, &w, chrono_tz::UTC, false).unwrap();
        assert_eq!(utc.ai[0].values(), &[1.0, 0.0, 0.0, 0.0]);
        assert_eq!(utc.ai[2].values(), &[7.0, 0.0, 0.0, 0.0]);
        assert_eq!(utc.outcome[0].values(), &[0.0, 0.0, 1.0, 0.0]);
        let berlin = series_of(&data, &w, chrono_tz::Europe::Berlin, false).unwrap();
        assert_eq!(berlin.ai[0].values(), &[0.0, 1.0, 0.0, 0.0]);
        // 2025-10-04 is a Saturday.
        let business = series_of(&data, &w, chrono_tz::UTC, true).unwrap();
        assert_eq!(business.ai[0].values().len(), 3);
    }

    #[test]
    fn constant_series_give_null_r_with_reason_and_stay_out_of_the_family() {
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-10")).unwrap();
        let long = DayWindow::new(d("2025-10-01"), d("2025-10-31")).unwrap();
        let empty = RepoData {
            repo: "a/b".into(),
            ..RepoData::default()
        };
        let s = series_of(&empty, &long, chrono_tz::UTC, false).unwrap();
        let mut a = associations("a/b", &s, &opts(3, false));
        let mc = adjust(&mut a, 0.05);
        // 31 days: counts are constant (undefined); the median merge time has no day (n = 0).
        assert_eq!(
            (mc.m, mc.excluded_low_sample, mc.excluded_undefined),
            (0, 32, 64)
        );
        let data = RepoData {
            repo: "a/b".into(),
            ..RepoData::default()
        };
        let s = series_of(&data, &w, chrono_tz::UTC, false).unwrap();
        let mut a = associations("a/b", &s, &opts(3, false));
        assert_eq!(a.len(), 4 * 3 * 4);
        assert!(a
            .iter()
            .all(|x| x.pearson.r.is_none() && x.pearson.reason.is_some()));
        assert_eq!(a[3].n, 7);
        let mc = adjust(&mut a, 0.05);
        assert_eq!(mc.m, 0);
        // Ten days give fewer than 20 pairs: every test is a low sample, listed and not tested.
        assert_eq!(mc.excluded_low_sample, 96);
        assert_eq!(mc.excluded_undefined, 0);
    }

    fn counted(days: usize, per_day: impl Fn(usize) -> (usize, usize)) -> RepoData {
        let start = at("2025-10-01T10:00:00Z");
        let mut data = RepoData {
            repo: "a/b".into(),
            ..RepoData::default()
        };
        for i in 0..days {
            let (calls, commits) = per_day(i);
            let t = start + chrono::Duration::days(i as i64);
            for _ in 0..calls {
                data.traces.push(TraceRow {
                    timestamp: t,
                    ..TraceRow::default()
                });
            }
            for _ in 0..commits {
                data.commits.push(CommitRow {
                    author: None,
                    authored_at: t,
                });
            }
        }
        data
    }

    #[test]
    fn low_samples_are_excluded_from_bh() {
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-22")).unwrap();
        let data = counted(22, |i| {
            let n = [1, 4, 2, 8, 5, 7, 3, 6][i % 8] + i % 3;
            (n, n)
        });
        let s = series_of(&data, &w, chrono_tz::UTC, false).unwrap();
        let unadjusted = AssociationOptions {
            adjust: Adjust::None,
            primary: PrimarySpec {
                lag: 0,
                ..PrimarySpec::default()
            },
            ..opts(3, false)
        };
        let mut a = associations("a/b", &s, &unadjusted);
        let mc = adjust(&mut a, 0.05);
        // 22 days: lags 0, 1, 2 have 22, 21, 20 pairs; lag 3 has 19 (< 20): listed, not tested.
        let lag3 = a
            .iter()
            .find(|x| x.lag == 3 && x.outcome_series == "commits")
            .unwrap();
        assert!(lag3.low_sample && lag3.adjusted_p.pearson.is_none());
        assert!(lag3.pearson.r.is_some(), "descriptive figures stay");
        let lag0 = a
            .iter()
            .find(|x| x.lag == 0 && x.ai_series == "requests" && x.outcome_series == "commits")
            .unwrap();
        assert_eq!(lag0.role, Role::Primary);
        assert_eq!(lag0.pearson.r, Some(1.0));
        assert!(lag0.significant.pearson);
        assert!(mc.m > 0 && mc.excluded_low_sample > 0 && mc.primary_m == 1);
        let p = primary("a/b", &a, &unadjusted.primary);
        assert_eq!(p.inference, Inference::Tested);
        assert!(p.significant && p.detectable_r.is_some());
    }

    #[test]
    fn exploratory_results_need_the_primary_question_to_pass() {
        // Commits follow calls of the same day exactly; the primary question (lag 1) has nothing.
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-28")).unwrap();
        let draws: Vec<usize> = {
            let mut r = crate::sample::Rng::new(11);
            (0..28).map(|_| r.range(1, 30) as usize).collect()
        };
        let data = counted(28, |i| (draws[i], draws[i]));
        let s = series_of(&data, &w, chrono_tz::UTC, false).unwrap();
        let o = AssociationOptions {
            adjust: Adjust::None,
            ..opts(3, false)
        };
        let mut a = associations("a/b", &s, &o);
        let mc = adjust(&mut a, 0.05);
        let lag0 = a
            .iter()
            .find(|x| x.lag == 0 && x.ai_series == "requests" && x.outcome_series == "commits")
            .unwrap();
        assert_eq!(lag0.pearson.r, Some(1.0));
        let p = primary("a/b", &a, &o.primary);
        assert!(!p.significant, "{p:?}");
        // The gate is closed: even r = 1 is not called significant, and its adjusted p says why.
        assert!(!lag0.significant.pearson);
        assert_eq!(lag0.adjusted_p.pearson, p.adjusted_p);
        assert_eq!(mc.significant, 0);
    }

    #[test]
    fn fewer_than_20_paired_days_is_insufficient() {
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-14")).unwrap();
        let data = counted(14, |i| (i % 5 + 1, i % 4));
        let s = series_of(&data, &w, chrono_tz::UTC, false).unwrap();
        let mut a = associations("a/b", &s, &opts(3, false));
        adjust(&mut a, 0.05);
        let p = primary("a/b", &a, &PrimarySpec::default());
        assert_eq!(
            (p.inference, p.n, p.significant),
            (Inference::Insufficient, 13, false)
        );
        assert!(
            p.statement.starts_with("Not enough data"),
            "{}",
            p.statement
        );
    }
}
