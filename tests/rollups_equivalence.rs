//! Reports from the hourly rollups against reports from every row, over random calls written to
//! a real SQLite file in several batches: several repos, developers in two spellings, missing and
//! empty names, sessions, errors with and without status or class, unknown costs, Claude Code
//! copies raised in the same and in later batches, Europe/Berlin and America/New_York across
//! their DST changes, narrower windows, business days and developer / model filters.
//!
//! Every count and sum must be equal (floating-point sums to 1e-9 relative); percentiles within
//! the sketch's stated relative accuracy. The rollups kept while writing must equal a rebuild.

mod rollups_support;

use chrono::{Duration, TimeZone, Utc};
use prod_lens::metrics::distribution::PERCENTILE_RELATIVE_ERROR;
use prod_lens::record::{CostSource, SourceFormat, TraceRecord};
use prod_lens::report::{build, ReportParams, ReportRequest};
use prod_lens::sample::Rng;
use prod_lens::sources::blank;
use prod_lens::store::prelude::*;
use prod_lens::store::Store;
use rollups_support::{assert_same, snapshot};
use serde_json::Value;

const REPOS: [Option<&str>; 5] = [
    Some("acme/api"),
    Some("acme/api"),
    Some("acme/web"),
    Some("acme/ops"),
    None,
];
const DEVS: [Option<&str>; 8] = [
    Some("ana"),
    Some("Ana"),
    Some("bo"),
    Some("BO"),
    Some("cy"),
    Some("dee"),
    Some(""),
    None,
];
const MODELS: [Option<&str>; 5] = [
    Some("gpt-4o"),
    Some("claude-sonnet-4-5"),
    Some("claude-haiku-4-5"),
    Some(""),
    None,
];
const STATUSES: [Option<i64>; 7] = [
    Some(200),
    Some(200),
    Some(201),
    Some(429),
    Some(500),
    Some(0),
    None,
];
const CLASSES: [&str; 3] = ["RateLimitError", "APIError", ""];

fn pick<T: Copy>(r: &mut Rng, xs: &[T]) -> T {
    xs[r.range(0, xs.len() as u64 - 1) as usize]
}

/// One random call; `key` makes its dedupe key.
fn call(r: &mut Rng, key: u64) -> TraceRecord {
    let start = Utc.with_ymd_and_hms(2025, 10, 18, 0, 0, 0).unwrap();
    let ts = start + Duration::microseconds(r.range(0, 16 * 86_400 * 1_000_000) as i64);
    let mut t = blank(SourceFormat::SeedSpan, ts);
    t.dedupe_key[..8].copy_from_slice(&key.to_le_bytes());
    t.repo_slug = pick(r, &REPOS).map(String::from);
    t.developer_id = pick(r, &DEVS).map(String::from);
    t.session_id = r.chance(0.85).then(|| format!("s{}", r.range(0, 14)));
    t.model = pick(r, &MODELS).map(String::from);
    t.tokens_in = r.range(0, 5_000) as i64;
    t.tokens_out = r.range(0, 800) as i64;
    t.latency_ms = r.chance(0.9).then(|| {
        if r.chance(0.05) {
            0.0
        } else {
            50.0 + r.unit() * 25_000.0
        }
    });
    t.ttft_ms = r.chance(0.5).then(|| 10.0 + r.unit() * 3_000.0);
    t.status_code = pick(r, &STATUSES);
    t.is_error = t.status_code.is_some_and(|s| s >= 400) || r.chance(0.05);
    t.error_class = (t.is_error && r.chance(0.7)).then(|| pick(r, &CLASSES).to_string());
    t.accepted = r.chance(0.6).then(|| r.chance(0.4));
    t.diff_ratio = r
        .chance(0.3)
        .then(|| if r.chance(0.2) { 0.7 } else { r.unit() });
    t.accepted_lines = r.chance(0.4).then(|| r.range(0, 40) as i64 - 5);
    t.cost_usd = r.chance(0.85).then(|| r.unit() * 0.2);
    t.cost_source = if t.cost_usd.is_some() {
        CostSource::Reported
    } else {
        CostSource::Unknown
    };
    t
}

/// Random calls in batches: Claude Code messages arrive as early copies and a final copy with
/// more tokens, in the same batch or a later one, and some calls arrive twice.
fn batches(seed: u64, n: u64) -> Vec<Vec<TraceRecord>> {
    let mut r = Rng::new(seed);
    let count = 8;
    let mut out: Vec<Vec<TraceRecord>> = vec![Vec::new(); count];
    for key in 0..n {
        let mut t = call(&mut r, key);
        let b = r.range(0, count as u64 - 1) as usize;
        if r.chance(0.12) {
            t.source_format = SourceFormat::ClaudeCode;
            let mut early = t.clone();
            early.tokens_in /= 4;
            early.tokens_out = 1;
            early.cost_usd = if r.chance(0.5) {
                None
            } else {
                t.cost_usd.map(|c| c / 4.0)
            };
            out[b].push(early.clone());
            let later = r.range(b as u64, count as u64 - 1) as usize;
            out[later].push(t);
            if r.chance(0.3) {
                // A stale copy after the final one changes nothing.
                out[count - 1].push(early);
            }
        } else {
            if r.chance(0.05) {
                let again = r.range(0, count as u64 - 1) as usize;
                out[again].push(t.clone());
            }
            out[b].push(t);
        }
    }
    out
}

