//! Calendar-adjusted ("partial") correlations of an AI series with an outcome series at a lag.
//!
//! Two daily series that both drop at weekends, both grow over the weeks, or both stop on a
//! holiday are correlated through the calendar alone. Before correlating, both series are
//! therefore regressed on the calendar and only their residuals are compared
//! (Frisch–Waugh–Lovell):
//!
//! 1. Pairs: AI value at series position i with the outcome value at position i + lag; pairs
//!    whose outcome is missing (e.g. no merge that day, so no median merge time) are dropped.
//!    n = pairs kept.
//! 2. Covariates Z, candidate columns in this order: intercept; with [`Adjust::Calendar`] also a
//!    linear trend (calendar days from the series' first day to the AI day), day-of-week dummies
//!    of the AI day (Tuesday … Sunday; Monday is the baseline) and of the outcome day. A column
//!    is kept when its residual on the columns already kept is longer than 1e-8 × its own
//!    length, so collinear or empty columns (e.g. outcome-day dummies when the lag is fixed,
//!    weekend dummies with `--business-days`) drop out. q = kept columns − 1.
//! 3. Residuals e_x, e_y of both series on Z (least squares). Partial Pearson r = Pearson r of
//!    (e_x, e_y); two-sided p from Student's t with df = n − 2 − q; 95 % CI
//!    tanh(atanh r ± z₀.₉₇₅ / √(n − q − 3)). Partial Spearman ρ: the same on the average ranks of
//!    the two series (ranks over the kept pairs), same df.
//! 4. Optional permutation p: the outcome residuals are shuffled within groups of the outcome
//!    day's weekday, N times with a fixed seed; p = (1 + #{|r*| ≥ |r|}) / (N + 1).
//!
//! Undefined results are `None` with a reason: fewer than 3 pairs, no degrees of freedom left
//! (df < 1), or a residual of (numerically) zero length: the series is constant or wholly
//! explained by the calendar. Checked against statsmodels in `tests/partial_fixtures.rs`
//! (values from `tools/gen_partial_fixtures.py`).

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use super::correlation::{self, Pearson, Spearman, CONFIDENCE_LEVEL};
use super::lagged::DailySeries;
use super::rank::average_ranks;
use super::StatsError;

/// Relative length under which a candidate covariate column counts as collinear.
pub const COLLINEAR_TOLERANCE: f64 = 1e-8;
/// Relative length under which a residual counts as zero (constant or calendar-explained series).
pub const CONSTANT_TOLERANCE: f64 = 1e-10;
/// Power at which [`detectable_r`] is computed.
pub const DETECTABLE_POWER: f64 = 0.80;
/// Two-sided significance level at which [`detectable_r`] is computed.
pub const DETECTABLE_ALPHA: f64 = 0.05;
/// Seed of the within-weekday permutation test (fixed: the same data give the same p).
pub const PERMUTATION_SEED: u64 = 0x05EE_DCA1_E11D_A7E5;

/// What the two series are adjusted for before they are correlated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Adjust {
    /// Day-of-week effects and a linear trend (holidays are dropped from both series).
    #[default]
    Calendar,
    /// Nothing: plain Pearson and Spearman of the pairs (exploratory only).
    None,
}

impl Adjust {
    /// The name used in reports (`calendar` or `none`).
    pub fn name(self) -> &'static str {
        match self {
            Adjust::Calendar => "calendar",
            Adjust::None => "none",
        }
    }
}

/// The (AI, outcome) pairs at one lag, with the day of each side.
#[derive(Debug, Clone, PartialEq)]
pub struct Paired {
    /// First day of the series (origin of the trend).
    pub origin: Option<NaiveDate>,
    /// Day of each pair's AI value.
    pub ai_days: Vec<NaiveDate>,
    /// Day of each pair's outcome value.
    pub outcome_days: Vec<NaiveDate>,
    /// AI values.
    pub x: Vec<f64>,
    /// Outcome values.
    pub y: Vec<f64>,
}

impl Paired {
    /// Number of pairs.
    pub fn n(&self) -> usize {
        self.x.len()
    }
}

