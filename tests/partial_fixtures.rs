//! Calendar-adjusted (partial) correlations against numpy/scipy/statsmodels reference values.
//!
//! Fixture: `tests/fixtures/stats/partial.json`, written by `tools/gen_partial_fixtures.py`
//! (its header names the numpy/scipy/statsmodels versions). Each case gives raw events (UTC
//! instants and values), a window, a timezone, business days, holidays, a lag and an adjustment;
//! this test buckets the events into local days, builds the series, pairs them and computes the
//! partial correlations with the library, then asserts every value to 1e-9 relative (1e-12
//! absolute where the reference is within 1e-12 of 0).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use prod_lens::stats::adjusted::{pair, partial_association, Adjust};
use prod_lens::stats::calendar::{local_day, parse_timezone, DayWindow};
use prod_lens::stats::lagged::DailySeries;
use prod_lens::stats::quantile::percentile;
use serde_json::Value;

const REL_TOL: f64 = 1e-9;
const ABS_FLOOR: f64 = 1e-12;

fn load() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stats/partial.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["header"]["generated_by"], "tools/gen_partial_fixtures.py");
    assert!(v["header"]["statsmodels"].is_string());
    v
}

fn date(v: &Value) -> NaiveDate {
    v.as_str().unwrap().parse().unwrap()
}

fn opt(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn events(v: &Value) -> Vec<(DateTime<Utc>, f64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let t: DateTime<Utc> = e[0].as_str().unwrap().parse().unwrap();
            (t, e[1].as_f64().unwrap())
        })
        .collect()
}

#[derive(Default)]
struct Tracker {
    checked: usize,
    worst: f64,
}

impl Tracker {
    fn close(&mut self, what: &str, got: Option<f64>, want: Option<f64>, ctx: &str) {
        match (got, want) {
            (None, None) => {}
            (Some(g), Some(w)) => {
                let err = (g - w).abs();
                let ok = if w.abs() < ABS_FLOOR {
                    err <= ABS_FLOOR
                } else {
                    err <= REL_TOL * w.abs()
                };
                assert!(ok, "{ctx}: {what} = {g:e}, expected {w:e}");
                if w.abs() >= ABS_FLOOR {
                    self.worst = self.worst.max(err / w.abs());
                }
                self.checked += 1;
            }
            _ => panic!("{ctx}: {what} = {got:?}, expected {want:?}"),
        }
    }
}

fn reason_matches(code: &str, reason: &str) -> bool {
    let needle = match code {
        "too_few_pairs" => "at least 3 pairs",
        "no_degrees_of_freedom" => "degrees of freedom",
        "constant_x" => "AI series is constant",
        "constant_y" => "outcome series is constant",
        "ci_needs_more_pairs" => "confidence interval",
        other => panic!("unknown reason code {other}"),
    };
    reason.contains(needle)
}

fn build(c: &Value) -> (DailySeries, DailySeries) {
    let tz = parse_timezone(c["timezone"].as_str().unwrap()).unwrap();
    let window = DayWindow::new(date(&c["since"]), date(&c["until"])).unwrap();
    let ai_points: Vec<(NaiveDate, f64)> = events(&c["ai_events"])
        .into_iter()
        .map(|(t, v)| (local_day(t, tz), v))
        .collect();
    let ai = DailySeries::complete(&window, ai_points).unwrap();
    let out_points = events(&c["outcome_events"])
        .into_iter()
        .map(|(t, v)| (local_day(t, tz), v));
    let outcome = match c["outcome_kind"].as_str().unwrap() {
        "sum" => DailySeries::complete(&window, out_points).unwrap(),
        "median" => {
            let mut by_day: BTreeMap<NaiveDate, Vec<f64>> = BTreeMap::new();
            for (d, v) in out_points.filter(|(d, _)| window.contains(*d)) {
                by_day.entry(d).or_default().push(v);
            }
            let medians = by_day
                .into_iter()
                .map(|(d, v)| (d, percentile(&v, 50.0).unwrap().unwrap()));
            DailySeries::observed(&window, medians).unwrap()
        }
        other => panic!("outcome_kind {other}"),
    };
    let holidays: Vec<NaiveDate> = c["holidays"].as_array().unwrap().iter().map(date).collect();
    let filter = |s: DailySeries| {
        let s = if c["business_days"].as_bool().unwrap() {
            s.business_days_only()
        } else {
            s
        };
        s.retain_days(|d| !holidays.contains(&d))
    };
    (filter(ai), filter(outcome))
}

