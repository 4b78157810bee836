//! Snapshot tests of the four report renderers over a fixed, deterministic report.
//!
//! The expected outputs live in `tests/snapshots/report.*`; after an intended change, rerun with
//! `UPDATE_SNAPSHOTS=1` and review the diff.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use prod_lens::metrics::input::{CommitRow, PullRow, RepoData, ReworkKind, ReworkRow, TraceRow};
use prod_lens::metrics::{self, Freshness, Metadata, Report, ReportOptions, Service};
use prod_lens::render::{
    csv::CsvRenderer, json::JsonRenderer, markdown::MarkdownRenderer, table::TableRenderer,
    Renderer,
};
use prod_lens::stats::calendar::DayWindow;
use std::path::PathBuf;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    day.and_hms_opt(hour, 15, 0).unwrap().and_utc()
}

/// Two repos over 10 days: AI calls vary by day; commits and merges follow the previous day.
fn data() -> Vec<RepoData> {
    let start = d("2025-09-29");
    let calls = [3u32, 7, 2, 9, 5, 1, 0, 6, 8, 4];
    ["acme/api", "acme/web"]
        .iter()
        .enumerate()
        .map(|(k, repo)| {
            let mut r = RepoData {
                repo: repo.to_string(),
                has_github: k == 0,
                ..RepoData::default()
            };
            for (i, &n) in calls.iter().enumerate() {
                let day = start + Duration::days(i as i64);
                for j in 0..n + k as u32 {
                    r.traces.push(TraceRow {
                        timestamp: at(day, 9 + j % 8),
                        developer: Some(format!("dev-{}", j % 3).into()),
                        session: Some(format!("s-{i}-{}", j % 2).into()),
                        model: Some(
                            if j % 4 == 0 {
                                "gpt-4o"
                            } else {
                                "claude-3-opus"
                            }
                            .into(),
                        ),
                        tokens: 100 + 10 * i64::from(j),
                        output_tokens: 20 + 2 * i64::from(j),
                        latency_ms: Some(800.0 + 100.0 * f64::from(j)),
                        ttft_ms: (j % 2 == 0).then_some(200.0),
                        status_code: Some(if j == 5 { 429 } else { 200 }),
                        is_error: j == 5,
                        error_class: (j == 5).then(|| "RateLimitError".into()),
                        accepted: (j % 3 != 2).then_some(j % 3 == 0),
                        diff_ratio: (j % 3 == 0).then_some(0.5 + 0.05 * f64::from(j % 7)),
                        accepted_lines: (j % 3 == 0).then_some(4),
                        cost_usd: (j != 1).then_some(0.01 * f64::from(j + 1)),
                    });
                }
                if k == 0 && i > 0 {
                    let prev = calls[i - 1];
                    for c in 0..prev {
                        r.commits.push(CommitRow {
                            author: Some(format!("dev-{}", c % 3)),
                            authored_at: at(day, 10 + c % 6),
                        });
                    }
                    for m in 0..prev / 3 {
                        let number = (i * 10 + m as usize) as i64;
                        let merged = at(day, 14 + m);
                        r.pulls.push(PullRow {
                            number,
                            author: Some("dev-0".into()),
                            created_at: merged - Duration::hours(i64::from(3 + 5 * m + i as u32)),
                            merged_at: Some(merged),
                        });
                    }
                }
            }
            if k == 0 {
                let merged_at = |n: i64| r.pulls.iter().find(|p| p.number == n)?.merged_at;
                let signals = [
                    (ReworkKind::Revert, 20, at(d("2025-10-03"), 9)),
                    // Reopened before its merge on 2025-10-03.
                    (ReworkKind::Reopened, 40, at(d("2025-10-02"), 9)),
                    // Reopened and never merged.
                    (ReworkKind::Reopened, 900, at(d("2025-10-05"), 9)),
                    (ReworkKind::Reopened, 901, at(d("2025-10-06"), 9)),
                ];
                let rows: Vec<ReworkRow> = signals
                    .into_iter()
                    .map(|(kind, pr_number, when)| ReworkRow {
                        kind,
                        pr_number,
                        at: when,
                        within_window: true,
                        pr_merged_at: merged_at(pr_number),
                    })
                    .collect();
                r.rework.extend(rows);
            }
            r
        })
        .collect()
}

