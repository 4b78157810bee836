//! Within-developer comparison: x against y inside each developer's own PRs, summed over
//! developers (van Elteren's stratified Wilcoxon–Mann–Whitney test).
//!
//! Strata are the given (x, y) groups that both hold at least one value (a developer with PRs in
//! only one group says nothing about the difference and is skipped). For stratum s with sizes
//! n₁ₛ, n₂ₛ and nₛ = n₁ₛ + n₂ₛ:
//! - Uₛ = Σ (average ranks of x within the stratum) − n₁ₛ(n₁ₛ+1)/2, centred by its null mean
//!   n₁ₛn₂ₛ/2 and weighted by van Elteren's 1/(nₛ + 1):
//!   T = Σₛ (Uₛ − n₁ₛn₂ₛ/2) / (nₛ + 1), summed in stratum order.
//! - Null variance with ties: Var(T) = Σₛ n₁ₛn₂ₛ/12 · ((nₛ+1) − Σ(t³ − t)/(nₛ(nₛ−1))) / (nₛ+1)²,
//!   t the tie-group sizes within the stratum. Normal p = 2·(1 − Φ(|T|/√Var(T))), no continuity
//!   correction; undefined when Var(T) = 0 (every stratum is one tie).
//! - Permutation p: N rounds; in each, every stratum's ranks are shuffled in place (Fisher–Yates,
//!   k from the end down to 1 swapping with `Rng::range(0, k)`, strata in order, one
//!   [`crate::sample::Rng`] stream from the seed) and the first n₁ₛ positions are x.
//!   p = (1 + #{|T*| ≥ |T| − ε}) / (N + 1), ε = 10⁻¹² · Σₛ n₁ₛn₂ₛ/(2(nₛ+1)) so that ties with
//!   |T| are counted despite rounding.
//! - Pooled shift: the median (`numpy.median`) of all within-stratum differences x_i − y_j.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use super::median_in_place;
use crate::sample::Rng;
use crate::stats::rank::average_ranks;

/// Permutation rounds when none are given.
pub const DEFAULT_PERMUTATIONS: usize = 9999;
/// Seed of the within-stratum permutations (fixed: the same data give the same p).
pub const PERMUTATION_SEED: u64 = 0x5742_A71F_1ED0_0C0D;
/// Relative tolerance (of the largest possible |T|) under which |T*| counts as equal to |T|.
pub const TIE_TOLERANCE: f64 = 1e-12;

/// Stratified (within-developer) comparison of x against y.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stratified {
    /// Strata with values in both groups (the ones used).
    pub strata: usize,
    /// Strata skipped because one of their groups is empty.
    pub strata_skipped: usize,
    /// Values of x in the strata used.
    pub n_x: usize,
    /// Values of y in the strata used.
    pub n_y: usize,
    /// T = Σₛ (Uₛ − n₁ₛn₂ₛ/2)/(nₛ + 1), or `None` when undefined.
    pub statistic: Option<f64>,
    /// Null variance of T with tie correction, or `None` when undefined.
    pub variance: Option<f64>,
    /// T / √Var(T), or `None` when undefined.
    pub z: Option<f64>,
    /// Two-sided normal-approximation p, or `None` when undefined.
    pub normal_p: Option<f64>,
    /// Permutation rounds asked for.
    pub permutations: usize,
    /// Seed of the permutations.
    pub seed: u64,
    /// Two-sided permutation p, or `None` when undefined or no rounds were asked for.
    pub permutation_p: Option<f64>,
    /// Median of the within-stratum differences x_i − y_j, or `None` when undefined.
    pub pooled_shift: Option<f64>,
    /// Why some field is `None`; `None` when everything is defined.
    pub reason: Option<String>,
}

/// One stratum's pooled ranks (x first) and its constants.
struct Stratum {
    ranks: Vec<f64>,
    n1: usize,
    n2: usize,
    variance: f64,
}

