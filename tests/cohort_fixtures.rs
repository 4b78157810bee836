//! Two-group (cohort) comparisons against numpy/scipy reference values.
//!
//! Fixture: `tests/fixtures/stats/cohort.json`, written by `tools/gen_cohort_fixtures.py` (its
//! header names the numpy/scipy/statsmodels versions). Three lists of cases: two samples
//! (Mann–Whitney U, Hodges–Lehmann, Cliff's delta, ratio of medians with its bootstrap CI),
//! binary outcomes (rates, Newcombe CI, Fisher's exact test) and strata (van Elteren sum, normal
//! and permutation p). Every value must agree to 1e-9 relative (1e-12 absolute where the
//! reference is within 1e-12 of 0); a null reference must be `None` with a matching reason. Run
//! with `--nocapture` to see the largest relative error per statistic.

use std::collections::BTreeMap;
use std::path::PathBuf;

use prod_lens::stats::cohort::{
    cliffs_delta, compare_rates, hodges_lehmann, mann_whitney_u, median_ratio, median_ratio_with,
    ratio, stratified, stratified_comparison,
};
use serde_json::Value;

const REL_TOL: f64 = 1e-9;
const ABS_FLOOR: f64 = 1e-12;

fn load() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stats/cohort.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let v: Value = serde_json::from_str(&text).unwrap();
    let h = &v["header"];
    assert_eq!(h["generated_by"], "tools/gen_cohort_fixtures.py");
    assert!(
        h["scipy"].is_string() && h["numpy"].is_string(),
        "header {h}"
    );
    v
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_f64().unwrap())
        .collect()
}

fn u64_of(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_u64().unwrap(),
    }
}

/// Compares values and remembers the largest relative error per statistic.
#[derive(Default)]
struct Tracker {
    worst: BTreeMap<&'static str, f64>,
    checked: BTreeMap<&'static str, usize>,
    reasons: usize,
}

impl Tracker {
    fn close(&mut self, what: &'static str, got: Option<f64>, want: &Value, ctx: &str) {
        let want = want.as_f64();
        match (got, want) {
            (None, None) => {}
            (Some(g), Some(w)) => {
                assert!(g.is_finite(), "{ctx}: {what} = {g} is not finite");
                let err = (g - w).abs();
                let ok = if w.abs() < ABS_FLOOR {
                    err <= ABS_FLOOR
                } else {
                    err <= REL_TOL * w.abs()
                };
                assert!(ok, "{ctx}: {what} = {g:e}, expected {w:e}");
                let rel = if w.abs() >= ABS_FLOOR {
                    err / w.abs()
                } else {
                    0.0
                };
                let worst = self.worst.entry(what).or_default();
                *worst = worst.max(rel);
                *self.checked.entry(what).or_default() += 1;
            }
            _ => panic!("{ctx}: {what} = {got:?}, expected {want:?}"),
        }
    }

    /// A reason code from the fixture must be explained by the library's reason text.
    fn reason(&mut self, code: &Value, got: &Option<String>, ctx: &str) {
        let Some(code) = code.as_str() else {
            return;
        };
        let needle = match code {
            "empty_group" => "is empty",
            "ci_needs_more_pairs" => "needs more pairs",
            "non_positive_median" => "positive medians",
            "zero_median_resample" => "median 0",
            "empty_margin" => "row or column of the table is empty",
            "infinite_odds_ratio" => "odds ratio is infinite",
            "no_stratum_with_both_groups" => "both groups",
            "no_variation" => "no variation",
            other => panic!("unknown reason code {other}"),
        };
        let got = got
            .as_deref()
            .unwrap_or_else(|| panic!("{ctx}: no reason, expected {code}"));
        assert!(got.contains(needle), "{ctx}: reason {got:?} vs {code}");
        self.reasons += 1;
    }

    fn report(&self, what: &str) {
        for (stat, worst) in &self.worst {
            eprintln!(
                "cohort.json {what}: {stat}: {} values, largest relative error {worst:e}",
                self.checked[stat]
            );
        }
    }
}

