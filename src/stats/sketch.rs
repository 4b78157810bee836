//! Mergeable quantile sketch for percentiles kept in daily rollups.
//!
//! A [`QuantileSketch`] is a DDSketch (`sketches-ddsketch`) with relative accuracy
//! [`RELATIVE_ACCURACY`] = 0.5 %: for any q, the value it returns is within 0.5 % (relative) of
//! the sample's order statistic at rank ⌊q·(n−1)⌋. Sketches of disjoint samples merge exactly
//! (the merge equals the sketch of the union), so per-day sketches add up to any window. Against
//! numpy's interpolated percentiles the error stays ≤ 1 % on latency-like data (tested).
//!
//! Values in (−1e-9, 1e-9) count as zero; the sketch keeps at most 2048 bins per sign, enough
//! for a ratio of ~8·10⁸ between the smallest and largest value before the lowest bins collapse.
//!
//! Bytes for storage: one version byte, then the DDSketch Java-compatible encoding with its
//! `0x02` version prefix (written always: without it the crate's decoder misreads an empty
//! sketch). Decoding validates every field first, so corrupt bytes give an error, never a panic.

use std::fmt;

use sketches_ddsketch::{Config, DDSketch};

use super::StatsError;

/// Relative accuracy α of the sketch (0.5 %).
pub const RELATIVE_ACCURACY: f64 = 0.005;
/// Bins per sign before the lowest ones collapse (the crate's default, which decoding assumes).
pub(super) const MAX_BINS: u32 = 2048;
/// Magnitudes below this count as zero (the crate's default, which decoding assumes).
const MIN_VALUE: f64 = 1.0e-9;
/// Leading byte of the stored form.
const FORMAT_VERSION: u8 = 1;
/// Version prefix of the DDSketch Java-compatible encoding.
pub(super) const JAVA_VERSION_PREFIX: u8 = 0x02;

/// The sketch configuration every stored sketch was made with.
pub(super) fn config() -> Config {
    Config::new(RELATIVE_ACCURACY, MAX_BINS, MIN_VALUE)
}

/// A mergeable, serialisable quantile sketch with 0.5 % relative accuracy.
#[derive(Clone)]
pub struct QuantileSketch {
    inner: DDSketch,
}

impl Default for QuantileSketch {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for QuantileSketch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuantileSketch")
            .field("count", &self.count())
            .field("min", &self.inner.min())
            .field("max", &self.inner.max())
            .finish()
    }
}

impl QuantileSketch {
    /// An empty sketch.
    pub fn new() -> Self {
        QuantileSketch {
            inner: DDSketch::new(config()),
        }
    }

    /// Adds one value; NaN and infinities are rejected.
    pub fn add(&mut self, value: f64) -> Result<(), StatsError> {
        self.add_with_count(value, 1)
    }

    /// Adds `value` `count` times; NaN and infinities are rejected.
    pub fn add_with_count(&mut self, value: f64, count: u64) -> Result<(), StatsError> {
        if !value.is_finite() {
            return Err(StatsError::NonFinite {
                what: "sketch value",
                index: 0,
            });
        }
        if count > MAX_COUNT - self.count() {
            return Err(StatsError::Sketch("count overflow".into()));
        }
        self.inner.add_with_count(value, count);
        Ok(())
    }

    /// Merges `other` into this sketch (the result describes both samples).
    pub fn merge(&mut self, other: &QuantileSketch) -> Result<(), StatsError> {
        if other.count() > MAX_COUNT - self.count() {
            return Err(StatsError::Sketch("count overflow".into()));
        }
        self.inner
            .merge(&other.inner)
            .map_err(|e| StatsError::Sketch(e.to_string()))
    }

