//! Pearson r and Spearman ρ with two-sided p-values, and a Fisher-z confidence interval for r.
//!
//! Definitions (they match `scipy.stats.pearsonr` / `spearmanr`, see `tests/stats_fixtures.rs`):
//! - Pearson r = Σ(x−x̄)(y−ȳ) / (‖x−x̄‖·‖y−ȳ‖), clipped to [−1, 1].
//! - Spearman ρ = Pearson r of the average ranks of x and of y (ties share their mean rank).
//! - p-value (both): two-sided t-test, t = |r|·√((n−2)/((1−r)(1+r))), p = 2·P(T > t) for
//!   Student's T with n−2 degrees of freedom.
//! - 95 % CI of Pearson r: tanh(atanh(r) ± z₀.₉₇₅/√(n−3)), z₀.₉₇₅ the standard normal quantile.
//!
//! Undefined results are `None` with a `reason`: fewer than 3 pairs, a constant series (zero
//! variance), non-finite input, or (CI only) n ≤ 3. A computed |r| within
//! [`PERFECT_TOLERANCE`] of 1 is a perfect linear relation up to rounding: it is reported as
//! exactly ±1 with p = 0.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Fewest pairs for which r and its p-value are defined (the t-test has n − 2 degrees of freedom).
pub const MIN_PAIRS: usize = 3;
/// Confidence level of the Fisher-z interval for Pearson's r.
pub const CONFIDENCE_LEVEL: f64 = 0.95;
/// Distance from ±1 below which a computed r is rounding noise around a perfect relation.
pub const PERFECT_TOLERANCE: f64 = 8.0 * f64::EPSILON;

/// Pearson's r with its two-sided p-value and Fisher-z 95 % confidence interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pearson {
    /// The correlation coefficient, or `None` when undefined.
    pub r: Option<f64>,
    /// Two-sided p-value of H0: ρ = 0, or `None` when undefined.
    pub p_value: Option<f64>,
    /// Lower bound of the 95 % CI, or `None` when undefined (n ≤ 3).
    pub ci_low: Option<f64>,
    /// Upper bound of the 95 % CI, or `None` when undefined (n ≤ 3).
    pub ci_high: Option<f64>,
    /// Number of (x, y) pairs.
    pub n: usize,
    /// Why some field is `None`; `None` when everything is defined.
    pub reason: Option<String>,
}

/// Spearman's rank correlation ρ with its two-sided p-value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spearman {
    /// The rank correlation coefficient, or `None` when undefined.
    pub r: Option<f64>,
    /// Two-sided p-value of H0: ρ = 0, or `None` when undefined.
    pub p_value: Option<f64>,
    /// Number of (x, y) pairs.
    pub n: usize,
    /// Why `r`/`p_value` are `None`; `None` when both are defined.
    pub reason: Option<String>,
}

/// Computes Pearson's r, its two-sided p-value and its Fisher-z 95 % CI for paired samples.
pub fn pearson(x: &[f64], y: &[f64]) -> Pearson {
    let n = x.len().min(y.len());
    let undefined = |reason: String| Pearson {
        r: None,
        p_value: None,
        ci_low: None,
        ci_high: None,
        n,
        reason: Some(reason),
    };
    if let Err(reason) = check_pairs(x, y) {
        return undefined(reason);
    }
    let r = match correlation_coefficient(x, y) {
        Ok(r) => r,
        Err(reason) => return undefined(reason),
    };
    let p_value = t_test_p_value(r, n);
    let (ci, reason) = match fisher_ci(r, n) {
        Some(ci) => (Some(ci), None),
        None => (
            None,
            Some(format!(
                "confidence interval needs more than 3 pairs (n = {n})"
            )),
        ),
    };
    Pearson {
        r: Some(r),
        p_value,
        ci_low: ci.map(|c| c.0),
        ci_high: ci.map(|c| c.1),
        n,
        reason,
    }
}

