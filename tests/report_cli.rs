//! `prod-lens report` and the demo's report, through the real binary on a real store.

mod common;

use common::{open_db, query_i64, single_json_object, Work};
use serde_json::Value;

/// Runs the demo into `<work>/demo` and returns its JSON output.
fn demo(w: &Work) -> Value {
    let out = common::run_ok(w.cmd().args(["demo", "--json", "--dir", "demo"]));
    single_json_object(&String::from_utf8(out.stdout).unwrap())
}

fn report(w: &Work, args: &[&str]) -> (Value, String) {
    let db = w.path("demo/cache.db");
    let out = common::run_ok(w.cmd().arg("--db").arg(&db).arg("report").args(args));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (v, stdout)
}

#[test]
fn demo_report_finds_the_lag_1_association_significant_after_bh() {
    let w = Work::new();
    let v = demo(&w);
    let r = &v["report"];
    assert_eq!(r["schema_version"], 1);
    assert!(v["github"].as_array().is_some_and(|a| a.len() == 2));
    for repo in ["acme/api", "acme/web"] {
        let a = r["associations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| {
                a["repo"] == repo
                    && a["ai_series"] == "requests"
                    && a["outcome_series"] == "commits"
                    && a["lag"] == 1
            })
            .unwrap();
        assert_eq!(a["low_sample"], false);
        assert!(a["pearson"]["r"].as_f64().unwrap() > 0.5, "{a}");
        assert!(a["adjusted_p"]["pearson"].as_f64().unwrap() <= 0.05, "{a}");
        assert!(a["adjusted_p"]["spearman"].as_f64().unwrap() <= 0.05, "{a}");
        assert_eq!(a["significant"]["pearson"], true);
    }
    let m = r["multiple_comparison"]["m"].as_u64().unwrap();
    assert!(m > 0 && m <= 2 * r["associations"].as_array().unwrap().len() as u64);
    assert_eq!(r["ai_outcome_association"]["lag_days"], 1);
    // acme/api's GitHub data start on 2025-09-02: its series start there, 41 days, 40 lag-1 pairs.
    assert_eq!(r["ai_outcome_association"]["pearson"]["count"], 40);
    // The planted links are found, and only those: next-day commits and merged PRs.
    assert_eq!(r["inference"], "tested");
    for p in r["primary"].as_array().unwrap() {
        assert_eq!(p["question"], "requests:commits:1");
        assert_eq!(p["significant"], true, "{p}");
        assert_eq!(p["inference"], "tested");
        assert!(p["detectable_r"].as_f64().unwrap() < 0.5, "{p}");
    }
    let significant: Vec<&Value> = r["associations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["significant"]["pearson"] == true || a["significant"]["spearman"] == true)
        .collect();
    assert!(significant.len() >= 4, "{}", significant.len());
    for a in &significant {
        assert_eq!(a["lag"], 1, "{a}");
        assert!(
            a["outcome_series"] == "commits" || a["outcome_series"] == "merged_prs",
            "{a}"
        );
        // The raw figures are kept, outside the family.
        assert!(a["raw"]["pearson_r"].is_number(), "{a}");
    }
    assert_eq!(
        r["multiple_comparison"]["significant_hypotheses"].as_u64(),
        Some(significant.len() as u64)
    );
}

