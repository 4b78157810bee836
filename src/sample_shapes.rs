//! Demo lines in the input shapes beyond the three LiteLLM ones: Claude Code's local logs, LiteLLM
//! spend-log rows, OTel console spans, Phoenix span rows, OTLP/JSON trace requests and Claude
//! Code's OTel log events. A few of each, deterministic, in the demo team's window, so that
//! `prod-lens demo` exercises every source.

use crate::sample::{Rng, SampleSpec};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use serde_json::{json, Value};

/// One generated file: a relative path under the traces folder and its JSONL bytes.
pub struct ShapeFile {
    /// Relative path (a fixed, safe name).
    pub path: &'static str,
    /// JSONL content.
    pub bytes: Vec<u8>,
    /// Number of LLM calls in it.
    pub calls: u64,
}

struct Slot {
    ts: DateTime<Utc>,
    dev: String,
    repo: String,
    session: String,
    tin: i64,
    tout: i64,
}

fn slots(spec: &SampleSpec, r: &mut Rng, n: usize) -> Vec<Slot> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let day = spec.start + Duration::days(r.range(0, spec.days.max(1) as u64 - 1) as i64);
        if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        let d = r.range(0, spec.developers.max(1) as u64 - 1) as usize;
        let midnight = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default());
        out.push(Slot {
            ts: midnight + Duration::seconds(9 * 3600 + r.range(0, 8 * 3600) as i64),
            dev: format!(
                "dev-{}",
                crate::sample::NAMES[d % crate::sample::NAMES.len()]
            ),
            repo: spec.repos[d % spec.repos.len().max(1)].clone(),
            session: r.uuid(),
            tin: r.range(500, 20_000) as i64,
            tout: r.range(50, 1_500) as i64,
        });
    }
    out
}

fn jsonl(values: impl IntoIterator<Item = Value>) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        out.extend(v.to_string().into_bytes());
        out.push(b'\n');
    }
    out
}

