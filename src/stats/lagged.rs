//! Daily series and lag pairing for AI → outcome associations.
//!
//! A [`DailySeries`] has one entry for every day of the window: from
//! [`DailySeries::complete`], days without activity are 0, never dropped; from
//! [`DailySeries::observed`], days without a value (no merge, so no median merge time) are
//! missing. [`lag_pairs`] and [`lagged_association`] read the values as stored (missing days as
//! 0): use them on complete series; [`crate::stats::adjusted::pair`] drops missing days. `--business-days` removes Saturdays and Sundays from both series before
//! pairing, so lags then count business days (Friday → Monday is lag 1).
//!
//! Lag k pairs the AI value of series position d with the outcome value of position d + k, for
//! every d such that both lie inside the series: n = days − k pairs. Fewer than [`MIN_PAIRS`]
//! pairs is a low sample (reported, but excluded from the multiple-comparison family).

use chrono::NaiveDate;
use serde::Serialize;

use super::calendar::{is_business_day, DayWindow};
use super::correlation::{pearson, spearman, Pearson, Spearman};
use super::StatsError;

/// Fewest lag pairs for an association to count as tested (fewer: `low_sample`).
pub const MIN_PAIRS: usize = 6;

/// One value per day, in day order, for consecutive days (or consecutive business days).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailySeries {
    days: Vec<NaiveDate>,
    values: Vec<f64>,
    /// False where the day has no value (a missing outcome, not a zero).
    present: Vec<bool>,
}

impl DailySeries {
    /// Builds the calendar-complete series of `window` from (day, value) points: values of the
    /// same day are summed, days without points are 0, points outside the window are ignored.
    pub fn complete(
        window: &DayWindow,
        points: impl IntoIterator<Item = (NaiveDate, f64)>,
    ) -> Result<Self, StatsError> {
        let mut values = vec![0.0; window.len()];
        for (i, (day, v)) in points.into_iter().enumerate() {
            if !v.is_finite() {
                return Err(StatsError::NonFinite {
                    what: "daily points",
                    index: i,
                });
            }
            if let Some(slot) = window.index_of(day).and_then(|k| values.get_mut(k)) {
                *slot += v;
            }
        }
        Ok(DailySeries {
            days: window.days().collect(),
            present: vec![true; values.len()],
            values,
        })
    }

    /// Builds the series of `window` where only days with a point have a value (e.g. the median
    /// merge time of days with merges); other days are missing, not 0. Points of one day are summed.
    pub fn observed(
        window: &DayWindow,
        points: impl IntoIterator<Item = (NaiveDate, f64)>,
    ) -> Result<Self, StatsError> {
        let mut present = vec![false; window.len()];
        let points: Vec<(NaiveDate, f64)> = points.into_iter().collect();
        for (day, _) in &points {
            if let Some(slot) = window.index_of(*day).and_then(|k| present.get_mut(k)) {
                *slot = true;
            }
        }
        let mut s = Self::complete(window, points)?;
        s.present = present;
        Ok(s)
    }

    /// The same series restricted to the days `keep` accepts.
    pub fn retain_days(&self, keep: impl Fn(NaiveDate) -> bool) -> Self {
        let mut s = DailySeries {
            days: Vec::new(),
            values: Vec::new(),
            present: Vec::new(),
        };
        for ((d, v), p) in self.days.iter().zip(&self.values).zip(&self.present) {
            if keep(*d) {
                s.days.push(*d);
                s.values.push(*v);
                s.present.push(*p);
            }
        }
        s
    }

    /// The same series with `f` applied to every value (missing days stay missing).
    pub fn map_values(&self, f: impl Fn(f64) -> f64) -> Self {
        DailySeries {
            days: self.days.clone(),
            values: self.values.iter().map(|v| f(*v)).collect(),
            present: self.present.clone(),
        }
    }

    /// The same series restricted to Monday–Friday.
    pub fn business_days_only(&self) -> Self {
        self.retain_days(is_business_day)
    }

    /// The value of position `i`, `None` when the day has none (or `i` is past the end).
    pub fn value(&self, i: usize) -> Option<f64> {
        match self.present.get(i) {
            Some(true) => self.values.get(i).copied(),
            _ => None,
        }
    }

    /// Number of days that have a value.
    pub fn observed_days(&self) -> usize {
        self.present.iter().filter(|p| **p).count()
    }

    /// The days, in order.
    pub fn days(&self) -> &[NaiveDate] {
        &self.days
    }

    /// The values, one per day (0 where a day is missing; see [`DailySeries::value`]).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Number of days in the series.
    pub fn len(&self) -> usize {
        self.days.len()
    }

    /// True when the series has no days (e.g. a weekend-only window with `--business-days`).
    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }
}

/// The (AI, outcome) pairs at one lag, borrowed from the two series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LagPairs<'a> {
    /// The lag k in series positions (days, or business days).
    pub lag: usize,
    /// Days whose AI value is paired (d).
    pub ai_days: &'a [NaiveDate],
    /// Days whose outcome value is paired (d + k).
    pub outcome_days: &'a [NaiveDate],
    /// AI values of `ai_days`.
    pub ai: &'a [f64],
    /// Outcome values of `outcome_days`.
    pub outcome: &'a [f64],
}

impl LagPairs<'_> {
    /// Number of pairs: days − lag (0 when the lag is as long as the series).
    pub fn n(&self) -> usize {
        self.ai.len()
    }

    /// True when there are fewer than [`MIN_PAIRS`] pairs.
    pub fn low_sample(&self) -> bool {
        self.n() < MIN_PAIRS
    }
}