#[test]
fn window_defaults_to_the_data_and_stays_inside_it() {
    let w = Work::new();
    demo(&w);
    let assoc = |args: &[&str]| {
        let (v, _) = report(&w, args);
        (
            v["associations"].clone(),
            v["metadata"].clone(),
            v["warnings"].clone(),
        )
    };
    // --since only, run long after the data end: --until is the last day with data.
    let (a1, m1, _) = assoc(&["--since", "2025-09-01"]);
    assert_eq!(m1["until"], "2025-10-12");
    let (a2, _, _) = assoc(&["--since", "2025-09-01", "--until", "2025-10-12"]);
    assert_eq!(a1, a2);
    // A window far beyond the data: the association series stop where the data stop, and say so.
    let (a3, m3, warnings) = assoc(&["--since", "2025-09-01", "--until", "2026-06-30"]);
    assert_eq!(m3["until"], "2026-06-30");
    assert_eq!(a1, a3);
    assert!(
        warnings
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("reaches beyond")),
        "{warnings}"
    );
    // Two weeks: 13 paired days at lag 1 are too few to infer anything; figures stay descriptive.
    let (v, _) = report(&w, &["--since", "2025-09-29", "--until", "2025-10-12"]);
    assert_eq!(v["inference"], "insufficient");
    for p in v["primary"].as_array().unwrap() {
        assert_eq!(
            (p["inference"].as_str(), p["n"].as_u64()),
            (Some("insufficient"), Some(13))
        );
        assert_eq!(p["significant"], false);
        assert!(
            p["statement"]
                .as_str()
                .unwrap()
                .starts_with("Not enough data"),
            "{p}"
        );
    }
    assert_eq!(v["multiple_comparison"]["significant"], 0);
    assert!(
        !v["associations"].as_array().unwrap().is_empty(),
        "tests are still listed"
    );
    // No arguments at all: the last 28 days with data.
    let (_, m4, _) = assoc(&[]);
    assert_eq!(
        (m4["since"].as_str(), m4["until"].as_str()),
        (Some("2025-09-15"), Some("2025-10-12"))
    );
}

