//! A small fake GitHub REST API on 127.0.0.1 for the sync tests: paginated pulls, commits and
//! issue events with Link headers, weak ETags and 304s, rate-limit headers, an optional required
//! token, and scripted faults (status codes, connection resets, malformed pages, delays, primary
//! and secondary rate limits). Every request is logged for assertions.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One repo's data, newest-first order is computed per request.
#[derive(Clone, Debug, Default)]
pub struct RepoData {
    pub pulls: Vec<Value>,
    pub commits: Vec<Value>,
    pub events: Vec<Value>,
}

/// A scripted misbehaviour.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and a GitHub-style error body.
    Status(u16),
    /// Close the connection without answering (unread request bytes make it a reset).
    Reset,
    /// Answer 200 with a truncated JSON body.
    Malformed,
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// 403 with `x-ratelimit-remaining: 0` and a reset this many seconds ahead.
    PrimaryLimit { reset_in: i64 },
    /// 403 "secondary rate limit", with `retry-after` when given.
    Secondary { retry_after: Option<u64> },
}

/// A request the server received.
#[derive(Clone, Debug)]
pub struct Logged {
    /// Path and query.
    pub target: String,
    /// Lower-cased header names with values.
    pub headers: HashMap<String, String>,
    /// Status answered (0 for a dropped connection).
    pub status: u16,
}

impl Logged {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct State {
    repos: HashMap<String, RepoData>,
    faults: Vec<(String, Fault, usize)>,
    log: Vec<Logged>,
    received: Vec<String>,
    remaining: i64,
    required_token: Option<String>,
    link_base: Option<String>,
}

/// The running fake.
pub struct FakeGitHub {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn etag(body: &[u8]) -> String {
    format!("W/\"{}\"", &blake3::hash(body).to_hex()[..32])
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
    })
}

fn with_page(target: &str, page: usize) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut parts: Vec<String> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("page="))
        .map(str::to_string)
        .collect();
    parts.push(format!("page={page}"));
    format!("{path}?{}", parts.join("&"))
}

impl FakeGitHub {
    /// Starts the server on an ephemeral loopback port.
    pub fn start() -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            remaining: 5000,
            ..Default::default()
        }));
        let st = state.clone();
        let base = url.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                let base = base.clone();
                std::thread::spawn(move || handle(conn, &st, &base));
            }
        });
        FakeGitHub { url, state }
    }

    /// Replaces (or adds) a repo's data.
    pub fn set_repo(&self, repo: &str, data: RepoData) {
        self.state.lock().unwrap().repos.insert(repo.into(), data);
    }

    /// Mutates a repo's data in place.
    pub fn edit_repo(&self, repo: &str, f: impl FnOnce(&mut RepoData)) {
        f(self.state.lock().unwrap().repos.get_mut(repo).unwrap());
    }

    /// Requires `Authorization: Bearer <token>` on every request.
    pub fn require_token(&self, token: &str) {
        self.state.lock().unwrap().required_token = Some(token.into());
    }

    /// Applies `fault` to the next `times` requests whose path and query contain `matcher`.
    pub fn fault(&self, matcher: &str, fault: Fault, times: usize) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((matcher.into(), fault, times));
    }

    /// Makes `Link` headers point at another server (a hostile or misconfigured API).
    pub fn set_link_base(&self, base: &str) {
        self.state.lock().unwrap().link_base = Some(base.into());
    }

    /// Removes every scripted fault.
    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }

    /// Targets of every request as it arrived (before any delay or answer).
    pub fn received(&self) -> Vec<String> {
        self.state.lock().unwrap().received.clone()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }
}

fn take_fault(st: &Mutex<State>, target: &str) -> Option<Fault> {
    let mut s = st.lock().unwrap();
    let slot = s
        .faults
        .iter_mut()
        .find(|(m, _, n)| *n > 0 && target.contains(m.as_str()))?;
    slot.2 -= 1;
    Some(slot.1.clone())
}