/// Pairs AI position i with outcome position i + `lag`, dropping pairs where either is missing.
pub fn pair(ai: &DailySeries, outcome: &DailySeries, lag: usize) -> Result<Paired, StatsError> {
    if ai.days() != outcome.days() {
        return Err(StatsError::Misaligned(format!(
            "AI series has {} days, outcome series {} days, or their days differ",
            ai.len(),
            outcome.len()
        )));
    }
    let days = ai.days();
    let mut p = Paired {
        origin: days.first().copied(),
        ai_days: Vec::new(),
        outcome_days: Vec::new(),
        x: Vec::new(),
        y: Vec::new(),
    };
    for i in 0..days.len().saturating_sub(lag) {
        if let (Some(x), Some(y)) = (ai.value(i), outcome.value(i + lag)) {
            p.ai_days.push(days[i]);
            p.outcome_days.push(days[i + lag]);
            p.x.push(x);
            p.y.push(y);
        }
    }
    Ok(p)
}

/// The calendar covariates actually used for one set of pairs, as an orthonormal basis.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// Names of the kept columns, in order (`intercept`, `trend`, `ai_dow_tue`, …).
    pub columns: Vec<String>,
    basis: Vec<Vec<f64>>,
}

impl Design {
    /// Number of covariates besides the intercept (q).
    pub fn q(&self) -> usize {
        self.columns.len().saturating_sub(1)
    }

    /// Residual of `v` after least-squares projection on the kept columns.
    pub fn residual(&self, v: &[f64]) -> Vec<f64> {
        let mut r = v.to_vec();
        // Two passes of Gram–Schmidt projection keep the residual orthogonal to rounding level.
        for _ in 0..2 {
            for b in &self.basis {
                let c = dot(&r, b);
                r.iter_mut().zip(b).for_each(|(x, bi)| *x -= c * bi);
            }
        }
        r
    }
}

const DOW: [(Weekday, &str); 6] = [
    (Weekday::Tue, "tue"),
    (Weekday::Wed, "wed"),
    (Weekday::Thu, "thu"),
    (Weekday::Fri, "fri"),
    (Weekday::Sat, "sat"),
    (Weekday::Sun, "sun"),
];

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// Builds the covariates of `p` under `adjust` (greedy selection of independent columns).
pub fn design(p: &Paired, adjust: Adjust) -> Design {
    let n = p.n();
    let mut candidates: Vec<(String, Vec<f64>)> = vec![("intercept".into(), vec![1.0; n])];
    if adjust == Adjust::Calendar {
        let origin = p.origin.unwrap_or_default();
        candidates.push((
            "trend".into(),
            p.ai_days
                .iter()
                .map(|d| (*d - origin).num_days() as f64)
                .collect(),
        ));
        for (side, days) in [("ai", &p.ai_days), ("out", &p.outcome_days)] {
            for (wd, name) in DOW {
                candidates.push((
                    format!("{side}_dow_{name}"),
                    days.iter()
                        .map(|d| if d.weekday() == wd { 1.0 } else { 0.0 })
                        .collect(),
                ));
            }
        }
    }
    let mut d = Design {
        columns: Vec::new(),
        basis: Vec::new(),
    };
    for (name, col) in candidates {
        let len = norm(&col);
        if len == 0.0 || !len.is_finite() {
            continue;
        }
        let r = d.residual(&col);
        let rlen = norm(&r);
        if rlen > COLLINEAR_TOLERANCE * len {
            d.basis.push(r.into_iter().map(|v| v / rlen).collect());
            d.columns.push(name);
        }
    }
    d
}

