//! Input formats: one module per trace shape, each turning a JSON object into a [`TraceRecord`].
//!
//! [`parse_line`] is the single entry point: bytes of one line in, a record, a skip or a
//! dead-letter reason out. It never panics and does no I/O.

pub mod claude_code;
mod claude_line;
pub mod common;
pub mod decode;
pub mod fields;
pub mod litellm_logger;
pub mod litellm_payload;
pub mod litellm_spend_logs;
pub mod otel;
pub mod scope;
pub mod seed_span;
pub mod usage;

use crate::normalise;
use crate::record::{SourceFormat, TraceRecord};
use fields::Obj;
use serde_json::Value;

/// What one input line turned into.
#[derive(Debug)]
pub enum LineOutcome {
    /// A normalised LLM call.
    Record(Box<TraceRecord>),
    /// A valid line that is not an LLM call (counted, not dead-lettered).
    Skipped(String),
    /// An unusable line, with the reason.
    Dead(String),
    /// A line holding several items (an OTLP export request): calls, activity rows, skips and
    /// the reasons of unusable items.
    Batch(Box<otel::Batch>),
}

/// Why a source module did not produce a record.
#[derive(Debug, PartialEq)]
pub enum Reject {
    /// Valid but not an LLM call.
    Skip(String),
    /// Unusable, with the reason.
    Dead(String),
}

impl From<String> for Reject {
    fn from(s: String) -> Self {
        Reject::Dead(s)
    }
}

/// Parses one line (without its newline). `forced` skips auto-detection.
pub fn parse_line(bytes: &[u8], forced: Option<SourceFormat>) -> LineOutcome {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => return LineOutcome::Dead(format!("invalid UTF-8 at byte {}", e.valid_up_to())),
    };
    if let Some(parsed) = claude_line::parse(text, forced) {
        return outcome(parsed);
    }
    parse_text(text, forced)
}

/// Parses one line of text through the general path: the whole object, then the format.
fn parse_text(text: &str, forced: Option<SourceFormat>) -> LineOutcome {
    let obj = match decode::decode(text) {
        Ok(decode::Decoded::Object(o)) => o,
        Ok(decode::Decoded::NotObject(t)) => {
            return LineOutcome::Dead(format!("line is a JSON {t}, not an object"))
        }
        Err(e) => return LineOutcome::Dead(format!("invalid JSON: {e}")),
    };
    let format = forced.or_else(|| detect(&obj));
    if matches!(
        format,
        Some(SourceFormat::OtlpJson | SourceFormat::ClaudeCodeOtel)
    ) {
        return match otel::otlp::parse_json(&obj) {
            Ok(mut b) => {
                for r in &mut b.records {
                    r.dedupe_key = normalise::dedupe_key(r);
                }
                LineOutcome::Batch(Box::new(b))
            }
            Err(e) => LineOutcome::Dead(e),
        };
    }
    outcome(parse_object(&obj, forced))
}

/// The outcome of one parsed record: keyed for dedupe, or skipped, or dead.
fn outcome(parsed: Result<TraceRecord, Reject>) -> LineOutcome {
    match parsed {
        Ok(mut r) => {
            r.dedupe_key = normalise::dedupe_key(&r);
            LineOutcome::Record(Box::new(r))
        }
        Err(Reject::Skip(s)) => LineOutcome::Skipped(s),
        Err(Reject::Dead(s)) => LineOutcome::Dead(s),
    }
}

