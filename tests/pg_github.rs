//! GitHub data and identity links in a PostgreSQL store (`pg_support`), against the SQLite store:
//! the same `ingest-github --from-json` imports and live syncs (the fake GitHub of
//! `github_support`, ETag cache included) give the same summaries, `status` and rows of every
//! `gh_*` table, and `identities` prints the same links, also where PostgreSQL's case folding
//! and collation differ from SQLite's.

mod github_support;
mod pg_support;

use chrono::Duration;
use github_support::fake_github::{FakeGitHub, RepoData};
use github_support::stores::*;
use github_support::{base_time, dataset, prodlens, sha};
use prod_lens::github::client::Validators;
use prod_lens::github::model::{Page, Stream};
use prod_lens::github::sample::{commit_json, pull_json, write_gh_sample, PullSpec};
use prod_lens::pg::PgTarget;
use prod_lens::store::github::{CacheEntry, StreamState};
use prod_lens::store::postgres::PgStore;
use prod_lens::store::prelude::*;
use prod_lens::store::Store;
use serde_json::Value;
use std::path::Path;

/// Copies of the first PRs of an export, updated `days` after their last update, with `title`
/// appended and `extra` fields set.
fn revised(pulls: &[Value], days: i64, title: &str, extra: &[(&str, Value)]) -> Vec<Value> {
    pulls
        .iter()
        .take(5)
        .map(|p| {
            let mut p = p.clone();
            let updated = prod_lens::time::parse_str(p["updated_at"].as_str().unwrap()).unwrap();
            p["updated_at"] = Value::String(
                (updated + Duration::days(days))
                    .format("%Y-%m-%dT%H:%M:%SZ")
                    .to_string(),
            );
            p["title"] = Value::String(format!("{}{title}", p["title"].as_str().unwrap()));
            for (k, v) in extra {
                p[*k] = v.clone();
            }
            p
        })
        .collect()
}

fn import(db: &str, path: &Path) -> Value {
    run(
        db,
        &[
            "ingest-github",
            "--repo",
            "acme/api",
            "--repo",
            "acme/web",
            "--json",
            "--from-json",
            path.to_str().unwrap(),
        ],
    )
}