fn report() -> Report {
    let window = DayWindow::new(d("2025-09-29"), d("2025-10-08")).unwrap();
    let opts = ReportOptions {
        window,
        tz: chrono_tz::UTC,
        business_days: false,
        lag_days: 1,
        max_lag: 3,
        policy_models: vec!["claude-3-*".into()],
        q: 0.05,
        ..ReportOptions::new(window, chrono_tz::UTC)
    };
    let metadata = Metadata {
        repos: vec!["acme/api".into(), "acme/web".into()],
        since: "2025-09-29".into(),
        until: "2025-10-08".into(),
        timezone: "UTC".into(),
        business_days: false,
        lag_days: 1,
        max_lag: 3,
        developer: None,
        team: None,
        model: None,
        mode: "exact".into(),
        generated_at: "2025-10-09T08:00:00Z".into(),
        tool_version: "0.0.0-snapshot".into(),
        freshness: vec![Freshness {
            repo: "acme/api".into(),
            last_trace_ingest: Some("2025-10-09T07:00:00Z".into()),
            latest_trace_day: Some("2025-10-08".into()),
            last_github_sync: Some("2025-10-09T06:00:00Z".into()),
        }],
        runtime_profile: vec![Service {
            name: "litellm".into(),
            port: 4000,
            answering: false,
        }],
    };
    metrics::compute(&data(), &opts, metadata).unwrap()
}

fn check(name: &str, got: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_SNAPSHOTS=1)", path.display()));
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "{name} differs from the snapshot at line {}:\n got: {:?}\nwant: {:?}",
            line + 1,
            got.lines().nth(line),
            want.lines().nth(line)
        );
    }
}

#[test]
fn json_snapshot() {
    let r = report();
    check("report.json", &JsonRenderer.render(&r).unwrap());
}

#[test]
fn csv_snapshot() {
    let text = CsvRenderer.render(&report()).unwrap();
    assert!(text.starts_with("metric,value\n"));
    assert!(text.contains("\nai_outcome_association.pearson.r,"));
    assert!(text.contains("\nassociations.acme/api.requests.commits.lag1.adjusted_p.pearson,"));
    check("report.csv", &text);
}

#[test]
fn table_snapshot_fits_100_columns_and_colours_only_when_asked() {
    let r = report();
    let plain = TableRenderer { color: false }.render(&r).unwrap();
    for line in plain.lines() {
        assert!(line.chars().count() <= 100, "too wide: {line}");
    }
    assert!(!plain.contains('\x1b'));
    assert!(plain.contains("✓ pass") && plain.contains("✗ fail"));
    check("report.txt", &plain);
    let coloured = TableRenderer { color: true }.render(&r).unwrap();
    assert!(coloured.contains("\x1b[32m✓ pass\x1b[0m"));
}

#[test]
fn markdown_snapshot() {
    check("report.md", &MarkdownRenderer.render(&report()).unwrap());
}

#[test]
fn repos_do_not_mix() {
    let both = report();
    let window = DayWindow::new(d("2025-09-29"), d("2025-10-08")).unwrap();
    let opts = ReportOptions {
        window,
        tz: chrono_tz::UTC,
        business_days: false,
        lag_days: 1,
        max_lag: 3,
        policy_models: vec!["claude-3-*".into()],
        q: 0.05,
        ..ReportOptions::new(window, chrono_tz::UTC)
    };
    let only_web: Vec<RepoData> = data()
        .into_iter()
        .filter(|r| r.repo == "acme/web")
        .collect();
    let alone = metrics::compute(&only_web, &opts, both.metadata.clone()).unwrap();
    assert_eq!(alone.metrics["acme/web"], both.metrics["acme/web"]);
    assert_eq!(both.metrics["acme/web"].pr_throughput.merged, 0);
    assert_eq!(both.metrics["acme/web"].velocity.requests, 45 + 10);
    assert_eq!(both.metrics["acme/api"].velocity.requests, 45);
}

#[test]
fn readme_states_every_definition() {
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    for (key, text) in prod_lens::metrics::definitions::DEFINITIONS {
        assert!(
            readme.contains(&format!("- **`{key}`** — {text}")),
            "README lacks the definition of {key}"
        );
    }
}