fn params(since: &str, until: &str, tz: &str) -> ReportParams {
    ReportParams {
        since: since.into(),
        until: Some(until.into()),
        timezone: tz.into(),
        policy_models: vec!["claude-*".into()],
        ..ReportParams::default()
    }
}

fn report(store: &Store, p: &ReportParams, exact: bool) -> Value {
    let p = ReportParams { exact, ..p.clone() };
    let req = ReportRequest::from_params(&p, "--").unwrap();
    let r = build(store, &req, "2025-11-03T00:00:00Z".into(), vec![]).unwrap();
    serde_json::to_value(r).unwrap()
}

fn is_percentile(path: &str) -> bool {
    [
        "latency_median_ms",
        "latency_p95_ms",
        "latency_p50_ms",
        "ttft_median_ms",
    ]
    .iter()
    .any(|k| path.ends_with(k))
}

/// Compares two report values; returns the first difference.
fn diff(a: &Value, b: &Value, path: &str, percentile: bool) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}: keys {:?} vs {:?}", x.keys(), y.keys()));
            }
            // A threshold row names its metric next to its value.
            let threshold = x
                .get("metric")
                .and_then(Value::as_str)
                .is_some_and(is_percentile);
            for (k, v) in x {
                let p = format!("{path}.{k}");
                let Some(w) = y.get(k) else {
                    return Some(format!("{p}: missing"));
                };
                let pct = percentile || is_percentile(&p) || (threshold && k == "value");
                if let Some(d) = diff(v, w, &p, pct) {
                    return Some(d);
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!("{path}: {} vs {} items", x.len(), y.len()));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| diff(v, w, &format!("{path}[{i}]"), percentile))
        }
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let tol = if percentile {
                PERCENTILE_RELATIVE_ERROR * (1.0 + 1e-9) * x.abs().max(y.abs()) + 1e-9
            } else {
                1e-9 * x.abs().max(y.abs()) + 1e-12
            };
            ((x - y).abs() > tol).then(|| format!("{path}: {x} vs {y}"))
        }
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

fn assert_equivalent(store: &Store, p: &ReportParams) {
    let fast = report(store, p, false);
    let exact = report(store, p, true);
    assert_eq!(fast["metadata"]["mode"], "rollups", "{p:?}");
    assert_eq!(exact["metadata"]["mode"], "exact");
    for key in [
        "metrics",
        "associations",
        "multiple_comparison",
        "ai_outcome_association",
        "thresholds",
        "warnings",
    ] {
        if let Some(d) = diff(&fast[key], &exact[key], key, false) {
            panic!("rollups and exact differ for {p:?}: {d}");
        }
    }
}

#[test]
fn rollup_reports_equal_exact_reports_on_random_calls() {
    for seed in [1u64, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("r.db")).unwrap();
        let mut raised = 0;
        for batch in batches(seed, 2_500) {
            let written = store.write_traces(&batch, None).unwrap();
            raised += written
                .iter()
                .filter(|w| matches!(w, prod_lens::store::traces::Written::Raised { .. }))
                .count();
        }
        assert!(raised > 50, "seed {seed}: only {raised} raised copies");
        let calls: i64 = rusqlite::Connection::open(store.path())
            .unwrap()
            .query_row("SELECT SUM(requests) FROM rollup_cells", [], |r| r.get(0))
            .unwrap();
        assert!(calls > 1_500, "seed {seed}: {calls}");

        for (since, until) in [("2025-10-18", "2025-11-02"), ("2025-10-24", "2025-10-27")] {
            for tz in ["UTC", "Europe/Berlin", "America/New_York"] {
                let base = params(since, until, tz);
                assert_equivalent(&store, &base);
                for (developer, model) in [
                    (Some("ANA"), None),
                    (None, Some("gpt-4o")),
                    (Some("bo"), Some("claude-sonnet-4-5")),
                ] {
                    let p = ReportParams {
                        developer: developer.map(String::from),
                        model: model.map(String::from),
                        ..base.clone()
                    };
                    assert_equivalent(&store, &p);
                }
            }
        }
        let mut p = params("2025-10-18", "2025-11-02", "Europe/Berlin");
        p.business_days = true;
        p.repos = vec!["acme/web".into(), "acme/api".into()];
        p.max_lag = 5;
        assert_equivalent(&store, &p);

        // What was kept while writing is what a rebuild computes.
        let kept = snapshot(&rusqlite::Connection::open(store.path()).unwrap(), None);
        let stats = store.rebuild_rollups(None).unwrap();
        assert!(stats.traces > 0 && stats.cells > 0);
        assert_same(
            &snapshot(&rusqlite::Connection::open(store.path()).unwrap(), None),
            &kept,
        );
    }
}

#[test]
fn half_hour_timezones_fall_back_to_rows_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("r.db")).unwrap();
    for batch in batches(9, 300) {
        store.write_traces(&batch, None).unwrap();
    }
    let p = params("2025-10-20", "2025-10-30", "Asia/Kolkata");
    let fast = report(&store, &p, false);
    assert_eq!(fast["metadata"]["mode"], "exact-fallback");
    let warned = fast["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("not a whole number of hours"));
    assert!(warned, "{}", fast["warnings"]);
    let exact = report(&store, &p, true);
    assert_eq!(
        diff(&fast["metrics"], &exact["metrics"], "metrics", false),
        None
    );
    // A whole-hour zone over the same days reads the rollups.
    let tokyo = report(
        &store,
        &params("2025-10-20", "2025-10-30", "Asia/Tokyo"),
        false,
    );
    assert_eq!(tokyo["metadata"]["mode"], "rollups");
}
