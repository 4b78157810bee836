//! A binary outcome (e.g. rework) in two groups: the two rates, the difference of the rates with
//! Newcombe's hybrid score 95 % CI, and Fisher's exact test on the 2×2 table.
//!
//! Table: `[[a, b], [c, d]]` = `[[events_x, n_x − events_x], [events_y, n_y − events_y]]`.
//! - Rates: a/n_x and c/n_y; difference = rate_x − rate_y.
//! - Wilson 95 % interval of k events in n (no continuity correction):
//!   (k + z²/2)/(n + z²) ± z/(n + z²)·√(k(n − k)/n + z²/4); exactly 0 (k = 0) and 1 (k = n) at
//!   the ends.
//! - Newcombe 1998, method 10: with Wilson intervals (l₁, u₁) of rate_x and (l₂, u₂) of rate_y,
//!   CI = (δ − √((p₁ − l₁)² + (u₂ − p₂)²), δ + √((u₁ − p₁)² + (p₂ − l₂)²)), δ = p₁ − p₂.
//! - Fisher's exact test as `scipy.stats.fisher_exact(table)` (scipy 1.17, `_stats_py.py`):
//!   odds ratio = ad/(bc) (the sample odds ratio; infinite when b or c is 0); p = 1 and no odds
//!   ratio when a row or column sum is 0. Otherwise, with the hypergeometric pmf of a
//!   (N = n_x + n_y, K = n_x, draws = a + c), mode = ⌊(draws + 1)(K + 1)/(N + 2)⌋ and
//!   γ = 1 + 10⁻¹⁴: p = 1 when |pmf(a) − pmf(mode)| / max ≤ 10⁻¹⁴; when a < mode,
//!   p = P(X ≤ a) + Σ pmf(x) over x > mode with pmf(x) < pmf(a)·γ; when a > mode,
//!   p = P(X ≥ a) + Σ pmf(x) over x < mode with pmf(x) ≤ pmf(a)·γ; p ≤ 1.
//!   The pmf is built by the ratio recurrence outwards from the mode, so tables that are mirror
//!   images under a symmetric distribution get bit-identical probabilities.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::stats::correlation::CONFIDENCE_LEVEL;

/// Relative tolerance scipy uses when comparing table probabilities.
pub const FISHER_RELATIVE_TOLERANCE: f64 = 1e-14;

/// Rates of an event in two groups, their difference with a Newcombe CI, and Fisher's test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateComparison {
    /// PRs in group x with the event.
    pub events_x: u64,
    /// PRs in group x.
    pub n_x: u64,
    /// PRs in group y with the event.
    pub events_y: u64,
    /// PRs in group y.
    pub n_y: u64,
    /// events_x / n_x, or `None` when n_x = 0.
    pub rate_x: Option<f64>,
    /// events_y / n_y, or `None` when n_y = 0.
    pub rate_y: Option<f64>,
    /// rate_x − rate_y, or `None` when a rate is undefined.
    pub difference: Option<f64>,
    /// Lower bound of Newcombe's hybrid score 95 % CI of the difference.
    pub ci_low: Option<f64>,
    /// Upper bound of Newcombe's hybrid score 95 % CI of the difference.
    pub ci_high: Option<f64>,
    /// Fisher's exact test, two-sided, or `None` when the counts are invalid.
    pub fisher: Option<FisherExact>,
    /// Why some field is `None`; `None` when everything is defined.
    pub reason: Option<String>,
}

/// Fisher's exact test on a 2×2 table, two-sided, as scipy reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FisherExact {
    /// Two-sided p-value.
    pub p_value: f64,
    /// Sample odds ratio ad/(bc), or `None` when undefined or infinite.
    pub odds_ratio: Option<f64>,
    /// True when the odds ratio is infinite (b or c is 0, a·d > 0 or not).
    pub odds_ratio_infinite: bool,
    /// Why `odds_ratio` is `None`; `None` when it is defined.
    pub reason: Option<String>,
}

fn z975() -> f64 {
    Normal::standard().inverse_cdf(0.5 + CONFIDENCE_LEVEL / 2.0)
}

