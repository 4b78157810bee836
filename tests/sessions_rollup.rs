//! The sessions list read from the rollups equals the list computed from the trace rows, on the
//! demo store: every sort key, both orders, paging, repo and developer filters, windows on UTC
//! midnights and windows whose first and last days are partial.

mod common;

use common::{run_ok, Work};
use prod_lens::store::prelude::*;
use prod_lens::store::sessions::{SessionQuery, SessionSort, SortOrder};
use prod_lens::store::Store;
use std::path::PathBuf;

const DAY_US: i64 = 86_400_000_000;

/// The demo store, and a copy of it without rollups (which answers every query from the rows).
fn demo_and_rows_copy(w: &Work) -> (PathBuf, PathBuf) {
    run_ok(w.cmd().args(["demo", "--json", "--dir", "demo"]));
    let db = w.path("demo/cache.db");
    let rows_db = w.path("rows.db");
    std::fs::copy(&db, &rows_db).unwrap();
    let c = rusqlite::Connection::open(&rows_db).unwrap();
    for t in prod_lens::store::rollups::TABLES {
        c.execute(&format!("DROP TABLE {t}"), []).unwrap();
    }
    (db, rows_db)
}

#[test]
fn rollup_sessions_equal_the_row_scan() {
    let w = Work::new();
    let (db, rows_db) = demo_and_rows_copy(&w);
    let fast = Store::open_read_only(&db).unwrap();
    let slow = Store::open_read_only(&rows_db).unwrap();
    let first_day: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT MIN(timestamp_us) FROM traces", [], |r| r.get(0))
        .unwrap();
    let first_day = first_day.div_euclid(DAY_US);
    let mut queries = Vec::new();
    for sort in SessionSort::ALL {
        for order in [SortOrder::Asc, SortOrder::Desc] {
            queries.push(SessionQuery {
                sort,
                order,
                per_page: 37,
                page: 2,
                ..SessionQuery::default()
            });
        }
    }
    queries.push(SessionQuery {
        repos: vec!["acme/web".into()],
        start_us: Some((first_day + 3) * DAY_US),
        end_us: Some((first_day + 10) * DAY_US),
        per_page: 500,
        ..SessionQuery::default()
    });
    queries.push(SessionQuery {
        developer: Some("DEV-ALICE".into()),
        sort: SessionSort::Requests,
        per_page: 500,
        ..SessionQuery::default()
    });
    queries.push(SessionQuery {
        page: 1000,
        ..SessionQuery::default()
    });
    // Windows whose bounds are not UTC midnights (local days of Berlin, New York, odd hours):
    // whole UTC days from the rollups, the partial first and last days from the rows.
    const HOUR_US: i64 = 3_600_000_000;
    for (start_h, end_h) in [
        (22, 9 * 24 + 22),     // Europe/Berlin summer days
        (4, 6 * 24 + 5),       // America/New_York across its DST change
        (13, 24 + 11),         // less than one whole UTC day
        (13, 2 * 24 + 11),     // one whole day and two partial ones
        (5, 5 + 7 * 24),       // a week of local days, same offset
        (1, 1 + 20 * 24),      // nearly the whole store
        (24 + 3, 24 + 3 + 23), // inside one UTC day
    ] {
        for (sort, developer) in [
            (SessionSort::LastSeen, None),
            (SessionSort::Tokens, Some("dev-bob".to_string())),
            (SessionSort::Cost, None),
        ] {
            queries.push(SessionQuery {
                start_us: Some(first_day * DAY_US + start_h * HOUR_US),
                end_us: Some(first_day * DAY_US + end_h * HOUR_US),
                developer,
                sort,
                per_page: 500,
                ..SessionQuery::default()
            });
        }
    }
    // A model filter: per-model session-days, with and without partial days.
    for (model, developer, window) in [
        ("claude-haiku-4-5", None, None),
        ("gpt-4o", Some("DEV-BOB".to_string()), Some((0, 42 * 24))),
        ("claude-sonnet-4-5-20250929", None, Some((22, 9 * 24 + 22))),
        ("gpt-4o-mini", None, Some((13, 24 + 11))),
        ("no-such-model", None, None),
    ] {
        for sort in [SessionSort::Tokens, SessionSort::LastSeen] {
            queries.push(SessionQuery {
                model: Some(model.to_string()),
                developer: developer.clone(),
                start_us: window.map(|(s, _)| first_day * DAY_US + s * HOUR_US),
                end_us: window.map(|(_, e)| first_day * DAY_US + e * HOUR_US),
                sort,
                per_page: 500,
                ..SessionQuery::default()
            });
        }
    }
    queries.push(SessionQuery {
        end_us: Some((first_day + 12) * DAY_US + 7 * HOUR_US),
        sort: SessionSort::Requests,
        per_page: 45,
        page: 3,
        ..SessionQuery::default()
    });
    queries.push(SessionQuery {
        start_us: Some((first_day + 30) * DAY_US + 19 * HOUR_US),
        page: 900,
        ..SessionQuery::default()
    });
    let mut seen = 0;
    for q in &queries {
        let a = fast.sessions_page(q).unwrap();
        let b = slow.sessions_page(q).unwrap();
        assert_eq!(a.total, b.total, "{q:?}");
        assert_eq!(a.items.len(), b.items.len(), "{q:?}");
        for (x, y) in a.items.iter().zip(&b.items) {
            assert_eq!(
                (
                    &x.repo,
                    &x.session,
                    &x.developer,
                    &x.first_seen,
                    &x.last_seen
                ),
                (
                    &y.repo,
                    &y.session,
                    &y.developer,
                    &y.first_seen,
                    &y.last_seen
                ),
                "{q:?}"
            );
            assert_eq!(
                (x.requests, x.tokens, x.cost_unknown, x.errors),
                (y.requests, y.tokens, y.cost_unknown, y.errors),
                "{q:?}"
            );
            assert!((x.cost_usd - y.cost_usd).abs() <= 1e-9 * y.cost_usd.abs().max(1.0));
        }
        seen += a.items.len();
    }
    assert!(seen > 500, "the queries must return sessions, got {seen}");

    // The fast path really reads the rollups: skewing them shows in the list.
    let skewed = w.path("skewed.db");
    std::fs::copy(&db, &skewed).unwrap();
    let c = rusqlite::Connection::open(&skewed).unwrap();
    c.execute_batch(
        "UPDATE rollup_sessions SET requests = requests + 1000;
         UPDATE rollup_session_models SET requests = requests + 1000;",
    )
    .unwrap();
    drop(c);
    let q = SessionQuery::default();
    let top = Store::open_read_only(&skewed)
        .unwrap()
        .sessions_page(&q)
        .unwrap();
    let real = slow.sessions_page(&q).unwrap();
    assert!(top.items[0].requests >= 1000 + real.items[0].requests.min(1));
    // So do a window that starts an hour after a UTC midnight (its whole days come from the
    // rollups) and a model filter (per-model session-days), but not a window inside a single UTC
    // day: that reads the rows.
    let skewed = Store::open_read_only(&skewed).unwrap();
    for q in [
        SessionQuery {
            start_us: Some(first_day * DAY_US + HOUR_US),
            ..SessionQuery::default()
        },
        SessionQuery {
            model: Some("claude-haiku-4-5".into()),
            ..SessionQuery::default()
        },
    ] {
        let page = skewed.sessions_page(&q).unwrap();
        assert!(page.items[0].requests >= 1000, "{q:?}: {:?}", page.items[0]);
    }
    let q = SessionQuery {
        start_us: Some((first_day + 2) * DAY_US + HOUR_US),
        end_us: Some((first_day + 2) * DAY_US + 20 * HOUR_US),
        ..SessionQuery::default()
    };
    assert_eq!(
        skewed.sessions_page(&q).unwrap(),
        slow.sessions_page(&q).unwrap()
    );
}

