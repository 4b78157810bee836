//! The real LiteLLM fixture (16 `StandardLoggingPayload` lines written by litellm 1.110.2, see
//! `tests/fixtures/litellm/README.md`) through the real binary into a real SQLite file.

mod common;

use common::*;
use rusqlite::Connection;
use serde_json::Value;

/// The fixture's lines as JSON.
fn fixture() -> Vec<Value> {
    std::fs::read_to_string(litellm_fixture())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// One stored row, looked up by the line's `litellm_call_id`.
#[derive(Debug)]
struct Row {
    response_id: Option<String>,
    session_id: Option<String>,
    developer_id: Option<String>,
    team_id: Option<String>,
    key_alias: Option<String>,
    tokens_in: i64,
    tokens_out: i64,
    cache_read: i64,
    cache_creation: i64,
    latency_ms: Option<f64>,
    ttft_ms: Option<f64>,
    status_code: Option<i64>,
    is_error: bool,
    error_class: Option<String>,
    cache_hit: Option<bool>,
    cost_usd: Option<f64>,
    cost_source: String,
    source_format: String,
    event_date: String,
}

fn row(c: &Connection, call_id: &str) -> Row {
    c.query_row(
        "SELECT response_id, session_id, developer_id, team_id, key_alias, tokens_in, tokens_out,
                cache_read_tokens, cache_creation_tokens, latency_ms, ttft_ms, status_code, is_error,
                error_class, cache_hit, cost_usd, cost_source, source_format, event_date
         FROM traces WHERE call_id = ?1",
        [call_id],
        |r| {
            Ok(Row {
                response_id: r.get(0)?,
                session_id: r.get(1)?,
                developer_id: r.get(2)?,
                team_id: r.get(3)?,
                key_alias: r.get(4)?,
                tokens_in: r.get(5)?,
                tokens_out: r.get(6)?,
                cache_read: r.get(7)?,
                cache_creation: r.get(8)?,
                latency_ms: r.get(9)?,
                ttft_ms: r.get(10)?,
                status_code: r.get(11)?,
                is_error: r.get(12)?,
                error_class: r.get(13)?,
                cache_hit: r.get(14)?,
                cost_usd: r.get(15)?,
                cost_source: r.get(16)?,
                source_format: r.get(17)?,
                event_date: r.get(18)?,
            })
        },
    )
    .unwrap_or_else(|e| panic!("no row for {call_id}: {e}"))
}

#[test]
fn real_litellm_payloads_ingest_with_the_expected_figures() {
    let w = Work::new();
    let db = w.path("x.db");
    let fx = fixture();
    assert_eq!(fx.len(), 16);
    let s = w.ingest(&db, &[litellm_fixture().to_str().unwrap()]);
    // 16 calls; tokens in: 6×10 + 2048 + 3000 + 3×0 + 10 + 2×10 + 10 + 0 = 5148;
    // out: 6×20 + 12 + 20 + 4 + 2×2 + 20 = 180; cache reads 1536 (OpenAI) + 2000 (Anthropic);
    // cache writes 500; one unknown cost (line 5).
    assert_eq!(
        counts(&s),
        [16, 16, 0, 0, 1, 0, 5148, 180, 3536, 500],
        "{s}"
    );
    // Reported costs of the 13 credible lines + line 6 estimated at claude-sonnet-4 prices.
    let reported: f64 = fx
        .iter()
        .enumerate()
        .filter(|(i, _)| ![4, 5].contains(i))
        .map(|(_, v)| v["response_cost"].as_f64().unwrap())
        .sum();
    assert_close(reported, 0.0086009);
    assert_close(
        s["cost_usd"].as_f64().unwrap(),
        0.0086009 + 10.0 * 3e-6 + 20.0 * 1.5e-5,
    );
    assert!(
        !w.path("dead-letter").exists(),
        "no dead letters for valid input"
    );

    let c = open_db(&db);
    let id = |n: usize| fx[n - 1]["litellm_call_id"].as_str().unwrap().to_string();
    let rows: Vec<Row> = (1..=16).map(|n| row(&c, &id(n))).collect();
    let r = |n: usize| &rows[n - 1];
    assert!(rows.iter().all(|r| r.source_format == "litellm-payload"));
    assert!(
        rows.iter().all(|r| r.event_date == "2026-11-24"),
        "{rows:?}"
    );

    // 13 and 14 share the provider response id but are two calls.
    assert_eq!(r(13).response_id.as_deref(), Some("chatcmpl-shared-0001"));
    assert_eq!(r(14).response_id.as_deref(), Some("chatcmpl-shared-0001"));
    assert_eq!(
        query_i64(
            &c,
            "SELECT COUNT(*) FROM traces WHERE response_id = 'chatcmpl-shared-0001'"
        ),
        2
    );

    // Failures are errors with their status code and class, and cost 0 as reported.
    for (n, code, class) in [
        (9, 429, "RateLimitError"),
        (10, 500, "InternalServerError"),
        (11, 400, "BadRequestError"),
        (16, 500, "InternalServerError"),
    ] {
        let x = r(n);
        assert!(x.is_error, "line {n}");
        assert_eq!(x.status_code, Some(code), "line {n}");
        assert_eq!(x.error_class.as_deref(), Some(class), "line {n}");
        assert_eq!((x.tokens_in, x.tokens_out), (0, 0), "line {n}");
        assert_eq!(x.cache_hit, Some(false), "line {n}");
        assert_eq!(
            (x.cost_usd, x.cost_source.as_str()),
            (Some(0.0), "reported"),
            "line {n}"
        );
    }
    assert_eq!(
        query_i64(&c, "SELECT COUNT(*) FROM traces WHERE is_error = 1"),
        4
    );

    // Cache tokens: OpenAI's cached_tokens (line 7), Anthropic's read + creation (line 8),
    // both part of tokens_in.
    assert_eq!(
        (r(7).tokens_in, r(7).cache_read, r(7).cache_creation),
        (2048, 1536, 0)
    );
    assert_eq!(
        (r(8).tokens_in, r(8).cache_read, r(8).cache_creation),
        (3000, 2000, 500)
    );
    assert_eq!(
        (r(8).cost_usd, r(8).cost_source.as_str()),
        (Some(0.004275), "reported")
    );

    // Line 5: unknown model, response_cost 0.0 with debug info → not credible, no price → unknown.
    assert_eq!(
        (r(5).cost_usd, r(5).cost_source.as_str()),
        (None, "unknown")
    );
    // Line 6: 0.0 without debug info for a model the bundled table prices → estimated.
    assert_eq!(r(6).cost_source, "estimated");
    assert_close(r(6).cost_usd.unwrap(), 10.0 * 3e-6 + 20.0 * 1.5e-5);
    // Line 1: a credible reported cost is kept as is.
    assert_eq!(
        (r(1).cost_usd, r(1).cost_source.as_str()),
        (Some(0.00033000000000000005), "reported")
    );

    // Streaming (line 12): time to first token from completionStartTime, latency from endTime.
    assert!(
        (r(12).ttft_ms.unwrap() - 483.868).abs() < 1e-2,
        "{:?}",
        r(12)
    );
    assert!(
        (r(12).latency_ms.unwrap() - 944.066).abs() < 1e-2,
        "{:?}",
        r(12)
    );
    assert_eq!(r(12).cache_hit, Some(false));

    // Sessions: `trace_id` "session_abc123" → "abc123"; Claude Code's user id in
    // requester_metadata → its session uuid; no session anywhere → the generated trace id.
    assert_eq!(r(1).session_id.as_deref(), Some("abc123"));
    for n in [2, 3] {
        assert_eq!(
            r(n).session_id.as_deref(),
            Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
            "line {n}"
        );
    }
    assert_eq!(r(15).session_id.as_deref(), fx[14]["trace_id"].as_str());
    // Proxy-style identity (line 4).
    assert_eq!(r(4).developer_id.as_deref(), Some("dev-alice"));
    assert_eq!(r(4).team_id.as_deref(), Some("team-platform"));
    assert_eq!(r(4).key_alias.as_deref(), Some("alice-laptop"));
    // The SDK `user=` kwarg only reaches model_parameters, which is not identity.
    assert_eq!(r(1).developer_id, None);
}

/// Every prompt and response text of the fixture (message contents, response message contents).
fn texts(fx: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    for v in fx {
        for m in v["messages"].as_array().unwrap() {
            out.push(m["content"].as_str().unwrap().to_string());
        }
        if let Some(choices) = v["response"]["choices"].as_array() {
            for ch in choices {
                if let Some(t) = ch["message"]["content"].as_str() {
                    out.push(t.to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn no_prompt_or_response_text_reaches_the_database() {
    let w = Work::new();
    let dir = w.path("db");
    let db = dir.join("x.db");
    let fx = fixture();
    w.ingest(&db, &[litellm_fixture().to_str().unwrap()]);
    let texts = texts(&fx);
    // "Say hi." plus the answers of the 12 successful calls.
    assert_eq!(texts.len(), 13, "{texts:?}");
    // Every file the store left behind (the database, a WAL if one remained) and the folders
    // next to it (dead letters, the Parquet lake).
    let mut bytes = Vec::new();
    let mut pending = vec![dir.clone()];
    while let Some(d) = pending.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                bytes.extend(std::fs::read(path).unwrap());
            }
        }
    }
    assert!(bytes.len() > 4096);
    for t in texts.iter().map(String::as_bytes).chain([&b"\"role\""[..]]) {
        assert!(
            !bytes.windows(t.len()).any(|w| w == t),
            "{:?} found in the database",
            String::from_utf8_lossy(t)
        );
    }
    // The check can fail: a value that is stored is found the same way.
    let stored = b"chatcmpl-shared-0001";
    assert!(bytes.windows(stored.len()).any(|w| w == stored));
}

#[test]
fn fixture_reingest_and_forced_format() {
    let w = Work::new();
    let db = w.path("x.db");
    let path = litellm_fixture();
    let p = path.to_str().unwrap();
    w.ingest(&db, &[p]);
    // Unchanged: skipped without reading; `--full` reads it again and finds every line stored.
    let s = w.ingest(&db, &[p, "--format", "litellm-payload"]);
    assert_eq!((int(&s, "read"), int(&s, "files_skipped")), (0, 1), "{s}");
    let s = w.ingest(&db, &[p, "--format", "litellm-payload", "--full"]);
    assert_eq!(
        (int(&s, "read"), int(&s, "inserted"), int(&s, "duplicates")),
        (16, 0, 16),
        "{s}"
    );
    // Forcing the span shape on payloads: no `usage` object, so every line is a dead letter.
    let s = w.ingest(&w.path("y.db"), &[p, "--format", "seed-span"]);
    assert_eq!(
        (int(&s, "inserted"), int(&s, "dead_lettered")),
        (0, 16),
        "{s}"
    );
    let dead = dead_letters(&w.path("dead-letter/standard_logging_payload.deadletter.jsonl"));
    assert!(
        dead.iter().all(|d| d["reason"] == "missing usage"),
        "{dead:?}"
    );
}
