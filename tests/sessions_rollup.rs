//! The sessions list read from the rollups equals the list computed from the trace rows, on the
//! demo store: every sort key, both orders, paging, repo and developer filters.

mod common;

use common::{run_ok, Work};
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
    for t in ["rollup_cells", "rollup_errors", "rollup_sessions"] {
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
    let first_day: i64 = fast
        .conn()
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
                (y.requests, y.tokens, y.cost_unknown, y.errors)
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
    c.execute("UPDATE rollup_sessions SET requests = requests + 1000", [])
        .unwrap();
    drop(c);
    let q = SessionQuery::default();
    let top = Store::open_read_only(&skewed)
        .unwrap()
        .sessions_page(&q)
        .unwrap();
    let real = slow.sessions_page(&q).unwrap();
    assert!(top.items[0].requests >= 1000 + real.items[0].requests.min(1));
    // A window that does not start at a UTC midnight is answered from the rows.
    let q = SessionQuery {
        start_us: Some(first_day * DAY_US + 3_600_000_000),
        ..SessionQuery::default()
    };
    let off = Store::open_read_only(&skewed)
        .unwrap()
        .sessions_page(&q)
        .unwrap();
    assert_eq!(off, slow.sessions_page(&q).unwrap());
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
