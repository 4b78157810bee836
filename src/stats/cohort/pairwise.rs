//! Hodges–Lehmann shift of x against y with a distribution-free 95 % confidence interval.
//!
//! - Shift = median of the n₁n₂ pairwise differences x_i − y_j (`numpy.median`: the mean of the
//!   two middle differences when n₁n₂ is even).
//! - 95 % CI, the Mann–Whitney-based interval in its normal-approximation form (Hollander &
//!   Wolfe; no tie or continuity correction):
//!   k = ⌊n₁n₂/2 − z₀.₉₇₅·√(n₁n₂(n₁+n₂+1)/12)⌋, CI = (D₍ₖ₊₁₎, D₍ₙ₁ₙ₂₋ₖ₎) of the sorted
//!   differences D₍₁₎ ≤ … ≤ D₍ₙ₁ₙ₂₎ (1-based). Undefined when k < 0 (too few pairs).
//!
//! Order statistics of the differences are selected without forming all n₁n₂ of them: x and y
//! are sorted, so the differences form a matrix sorted along rows and columns, and each round
//! of the selection (pivot = weighted median of the rows' middle candidates, Johnson &
//! Mizoguchi 1978) discards at least a quarter of the remaining candidates in O(n₁ + n₂).

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use super::check_groups;
use crate::stats::correlation::CONFIDENCE_LEVEL;

/// Hodges–Lehmann estimate of the shift of x against y, with its 95 % CI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HodgesLehmann {
    /// Median of the pairwise differences x_i − y_j, or `None` when undefined.
    pub shift: Option<f64>,
    /// Lower bound of the 95 % CI, or `None` when undefined.
    pub ci_low: Option<f64>,
    /// Upper bound of the 95 % CI, or `None` when undefined.
    pub ci_high: Option<f64>,
    /// Size of group x.
    pub n_x: usize,
    /// Size of group y.
    pub n_y: usize,
    /// Why some field is `None`; `None` when everything is defined.
    pub reason: Option<String>,
}

/// Computes the Hodges–Lehmann shift of x against y and its Mann–Whitney-based 95 % CI.
pub fn hodges_lehmann(x: &[f64], y: &[f64]) -> HodgesLehmann {
    let (n_x, n_y) = (x.len(), y.len());
    let mut out = HodgesLehmann {
        shift: None,
        ci_low: None,
        ci_high: None,
        n_x,
        n_y,
        reason: None,
    };
    if let Err(reason) = check_groups(x, y) {
        out.reason = Some(reason);
        return out;
    }
    let d = Differences::new(x, y);
    let total = n_x * n_y;
    out.shift = if total % 2 == 1 {
        d.kth(total / 2)
    } else {
        d.kth(total / 2 - 1)
            .zip(d.kth(total / 2))
            .map(|(a, b)| (a + b) / 2.0)
    };
    match ci_rank(n_x, n_y) {
        Some(k) => {
            out.ci_low = d.kth(k);
            out.ci_high = d.kth(total - 1 - k);
        }
        None => {
            out.reason = Some(format!(
                "confidence interval needs more pairs (n_x = {n_x}, n_y = {n_y})"
            ))
        }
    }
    out
}