fn respond(mut conn: TcpStream, status: u16, headers: &[(String, String)], body: &[u8]) {
    let reason = match status {
        200 => "OK",
        304 => "Not Modified",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    if status != 304 {
        head += &format!(
            "Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    head += "\r\n";
    let _ = conn.write_all(head.as_bytes());
    if status != 304 {
        let _ = conn.write_all(body);
    }
    let _ = conn.flush();
}

fn handle(conn: TcpStream, st: &Mutex<State>, base: &str) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    st.lock().unwrap().received.push(target.clone());
    let fault = take_fault(st, &target);
    if let Some(Fault::Reset) = fault {
        st.lock().unwrap().log.push(Logged {
            target,
            headers: HashMap::new(),
            status: 0,
        });
        // Leave the headers unread: closing with unread data sends a TCP reset.
        drop(reader);
        drop(conn);
        return;
    }
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    if let Some(Fault::Delay(d)) = fault {
        std::thread::sleep(d);
    }
    let (status, extra, body) = answer(st, &target, &headers, fault, base);
    let mut s = st.lock().unwrap();
    if status != 304 {
        s.remaining = (s.remaining - 1).max(0);
    }
    let mut all = vec![
        ("x-ratelimit-limit".to_string(), "5000".to_string()),
        ("x-ratelimit-remaining".to_string(), s.remaining.to_string()),
        ("x-ratelimit-reset".to_string(), (now() + 3600).to_string()),
    ];
    all.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    all.extend(extra);
    s.log.push(Logged {
        target,
        headers,
        status,
    });
    drop(s);
    respond(conn, status, &all, &body);
}

fn error_body(msg: &str) -> Vec<u8> {
    serde_json::json!({"message": msg, "documentation_url": "https://docs.github.com/rest"})
        .to_string()
        .into_bytes()
}

type Answer = (u16, Vec<(String, String)>, Vec<u8>);

fn answer(
    st: &Mutex<State>,
    target: &str,
    headers: &HashMap<String, String>,
    fault: Option<Fault>,
    base: &str,
) -> Answer {
    match fault {
        Some(Fault::Status(code)) => return (code, vec![], error_body("Server Error")),
        Some(Fault::PrimaryLimit { reset_in }) => {
            return (
                403,
                vec![
                    ("x-ratelimit-remaining".into(), "0".into()),
                    ("x-ratelimit-reset".into(), (now() + reset_in).to_string()),
                ],
                error_body("API rate limit exceeded for user ID 1."),
            )
        }
        Some(Fault::Secondary { retry_after }) => {
            let extra = retry_after
                .map(|s| vec![("retry-after".to_string(), s.to_string())])
                .unwrap_or_default();
            return (
                403,
                extra,
                error_body("You have exceeded a secondary rate limit."),
            );
        }
        _ => {}
    }
    let s = st.lock().unwrap();
    let base = s.link_base.clone().unwrap_or_else(|| base.to_string());
    if let Some(tok) = &s.required_token {
        if headers.get("authorization") != Some(&format!("Bearer {tok}")) {
            return (401, vec![], error_body("Bad credentials"));
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if parts.len() < 4 || parts[0] != "repos" {
        return (404, vec![], error_body("Not Found"));
    }
    let repo = format!("{}/{}", parts[1], parts[2]);
    let Some(data) = s.repos.get(&repo) else {
        return (404, vec![], error_body("Not Found"));
    };
    let key = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut items: Vec<Value> = match &parts[3..] {
        ["pulls"] => {
            let mut v = data.pulls.clone();
            v.sort_by_key(|p| std::cmp::Reverse(key(p, "/updated_at")));
            v
        }
        ["commits"] => {
            let mut v = data.commits.clone();
            v.sort_by(|a, b| {
                key(b, "/commit/committer/date").cmp(&key(a, "/commit/committer/date"))
            });
            if let Some(since) = query_param(query, "since") {
                v.retain(|c| key(c, "/commit/committer/date").as_str() >= since);
            }
            v
        }
        ["issues", "events"] => {
            let mut v = data.events.clone();
            v.sort_by_key(|e| std::cmp::Reverse(e.get("id").and_then(Value::as_i64).unwrap_or(0)));
            v
        }
        _ => return (404, vec![], error_body("Not Found")),
    };
    let per_page: usize = query_param(query, "per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30);
    let page: usize = query_param(query, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
        .max(1);
    let pages = items.len().div_ceil(per_page).max(1);
    let start = ((page - 1) * per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    let slice: Vec<Value> = items.drain(start..end).collect();
    let body = if matches!(fault, Some(Fault::Malformed)) {
        br#"[{"number": 1, "title": "cut off"#.to_vec()
    } else {
        serde_json::to_vec(&slice).unwrap()
    };
    let tag = etag(&body);
    if headers.get("if-none-match") == Some(&tag) {
        return (304, vec![("ETag".into(), tag)], Vec::new());
    }
    let mut links = Vec::new();
    if page < pages {
        links.push(format!(
            "<{base}{}>; rel=\"next\"",
            with_page(target, page + 1)
        ));
        links.push(format!(
            "<{base}{}>; rel=\"last\"",
            with_page(target, pages)
        ));
    }
    if page > 1 {
        links.push(format!(
            "<{base}{}>; rel=\"prev\"",
            with_page(target, page - 1)
        ));
    }
    let mut extra = vec![("ETag".to_string(), tag)];
    if !links.is_empty() {
        extra.push(("Link".into(), links.join(", ")));
    }
    (200, extra, body)
}
