//! Exact percentiles and summaries of a sample.
//!
//! Percentile definition (numpy's default, `np.percentile(x, q)`, "linear"): sort the n values
//! x₀ ≤ … ≤ xₙ₋₁, let g = q/100·(n−1), i = ⌊g⌋, f = g − i; the percentile is
//! xᵢ + f·(xᵢ₊₁ − xᵢ) (xₙ₋₁ when i = n−1). Median = 50th percentile; mean = Σx/n.

use serde::Serialize;

use super::StatsError;

/// A sample sorted once, so that several percentiles can be read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct SortedSample(Vec<f64>);

impl SortedSample {
    /// Sorts `values`; any NaN or infinite value is rejected.
    pub fn new(mut values: Vec<f64>) -> Result<Self, StatsError> {
        if let Some(index) = super::first_non_finite(&values) {
            return Err(StatsError::NonFinite {
                what: "sample",
                index,
            });
        }
        values.sort_by(f64::total_cmp);
        Ok(SortedSample(values))
    }

    /// The `q`-th percentile (q in [0, 100]) by linear interpolation; `None` when the sample is
    /// empty or q is outside [0, 100].
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let x = &self.0;
        if x.is_empty() || !(0.0..=100.0).contains(&q) {
            return None;
        }
        let g = (q / 100.0) * (x.len() - 1) as f64;
        let i = g.floor();
        let frac = g - i;
        // g ∈ [0, n−1], so i is a valid index.
        let i = i as usize;
        let lo = x[i];
        let Some(&hi) = x.get(i + 1) else {
            return Some(lo);
        };
        // numpy's _lerp: accurate from whichever end is nearer.
        Some(if frac < 0.5 {
            lo + frac * (hi - lo)
        } else {
            hi - (hi - lo) * (1.0 - frac)
        })
    }

    /// The median (50th percentile); `None` when empty.
    pub fn median(&self) -> Option<f64> {
        self.percentile(50.0)
    }

    /// The arithmetic mean; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        mean(&self.0)
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sorted values.
    pub fn as_slice(&self) -> &[f64] {
        &self.0
    }
}

/// The arithmetic mean of `values`; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// The `q`-th percentile of unsorted `values` (see [`SortedSample::percentile`]).
pub fn percentile(values: &[f64], q: f64) -> Result<Option<f64>, StatsError> {
    Ok(SortedSample::new(values.to_vec())?.percentile(q))
}

/// Distribution summary used for latencies and merge times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Smallest value.
    pub min: f64,
    /// 50th percentile.
    pub median: f64,
    /// 75th percentile.
    pub p75: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Largest value.
    pub max: f64,
}

/// Summarises `values`: `Ok(None)` when empty, an error when a value is not finite.
pub fn summarize(values: &[f64]) -> Result<Option<Summary>, StatsError> {
    let s = SortedSample::new(values.to_vec())?;
    let (Some(&min), Some(&max)) = (s.0.first(), s.0.last()) else {
        return Ok(None);
    };
    let p = |q: f64| s.percentile(q).unwrap_or(f64::NAN); // non-empty: always Some
    Ok(Some(Summary {
        n: s.len(),
        mean: s.mean().unwrap_or(f64::NAN),
        min,
        median: p(50.0),
        p75: p(75.0),
        p90: p(90.0),
        p95: p(95.0),
        max,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_linear_interpolation() {
        // np.percentile([7, 1, 3, 9, 5], [0, 25, 40, 90, 100]) == [1, 3, 4.2, 8.2, 9]
        let s = SortedSample::new(vec![7.0, 1.0, 3.0, 9.0, 5.0]).unwrap();
        let got: Vec<f64> = [0.0, 25.0, 40.0, 90.0, 100.0]
            .iter()
            .map(|&q| s.percentile(q).unwrap())
            .collect();
        let want = [1.0, 3.0, 4.2, 8.2, 9.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
    }

    #[test]
    fn empty_and_invalid() {
        let s = SortedSample::new(vec![]).unwrap();
        assert_eq!((s.percentile(50.0), s.mean()), (None, None));
        assert_eq!(summarize(&[]).unwrap(), None);
        let one = SortedSample::new(vec![3.0]).unwrap();
        assert_eq!(one.percentile(101.0), None);
        assert_eq!(one.percentile(f64::NAN), None);
        assert_eq!(one.percentile(95.0), Some(3.0));
        assert!(SortedSample::new(vec![1.0, f64::INFINITY]).is_err());
        assert!(percentile(&[f64::NAN], 50.0).is_err());
    }

    #[test]
    fn summary_fields() {
        let s = summarize(&[4.0, 1.0, 2.0, 3.0]).unwrap().unwrap();
        assert_eq!(
            (s.n, s.min, s.max, s.mean, s.median),
            (4, 1.0, 4.0, 2.5, 2.5)
        );
        assert!((s.p75 - 3.25).abs() < 1e-12 && (s.p95 - 3.85).abs() < 1e-12);
    }
}