/// k of the 95 % interval, k = ⌊n₁n₂/2 − z₀.₉₇₅·√(n₁n₂(n₁+n₂+1)/12)⌋; `None` when k < 0.
pub fn ci_rank(n_x: usize, n_y: usize) -> Option<usize> {
    let (n1, n2) = (n_x as f64, n_y as f64);
    let z = Normal::standard().inverse_cdf(0.5 + CONFIDENCE_LEVEL / 2.0);
    let k = (n1 * n2 / 2.0 - z * (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt()).floor();
    (k >= 0.0).then_some(k as usize)
}

/// All differences x_i − y_j of two finite samples, kept implicitly as two sorted vectors.
#[derive(Debug, Clone)]
pub(crate) struct Differences {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Differences {
    /// Sorts both samples (finite values, both non-empty for [`Differences::kth`]).
    pub(crate) fn new(x: &[f64], y: &[f64]) -> Self {
        let (mut x, mut y) = (x.to_vec(), y.to_vec());
        x.sort_by(f64::total_cmp);
        y.sort_by(f64::total_cmp);
        Differences { x, y }
    }

    /// Difference in row i (x_i), column c: x_i − y_(n₂−1−c), ascending along rows and columns.
    fn at(&self, i: usize, c: usize) -> f64 {
        self.x[i] - self.y[self.y.len() - 1 - c]
    }

    /// For each row, how many of its differences are below `pivot` (`strict`) or at most it.
    fn counts(&self, pivot: f64, strict: bool) -> Vec<usize> {
        let below = |v: f64| if strict { v < pivot } else { v <= pivot };
        // Rows grow with i, so the count per row can only shrink: one pass, O(n₁ + n₂).
        let mut c = self.y.len();
        self.x
            .iter()
            .enumerate()
            .map(|(i, _)| {
                while c > 0 && !below(self.at(i, c - 1)) {
                    c -= 1;
                }
                c
            })
            .collect()
    }

    /// The `rank`-th smallest difference (0-based); `None` when rank ≥ n₁n₂.
    pub(crate) fn kth(&self, rank: usize) -> Option<f64> {
        let (n1, n2) = (self.x.len(), self.y.len());
        if rank >= n1 * n2 {
            return None;
        }
        // Candidates of row i are its columns lo[i]..hi[i]; everything left of lo is below the
        // answer, everything from hi on is above it.
        let mut lo = vec![0usize; n1];
        let mut hi = vec![n2; n1];
        loop {
            let active: usize = lo.iter().zip(&hi).map(|(l, h)| h - l).sum();
            if active <= n1 + n2 {
                let below: usize = lo.iter().sum();
                let mut rest: Vec<f64> = (0..n1)
                    .flat_map(|i| (lo[i]..hi[i]).map(move |c| (i, c)))
                    .map(|(i, c)| self.at(i, c))
                    .collect();
                let (_, v, _) = rest.select_nth_unstable_by(rank - below, f64::total_cmp);
                return Some(*v);
            }
            let pivot = self.weighted_middle(&lo, &hi, active)?;
            let less = self.counts(pivot, true);
            let n_less: usize = less.iter().sum();
            if rank < n_less {
                hi.iter_mut()
                    .zip(&less)
                    .for_each(|(h, l)| *h = (*h).min(*l));
                continue;
            }
            let at_most = self.counts(pivot, false);
            if rank < at_most.iter().sum::<usize>() {
                return Some(pivot);
            }
            lo.iter_mut()
                .zip(&at_most)
                .for_each(|(l, m)| *l = (*l).max(*m));
        }
    }

    /// Weighted median of the rows' middle candidates (weight = candidates left in the row).
    fn weighted_middle(&self, lo: &[usize], hi: &[usize], active: usize) -> Option<f64> {
        let mut mids: Vec<(f64, usize)> = (0..lo.len())
            .filter(|&i| hi[i] > lo[i])
            .map(|i| (self.at(i, lo[i] + (hi[i] - lo[i]) / 2), hi[i] - lo[i]))
            .collect();
        mids.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut seen = 0;
        for (v, w) in &mids {
            seen += w;
            if 2 * seen >= active {
                return Some(*v);
            }
        }
        mids.last().map(|m| m.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Rng;

    fn brute(x: &[f64], y: &[f64]) -> Vec<f64> {
        let mut d: Vec<f64> = x
            .iter()
            .flat_map(|a| y.iter().map(move |b| a - b))
            .collect();
        d.sort_by(f64::total_cmp);
        d
    }

    #[test]
    fn selection_matches_sorting_all_differences() {
        let mut r = Rng::new(7);
        for round in 0..60 {
            let n1 = 1 + r.range(0, 40) as usize;
            let n2 = 1 + r.range(0, 40) as usize;
            // Every third round: few distinct values, so many ties.
            let spread = if round % 3 == 0 { 4 } else { 1000 };
            let x: Vec<f64> = (0..n1).map(|_| r.range(0, spread) as f64 / 4.0).collect();
            let y: Vec<f64> = (0..n2).map(|_| r.range(0, spread) as f64 / 4.0).collect();
            let all = brute(&x, &y);
            let d = Differences::new(&x, &y);
            for (k, want) in all.iter().enumerate() {
                assert_eq!(d.kth(k), Some(*want), "round {round}, rank {k}");
            }
            assert_eq!(d.kth(all.len()), None);
        }
    }

    #[test]
    fn shift_and_interval() {
        let x = [12.0, 15.0, 9.0, 20.0, 17.0, 11.0, 14.0];
        let y = [8.0, 10.0, 7.0, 13.0, 9.0, 6.0];
        let h = hodges_lehmann(&x, &y);
        let all = brute(&x, &y);
        assert_eq!(h.shift, Some((all[20] + all[21]) / 2.0));
        // 42/2 − 1.96·√(42·14/12) = 7.28…, k = 7.
        assert_eq!(ci_rank(7, 6), Some(7));
        assert_eq!((h.ci_low, h.ci_high), (Some(all[7]), Some(all[34])));
        assert!(h.reason.is_none());
    }

    #[test]
    fn tiny_samples_have_a_shift_but_no_interval() {
        let h = hodges_lehmann(&[3.0], &[1.0]);
        assert_eq!(h.shift, Some(2.0));
        assert_eq!((h.ci_low, h.ci_high), (None, None));
        assert!(h.reason.unwrap().contains("more pairs"));
        assert_eq!(ci_rank(2, 2), None);
        assert_eq!(ci_rank(3, 3), Some(0));
    }

    #[test]
    fn empty_group_is_undefined() {
        let h = hodges_lehmann(&[1.0, 2.0], &[]);
        assert_eq!(h.shift, None);
        assert!(h.reason.unwrap().contains("y is empty"));
    }
}
