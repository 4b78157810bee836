//! The statistics core against scipy/numpy reference values.
//!
//! Fixtures: `tests/fixtures/stats/*.json`, written by `tools/gen_stats_fixtures.py` (its header
//! names the scipy/numpy versions). Values must agree to 1e-9 relative. Where the reference is
//! within 1e-300 of 0 (p-values that underflow) the result must be too; where a correlation or CI
//! bound is rounding noise around 0 (|expected| < 1e-15) an absolute 1e-15 applies. NaN in the
//! reference (JSON null) must be `None` with a reason here, never NaN. Run with `--nocapture` to
//! see the largest relative error observed per statistic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use prod_lens::stats::calendar::{
    is_business_day, local_day, local_day_bounds, parse_timezone, DayWindow, IsoWeek,
};
use prod_lens::stats::correlation::{pearson, spearman, Pearson, Spearman};
use prod_lens::stats::lagged::{lag_pairs, lagged_association, DailySeries, MIN_PAIRS};
use prod_lens::stats::multiple::bh_family;
use prod_lens::stats::quantile::SortedSample;
use prod_lens::stats::sketch::QuantileSketch;
use serde_json::Value;

const REL_TOL: f64 = 1e-9;
/// Bounded quantities (r, CI bounds) below this are rounding noise around 0.
const R_FLOOR: f64 = 1e-15;
/// p-values below this are compared as "essentially 0".
const P_FLOOR: f64 = 1e-300;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stats")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    let h = &v["header"];
    assert_eq!(h["generated_by"], "tools/gen_stats_fixtures.py", "{name}");
    assert!(
        h["scipy"].is_string() && h["numpy"].is_string(),
        "{name}: header {h}"
    );
    v
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn opt(v: &Value) -> Option<f64> {
    if v.is_null() {
        None
    } else {
        Some(f(v))
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(f).collect()
}

fn date(v: &Value) -> NaiveDate {
    v.as_str().unwrap().parse().unwrap()
}

fn dates(v: &Value) -> Vec<NaiveDate> {
    v.as_array().unwrap().iter().map(date).collect()
}

/// Compares values and remembers the largest relative error per statistic.
#[derive(Default)]
struct Tracker {
    max_rel: BTreeMap<&'static str, f64>,
    compared: BTreeMap<&'static str, usize>,
}

impl Tracker {
    /// Asserts `actual` matches `expected`; `floor` is the magnitude below which an absolute
    /// comparison applies.
    fn close(&mut self, stat: &'static str, actual: f64, expected: f64, floor: f64, ctx: &str) {
        assert!(actual.is_finite(), "{ctx}: {stat} = {actual} is not finite");
        *self.compared.entry(stat).or_default() += 1;
        if expected.abs() <= floor {
            assert!(
                (actual - expected).abs() <= floor,
                "{ctx}: {stat} = {actual:e}, scipy {expected:e} (absolute {floor:e})"
            );
            return;
        }
        let rel = (actual - expected).abs() / expected.abs();
        let m = self.max_rel.entry(stat).or_insert(0.0);
        *m = m.max(rel);
        assert!(
            rel <= REL_TOL,
            "{ctx}: {stat} = {actual:e}, scipy {expected:e}, relative error {rel:e}"
        );
    }

    /// As [`Tracker::close`] for optional values: both defined, or both undefined.
    fn close_opt(
        &mut self,
        stat: &'static str,
        actual: Option<f64>,
        expected: Option<f64>,
        floor: f64,
        ctx: &str,
    ) {
        match (actual, expected) {
            (Some(a), Some(e)) => self.close(stat, a, e, floor, ctx),
            (None, None) => {}
            other => panic!("{ctx}: {stat} defined on one side only: {other:?}"),
        }
    }

    fn report(&self, title: &str) {
        eprintln!("max relative error vs reference ({title}):");
        for (stat, n) in &self.compared {
            let rel = self.max_rel.get(stat).copied().unwrap_or(0.0);
            eprintln!("  {stat:<22} {rel:.3e}  ({n} values)");
        }
    }
}

/// Checks Pearson/Spearman results against one fixture entry (with `n`, `pearson`, `spearman`).
fn check_correlation(t: &mut Tracker, p: &Pearson, s: &Spearman, want: &Value, ctx: &str) {
    let n = want["n"].as_u64().unwrap() as usize;
    assert_eq!((p.n, s.n), (n, n), "{ctx}");
    let wp = &want["pearson"];
    let ws = &want["spearman"];
    if n < 3 {
        // scipy answers r = ±1, p = 1 for two points; ProdLens calls it undefined.
        for (r, reason) in [(p.r, &p.reason), (s.r, &s.reason)] {
            assert_eq!(r, None, "{ctx}");
            assert!(
                reason.as_deref().unwrap().contains("at least 3 pairs"),
                "{ctx}"
            );
        }
        assert_eq!((p.p_value, s.p_value), (None, None), "{ctx}");
        return;
    }
    for (stat, r, reason, wr) in [
        ("pearson.r", p.r, &p.reason, &wp["r"]),
        ("spearman.r", s.r, &s.reason, &ws["r"]),
    ] {
        if wr.is_null() {
            assert_eq!(r, None, "{ctx}: {stat} must be None where scipy says nan");
            let why = reason
                .as_deref()
                .unwrap_or_else(|| panic!("{ctx}: no reason"));
            assert!(why.contains("constant"), "{ctx}: {why}");
        }
    }
    t.close_opt("pearson.r", p.r, opt(&wp["r"]), R_FLOOR, ctx);
    t.close_opt(
        "pearson.p_value",
        p.p_value,
        opt(&wp["p_value"]),
        P_FLOOR,
        ctx,
    );
    t.close_opt("pearson.ci_low", p.ci_low, opt(&wp["ci_low"]), R_FLOOR, ctx);
    t.close_opt(
        "pearson.ci_high",
        p.ci_high,
        opt(&wp["ci_high"]),
        R_FLOOR,
        ctx,
    );
    t.close_opt("spearman.r", s.r, opt(&ws["r"]), R_FLOOR, ctx);
    t.close_opt(
        "spearman.p_value",
        s.p_value,
        opt(&ws["p_value"]),
        P_FLOOR,
        ctx,
    );
    if p.r.is_some() && p.ci_low.is_none() {
        assert!(
            p.reason.as_deref().unwrap().contains("confidence interval"),
            "{ctx}"
        );
    }
    // scipy's own confidence_interval(0.95), where it gives one (n > 3, r defined).
    if let (Some(ci), Some(lo), Some(hi)) = (wp["scipy_ci"].as_array(), p.ci_low, p.ci_high) {
        t.close("scipy_ci.low", lo, f(&ci[0]), R_FLOOR, ctx);
        t.close("scipy_ci.high", hi, f(&ci[1]), R_FLOOR, ctx);
    }
}

#[test]
fn correlation_matches_scipy() {
    let doc = load("correlation.json");
    let mut t = Tracker::default();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for c in cases {
        let ctx = c["name"].as_str().unwrap();
        let (x, y) = (floats(&c["x"]), floats(&c["y"]));
        check_correlation(&mut t, &pearson(&x, &y), &spearman(&x, &y), c, ctx);
    }
    t.report("correlation.json");
}

#[test]
fn lagged_series_and_statistics_match_reference() {
    let doc = load("lagged.json");
    assert_eq!(doc["min_pairs"].as_u64(), Some(MIN_PAIRS as u64));
    let mut t = Tracker::default();
    let mut low_samples = 0;
    for c in doc["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let window = DayWindow::new(date(&c["since"]), date(&c["until"])).unwrap();
        let sparse = |v: &Value| -> Vec<(NaiveDate, f64)> {
            let m = v.as_object().unwrap();
            m.iter().map(|(k, v)| (k.parse().unwrap(), f(v))).collect()
        };
        let mut ai = DailySeries::complete(&window, sparse(&c["ai_sparse"])).unwrap();
        let mut out = DailySeries::complete(&window, sparse(&c["outcome_sparse"])).unwrap();
        if c["business_days"].as_bool().unwrap() {
            ai = ai.business_days_only();
            out = out.business_days_only();
        }
        assert_eq!(ai.days(), dates(&c["days"]), "{name}: days");
        assert_eq!(ai.values(), floats(&c["ai_series"]), "{name}: AI series");
        assert_eq!(
            out.values(),
            floats(&c["outcome_series"]),
            "{name}: outcome series"
        );
        for l in c["lags"].as_array().unwrap() {
            let lag = l["lag"].as_u64().unwrap() as usize;
            let ctx = format!("{name} lag {lag}");
            let pairs = lag_pairs(&ai, &out, lag).unwrap();
            assert_eq!(pairs.n() as u64, l["n"].as_u64().unwrap(), "{ctx}");
            assert_eq!(pairs.n(), ai.len() - lag, "{ctx}: n = days - lag");
            assert_eq!(
                pairs.low_sample(),
                l["low_sample"].as_bool().unwrap(),
                "{ctx}"
            );
            low_samples += usize::from(pairs.low_sample());
            assert_eq!(pairs.ai_days, dates(&l["ai_days"]), "{ctx}");
            assert_eq!(pairs.outcome_days, dates(&l["outcome_days"]), "{ctx}");
            assert_eq!(pairs.ai, floats(&l["ai"]), "{ctx}");
            assert_eq!(pairs.outcome, floats(&l["outcome"]), "{ctx}");
            let a = lagged_association(&ai, &out, lag).unwrap();
            assert_eq!(
                (a.lag, a.n, a.low_sample),
                (lag, pairs.n(), pairs.low_sample())
            );
            check_correlation(&mut t, &a.pearson, &a.spearman, l, &ctx);
        }
    }
    assert!(low_samples > 0, "the fixture covers low samples");
    t.report("lagged.json");
}

#[test]
fn benjamini_hochberg_matches_scipy() {
    let doc = load("multiple.json");
    let q = f(&doc["q"]);
    let mut t = Tracker::default();
    for c in doc["cases"].as_array().unwrap() {
        let ctx = c["name"].as_str().unwrap();
        let fam = bh_family(&floats(&c["p"]), q).unwrap();
        assert_eq!(fam.m as u64, c["m"].as_u64().unwrap(), "{ctx}");
        let want = floats(&c["adjusted"]);
        assert_eq!(fam.adjusted.len(), want.len(), "{ctx}");
        for (a, e) in fam.adjusted.iter().zip(&want) {
            t.close("bh.adjusted", *a, *e, P_FLOOR, ctx);
        }
        let sig: Vec<bool> = c["significant"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_bool().unwrap())
            .collect();
        assert_eq!(fam.significant, sig, "{ctx}");
    }
    t.report("multiple.json");
}

#[test]
fn percentiles_and_mean_match_numpy_and_sketch_is_within_one_percent() {
    let doc = load("quantile.json");
    let mut t = Tracker::default();
    let mut sketch_checked = false;
    for c in doc["cases"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let values = floats(&c["values"]);
        let s = SortedSample::new(values.clone()).unwrap();
        t.close("mean", s.mean().unwrap(), f(&c["mean"]), 0.0, name);
        for p in c["percentiles"].as_array().unwrap() {
            let q = f(&p["q"]);
            let ctx = format!("{name} q={q}");
            t.close(
                "percentile",
                s.percentile(q).unwrap(),
                f(&p["value"]),
                0.0,
                &ctx,
            );
        }
        if name == "latency_ms_lognormal" {
            // Two "days" sketched apart, stored, restored and merged, vs numpy on the whole.
            let (a, b) = values.split_at(values.len() / 3);
            let mut merged = QuantileSketch::new();
            for part in [a, b] {
                let mut day = QuantileSketch::new();
                for &v in part {
                    day.add(v).unwrap();
                }
                merged
                    .merge(&QuantileSketch::from_bytes(&day.to_bytes()).unwrap())
                    .unwrap();
            }
            let mut worst: f64 = 0.0;
            for p in c["percentiles"].as_array().unwrap() {
                let q = f(&p["q"]);
                if ![50.0, 75.0, 90.0, 95.0, 99.0].contains(&q) {
                    continue;
                }
                let exact = f(&p["value"]);
                let got = merged.percentile(q).unwrap();
                let rel = (got - exact).abs() / exact;
                worst = worst.max(rel);
                assert!(rel <= 0.01, "sketch p{q}: {got} vs numpy {exact} ({rel:e})");
            }
            eprintln!(
                "sketch (DDSketch, merged + stored) max relative error p50..p99: {worst:.3e}"
            );
            sketch_checked = true;
        }
    }
    assert!(sketch_checked);
    t.report("quantile.json");
}

#[test]
fn calendar_bucketing_matches_zoneinfo() {
    let doc = load("calendar.json");
    let utc = |v: &Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    let buckets = doc["buckets"].as_array().unwrap();
    assert!(buckets.len() > 100);
    for b in buckets {
        let tz = parse_timezone(b["tz"].as_str().unwrap()).unwrap();
        let got = local_day(utc(&b["instant"]), tz);
        assert_eq!(got, date(&b["local_date"]), "{b}");
    }
    let mut dst_days = 0;
    for b in doc["day_bounds"].as_array().unwrap() {
        let tz = parse_timezone(b["tz"].as_str().unwrap()).unwrap();
        let (start, end) = local_day_bounds(date(&b["date"]), tz).unwrap();
        assert_eq!(
            (start, end),
            (utc(&b["start_utc"]), utc(&b["end_utc"])),
            "{b}"
        );
        let hours = (end - start).num_seconds() as f64 / 3600.0;
        assert_eq!(hours, f(&b["hours"]), "{b}");
        dst_days += usize::from(hours != 24.0);
    }
    assert!(dst_days >= 8, "fixture covers DST days");
    for w in doc["iso_weeks"].as_array().unwrap() {
        let d = date(&w["date"]);
        let iso = IsoWeek::of(d);
        assert_eq!(iso.year as i64, w["iso_year"].as_i64().unwrap(), "{w}");
        assert_eq!(iso.week as u64, w["iso_week"].as_u64().unwrap(), "{w}");
        assert_eq!(
            is_business_day(d),
            w["business_day"].as_bool().unwrap(),
            "{w}"
        );
    }
}
