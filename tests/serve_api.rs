//! `prod-lens serve` as a real process on a free port over a real demo store: every API route
//! (status codes, JSON shape, values checked against `prod-lens report` / `status` of the same
//! filters), pagination and sorting, 400s naming the bad parameter, 404s, auth, the refresh
//! events, graceful shutdown, and that the store is never written.

mod common;
mod serve_support;

use common::{run_ok, Work};
use serde_json::Value;
use serve_support::*;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN: &str = "test-token-5f1c2a9e7b3d4c60";

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

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
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
                !["lag", "max_lag", "policy_model", "business_days"]
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

#[test]
fn a_token_guards_every_route_and_is_never_shown() {
    let w = Work::new();
    let db = demo_copy(&w);
    // Debug logging on: the token must not reach the log either.
    let s = Server::start(&w, &db, &["-vv"], &[("PRODLENS_AUTH_TOKEN", TOKEN)]);
    let bearer = format!("Bearer {TOKEN}");
    let routes = [
        "/api/status",
        "/api/report",
        "/api/daily",
        "/api/sessions",
        "/api/developers/dev-bob",
        "/api/nope",
        "/",
        "/sessions",
        "/developers/dev-bob",
    ];
    let mut bodies = Vec::new();
    for path in routes {
        let none = s.get(path);
        assert_eq!(none.status, 401, "{path} without a token");
        let wrong = s.get_with(
            path,
            &[("authorization", "Bearer test-token-5f1c2a9e7b3d4c61")],
        );
        assert_eq!(wrong.status, 401, "{path} with a wrong token");
        let basic = s.get_with(path, &[("authorization", &format!("Basic {TOKEN}"))]);
        assert_eq!(basic.status, 401, "{path} with another scheme");
        let right = s.get_with(path, &[("authorization", &bearer)]);
        let want = if path == "/api/nope" { 404 } else { 200 };
        assert_eq!(right.status, want, "{path} with the token: {}", right.body);
        if path.starts_with("/api/") {
            assert_eq!(
                none.header("www-authenticate"),
                Some("Bearer realm=\"prod-lens\"")
            );
            assert!(none.json()["error"]
                .as_str()
                .unwrap()
                .contains("Authorization"));
        } else {
            assert!(none.body.contains("action=\"/login\""), "the login form");
        }
        bodies.extend([none, wrong, basic, right]);
    }
    // Static assets and the login form need no token (they show no data).
    assert_eq!(s.get("/static/app.js").status, 200);
    assert_eq!(s.get("/login").status, 200);

    // Login: a wrong token stays out; the right one sets an HttpOnly, SameSite=Strict cookie.
    let bad = s.post_form("/login", "token=not-the-token-at-all", &[]);
    assert_eq!(bad.status, 401);
    assert!(bad.header("set-cookie").is_none());
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("token", TOKEN)
        .finish();
    let ok = s.post_form("/login", &form, &[]);
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(ok.header("location"), Some("/"));
    let set = ok.header("set-cookie").unwrap().to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains(TOKEN));
    let cookie = set.split(';').next().unwrap().to_string();
    for path in ["/", "/api/report", "/sessions"] {
        assert_eq!(
            s.get_with(path, &[("cookie", &cookie)]).status,
            200,
            "{path} with the cookie"
        );
    }
    // A tampered cookie is refused; logging out clears it.
    let tampered = format!("{}0", &cookie[..cookie.len() - 1]);
    let tampered = if tampered == cookie {
        format!("{}1", &cookie[..cookie.len() - 1])
    } else {
        tampered
    };
    assert_eq!(
        s.get_with("/api/status", &[("cookie", &tampered)]).status,
        401
    );
    let out = s.post_form("/logout", "", &[("cookie", &cookie)]);
    assert_eq!(out.status, 303);
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));

    let ended = s.terminate(Duration::from_secs(20));
    assert!(ended.status.success(), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("GET /api/report"),
        "debug log of requests: {}",
        ended.stderr
    );
    let mut seen = format!("{}{}", ended.stdout, ended.stderr);
    for b in bodies.iter().chain([&ok, &bad, &out]) {
        seen += &b.body;
        for (_, v) in &b.headers {
            seen += v;
        }
    }
    assert!(!seen.contains(TOKEN), "the token leaked");
    assert!(!seen.contains(&TOKEN[..12]), "part of the token leaked");
}

