//! Latency distributions of the report: every value (exact mode) or a mergeable DDSketch
//! (rollups), and percentiles read from either with numpy's linear interpolation. No I/O.

use crate::stats::quantile::SortedSample;
use crate::stats::sketch::{QuantileSketch, RELATIVE_ACCURACY};

/// A distribution of latencies: every value (exact) or a mergeable sketch (rollups).
#[derive(Debug, Clone)]
pub enum Dist {
    /// Every value.
    Values(Vec<f64>),
    /// A DDSketch of the values.
    Sketch(QuantileSketch),
}

impl Default for Dist {
    fn default() -> Self {
        Dist::Values(Vec::new())
    }
}

impl Dist {
    /// Number of values described.
    pub fn len(&self) -> u64 {
        match self {
            Dist::Values(v) => v.len() as u64,
            Dist::Sketch(s) => s.count(),
        }
    }

    /// True when no value is described.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Percentiles `ps` (0–100) of the union of `dists`, in order.
///
/// Exact values give numpy's linear interpolation; sketches give the same interpolation between
/// sketched order statistics (see [`sketch_percentile`]). Mixed inputs are sketched.
pub fn percentiles<'a>(dists: impl IntoIterator<Item = &'a Dist>, ps: &[f64]) -> Vec<Option<f64>> {
    let mut values: Vec<f64> = Vec::new();
    let mut sketch: Option<QuantileSketch> = None;
    for d in dists {
        match d {
            Dist::Values(v) => values.extend_from_slice(v),
            Dist::Sketch(s) if !s.is_empty() => {
                // Sketches built with one configuration always merge; a failure leaves it out.
                let _ = sketch.get_or_insert_with(QuantileSketch::new).merge(s);
            }
            Dist::Sketch(_) => {}
        }
    }
    match sketch {
        None => match SortedSample::new(values) {
            Ok(s) => ps.iter().map(|&p| s.percentile(p)).collect(),
            Err(_) => vec![None; ps.len()],
        },
        Some(mut s) => {
            for v in values {
                let _ = s.add(v);
            }
            ps.iter().map(|&p| sketch_percentile(&s, p)).collect()
        }
    }
}

/// The sketch's estimate of the order statistic of rank `k` (0-based) of its `n` values.
///
/// The first and last are the exact minimum and maximum; the others are within the sketch's
/// relative accuracy of the true value, clamped to [min, max].
pub fn sketch_rank_value(s: &QuantileSketch, k: u64) -> Option<f64> {
    let n = s.count();
    let (min, max) = (s.min()?, s.max()?);
    if k == 0 {
        return Some(min);
    }
    if k + 1 >= n {
        return Some(max);
    }
    // The sketch reads rank ⌊q·(n−1)⌋; aiming at k + ½ keeps rounding from landing on k − 1.
    let q = (k as f64 + 0.5) / (n - 1) as f64;
    s.quantile(q).map(|v| v.clamp(min, max))
}

/// The p-th percentile (0–100) of a sketch with numpy's linear interpolation between the
/// sketched order statistics: for non-negative values it is within the sketch's relative
/// accuracy ([`RELATIVE_ACCURACY`]) of the exact percentile of the values.
pub fn sketch_percentile(s: &QuantileSketch, p: f64) -> Option<f64> {
    let n = s.count();
    if n == 0 || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let g = (p / 100.0) * (n - 1) as f64;
    let i = g.floor();
    let frac = g - i;
    let lo = sketch_rank_value(s, i as u64)?;
    if frac == 0.0 {
        return Some(lo);
    }
    let hi = sketch_rank_value(s, i as u64 + 1)?;
    Some(if frac < 0.5 {
        lo + frac * (hi - lo)
    } else {
        hi - (hi - lo) * (1.0 - frac)
    })
}

/// Relative accuracy of rollup percentiles (the sketch's α).
pub const PERCENTILE_RELATIVE_ERROR: f64 = RELATIVE_ACCURACY;

#[cfg(test)]
mod tests {
    use super::*;

    fn sketch(values: &[f64]) -> QuantileSketch {
        let mut s = QuantileSketch::new();
        for &v in values {
            s.add(v).unwrap();
        }
        s
    }

    #[test]
    fn sketch_percentiles_interpolate_like_numpy_within_alpha() {
        // Far-apart order statistics: interpolation matters, not just the rank.
        for values in [
            vec![100.0, 1_000.0],
            vec![5.0, 10.0, 40.0, 41.0, 900.0, 901.0, 5_000.0],
            (1..=97).map(|i| (i * i) as f64 * 3.7).collect::<Vec<_>>(),
            vec![250.0],
        ] {
            let exact = SortedSample::new(values.clone()).unwrap();
            let s = sketch(&values);
            for p in [0.0, 5.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 100.0] {
                let (e, got) = (
                    exact.percentile(p).unwrap(),
                    sketch_percentile(&s, p).unwrap(),
                );
                assert!(
                    (got - e).abs() <= PERCENTILE_RELATIVE_ERROR * e.abs() + 1e-12,
                    "p{p} of {values:?}: {got} vs {e}"
                );
            }
        }
        assert_eq!(sketch_percentile(&QuantileSketch::new(), 50.0), None);
        assert_eq!(sketch_percentile(&sketch(&[1.0]), 101.0), None);
    }
}