#[test]
fn an_import_gives_the_same_rows_status_and_counts_as_in_sqlite() {
    let Some(pg) = pg_support::start_or_skip("PostgreSQL GitHub import") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gh = dir.path().join("gh");
    let repos = ["acme/api", "acme/web"].map(|r| prod_lens::slug::RepoSlug::parse(r).unwrap());
    let start = chrono::NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
    let stats = write_gh_sample(&gh, &repos, start, 42, 8, 42).unwrap();
    assert!(stats.reverts > 0 && stats.reopens > 0);
    // Later copies of some PRs with line counts, then stale copies (an old export), then list
    // copies without line counts: the newest copy wins and line counts are never blanked.
    let pulls = read_export(&gh.join("acme__api/pulls.json"));
    let with_lines = [
        ("additions", Value::from(10)),
        ("deletions", Value::from(2)),
        ("changed_files", Value::from(1)),
    ];
    let later = dir.path().join("later.json");
    write_export(&later, &revised(&pulls, 1, " (edited)", &with_lines));
    let stale = dir.path().join("stale.json");
    write_export(&stale, &revised(&pulls, -1, " (stale)", &[]));
    let list = dir.path().join("list.json");
    write_export(&list, &revised(&pulls, 2, " (again)", &[]));
    // Imported in this order: `later`, `list`, then `stale`.

    let sqlite = dir.path().join("s.db").to_str().unwrap().to_string();
    let pg_url = url(pg.port, "postgres");
    let mut summaries = Vec::new();
    for db in [&sqlite, &pg_url] {
        let mut s = vec![import(db, &gh)];
        for f in [&later, &list, &stale] {
            s.push(import(db, f));
        }
        let again = import(db, &gh);
        for r in again.as_array().unwrap() {
            assert_eq!(r["inserted"], 0, "a second import adds nothing: {r}");
            assert!(r["updated"].as_i64().unwrap() > 0, "{r}");
        }
        s.push(again);
        summaries.push(s);
    }
    assert_eq!(summaries[0], summaries[1]);
    let first = summaries[1][0].as_array().unwrap();
    let total = |k: &str| first.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(
        (total("pull_requests"), total("commits"), total("events")),
        (stats.pulls, stats.commits, stats.events)
    );
    assert_eq!(
        total("inserted"),
        stats.pulls + stats.commits + stats.events
    );

    let st = status(&pg_url);
    assert_eq!(st, status(&sqlite));
    let g = st["github"].as_array().unwrap();
    assert_eq!(g.len(), 2);
    let sum = |k: &str| g.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(
        (sum("reopened"), sum("reverted")),
        (stats.reopens, stats.reverts)
    );

    let rows = pg_rows(&pg_url, "");
    assert!(rows.len() as u64 > stats.pulls + stats.commits + stats.events);
    assert_eq!(rows, sqlite_rows(&sqlite, ""));
    let number = pulls[0]["number"].as_i64().unwrap();
    let row = postgres::Client::connect(&pg_url, postgres::NoTls)
        .unwrap()
        .query_one(
            "SELECT title, additions FROM gh_pull_requests WHERE repo = 'acme/api' AND number = $1",
            &[&number],
        )
        .unwrap();
    let (title, additions): (String, Option<i64>) = (row.get(0), row.get(1));
    assert_eq!(
        title,
        format!("{} (again)", pulls[0]["title"].as_str().unwrap())
    );
    assert_eq!(additions, Some(10), "line counts are never blanked");
}