#[test]
fn exposure_rules_at_start() {
    let w = Work::new();
    let db = demo_copy(&w);
    // A non-loopback bind without a token refuses to start, naming the way out.
    let out = w
        .cmd()
        .arg("--db")
        .arg(&db)
        .args(["serve", "--bind", "0.0.0.0", "--port", "0"])
        .env_remove("PRODLENS_AUTH_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("PRODLENS_AUTH_TOKEN") && err.contains("0.0.0.0"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    // A short token is refused (and not echoed).
    let out = w
        .cmd()
        .arg("--db")
        .arg(&db)
        .args([
            "serve",
            "--bind",
            "0.0.0.0",
            "--port",
            "0",
            "--auth-token",
            "abc123",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("at least 16") && !err.contains("abc123"),
        "{err}"
    );
    // Not an address.
    let out = w
        .cmd()
        .arg("--db")
        .arg(&db)
        .args(["serve", "--bind", "example.com"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bind"));
    // A missing database is a clear error naming --db, and is not created.
    let out = w
        .cmd()
        .args(["--db", "nowhere/none.db", "serve", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--db") && err.contains("nowhere/none.db"),
        "{err}"
    );
    assert!(!w.path("nowhere").exists());

    // With a token (here as a flag), any address is fine.
    let s = Server::start(&w, &db, &["--bind", "0.0.0.0", "--auth-token", TOKEN], &[]);
    assert!(
        s.listening.starts_with("http://0.0.0.0:"),
        "{}",
        s.listening
    );
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        s.get_with("/api/status", &[("authorization", &bearer)])
            .status,
        200
    );
    assert_eq!(s.get("/api/status").status, 401);
    let ended = s.terminate(Duration::from_secs(20));
    assert!(!format!("{}{}", ended.stdout, ended.stderr).contains(TOKEN));

    // Without a token, only requests addressed to a loopback name are answered.
    let s = Server::start(&w, &db, &[], &[]);
    assert_eq!(
        s.get_with("/api/status", &[("host", "localhost:8787")])
            .status,
        200
    );
    let r = s.get_with("/api/status", &[("host", "attacker.example")]);
    assert_eq!(r.status, 403);
    assert!(r.json()["error"].as_str().unwrap().contains("localhost"));
}

/// An event-stream connection whose lines arrive on a channel.
fn subscribe(s: &Server) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let agent: ureq::Agent = ureq::Agent::config_builder().proxy(None).build().into();
    let resp = agent.get(format!("{}/api/events", s.base)).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap(),
        "text/event-stream"
    );
    let reader = BufReader::new(resp.into_body().into_reader());
    std::thread::spawn(move || {
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for `event: <kind>` and returns its data line.
fn next_event(rx: &mpsc::Receiver<String>, kind: &str, within: Duration) -> Option<String> {
    let deadline = std::time::Instant::now() + within;
    let mut current = String::new();
    loop {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        let line = rx.recv_timeout(left).ok()?;
        if let Some(k) = line.strip_prefix("event: ") {
            current = k.to_string();
        } else if let Some(d) = line.strip_prefix("data: ") {
            if current == kind {
                return Some(d.to_string());
            }
        }
    }
}

#[test]
fn ingesting_while_serving_sends_a_change_event_and_fresh_numbers() {
    let w = Work::new();
    let db = demo_copy(&w);
    let s = Server::start(&w, &db, &[], &[]);
    let before = s.json("/api/status");
    let report_before = s.json("/api/report?repo=acme/api");
    let rx = subscribe(&s);
    let hello = next_event(&rx, "hello", Duration::from_secs(10)).expect("hello event");
    let g0 = serde_json::from_str::<Value>(&hello).unwrap()["generation"]
        .as_u64()
        .unwrap();
    // Nothing changes: no change event.
    assert_eq!(next_event(&rx, "change", Duration::from_secs(3)), None);

    let line = serde_json::json!({
        "timestamp": "2025-10-12T18:00:00Z",
        "usage": {"input_tokens": 100, "output_tokens": 20},
        "attributes": {"llm.model_name": "gpt-4o", "latency_ms": 900, "status_code": 200},
        "metadata": {"repo": "acme/api", "session_id": "s-live", "developer_id": "dev-live"}
    });
    let input = w.write("live.jsonl", format!("{line}\n").as_bytes());
    let summary = w.ingest(&db, &[input.to_str().unwrap(), "--no-parquet"]);
    assert_eq!(summary["inserted"], 1);

    let change = next_event(&rx, "change", Duration::from_secs(15))
        .expect("a change event after the ingest");
    let g1 = serde_json::from_str::<Value>(&change).unwrap()["generation"]
        .as_u64()
        .unwrap();
    assert!(g1 > g0);
    let after = s.json("/api/status");
    assert_eq!(
        u(&after["traces"]["total"]),
        u(&before["traces"]["total"]) + 1
    );
    // The report is recomputed, not served from before.
    let report_after = s.json("/api/report?repo=acme/api");
    let req = |r: &Value| u(&r["metrics"]["acme/api"]["velocity"]["requests"]);
    assert_eq!(req(&report_after), req(&report_before) + 1);
    let s_live = s.json("/api/sessions?developer=dev-live");
    assert_eq!(u(&s_live["total"]), 1);
    assert_eq!(s_live["items"][0]["session"], "s-live");

    // Shutdown ends the open event stream: the process exits promptly and cleanly.
    let started = std::time::Instant::now();
    let ended = s.terminate(Duration::from_secs(9));
    assert!(ended.status.success(), "{}", ended.stderr);
    assert!(started.elapsed() < Duration::from_secs(9));
}

#[test]
fn serving_never_writes_the_store() {
    let w = Work::new();
    let db = demo_copy(&w);
    let hash = |p: &std::path::Path| blake3::hash(&std::fs::read(p).unwrap());
    let before = (
        hash(&db),
        std::fs::metadata(&db).unwrap().modified().unwrap(),
    );
    let s = Server::start(&w, &db, &[], &[]);
    for path in [
        "/api/status",
        "/api/report",
        "/api/report?exact=true&repo=acme/web",
        "/api/daily",
        "/api/sessions?sort=tokens",
        "/api/developers/dev-bob",
        "/",
        "/sessions",
        "/developers/dev-bob",
        "/static/app.css",
    ] {
        assert_eq!(s.get(path).status, 200, "{path}");
    }
    let rx = subscribe(&s);
    assert!(next_event(&rx, "hello", Duration::from_secs(10)).is_some());
    // Longer than one poll of the store.
    std::thread::sleep(Duration::from_millis(2500));
    let ended = s.terminate(Duration::from_secs(20));
    assert!(ended.status.success(), "{}", ended.stderr);
    let after = (
        hash(&db),
        std::fs::metadata(&db).unwrap().modified().unwrap(),
    );
    assert_eq!(before, after, "the database file changed");
    // Still a WAL database of the same schema, untouched by migrations.
    let conn = common::open_db(&db);
    assert_eq!(
        common::query_i64(
            &conn,
            "SELECT COUNT(*) FROM etl_runs WHERE outcome = 'running'"
        ),
        0
    );
}