/// Parses one JSON object with the forced or detected format.
pub fn parse_object(obj: &Obj, forced: Option<SourceFormat>) -> Result<TraceRecord, Reject> {
    let format = match forced {
        Some(f) => f,
        None => detect(obj).ok_or_else(|| {
            Reject::Dead(
                "unrecognised record shape: expected a LiteLLM StandardLoggingPayload or spend-log \
                 row, a LiteLLM logger record (model + usage), a Claude Code log line, a span \
                 (timestamp + usage + attributes), an OTLP request, an OTel span or a Phoenix span row"
                    .to_string(),
            )
        })?,
    };
    match format {
        SourceFormat::SeedSpan => seed_span::parse(obj),
        SourceFormat::LitellmLogger => litellm_logger::parse(obj),
        SourceFormat::LitellmPayload => litellm_payload::parse(obj),
        SourceFormat::ClaudeCode => claude_code::parse(obj),
        SourceFormat::LitellmSpendLogs => litellm_spend_logs::parse(obj),
        SourceFormat::OtelSpan => {
            otel::llm_span::map(&otel::flat::console_span(obj)?, SourceFormat::OtelSpan)
        }
        SourceFormat::PhoenixSpan => {
            otel::llm_span::map(&otel::flat::phoenix_row(obj)?, SourceFormat::PhoenixSpan)
        }
        SourceFormat::OtlpJson | SourceFormat::ClaudeCodeOtel => {
            let b = otel::otlp::parse_json(obj)?;
            match (b.records.len(), b.dead.first()) {
                (_, Some(d)) => Err(Reject::Dead(d.clone())),
                (1, None) => b
                    .records
                    .into_iter()
                    .next()
                    .ok_or_else(|| Reject::Skip(String::new())),
                (0, None) => Err(Reject::Skip("OTLP request without LLM calls".into())),
                _ => Err(Reject::Dead(
                    "OTLP request holds several calls: read it with parse_line".into(),
                )),
            }
        }
    }
}

/// Tells a line's shape from its keys.
///
/// * LiteLLM spend log row: `request_id` with `spend` or `api_key`.
/// * Claude Code log line: `sessionId` with `type`, or a `summary` line (`leafUuid`).
/// * OTLP/JSON request: `resourceSpans`, `resourceLogs` or `resourceMetrics`.
/// * Phoenix row: `context.span_id`, `context.trace_id` or `attributes.llm.model_name` /
///   `attributes.openinference.span.kind` columns.
/// * Console span: `name`, `start_time` and `context.span_id` or `span_id`.
/// * LiteLLM payload: `litellm_call_id`, or `startTime` with `prompt_tokens`, `response_cost`,
///   `model_group` or `call_type` at the top level.
/// * Seed span: `attributes` (or the flattened `"attributes.metadata"`), or `usage.input_tokens`.
/// * LiteLLM logger: top-level `model` or `usage.prompt_tokens`.
pub fn detect(obj: &Obj) -> Option<SourceFormat> {
    let has = |k: &str| obj.contains_key(k);
    if has("request_id") && (has("spend") || has("api_key")) {
        return Some(SourceFormat::LitellmSpendLogs);
    }
    if (has("sessionId") && has("type")) || has("leafUuid") {
        return Some(SourceFormat::ClaudeCode);
    }
    if otel::otlp::signal_key(obj).is_some() {
        return Some(SourceFormat::OtlpJson);
    }
    if otel::flat::is_phoenix_row(obj) {
        return Some(SourceFormat::PhoenixSpan);
    }
    if otel::flat::is_console_span(obj) {
        return Some(SourceFormat::OtelSpan);
    }
    if has("litellm_call_id")
        || (has("startTime")
            && (has("prompt_tokens")
                || has("response_cost")
                || has("model_group")
                || has("call_type")))
    {
        return Some(SourceFormat::LitellmPayload);
    }
    let usage = obj.get("usage").and_then(Value::as_object);
    if has("attributes")
        || has("attributes.metadata")
        || usage.is_some_and(|u| u.contains_key("input_tokens"))
    {
        return Some(SourceFormat::SeedSpan);
    }
    if has("model") || usage.is_some() {
        return Some(SourceFormat::LitellmLogger);
    }
    None
}

/// Reads the mandatory timestamp from the first of `keys` found in `scope`.
pub(crate) fn timestamp(
    scope: &scope::Scope,
    keys: &[&str],
) -> Result<chrono::DateTime<chrono::Utc>, String> {
    match scope.value(keys) {
        Some((v, k)) => crate::time::parse_value(v).map_err(|e| format!("{k}: {e}")),
        None => Err(format!(
            "missing timestamp (looked for {})",
            keys.join(", ")
        )),
    }
}