impl Stratum {
    fn new(x: &[f64], y: &[f64]) -> Self {
        let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
        let ranks = average_ranks(&pooled);
        let (n1, n2) = (x.len(), y.len());
        let n = (n1 + n2) as f64;
        let ties = tie_term(&pooled);
        let u_var = n1 as f64 * n2 as f64 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
        Stratum {
            ranks,
            n1,
            n2,
            variance: u_var / ((n + 1.0) * (n + 1.0)),
        }
    }

    /// (Uₛ − n₁ₛn₂ₛ/2) / (nₛ + 1) for the current order of the ranks.
    fn centred(&self) -> f64 {
        let (n1, n2) = (self.n1 as f64, self.n2 as f64);
        let sx: f64 = self.ranks[..self.n1].iter().sum();
        (sx - n1 * (n1 + 1.0) / 2.0 - n1 * n2 / 2.0) / (n1 + n2 + 1.0)
    }
}

/// Σ(t³ − t) over the tie groups of `v`.
fn tie_term(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let mut term = 0.0;
    let mut start = 0;
    while start < s.len() {
        let mut end = start + 1;
        while end < s.len() && s[end] == s[start] {
            end += 1;
        }
        let t = (end - start) as f64;
        term += t * t * t - t;
        start = end;
    }
    term
}

/// Compares x with y within each stratum `(x_s, y_s)` (e.g. each developer's PRs), with
/// `permutations` rounds of the permutation test drawn from `seed`.
pub fn stratified_comparison<S: AsRef<[f64]>>(
    strata: &[(S, S)],
    permutations: usize,
    seed: u64,
) -> Stratified {
    let mut out = Stratified {
        strata: 0,
        strata_skipped: 0,
        n_x: 0,
        n_y: 0,
        statistic: None,
        variance: None,
        z: None,
        normal_p: None,
        permutations,
        seed,
        permutation_p: None,
        pooled_shift: None,
        reason: None,
    };
    let mut used = Vec::new();
    let mut differences = Vec::new();
    for (k, (x, y)) in strata.iter().enumerate() {
        let (x, y) = (x.as_ref(), y.as_ref());
        for (name, v) in [("x", x), ("y", y)] {
            if let Some(i) = crate::stats::first_non_finite(v) {
                out.reason = Some(format!(
                    "stratum {k}: group {name} has a non-finite value at index {i}"
                ));
                return out;
            }
        }
        if x.is_empty() || y.is_empty() {
            out.strata_skipped += 1;
            continue;
        }
        out.n_x += x.len();
        out.n_y += y.len();
        differences.extend(x.iter().flat_map(|a| y.iter().map(move |b| a - b)));
        used.push(Stratum::new(x, y));
    }
    out.strata = used.len();
    if used.is_empty() {
        out.reason = Some("no stratum has values in both groups".into());
        return out;
    }
    out.pooled_shift = median_in_place(&mut differences);
    let t: f64 = used.iter().map(Stratum::centred).sum();
    let variance: f64 = used.iter().map(|s| s.variance).sum();
    out.statistic = Some(t);
    out.variance = Some(variance);
    if variance > 0.0 {
        let z = t / variance.sqrt();
        out.z = Some(z);
        out.normal_p = Some((2.0 * Normal::standard().sf(z.abs())).min(1.0));
    } else {
        out.reason =
            Some("no variation within any stratum (all values tied): normal p is undefined".into());
    }
    if permutations > 0 {
        out.permutation_p = Some(permutation_p(&mut used, t, permutations, seed));
    }
    out
}