/// Pairs AI day d with outcome day d + `lag` over two series covering the same days.
pub fn lag_pairs<'a>(
    ai: &'a DailySeries,
    outcome: &'a DailySeries,
    lag: usize,
) -> Result<LagPairs<'a>, StatsError> {
    if ai.days != outcome.days {
        return Err(StatsError::Misaligned(format!(
            "AI series has {} days, outcome series {} days, or their days differ",
            ai.len(),
            outcome.len()
        )));
    }
    let n = ai.len().saturating_sub(lag);
    Ok(LagPairs {
        lag,
        ai_days: &ai.days[..n],
        outcome_days: &outcome.days[lag.min(ai.len())..],
        ai: &ai.values[..n],
        outcome: &outcome.values[lag.min(ai.len())..],
    })
}

/// Correlation of an AI series with an outcome series at one lag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LaggedAssociation {
    /// The lag k (outcome day = AI day + k).
    pub lag: usize,
    /// Number of pairs.
    pub n: usize,
    /// Fewer than [`MIN_PAIRS`] pairs: reported, not part of the tested family.
    pub low_sample: bool,
    /// Pearson r, p-value and 95 % CI over the pairs.
    pub pearson: Pearson,
    /// Spearman ρ and p-value over the pairs.
    pub spearman: Spearman,
}

/// Computes Pearson and Spearman statistics of `ai` vs `outcome` at `lag`.
pub fn lagged_association(
    ai: &DailySeries,
    outcome: &DailySeries,
    lag: usize,
) -> Result<LaggedAssociation, StatsError> {
    let pairs = lag_pairs(ai, outcome, lag)?;
    Ok(LaggedAssociation {
        lag,
        n: pairs.n(),
        low_sample: pairs.low_sample(),
        pearson: pearson(pairs.ai, pairs.outcome),
        spearman: spearman(pairs.ai, pairs.outcome),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn window(a: &str, b: &str) -> DayWindow {
        DayWindow::new(d(a), d(b)).unwrap()
    }

    #[test]
    fn zero_days_are_kept_and_points_summed() {
        let w = window("2025-01-30", "2025-02-02");
        let s = DailySeries::complete(
            &w,
            [
                (d("2025-01-30"), 2.0),
                (d("2025-02-01"), 1.0),
                (d("2025-02-01"), 4.0),
                (d("2025-02-03"), 9.0), // outside: ignored
            ],
        )
        .unwrap();
        assert_eq!(s.values(), &[2.0, 0.0, 5.0, 0.0]);
        assert_eq!(s.days().len(), 4);
    }

    #[test]
    fn non_finite_point_is_an_error() {
        let w = window("2025-01-30", "2025-02-02");
        let err = DailySeries::complete(&w, [(d("2025-01-30"), f64::NAN)]).unwrap_err();
        assert!(matches!(err, StatsError::NonFinite { index: 0, .. }));
    }

    #[test]
    fn lag_crosses_month_end_and_shrinks_n() {
        let w = window("2025-01-29", "2025-02-03");
        let ai = DailySeries::complete(&w, [(d("2025-01-31"), 7.0)]).unwrap();
        let out = DailySeries::complete(&w, [(d("2025-02-01"), 3.0)]).unwrap();
        let p = lag_pairs(&ai, &out, 1).unwrap();
        assert_eq!(p.n(), 5);
        assert_eq!(p.ai_days[2], d("2025-01-31"));
        assert_eq!(p.outcome_days[2], d("2025-02-01"));
        assert_eq!((p.ai[2], p.outcome[2]), (7.0, 3.0));
        assert!(p.low_sample());
        assert!(!lag_pairs(&ai, &out, 0).unwrap().low_sample());
        let long = lag_pairs(&ai, &out, 10).unwrap();
        assert_eq!(long.n(), 0);
        assert!(long.outcome.is_empty());
    }

    #[test]
    fn business_days_pair_friday_with_monday() {
        let w = window("2025-10-03", "2025-10-07"); // Fri..Tue
        let ai = DailySeries::complete(&w, [(d("2025-10-03"), 1.0)]).unwrap();
        let ai = ai.business_days_only();
        assert_eq!(
            ai.days(),
            &[d("2025-10-03"), d("2025-10-06"), d("2025-10-07")]
        );
        let out = DailySeries::complete(&w, []).unwrap().business_days_only();
        let p = lag_pairs(&ai, &out, 1).unwrap();
        assert_eq!(
            (p.ai_days[0], p.outcome_days[0]),
            (d("2025-10-03"), d("2025-10-06"))
        );
    }

    #[test]
    fn misaligned_series_are_rejected() {
        let a = DailySeries::complete(&window("2025-10-01", "2025-10-05"), []).unwrap();
        let b = DailySeries::complete(&window("2025-10-02", "2025-10-06"), []).unwrap();
        assert!(matches!(
            lag_pairs(&a, &b, 0),
            Err(StatsError::Misaligned(_))
        ));
        let c = a.business_days_only();
        assert!(lagged_association(&a, &c, 0).is_err());
    }

    #[test]
    fn constant_outcome_gives_none_with_reason() {
        let w = window("2025-10-01", "2025-10-10");
        let ai = DailySeries::complete(&w, [(d("2025-10-03"), 5.0)]).unwrap();
        let out = DailySeries::complete(&w, []).unwrap();
        let a = lagged_association(&ai, &out, 1).unwrap();
        assert_eq!((a.n, a.low_sample), (9, false));
        assert_eq!(a.pearson.r, None);
        assert!(a.pearson.reason.unwrap().contains("constant"));
    }
}