/// Computes Spearman's ρ (Pearson r of average ranks) and its two-sided t-test p-value.
pub fn spearman(x: &[f64], y: &[f64]) -> Spearman {
    let n = x.len().min(y.len());
    let undefined = |reason: String| Spearman {
        r: None,
        p_value: None,
        n,
        reason: Some(reason),
    };
    if let Err(reason) = check_pairs(x, y) {
        return undefined(reason);
    }
    let rx = super::rank::average_ranks(x);
    let ry = super::rank::average_ranks(y);
    match correlation_coefficient(&rx, &ry) {
        Ok(r) => Spearman {
            r: Some(r),
            p_value: t_test_p_value(r, n),
            n,
            reason: None,
        },
        Err(reason) => undefined(reason),
    }
}

/// Two-sided p-value of a correlation `r` over `n` pairs (Student's T, n − 2 degrees of freedom).
///
/// `None` when n < 3 or r is not in [−1, 1]. |r| = 1 gives 0.
pub fn t_test_p_value(r: f64, n: usize) -> Option<f64> {
    if n < MIN_PAIRS {
        return None;
    }
    t_test_p_value_df(r, (n - 2) as f64)
}

/// Two-sided p-value of a (partial) correlation `r` with `df` degrees of freedom:
/// t = |r|·√(df/(1−r²)), p = 2·P(T_df > t). `None` when df < 1 or r is not in [−1, 1].
pub fn t_test_p_value_df(r: f64, df: f64) -> Option<f64> {
    if df.is_nan() || df < 1.0 || !(-1.0..=1.0).contains(&r) {
        return None;
    }
    let a = r.abs();
    if a == 1.0 {
        return Some(0.0);
    }
    let t = a * (df / ((1.0 - a) * (1.0 + a))).sqrt();
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some((2.0 * dist.sf(t)).clamp(0.0, 1.0))
}

/// Fisher-z 95 % confidence interval `(low, high)` for a Pearson `r` over `n` pairs.
///
/// `None` when n ≤ 3 (the standard error 1/√(n−3) is undefined) or r is not in [−1, 1].
pub fn fisher_ci(r: f64, n: usize) -> Option<(f64, f64)> {
    if n <= 3 || !(-1.0..=1.0).contains(&r) {
        return None;
    }
    let z = r.atanh();
    let se = 1.0 / ((n - 3) as f64).sqrt();
    let h = Normal::standard().inverse_cdf(0.5 + CONFIDENCE_LEVEL / 2.0);
    Some(((z - h * se).tanh(), (z + h * se).tanh()))
}

/// Checks that x and y pair up, hold at least [`MIN_PAIRS`] pairs and are all finite.
fn check_pairs(x: &[f64], y: &[f64]) -> Result<(), String> {
    if x.len() != y.len() {
        return Err(format!(
            "series differ in length ({} vs {} values)",
            x.len(),
            y.len()
        ));
    }
    if x.len() < MIN_PAIRS {
        return Err(format!(
            "needs at least {MIN_PAIRS} pairs (n = {})",
            x.len()
        ));
    }
    for (name, s) in [("x", x), ("y", y)] {
        if let Some(i) = super::first_non_finite(s) {
            return Err(format!("{name} has a non-finite value at index {i}"));
        }
    }
    Ok(())
}

/// Pearson's r of two equal-length finite series of length ≥ 2, or why it is undefined.
///
/// Computed as scipy does: deviations from the mean are scaled by their largest magnitude before
/// the norms are taken (no overflow for huge values), then r = ⟨x̂, ŷ⟩ of the unit vectors.
fn correlation_coefficient(x: &[f64], y: &[f64]) -> Result<f64, String> {
    let xm = centred_unit(x).ok_or("x is constant (zero variance): correlation is undefined")?;
    let ym = centred_unit(y).ok_or("y is constant (zero variance): correlation is undefined")?;
    let r: f64 = xm.iter().zip(&ym).map(|(a, b)| a * b).sum();
    if !r.is_finite() {
        return Err("correlation is not a finite number".into());
    }
    let r = r.clamp(-1.0, 1.0);
    if 1.0 - r.abs() <= PERFECT_TOLERANCE {
        return Ok(r.signum());
    }
    Ok(r)
}

