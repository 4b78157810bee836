//! Additive counters of calls: the counts and sums every trace-side indicator reads, with the
//! rules that make a missing and an empty name (or a non-positive status) the same thing on the
//! row path and the rollup path. No I/O.

use super::breakdown::latency_bucket;
use super::input::TraceRow;

/// Microseconds in one hour: rollup hours are `timestamp_us.div_euclid(HOUR_US)`.
pub const HOUR_US: i64 = 3_600_000_000;

/// A diff ratio at or above this counts as a high-quality acceptance (indicator 6).
pub const HIGH_DIFF_RATIO: f64 = 0.7;

/// The UTC hour (hours since the Unix epoch) holding an instant given in microseconds.
pub fn utc_hour(timestamp_us: i64) -> i64 {
    timestamp_us.div_euclid(HOUR_US)
}

/// A string that means something: `None` for a missing or empty value.
///
/// Rollup keys store a missing developer, model, session or error class as `''`, so an empty
/// string and no value are the same thing on both paths.
pub fn present(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty())
}

/// An HTTP status worth reporting: `None` when missing or not positive.
///
/// Rollup keys store "no status" as 0, so a zero or negative code and no code are the same thing
/// on both paths.
pub fn status_of(code: Option<i64>) -> Option<i64> {
    code.filter(|&c| c > 0)
}

/// The measured values of one call, as the counters read them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallMeasures {
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// Completion (output) tokens.
    pub output_tokens: i64,
    /// End-to-end latency (ms).
    pub latency_ms: Option<f64>,
    /// Time to first token (ms).
    pub ttft_ms: Option<f64>,
    /// Failed call.
    pub is_error: bool,
    /// Acceptance signal.
    pub accepted: Option<bool>,
    /// Diff ratio of the accepted change.
    pub diff_ratio: Option<f64>,
    /// Accepted lines.
    pub accepted_lines: Option<i64>,
    /// Cost (USD), `None` when unknown.
    pub cost_usd: Option<f64>,
}

impl CallMeasures {
    /// The measures of a report row.
    pub fn of_row(r: &TraceRow) -> Self {
        CallMeasures {
            tokens: r.tokens,
            output_tokens: r.output_tokens,
            latency_ms: r.latency_ms,
            ttft_ms: r.ttft_ms,
            is_error: r.is_error,
            accepted: r.accepted,
            diff_ratio: r.diff_ratio,
            accepted_lines: r.accepted_lines,
            cost_usd: r.cost_usd,
        }
    }

    /// The latency when it is a number.
    pub fn latency(&self) -> Option<f64> {
        self.latency_ms.filter(|v| v.is_finite())
    }

    /// The time to first token when it is a number.
    pub fn ttft(&self) -> Option<f64> {
        self.ttft_ms.filter(|v| v.is_finite())
    }

    /// The cost when it is known and a number.
    pub fn cost(&self) -> Option<f64> {
        self.cost_usd.filter(|v| v.is_finite())
    }
}

/// Additive counters of a set of calls: every count and sum the trace-side indicators read.
///
/// Signed, so that a correction (a row raised to larger token counts) can be applied as the
/// difference of two rows' counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counters {
    /// Calls.
    pub requests: i64,
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// Sum of known costs (USD).
    pub cost_usd: f64,
    /// Calls whose cost is unknown.
    pub cost_unknown: i64,
    /// Failed calls.
    pub errors: i64,
    /// Calls with an acceptance signal.
    pub signal: i64,
    /// Accepted calls.
    pub accepted: i64,
    /// Tokens of accepted calls.
    pub accepted_tokens: i64,
    /// Accepted lines of accepted calls reporting more than 0 lines.
    pub accepted_lines: i64,
    /// Tokens of those calls.
    pub line_tokens: i64,
    /// Calls with a diff ratio.
    pub diff_n: i64,
    /// Sum of diff ratios.
    pub diff_sum: f64,
    /// Diff ratios ≥ [`HIGH_DIFF_RATIO`].
    pub diff_high: i64,
    /// Calls with a latency, per [`super::breakdown::LATENCY_BUCKETS`] bucket.
    pub latency_buckets: [i64; 7],
    /// Calls with a time to first token.
    pub ttft_n: i64,
    /// Accepted calls reporting more than 0 accepted lines.
    pub line_calls: i64,
    /// Completion (output) tokens of those calls.
    pub line_output_tokens: i64,
}