fn iso(ts: DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn nanos(ts: DateTime<Utc>) -> String {
    (ts.timestamp_micros() as i128 * 1000).to_string()
}

/// Every extra shape, `per_shape` calls each.
pub fn other_shapes(spec: &SampleSpec, per_shape: usize) -> Vec<ShapeFile> {
    let mut r = Rng::new(spec.seed ^ 0x5EED_5A4E);
    let n = per_shape as u64;
    let file = |path, vals: Vec<Value>| ShapeFile {
        path,
        bytes: jsonl(vals),
        calls: n,
    };
    vec![
        // Claude Code writes each assistant message twice while streaming (first with a
        // placeholder output count): both copies are written, the later one is kept.
        ShapeFile {
            path: "claude-code/projects/-home-dev-acme/demo-session.jsonl",
            bytes: jsonl(slots(spec, &mut r, per_shape).iter().enumerate().flat_map(|(i, s)| {
                let line = |out: i64, ts: DateTime<Utc>| {
                    json!({"type": "assistant", "sessionId": s.session, "cwd": format!("/work/{}", s.repo),
                        "gitBranch": "main", "version": "2.0.14", "isSidechain": false, "timestamp": iso(ts),
                        "requestId": format!("req_demo_{i:04}"),
                        "message": {"id": format!("msg_demo_{i:04}"), "model": "claude-sonnet-4-5-20250929", "role": "assistant",
                            "usage": {"input_tokens": 12, "cache_read_input_tokens": s.tin, "cache_creation_input_tokens": 200,
                                      "output_tokens": out}}})
                };
                [line(1, s.ts), line(s.tout, s.ts + Duration::milliseconds(900))]
            })),
            calls: n,
        },
        file(
            "spend-logs.jsonl",
            slots(spec, &mut r, per_shape)
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    json!({"request_id": format!("chatcmpl-spend-{i:04}"), "call_type": "acompletion",
                    "api_key": format!("{:064x}", i), "spend": 0.0,
                    "total_tokens": s.tin + s.tout, "prompt_tokens": s.tin, "completion_tokens": s.tout,
                    "startTime": iso(s.ts), "endTime": iso(s.ts + Duration::seconds(3)),
                    "completionStartTime": iso(s.ts + Duration::milliseconds(700)),
                    "model": "gpt-4o", "model_group": "gpt-4o", "custom_llm_provider": "openai",
                    "user": s.dev, "team_id": "team-platform", "end_user": "", "status": "success",
                    "cache_hit": "False", "session_id": s.session, "request_tags": [],
                    "metadata": {"user_api_key_alias": format!("{}-key", s.dev),
                                 "requester_metadata": {"repo": s.repo}}})
                })
                .collect(),
        ),
        file(
            "otel-spans.jsonl",
            slots(spec, &mut r, per_shape)
                .iter()
                .map(|s| {
                    json!({"name": "ChatCompletion", "context": {"trace_id": format!("0x{}", s.session.replace('-', "")),
                    "span_id": format!("0x{}", &s.session.replace('-', "")[..16])}, "parent_id": null,
                    "start_time": iso(s.ts), "end_time": iso(s.ts + Duration::seconds(4)),
                    "status": {"status_code": "OK"},
                    "attributes": {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini",
                        "llm.provider": "openai", "llm.token_count.prompt": s.tin, "llm.token_count.completion": s.tout,
                        "session.id": s.session, "user.id": s.dev, "metadata": json!({"repo": s.repo}).to_string()},
                    "resource": {"attributes": {"service.name": "review-bot"}}})
                })
                .collect(),
        ),
        file(
            "phoenix-spans.jsonl",
            slots(spec, &mut r, per_shape)
                .iter()
                .map(|s| {
                    json!({"name": "llm", "span_kind": "LLM", "context.span_id": &s.session.replace('-', "")[..16],
                    "context.trace_id": s.session.replace('-', ""), "start_time": iso(s.ts),
                    "end_time": iso(s.ts + Duration::seconds(2)), "status_code": "OK",
                    "attributes.openinference.span.kind": "LLM", "attributes.llm.model_name": "claude-haiku-4-5",
                    "attributes.llm.token_count.prompt": s.tin, "attributes.llm.token_count.completion": s.tout,
                    "attributes.session.id": s.session, "attributes.user.id": s.dev,
                    "attributes.metadata": json!({"repo": s.repo}).to_string()})
                })
                .collect(),
        ),
        file(
            "otlp-traces.jsonl",
            slots(spec, &mut r, per_shape)
                .iter()
                .map(|s| {
                    let kv = |k: &str, v: Value| json!({"key": k, "value": v});
                    json!({"resourceSpans": [{"resource": {"attributes": [kv("service.name", json!({"stringValue": "litellm"}))]},
                    "scopeSpans": [{"scope": {"name": "genai"}, "spans": [{
                        "traceId": s.session.replace('-', ""), "spanId": &s.session.replace('-', "")[..16],
                        "name": "chat gpt-4.1", "kind": 3, "startTimeUnixNano": nanos(s.ts),
                        "endTimeUnixNano": nanos(s.ts + Duration::seconds(5)), "status": {"code": 1},
                        "attributes": [
                            kv("gen_ai.system", json!({"stringValue": "openai"})),
                            kv("gen_ai.request.model", json!({"stringValue": "gpt-4.1"})),
                            kv("gen_ai.usage.input_tokens", json!({"intValue": s.tin.to_string()})),
                            kv("gen_ai.usage.output_tokens", json!({"intValue": s.tout.to_string()})),
                            kv("session.id", json!({"stringValue": s.session})),
                            kv("user.id", json!({"stringValue": s.dev})),
                            kv("metadata.repo", json!({"stringValue": s.repo})),
                        ]}]}]}]})
                })
                .collect(),
        ),
        file(
            "claude-code-otel.jsonl",
            slots(spec, &mut r, per_shape)
                .iter()
                .map(|s| {
                    let kv = |k: &str, v: String| json!({"key": k, "value": {"stringValue": v}});
                    json!({"resourceLogs": [{"resource": {"attributes": [kv("service.name", "claude-code".into())]},
                    "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": [{
                        "timeUnixNano": nanos(s.ts), "body": {"stringValue": "claude_code.api_request"},
                        "attributes": [
                            kv("event.name", "api_request".into()), kv("event.timestamp", iso(s.ts)),
                            kv("session.id", s.session.clone()), kv("user.email", format!("{}@acme.example", s.dev)),
                            kv("organization.id", "org-acme".into()), kv("model", "claude-sonnet-4-5-20250929".into()),
                            kv("cost_usd", format!("{:.6}", (s.tin as f64 * 3e-6 + s.tout as f64 * 15e-6))),
                            kv("duration_ms", "5200".into()), kv("input_tokens", s.tin.to_string()),
                            kv("output_tokens", s.tout.to_string()), kv("cache_read_tokens", "0".into()),
                            kv("cache_creation_tokens", "0".into()),
                        ]}]}]}]})
                })
                .collect(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{parse_line, LineOutcome};

    #[test]
    fn every_generated_line_is_a_call_of_its_shape() {
        let files = other_shapes(&SampleSpec::demo(), 5);
        assert_eq!(files.len(), 6);
        for f in &files {
            let mut calls = 0;
            for line in f.bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                match parse_line(line, None) {
                    LineOutcome::Record(_) => calls += 1,
                    LineOutcome::Batch(b) => {
                        assert!(b.dead.is_empty(), "{}: {:?}", f.path, b.dead);
                        calls += b.records.len() as u64;
                    }
                    LineOutcome::Skipped(s) => panic!("{}: skipped {s}", f.path),
                    LineOutcome::Dead(d) => panic!("{}: dead {d}", f.path),
                }
            }
            // Claude Code streams two copies of each message.
            let copies = if f.path.starts_with("claude-code/") {
                2
            } else {
                1
            };
            assert_eq!(calls, f.calls * copies, "{}", f.path);
        }
    }
}
