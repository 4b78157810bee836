//! Indicators 12 and 13: AI → outcome associations over lagged, calendar-complete daily series,
//! and the Benjamini–Hochberg adjustment over every test actually run.

use chrono_tz::Tz;
use serde::Serialize;

use super::aggregate::TraceAggregate;
use super::delivery::merge_hours;
use super::input::RepoData;
use crate::stats::calendar::{local_day, DayWindow};
use crate::stats::lagged::{lagged_association, DailySeries};
use crate::stats::multiple::bh_family;
use crate::stats::StatsError;

/// Stable names of the AI series.
pub const AI_SERIES: [&str; 4] = ["requests", "sessions", "tokens", "cost_usd"];
/// Stable names of the outcome series.
pub const OUTCOME_SERIES: [&str; 3] = ["commits", "merged_prs", "median_merge_hours"];

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
    /// Number of pairs.
    pub n: usize,
    /// Fewer than 6 pairs: not in the BH family.
    pub low_sample: bool,
    /// Pearson r, p and CI.
    pub pearson: PearsonOut,
    /// Spearman ρ and p.
    pub spearman: SpearmanOut,
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
    /// Family size.
    pub m: usize,
    /// Which tests are in the family.
    pub tests: Vec<String>,
    /// Tests excluded as low samples.
    pub excluded_low_sample: usize,
    /// Tests excluded because p was undefined (e.g. a constant series).
    pub excluded_undefined: usize,
    /// Number significant after adjustment.
    pub significant: usize,
}

/// The calendar-complete daily series of one repo.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoSeries {
    /// AI series in [`AI_SERIES`] order.
    pub ai: Vec<DailySeries>,
    /// Outcome series in [`OUTCOME_SERIES`] order.
    pub outcome: Vec<DailySeries>,
}

fn series(
    window: &DayWindow,
    business: bool,
    points: Vec<(chrono::NaiveDate, f64)>,
) -> Result<DailySeries, StatsError> {
    let s = DailySeries::complete(window, points)?;
    Ok(if business { s.business_days_only() } else { s })
}

/// Builds every series of one repo over the window (zero days included).
pub fn repo_series(
    data: &RepoData,
    agg: &TraceAggregate,
    window: &DayWindow,
    tz: Tz,
    business: bool,
) -> Result<RepoSeries, StatsError> {
    let mut requests = Vec::with_capacity(agg.cells.len());
    let mut tokens = Vec::with_capacity(agg.cells.len());
    let mut cost = Vec::new();
    for c in &agg.cells {
        let day = c.slot.day;
        requests.push((day, c.counts.requests as f64));
        tokens.push((day, c.counts.tokens as f64));
        if c.counts.known_cost_calls() > 0 {
            cost.push((day, c.counts.cost_usd));
        }
    }
    let sessions = agg
        .sessions_per_day()
        .into_iter()
        .map(|(d, n)| (d, n as f64))
        .collect();
    let commits = data
        .commits
        .iter()
        .map(|c| (local_day(c.authored_at, tz), 1.0))
        .collect();
    let mut merged = Vec::new();
    let mut hours_by_day: std::collections::BTreeMap<chrono::NaiveDate, Vec<f64>> =
        Default::default();
    for p in &data.pulls {
        if let Some(m) = p.merged_at {
            let day = local_day(m, tz);
            merged.push((day, 1.0));
            if let Some(h) = merge_hours(p) {
                hours_by_day.entry(day).or_default().push(h);
            }
        }
    }
    let medians = hours_by_day
        .into_iter()
        .filter_map(|(d, h)| {
            crate::stats::quantile::percentile(&h, 50.0)
                .ok()
                .flatten()
                .map(|m| (d, m))
        })
        .collect();
    Ok(RepoSeries {
        ai: vec![
            series(window, business, requests)?,
            series(window, business, sessions)?,
            series(window, business, tokens)?,
            series(
                window,
                business,
                cost.into_iter().filter(|p| p.1.is_finite()).collect(),
            )?,
        ],
        outcome: vec![
            series(window, business, commits)?,
            series(window, business, merged)?,
            series(window, business, medians)?,
        ],
    })
}

/// Computes every association of one repo for lags 0..=max_lag (BH fields left empty).
pub fn associations(repo: &str, s: &RepoSeries, max_lag: usize) -> Vec<Association> {
    let mut out = Vec::new();
    for (ai_name, ai) in AI_SERIES.iter().zip(&s.ai) {
        for (out_name, outcome) in OUTCOME_SERIES.iter().zip(&s.outcome) {
            for lag in 0..=max_lag {
                let Ok(a) = lagged_association(ai, outcome, lag) else {
                    continue;
                };
                out.push(Association {
                    repo: repo.to_string(),
                    ai_series: ai_name.to_string(),
                    outcome_series: out_name.to_string(),
                    lag,
                    n: a.n,
                    low_sample: a.low_sample,
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
                    adjusted_p: Adjusted::default(),
                    significant: Significant::default(),
                });
            }
        }
    }
    out
}