/// Partial (calendar-adjusted) and raw correlations of one set of pairs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartialAssociation {
    /// Pairs.
    pub n: usize,
    /// Covariates besides the intercept.
    pub q: usize,
    /// Degrees of freedom of the t-test (n − 2 − q), when positive.
    pub df: Option<usize>,
    /// Kept covariate columns.
    pub covariates: Vec<String>,
    /// Partial Pearson r, p (df = n − 2 − q) and Fisher-z CI (on n − q).
    pub pearson: Pearson,
    /// Partial Spearman ρ and p (ranks, then the same adjustment).
    pub spearman: Spearman,
    /// Plain Pearson of the same pairs (exploratory).
    pub raw_pearson: Pearson,
    /// Plain Spearman of the same pairs (exploratory).
    pub raw_spearman: Spearman,
    /// Within-weekday permutation p of the partial Pearson r, when asked for.
    pub permutation_p: Option<f64>,
}

/// Computes the partial and raw correlations of `p` under `adjust`; `permutations` > 0 adds a
/// within-weekday permutation p.
pub fn partial_association(p: &Paired, adjust: Adjust, permutations: usize) -> PartialAssociation {
    let n = p.n();
    let d = design(p, adjust);
    let q = d.q();
    let df = n.checked_sub(2 + q).filter(|&v| v >= 1);
    let raw_pearson = correlation::pearson(&p.x, &p.y);
    let raw_spearman = correlation::spearman(&p.x, &p.y);
    let (pearson, spearman) = if adjust == Adjust::None {
        // Nothing removed: the plain figures, exactly.
        (raw_pearson.clone(), raw_spearman.clone())
    } else {
        let (rx, ry) = (average_ranks(&p.x), average_ranks(&p.y));
        let sp = partial_pearson(&d, &rx, &ry, n, df);
        (
            partial_pearson(&d, &p.x, &p.y, n, df),
            Spearman {
                r: sp.r,
                p_value: sp.p_value,
                n,
                reason: sp.reason.filter(|_| sp.r.is_none()),
            },
        )
    };
    let permutation_p = match (permutations, pearson.r) {
        (k, Some(r)) if k > 0 => Some(permutation_p(&d, p, r, k)),
        _ => None,
    };
    PartialAssociation {
        n,
        q,
        df,
        covariates: d.columns,
        pearson,
        spearman,
        raw_pearson,
        raw_spearman,
        permutation_p,
    }
}

fn undefined(n: usize, reason: String) -> Pearson {
    Pearson {
        r: None,
        p_value: None,
        ci_low: None,
        ci_high: None,
        n,
        reason: Some(reason),
    }
}

/// True when `v` is constant or wholly explained by the covariates (its residual `e` is
/// numerically zero next to its spread).
fn constant_residual(v: &[f64], e: &[f64]) -> bool {
    if v.first().is_none_or(|f| v.iter().all(|a| a == f)) {
        return true;
    }
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    let centred = v
        .iter()
        .map(|a| (a - mean) * (a - mean))
        .sum::<f64>()
        .sqrt();
    let len = norm(e);
    !(len.is_finite() && len > CONSTANT_TOLERANCE * centred.max(f64::MIN_POSITIVE))
}

fn partial_pearson(d: &Design, x: &[f64], y: &[f64], n: usize, df: Option<usize>) -> Pearson {
    if n < correlation::MIN_PAIRS {
        return undefined(
            n,
            format!("needs at least {} pairs (n = {n})", correlation::MIN_PAIRS),
        );
    }
    if let Some(i) = super::first_non_finite(x).or_else(|| super::first_non_finite(y)) {
        return undefined(n, format!("a non-finite value at pair {i}"));
    }
    let Some(df) = df else {
        return undefined(
            n,
            format!(
                "no degrees of freedom left: {n} pairs for {} covariates and the intercept (need n > q + 2)",
                d.q()
            ),
        );
    };
    let (ex, ey) = (d.residual(x), d.residual(y));
    if constant_residual(x, &ex) {
        return undefined(
            n,
            "AI series is constant once the calendar is removed: correlation is undefined".into(),
        );
    }
    if constant_residual(y, &ey) {
        return undefined(
            n,
            "outcome series is constant once the calendar is removed: correlation is undefined"
                .into(),
        );
    }
    let Some(r) = correlation::pearson(&ex, &ey).r else {
        return undefined(n, "correlation of the residuals is undefined".into());
    };
    let p_value = correlation::t_test_p_value_df(r, df as f64);
    let eff = n - d.q();
    let ci = correlation::fisher_ci(r, eff);
    Pearson {
        r: Some(r),
        p_value,
        ci_low: ci.map(|c| c.0),
        ci_high: ci.map(|c| c.1),
        n,
        reason: ci.is_none().then(|| {
            format!(
                "confidence interval needs n − q > 3 (n = {n}, q = {})",
                d.q()
            )
        }),
    }
}