#[test]
fn partial_correlations_match_statsmodels() {
    let doc = load();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut t = Tracker::default();
    let mut reasons = 0;
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let e = &c["expected"];
        let (ai, outcome) = build(c);
        // The series themselves: days after filtering, sums, medians (null where missing).
        let days: Vec<NaiveDate> = e["days"].as_array().unwrap().iter().map(date).collect();
        assert_eq!(ai.days(), days.as_slice(), "{name}: days");
        for (i, (a, o)) in e["ai_series"]
            .as_array()
            .unwrap()
            .iter()
            .zip(e["outcome_series"].as_array().unwrap())
            .enumerate()
        {
            t.close("ai_series", ai.value(i), opt(a), name);
            t.close("outcome_series", outcome.value(i), opt(o), name);
        }
        let adjust = match c["adjust"].as_str().unwrap() {
            "calendar" => Adjust::Calendar,
            "none" => Adjust::None,
            other => panic!("adjust {other}"),
        };
        let lag = c["lag"].as_u64().unwrap() as usize;
        let p = pair(&ai, &outcome, lag).unwrap();
        let a = partial_association(&p, adjust, 0);
        assert_eq!(a.n as u64, e["n"].as_u64().unwrap(), "{name}: n");
        if a.n >= 3 {
            assert_eq!(a.q as u64, e["q"].as_u64().unwrap(), "{name}: q");
            let cols: Vec<&str> = e["kept_columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(a.covariates, cols, "{name}: kept columns");
        }
        match e["df"].as_i64() {
            Some(df) if df >= 1 => assert_eq!(a.df, Some(df as usize), "{name}: df"),
            _ => assert_eq!(a.df, None, "{name}: df"),
        }
        let (ep, es, er) = (&e["pearson"], &e["spearman"], &e["raw"]);
        t.close("pearson.r", a.pearson.r, opt(&ep["r"]), name);
        t.close("pearson.p", a.pearson.p_value, opt(&ep["p"]), name);
        t.close("pearson.ci_low", a.pearson.ci_low, opt(&ep["ci_low"]), name);
        t.close(
            "pearson.ci_high",
            a.pearson.ci_high,
            opt(&ep["ci_high"]),
            name,
        );
        t.close("spearman.r", a.spearman.r, opt(&es["r"]), name);
        t.close("spearman.p", a.spearman.p_value, opt(&es["p"]), name);
        t.close(
            "raw.pearson_r",
            a.raw_pearson.r,
            opt(&er["pearson_r"]),
            name,
        );
        t.close(
            "raw.pearson_p",
            a.raw_pearson.p_value,
            opt(&er["pearson_p"]),
            name,
        );
        t.close(
            "raw.spearman_r",
            a.raw_spearman.r,
            opt(&er["spearman_r"]),
            name,
        );
        t.close(
            "raw.spearman_p",
            a.raw_spearman.p_value,
            opt(&er["spearman_p"]),
            name,
        );
        for (what, code, got) in [
            ("pearson", &ep["reason"], &a.pearson.reason),
            ("spearman", &es["reason"], &a.spearman.reason),
        ] {
            if let Some(code) = code.as_str() {
                let got = got
                    .as_deref()
                    .unwrap_or_else(|| panic!("{name}: {what} has no reason, expected {code}"));
                assert!(
                    reason_matches(code, got),
                    "{name}: {what} {got:?} vs {code}"
                );
                reasons += 1;
            }
        }
    }
    assert!(t.checked > 500, "only {} values checked", t.checked);
    assert!(reasons >= 10, "only {reasons} reasons checked");
    eprintln!(
        "partial.json: {} cases, {} values, largest relative error {:e}",
        cases.len(),
        t.checked,
        t.worst
    );
}
