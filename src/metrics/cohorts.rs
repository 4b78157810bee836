//! AI-assisted vs other merged pull requests: two groups compared on merge hours, PR size and
//! rework, with effect sizes, and a within-developer comparison so that "the fast developers use
//! AI" is not read as "AI makes PRs fast". Pure; the statistics are in [`crate::stats::cohort`].
//!
//! - Continuous outcomes (merge hours = created → merged; size = additions + deletions): medians
//!   and n of both groups, Mann–Whitney U two-sided p (as scipy's `mannwhitneyu` default), the
//!   Hodges–Lehmann shift (assisted − other) with its distribution-free 95 % CI, Cliff's delta,
//!   and the ratio of medians with a percentile-bootstrap 95 % CI (2 000 resamples, fixed seed).
//! - Rework (reverted within 21 days or reopened before merge): both rates, their difference with
//!   a Newcombe (hybrid score) 95 % CI, and Fisher's exact two-sided p.
//! - Within developer (continuous outcomes): only developers with PRs in both groups, one
//!   stratum each; van Elteren-weighted stratified statistic with a permutation p (labels
//!   shuffled within each developer, 9 999 times, fixed seed) and its normal approximation.
//! - `low_sample` when either group has fewer than 5 PRs. Every p (main and within-developer)
//!   joins one Benjamini–Hochberg family at q = 0.05, separate from the daily associations.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::stats::cohort::{
    cliffs_delta, compare_rates, hodges_lehmann, low_sample, mann_whitney_u, median_ratio,
    stratified_comparison, CliffsDelta, HodgesLehmann, MedianRatio, RateComparison, Stratified,
};
use crate::stats::multiple::bh_family;
use crate::stats::quantile::percentile;

/// One merged PR as the comparison reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct CohortPr {
    /// Repo.
    pub repo: String,
    /// Author (linked person).
    pub author: Option<String>,
    /// Hours from creation to merge.
    pub merge_hours: f64,
    /// Additions + deletions, when known.
    pub size: Option<f64>,
    /// Reverted within 21 days or reopened before merge.
    pub rework: bool,
    /// AI-assisted (by the attribution rule).
    pub ai_assisted: bool,
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// PRs.
    pub n: usize,
    /// Median (continuous outcomes).
    pub median: Option<f64>,
    /// Share with the event (rework).
    pub rate: Option<f64>,
}

/// Effect sizes of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    /// Hodges–Lehmann shift (assisted − other) with its 95 % CI.
    pub hodges_lehmann: Option<HodgesLehmann>,
    /// Cliff's delta (assisted vs other).
    pub cliffs_delta: Option<CliffsDelta>,
    /// Ratio of medians (assisted / other) with a bootstrap 95 % CI.
    pub median_ratio: Option<MedianRatio>,
    /// Rates, difference with a Newcombe 95 % CI, Fisher's test (rework).
    pub rates: Option<RateComparison>,
}

/// AI-assisted vs other merged PRs on one outcome, for one repo or `all`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cohort {
    /// Repo, or `all` for every repo together.
    pub repo: String,
    /// `merge_hours`, `size` or `rework`.
    pub outcome: String,
    /// AI-assisted merged PRs.
    pub assisted: Group,
    /// The other merged PRs.
    pub other: Group,
    /// The test behind `p_value`.
    pub test: String,
    /// Two-sided p.
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg adjusted p (the cohort family).
    pub adjusted_p: Option<f64>,
    /// Adjusted p ≤ q.
    pub significant: bool,
    /// Effect sizes.
    pub effect: Effect,
    /// The comparison within developers who have both kinds of PR.
    pub within_developer: Option<Stratified>,
    /// Its adjusted p (permutation p in the family).
    pub within_developer_adjusted_p: Option<f64>,
    /// Either group has fewer than 5 PRs.
    pub low_sample: bool,
    /// Why a figure is missing, if one is.
    pub reason: Option<String>,
}

/// The cohort family's multiple-comparison summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortFamily {
    /// `benjamini-hochberg`.
    pub method: String,
    /// False-discovery rate.
    pub q: f64,
    /// p-values in the family.
    pub m: usize,
    /// Significant after adjustment.
    pub significant: usize,
}

