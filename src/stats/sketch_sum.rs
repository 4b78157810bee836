//! Summing many stored sketches into one: the report's per-day latency and overall TTFT.
//!
//! Decoding each stored sketch into a DDSketch before merging it grows the decoded bins one at a
//! time, which was most of the cost of merging a month of rollup cells. A [`SketchSum`] adds the
//! stored bins straight into one dense array per sign and makes the sketch once, at the end.
//!
//! The result equals decoding every sketch with [`QuantileSketch::from_bytes`] and merging them
//! in the same order: the same bins, zero count, min and max, and the sums added in the same
//! order. That holds while each sign's bins span at most 2048 keys (values within a ratio of
//! ~8·10⁸ of each other); beyond that the lowest bins collapse into the lowest kept one when the
//! sketch is made, where one-by-one merges collapse them as they go (the quantiles above the
//! collapsed bins are the same either way).

use super::sketch::{config, encoded_body, validate, QuantileSketch, MAX_COUNT};
use super::StatsError;

/// The sum of many stored sketches, made into a [`QuantileSketch`] by [`SketchSum::finish`].
#[derive(Debug, Default)]
pub struct SketchSum {
    positive: Bins,
    negative: Bins,
    zero: u64,
    sum: f64,
    /// Exact smallest and largest value, once any value was added.
    min_max: Option<(f64, f64)>,
    count: u64,
}

/// Counts per key from `lo` on (zero where nothing was added).
#[derive(Debug, Default)]
struct Bins {
    lo: i32,
    counts: Vec<u64>,
}

impl Bins {
    fn add(&mut self, key: i32, count: u64) {
        if self.counts.is_empty() {
            self.lo = key;
        } else if key < self.lo {
            // Room below as well, so keys arriving in falling order do not shift every time.
            let grow = (self.lo - key) as usize + self.counts.len().min(256);
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.lo -= grow as i32;
        }
        let i = (key - self.lo) as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += count;
    }

    /// The non-empty bins in the DDSketch "index deltas and counts" encoding.
    fn encode(&self, flag: u8, out: &mut Vec<u8>) {
        let bins = self.counts.iter().filter(|&&c| c > 0).count();
        if bins == 0 {
            return;
        }
        out.push(flag);
        var_long(out, bins as u64);
        let mut previous = 0i64;
        for (i, &c) in self.counts.iter().enumerate().filter(|(_, &c)| c > 0) {
            let key = i64::from(self.lo) + i as i64;
            let delta = key - previous;
            var_long(out, ((delta >> 63) ^ (delta << 1)) as u64);
            var_double(out, c as f64);
            previous = key;
        }
    }
}

impl SketchSum {
    /// Adds one sketch stored by [`QuantileSketch::to_bytes`]; corrupt or foreign bytes give an
    /// error, after which the sum is spoilt.
    pub fn add_bytes(&mut self, bytes: &[u8]) -> Result<(), StatsError> {
        let body = encoded_body(bytes)?;
        let (positive, negative) = (&mut self.positive, &mut self.negative);
        let s = validate::parse(&body[1..], config().gamma, |negative_store, key, count| {
            if negative_store {
                negative.add(key, count);
            } else {
                positive.add(key, count);
            }
        })
        .map_err(StatsError::Sketch)?;
        let Some((lo, hi)) = s.min_max else {
            // An empty sketch merges as nothing.
            return Ok(());
        };
        if s.total > MAX_COUNT - self.count {
            return Err(StatsError::Sketch("count overflow".into()));
        }
        self.count += s.total;
        self.zero += s.zero;
        self.sum += s.sum;
        self.min_max = Some(match self.min_max {
            None => (lo, hi),
            // The comparisons DDSketch's merge makes (so −0 and 0 keep the first seen).
            Some((min, max)) => (
                if lo < min { lo } else { min },
                if hi > max { hi } else { max },
            ),
        });
        Ok(())
    }

    /// True when no value was added.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The sketch of every value added.
    pub fn finish(&self) -> Result<QuantileSketch, StatsError> {
        let Some((min, max)) = self.min_max else {
            return Ok(QuantileSketch::new());
        };
        // The version prefix first, so the mapping's flag byte is never taken for it.
        let mut out = vec![super::sketch::JAVA_VERSION_PREFIX, validate::MIN];
        out.extend_from_slice(&min.to_le_bytes());
        out.push(validate::MAX);
        out.extend_from_slice(&max.to_le_bytes());
        if self.sum != 0.0 {
            out.push(validate::SUM);
            out.extend_from_slice(&self.sum.to_le_bytes());
        }
        out.push(validate::INDEX_MAPPING_LOG);
        out.extend_from_slice(&config().gamma.to_le_bytes());
        out.extend_from_slice(&0f64.to_le_bytes());
        if self.zero > 0 {
            out.push(validate::ZERO_COUNT);
            var_double(&mut out, self.zero as f64);
        }
        self.positive.encode(validate::POSITIVE_STORE, &mut out);
        self.negative.encode(validate::NEGATIVE_STORE, &mut out);
        QuantileSketch::from_own_java_bytes(&out)
    }
}

