//! `prod-lens serve` as a real process on a free port over a real demo store: every API route
//! (status codes, JSON shape, values checked against `prod-lens report` / `status` of the same
//! filters), pagination and sorting, 400s naming the bad parameter, 404s and 405s, the pages'
//! error answers. Access control, refresh events and shutdown are in `serve_access.rs`.

mod common;
mod serve_support;

use common::{run_ok, Work};
use serde_json::Value;
use serve_support::*;
use std::collections::HashSet;
use std::time::Duration;

/// Every developer id of a report's per-developer tables.
fn developers(report: &Value) -> Vec<String> {
    let mut out: Vec<String> = report["metrics"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| m["developers"].as_array().unwrap().iter())
        .map(|d| d["developer"].as_str().unwrap().to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn assert_close(got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "got {got}, want {want}"
    );
}

#[test]
fn report_daily_and_status_equal_the_cli_for_the_same_filters() {
    let w = Work::new();
    let db = demo_copy(&w);
    let s = Server::start(&w, &db, &[], &[]);
    assert!(
        s.listening.starts_with("http://127.0.0.1:"),
        "{}",
        s.listening
    );

    // Default window: the 28 days ending at the newest trace day.
    let api = s.json("/api/report");
    assert_eq!(api["metadata"]["since"], DEFAULT_SINCE);
    assert_eq!(api["metadata"]["until"], DEMO_UNTIL);
    let cli = cli_report(&w, &db, &["--since", DEFAULT_SINCE, "--until", DEMO_UNTIL]);
    assert_eq!(comparable(api), comparable(cli));

    // Every filter, as query parameters and as flags.
    let devs = developers(&s.json("/api/report"));
    assert!(devs.len() >= 4, "{devs:?}");
    let dev = devs[1].clone();
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            format!("repo=acme/web&since={DEMO_SINCE}&until={DEMO_UNTIL}&timezone=Europe/Berlin&lag=2&max_lag=4&policy_model=claude-*&business_days=true"),
            ["--repo", "acme/web", "--since", DEMO_SINCE, "--until", DEMO_UNTIL, "--timezone", "Europe/Berlin",
             "--lag-days", "2", "--max-lag", "4", "--policy-model", "claude-*", "--business-days"]
                .map(String::from).to_vec(),
        ),
        (
            format!("developer={}&since=2025-09-20&until=2025-10-05&exact=true", dev.to_uppercase()),
            vec!["--developer".into(), dev.to_uppercase(), "--since".into(), "2025-09-20".into(),
                 "--until".into(), "2025-10-05".into(), "--exact".into()],
        ),
        (
            format!("since={DEMO_SINCE}&until={DEMO_UNTIL}&primary=sessions:merged_prs:2&adjust=none"),
            ["--since", DEMO_SINCE, "--until", DEMO_UNTIL, "--primary", "sessions:merged_prs:2", "--adjust", "none"]
                .map(String::from).to_vec(),
        ),
        (
            "repo=acme/api&repo=acme/web&model=gpt-4o&since=2025-10-01&until=2025-10-12&timezone=America/New_York".into(),
            ["--repo", "acme/api", "--repo", "acme/web", "--model", "gpt-4o", "--since", "2025-10-01",
             "--until", "2025-10-12", "--timezone", "America/New_York"].map(String::from).to_vec(),
        ),
    ];
    for (query, flags) in &cases {
        let api = s.json(&format!("/api/report?{query}"));
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let cli = cli_report(&w, &db, &flags);
        let requests: u64 = cli["metrics"]
            .as_object()
            .unwrap()
            .values()
            .map(|m| u(&m["velocity"]["requests"]))
            .sum();
        assert!(requests > 0, "{query}: no data");
        assert_eq!(comparable(api.clone()), comparable(cli), "{query}");

        // The daily series are the report's `daily` per repo.
        let daily_q = query
            .split('&')
            .filter(|kv| {
                ![
                    "lag",
                    "max_lag",
                    "policy_model",
                    "business_days",
                    "primary",
                    "adjust",
                ]
                .iter()
                .any(|k| kv.starts_with(&format!("{k}=")))
            })
            .collect::<Vec<_>>()
            .join("&");
        let daily = s.json(&format!("/api/daily?{daily_q}"));
        assert_eq!(daily["since"], api["metadata"]["since"]);
        assert_eq!(daily["until"], api["metadata"]["until"]);
        assert_eq!(daily["timezone"], api["metadata"]["timezone"]);
        let repos = daily["repos"].as_object().unwrap();
        assert_eq!(repos.len(), api["metrics"].as_object().unwrap().len());
        for (repo, days) in repos {
            assert_eq!(days, &api["metrics"][repo]["daily"], "{repo}");
        }
    }
    // Daily without filters: every day of the default window.
    let daily = s.json("/api/daily");
    for days in daily["repos"].as_object().unwrap().values() {
        let days = days.as_array().unwrap();
        assert_eq!(days.len(), 28);
        assert_eq!(days[0]["date"], DEFAULT_SINCE);
        assert_eq!(days[27]["date"], DEMO_UNTIL);
    }

    // Status: what `status --json` prints, for the same file.
    let cli = run_ok(w.cmd().arg("--db").arg(&db).args(["status", "--json"]));
    let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(s.json("/api/status"), cli);
    let cli3 = run_ok(
        w.cmd()
            .arg("--db")
            .arg(&db)
            .args(["status", "--json", "--runs", "3"]),
    );
    let cli3: Value = serde_json::from_slice(&cli3.stdout).unwrap();
    assert_eq!(s.json("/api/status?runs=3"), cli3);
    assert!(u(&cli["traces"]["total"]) > 6000);
}