#[test]
fn two_sample_statistics_match_scipy() {
    let doc = load();
    let h = &doc["header"];
    assert_eq!(
        h["bootstrap_resamples"].as_u64(),
        Some(ratio::BOOTSTRAP_RESAMPLES as u64)
    );
    assert_eq!(u64_of(&h["bootstrap_seed"]), ratio::BOOTSTRAP_SEED);
    let cases = doc["two_sample"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut t = Tracker::default();
    let (mut exact, mut asymptotic) = (0, 0);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let (x, y) = (floats(&c["x"]), floats(&c["y"]));
        let e = &c["expected"];

        let (mw, emw) = (mann_whitney_u(&x, &y), &e["mann_whitney"]);
        t.close("mann_whitney.u", mw.u, &emw["u"], name);
        t.close("mann_whitney.p", mw.p_value, &emw["p"], name);
        assert_eq!(
            mw.method.map(|m| m.name()),
            emw["method"].as_str(),
            "{name}: method"
        );
        match emw["method"].as_str() {
            Some("exact") => exact += 1,
            Some("asymptotic") => asymptotic += 1,
            _ => {}
        }
        assert_eq!((mw.n_x, mw.n_y), (x.len(), y.len()));
        t.reason(&emw["reason"], &mw.reason, name);

        let (hl, ehl) = (hodges_lehmann(&x, &y), &e["hodges_lehmann"]);
        t.close("hodges_lehmann.shift", hl.shift, &ehl["shift"], name);
        t.close("hodges_lehmann.ci_low", hl.ci_low, &ehl["ci_low"], name);
        t.close("hodges_lehmann.ci_high", hl.ci_high, &ehl["ci_high"], name);
        t.reason(&ehl["reason"], &hl.reason, name);

        let (cd, ecd) = (cliffs_delta(&x, &y), &e["cliffs_delta"]);
        t.close("cliffs_delta", cd.delta, &ecd["delta"], name);
        assert_eq!(cd.greater, ecd["greater"].as_u64().unwrap(), "{name}");
        assert_eq!(cd.less, ecd["less"].as_u64().unwrap(), "{name}");
        t.reason(&ecd["reason"], &cd.reason, name);

        let resamples = c["resamples"].as_u64().unwrap() as usize;
        let seed = u64_of(&c["seed"]);
        let mr = median_ratio_with(&x, &y, resamples, seed);
        if resamples == ratio::BOOTSTRAP_RESAMPLES && seed == ratio::BOOTSTRAP_SEED {
            assert_eq!(mr, median_ratio(&x, &y), "{name}: defaults");
        }
        let emr = &e["median_ratio"];
        t.close("median_ratio.ratio", mr.ratio, &emr["ratio"], name);
        t.close("median_ratio.median_x", mr.median_x, &emr["median_x"], name);
        t.close("median_ratio.median_y", mr.median_y, &emr["median_y"], name);
        t.close("median_ratio.ci_low", mr.ci_low, &emr["ci_low"], name);
        t.close("median_ratio.ci_high", mr.ci_high, &emr["ci_high"], name);
        t.reason(&emr["reason"], &mr.reason, name);
    }
    assert!(
        exact >= 10 && asymptotic >= 10,
        "{exact} exact, {asymptotic} asymptotic"
    );
    assert!(t.reasons >= 15, "only {} reasons checked", t.reasons);
    t.report("two_sample");
}

#[test]
fn binary_outcomes_match_scipy_and_statsmodels() {
    let doc = load();
    let cases = doc["binary"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut t = Tracker::default();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let n = |k: &str| c[k].as_u64().unwrap();
        let r = compare_rates(n("events_x"), n("n_x"), n("events_y"), n("n_y"));
        let e = &c["expected"];
        t.close("rate_x", r.rate_x, &e["rate_x"], name);
        t.close("rate_y", r.rate_y, &e["rate_y"], name);
        t.close("difference", r.difference, &e["difference"], name);
        t.close("newcombe.ci_low", r.ci_low, &e["ci_low"], name);
        t.close("newcombe.ci_high", r.ci_high, &e["ci_high"], name);
        let f = r
            .fisher
            .as_ref()
            .unwrap_or_else(|| panic!("{name}: no test"));
        t.close("fisher.p", Some(f.p_value), &e["fisher_p"], name);
        t.close("fisher.odds_ratio", f.odds_ratio, &e["odds_ratio"], name);
        assert_eq!(
            Some(f.odds_ratio_infinite),
            e["odds_ratio_infinite"].as_bool(),
            "{name}"
        );
        for code in e["reasons"].as_array().unwrap() {
            let reasons = [r.reason.clone(), f.reason.clone()];
            let which = if code == "empty_group" { 0 } else { 1 };
            t.reason(code, &reasons[which], name);
        }
    }
    assert!(t.reasons >= 8, "only {} reasons checked", t.reasons);
    t.report("binary");
}

#[test]
fn stratified_comparison_matches_reference() {
    let doc = load();
    let h = &doc["header"];
    assert_eq!(
        h["default_permutations"].as_u64(),
        Some(stratified::DEFAULT_PERMUTATIONS as u64)
    );
    assert_eq!(u64_of(&h["permutation_seed"]), stratified::PERMUTATION_SEED);
    assert_eq!(h["tie_tolerance"].as_f64(), Some(stratified::TIE_TOLERANCE));
    let cases = doc["stratified"].as_array().unwrap();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut t = Tracker::default();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let strata: Vec<(Vec<f64>, Vec<f64>)> = c["strata"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (floats(&s[0]), floats(&s[1])))
            .collect();
        let permutations = c["permutations"].as_u64().unwrap() as usize;
        let s = stratified_comparison(&strata, permutations, u64_of(&c["seed"]));
        let e = &c["expected"];
        let count = |k: &str| e[k].as_u64().unwrap() as usize;
        assert_eq!(
            (s.strata, s.strata_skipped, s.n_x, s.n_y),
            (
                count("strata"),
                count("strata_skipped"),
                count("n_x"),
                count("n_y")
            ),
            "{name}: counts"
        );
        t.close("statistic", s.statistic, &e["statistic"], name);
        t.close("variance", s.variance, &e["variance"], name);
        t.close("z", s.z, &e["z"], name);
        t.close("normal_p", s.normal_p, &e["normal_p"], name);
        t.close("permutation_p", s.permutation_p, &e["permutation_p"], name);
        t.close("pooled_shift", s.pooled_shift, &e["pooled_shift"], name);
        t.reason(&e["reason"], &s.reason, name);
    }
    assert!(t.reasons >= 3, "only {} reasons checked", t.reasons);
    t.report("stratified");
}
