//! Mann–Whitney U with the two-sided p-value of `scipy.stats.mannwhitneyu(x, y)` (defaults:
//! `alternative="two-sided"`, `use_continuity=True`, `method="auto"`), and Cliff's delta.
//!
//! As scipy 1.17 computes it (`scipy/stats/_mannwhitneyu.py`):
//! - U (of x) = R₁ − n₁(n₁+1)/2, R₁ the sum of x's average ranks in the pooled sample; this
//!   equals #(x > y) + ½·#(x = y) over all pairs, which is how it is counted here.
//! - Method (`_mwu_choose_method`): asymptotic when both n₁ > 8 and n₂ > 8; otherwise
//!   asymptotic when the pooled sample has any tie; otherwise exact.
//! - Exact: p = 2·P(U ≤ k) with k = n₁n₂ − max(U₁, U₂) under the null distribution of U, clipped
//!   to 1. scipy builds the frequencies with Löffler's recursion; the same frequencies (the
//!   coefficients of the Gaussian binomial [n₁+n₂ choose m]_q, m = min(n₁, n₂)) are built here
//!   as ∏ᵢ₌₁..ₘ (1 − q^(n+i)) / (1 − q^i) up to degree k, in exact 128-bit integers (64-bit
//!   floats if those would overflow), then divided by C(n₁+n₂, n₁).
//! - Asymptotic: z = (max(U₁, U₂) − n₁n₂/2 − ½) / s with
//!   s = √(n₁n₂/12 · ((n+1) − Σ(t³ − t)/(n(n−1)))), t the sizes of the tie groups of the pooled
//!   sample, n = n₁ + n₂; p = 2·Φ(−z), clipped to [0, 1] (s = 0, all values equal, gives 1).
//!
//! Cliff's delta = (#(x > y) − #(x < y)) / (n₁n₂), counted exactly after sorting y
//! (O((n₁ + n₂) log n₂), no pairwise loop).

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use super::check_groups;

/// Largest sample size at which scipy's `method="auto"` may choose the exact distribution.
pub const EXACT_MAX_N: usize = 8;

/// How the p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Exact null distribution of U (small sample without ties).
    Exact,
    /// Normal approximation with tie and continuity correction.
    Asymptotic,
}

impl Method {
    /// The name used in reports (`exact` or `asymptotic`).
    pub fn name(self) -> &'static str {
        match self {
            Method::Exact => "exact",
            Method::Asymptotic => "asymptotic",
        }
    }
}

/// Mann–Whitney U of x against y with scipy's two-sided p-value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MannWhitney {
    /// U of x (scipy's `statistic`), or `None` when undefined.
    pub u: Option<f64>,
    /// Size of group x.
    pub n_x: usize,
    /// Size of group y.
    pub n_y: usize,
    /// Two-sided p-value, or `None` when undefined.
    pub p_value: Option<f64>,
    /// How the p-value was computed, or `None` when undefined.
    pub method: Option<Method>,
    /// Why the fields are `None`; `None` when everything is defined.
    pub reason: Option<String>,
}

/// Cliff's delta of x against y.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CliffsDelta {
    /// (#(x > y) − #(x < y)) / (n_x·n_y) in [−1, 1], or `None` when undefined.
    pub delta: Option<f64>,
    /// Pairs with x > y.
    pub greater: u64,
    /// Pairs with x < y.
    pub less: u64,
    /// Size of group x.
    pub n_x: usize,
    /// Size of group y.
    pub n_y: usize,
    /// Why `delta` is `None`; `None` when it is defined.
    pub reason: Option<String>,
}

/// Pair counts of x against y: x > y, x < y, x = y.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Dominance {
    /// Pairs with x > y.
    pub greater: u64,
    /// Pairs with x < y.
    pub less: u64,
    /// Pairs with x = y.
    pub equal: u64,
}

/// Counts the pairs (x_i, y_j) with x > y, x < y and x = y; finite input.
pub(crate) fn dominance(x: &[f64], y: &[f64]) -> Dominance {
    let mut ys = y.to_vec();
    ys.sort_by(f64::total_cmp);
    let mut d = Dominance::default();
    for &v in x {
        let lt = ys.partition_point(|&w| w < v);
        let le = ys.partition_point(|&w| w <= v);
        d.greater += lt as u64;
        d.equal += (le - lt) as u64;
        d.less += (ys.len() - le) as u64;
    }
    d
}