#[test]
fn status_from_rollups_equals_the_scan() {
    let w = Work::new();
    let (db, rows_db) = demo_and_rows_copy(&w);
    // A call without a repo is counted from its own rows on both paths.
    for db in [&db, &rows_db] {
        rusqlite::Connection::open(db)
            .unwrap()
            .execute(
                "INSERT INTO traces (dedupe_key, source_format, timestamp_us, event_date,
                   tokens_in, tokens_out, cache_read_tokens, cache_creation_tokens, is_error,
                   cost_source)
                 VALUES (x'00112233445566778899aabbccddeeff', 'seed-span', 1, '1970-01-01',
                   1, 1, 0, 0, 0, 'unknown')",
                [],
            )
            .unwrap();
    }
    let fast = Store::open_read_only(&db).unwrap().status(3).unwrap();
    let slow = Store::open_read_only(&rows_db).unwrap().status(3).unwrap();
    assert_eq!(fast.traces.total, slow.traces.total);
    assert_eq!(fast.traces.by_repo.len(), slow.traces.by_repo.len());
    assert!(
        fast.traces.by_repo.len() >= 3,
        "two repos and the repo-less call"
    );
    for (a, b) in fast.traces.by_repo.iter().zip(&slow.traces.by_repo) {
        assert_eq!(
            (&a.repo, a.count, &a.first, &a.last, a.cost_unknown),
            (&b.repo, b.count, &b.first, &b.last, b.cost_unknown)
        );
        assert!((a.cost_usd - b.cost_usd).abs() <= 1e-9 * b.cost_usd.abs().max(1.0));
    }
}
