//! Ratio of medians median(x) / median(y) with a percentile-bootstrap 95 % confidence interval.
//!
//! - Medians as `numpy.median` (mean of the two middle values for an even count).
//! - Bootstrap: B resamples (default [`BOOTSTRAP_RESAMPLES`]) from one SplitMix64 stream
//!   ([`crate::sample::Rng`], seed [`BOOTSTRAP_SEED`] unless given). Resample b draws n_x indices
//!   into x, then n_y indices into y, each as `Rng::range(0, n − 1)`, i.e.
//!   `next_u64() % n`, with replacement; its ratio is median(x*) / median(y*).
//! - CI: the 2.5th and 97.5th percentiles of the B ratios by linear interpolation
//!   (`numpy.percentile(ratios, [2.5, 97.5])`, see [`crate::stats::quantile`]).
//!
//! Undefined (`None` with a reason): an empty or non-finite group, or a median ≤ 0 (the ratio is
//! meant for positive measures such as hours or lines); the CI alone when B = 0 or when some
//! resample of y has median 0 (that ratio would be infinite).

use serde::Serialize;

use super::{check_groups, median_in_place};
use crate::sample::Rng;
use crate::stats::quantile::SortedSample;

/// Bootstrap resamples when none are given.
pub const BOOTSTRAP_RESAMPLES: usize = 2000;
/// Seed of the bootstrap stream (fixed: the same data give the same interval).
pub const BOOTSTRAP_SEED: u64 = 0xB007_5742_AD1A_0001;

/// Ratio of the medians of x and y with a percentile-bootstrap 95 % CI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MedianRatio {
    /// median(x) / median(y), or `None` when undefined.
    pub ratio: Option<f64>,
    /// Median of x, or `None` when x is empty or not finite.
    pub median_x: Option<f64>,
    /// Median of y, or `None` when y is empty or not finite.
    pub median_y: Option<f64>,
    /// 2.5th percentile of the bootstrap ratios, or `None` when undefined.
    pub ci_low: Option<f64>,
    /// 97.5th percentile of the bootstrap ratios, or `None` when undefined.
    pub ci_high: Option<f64>,
    /// Bootstrap resamples asked for.
    pub resamples: usize,
    /// Seed of the bootstrap stream.
    pub seed: u64,
    /// Size of group x.
    pub n_x: usize,
    /// Size of group y.
    pub n_y: usize,
    /// Why some field is `None`; `None` when everything is defined.
    pub reason: Option<String>,
}

/// Ratio of medians with [`BOOTSTRAP_RESAMPLES`] resamples and [`BOOTSTRAP_SEED`].
pub fn median_ratio(x: &[f64], y: &[f64]) -> MedianRatio {
    median_ratio_with(x, y, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED)
}

/// Ratio of medians with `resamples` bootstrap resamples drawn from `seed`.
pub fn median_ratio_with(x: &[f64], y: &[f64], resamples: usize, seed: u64) -> MedianRatio {
    let mut out = MedianRatio {
        ratio: None,
        median_x: None,
        median_y: None,
        ci_low: None,
        ci_high: None,
        resamples,
        seed,
        n_x: x.len(),
        n_y: y.len(),
        reason: None,
    };
    if let Err(reason) = check_groups(x, y) {
        out.reason = Some(reason);
        return out;
    }
    let (mx, my) = (
        median_in_place(&mut x.to_vec()),
        median_in_place(&mut y.to_vec()),
    );
    out.median_x = mx;
    out.median_y = my;
    let (Some(mx), Some(my)) = (mx, my) else {
        out.reason = Some("a median is undefined".into());
        return out;
    };
    if mx <= 0.0 || my <= 0.0 {
        out.reason = Some(format!(
            "ratio of medians needs positive medians (median x = {mx}, median y = {my})"
        ));
        return out;
    }
    out.ratio = Some(mx / my);
    match bootstrap_ci(x, y, resamples, seed) {
        Ok((lo, hi)) => {
            out.ci_low = Some(lo);
            out.ci_high = Some(hi);
        }
        Err(reason) => out.reason = Some(reason),
    }
    out
}