/// A record with only its format and time set; sources (and tests) fill in the rest.
pub fn blank(format: SourceFormat, ts: chrono::DateTime<chrono::Utc>) -> TraceRecord {
    TraceRecord {
        dedupe_key: [0; 16],
        call_id: None,
        response_id: None,
        source_format: format,
        timestamp: ts,
        event_date: ts.date_naive(),
        repo_slug: None,
        developer_id: None,
        session_id: None,
        trace_id: None,
        team_id: None,
        key_alias: None,
        model: None,
        provider: None,
        call_type: None,
        tokens_in: 0,
        tokens_out: 0,
        cache_read_tokens: 0,
        cache_creation_tokens: 0,
        latency_ms: None,
        ttft_ms: None,
        status_code: None,
        is_error: false,
        error_class: None,
        accepted: None,
        diff_ratio: None,
        accepted_lines: None,
        cache_hit: None,
        reported_cost: None,
        cost_usd: None,
        cost_source: crate::record::CostSource::Unknown,
        cwd: None,
        git_branch: None,
        is_sidechain: None,
        client_version: None,
    }
}

/// Call types that are not LLM calls (LiteLLM management and pass-through endpoints).
pub(crate) fn is_non_llm_call_type(call_type: &str) -> bool {
    let ct = call_type.trim().to_ascii_lowercase();
    ct.starts_with("pass_through")
        || ct.contains("moderation")
        || ct.contains("file")
        || ct.contains("batch")
        || ct.contains("health")
        || ct.contains("fine_tuning")
        || ct.contains("vector_store")
        || ct.contains("assistant")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outcome as text, for comparing the two paths.
    fn shown(o: LineOutcome) -> String {
        format!("{o:?}")
    }

    /// Every line gives the same outcome through the Claude Code fast path (when it takes the
    /// line) as through the general path, detected and forced.
    fn same_both_ways(text: &str) {
        for forced in [None, Some(SourceFormat::ClaudeCode)] {
            let general = shown(parse_text(text, forced));
            if let Some(fast) = claude_line::parse(text, forced) {
                assert_eq!(shown(outcome(fast)), general, "forced {forced:?}: {text}");
            }
            assert_eq!(
                shown(parse_line(text.as_bytes(), forced)),
                general,
                "{text}"
            );
        }
    }

    #[test]
    fn claude_code_fixture_lines_parse_the_same_on_the_fast_path() {
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/claude_code"
        ))];
        let mut lines = 0;
        let mut fast = 0;
        let mut with_session = 0;
        while let Some(dir) = dirs.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "jsonl") {
                    for line in std::fs::read_to_string(&p).unwrap().lines() {
                        same_both_ways(line);
                        lines += 1;
                        fast += usize::from(claude_line::parse(line, None).is_some());
                        with_session += usize::from(line.contains("\"sessionId\""));
                    }
                }
            }
        }
        // Every line naming a session takes the fast path; the rest (summaries) are few.
        assert!(
            lines > 50 && fast == with_session && with_session * 10 > lines * 9,
            "{fast} of {lines} lines on the fast path, {with_session} name a session"
        );
    }

    #[test]
    fn edge_lines_parse_the_same_on_the_fast_path() {
        let usage = r#""usage":{"input_tokens":3,"output_tokens":2,"cache_read_input_tokens":1}"#;
        for text in [
            // a call, with transcript text and fields the fast path leaves out
            &format!(
                r#"{{"type":"assistant","sessionId":"s","uuid":"u","timestamp":"2025-10-01T08:00:00Z","requestId":"r","cwd":"/w/api","gitBranch":"main","version":"2.0.1","isSidechain":false,"message":{{"id":"m","model":"claude-sonnet-4-5","role":"assistant","content":[{{"type":"text","text":"hi"}}],{usage}}},"toolUseResult":{{"stdout":"x"}}}}"#
            ),
            &format!(
                r#"{{"type":"assistant","sessionId":"s","timestamp":"2025-10-01T08:00:00Z","isSidechain":true,"costUSD":0.5,"message":{{"id":"m","model":"claude-opus-4-1",{usage}}}}}"#
            ),
            // skips
            r#"{"type":"summary","summary":"x","leafUuid":"l"}"#,
            r#"{"type":"user","sessionId":"s","timestamp":"2025-10-01T08:00:00Z","message":{"role":"user","content":"hi"}}"#,
            &format!(
                r#"{{"type":"assistant","sessionId":"s","isApiErrorMessage":true,"timestamp":"2025-10-01T08:00:00Z","message":{{"id":"m","model":"x",{usage}}}}}"#
            ),
            &format!(
                r#"{{"type":"assistant","sessionId":"s","timestamp":"2025-10-01T08:00:00Z","message":{{"id":"m","model":"<synthetic>",{usage}}}}}"#
            ),
            r#"{"type":"assistant","sessionId":"s","message":"not an object"}"#,
            r#"{"type":"file-history-snapshot","messageId":"m","snapshot":{}}"#,
            // dead letters: wrong types, a missing timestamp
            &format!(
                r#"{{"type":"assistant","sessionId":7,"timestamp":"2025-10-01T08:00:00Z","message":{{"id":"m","model":"x",{usage}}}}}"#
            ),
            &format!(
                r#"{{"type":"assistant","sessionId":"s","isSidechain":"maybe","timestamp":"2025-10-01T08:00:00Z","message":{{"id":"m","model":"x",{usage}}}}}"#
            ),
            &format!(
                r#"{{"type":"assistant","sessionId":"s","message":{{"id":"m","model":"x",{usage}}}}}"#
            ),
            r#"{"type":"assistant","sessionId":"s","timestamp":"2025-10-01T08:00:00Z","message":{"id":"m","usage":{"input_tokens":"lots"}}}"#,
            // other formats that name a session: detection decides, as on the whole line
            r#"{"request_id":"q","spend":0.1,"sessionId":"s","type":"x","model":"gpt-4o","startTime":"2025-10-01T08:00:00Z"}"#,
            r#"{"model":"gpt-4o","metadata":{"sessionId":"s"},"usage":{"prompt_tokens":1}}"#,
            // an escaped string (not borrowed: the general path reads it) and a null session
            &format!(
                r#"{{"type":"assistant","sessionId":"s","cwd":"C:\\work\\api","timestamp":"2025-10-01T08:00:00Z","message":{{"id":"m","model":"x",{usage}}}}}"#
            ),
            &format!(
                r#"{{"type":"assistant","sessionId":null,"timestamp":"2025-10-01T08:00:00Z","message":{{"id":"m","model":"x",{usage}}}}}"#
            ),
            // duplicate keys: the last one wins on both paths
            &format!(
                r#"{{"type":"assistant","sessionId":"a","sessionId":"b","timestamp":"2025-10-01T08:00:00Z","message":{{"id":"m","model":"x",{usage}}}}}"#
            ),
            // invalid JSON, also inside a field the fast path skips
            r#"{"type":"user","sessionId":"s","toolUseResult":[1,}"#,
            r#"{"type":"user","sessionId":"s"} trailing"#,
            r#"["sessionId"]"#,
        ] {
            same_both_ways(text);
        }
        // Escaped strings cannot be borrowed: the general path reads those lines.
        let escaped = format!(
            r#"{{"type":"assistant","sessionId":"s","cwd":"a\\b","timestamp":"2025-10-01T08:00:00Z","message":{{"id":"m",{usage}}}}}"#
        );
        assert!(claude_line::parse(&escaped, None).is_none());
        assert!(claude_line::parse(&escaped.replace(r"\\", "/"), None).is_some());
    }
}