fn median(v: &[f64]) -> Option<f64> {
    percentile(v, 50.0).ok().flatten()
}

fn continuous(
    repo: &str,
    outcome: &str,
    prs: &[&CohortPr],
    value: impl Fn(&CohortPr) -> Option<f64>,
) -> Cohort {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let mut strata: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for p in prs {
        let Some(v) = value(p).filter(|v| v.is_finite()) else {
            continue;
        };
        if p.ai_assisted {
            x.push(v);
        } else {
            y.push(v);
        }
        if let Some(a) = &p.author {
            let s = strata.entry(a.to_lowercase()).or_default();
            if p.ai_assisted {
                s.0.push(v);
            } else {
                s.1.push(v);
            }
        }
    }
    let mw = mann_whitney_u(&x, &y);
    let both: Vec<(Vec<f64>, Vec<f64>)> = strata
        .into_values()
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
        .collect();
    let within = (!both.is_empty()).then(|| {
        stratified_comparison(
            &both,
            crate::stats::cohort::stratified::DEFAULT_PERMUTATIONS,
            crate::stats::cohort::stratified::PERMUTATION_SEED,
        )
    });
    Cohort {
        repo: repo.to_string(),
        outcome: outcome.to_string(),
        assisted: Group {
            n: x.len(),
            median: median(&x),
            rate: None,
        },
        other: Group {
            n: y.len(),
            median: median(&y),
            rate: None,
        },
        test: "Mann-Whitney U, two-sided (scipy.stats.mannwhitneyu default method)".into(),
        p_value: mw.p_value,
        adjusted_p: None,
        significant: false,
        effect: Effect {
            hodges_lehmann: Some(hodges_lehmann(&x, &y)),
            cliffs_delta: Some(cliffs_delta(&x, &y)),
            median_ratio: Some(median_ratio(&x, &y)),
            rates: None,
        },
        within_developer: within,
        within_developer_adjusted_p: None,
        low_sample: low_sample(x.len(), y.len()),
        reason: mw.reason,
    }
}

fn rework(repo: &str, prs: &[&CohortPr]) -> Cohort {
    let count = |ai: bool| {
        let g: Vec<_> = prs.iter().filter(|p| p.ai_assisted == ai).collect();
        (g.iter().filter(|p| p.rework).count() as u64, g.len() as u64)
    };
    let ((ex, nx), (ey, ny)) = (count(true), count(false));
    let rates = compare_rates(ex, nx, ey, ny);
    Cohort {
        repo: repo.to_string(),
        outcome: "rework".into(),
        assisted: Group {
            n: nx as usize,
            median: None,
            rate: rates.rate_x,
        },
        other: Group {
            n: ny as usize,
            median: None,
            rate: rates.rate_y,
        },
        test: "Fisher's exact test, two-sided (scipy.stats.fisher_exact)".into(),
        p_value: rates.fisher.as_ref().map(|f| f.p_value),
        adjusted_p: None,
        significant: false,
        reason: rates.reason.clone(),
        effect: Effect {
            hodges_lehmann: None,
            cliffs_delta: None,
            median_ratio: None,
            rates: Some(rates),
        },
        within_developer: None,
        within_developer_adjusted_p: None,
        low_sample: low_sample(nx as usize, ny as usize),
    }
}

