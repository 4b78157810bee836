//! The sessions list of the PostgreSQL store equals the SQLite store's for the same calls,
//! identity links and GitHub authors: every sort key in both orders, every filter (repos,
//! developer, model, window), page sizes and pages, and `developer_known`.
//!
//! The PostgreSQL database sorts text with ICU's root collation and folds case for all of
//! Unicode, unlike SQLite: the store must compare bytewise and fold ASCII only to agree. The
//! data has ties on every sort key, names that differ in case only (ASCII and not), repos and
//! sessions that sort differently bytewise, calls without a repo or session, unknown costs,
//! errors, and sessions that span days and models, written in several batches.

mod pg_support;

use chrono::{DateTime, Duration, TimeZone, Utc};
use prod_lens::pg::PgTarget;
use prod_lens::record::{CostSource, SourceFormat, TraceRecord};
use prod_lens::sample::Rng;
use prod_lens::sources::blank;
use prod_lens::store::postgres::PgStore;
use prod_lens::store::prelude::*;
use prod_lens::store::sessions::{SessionQuery, SessionSort, SortOrder, MAX_PER_PAGE};
use prod_lens::store::Store;

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

const REPOS: [Option<&str>; 7] = [
    Some("acme/api"),
    Some("acme/api"),
    Some("acme/web"),
    Some("Acme/web"),
    Some("acme/Ωmega"),
    Some(""),
    None,
];
const SESSIONS: [Option<&str>; 10] = [
    Some("s1"),
    Some("S1"),
    Some("s2"),
    Some("s10"),
    Some("é"),
    Some("e"),
    Some("E"),
    Some("z"),
    Some(""),
    None,
];
const DEVS: [Option<&str>; 13] = [
    Some("ana"),
    Some("Ana"),
    Some("Élodie"),
    Some("élodie"),
    Some("bo"),
    Some("Bo"),
    Some("zoë"),
    Some("quinn"),
    Some("dev@corp.com"),
    Some("Éva@corp.com"),
    Some("12345+quinn@users.noreply.github.com"),
    Some(""),
    None,
];
const MODELS: [Option<&str>; 4] = [Some("gpt-4o"), Some("claude-sonnet-4-5"), Some(""), None];

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, 18, 0, 0, 0).unwrap()
}

fn pick<T: Copy>(r: &mut Rng, xs: &[T]) -> T {
    xs[r.range(0, xs.len() as u64 - 1) as usize]
}

/// A call at `ts` with dedupe key `key`.
fn call(key: u64, ts: DateTime<Utc>) -> TraceRecord {
    let mut t = blank(SourceFormat::SeedSpan, ts);
    t.dedupe_key[..8].copy_from_slice(&key.to_le_bytes());
    t.cost_source = CostSource::Reported;
    t
}