/// Returns (v − mean)/‖v − mean‖, or `None` when v is constant (or its spread is not finite).
fn centred_unit(v: &[f64]) -> Option<Vec<f64>> {
    let first = *v.first()?;
    if v.iter().all(|&a| a == first) {
        return None;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let dev: Vec<f64> = v.iter().map(|a| a - mean).collect();
    let max = dev.iter().fold(0.0_f64, |m, d| m.max(d.abs()));
    if max == 0.0 || !max.is_finite() {
        return None;
    }
    let norm = max
        * dev
            .iter()
            .map(|d| (d / max) * (d / max))
            .sum::<f64>()
            .sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return None;
    }
    Some(dev.into_iter().map(|d| d / norm).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_value_from_scipy_docs() {
        // scipy.stats.pearsonr docstring: r = -0.828503883588428, p = 0.021280260007523286.
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0];
        let y = [10.0, 9.0, 2.5, 6.0, 4.0, 3.0, 2.0];
        let p = pearson(&x, &y);
        let r = p.r.unwrap();
        assert!((r - -0.828503883588428).abs() < 1e-14, "{r}");
        let pv = p.p_value.unwrap();
        assert!((pv / 0.021280260007523286 - 1.0).abs() < 1e-9, "{pv}");
        assert!(p.reason.is_none());
    }

    #[test]
    fn constant_series_is_none_with_reason_never_nan() {
        let p = pearson(&[1.0, 2.0, 3.0, 4.0], &[0.0; 4]);
        assert_eq!(p.r, None);
        assert_eq!(p.p_value, None);
        assert!(p.reason.unwrap().contains("y is constant"));
        let s = spearman(&[5.0; 4], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.r, None);
        assert!(s.reason.unwrap().contains("x is constant"));
    }

    #[test]
    fn too_few_pairs_and_mismatched_lengths() {
        let p = pearson(&[1.0, 2.0], &[3.0, 5.0]);
        assert_eq!((p.r, p.n), (None, 2));
        assert!(p.reason.unwrap().contains("at least 3 pairs"));
        let s = spearman(&[], &[]);
        assert_eq!((s.r, s.n), (None, 0));
        let m = pearson(&[1.0, 2.0, 3.0], &[1.0, 2.0]);
        assert!(m.reason.unwrap().contains("differ in length"));
    }

    #[test]
    fn non_finite_input_is_rejected() {
        let p = pearson(&[1.0, f64::NAN, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(p.r, None);
        assert!(p.reason.unwrap().contains("non-finite"));
        let s = spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, f64::INFINITY, 4.0]);
        assert_eq!(s.r, None);
    }

    #[test]
    fn three_pairs_have_p_but_no_ci() {
        let p = pearson(&[1.0, 2.0, 4.0], &[2.0, 1.0, 5.0]);
        assert!(p.r.is_some() && p.p_value.is_some());
        assert_eq!((p.ci_low, p.ci_high), (None, None));
        assert!(p.reason.unwrap().contains("confidence interval"));
    }

    #[test]
    fn perfect_relation_is_exactly_one_with_zero_p() {
        let p = pearson(&[1.0, 2.0, 3.0, 4.0, 5.0], &[-2.0, -4.0, -6.0, -8.0, -10.0]);
        assert_eq!((p.r, p.p_value), (Some(-1.0), Some(0.0)));
        assert_eq!((p.ci_low, p.ci_high), (Some(-1.0), Some(-1.0)));
    }

    #[test]
    fn huge_values_do_not_overflow() {
        let x = [-5e210, 5e210, 3e200, -3e200];
        let p = pearson(&x, &[1.0, 4.0, 3.0, 2.0]);
        assert!(p.r.unwrap().is_finite());
    }

    #[test]
    fn p_value_edges() {
        assert_eq!(t_test_p_value(0.0, 10), Some(1.0));
        assert_eq!(t_test_p_value(0.5, 2), None);
        assert_eq!(t_test_p_value(f64::NAN, 10), None);
        assert_eq!(fisher_ci(0.5, 3), None);
    }

    #[test]
    fn critical_value_is_the_normal_975_quantile() {
        let h = Normal::standard().inverse_cdf(0.975);
        assert!((h - 1.959963984540054).abs() < 1e-13, "{h}");
    }
}
