//! Two-group comparisons of pull requests: one group (x, e.g. merged AI-assisted PRs) against
//! another (y, the other merged PRs), for a measure such as merge hours, PR size or rework.
//!
//! Every function is pure and checked against numpy/scipy reference values
//! (`tools/gen_cohort_fixtures.py` → `tests/fixtures/stats/cohort.json`, asserted by
//! `tests/cohort_fixtures.rs`). An undefined result is `None` with a `reason`, never NaN.
//!
//! - [`mann_whitney`]: Mann–Whitney U with scipy's two-sided p (exact or normal), Cliff's delta.
//! - [`pairwise`]: Hodges–Lehmann shift with its distribution-free 95 % CI.
//! - [`ratio`]: ratio of medians with a seeded percentile-bootstrap 95 % CI.
//! - [`binary`]: two rates, Newcombe's hybrid score CI of their difference, Fisher's exact test.
//! - [`stratified`]: within-developer comparison (van Elteren sum, permutation and normal p).
//!
//! [`low_sample`] flags comparisons too small to read much into.

pub mod binary;
pub mod mann_whitney;
pub mod pairwise;
pub mod ratio;
pub mod stratified;

pub use binary::{compare_rates, fisher_exact, wilson_interval, FisherExact, RateComparison};
pub use mann_whitney::{cliffs_delta, mann_whitney_u, CliffsDelta, MannWhitney, Method};
pub use pairwise::{hodges_lehmann, HodgesLehmann};
pub use ratio::{median_ratio, median_ratio_with, MedianRatio};
pub use stratified::{stratified_comparison, Stratified};

/// Fewest observations per group below which a comparison is flagged as a low sample.
pub const LOW_SAMPLE_MIN: usize = 5;

/// True when either group has fewer than [`LOW_SAMPLE_MIN`] observations.
pub fn low_sample(n_x: usize, n_y: usize) -> bool {
    n_x < LOW_SAMPLE_MIN || n_y < LOW_SAMPLE_MIN
}

/// Checks that both groups are non-empty and finite, or says why not.
pub(crate) fn check_groups(x: &[f64], y: &[f64]) -> Result<(), String> {
    for (name, v) in [("x", x), ("y", y)] {
        if v.is_empty() {
            return Err(format!("group {name} is empty"));
        }
        if let Some(i) = super::first_non_finite(v) {
            return Err(format!("group {name} has a non-finite value at index {i}"));
        }
    }
    Ok(())
}

/// The median as `numpy.median` computes it (mean of the two middle values when the length is
/// even); reorders `v`. `None` when empty. Values are compared with `f64::total_cmp`.
pub(crate) fn median_in_place(v: &mut [f64]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let (left, mid, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let hi = *mid;
    if n % 2 == 1 {
        return Some(hi);
    }
    let lo = left.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some((lo + hi) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_sample_is_either_group_below_five() {
        assert!(low_sample(4, 100));
        assert!(low_sample(100, 0));
        assert!(!low_sample(5, 5));
    }

    #[test]
    fn median_matches_numpy() {
        assert_eq!(median_in_place(&mut []), None);
        assert_eq!(median_in_place(&mut [3.0]), Some(3.0));
        assert_eq!(median_in_place(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median_in_place(&mut [5.0, 1.0, 9.0]), Some(5.0));
    }

    #[test]
    fn groups_must_be_non_empty_and_finite() {
        assert!(check_groups(&[], &[1.0])
            .unwrap_err()
            .contains("x is empty"));
        let e = check_groups(&[1.0], &[2.0, f64::NAN]).unwrap_err();
        assert!(e.contains("y has a non-finite value at index 1"), "{e}");
        assert!(check_groups(&[1.0], &[2.0]).is_ok());
    }
}