/// Wilson score 95 % interval of `events` in `n` trials; `None` when n = 0 or events > n.
pub fn wilson_interval(events: u64, n: u64) -> Option<(f64, f64)> {
    if n == 0 || events > n {
        return None;
    }
    let (k, nf) = (events as f64, n as f64);
    let z = z975();
    let z2 = z * z;
    let centre = (k + z2 / 2.0) / (nf + z2);
    let half = z / (nf + z2) * (k * (nf - k) / nf + z2 / 4.0).sqrt();
    let lo = if events == 0 { 0.0 } else { centre - half };
    let hi = if events == n { 1.0 } else { centre + half };
    Some((lo, hi))
}

/// Compares the rate of an event in group x (`events_x` of `n_x`) with group y.
pub fn compare_rates(events_x: u64, n_x: u64, events_y: u64, n_y: u64) -> RateComparison {
    let mut out = RateComparison {
        events_x,
        n_x,
        events_y,
        n_y,
        rate_x: None,
        rate_y: None,
        difference: None,
        ci_low: None,
        ci_high: None,
        fisher: None,
        reason: None,
    };
    if events_x > n_x || events_y > n_y {
        out.reason = Some(format!(
            "more events than PRs (x: {events_x} of {n_x}, y: {events_y} of {n_y})"
        ));
        return out;
    }
    let fisher = fisher_exact(events_x, n_x - events_x, events_y, n_y - events_y);
    out.fisher = Some(fisher);
    let (Some(w1), Some(w2)) = (
        wilson_interval(events_x, n_x),
        wilson_interval(events_y, n_y),
    ) else {
        let empty = if n_x == 0 { "x" } else { "y" };
        out.rate_x = (n_x > 0).then(|| events_x as f64 / n_x as f64);
        out.rate_y = (n_y > 0).then(|| events_y as f64 / n_y as f64);
        out.reason = Some(format!("group {empty} is empty: its rate is undefined"));
        return out;
    };
    let (p1, p2) = (events_x as f64 / n_x as f64, events_y as f64 / n_y as f64);
    let delta = p1 - p2;
    out.rate_x = Some(p1);
    out.rate_y = Some(p2);
    out.difference = Some(delta);
    out.ci_low = Some(delta - ((p1 - w1.0).powi(2) + (w2.1 - p2).powi(2)).sqrt());
    out.ci_high = Some(delta + ((w1.1 - p1).powi(2) + (p2 - w2.0).powi(2)).sqrt());
    out
}

/// Fisher's exact test on `[[a, b], [c, d]]`, two-sided, as `scipy.stats.fisher_exact`.
pub fn fisher_exact(a: u64, b: u64, c: u64, d: u64) -> FisherExact {
    let (row1, row2, col1, col2) = (a + b, c + d, a + c, b + d);
    if row1 == 0 || row2 == 0 || col1 == 0 || col2 == 0 {
        return FisherExact {
            p_value: 1.0,
            odds_ratio: None,
            odds_ratio_infinite: false,
            reason: Some("a row or column of the table is empty: odds ratio undefined".into()),
        };
    }
    let infinite = b == 0 || c == 0;
    let odds_ratio =
        (!infinite).then(|| (a as u128 * d as u128) as f64 / (c as u128 * b as u128) as f64);
    FisherExact {
        p_value: fisher_two_sided(a, row1, row2, col1),
        odds_ratio,
        odds_ratio_infinite: infinite,
        reason: infinite.then(|| "odds ratio is infinite (a zero off-diagonal cell)".into()),
    }
}