/// Σ(t³ − t) over the tie groups of the pooled sample, and whether any tie exists.
fn tie_term(x: &[f64], y: &[f64]) -> (f64, bool) {
    let mut all: Vec<f64> = x.iter().chain(y).copied().collect();
    all.sort_by(f64::total_cmp);
    let (mut term, mut any) = (0.0, false);
    let mut start = 0;
    while start < all.len() {
        let mut end = start + 1;
        while end < all.len() && all[end] == all[start] {
            end += 1;
        }
        let t = (end - start) as f64;
        if end - start > 1 {
            any = true;
            term += t * t * t - t;
        }
        start = end;
    }
    (term, any)
}

/// Mann–Whitney U of x against y with the two-sided p-value scipy's `mannwhitneyu` reports.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> MannWhitney {
    let (n_x, n_y) = (x.len(), y.len());
    if let Err(reason) = check_groups(x, y) {
        return MannWhitney {
            u: None,
            n_x,
            n_y,
            p_value: None,
            method: None,
            reason: Some(reason),
        };
    }
    let d = dominance(x, y);
    let u1 = d.greater as f64 + 0.5 * d.equal as f64;
    let nn = (n_x as f64) * (n_y as f64);
    let u = u1.max(nn - u1);
    let (ties, any_tie) = tie_term(x, y);
    let method = if (n_x > EXACT_MAX_N && n_y > EXACT_MAX_N) || any_tie {
        Method::Asymptotic
    } else {
        Method::Exact
    };
    let p = match method {
        // No ties: U is a whole number, and k = n₁n₂ − U ≤ n₁n₂/2.
        Method::Exact => 2.0 * exact_u_cdf(n_x, n_y, (nn - u) as usize),
        Method::Asymptotic => 2.0 * normal_sf(u, n_x, n_y, ties),
    };
    MannWhitney {
        u: Some(u1),
        n_x,
        n_y,
        p_value: Some(p.clamp(0.0, 1.0)),
        method: Some(method),
        reason: None,
    }
}