    /// The q-quantile, q in [0, 1] (0 and 1 give the exact min and max); `None` when the sketch
    /// is empty or q is outside [0, 1].
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.inner.quantile(q).ok().flatten()
    }

    /// The p-th percentile, p in [0, 100]; see [`QuantileSketch::quantile`].
    pub fn percentile(&self, p: f64) -> Option<f64> {
        self.quantile(p / 100.0)
    }

    /// Number of values added.
    pub fn count(&self) -> u64 {
        self.inner.count() as u64
    }

    /// True when no value was added.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Exact sum of the values added; `None` when empty.
    pub fn sum(&self) -> Option<f64> {
        self.inner.sum()
    }

    /// Exact mean of the values added; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        let n = self.count();
        self.sum().filter(|_| n > 0).map(|s| s / n as f64)
    }

    /// Exact smallest value; `None` when empty.
    pub fn min(&self) -> Option<f64> {
        self.inner.min()
    }

    /// Exact largest value; `None` when empty.
    pub fn max(&self) -> Option<f64> {
        self.inner.max()
    }

    /// Serialises the sketch for storage (e.g. a SQLite BLOB).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![FORMAT_VERSION, JAVA_VERSION_PREFIX];
        out.extend_from_slice(&self.inner.to_java_bytes());
        out
    }

    /// Restores a sketch written by [`QuantileSketch::to_bytes`]; corrupt or foreign bytes give
    /// an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StatsError> {
        let body = encoded_body(bytes)?;
        validate::encoding(&body[1..], config().gamma).map_err(StatsError::Sketch)?;
        Self::from_own_java_bytes(body)
    }

    /// The sketch of Java-compatible bytes (with their version prefix, without which the crate
    /// misreads an empty sketch) that this crate made or validated: decoded and merged into a
    /// fresh sketch.
    pub(super) fn from_own_java_bytes(encoded: &[u8]) -> Result<Self, StatsError> {
        let decoded =
            DDSketch::from_java_bytes(encoded).map_err(|e| StatsError::Sketch(e.to_string()))?;
        let mut sketch = QuantileSketch::new();
        sketch
            .inner
            .merge(&decoded)
            .map_err(|e| StatsError::Sketch(e.to_string()))?;
        Ok(sketch)
    }
}

/// The Java-compatible encoding inside stored bytes, from its version prefix on (checked).
pub(super) fn encoded_body(bytes: &[u8]) -> Result<&[u8], StatsError> {
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| StatsError::Sketch("empty input".into()))?;
    if version != FORMAT_VERSION {
        return Err(StatsError::Sketch(format!(
            "unsupported format version {version}"
        )));
    }
    match body.first() {
        Some(&JAVA_VERSION_PREFIX) => Ok(body),
        _ => Err(StatsError::Sketch("missing encoding version".into())),
    }
}

/// Largest total count a sketch accepts (counts are stored as doubles, exact up to 2⁵³).
pub(super) const MAX_COUNT: u64 = 1 << 53;

/// Strict check of the subset of the DDSketch binary encoding that `to_bytes` writes.
pub(super) mod validate {
    /// Largest |bin index| a finite f64 can map to at 0.5 % accuracy is ~71 000.
    const MAX_ABS_INDEX: i64 = 200_000;
    /// `to_bytes` writes at most 2048 bins per store.
    const MAX_BINS_PER_STORE: u64 = 4096;

    pub(in crate::stats) const COUNT: u8 = 0xA0;
    pub(in crate::stats) const MIN: u8 = 0x88;
    pub(in crate::stats) const MAX: u8 = 0x8C;
    pub(in crate::stats) const SUM: u8 = 0x84;
    pub(in crate::stats) const ZERO_COUNT: u8 = 0x04;
    pub(in crate::stats) const INDEX_MAPPING_LOG: u8 = 0x02;
    pub(in crate::stats) const POSITIVE_STORE: u8 = 0x05; // index deltas and counts
    pub(in crate::stats) const NEGATIVE_STORE: u8 = 0x07;