/// Percentile-bootstrap 95 % CI of median(x)/median(y), or why it is undefined.
fn bootstrap_ci(x: &[f64], y: &[f64], resamples: usize, seed: u64) -> Result<(f64, f64), String> {
    if resamples == 0 {
        return Err("confidence interval needs at least one bootstrap resample".into());
    }
    let mut rng = Rng::new(seed);
    let (mut bx, mut by) = (vec![0.0; x.len()], vec![0.0; y.len()]);
    let mut ratios = Vec::with_capacity(resamples);
    let mut zero_denominators = 0usize;
    for _ in 0..resamples {
        for (buf, src) in [(&mut bx, x), (&mut by, y)] {
            let top = src.len() as u64 - 1;
            for slot in buf.iter_mut() {
                *slot = src[rng.range(0, top) as usize];
            }
        }
        let (mx, my) = (median_in_place(&mut bx), median_in_place(&mut by));
        match (mx, my) {
            (Some(a), Some(b)) if b != 0.0 => ratios.push(a / b),
            _ => zero_denominators += 1,
        }
    }
    if zero_denominators > 0 {
        return Err(format!(
            "confidence interval undefined: {zero_denominators} of {resamples} bootstrap resamples of y have median 0"
        ));
    }
    let sorted = SortedSample::new(ratios).map_err(|e| format!("bootstrap ratios: {e}"))?;
    match (sorted.percentile(2.5), sorted.percentile(97.5)) {
        (Some(lo), Some(hi)) => Ok((lo, hi)),
        _ => Err("bootstrap produced no ratios".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_and_interval_are_reproducible() {
        let x = [4.0, 9.0, 2.5, 7.0, 12.0, 3.0, 5.5];
        let y = [2.0, 3.5, 1.0, 6.0, 2.5, 4.0];
        let a = median_ratio(&x, &y);
        assert_eq!(a.ratio, Some(5.5 / 3.0));
        assert_eq!((a.median_x, a.median_y), (Some(5.5), Some(3.0)));
        let (lo, hi) = (a.ci_low.unwrap(), a.ci_high.unwrap());
        assert!(lo < 5.5 / 3.0 && 5.5 / 3.0 < hi, "{lo} {hi}");
        assert_eq!(a, median_ratio(&x, &y));
        assert_eq!(a.resamples, BOOTSTRAP_RESAMPLES);
    }

    #[test]
    fn zero_median_is_undefined() {
        let r = median_ratio(&[1.0, 2.0, 3.0], &[0.0, 0.0, 5.0]);
        assert_eq!((r.ratio, r.ci_low), (None, None));
        assert_eq!(r.median_y, Some(0.0));
        assert!(r.reason.unwrap().contains("positive medians"));
        let r = median_ratio(&[0.0], &[3.0]);
        assert_eq!(r.ratio, None);
    }

    #[test]
    fn resample_with_zero_median_leaves_no_interval() {
        // Median of y is 1, but many resamples of y are mostly zeros.
        let r = median_ratio_with(&[2.0, 3.0, 4.0], &[0.0, 0.0, 1.0, 2.0, 3.0], 200, 1);
        assert_eq!(r.ratio, Some(3.0));
        assert_eq!((r.ci_low, r.ci_high), (None, None));
        assert!(r.reason.unwrap().contains("median 0"));
    }

    #[test]
    fn empty_group_and_no_resamples() {
        let r = median_ratio(&[], &[1.0]);
        assert!(r.reason.unwrap().contains("x is empty"));
        let r = median_ratio_with(&[2.0], &[1.0], 0, 1);
        assert_eq!(r.ratio, Some(2.0));
        assert_eq!(r.ci_low, None);
        assert!(r.reason.unwrap().contains("at least one"));
    }
}