/// The same edits on every fake: two PRs updated, one new PR, commits and events added.
fn edit(d: &mut RepoData) {
    let later = base_time() + Duration::days(30);
    let at = |t: chrono::DateTime<chrono::Utc>| {
        Value::String(t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    };
    for n in [3usize, 40] {
        d.pulls[n - 1]["updated_at"] = at(later);
        d.pulls[n - 1]["title"] = Value::String(format!("Change {n} (edited)"));
    }
    d.pulls.push(github_support::pull("acme/api", 251, 0));
    d.pulls[250]["updated_at"] = at(later);
    for j in 131..=133 {
        d.commits.push(commit_json(
            "acme/api",
            &sha("acme/api", j),
            "dev-bob",
            later + Duration::minutes(j),
            "More work",
        ));
    }
    d.events.push(prod_lens::github::sample::event_json(
        "acme/api", 1121, "reopened", "dev-bob", later, 3, true,
    ));
}

#[test]
fn a_live_sync_and_its_conditional_resyncs_match_sqlite() {
    let Some(pg) = pg_support::start_or_skip("PostgreSQL GitHub sync") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = dir.path().join("s.db").to_str().unwrap().to_string();
    let pg_url = url(pg.port, "postgres");
    let mut results = Vec::new();
    for db in [&sqlite, &pg_url] {
        // A fake per store: each starts with the same data and rate-limit budget.
        let gh = FakeGitHub::start();
        gh.set_repo("acme/api", dataset("acme/api", 250, 130, 120));
        gh.set_repo("acme/web", dataset("acme/web", 40, 30, 25));
        // A busy repo: the first page of commits does not reach a day back, so only the ETag
        // remembered from a completed walk tells that nothing changed.
        let mut busy = dataset("acme/busy", 3, 1, 3);
        busy.commits = (1..=150)
            .map(|j| {
                let at = base_time() + Duration::minutes(j);
                commit_json("acme/busy", &sha("acme/busy", j), "dev-bob", at, "Busy")
            })
            .collect();
        gh.set_repo("acme/busy", busy);
        let sync = || {
            run(
                db,
                &[
                    "ingest-github",
                    "--api-url",
                    &gh.url,
                    "--json",
                    "--repo",
                    "acme/api",
                    "--repo",
                    "acme/web",
                    "--repo",
                    "acme/busy",
                ],
            )
        };
        let mut s = vec![sync()];
        // Unchanged: one conditional probe per stream and repo, every one a 304.
        gh.clear_log();
        s.push(sync());
        let log = gh.log();
        assert_eq!(log.len(), 9, "{log:#?}");
        assert!(log
            .iter()
            .all(|l| l.status == 304 && l.header("if-none-match").is_some()));
        gh.edit_repo("acme/api", edit);
        gh.clear_log();
        s.push(sync());
        assert!(gh.log().iter().all(|l| !l.target.contains("page=2")));
        gh.clear_log();
        s.push(sync());
        assert!(gh.log().iter().all(|l| l.status == 304));
        let rows = if db.starts_with("postgres://") {
            pg_rows(db, &gh.url)
        } else {
            sqlite_rows(db, &gh.url)
        };
        results.push((s, status(db), rows));
    }
    let (s, st, rows) = &results[1];
    assert_eq!(s[0][0]["inserted"], 250 + 130 + 120);
    assert_eq!(s[1][0]["not_modified"], 3);
    assert_eq!(s[2][0]["inserted"], 1 + 3 + 1);
    assert_eq!(st["github"][0]["repo"], "acme/api");
    assert!(rows
        .iter()
        .any(|r| r.starts_with("gh_http_cache: url=<api>/repos/acme/api/")));
    assert_eq!(results[0].0, results[1].0, "summaries");
    assert_eq!(results[0].1, results[1].1, "status");
    assert_eq!(results[0].2, results[1].2, "rows");
}

#[test]
fn identities_are_the_same_as_in_sqlite_whatever_the_collation() {
    let Some(pg) = pg_support::start_or_skip("PostgreSQL identities") else {
        return;
    };
    // A database whose default collation is not byte order, where the server can tell.
    let db = match pg.local_client().batch_execute(
        "CREATE DATABASE icu TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' \
         LOCALE_PROVIDER icu ICU_LOCALE 'en-US'",
    ) {
        Ok(()) => "icu",
        Err(e) => {
            eprintln!("no ICU collation ({e}); comparing in the default database");
            "postgres"
        }
    };
    let pg_url = url(pg.port, db);
    let w = tempfile::tempdir().unwrap();
    let demo = w.path().join("demo");
    let out = prodlens(&w.path().join("unused.db"))
        .args(["demo", "--json", "--dir", demo.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ids = [
        "zed@example.com",
        "DEV-zed",
        "Ärger@example.com",
        "ärger@example.com",
        "ÄRGER@example.com",
        "ola@example.com",
        "12345+dev-chen@users.noreply.github.com",
        "Émile",
        "ÉMILE",
        "émile",
        "emile",
        "Zoë",
        "zoë",
        "dev-quinn",
        "DEV-QUINN",
        "dev-WU",
        "Dev-vic",
    ];
    let calls: Vec<String> = ids
        .iter()
        .chain(ids.iter().take(4))
        .enumerate()
        .map(|(n, id)| call(n, id))
        .collect();
    let extra = w.path().join("who.jsonl");
    std::fs::write(&extra, calls.join("\n") + "\n").unwrap();
    let tricky = tricky_github(w.path());
    let map1 = w.path().join("map1.csv");
    std::fs::write(
        &map1,
        "developer_id,github_login\nÉmile,dev-emile\nZoë,dev-zoe\n",
    )
    .unwrap();
    let map2 = w.path().join("map2.csv");
    std::fs::write(&map2, "ZOË,dev-zoe2\nemile,dev-emile2\n").unwrap();
    let map0 = w.path().join("map0.csv");
    std::fs::write(&map0, "DEV-QUINN,dev-quinn-2\n").unwrap();

    let sqlite = w.path().join("s.db").to_str().unwrap().to_string();
    let mut outputs = Vec::new();
    for (i, db) in [&sqlite, &pg_url].into_iter().enumerate() {
        let dead = w.path().join(format!("dead-{i}"));
        for input in [demo.join("traces"), extra.clone()] {
            run(
                db,
                &[
                    "ingest-traces",
                    "--no-parquet",
                    "--quiet",
                    "--json",
                    "--dead-letter-dir",
                    dead.to_str().unwrap(),
                    "--identity-map",
                    map0.to_str().unwrap(),
                    input.to_str().unwrap(),
                ],
            );
        }
        import(db, &demo.join("github"));
        run(
            db,
            &[
                "ingest-github",
                "--repo",
                "acme/api",
                "--json",
                "--identity-map",
                map1.to_str().unwrap(),
                "--from-json",
                tricky.to_str().unwrap(),
            ],
        );
        let mut o = vec![run(db, &["identities", "--json"])];
        o.push(run(
            db,
            &[
                "identities",
                "--json",
                "--identity-map",
                map2.to_str().unwrap(),
            ],
        ));
        let table = prodlens(Path::new(db)).arg("identities").output().unwrap();
        assert!(table.status.success());
        o.push(Value::String(String::from_utf8(table.stdout).unwrap()));
        outputs.push(o);
    }
    assert_eq!(outputs[0], outputs[1]);
    let rows = outputs[1][1].as_array().unwrap();
    let login = |id: &str| {
        rows.iter()
            .find(|r| r["developer_id"] == id)
            .map(|r| (r["github_login"].clone(), r["rule"].clone()))
            .unwrap_or_else(|| panic!("no row for {id}"))
    };
    // SQLite folds ASCII only: É and Ä keep their case, so these are other people.
    assert_eq!(login("Émile").0, "dev-emile");
    assert_eq!(login("ÉMILE").0, "dev-emile");
    assert!(login("émile").0.is_null());
    assert_eq!(login("emile").0, "dev-emile2");
    assert_eq!(
        login("dev-quinn"),
        (Value::from("dev-quinn-2"), Value::from("map"))
    );
    assert_eq!(login("Ärger@example.com").0, "dev-arger");
    assert_eq!(login("ärger@example.com").0, "dev-aerger");
    // Of logins that differ in case, the last in byte order is linked by name.
    for (id, want) in [
        ("DEV-zed", "dev-zed"),
        ("dev-WU", "dev-wu"),
        ("Dev-vic", "Dev-Vic"),
    ] {
        assert_eq!(login(id), (Value::from(want), Value::from("same_name")));
    }
    // An unlinked login is shown as its commits spell it first in byte order.
    let unlinked: Vec<(&str, i64)> = rows
        .iter()
        .filter(|r| r["developer_id"].is_null())
        .map(|r| {
            (
                r["github_login"].as_str().unwrap(),
                r["commits"].as_i64().unwrap(),
            )
        })
        .collect();
    for want in [
        ("DEV-PIA", 2),
        ("Dev-Rex", 2),
        ("Dev-Sam", 2),
        ("Dev-Tom", 2),
        ("Dev-Yan", 3),
    ] {
        assert!(unlinked.contains(&want), "{want:?} not in {unlinked:?}");
    }

    // The library readers agree too.
    let t = PgTarget::parse(&pg_url, None, "--db").unwrap();
    let p = PgStore::open(&t).unwrap();
    let s = Store::open_read_only(Path::new(&sqlite)).unwrap();
    assert_eq!(p.developer_ids().unwrap(), s.developer_ids().unwrap());
    let extra_map = [("Zoë".to_string(), "dev-zz".to_string())];
    assert_eq!(p.linker(&extra_map).unwrap(), s.linker(&extra_map).unwrap());
}

/// Calls every GitHub state method the way a sync does and says what each returned.
fn exercise(s: &mut impl GithubState) -> Vec<String> {
    let pr = |title: &str, updated: &str| {
        pull_json(
            "acme/api",
            &PullSpec {
                number: 1,
                title: title.into(),
                body: String::new(),
                author: "dev-alice".into(),
                created_at: base_time(),
                updated_at: prod_lens::time::parse_str(updated).unwrap(),
                closed_at: None,
                merged_at: None,
                merge_commit_sha: None,
            },
        )
    };
    let page = |v: Value| {
        let kind = prod_lens::github::model::detect_stream(std::slice::from_ref(&v)).unwrap();
        prod_lens::github::model::parse_page(kind, vec![v], "acme/api").unwrap()
    };
    let mut out = Vec::new();
    let new = page(pr("new", "2025-09-03T00:00:00Z"));
    let entry = CacheEntry {
        validators: Validators {
            etag: Some("W/\"x\"".into()),
            last_modified: None,
        },
        next_url: Some("https://api.github.com/x?page=2".into()),
        digest: new.digest(),
    };
    let url = "https://api.github.com/x";
    out.push(format!(
        "{:?}",
        s.gh_apply_page("acme/api", &new, Some((url, &entry)))
    ));
    out.push(format!("{:?}", s.gh_cache_get(url)));
    out.push(format!(
        "{:?}",
        s.gh_cache_get("https://api.github.com/none")
    ));
    let old: Page = page(pr("old", "2025-09-01T00:00:00Z"));
    out.push(format!("{:?}", s.gh_apply_page("acme/api", &old, None)));
    out.push(format!("{:?}", s.gh_apply_page("acme/web", &old, None)));
    out.push(format!(
        "{:?}",
        s.gh_stream_state("acme/api", Stream::Pulls)
    ));
    let st = StreamState {
        checkpoint: Some("2025-09-03T00:00:00Z".into()),
        probe_url: Some(url.into()),
        probe_etag: Some("W/\"x\"".into()),
    };
    s.gh_set_stream_state("acme/api", Stream::Pulls, &st)
        .unwrap();
    out.push(format!(
        "{:?}",
        s.gh_stream_state("acme/api", Stream::Pulls)
    ));
    out.push(format!("{:?}", s.gh_rate_limit_remaining("acme/api")));
    s.gh_finish_repo("acme/api", "ok", Some(4000), Some(1_760_000_000))
        .unwrap();
    s.gh_finish_repo("acme/api", "ok", None, None).unwrap();
    out.push(format!("{:?}", s.gh_rate_limit_remaining("acme/api")));
    out.push(format!("{:?}", s.gh_recompute_rework("acme/api")));
    out.push(format!("{:?}", s.gh_tables_exist()));
    let mut status = s.gh_status().unwrap();
    for g in &mut status {
        g.last_sync = g.last_sync.as_ref().map(|_| "<time>".into());
    }
    out.push(format!("{status:?}"));
    out
}

#[test]
fn the_github_state_methods_return_what_sqlite_returns() {
    let Some(pg) = pg_support::start_or_skip("PostgreSQL GitHub state") else {
        return;
    };
    let t = PgTarget::parse(&url(pg.port, "postgres"), None, "--db").unwrap();
    let mut p = PgStore::open(&t).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("s.db")).unwrap();
    let before = p.change_counter().unwrap();
    let got = exercise(&mut p);
    // Every committed write told the listeners: 3 pages, a stream state, 2 ends, a rework.
    assert_eq!(p.change_counter().unwrap(), before + 7);
    assert!(got[0].contains("inserted: 1, updated: 0"), "{got:?}");
    assert!(got[3].contains("inserted: 0, updated: 1"), "{got:?}");
    assert_eq!(got, exercise(&mut s));
    let title: String = pg
        .local_client()
        .query_one(
            "SELECT title FROM gh_pull_requests WHERE repo = 'acme/api' AND number = 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(title, "new", "an older copy does not overwrite a newer row");
}