/// Random calls over six days, a hand-made set of one-call sessions that tie on every sort key
/// but the developer (which differs in case and accents), and sessions without a developer, in
/// batches.
fn batches() -> Vec<Vec<TraceRecord>> {
    let mut r = Rng::new(7);
    let mut out: Vec<Vec<TraceRecord>> = vec![Vec::new(); 5];
    for key in 0..2_000u64 {
        let ts = base() + Duration::microseconds(r.range(0, 6 * DAY_US as u64) as i64);
        let mut t = call(key, ts);
        t.repo_slug = pick(&mut r, &REPOS).map(String::from);
        t.session_id = pick(&mut r, &SESSIONS).map(String::from);
        t.developer_id = pick(&mut r, &DEVS).map(String::from);
        t.model = pick(&mut r, &MODELS).map(String::from);
        t.tokens_in = r.range(0, 4_000) as i64;
        t.tokens_out = r.range(0, 600) as i64;
        t.is_error = r.chance(0.1);
        // Costs in 1/1024 dollars add up exactly in any order; the others may not.
        t.cost_usd = match r.range(0, 9) {
            0 | 1 => None,
            2..=5 => Some(r.range(0, 2_048) as f64 / 1024.0),
            _ => Some(r.unit() * 0.2),
        };
        if t.cost_usd.is_none() {
            t.cost_source = CostSource::Unknown;
        }
        let b = r.range(0, out.len() as u64 - 1) as usize;
        out[b].push(t);
    }
    // Sessions "tie" in four repos at one instant, equal in everything but the developer.
    let at = base() + Duration::hours(30);
    for (i, (repo, dev)) in [
        ("acme/api", "élodie"),
        ("Acme/web", "Élodie"),
        ("acme/web", "Zed"),
        ("acme/Ωmega", "zed"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut t = call(10_000 + i as u64, at);
        t.repo_slug = Some(repo.into());
        t.session_id = Some("tie".into());
        t.developer_id = Some(dev.into());
        t.model = Some("gpt-4o".into());
        t.tokens_in = 100;
        t.cost_usd = Some(0.5);
        out[i % 2].push(t);
    }
    // Sessions without a developer: none, and an empty one.
    for (i, dev) in [None, Some("")].into_iter().enumerate() {
        let mut t = call(10_100 + i as u64, at + Duration::minutes(i as i64));
        t.repo_slug = Some("acme/web".into());
        t.session_id = Some(format!("anon{i}"));
        t.developer_id = dev.map(String::from);
        t.cost_usd = None;
        t.cost_source = CostSource::Unknown;
        out[4].push(t);
    }
    out
}

/// Identity links and GitHub authors, the same in both stores: `ana` and `bo` are one person,
/// commit e-mails link two ids, and two logins differ in case only.
fn links(sqlite: &mut Store, db: &std::path::Path, t: &PgTarget) {
    let map = [("Ana", "ana-gh"), ("bo", "ana-gh"), ("Élodie", "elodie-gh")];
    let owned: Vec<(String, String)> = map
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    sqlite.save_identity_map(&owned, "map.csv").unwrap();
    // Authors: (sha, login, name, email) and PR (number, author).
    let commits = [
        ("c1", Some("Quinn"), "Quinn Q", Some("DEV@corp.com")),
        ("c2", Some("eva-gh"), "Eva", Some("ÉVA@corp.com")),
        ("c3", None, "Rae Q", None),
    ];
    let prs = [(1i64, "QUINN"), (2, "zed-author")];
    let s = rusqlite::Connection::open(db).unwrap();
    let mut p = client(t);
    for (id, login) in map {
        // As the SQLite store keeps them: ids trimmed and lower-cased (ASCII).
        p.execute(
            "INSERT INTO identity_map (developer_id, github_login, source, loaded_at)
             VALUES ($1, $2, 'map.csv', '2025-10-18T00:00:00Z')",
            &[&id.to_ascii_lowercase(), &login],
        )
        .unwrap();
    }
    for (sha, login, name, email) in commits {
        s.execute(
            "INSERT INTO gh_commits (repo, sha, author_login, author_name, author_email, message)
             VALUES ('acme/api', ?1, ?2, ?3, ?4, 'm')",
            rusqlite::params![sha, login, name, email],
        )
        .unwrap();
        p.execute(
            "INSERT INTO gh_commits (repo, sha, author_login, author_name, author_email, message)
             VALUES ('acme/api', $1, $2, $3, $4, 'm')",
            &[&sha, &login, &name, &email],
        )
        .unwrap();
    }
    for (n, author) in prs {
        s.execute(
            "INSERT INTO gh_pull_requests (repo, number, title, author, state, draft, created_at,
                updated_at)
             VALUES ('acme/api', ?1, 't', ?2, 'open', 0, '2025-10-18T00:00:00Z',
                '2025-10-18T00:00:00Z')",
            rusqlite::params![n, author],
        )
        .unwrap();
        p.execute(
            "INSERT INTO gh_pull_requests (repo, number, title, author, state, draft, created_at,
                updated_at)
             VALUES ('acme/api', $1, 't', $2, 'open', false, '2025-10-18T00:00:00Z',
                '2025-10-18T00:00:00Z')",
            &[&n, &author],
        )
        .unwrap();
    }
}