#[test]
fn sessions_paginate_sort_and_agree_with_the_report() {
    let w = Work::new();
    let db = demo_copy(&w);
    let s = Server::start(&w, &db, &[], &[]);
    let report = s.json("/api/report");

    // Every page of 100: no session twice, the last page holds the rest, past the end is empty.
    let first = s.json("/api/sessions?per_page=100");
    let total = u(&first["total"]);
    let want_total: u64 = report["metrics"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| u(&m["velocity"]["sessions"]))
        .sum();
    assert_eq!(
        total, want_total,
        "sessions = distinct (repo, session) of the report"
    );
    assert!(total > 300, "{total}");
    assert_eq!((u(&first["page"]), u(&first["per_page"])), (1, 100));
    let pages = total.div_ceil(100);
    let mut seen = HashSet::new();
    let mut requests = 0;
    for page in 1..=pages {
        let p = s.json(&format!("/api/sessions?per_page=100&page={page}"));
        assert_eq!(u(&p["total"]), total);
        let items = p["items"].as_array().unwrap();
        let want = if page < pages {
            100
        } else {
            total - 100 * (pages - 1)
        };
        assert_eq!(items.len() as u64, want, "page {page}");
        for it in items {
            for key in ["repo", "session", "first_seen", "last_seen"] {
                assert!(it[key].is_string(), "{key} in {it}");
            }
            for key in ["requests", "tokens", "cost_unknown", "errors"] {
                assert!(it[key].is_u64(), "{key} in {it}");
            }
            assert!(it["cost_usd"].is_f64() || it["cost_usd"].is_u64(), "{it}");
            assert!(it["first_seen"].as_str() <= it["last_seen"].as_str());
            assert!(
                seen.insert((it["repo"].to_string(), it["session"].to_string())),
                "twice: {it}"
            );
            requests += u(&it["requests"]);
        }
    }
    assert_eq!(seen.len() as u64, total);
    let all_requests: u64 = report["metrics"]
        .as_object()
        .unwrap()
        .values()
        .map(|m| u(&m["velocity"]["requests"]))
        .sum();
    assert!(
        requests <= all_requests && requests * 10 > all_requests * 9,
        "{requests} of {all_requests}"
    );
    let past = s.json(&format!("/api/sessions?per_page=100&page={}", pages + 1));
    assert_eq!(u(&past["total"]), total);
    assert_eq!(past["items"].as_array().unwrap().len(), 0);
    let far = s.json("/api/sessions?page=4000000000&per_page=500");
    assert_eq!(
        (u(&far["total"]), far["items"].as_array().unwrap().len()),
        (total, 0)
    );

    // Default page: 50, newest first.
    let d = s.json("/api/sessions");
    assert_eq!((u(&d["page"]), u(&d["per_page"])), (1, 50));
    assert_eq!(d["items"].as_array().unwrap().len(), 50);

    // Every sort key in both directions orders the rows by it.
    for (sort, field) in [
        ("last_seen", "last_seen"),
        ("requests", "requests"),
        ("tokens", "tokens"),
        ("cost", "cost_usd"),
        ("errors", "errors"),
        ("developer", "developer"),
    ] {
        for order in ["asc", "desc"] {
            let p = s.json(&format!(
                "/api/sessions?sort={sort}&order={order}&per_page=500"
            ));
            let items = p["items"].as_array().unwrap();
            assert_eq!(items.len(), 500);
            let key = |v: &Value| -> (f64, String) {
                match &v[field] {
                    Value::String(s) => (0.0, s.clone()),
                    Value::Null => (0.0, String::new()),
                    n => (n.as_f64().unwrap(), String::new()),
                }
            };
            for pair in items.windows(2) {
                let (a, b) = (key(&pair[0]), key(&pair[1]));
                let ok = if order == "asc" {
                    a.0 <= b.0 && (a.0 < b.0 || a.1 <= b.1)
                } else {
                    a.0 >= b.0 && (a.0 > b.0 || a.1 >= b.1)
                };
                assert!(ok, "{sort} {order}: {} then {}", pair[0], pair[1]);
            }
        }
    }
    let top = s.json("/api/sessions?sort=requests&per_page=1");
    let max_requests = u(&top["items"][0]["requests"]);
    let all = s.json("/api/sessions?sort=requests&order=asc&per_page=500&page=1");
    assert!(all["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| u(&i["requests"]) <= max_requests));

    // Filters: one developer's sessions are their `sessions` in the report.
    let dev = developers(&report)[0].clone();
    let mine = s.json(&format!("/api/sessions?developer={dev}&per_page=500"));
    let want: u64 = report["metrics"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| m["developers"].as_array().unwrap().iter())
        .filter(|d| d["developer"] == dev.as_str())
        .map(|d| u(&d["sessions"]))
        .sum();
    assert_eq!(u(&mine["total"]), want);
    assert!(mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["developer"] == dev.as_str()));
    let web = s.json("/api/sessions?repo=acme/web&per_page=500");
    assert_eq!(
        u(&web["total"]),
        u(&report["metrics"]["acme/web"]["velocity"]["sessions"])
    );
    // One day: the sessions with calls that day; their requests add up to the day's.
    let day = &report["metrics"]["acme/api"]["daily"][10];
    let date = day["date"].as_str().unwrap();
    let one = s.json(&format!(
        "/api/sessions?repo=acme/api&since={date}&until={date}&per_page=500"
    ));
    assert_eq!(u(&one["total"]), u(&day["sessions"]));
    let day_requests: u64 = one["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| u(&i["requests"]))
        .sum();
    assert!(day_requests <= u(&day["requests"]));
    let day_cost: f64 = one["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["cost_usd"].as_f64().unwrap())
        .sum();
    assert!(day_cost <= day["cost_usd"].as_f64().unwrap() + 1e-9);
}

#[test]
fn bad_parameters_answer_400_naming_them_and_unknown_routes_404() {
    let w = Work::new();
    let db = demo_copy(&w);
    let s = Server::start(&w, &db, &[], &[]);
    let filters = [
        ("since=2025-02-30", "since"),
        ("until=tomorrow", "until"),
        ("since=2025-10-05&until=2025-10-01", "since"),
        ("since=1900-01-01&until=2200-01-01", "since"),
        ("since=2025-10-01&since=2025-10-02", "since"),
        ("timezone=Mars/Base", "timezone"),
        ("repo=../../etc/passwd", "repo"),
        ("repo=acme", "repo"),
        ("model=%01", "model"),
        ("frobnicate=1", "frobnicate"),
    ];
    for route in [
        "/api/report",
        "/api/daily",
        "/api/sessions",
        "/api/developers/dev-x",
    ] {
        for (q, param) in filters {
            s.get(&format!("{route}?{q}")).assert_bad(param);
        }
    }
    for (q, param) in [
        ("lag=61", "lag"),
        ("lag=-1", "lag"),
        ("max_lag=1e3", "max_lag"),
        ("business_days=perhaps", "business_days"),
        ("exact=2", "exact"),
        ("primary=requests:lines:1", "primary"),
        ("primary=requests", "primary"),
        ("adjust=maybe", "adjust"),
        ("developer=a%0Ab", "developer"),
        ("page=2", "page"),
    ] {
        s.get(&format!("/api/report?{q}")).assert_bad(param);
    }
    for (q, param) in [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=x", "page"),
        ("per_page=0", "per_page"),
        ("per_page=501", "per_page"),
        ("sort=cost%20desc", "sort"),
        ("sort=session_id", "sort"),
        ("order=sideways", "order"),
        ("lag=2", "lag"),
    ] {
        s.get(&format!("/api/sessions?{q}")).assert_bad(param);
    }
    s.get("/api/developers/dev-x?developer=y")
        .assert_bad("developer");
    s.get(&format!("/api/developers/{}", "d".repeat(201)))
        .assert_bad("id");
    s.get("/api/developers/%01").assert_bad("id");
    s.get("/api/status?runs=0").assert_bad("runs");
    s.get("/api/status?runs=lots").assert_bad("runs");
    s.get("/api/status?since=2025-01-01").assert_bad("since");
    s.get("/api/daily?lag=2").assert_bad("lag");

    // Unknown routes under /api: 404 JSON; other methods: 405 JSON.
    for path in [
        "/api/nope",
        "/api",
        "/api/",
        "/api/report/extra",
        "/api/developers",
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
        assert!(
            r.json()["error"].as_str().unwrap().contains("no API route"),
            "{path}"
        );
    }
    let r = s.post_form("/api/report", "", &[]);
    assert_eq!(r.status, 405);
    assert!(r.json()["error"].as_str().unwrap().contains("read-only"));
    // A developer the store has never seen: 404 JSON.
    let r = s.get("/api/developers/nobody-at-all");
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("nobody-at-all"));

    // Pages: bad filters answer a 400 page naming the parameter; unknown pages 404.
    let r = s.get("/?since=2025-99-01");
    assert_eq!(r.status, 400);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.body.contains("<code>since</code>"), "{}", r.body);
    let r = s.get("/sessions?per_page=9999");
    assert_eq!(r.status, 400);
    assert!(r.body.contains("<code>per_page</code>"));
    let r = s.get("/developers/nobody-at-all");
    assert_eq!(r.status, 404);
    let r = s.get("/no/such/page");
    assert_eq!(r.status, 404);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    // A hostile query value comes back escaped, never as markup.
    let r = s.get("/?developer=%3Cscript%3Ealert(1)%3C/script%3E");
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("<script>alert(1)"), "unescaped");
    assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    // The server is still fine after all of it.
    assert_eq!(s.get("/api/status").status, 200);
    let ended = s.terminate(Duration::from_secs(20));
    assert!(ended.status.success(), "{}", ended.stderr);
    assert!(!ended.stderr.contains("panicked"), "{}", ended.stderr);
}

