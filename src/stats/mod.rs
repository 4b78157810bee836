//! Statistics core: pure, I/O-free functions behind the report's numbers.
//!
//! Every function here is checked against scipy/numpy reference values
//! (`tools/gen_stats_fixtures.py` → `tests/fixtures/stats/*.json`, asserted by
//! `tests/stats_fixtures.rs`). An undefined statistic is `None` with a reason, never NaN.
//!
//! - [`correlation`]: Pearson r (t-test p-value, Fisher-z 95 % CI) and Spearman ρ.
//! - [`rank`]: average ranks with ties (Spearman's input).
//! - [`adjusted`]: calendar-adjusted (partial) Pearson and Spearman correlations, permutation p.
//! - [`lagged`]: calendar-complete daily series and lag pairing.
//! - [`cohort`]: two-group comparisons of PRs (Mann–Whitney, Hodges–Lehmann, rates, strata).
//! - [`multiple`]: Benjamini–Hochberg adjusted p-values over a family of tests.
//! - [`quantile`]: exact percentiles (numpy's linear interpolation) and mean.
//! - [`sketch`]: mergeable, serialisable DDSketch for percentiles kept in rollups.
//! - [`sketch_sum`]: many stored sketches summed into one without decoding each.
//! - [`calendar`]: UTC instants → calendar days in an IANA timezone, ISO weeks, business days.

pub mod adjusted;
pub mod calendar;
pub mod cohort;
pub mod correlation;
pub mod lagged;
pub mod multiple;
pub mod quantile;
pub mod rank;
pub mod sketch;
pub mod sketch_sum;

/// Why a statistics input was rejected (the caller's data, not a bug).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A value that must be finite was NaN or infinite.
    #[error("{what} contains a non-finite value at index {index}")]
    NonFinite {
        /// Which input was at fault.
        what: &'static str,
        /// Position of the first offending value.
        index: usize,
    },
    /// A p-value outside [0, 1].
    #[error("p-value {value} at index {index} is outside [0, 1]")]
    PValueOutOfRange {
        /// Position of the offending p-value.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// Two series that must line up do not.
    #[error("series do not line up: {0}")]
    Misaligned(String),
    /// A date window whose end lies before its start, or is too long.
    #[error("invalid window: {0}")]
    InvalidWindow(String),
    /// An unknown IANA timezone name.
    #[error("unknown timezone {0:?} (expected an IANA name such as Europe/Berlin or UTC)")]
    UnknownTimezone(String),
    /// A quantile sketch could not be decoded or merged.
    #[error("quantile sketch: {0}")]
    Sketch(String),
}

/// Returns the index of the first non-finite value, if any.
pub(crate) fn first_non_finite(values: &[f64]) -> Option<usize> {
    values.iter().position(|v| !v.is_finite())
}