/// Two-sided permutation p of `t_obs`, shuffling ranks within each stratum.
fn permutation_p(strata: &mut [Stratum], t_obs: f64, rounds: usize, seed: u64) -> f64 {
    let scale: f64 = strata
        .iter()
        .map(|s| (s.n1 * s.n2) as f64 / (2.0 * (s.n1 + s.n2 + 1) as f64))
        .sum();
    let target = t_obs.abs() - TIE_TOLERANCE * scale;
    let mut rng = Rng::new(seed);
    let mut hits = 0usize;
    for _ in 0..rounds {
        let mut t = 0.0;
        for s in strata.iter_mut() {
            for k in (1..s.ranks.len()).rev() {
                let j = rng.range(0, k as u64) as usize;
                s.ranks.swap(k, j);
            }
            t += s.centred();
        }
        if t.abs() >= target {
            hits += 1;
        }
    }
    (1 + hits) as f64 / (rounds + 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_stratum_matches_mann_whitney() {
        let x = [3.0, 5.0, 8.0, 9.0];
        let y = [1.0, 2.0, 4.0, 6.0, 7.0];
        let s = stratified_comparison(&[(&x[..], &y[..])], 0, PERMUTATION_SEED);
        let mw = crate::stats::cohort::mann_whitney_u(&x, &y);
        let u = mw.u.unwrap();
        assert_eq!(s.statistic, Some((u - 10.0) / 10.0));
        assert_eq!(s.variance, Some(4.0 * 5.0 / 12.0 * 10.0 / 100.0));
        assert_eq!((s.strata, s.n_x, s.n_y), (1, 4, 5));
        assert_eq!(s.permutation_p, None);
    }

    #[test]
    fn one_sided_strata_are_skipped() {
        let strata = vec![
            (vec![1.0, 2.0], vec![0.5]),
            (vec![4.0], vec![]),
            (vec![], vec![9.0]),
        ];
        let s = stratified_comparison(&strata, 99, 1);
        assert_eq!((s.strata, s.strata_skipped, s.n_x, s.n_y), (1, 2, 2, 1));
        assert_eq!(s.pooled_shift, Some(1.0));
        let p = s.permutation_p.unwrap();
        assert!(p > 0.0 && p <= 1.0);
    }

    #[test]
    fn no_usable_stratum_is_undefined() {
        let s = stratified_comparison(&[(vec![1.0], Vec::new())], 99, 1);
        assert_eq!(
            (s.statistic, s.normal_p, s.permutation_p),
            (None, None, None)
        );
        assert!(s.reason.unwrap().contains("both groups"));
        let none: [(Vec<f64>, Vec<f64>); 0] = [];
        assert_eq!(stratified_comparison(&none, 9, 1).strata, 0);
    }

    #[test]
    fn all_tied_has_no_normal_p_but_permutation_p_one() {
        let s = stratified_comparison(
            &[(vec![2.0, 2.0], vec![2.0]), (vec![1.0], vec![1.0])],
            50,
            3,
        );
        assert_eq!((s.statistic, s.variance), (Some(0.0), Some(0.0)));
        assert_eq!(s.normal_p, None);
        assert_eq!(s.permutation_p, Some(1.0));
        assert!(s.reason.unwrap().contains("no variation"));
    }

    #[test]
    fn non_finite_is_rejected() {
        let s = stratified_comparison(&[(vec![1.0], vec![f64::NAN])], 9, 1);
        assert!(s.reason.unwrap().contains("stratum 0: group y"));
    }

    #[test]
    fn planted_shift_is_found_and_reproducible() {
        let mut r = Rng::new(11);
        let strata: Vec<(Vec<f64>, Vec<f64>)> = (0..6)
            .map(|dev| {
                let base = dev as f64 * 10.0;
                let x = (0..5).map(|_| base + 3.0 + r.unit() * 4.0).collect();
                let y = (0..6).map(|_| base + r.unit() * 4.0).collect();
                (x, y)
            })
            .collect();
        let a = stratified_comparison(&strata, 999, PERMUTATION_SEED);
        assert_eq!(a, stratified_comparison(&strata, 999, PERMUTATION_SEED));
        assert!(a.normal_p.unwrap() < 1e-4);
        assert!(a.permutation_p.unwrap() <= 2.0 / 1000.0);
        assert!(a.pooled_shift.unwrap() > 1.0);
    }
}
