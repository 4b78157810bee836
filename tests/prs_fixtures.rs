//! The demo's AI-assisted vs other PR comparison against scipy: `tools/gen_demo_cohort_fixture.py`
//! computed `scipy.stats.mannwhitneyu` and `scipy.stats.fisher_exact` on the PRs that
//! `prod-lens prs` lists for the demo; the same groups must give the same p-values to 1e-9.

mod common;

use common::{run_ok, Work};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    let mut x: Vec<f64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    x.sort_by(f64::total_cmp);
    x
}

#[test]
fn demo_cohort_p_values_equal_scipy() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stats/demo_cohorts.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(
        fixture["header"]["generated_by"],
        "tools/gen_demo_cohort_fixture.py"
    );
    let w = Work::new();
    run_ok(w.cmd().args(["demo", "--json", "--dir", "demo"]));
    let out = run_ok(w.cmd().arg("--db").arg(w.path("demo/cache.db")).args([
        "prs",
        "--format",
        "json",
        "--since",
        "2025-09-01",
        "--until",
        "2025-10-12",
    ]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 6);
    for c in cases {
        let (repo, outcome) = (c["repo"].as_str().unwrap(), c["outcome"].as_str().unwrap());
        let got = v["cohorts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["repo"] == repo && x["outcome"] == outcome)
            .unwrap_or_else(|| panic!("no cohort {repo} {outcome}"));
        if outcome == "rework" {
            let t = &c["table"];
            let rates = &got["effect"]["rates"];
            assert_eq!(rates["events_x"], t[0][0], "{repo}");
            assert_eq!(rates["events_y"], t[1][0], "{repo}");
        } else {
            // The same PRs in each group: their count and median.
            let (a, o) = (floats(&c["assisted"]), floats(&c["other"]));
            assert_eq!(
                got["assisted"]["n"].as_u64(),
                Some(a.len() as u64),
                "{repo}"
            );
            assert_eq!(got["other"]["n"].as_u64(), Some(o.len() as u64), "{repo}");
        }
        let want = c["p_value"].as_f64().unwrap();
        let p = got["p_value"].as_f64().unwrap();
        assert!(
            (p - want).abs() <= 1e-9 * want.abs().max(1e-300),
            "{repo} {outcome}: p {p:e} vs scipy {want:e}"
        );
    }
}
