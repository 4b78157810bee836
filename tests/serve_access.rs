//! `prod-lens serve` as a real process: access control (token, login cookie, exposure rules at
//! start, loopback Host names), the refresh events after an ingest into the served store,
//! graceful shutdown on SIGTERM, and that serving never writes the database file.

mod common;
mod serve_support;

use common::Work;
use serde_json::Value;
use serve_support::*;
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::Duration;

const TOKEN: &str = "test-token-5f1c2a9e7b3d4c60";

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
