//! `ingest-github` against a fake GitHub on 127.0.0.1: request counts, conditional re-syncs,
//! incremental stops, several repos, offline import, rework links and `status`.

mod github_support;
use github_support as common;

use chrono::Duration;
use common::fake_github::FakeGitHub;
use common::*;
use serde_json::Value;
use std::path::Path;

const REPO: &str = "acme/api";

fn sync(db: &Path, gh: &FakeGitHub, repos: &[&str]) -> Value {
    let mut cmd = prodlens(db);
    cmd.args(["ingest-github", "--api-url", &gh.url, "--json"]);
    for r in repos {
        cmd.args(["--repo", r]);
    }
    let out = cmd.env("GITHUB_TOKEN", "tkn-happy-path").assert().success();
    summary(&out.get_output().stdout)
}

fn int(v: &Value, k: &str) -> i64 {
    v[k].as_i64()
        .unwrap_or_else(|| panic!("{k} missing or not an integer in {v}"))
}

#[test]
fn first_sync_makes_one_request_per_page_and_stores_everything() {
    let gh = FakeGitHub::start();
    let (p, c, e) = (250, 130, 120);
    gh.set_repo(REPO, dataset(REPO, p, c, e));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    let s = sync(&db, &gh, &[REPO]);
    // ⌈250/100⌉ + ⌈130/100⌉ + ⌈120/100⌉ list requests, none per PR.
    assert_eq!(gh.log().len(), 3 + 2 + 2);
    assert_eq!(int(&s, "requests"), 7);
    for (k, want) in [
        ("pull_requests", p),
        ("commits", c),
        ("events", e),
        ("not_modified", 0),
        ("retries", 0),
    ] {
        assert_eq!(int(&s, k), want, "{k}");
    }
    assert_eq!(int(&s, "rate_limit_remaining"), 5000 - 7);
    for l in gh.log() {
        assert_eq!(l.header("accept"), Some("application/vnd.github+json"));
        assert_eq!(l.header("x-github-api-version"), Some("2022-11-28"));
        assert!(l.header("user-agent").unwrap().starts_with("prod-lens/"));
        assert_eq!(l.header("authorization"), Some("Bearer tkn-happy-path"));
        assert!(l.target.contains("per_page=100"), "{}", l.target);
    }
    assert!(gh.log()[0]
        .target
        .contains("state=all&sort=updated&direction=desc"));
    assert_eq!(count(&db, "gh_pull_requests", REPO), p);
    assert_eq!(count(&db, "gh_commits", REPO), c);
    assert_eq!(count(&db, "gh_issue_events", REPO), e);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (job, outcome, details): (String, String, String) = conn
        .query_row(
            "SELECT job, outcome, details FROM etl_runs ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((job.as_str(), outcome.as_str()), ("ingest-github", "ok"));
    let d: Value = serde_json::from_str(&details).unwrap();
    assert_eq!(d["requests"], 7);
    assert_eq!(d["not_modified"], 0);
}

#[test]
fn unchanged_resync_is_all_conditional_and_all_304() {
    let gh = FakeGitHub::start();
    gh.set_repo(REPO, dataset(REPO, 250, 130, 120));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    sync(&db, &gh, &[REPO]);
    for _ in 0..2 {
        gh.clear_log();
        let s = sync(&db, &gh, &[REPO]);
        let log = gh.log();
        assert_eq!(log.len(), 3, "one probe per stream: {log:#?}");
        assert!(log
            .iter()
            .all(|l| l.header("if-none-match").is_some() && l.status == 304));
        assert_eq!(int(&s, "requests"), 3);
        assert_eq!(int(&s, "not_modified"), 3);
        assert_eq!(
            int(&s, "pull_requests") + int(&s, "commits") + int(&s, "events"),
            0
        );
        // 304s cost no rate-limit units.
        assert_eq!(int(&s, "rate_limit_remaining"), 5000 - 7);
    }
    assert_eq!(count(&db, "gh_pull_requests", REPO), 250);
}

#[test]
fn unchanged_resync_of_a_busy_repo_is_still_all_304() {
    // 150 commits a minute apart: the first page does not reach a day back, so only the
    // remembered ETag of a completed walk can tell that nothing changed.
    let gh = FakeGitHub::start();
    gh.set_repo(REPO, dataset(REPO, 3, 1, 3));
    gh.edit_repo(REPO, |d| {
        d.commits = (1..=150)
            .map(|j| {
                prod_lens::github::sample::commit_json(
                    REPO,
                    &sha(REPO, j),
                    "dev-bob",
                    base_time() + Duration::minutes(j),
                    "Busy",
                )
            })
            .collect();
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    sync(&db, &gh, &[REPO]);
    gh.clear_log();
    let s = sync(&db, &gh, &[REPO]);
    assert!(gh.log().iter().all(|l| l.status == 304), "{:#?}", gh.log());
    assert_eq!(int(&s, "requests"), 3);
}

#[test]
fn incremental_sync_stops_paging_past_the_checkpoint() {
    let gh = FakeGitHub::start();
    gh.set_repo(REPO, dataset(REPO, 250, 130, 120));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    sync(&db, &gh, &[REPO]);
    let later = base_time() + Duration::days(30);
    gh.edit_repo(REPO, |d| {
        // Two old PRs updated, one new; three new commits; two new events.
        for n in [3usize, 40] {
            d.pulls[n - 1]["updated_at"] =
                Value::String(later.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            d.pulls[n - 1]["title"] = Value::String(format!("Change {n} (edited)"));
        }
        d.pulls.push(pull(REPO, 251, 0));
        d.pulls[250]["updated_at"] = Value::String(later.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        for j in 131..=133 {
            d.commits.push(prod_lens::github::sample::commit_json(
                REPO,
                &sha(REPO, j),
                "dev-bob",
                later + Duration::minutes(j),
                "More work",
            ));
        }
        for k in [1121, 1122] {
            d.events.push(prod_lens::github::sample::event_json(
                REPO, k, "closed", "dev-bob", later, 3, true,
            ));
        }
    });
    gh.clear_log();
    let s = sync(&db, &gh, &[REPO]);
    let log = gh.log();
    assert_eq!(
        log.len(),
        3,
        "first pages only: {:#?}",
        log.iter().map(|l| &l.target).collect::<Vec<_>>()
    );
    assert!(log
        .iter()
        .all(|l| l.status == 200 && !l.target.contains("page=2")));
    assert_eq!(count(&db, "gh_pull_requests", REPO), 251);
    assert_eq!(count(&db, "gh_commits", REPO), 133);
    assert_eq!(count(&db, "gh_issue_events", REPO), 122);
    assert_eq!(int(&s, "inserted"), 1 + 3 + 2);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let t: String = conn
        .query_row(
            "SELECT title FROM gh_pull_requests WHERE repo = ?1 AND number = 40",
            [REPO],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(t, "Change 40 (edited)");
    // Now unchanged again: three 304s.
    gh.clear_log();
    sync(&db, &gh, &[REPO]);
    assert!(gh.log().iter().all(|l| l.status == 304));
}

#[test]
fn many_new_commits_catch_up_with_since_minus_overlap() {
    let gh = FakeGitHub::start();
    gh.set_repo(REPO, dataset(REPO, 5, 30, 5));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    sync(&db, &gh, &[REPO]);
    let later = base_time() + Duration::days(20);
    gh.edit_repo(REPO, |d| {
        for j in 100..350 {
            d.commits.push(prod_lens::github::sample::commit_json(
                REPO,
                &sha(REPO, j),
                "dev-carol",
                later + Duration::minutes(j),
                "Burst",
            ));
        }
    });
    gh.clear_log();
    sync(&db, &gh, &[REPO]);
    let targets: Vec<String> = gh.log().iter().map(|l| l.target.clone()).collect();
    let since = targets
        .iter()
        .filter(|t| t.contains("/commits") && t.contains("since="))
        .count();
    assert!(since >= 1, "{targets:#?}");
    // Checkpoint was base + 30*37 min; the overlap is a day earlier.
    let cp = base_time() + Duration::minutes(37 * 30) - Duration::hours(24);
    assert!(
        targets
            .iter()
            .any(|t| t.contains(&format!("since={}", cp.format("%Y-%m-%dT%H:%M:%SZ")))),
        "{targets:#?}"
    );
    assert_eq!(count(&db, "gh_commits", REPO), 280);
}

#[test]
fn two_repos_stay_separate_and_status_shows_freshness() {
    let gh = FakeGitHub::start();
    gh.set_repo("acme/api", dataset("acme/api", 120, 50, 30));
    gh.set_repo("acme/web", dataset("acme/web", 15, 210, 10));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    let s = sync(&db, &gh, &["acme/api", "acme/web"]);
    let arr = s.as_array().expect("an array for several repos");
    assert_eq!(arr.len(), 2);
    assert_eq!(
        (arr[0]["repo"].as_str(), int(&arr[0], "pull_requests")),
        (Some("acme/api"), 120)
    );
    assert_eq!(
        (arr[1]["repo"].as_str(), int(&arr[1], "commits")),
        (Some("acme/web"), 210)
    );
    assert_eq!(count(&db, "gh_pull_requests", "acme/api"), 120);
    assert_eq!(count(&db, "gh_pull_requests", "acme/web"), 15);
    assert_eq!(count(&db, "gh_commits", "acme/web"), 210);
    let out = prodlens(&db).args(["status", "--json"]).assert().success();
    let st: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let g = st["github"].as_array().unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g[0]["repo"], "acme/api");
    assert_eq!(g[0]["pull_requests"], 120);
    assert_eq!(g[0]["merged"], 80);
    assert_eq!(g[1]["commits"], 210);
    for k in ["reopened", "reverted", "last_sync"] {
        assert!(!g[1][k].is_null(), "{k}");
    }
    let text = prodlens(&db).arg("status").assert().success();
    let text = String::from_utf8_lossy(&text.get_output().stdout).to_string();
    assert!(
        text.contains("github:") && text.contains("acme/web") && text.contains("rate limit left"),
        "{text}"
    );
    // acme/web synced last: 4 + 5 requests spent in all.
    assert!(
        text.contains("4991"),
        "rate limit left after 9 requests: {text}"
    );
}

#[test]
fn reverts_and_reopens_are_detected_and_linked() {
    let gh = FakeGitHub::start();
    let (p, e) = (32, 120); // PR 32 (the revert) is merged: 32 % 3 != 0
    gh.set_repo(REPO, dataset(REPO, p, 40, e));
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    sync(&db, &gh, &[REPO]);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let reverts: Vec<(i64, String, bool)> = conn
        .prepare("SELECT pr_number, source, within_window FROM gh_rework WHERE repo = ?1 AND kind = 'revert' ORDER BY pr_number")
        .unwrap()
        .query_map([REPO], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        reverts,
        vec![
            (5, format!("pr#{p}"), true),
            (7, format!("commit:{}", sha(REPO, 40)), true)
        ]
    );
    let out = prodlens(&db).args(["status", "--json"]).assert().success();
    let st: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(st["github"][0]["reverted"], 2);
    assert_eq!(
        st["github"][0]["reopened"].as_i64().unwrap() as usize,
        reopened_prs(p, e)
    );
}

/// Writes the data the way `gh api --paginate` prints it: pages of 100 concatenated.
fn write_gh_export(dir: &Path, name: &str, items: &[Value], gz: bool) {
    let mut text = String::new();
    for chunk in items.chunks(100) {
        text += &serde_json::to_string(chunk).unwrap();
    }
    if gz {
        use std::io::Write;
        let f = std::fs::File::create(dir.join(format!("{name}.json.gz"))).unwrap();
        let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::default());
        enc.write_all(text.as_bytes()).unwrap();
        enc.finish().unwrap();
    } else {
        std::fs::write(dir.join(format!("{name}.json")), text).unwrap();
    }
}

fn dump(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for t in [
        "gh_pull_requests",
        "gh_commits",
        "gh_issue_events",
        "gh_rework",
    ] {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2, 3"))
            .unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let vals: Vec<String> = (0..n)
                    .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                    .collect();
                Ok(format!("{t}: {}", vals.join("|")))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

#[test]
fn offline_import_of_gh_api_output_stores_the_same_rows_as_a_live_sync() {
    let gh = FakeGitHub::start();
    let data = dataset(REPO, 230, 140, 110);
    gh.set_repo(REPO, data.clone());
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live.db");
    sync(&live, &gh, &[REPO]);

    let export = dir.path().join("exports");
    std::fs::create_dir_all(export.join("nested")).unwrap();
    // Names say nothing about the kind; one file is gzipped; order as the API lists them.
    let mut pulls = data.pulls.clone();
    pulls.sort_by(|a, b| b["updated_at"].as_str().cmp(&a["updated_at"].as_str()));
    let mut commits = data.commits.clone();
    commits.reverse();
    let mut events = data.events.clone();
    events.reverse();
    write_gh_export(&export, "a", &pulls, false);
    write_gh_export(&export.join("nested"), "b", &commits, true);
    write_gh_export(&export, "c", &events, false);
    std::fs::write(export.join("notes.txt"), "not json, ignored").unwrap();

    let offline = dir.path().join("offline.db");
    let out = prodlens(&offline)
        .args(["ingest-github", "--repo", REPO, "--json", "--from-json"])
        .arg(&export)
        .assert()
        .success();
    let s = summary(&out.get_output().stdout);
    assert_eq!(
        (
            int(&s, "pull_requests"),
            int(&s, "commits"),
            int(&s, "events")
        ),
        (230, 140, 110)
    );
    assert_eq!(int(&s, "requests"), 0);
    let (a, b) = (dump(&live), dump(&offline));
    assert!(a.len() >= 230 + 140 + 110 + 2);
    assert!(a == b, "live and offline rows differ");
    // Re-importing changes nothing.
    prodlens(&offline)
        .args(["ingest-github", "--repo", REPO, "--from-json"])
        .arg(&export)
        .assert()
        .success();
    assert!(dump(&offline) == b);
}

#[test]
fn import_refuses_data_of_another_repo_and_non_github_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cache.db");
    let data = dataset("acme/web", 3, 3, 3);
    write_gh_export(dir.path(), "x", &data.pulls, false);
    let out = prodlens(&db)
        .args(["ingest-github", "--repo", REPO, "--from-json"])
        .arg(dir.path().join("x.json"))
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("acme/web") && err.contains("not among --repo"),
        "{err}"
    );
    std::fs::write(dir.path().join("y.json"), "[{\"hello\": 1}]").unwrap();
    let out = prodlens(&db)
        .args(["ingest-github", "--repo", REPO, "--from-json"])
        .arg(dir.path().join("y.json"))
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("y.json") && err.contains("not a list of pull requests"),
        "{err}"
    );
}

#[test]
fn sample_objects_have_the_key_sets_of_real_github_responses() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/github_reference/shapes.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        assert!(
            std::env::var("PRODLENS_REQUIRE_EXTERNAL").as_deref() != Ok("1"),
            "{} missing",
            path.display()
        );
        eprintln!("SKIPPED: {} not found", path.display());
        return;
    };
    let shapes: Value = serde_json::from_str(&text).unwrap();
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let want = |p: &str| -> Vec<String> {
        let mut k: Vec<String> = shapes
            .pointer(p)
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        k.sort();
        k
    };
    let d = dataset(REPO, 10, 10, 10);
    assert_eq!(keys(&d.pulls[0]), want("/pull_request_simple/keys"));
    assert_eq!(keys(&d.commits[0]), want("/commit_list_item/keys"));
    assert_eq!(
        keys(&d.commits[0]["commit"]),
        want("/commit_list_item/commit")
    );
    assert_eq!(keys(&d.commits[0]["author"]), want("/user/keys"));
    assert_eq!(
        keys(&d.events[9]),
        want("/issue_event_repo_level/reopened.keys")
    );
    assert_eq!(
        keys(&d.events[9]["issue"]),
        want("/issue_event_repo_level/issue(pr).keys")
    );
    assert_eq!(
        keys(&d.pulls[0]["_links"]),
        want("/pull_request_full/_links")
    );
}

#[test]
fn the_github_sample_imports_offline_with_reverts_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let repos = [
        prod_lens::slug::RepoSlug::parse("acme/api").unwrap(),
        prod_lens::slug::RepoSlug::parse("acme/web").unwrap(),
    ];
    let start = chrono::NaiveDate::from_ymd_opt(2025, 9, 1).unwrap();
    let stats = prod_lens::github::sample::write_gh_sample(
        &dir.path().join("gh"),
        &repos,
        start,
        42,
        8,
        42,
    )
    .unwrap();
    let db = dir.path().join("cache.db");
    let out = prodlens(&db)
        .args([
            "ingest-github",
            "--repo",
            "acme/api",
            "--repo",
            "acme/web",
            "--json",
            "--from-json",
        ])
        .arg(dir.path().join("gh"))
        .assert()
        .success();
    let s = summary(&out.get_output().stdout);
    let arr = s.as_array().unwrap();
    let total = |k: &str| arr.iter().map(|r| int(r, k)).sum::<i64>() as u64;
    assert_eq!(
        (total("pull_requests"), total("commits"), total("events")),
        (stats.pulls, stats.commits, stats.events)
    );
    let st = prodlens(&db).args(["status", "--json"]).assert().success();
    let st: Value = serde_json::from_slice(&st.get_output().stdout).unwrap();
    let g = st["github"].as_array().unwrap();
    let sum = |k: &str| g.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("reopened"), stats.reopens);
    assert_eq!(sum("reverted"), stats.reverts);
}