fn permutation_p(d: &Design, p: &Paired, r_obs: f64, rounds: usize) -> f64 {
    let ex = d.residual(&p.x);
    let mut ey = d.residual(&p.y);
    let denom = norm(&ex) * norm(&ey);
    // Centre both (the intercept is always kept, so this only removes rounding).
    let mut strata: [Vec<usize>; 7] = Default::default();
    for (i, day) in p.outcome_days.iter().enumerate() {
        strata[day.weekday().num_days_from_monday() as usize].push(i);
    }
    let mut rng = crate::sample::Rng::new(PERMUTATION_SEED);
    let target = r_obs.abs() * (1.0 - 1e-12);
    let mut hits = 0usize;
    for _ in 0..rounds {
        for s in &strata {
            // Fisher–Yates within the stratum.
            for k in (1..s.len()).rev() {
                let j = rng.range(0, k as u64) as usize;
                ey.swap(s[k], s[j]);
            }
        }
        let r = dot(&ex, &ey) / denom;
        if r.abs() >= target {
            hits += 1;
        }
    }
    (1 + hits) as f64 / (rounds + 1) as f64
}

/// Smallest |r| a two-sided test at α = 0.05 detects with 80 % power over `n_eff` = n − q
/// pairs (Fisher z approximation), or `None` when n − q ≤ 3.
pub fn detectable_r(n_eff: usize) -> Option<f64> {
    if n_eff <= 3 {
        return None;
    }
    let z = Normal::standard();
    let za = z.inverse_cdf(1.0 - DETECTABLE_ALPHA / 2.0);
    let zb = z.inverse_cdf(DETECTABLE_POWER);
    Some(((za + zb) / ((n_eff - 3) as f64).sqrt()).tanh())
}