#[test]
fn developer_profile_is_the_report_narrowed_to_them_with_their_latest_sessions() {
    let w = Work::new();
    let db = demo_copy(&w);
    let s = Server::start(&w, &db, &[], &[]);
    let dev = developers(&s.json("/api/report"))[2].clone();
    let p = s.json(&format!("/api/developers/{dev}"));
    assert_eq!(p["developer"], dev.as_str());
    assert_eq!(
        (p["since"].as_str(), p["until"].as_str()),
        (Some(DEFAULT_SINCE), Some(DEMO_UNTIL))
    );
    let cli = cli_report(
        &w,
        &db,
        &[
            "--developer",
            &dev,
            "--since",
            DEFAULT_SINCE,
            "--until",
            DEMO_UNTIL,
        ],
    );
    assert_eq!(comparable(p["report"].clone()), comparable(cli.clone()));
    // Totals are their lines of the narrowed report, summed.
    let lines: Vec<&Value> = cli["metrics"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| m["developers"].as_array().unwrap().iter())
        .filter(|d| d["developer"] == dev.as_str())
        .collect();
    assert!(!lines.is_empty());
    let t = &p["totals"];
    for key in [
        "requests",
        "sessions",
        "tokens",
        "acceptance_n",
        "accepted",
        "commits",
        "merged_prs",
    ] {
        let want: i64 = lines.iter().map(|d| d[key].as_i64().unwrap()).sum();
        assert_eq!(t[key].as_i64().unwrap(), want, "{key}");
    }
    let cost: f64 = lines.iter().map(|d| d["cost_usd"].as_f64().unwrap()).sum();
    assert_close(t["cost_usd"].as_f64().unwrap(), cost);
    assert!(u(&t["requests"]) > 0 && u(&t["commits"]) > 0, "{t}");
    for (repo, part) in p["repos"].as_object().unwrap() {
        assert_eq!(part["daily"], cli["metrics"][repo]["daily"]);
        assert_eq!(
            part["cost_per_model"],
            cli["metrics"][repo]["cost"]["per_model"]
        );
        assert_eq!(part["summary"]["developer"], dev.as_str());
    }
    // Latest sessions: theirs, newest first, the first page of their sessions list.
    let recent = p["recent_sessions"].as_array().unwrap();
    assert_eq!(recent.len(), 20);
    let list = s.json(&format!("/api/sessions?developer={dev}&per_page=20"));
    assert_eq!(&list["items"], &p["recent_sessions"]);
    assert!(recent
        .windows(2)
        .all(|w| w[0]["last_seen"].as_str() >= w[1]["last_seen"].as_str()));

    // Any case finds them; filters narrow the profile like the report.
    let upper = s.json(&format!("/api/developers/{}", dev.to_uppercase()));
    assert_eq!(upper["totals"], p["totals"]);
    let web = s.json(&format!(
        "/api/developers/{dev}?repo=acme/web&since=2025-10-01&until=2025-10-12"
    ));
    let cli = cli_report(
        &w,
        &db,
        &[
            "--developer",
            &dev,
            "--repo",
            "acme/web",
            "--since",
            "2025-10-01",
            "--until",
            "2025-10-12",
        ],
    );
    assert_eq!(comparable(web["report"].clone()), comparable(cli));
    assert!(web["recent_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["repo"] == "acme/web"));

    // The profile page shows the same totals.
    let page = s.get(&format!("/developers/{dev}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!(
            "data-testid=\"profile-requests\">{}<",
            t["requests"]
        )),
        "requests on the page"
    );
    assert!(page.body.contains(&format!(
        "data-testid=\"profile-commits\">{}<",
        t["commits"]
    )));
}