/// A database whose default collation is ICU's root locale (not bytewise) and whose `lower()`
/// folds every letter: what a server set up for people, not for SQLite, has.
fn icu_database(pg: &pg_support::Postgres, name: &str) -> PgTarget {
    pg.local_client()
        .batch_execute(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'
             LOCALE_PROVIDER icu ICU_LOCALE 'und' LOCALE 'C.UTF-8'"
        ))
        .unwrap();
    let url = pg
        .url_for("127.0.0.1", "sslmode=disable")
        .replace("/postgres?", &format!("/{name}?"));
    let t = PgTarget::parse(&url, None, "--db").unwrap();
    let row = client(&t)
        .query_one("SELECT 'a' < 'B', 'é' < 'f', lower('É') = 'é'", &[])
        .unwrap();
    assert_eq!(
        (row.get::<_, bool>(0), row.get::<_, bool>(1), row.get(2)),
        (true, true, true),
        "the database must not sort or fold case as SQLite does"
    );
    t
}

/// A client of the test's database, for setting up rows the store has no writer for yet.
fn client(t: &PgTarget) -> postgres::Client {
    t.connect().unwrap()
}

/// Every query compared: each sort key and order, alone and with each filter, and paged.
fn queries() -> Vec<SessionQuery> {
    let b = base().timestamp_micros();
    let windows = [
        (Some(b), Some(b + 3 * DAY_US)),
        (Some(b + 5 * HOUR_US), Some(b + 2 * DAY_US + 7 * HOUR_US)),
        (Some(b + DAY_US + HOUR_US), Some(b + DAY_US + 20 * HOUR_US)),
        (Some(b + 2 * DAY_US - 1), None),
        (None, Some(b + 4 * DAY_US + 13 * HOUR_US)),
        (Some(i64::MIN + 5), Some(i64::MAX - 5)),
        (Some(b + 3 * DAY_US), Some(b + 3 * DAY_US)),
    ];
    let developers = [
        "ana",
        "ANA",
        "Élodie",
        "ÉLODIE",
        "élodie",
        "ELODIE",
        "quinn",
        "Quinn",
        "ana-gh",
        "Bo",
        "zoë",
        "ZOË",
        "dev@corp.com",
        "Éva@corp.com",
        "",
        "nobody",
    ];
    let models = ["gpt-4o", "", "nope"];
    let repos: [&[&str]; 3] = [&["acme/web"], &["Acme/web", "acme/Ωmega"], &["nobody/x"]];
    let mut filters: Vec<SessionQuery> = vec![SessionQuery::default()];
    for (start_us, end_us) in windows {
        filters.push(SessionQuery {
            start_us,
            end_us,
            ..SessionQuery::default()
        });
    }
    for d in developers {
        filters.push(SessionQuery {
            developer: Some(d.into()),
            ..SessionQuery::default()
        });
    }
    for m in models {
        filters.push(SessionQuery {
            model: Some(m.into()),
            ..SessionQuery::default()
        });
    }
    for r in repos {
        filters.push(SessionQuery {
            repos: r.iter().map(|s| s.to_string()).collect(),
            ..SessionQuery::default()
        });
    }
    // Filters together, on both the rollup and the row paths.
    for (i, (start_us, end_us)) in windows.into_iter().take(4).enumerate() {
        filters.push(SessionQuery {
            start_us,
            end_us,
            developer: Some(["Ana", "élodie", "Quinn", "bo"][i].into()),
            model: (i % 2 == 0).then(|| "claude-sonnet-4-5".into()),
            repos: if i == 1 {
                vec!["acme/api".into(), "acme/web".into()]
            } else {
                Vec::new()
            },
            ..SessionQuery::default()
        });
    }
    let mut out = Vec::new();
    for f in &filters {
        for sort in SessionSort::ALL {
            for order in [SortOrder::Asc, SortOrder::Desc] {
                out.push(SessionQuery {
                    sort,
                    order,
                    per_page: MAX_PER_PAGE,
                    ..f.clone()
                });
            }
        }
    }
    // Pages of the unfiltered list and of one window, past the end included.
    for f in &filters[..3] {
        for sort in SessionSort::ALL {
            for order in [SortOrder::Asc, SortOrder::Desc] {
                for (per_page, page) in [(1, 1), (1, 5), (3, 2), (7, 3), (7, 9), (50, 2), (7, 99)] {
                    out.push(SessionQuery {
                        sort,
                        order,
                        per_page,
                        page,
                        ..f.clone()
                    });
                }
            }
        }
    }
    out
}