/// DDSketch's unsigned variable-length integer.
fn var_long(out: &mut Vec<u8>, mut value: u64) {
    let length = ((63 - value.leading_zeros() as i32) / 7).clamp(0, 8);
    for _ in 0..length {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// DDSketch's variable-length double (short for small whole numbers).
fn var_double(out: &mut Vec<u8>, value: f64) {
    let mut bits = (value + 1.0)
        .to_bits()
        .wrapping_sub(1f64.to_bits())
        .rotate_left(6);
    for _ in 0..8 {
        let next = (bits >> 57) as u8;
        bits <<= 7;
        if bits == 0 {
            out.push(next);
            return;
        }
        out.push(next | 0x80);
    }
    out.push((bits >> 56) as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sketch of one-by-one decoding and merging, as the report did before.
    fn one_by_one(stored: &[Vec<u8>]) -> QuantileSketch {
        let mut acc = QuantileSketch::new();
        for b in stored {
            let s = QuantileSketch::from_bytes(b).unwrap();
            if !s.is_empty() {
                acc.merge(&s).unwrap();
            }
        }
        acc
    }

    fn summed(stored: &[Vec<u8>]) -> QuantileSketch {
        let mut sum = SketchSum::default();
        for b in stored {
            sum.add_bytes(b).unwrap();
        }
        sum.finish().unwrap()
    }

    fn stored(values: &[f64]) -> Vec<u8> {
        let mut s = QuantileSketch::new();
        for &v in values {
            s.add(v).unwrap();
        }
        s.to_bytes()
    }

    fn assert_same(a: &QuantileSketch, b: &QuantileSketch) {
        assert_eq!(a.count(), b.count());
        assert_eq!((a.min(), a.max()), (b.min(), b.max()));
        assert_eq!(a.sum().map(f64::to_bits), b.sum().map(f64::to_bits));
        for i in 0..=200 {
            let q = f64::from(i) / 200.0;
            assert_eq!(a.quantile(q), b.quantile(q), "q{q}");
        }
    }

    #[test]
    fn equals_merging_one_by_one() {
        let sketches: Vec<Vec<u8>> = (0..300u32)
            .map(|i| {
                let n = i % 17;
                let values: Vec<f64> = (0..n)
                    .map(|j| match (i + j) % 9 {
                        0 => 0.0,
                        1 => -f64::from(j + 1) * 3.7,
                        _ => f64::from((i * 31 + j * 7) % 5000) + 0.25,
                    })
                    .collect();
                stored(&values)
            })
            .collect();
        assert_same(&summed(&sketches), &one_by_one(&sketches));
        // Falling values: keys arrive below the array's start again and again.
        let falling: Vec<Vec<u8>> = (1..400)
            .rev()
            .map(|i| stored(&[f64::from(i) * 1.5]))
            .collect();
        assert_same(&summed(&falling), &one_by_one(&falling));
    }

    #[test]
    fn nothing_or_only_empty_sketches_give_an_empty_sketch() {
        let mut sum = SketchSum::default();
        assert!(sum.is_empty());
        assert!(sum.finish().unwrap().is_empty());
        sum.add_bytes(&stored(&[])).unwrap();
        assert!(sum.is_empty());
        let s = sum.finish().unwrap();
        assert_eq!((s.count(), s.quantile(0.5), s.sum()), (0, None, None));
        // Only zeros: no bins, no sum.
        let zeros = vec![stored(&[0.0, 0.0]), stored(&[0.0])];
        assert_same(&summed(&zeros), &one_by_one(&zeros));
    }

    #[test]
    fn bad_bytes_are_errors() {
        let mut sum = SketchSum::default();
        assert!(sum.add_bytes(&[]).is_err());
        assert!(sum.add_bytes(&[1, 9]).is_err());
        let good = stored(&[5.0, 7.0]);
        for cut in 2..good.len() {
            let mut s = SketchSum::default();
            // Every truncation is rejected or reads as a valid sketch; never a panic.
            if s.add_bytes(&good[..cut]).is_ok() {
                s.finish().unwrap();
            }
        }
    }

    #[test]
    fn a_span_beyond_the_bin_limit_keeps_the_upper_quantiles() {
        // 1e-6 … 1e6 spans more than 2048 keys at 0.5 % accuracy: the lowest bins collapse.
        let sketches: Vec<Vec<u8>> = (-6..=6)
            .map(|e| stored(&[10f64.powi(e), 2.0 * 10f64.powi(e)]))
            .collect();
        let (a, b) = (summed(&sketches), one_by_one(&sketches));
        assert_eq!((a.count(), a.min(), a.max()), (b.count(), b.min(), b.max()));
        for q in [0.5, 0.75, 0.9, 0.99, 1.0] {
            assert_eq!(a.quantile(q), b.quantile(q), "q{q}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_values_sum_as_they_merge(
            cells in proptest::collection::vec(
                proptest::collection::vec(-1.0e4f64..1.0e5, 0..12), 0..40)
        ) {
            let sketches: Vec<Vec<u8>> = cells.iter().map(|v| stored(v)).collect();
            assert_same(&summed(&sketches), &one_by_one(&sketches));
        }
    }
}