#[test]
fn primary_adjustment_and_holidays_are_validated_and_reported() {
    let w = Work::new();
    demo(&w);
    let db = w.path("demo/cache.db");
    let bad = w
        .cmd()
        .arg("--db")
        .arg(&db)
        .args(["report", "--primary", "requests:lines:1"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("--primary") && err.contains("lines"), "{err}");
    let holidays = w.path("holidays.txt");
    std::fs::write(
        &holidays,
        "# team holidays\n2025-09-22\n\n2025-10-03 # national\n",
    )
    .unwrap();
    let (v, _) = report(
        &w,
        &[
            "--since",
            "2025-09-01",
            "--primary",
            "sessions:merged_prs:2",
            "--holiday",
            "2025-09-10",
            "--holidays",
            holidays.to_str().unwrap(),
            "--permutations",
            "199",
        ],
    );
    let adj = &v["adjustment"];
    assert_eq!(adj["method"], "calendar");
    assert_eq!(adj["holidays"].as_array().unwrap().len(), 3);
    assert_eq!(adj["permutations"], 199);
    let a = v["associations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["role"] == "primary")
        .unwrap();
    assert_eq!(
        (&a["ai_series"], &a["outcome_series"], &a["lag"]),
        (&"sessions".into(), &"merged_prs".into(), &2.into())
    );
    let pp = a["permutation_p"].as_f64().unwrap();
    assert!((1.0 / 200.0..=1.0).contains(&pp), "{pp}");
    let bad_file = w.path("bad.txt");
    std::fs::write(&bad_file, "2025-13-01\n").unwrap();
    let out = w
        .cmd()
        .arg("--db")
        .arg(&db)
        .args(["report", "--holidays", bad_file.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("line 1"), "{err}");
    // --adjust none: the plain correlations, and a warning that says they are not adjusted.
    let (v, _) = report(&w, &["--since", "2025-09-01", "--adjust", "none"]);
    assert_eq!(v["adjustment"]["method"], "none");
    assert!(v["warnings"].to_string().contains("NOT adjusted"));
    let a = &v["associations"][0];
    assert_eq!(a["pearson"]["r"], a["raw"]["pearson_r"]);
}

#[test]
fn report_json_when_piped_csv_to_file_and_repos_stay_apart() {
    let w = Work::new();
    demo(&w);
    let csv = w.path("out.csv");
    let (v, _) = report(
        &w,
        &[
            "--repo",
            "acme/api",
            "--since",
            "2025-09-01",
            "--until",
            "2025-10-12",
            "--output",
            csv.to_str().unwrap(),
        ],
    );
    // Piped stdout: JSON, with the documented top-level keys.
    for key in [
        "schema_version",
        "metadata",
        "metrics",
        "associations",
        "multiple_comparison",
        "ai_outcome_association",
        "thresholds",
        "definitions",
        "warnings",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["metadata"]["repos"], serde_json::json!(["acme/api"]));
    assert_eq!(
        v["metadata"]["runtime_profile"].as_array().unwrap().len(),
        3
    );
    assert!(v["metadata"]["freshness"][0]["last_github_sync"].is_string());
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("metric,value\n"));
    let r_line = text
        .lines()
        .find(|l| l.starts_with("ai_outcome_association.pearson.r,"))
        .unwrap();
    let r: f64 = r_line.split(',').nth(1).unwrap().parse().unwrap();
    assert_eq!(
        Some(r),
        v["ai_outcome_association"]["pearson"]["r"].as_f64()
    );

    // The repo's numbers equal its own rows in the store, and do not change when another repo is added.
    let db = open_db(&w.path("demo/cache.db"));
    let calls = query_i64(
        &db,
        "SELECT COUNT(*) FROM traces WHERE repo_slug = 'acme/api'",
    );
    let merged = query_i64(
        &db,
        "SELECT COUNT(*) FROM gh_pull_requests WHERE repo = 'acme/api' AND merged_at IS NOT NULL",
    );
    let api = &v["metrics"]["acme/api"];
    assert_eq!(api["velocity"]["requests"].as_i64(), Some(calls));
    assert_eq!(api["pr_throughput"]["merged"].as_i64(), Some(merged));
    let (both, _) = report(&w, &["--since", "2025-09-01", "--until", "2025-10-12"]);
    assert_eq!(
        both["metadata"]["repos"],
        serde_json::json!(["acme/api", "acme/web"])
    );
    assert_eq!(both["metrics"]["acme/api"], v["metrics"]["acme/api"]);
}

#[test]
fn timezone_business_days_and_formats() {
    let w = Work::new();
    demo(&w);
    let base = [
        "--repo",
        "acme/web",
        "--since",
        "2025-09-01",
        "--until",
        "2025-09-30",
    ];
    let (utc, _) = report(&w, &base);
    let (biz, _) = report(&w, &[&base[..], &["--business-days"]].concat());
    let n = |v: &Value| v["associations"][0]["n"].as_u64().unwrap();
    assert_eq!(n(&utc), 30);
    assert_eq!(n(&biz), 22);
    let (tokyo, _) = report(&w, &[&base[..], &["--timezone", "Asia/Tokyo"]].concat());
    assert_eq!(tokyo["metadata"]["timezone"], "Asia/Tokyo");
    assert_ne!(
        tokyo["associations"][0]["pearson"]["r"],
        utc["associations"][0]["pearson"]["r"]
    );
    let (_, md) = report(&w, &[&base[..], &["--format", "md"]].concat());
    assert!(md.starts_with("# ProdLens report"));
    let (_, table) = report(&w, &[&base[..], &["--format", "table"]].concat());
    assert!(table.contains("✓ pass") || table.contains("✗ fail"));
    assert!(!table.contains('\x1b'), "no colour when not a terminal");
    let (_, csv) = report(
        &w,
        &[
            &base[..],
            &["--format", "csv", "--policy-model", "claude-*"],
        ]
        .concat(),
    );
    assert!(csv.contains("\nmetrics.acme/web.model_selection.share,"));
}

#[test]
fn bad_flags_exit_2() {
    let w = Work::new();
    demo(&w);
    for args in [
        &["--since", "yesterday"][..],
        &["--since", "2025-10-02", "--until", "2025-10-01"],
        &["--since", "2025-10-01", "--timezone", "Mars/Base"],
        &["--since", "2025-10-01", "--repo", "../etc"],
    ] {
        let out = w
            .cmd()
            .arg("--db")
            .arg(w.path("demo/cache.db"))
            .arg("report")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