    /// What a valid encoding holds besides its bins.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub(in crate::stats) struct Summary {
        /// Values counted as zero.
        pub zero: u64,
        /// Exact sum (0 when the encoding has none).
        pub sum: f64,
        /// Exact smallest and largest value (when the sketch holds any).
        pub min_max: Option<(f64, f64)>,
        /// Values in the bins and the zero count together.
        pub total: u64,
    }

    /// Checks `body`; `gamma` is the mapping this build uses.
    pub(in crate::stats) fn encoding(body: &[u8], gamma: f64) -> Result<(), String> {
        parse(body, gamma, |_, _, _| {}).map(|_| ())
    }

    /// Checks `body` and hands every bin to `bin` (negative store?, key, count) as it is read;
    /// after an error the bins already handed over are not a sketch.
    pub(in crate::stats) fn parse(
        mut body: &[u8],
        gamma: f64,
        mut bin: impl FnMut(bool, i32, u64),
    ) -> Result<Summary, String> {
        let input = &mut body;
        let mut declared_count = None;
        let mut total: f64 = 0.0;
        let (mut min, mut max) = (None, None);
        let (mut zero, mut sum) = (0.0, 0.0);
        let mut seen_mapping = false;
        while let Some(flag) = byte(input)? {
            match flag {
                COUNT => declared_count = Some(count_value(var_double(input)?)? as f64),
                MIN => min = Some(finite(f64_le(input)?, "min")?),
                MAX => max = Some(finite(f64_le(input)?, "max")?),
                SUM => sum = finite(f64_le(input)?, "sum")?,
                INDEX_MAPPING_LOG => {
                    let g = f64_le(input)?;
                    let offset = f64_le(input)?;
                    if g.to_bits() != gamma.to_bits() || offset != 0.0 {
                        return Err(format!("sketch has a different accuracy (gamma {g})"));
                    }
                    seen_mapping = true;
                }
                ZERO_COUNT => {
                    let c = count_value(var_double(input)?)? as f64;
                    zero += c;
                    total += c;
                }
                POSITIVE_STORE => total += store(input, |k, c| bin(false, k, c))?,
                NEGATIVE_STORE => total += store(input, |k, c| bin(true, k, c))?,
                other => return Err(format!("unexpected flag byte 0x{other:02X}")),
            }
            if total > super::MAX_COUNT as f64 {
                return Err("count overflow".into());
            }
        }
        if !seen_mapping {
            return Err("missing index mapping".into());
        }
        if let Some(c) = declared_count {
            if c != total {
                return Err(format!("declared count {c} but bins hold {total}"));
            }
        }
        let min_max = match (total > 0.0, min, max) {
            (false, _, _) => None,
            (true, Some(lo), Some(hi)) if lo <= hi => Some((lo, hi)),
            _ => return Err("non-empty sketch without a valid min and max".into()),
        };
        // Whole counts up to 2^53: exact as integers.
        Ok(Summary {
            zero: zero as u64,
            sum,
            min_max,
            total: total as u64,
        })
    }

    fn store(input: &mut &[u8], mut bin: impl FnMut(i32, u64)) -> Result<f64, String> {
        let bins = var_long(input)?;
        if bins > MAX_BINS_PER_STORE {
            return Err(format!("{bins} bins in one store"));
        }
        let (mut index, mut total) = (0i64, 0u64);
        for _ in 0..bins {
            let encoded = var_long(input)?;
            let delta = ((encoded >> 1) as i64) ^ -((encoded & 1) as i64);
            index = index
                .checked_add(delta)
                .filter(|i| i.abs() <= MAX_ABS_INDEX)
                .ok_or("bin index out of range")?;
            let count = count_value(var_double(input)?)?;
            // Each count ≤ 2^53 and at most 4 096 of them: no overflow.
            total += count;
            // |index| ≤ MAX_ABS_INDEX fits an i32.
            bin(index as i32, count);
        }
        Ok(total as f64)
    }

    /// A stored count as a whole number: finite, ≥ 0, ≤ 2^53 and without a fraction.
    fn count_value(c: f64) -> Result<u64, String> {
        // In range first (NaN fails both), so the conversion is exact exactly when c is whole.
        if c >= 0.0 && c <= super::MAX_COUNT as f64 && (c as u64) as f64 == c {
            Ok(c as u64)
        } else {
            Err(format!("invalid count {c}"))
        }
    }

    fn finite(v: f64, what: &str) -> Result<f64, String> {
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("{what} is not finite"))
        }
    }

    fn byte(input: &mut &[u8]) -> Result<Option<u8>, String> {
        Ok(input.split_first().map(|(&b, rest)| {
            *input = rest;
            b
        }))
    }

    fn need(input: &mut &[u8]) -> Result<u8, String> {
        byte(input)?.ok_or_else(|| "truncated input".to_string())
    }

    fn f64_le(input: &mut &[u8]) -> Result<f64, String> {
        let (head, rest) = input.split_first_chunk::<8>().ok_or("truncated input")?;
        *input = rest;
        Ok(f64::from_le_bytes(*head))
    }

    fn var_long(input: &mut &[u8]) -> Result<u64, String> {
        // Most values (bin index deltas, bin counts) fit one byte.
        if let Some((&b, rest)) = input.split_first() {
            if b < 0x80 {
                *input = rest;
                return Ok(u64::from(b));
            }
        }
        let (mut value, mut shift) = (0u64, 0u32);
        loop {
            let next = need(input)?;
            if next < 0x80 || shift == 56 {
                return Ok(value | (u64::from(next) << shift));
            }
            value |= (u64::from(next) & 0x7F) << shift;
            shift += 7;
        }
    }

    fn var_double(input: &mut &[u8]) -> Result<f64, String> {
        let (mut bits, mut shift) = (0u64, 57i32);
        loop {
            let next = need(input)?;
            if shift == 1 {
                bits |= u64::from(next);
                break;
            }
            if next < 0x80 {
                bits |= u64::from(next) << shift;
                break;
            }
            bits |= (u64::from(next) & 0x7F) << shift;
            shift -= 7;
        }
        Ok(f64::from_bits(bits.rotate_right(6).wrapping_add(1f64.to_bits())) - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::quantile::SortedSample;

    /// Deterministic log-normal latencies (xorshift64* + Box–Muller), in milliseconds.
    fn lognormal(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.max(1);
        let mut uniform = move || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            ((s.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let z =
                    (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos();
                (7.0 + 1.3 * z).exp()
            })
            .collect()
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn merged_and_stored_sketch_is_within_one_percent_of_exact() {
        let data = lognormal(100_000, 42);
        let exact = SortedSample::new(data.clone()).unwrap();
        // Ten "days" sketched separately, stored as bytes, restored and merged.
        let mut merged = QuantileSketch::new();
        for chunk in data.chunks(10_000) {
            let mut day = QuantileSketch::new();
            for &v in chunk {
                day.add(v).unwrap();
            }
            let restored = QuantileSketch::from_bytes(&day.to_bytes()).unwrap();
            merged.merge(&restored).unwrap();
        }
        assert_eq!(merged.count(), 100_000);
        for q in [50.0, 75.0, 90.0, 95.0, 99.0] {
            let e = exact.percentile(q).unwrap();
            let s = merged.percentile(q).unwrap();
            assert!(rel(s, e) <= 0.01, "p{q}: sketch {s} exact {e}");
        }
        assert_eq!(merged.min(), exact.as_slice().first().copied());
        assert_eq!(merged.max(), exact.as_slice().last().copied());
    }

    #[test]
    fn merge_equals_sketch_of_union() {
        let data = lognormal(5_000, 7);
        let mut whole = QuantileSketch::new();
        let (mut a, mut b) = (QuantileSketch::new(), QuantileSketch::new());
        for (i, &v) in data.iter().enumerate() {
            whole.add(v).unwrap();
            if i % 3 == 0 { &mut a } else { &mut b }.add(v).unwrap();
        }
        a.merge(&b).unwrap();
        for q in [0.1, 0.5, 0.9, 0.95, 0.999] {
            assert_eq!(a.quantile(q), whole.quantile(q));
        }
    }

    #[test]
    fn round_trip_keeps_everything() {
        let mut s = QuantileSketch::new();
        for v in [0.0, 3.5, 120.0, 120.0, 9_000.0, -2.0] {
            s.add(v).unwrap();
        }
        s.add_with_count(40.0, 5).unwrap();
        let r = QuantileSketch::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(r.count(), s.count());
        assert_eq!((r.min(), r.max(), r.sum()), (s.min(), s.max(), s.sum()));
        for q in [0.0, 0.2, 0.5, 0.8, 1.0] {
            assert_eq!(r.quantile(q), s.quantile(q));
        }
        let empty = QuantileSketch::from_bytes(&QuantileSketch::new().to_bytes()).unwrap();
        assert!(empty.is_empty());
        assert_eq!((empty.quantile(0.5), empty.mean()), (None, None));
    }

    #[test]
    fn bad_values_and_bad_bytes_are_errors() {
        let mut s = QuantileSketch::new();
        assert!(s.add(f64::NAN).is_err());
        assert!(s.add(f64::INFINITY).is_err());
        assert!(s.is_empty());
        assert!(QuantileSketch::from_bytes(&[]).is_err());
        assert!(QuantileSketch::from_bytes(&[9, 2]).is_err());
        s.add(5.0).unwrap();
        let good = s.to_bytes();
        for cut in 1..good.len() {
            // Every truncation is either rejected or decodes to a valid sketch; never panics.
            let _ = QuantileSketch::from_bytes(&good[..cut]);
        }
        // A sketch made with another accuracy cannot be mixed in.
        let mut other = DDSketch::new(Config::new(0.01, MAX_BINS, MIN_VALUE));
        other.add(5.0);
        let mut foreign = vec![FORMAT_VERSION, JAVA_VERSION_PREFIX];
        foreign.extend(other.to_java_bytes());
        let err = QuantileSketch::from_bytes(&foreign).unwrap_err();
        assert!(err.to_string().contains("different accuracy"), "{err}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut input = vec![FORMAT_VERSION, JAVA_VERSION_PREFIX];
            input.extend(bytes);
            if let Ok(s) = QuantileSketch::from_bytes(&input) {
                let _ = s.quantile(0.5);
                let _ = s.to_bytes();
            }
        }
    }
}