/// scipy's two-sided p for `a` in the first cell, rows `row1`/`row2`, first column `col1`.
fn fisher_two_sided(a: u64, row1: u64, row2: u64, col1: u64) -> f64 {
    let total = row1 + row2;
    let lo = col1.saturating_sub(row2);
    let hi = row1.min(col1);
    // scipy: mode = int((n + 1) * (n1 + 1) / (n1 + n2 + 2)), in floating point.
    let mode = (((col1 + 1) as f64 * (row1 + 1) as f64) / (total + 2) as f64) as u64;
    let mode = mode.clamp(lo, hi);
    // Relative probabilities w(x) ∝ C(row1, x)·C(row2, col1 − x), w(mode) = 1.
    let len = (hi - lo + 1) as usize;
    let mut w = vec![0.0; len];
    let idx = |x: u64| (x - lo) as usize;
    w[idx(mode)] = 1.0;
    for x in mode..hi {
        let num = (row1 - x) as f64 * (col1 - x) as f64;
        let den = (x + 1) as f64 * (row2 + x + 1 - col1) as f64;
        w[idx(x + 1)] = w[idx(x)] * (num / den);
    }
    for x in (lo + 1..=mode).rev() {
        let num = x as f64 * (row2 + x - col1) as f64;
        let den = (row1 - x + 1) as f64 * (col1 - x + 1) as f64;
        w[idx(x - 1)] = w[idx(x)] * (num / den);
    }
    let sum: f64 = w.iter().sum();
    let wa = w[idx(a)];
    if (wa - 1.0).abs() / wa.max(1.0) <= FISHER_RELATIVE_TOLERANCE {
        return 1.0;
    }
    let cut = wa * (1.0 + FISHER_RELATIVE_TOLERANCE);
    let tail: f64 = if a < mode {
        let own: f64 = w[..=idx(a)].iter().sum();
        let other: f64 = w[idx(mode) + 1..].iter().filter(|&&v| v < cut).sum();
        own + other
    } else {
        let own: f64 = w[idx(a)..].iter().sum();
        let other: f64 = w[..idx(mode)].iter().filter(|&&v| v <= cut).sum();
        own + other
    };
    (tail / sum).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scipy_docstring_example() {
        // scipy.stats.fisher_exact([[6, 2], [1, 4]]): statistic 12.0, p = 0.10256410256410257.
        let f = fisher_exact(6, 2, 1, 4);
        assert_eq!(f.odds_ratio, Some(12.0));
        assert!(
            (f.p_value - 0.10256410256410257).abs() < 1e-15,
            "{}",
            f.p_value
        );
    }

    #[test]
    fn empty_margins_give_p_one_and_no_odds_ratio() {
        let f = fisher_exact(0, 0, 3, 4);
        assert_eq!((f.p_value, f.odds_ratio), (1.0, None));
        assert!(f.reason.unwrap().contains("row or column"));
        let f = fisher_exact(3, 0, 4, 0);
        assert_eq!(f.p_value, 1.0);
    }

    #[test]
    fn zero_off_diagonal_is_an_infinite_odds_ratio() {
        let f = fisher_exact(5, 0, 1, 6);
        assert_eq!(f.odds_ratio, None);
        assert!(f.odds_ratio_infinite);
        assert!(f.p_value < 0.02);
    }

    #[test]
    fn symmetric_table_mirror_is_counted() {
        // Equal rows: x and col1 − x are equally likely; p(2 of 10 vs 8 of 10) counts both tails.
        let lo = fisher_exact(2, 8, 8, 2).p_value;
        let hi = fisher_exact(8, 2, 2, 8).p_value;
        assert_eq!(lo, hi);
    }

    #[test]
    fn wilson_ends_and_newcombe() {
        assert_eq!(wilson_interval(0, 0), None);
        let (lo, hi) = wilson_interval(0, 10).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775327998628892).abs() < 1e-12, "{hi}");
        assert_eq!(wilson_interval(10, 10).unwrap().1, 1.0);
        let r = compare_rates(3, 10, 1, 12);
        let d = r.difference.unwrap();
        assert!(r.ci_low.unwrap() < d && d < r.ci_high.unwrap());
        assert!(r.reason.is_none());
    }

    #[test]
    fn empty_group_or_impossible_counts() {
        let r = compare_rates(0, 0, 2, 5);
        assert_eq!((r.rate_x, r.difference), (None, None));
        assert_eq!(r.rate_y, Some(0.4));
        assert!(r.reason.unwrap().contains("x is empty"));
        assert_eq!(r.fisher.unwrap().p_value, 1.0);
        let r = compare_rates(6, 5, 0, 5);
        assert_eq!(r.fisher, None);
        assert!(r.reason.unwrap().contains("more events"));
    }
}