/// P(Z ≥ z) for scipy's standardised U (tie and continuity corrected); 1 when s = 0.
fn normal_sf(u: f64, n_x: usize, n_y: usize, ties: f64) -> f64 {
    let (n1, n2) = (n_x as f64, n_y as f64);
    let n = n1 + n2;
    let s = (n1 * n2 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
    let numerator = u - n1 * n2 / 2.0 - 0.5;
    if s.is_nan() || s <= 0.0 {
        // scipy: z = −0.5/0 = −∞, so the survival function is 1.
        return if numerator > 0.0 { 0.0 } else { 1.0 };
    }
    Normal::standard().sf(numerator / s)
}

/// P(U ≤ k) under the null for samples of sizes n_x and n_y without ties (k ≤ n_x·n_y/2).
pub fn exact_u_cdf(n_x: usize, n_y: usize, k: usize) -> f64 {
    let (m, n) = (n_x.min(n_y), n_x.max(n_y));
    if let (Some(freq), Some(total)) = (frequencies_i128(m, n, k), binomial_i128(m + n, m)) {
        let below: i128 = freq.iter().sum();
        return below as f64 / total as f64;
    }
    let freq = frequencies_f64(m, n, k);
    freq.iter().sum::<f64>() / binomial_f64(m + n, m)
}

/// Frequencies of U = 0..=k (Gaussian binomial coefficients), or `None` on overflow.
fn frequencies_i128(m: usize, n: usize, k: usize) -> Option<Vec<i128>> {
    let mut c = vec![0i128; k + 1];
    c[0] = 1;
    for i in 1..=m {
        let a = n + i;
        for j in (a..=k).rev() {
            c[j] = c[j].checked_sub(c[j - a])?;
        }
        for j in i..=k {
            c[j] = c[j].checked_add(c[j - i])?;
        }
    }
    Some(c)
}

/// The same frequencies in floating point, for sizes whose counts overflow 128 bits.
fn frequencies_f64(m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut c = vec![0.0; k + 1];
    c[0] = 1.0;
    for i in 1..=m {
        let a = n + i;
        for j in (a..=k).rev() {
            c[j] -= c[j - a];
        }
        for j in i..=k {
            c[j] += c[j - i];
        }
    }
    c
}

/// C(n, k) exactly, or `None` on overflow.
fn binomial_i128(n: usize, k: usize) -> Option<i128> {
    let mut c: i128 = 1;
    for i in 1..=k.min(n - k) {
        c = c.checked_mul((n - k.min(n - k) + i) as i128)? / i as i128;
    }
    Some(c)
}

/// C(n, k) in floating point.
fn binomial_f64(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (1..=k).fold(1.0, |c, i| c * (n - k + i) as f64 / i as f64)
}

/// Cliff's delta of x against y: (#(x > y) − #(x < y)) / (n_x·n_y).
pub fn cliffs_delta(x: &[f64], y: &[f64]) -> CliffsDelta {
    let (n_x, n_y) = (x.len(), y.len());
    if let Err(reason) = check_groups(x, y) {
        return CliffsDelta {
            delta: None,
            greater: 0,
            less: 0,
            n_x,
            n_y,
            reason: Some(reason),
        };
    }
    let d = dominance(x, y);
    let delta = (d.greater as f64 - d.less as f64) / ((n_x as f64) * (n_y as f64));
    CliffsDelta {
        delta: Some(delta),
        greater: d.greater,
        less: d.less,
        n_x,
        n_y,
        reason: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scipy_docstring_example_exact() {
        // scipy.stats.mannwhitneyu(males, females): U = 17, p = 0.1111111111111111 (exact).
        let males = [19.0, 22.0, 16.0, 29.0, 24.0];
        let females = [20.0, 11.0, 17.0, 12.0];
        let r = mann_whitney_u(&males, &females);
        assert_eq!(r.u, Some(17.0));
        assert_eq!(r.method, Some(Method::Exact));
        assert!((r.p_value.unwrap() - 0.1111111111111111).abs() < 1e-15);
    }

    #[test]
    fn ties_force_the_normal_approximation() {
        let r = mann_whitney_u(&[1.0, 2.0, 2.0], &[3.0, 4.0]);
        assert_eq!(r.method, Some(Method::Asymptotic));
        assert_eq!(r.u, Some(0.0));
    }

    #[test]
    fn all_equal_values_give_p_one() {
        let r = mann_whitney_u(&[5.0; 3], &[5.0; 4]);
        assert_eq!((r.u, r.p_value), (Some(6.0), Some(1.0)));
        assert_eq!(r.method, Some(Method::Asymptotic));
    }

    #[test]
    fn empty_or_non_finite_groups_are_undefined() {
        let r = mann_whitney_u(&[], &[1.0]);
        assert_eq!((r.u, r.p_value, r.method), (None, None, None));
        assert!(r.reason.unwrap().contains("x is empty"));
        let c = cliffs_delta(&[1.0, f64::INFINITY], &[1.0]);
        assert_eq!(c.delta, None);
        assert!(c.reason.unwrap().contains("non-finite"));
    }

    #[test]
    fn exact_distribution_sums_to_one_and_is_symmetric() {
        for (m, n) in [(1, 1), (2, 3), (4, 4), (3, 8), (8, 20)] {
            let full = frequencies_i128(m, n, m * n).unwrap();
            let total: i128 = full.iter().sum();
            assert_eq!(Some(total), binomial_i128(m + n, m));
            for u in 0..=m * n {
                assert_eq!(full[u], full[m * n - u]);
            }
            let f = frequencies_f64(m, n, m * n);
            assert!(f.iter().zip(&full).all(|(a, b)| *a == *b as f64));
        }
    }

    #[test]
    fn huge_samples_fall_back_to_floating_point() {
        // C(1_000_008, 8) overflows 128 bits; P(U ≤ 0) = 1 / C(n + 8, 8).
        assert_eq!(binomial_i128(1_000_008, 8), None);
        let p = exact_u_cdf(8, 1_000_000, 0);
        let want = 1.0 / binomial_f64(1_000_008, 8);
        assert!((p / want - 1.0).abs() < 1e-12, "{p} {want}");
        // P(U ≤ 1) adds the single arrangement with U = 1.
        assert!((exact_u_cdf(1_000_000, 8, 1) / (2.0 * want) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn cliffs_delta_counts_pairs() {
        let c = cliffs_delta(&[1.0, 2.0, 3.0], &[2.0, 2.0]);
        assert_eq!((c.greater, c.less), (2, 2));
        assert_eq!(c.delta, Some(0.0));
        let c = cliffs_delta(&[5.0, 6.0], &[1.0]);
        assert_eq!(c.delta, Some(1.0));
    }
}
