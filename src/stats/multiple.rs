//! Benjamini–Hochberg false-discovery-rate adjustment over a family of p-values.
//!
//! Definition (matches `scipy.stats.false_discovery_control(ps, method='bh')`): sort the m
//! p-values ascending, p₍₁₎ ≤ … ≤ p₍ₘ₎; the adjusted value of rank i is
//! min over j ≥ i of p₍ⱼ₎·m/j (the running minimum from the largest rank down, so adjusted
//! values are monotone in the raw ones), capped at 1, and returned in input order.
//! A hypothesis is significant when its adjusted p-value is ≤ q.

use serde::Serialize;

use super::StatsError;

/// False-discovery rate at which hypotheses are flagged significant.
pub const DEFAULT_Q: f64 = 0.05;

/// The BH outcome for a family of tests, in the order the p-values were given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BhFamily {
    /// Family size (number of p-values tested together).
    pub m: usize,
    /// False-discovery rate used for the flags.
    pub q: f64,
    /// BH-adjusted p-values, input order.
    pub adjusted: Vec<f64>,
    /// `adjusted[i] <= q`, input order.
    pub significant: Vec<bool>,
}

/// Returns BH-adjusted p-values in input order (empty input gives an empty vector).
///
/// Every p-value must lie in [0, 1]; NaN or out-of-range values are rejected.
pub fn bh_adjust(p_values: &[f64]) -> Result<Vec<f64>, StatsError> {
    for (index, &value) in p_values.iter().enumerate() {
        if !(0.0..=1.0).contains(&value) {
            return Err(StatsError::PValueOutOfRange { index, value });
        }
    }
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = f64::INFINITY;
    for (pos, &i) in order.iter().enumerate().rev() {
        let rank = (pos + 1) as f64;
        running = running.min(p_values[i] * (m as f64 / rank));
        adjusted[i] = running.min(1.0);
    }
    Ok(adjusted)
}

/// Adjusts a family of p-values and flags those significant at false-discovery rate `q`.
pub fn bh_family(p_values: &[f64], q: f64) -> Result<BhFamily, StatsError> {
    let adjusted = bh_adjust(p_values)?;
    let significant = adjusted.iter().map(|&a| a <= q).collect();
    Ok(BhFamily {
        m: p_values.len(),
        q,
        adjusted,
        significant,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_family() {
        let f = bh_family(&[], DEFAULT_Q).unwrap();
        assert_eq!((f.m, f.adjusted.len(), f.significant.len()), (0, 0, 0));
    }

    #[test]
    fn monotone_capped_and_in_input_order() {
        // m = 3: raw p·m/rank is 0.03, 0.0525 (for 0.035), 0.04 (for 0.04): not monotone.
        // The running minimum from the top gives 0.03, 0.04, 0.04.
        let adj = bh_adjust(&[0.01, 0.04, 0.035]).unwrap();
        let want = [0.03, 0.04, 0.04];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-15, "{adj:?}");
        }
        let capped = bh_adjust(&[0.9, 0.99, 0.6]).unwrap();
        assert_eq!(capped, vec![0.99; 3]);
    }

    #[test]
    fn ties_get_equal_adjusted_values() {
        let adj = bh_adjust(&[0.02, 0.5, 0.02, 0.02]).unwrap();
        assert_eq!(adj[0], adj[2]);
        assert_eq!(adj[0], adj[3]);
    }

    #[test]
    fn flags_use_adjusted_values() {
        let f = bh_family(&[0.01, 0.04, 0.2], 0.05).unwrap();
        assert_eq!(f.significant, vec![true, false, false]);
        assert_eq!(f.m, 3);
    }

    #[test]
    fn invalid_p_values_are_rejected() {
        assert!(matches!(
            bh_adjust(&[0.1, f64::NAN]),
            Err(StatsError::PValueOutOfRange { index: 1, .. })
        ));
        assert!(bh_adjust(&[1.5]).is_err());
        assert!(bh_adjust(&[-0.1]).is_err());
    }
}