impl Counters {
    /// The counters of one call.
    pub fn of_call(m: &CallMeasures) -> Self {
        let mut c = Counters {
            requests: 1,
            tokens: m.tokens,
            errors: i64::from(m.is_error),
            ..Counters::default()
        };
        match m.cost() {
            Some(cost) => c.cost_usd = cost,
            None => c.cost_unknown = 1,
        }
        if let Some(a) = m.accepted {
            c.signal = 1;
            if a {
                c.accepted = 1;
                c.accepted_tokens = m.tokens;
                if let Some(lines) = m.accepted_lines.filter(|&l| l > 0) {
                    c.accepted_lines = lines;
                    c.line_tokens = m.tokens;
                    c.line_calls = 1;
                    c.line_output_tokens = m.output_tokens;
                }
            }
        }
        if let Some(d) = m.diff_ratio.filter(|d| d.is_finite()) {
            c.diff_n = 1;
            c.diff_sum = d;
            c.diff_high = i64::from(d >= HIGH_DIFF_RATIO);
        }
        if let Some(l) = m.latency() {
            c.latency_buckets[latency_bucket(l)] = 1;
        }
        c.ttft_n = i64::from(m.ttft().is_some());
        c
    }

    /// Adds `o` (`sign` 1) or takes it away (`sign` -1).
    fn combine(&mut self, o: &Counters, sign: i64) {
        let f = sign as f64;
        self.requests += sign * o.requests;
        self.tokens += sign * o.tokens;
        self.cost_usd += f * o.cost_usd;
        self.cost_unknown += sign * o.cost_unknown;
        self.errors += sign * o.errors;
        self.signal += sign * o.signal;
        self.accepted += sign * o.accepted;
        self.accepted_tokens += sign * o.accepted_tokens;
        self.accepted_lines += sign * o.accepted_lines;
        self.line_tokens += sign * o.line_tokens;
        self.diff_n += sign * o.diff_n;
        self.diff_sum += f * o.diff_sum;
        self.diff_high += sign * o.diff_high;
        for (a, b) in self.latency_buckets.iter_mut().zip(o.latency_buckets) {
            *a += sign * b;
        }
        self.ttft_n += sign * o.ttft_n;
        self.line_calls += sign * o.line_calls;
        self.line_output_tokens += sign * o.line_output_tokens;
    }

    /// Adds `o`.
    pub fn add(&mut self, o: &Counters) {
        self.combine(o, 1);
    }

    /// Takes `o` away (the inverse of [`Counters::add`] for counts).
    pub fn sub(&mut self, o: &Counters) {
        self.combine(o, -1);
    }

    /// The change from `old` to `new`.
    pub fn delta(old: &Counters, new: &Counters) -> Counters {
        let mut d = *new;
        d.sub(old);
        d
    }

    /// Calls with a latency.
    pub fn latency_n(&self) -> i64 {
        self.latency_buckets.iter().sum()
    }

    /// Calls whose cost is known.
    pub fn known_cost_calls(&self) -> i64 {
        self.requests - self.cost_unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_and_take_back() {
        let m = CallMeasures {
            tokens: 120,
            output_tokens: 20,
            latency_ms: Some(1500.0),
            ttft_ms: Some(f64::NAN),
            accepted: Some(true),
            accepted_lines: Some(6),
            diff_ratio: Some(0.7),
            cost_usd: None,
            ..CallMeasures::default()
        };
        let c = Counters::of_call(&m);
        assert_eq!(
            (c.accepted_tokens, c.line_tokens, c.accepted_lines),
            (120, 120, 6)
        );
        assert_eq!((c.line_calls, c.line_output_tokens), (1, 20));
        assert_eq!((c.diff_high, c.cost_unknown, c.ttft_n), (1, 1, 0));
        assert_eq!(c.latency_buckets[1], 1);
        let raised = Counters::of_call(&CallMeasures {
            tokens: 300,
            output_tokens: 90,
            cost_usd: Some(0.25),
            ..m
        });
        let d = Counters::delta(&c, &raised);
        assert_eq!((d.requests, d.tokens, d.accepted_tokens), (0, 180, 180));
        assert_eq!((d.cost_unknown, d.cost_usd), (-1, 0.25));
        assert_eq!((d.line_calls, d.line_output_tokens), (0, 70));
        let mut back = c;
        back.add(&d);
        assert_eq!(back, raised);
    }
}