#[test]
fn sessions_pages_and_known_developers_equal_sqlites() {
    let Some(pg) = pg_support::start_or_skip("PostgreSQL sessions") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let mut sqlite = Store::open(&db).unwrap();
    let target = icu_database(&pg, "sessions_icu");
    let mut pgs = PgStore::open(&target).unwrap();
    for batch in batches() {
        let stores: [&mut dyn TraceWriter; 2] = [&mut sqlite, &mut pgs];
        for st in stores {
            st.write_traces(&batch, None).unwrap();
        }
    }
    links(&mut sqlite, &db, &target);

    let qs = queries();
    let (mut rows, mut empty) = (0, 0);
    for q in &qs {
        let a = serde_json::to_value(pgs.sessions_page(q).unwrap()).unwrap();
        let b = serde_json::to_value(sqlite.sessions_page(q).unwrap()).unwrap();
        // Costs too: PostgreSQL rounds the exact sum once, as SQLite's compensated TOTAL() does.
        assert_eq!(a, b, "{q:?}: PostgreSQL (left) != SQLite");
        let n = b["items"].as_array().map_or(0, Vec::len);
        rows += n;
        empty += usize::from(n == 0);
    }
    assert!(
        rows > 8_000 && empty < qs.len() / 3,
        "{} queries: {rows} rows, {empty} empty pages",
        qs.len()
    );

    // Pages put together are the whole list.
    let all = pgs
        .sessions_page(&SessionQuery {
            sort: SessionSort::Developer,
            order: SortOrder::Asc,
            per_page: MAX_PER_PAGE,
            ..SessionQuery::default()
        })
        .unwrap();
    let mut joined = Vec::new();
    for page in 1.. {
        let p = pgs
            .sessions_page(&SessionQuery {
                sort: SessionSort::Developer,
                order: SortOrder::Asc,
                per_page: 6,
                page,
                ..SessionQuery::default()
            })
            .unwrap();
        assert_eq!(p.total, all.total);
        if p.items.is_empty() {
            break;
        }
        joined.extend(p.items);
    }
    assert_eq!(joined, all.items);
    // Developers in bytewise order: "Zed" before "zed" before "Élodie" before "élodie"; and the
    // sessions without one first.
    let ties: Vec<Option<&str>> = all
        .items
        .iter()
        .filter(|r| r.session == "tie")
        .map(|r| r.developer.as_deref())
        .collect();
    assert_eq!(
        ties,
        [Some("Zed"), Some("zed"), Some("Élodie"), Some("élodie")]
    );
    assert_eq!(
        (
            all.items[0].developer.as_deref(),
            all.items[1].developer.as_deref()
        ),
        (None, None)
    );

    // Bad pages are refused by both.
    for (page, per_page) in [(0, 5), (1, 0), (1, MAX_PER_PAGE + 1)] {
        let q = SessionQuery {
            page,
            per_page,
            ..SessionQuery::default()
        };
        assert!(pgs.sessions_page(&q).is_err() && sqlite.sessions_page(&q).is_err());
    }

    let names = [
        "ana",
        "ANA",
        "Élodie",
        "ÉLODIE",
        "éLODIE",
        "ELODIE",
        "élodie",
        "zoë",
        "ZOË",
        "quinn",
        "QUINN",
        "Quinn",
        "Rae Q",
        "rae q",
        "ZED-AUTHOR",
        "dev@corp.com",
        "DEV@CORP.COM",
        "éva@corp.com",
        "",
        "nobody",
    ];
    let known: Vec<(&str, bool)> = names
        .iter()
        .map(|n| (*n, pgs.developer_known(n).unwrap()))
        .collect();
    let expected: Vec<(&str, bool)> = names
        .iter()
        .map(|n| (*n, sqlite.developer_known(n).unwrap()))
        .collect();
    assert_eq!(known, expected);
    // Case is folded for ASCII letters only, as SQLite's NOCASE does.
    let of = |n: &str| known.iter().find(|k| k.0 == n).unwrap().1;
    assert!(of("ÉLODIE") && of("éLODIE") && of("rae q") && of("ZED-AUTHOR"));
    assert!(!of("ELODIE") && !of("ZOË") && !of("éva@corp.com") && !of("nobody"));
}