/// Compares AI-assisted with other merged PRs per repo and for all repos together (when there
/// are several), then adjusts every p in one BH family at `q`.
pub fn compare(prs: &[CohortPr], q: f64) -> (Vec<Cohort>, CohortFamily) {
    let mut repos: BTreeMap<&str, Vec<&CohortPr>> = BTreeMap::new();
    for p in prs {
        repos.entry(p.repo.as_str()).or_default().push(p);
    }
    let mut groups: Vec<(String, Vec<&CohortPr>)> = repos
        .iter()
        .map(|(r, v)| (r.to_string(), v.clone()))
        .collect();
    if repos.len() > 1 {
        groups.push(("all".into(), prs.iter().collect()));
    }
    let mut out = Vec::new();
    for (repo, v) in &groups {
        out.push(continuous(repo, "merge_hours", v, |p| Some(p.merge_hours)));
        if v.iter().any(|p| p.size.is_some()) {
            out.push(continuous(repo, "size", v, |p| p.size));
        }
        out.push(rework(repo, v));
    }
    // (cohort index, is the within-developer p, p)
    let mut family: Vec<(usize, bool, f64)> = Vec::new();
    for (i, c) in out.iter().enumerate() {
        if let Some(p) = c.p_value.filter(|p| (0.0..=1.0).contains(p)) {
            family.push((i, false, p));
        }
        if let Some(p) = c
            .within_developer
            .as_ref()
            .and_then(|w| w.permutation_p)
            .filter(|p| (0.0..=1.0).contains(p))
        {
            family.push((i, true, p));
        }
    }
    let ps: Vec<f64> = family.iter().map(|f| f.2).collect();
    let mut significant = 0;
    if let Ok(bh) = bh_family(&ps, q) {
        for (k, &(i, within, _)) in family.iter().enumerate() {
            if let Some(c) = out.get_mut(i) {
                if within {
                    c.within_developer_adjusted_p = Some(bh.adjusted[k]);
                } else {
                    c.adjusted_p = Some(bh.adjusted[k]);
                    c.significant = bh.significant[k];
                }
                significant += usize::from(bh.significant[k]);
            }
        }
    }
    let family = CohortFamily {
        method: "benjamini-hochberg over every cohort p (main and within-developer)".into(),
        q,
        m: ps.len(),
        significant,
    };
    (out, family)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pr(repo: &str, author: &str, hours: f64, ai: bool, rework: bool) -> CohortPr {
        CohortPr {
            repo: repo.into(),
            author: Some(author.into()),
            merge_hours: hours,
            size: Some(hours * 10.0),
            rework,
            ai_assisted: ai,
        }
    }

    #[test]
    fn a_planted_effect_is_found_and_none_is_not() {
        let mut prs = Vec::new();
        for i in 0..30 {
            let h = 10.0 + (i * 7 % 13) as f64;
            let who = ["a", "b", "c"][i % 3];
            prs.push(pr("x/y", who, h / 3.0, true, i % 9 == 0));
            prs.push(pr("x/y", who, h, false, i % 4 == 0));
        }
        let (c, fam) = compare(&prs, 0.05);
        let mh = c.iter().find(|c| c.outcome == "merge_hours").unwrap();
        assert!(mh.significant && mh.p_value.unwrap() < 1e-6, "{mh:?}");
        assert_eq!((mh.assisted.n, mh.other.n), (30, 30));
        let hl = mh.effect.hodges_lehmann.as_ref().unwrap().shift.unwrap();
        assert!(hl < 0.0);
        let w = mh.within_developer.as_ref().unwrap();
        assert_eq!(w.strata, 3);
        assert!(mh.within_developer_adjusted_p.unwrap() < 0.05);
        assert!(fam.m >= 5);
        // No effect: the same hours in both groups.
        let same: Vec<CohortPr> = prs
            .iter()
            .map(|p| CohortPr {
                merge_hours: 10.0 + (p.merge_hours * 3.0) % 7.0,
                ..p.clone()
            })
            .collect();
        let flat: Vec<CohortPr> = same
            .iter()
            .enumerate()
            .map(|(i, p)| CohortPr {
                ai_assisted: i % 2 == 0,
                merge_hours: 10.0 + ((i / 2) * 5 % 11) as f64,
                ..p.clone()
            })
            .collect();
        let (c, _) = compare(&flat, 0.05);
        let mh = c.iter().find(|c| c.outcome == "merge_hours").unwrap();
        assert!(!mh.significant, "{mh:?}");
    }

    #[test]
    fn small_groups_are_low_samples_and_repos_get_an_all_row() {
        let prs = [
            pr("a/b", "x", 5.0, true, false),
            pr("a/b", "x", 7.0, false, true),
            pr("c/d", "y", 9.0, false, false),
        ];
        let (c, _) = compare(&prs, 0.05);
        assert!(c.iter().all(|c| c.low_sample));
        assert!(c.iter().any(|c| c.repo == "all"));
        let rw = c
            .iter()
            .find(|c| c.repo == "a/b" && c.outcome == "rework")
            .unwrap();
        assert_eq!((rw.assisted.rate, rw.other.rate), (Some(0.0), Some(1.0)));
    }
}