/// Confidence level of every interval here (same as [`correlation::CONFIDENCE_LEVEL`]).
pub const LEVEL: f64 = CONFIDENCE_LEVEL;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::calendar::DayWindow;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn series(since: &str, values: &[f64]) -> DailySeries {
        let start = d(since);
        let w = DayWindow::new(
            start,
            start + chrono::Duration::days(values.len() as i64 - 1),
        )
        .unwrap();
        DailySeries::complete(
            &w,
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (start + chrono::Duration::days(i as i64), *v)),
        )
        .unwrap()
    }

    #[test]
    fn shared_weekday_rhythm_is_removed() {
        // Both series are a weekday profile plus unrelated wiggles: raw r is high, partial r small.
        let profile = [5.0, 6.0, 6.0, 5.0, 4.0, 0.5, 0.5];
        let wig_a = [
            0.3, -0.2, 0.1, 0.0, -0.4, 0.2, 0.1, -0.1, 0.3, 0.2, -0.3, 0.0, 0.1, -0.2,
        ];
        let wig_b = [
            0.1, 0.2, -0.3, 0.2, 0.0, -0.1, 0.3, 0.2, -0.2, -0.1, 0.1, 0.3, -0.3, 0.0,
        ];
        let mut a = Vec::new();
        let mut b = Vec::new();
        for w in 0..4 {
            for (k, level) in profile.iter().enumerate() {
                let i = (w * 7 + k) % 14;
                a.push(level * 10.0 + wig_a[i] * 10.0);
                b.push(level * 2.0 + wig_b[(i + w) % 14]);
            }
        }
        let (sa, sb) = (series("2025-09-01", &a), series("2025-09-01", &b));
        let p = pair(&sa, &sb, 0).unwrap();
        let adj = partial_association(&p, Adjust::Calendar, 0);
        let raw = adj.raw_pearson.r.unwrap();
        assert!(raw > 0.9, "raw {raw}");
        assert!(adj.pearson.r.unwrap().abs() < 0.5, "{:?}", adj.pearson);
        assert_eq!(adj.q, 7);
        assert_eq!(adj.df, Some(28 - 2 - 7));
        let none = partial_association(&p, Adjust::None, 0);
        assert_eq!(none.pearson, none.raw_pearson);
        assert_eq!(none.q, 0);
    }

    #[test]
    fn collinear_and_empty_columns_drop_out() {
        let s = series("2025-09-01", &[1.0; 21]); // Monday start
        let p = pair(&s, &s, 1).unwrap();
        let dz = design(&p, Adjust::Calendar);
        assert_eq!(dz.columns.len(), 8, "{:?}", dz.columns);
        assert!(dz.columns.iter().all(|c| !c.starts_with("out_")));
        let b = s.business_days_only();
        let dz = design(&pair(&b, &b, 1).unwrap(), Adjust::Calendar);
        assert_eq!(
            dz.columns,
            [
                "intercept",
                "trend",
                "ai_dow_tue",
                "ai_dow_wed",
                "ai_dow_thu",
                "ai_dow_fri"
            ]
        );
    }

    #[test]
    fn missing_outcomes_are_not_paired() {
        let w = DayWindow::new(d("2025-09-01"), d("2025-09-05")).unwrap();
        let ai = DailySeries::complete(&w, [(d("2025-09-01"), 1.0)]).unwrap();
        let out =
            DailySeries::observed(&w, [(d("2025-09-03"), 4.0), (d("2025-09-05"), 2.0)]).unwrap();
        let p = pair(&ai, &out, 1).unwrap();
        assert_eq!(p.outcome_days, [d("2025-09-03"), d("2025-09-05")]);
        assert_eq!(p.n(), 2);
    }

    #[test]
    fn too_few_degrees_of_freedom_is_undefined() {
        let s = series("2025-09-01", &[1.0, 3.0, 2.0, 5.0, 4.0, 7.0, 6.0, 9.0]);
        let t = series("2025-09-01", &[2.0, 1.0, 4.0, 3.0, 6.0, 5.0, 8.0, 7.0]);
        let a = partial_association(&pair(&s, &t, 0).unwrap(), Adjust::Calendar, 0);
        assert_eq!(a.df, None);
        assert!(a.pearson.reason.unwrap().contains("degrees of freedom"));
    }

    #[test]
    fn permutation_p_is_reproducible_and_sane() {
        let x: Vec<f64> = (0..42).map(|i| ((i * 37 % 11) as f64) + 1.0).collect();
        let y: Vec<f64> = (0..42)
            .map(|i| {
                if i == 0 {
                    3.0
                } else {
                    x[i - 1] * 2.0 + ((i * 13 % 5) as f64)
                }
            })
            .collect();
        let (sx, sy) = (series("2025-09-01", &x), series("2025-09-01", &y));
        let p = pair(&sx, &sy, 1).unwrap();
        let a = partial_association(&p, Adjust::Calendar, 999);
        let b = partial_association(&p, Adjust::Calendar, 999);
        assert_eq!(a.permutation_p, b.permutation_p);
        let pp = a.permutation_p.unwrap();
        assert!(pp < 0.01, "planted link: {pp}");
        assert!(pp >= 1.0 / 1000.0);
        let null = partial_association(&pair(&sx, &sy, 3).unwrap(), Adjust::Calendar, 999);
        assert!(null.permutation_p.unwrap() > 0.01);
    }

    #[test]
    fn detectable_effect_shrinks_with_n() {
        let a = detectable_r(20).unwrap();
        let b = detectable_r(60).unwrap();
        assert!(a > b && b > 0.0 && a < 1.0);
        // (1.959964 + 0.841621) / sqrt(17) = 0.679476…, tanh → 0.591
        assert!((a - (2.801585218136293_f64 / 17f64.sqrt()).tanh()).abs() < 1e-9);
        assert_eq!(detectable_r(3), None);
    }
}