/// Applies BH over every Pearson and Spearman test that is not low-sample and has a p-value.
pub fn adjust(assocs: &mut [Association], q: f64) -> MultipleComparison {
    // (index, is_pearson, p)
    let mut family: Vec<(usize, bool, f64)> = Vec::new();
    let mut low = 0;
    let mut undefined = 0;
    for (i, a) in assocs.iter().enumerate() {
        for (is_pearson, p) in [(true, a.pearson.p_value), (false, a.spearman.p_value)] {
            if a.low_sample {
                low += 1;
            } else if let Some(p) = p.filter(|p| (0.0..=1.0).contains(p)) {
                family.push((i, is_pearson, p));
            } else {
                undefined += 1;
            }
        }
    }
    let ps: Vec<f64> = family.iter().map(|f| f.2).collect();
    let mut significant = 0;
    if let Ok(bh) = bh_family(&ps, q) {
        for (k, &(i, is_pearson, _)) in family.iter().enumerate() {
            let (adj, sig) = (bh.adjusted[k], bh.significant[k]);
            significant += usize::from(sig);
            if let Some(a) = assocs.get_mut(i) {
                if is_pearson {
                    a.adjusted_p.pearson = Some(adj);
                    a.significant.pearson = sig;
                } else {
                    a.adjusted_p.spearman = Some(adj);
                    a.significant.spearman = sig;
                }
            }
        }
    }
    MultipleComparison {
        method: "benjamini-hochberg".into(),
        q,
        m: family.len(),
        tests: vec![
            "associations[].pearson.p_value".into(),
            "associations[].spearman.p_value".into(),
        ],
        excluded_low_sample: low,
        excluded_undefined: undefined,
        significant,
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

    fn series_of(
        data: &RepoData,
        w: &DayWindow,
        tz: Tz,
        business: bool,
    ) -> Result<RepoSeries, StatsError> {
        let agg = TraceAggregate::from_rows(&data.traces, tz);
        repo_series(data, &agg, w, tz, business)
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
        let data = RepoData {
            repo: "a/b".into(),
            ..RepoData::default()
        };
        let s = series_of(&data, &w, chrono_tz::UTC, false).unwrap();
        let mut a = associations("a/b", &s, 3);
        assert_eq!(a.len(), 4 * 3 * 4);
        assert!(a
            .iter()
            .all(|x| x.pearson.r.is_none() && x.pearson.reason.is_some()));
        assert_eq!(a[3].n, 7);
        let mc = adjust(&mut a, 0.05);
        assert_eq!(mc.m, 0);
        assert_eq!(mc.excluded_undefined, 96);
    }

    #[test]
    fn low_samples_are_excluded_from_bh() {
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-08")).unwrap();
        let mut data = RepoData {
            repo: "a/b".into(),
            ..RepoData::default()
        };
        for (i, n) in [1, 4, 2, 8, 5, 7, 3, 6].iter().enumerate() {
            for _ in 0..*n {
                data.traces.push(TraceRow {
                    timestamp: at(&format!("2025-10-0{}T10:00:00Z", i + 1)),
                    ..TraceRow::default()
                });
                data.commits.push(CommitRow {
                    author: None,
                    authored_at: at(&format!("2025-10-0{}T11:00:00Z", i + 1)),
                });
            }
        }
        let s = series_of(&data, &w, chrono_tz::UTC, false).unwrap();
        let mut a = associations("a/b", &s, 3);
        let mc = adjust(&mut a, 0.05);
        // requests/tokens vs commits at lags 0,1,2 have n ≥ 6 (8, 7, 6); lag 3 has n = 5.
        let lag3 = a
            .iter()
            .find(|x| x.lag == 3 && x.outcome_series == "commits")
            .unwrap();
        assert!(lag3.low_sample && lag3.adjusted_p.pearson.is_none());
        let lag0 = a
            .iter()
            .find(|x| x.lag == 0 && x.ai_series == "requests" && x.outcome_series == "commits")
            .unwrap();
        assert_eq!(lag0.pearson.r, Some(1.0));
        assert!(lag0.adjusted_p.pearson.is_some());
        assert!(mc.m > 0 && mc.excluded_low_sample > 0);
    }
}
