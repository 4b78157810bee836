//! Loading report rows from a real SQLite store: per repo, per window, in a timezone.

use chrono::{DateTime, NaiveDate, Utc};
use prod_lens::stats::calendar::DayWindow;
use prod_lens::store::prelude::*;
use prod_lens::store::report_data::TraceFilter;
use prod_lens::store::Store;
use rusqlite::params;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("r.db")).unwrap();
    let c = rusqlite::Connection::open(store.path()).unwrap();
    for (i, (repo, ts)) in [
        ("acme/api", "2025-10-01T10:00:00Z"),
        ("acme/api", "2025-10-01T22:30:00Z"), // 2025-10-02 00:30 in Berlin
        ("acme/api", "2025-09-30T22:30:00Z"), // 2025-10-01 00:30 in Berlin
        ("acme/web", "2025-10-01T11:00:00Z"),
    ]
    .iter()
    .enumerate()
    {
        let t = utc(ts);
        c.execute(
            "INSERT INTO traces (dedupe_key, source_format, timestamp_us, event_date, repo_slug,
               developer_id, session_id, model, tokens_in, tokens_out, cache_read_tokens,
               cache_creation_tokens, is_error, cost_usd, cost_source)
             VALUES (?1, 'seed-span', ?2, ?3, ?4, 'dev-a', 's1', 'gpt-4o', 10, 5, 0, 0, 0, 0.01, 'reported')",
            params![vec![i as u8; 16], t.timestamp_micros(), t.date_naive().to_string(), repo],
        )
        .unwrap();
    }
    for (repo, n, merged) in [
        ("acme/api", 1, "2025-10-01T12:00:00Z"),
        ("acme/web", 1, "2025-10-01T13:00:00Z"),
        ("acme/web", 2, "2025-10-05T13:00:00Z"),
    ] {
        c.execute(
            "INSERT INTO gh_pull_requests (repo, number, title, state, draft, created_at, updated_at, merged_at)
             VALUES (?1, ?2, 't', 'closed', 0, '2025-09-30T08:00:00Z', ?3, ?3)",
            params![repo, n, merged],
        )
        .unwrap();
    }
    c.execute(
        "INSERT INTO gh_commits (repo, sha, author_login, authored_at, message)
         VALUES ('acme/web', 'abc', 'dev-a', '2025-10-01T09:00:00Z', 'm')",
        [],
    )
    .unwrap();
    (dir, store)
}

#[test]
fn rows_stay_in_their_repo_and_window() {
    let (_d, s) = store();
    assert_eq!(s.report_repos().unwrap(), vec!["acme/api", "acme/web"]);
    let day = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();
    let w = DayWindow::new(day, day).unwrap();
    let (start, end) = w.utc_bounds(chrono_tz::UTC).unwrap();
    let api = s
        .report_data("acme/api", start, end, &TraceFilter::default())
        .unwrap();
    assert_eq!(api.traces.len(), 2);
    assert_eq!(api.pulls.len(), 1);
    assert!(api.commits.is_empty());
    assert!(api.has_github);
    let web = s
        .report_data("acme/web", start, end, &TraceFilter::default())
        .unwrap();
    assert_eq!(
        (web.traces.len(), web.pulls.len(), web.commits.len()),
        (1, 1, 1)
    );
    let none = s
        .report_data("acme/none", start, end, &TraceFilter::default())
        .unwrap();
    assert!(none.traces.is_empty() && !none.has_github);
}

#[test]
fn timezone_moves_the_window_bounds() {
    let (_d, s) = store();
    let day = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();
    let w = DayWindow::new(day, day).unwrap();
    let (start, end) = w.utc_bounds(chrono_tz::Europe::Berlin).unwrap();
    let api = s
        .report_data("acme/api", start, end, &TraceFilter::default())
        .unwrap();
    let mut got: Vec<String> = api
        .traces
        .iter()
        .map(|t| t.timestamp.to_rfc3339())
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec!["2025-09-30T22:30:00+00:00", "2025-10-01T10:00:00+00:00"]
    );
    let f = s.report_freshness("acme/api").unwrap();
    assert_eq!(f.latest_trace_day.as_deref(), Some("2025-10-01"));
}

#[test]
fn developer_and_model_filters_narrow_the_rows() {
    let (_d, s) = store();
    let day = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();
    let (start, end) = DayWindow::new(day, day)
        .unwrap()
        .utc_bounds(chrono_tz::UTC)
        .unwrap();
    let dev = TraceFilter {
        developer: Some("DEV-A".into()),
        model: None,
        ..TraceFilter::default()
    };
    let web = s.report_data("acme/web", start, end, &dev).unwrap();
    assert_eq!((web.traces.len(), web.commits.len()), (1, 1));
    // The PR has no author: a developer filter leaves it out.
    assert!(web.pulls.is_empty());
    let nobody = TraceFilter {
        developer: Some("nobody".into()),
        model: None,
        ..TraceFilter::default()
    };
    let web = s.report_data("acme/web", start, end, &nobody).unwrap();
    assert_eq!((web.traces.len(), web.commits.len()), (0, 0));
    let model = |m: &str| TraceFilter {
        developer: None,
        model: Some(m.into()),
        ..TraceFilter::default()
    };
    let api = s
        .report_data("acme/api", start, end, &model("gpt-4o"))
        .unwrap();
    assert_eq!((api.traces.len(), api.pulls.len()), (2, 1));
    let api = s
        .report_data("acme/api", start, end, &model("other"))
        .unwrap();
    assert_eq!((api.traces.len(), api.pulls.len()), (0, 1));
}
