//! LLM spans → canonical calls, under the OpenInference and OpenTelemetry GenAI conventions and
//! LiteLLM's own OTel integration.
//!
//! * OpenInference (github.com/Arize-ai/openinference, `spec/semantic_conventions.md`):
//!   `openinference.span.kind = LLM`, `llm.model_name`, `llm.provider`,
//!   `llm.token_count.prompt|completion|total`, `llm.token_count.prompt_details.cache_read|
//!   cache_write` (parts of the prompt count), `session.id`, `user.id`, `metadata` (JSON string).
//! * GenAI (opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/): `gen_ai.request.model`,
//!   `gen_ai.response.model`, `gen_ai.usage.input_tokens|output_tokens`, `gen_ai.system`
//!   (or `gen_ai.provider.name`), `gen_ai.response.id`, `error.type`.
//! * LiteLLM (`litellm/integrations/opentelemetry.py`): a `litellm_request` span carrying the usage
//!   (`gen_ai.usage.prompt_tokens|completion_tokens`, `llm.usage.total_tokens`), `metadata.*`
//!   attributes and the call id, and a `raw_gen_ai_request` child for the provider call. The child is
//!   skipped, so one request is one call; a failed request (status ERROR) is an error call.
//!
//! A span is an LLM call when its OpenInference kind is `LLM`, or it has no OpenInference kind and
//! carries a model or token attribute of either convention. Other spans are skipped (counted).

use crate::normalise::{self, TokenInputs};
use crate::record::{SourceFormat, TraceRecord};
use crate::sources::common;
use crate::sources::fields::{self, Obj};
use crate::sources::otel::view::{SpanStatus, SpanView};
use crate::sources::scope::Scope;
use crate::sources::{blank, Reject};
use serde_json::Value;

const MODEL_KEYS: &[&str] = &[
    "llm.model_name",
    "gen_ai.response.model",
    "gen_ai.request.model",
];
const PROVIDER_KEYS: &[&str] = &["llm.provider", "gen_ai.system", "gen_ai.provider.name"];
const INPUT_KEYS: &[&str] = &[
    "llm.token_count.prompt",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
];
const OUTPUT_KEYS: &[&str] = &[
    "llm.token_count.completion",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
];
const TOTAL_KEYS: &[&str] = &[
    "llm.token_count.total",
    "gen_ai.usage.total_tokens",
    "llm.usage.total_tokens",
];
const CACHE_READ_KEYS: &[&str] = &[
    "llm.token_count.prompt_details.cache_read",
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.cache_read.input_tokens",
];
const CACHE_WRITE_KEYS: &[&str] = &[
    "llm.token_count.prompt_details.cache_write",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
];
const STATUS_KEYS: &[&str] = &["http.response.status_code", "http.status_code"];
const COST_KEYS: &[&str] = &[
    "llm.cost.total",
    "gen_ai.usage.cost",
    "litellm.response_cost",
];
const CALL_ID_KEYS: &[&str] = &[
    "litellm.call_id",
    "litellm_call_id",
    "metadata.litellm_call_id",
];

/// The LiteLLM provider sub-call span, skipped in favour of its `litellm_request` parent.
pub const LITELLM_CHILD: &str = "raw_gen_ai_request";

/// Whether a span is an LLM call (see the module doc).
pub fn is_llm(span: &SpanView) -> bool {
    if span.name == LITELLM_CHILD {
        return false;
    }
    if span.name == "litellm_request" {
        return true;
    }
    let a = &span.attributes;
    if let Some(kind) = a.get("openinference.span.kind").and_then(Value::as_str) {
        return kind.eq_ignore_ascii_case("LLM");
    }
    MODEL_KEYS
        .iter()
        .chain(INPUT_KEYS)
        .chain(OUTPUT_KEYS)
        .any(|k| a.get(*k).is_some_and(|v| !v.is_null()))
}

/// Why a span is not an LLM call, for the skip count.
pub fn skip_reason(span: &SpanView) -> String {
    if span.name == LITELLM_CHILD {
        "raw_gen_ai_request is counted in its litellm_request parent".into()
    } else {
        format!("span {:?} is not an LLM call", span.name)
    }
}

/// Maps one span to a call (or a skip / dead-letter reason).
pub fn map(span: &SpanView, format: SourceFormat) -> Result<TraceRecord, Reject> {
    if !is_llm(span) {
        return Err(Reject::Skip(skip_reason(span)));
    }
    let a = &span.attributes;
    let start = span
        .start_ns
        .ok_or_else(|| Reject::Dead(format!("span {:?} has no start time", span.name)))?;
    let ts = chrono::DateTime::from_timestamp_nanos(start);
    let metadata = metadata(a)?;
    let objs = [a, &metadata];
    let s = Scope::new(&objs);
    let failure = span.status == Some(SpanStatus::Error);
    let has_tokens = INPUT_KEYS
        .iter()
        .chain(OUTPUT_KEYS)
        .chain(TOTAL_KEYS)
        .any(|k| a.get(*k).is_some_and(|v| !v.is_null()));
    if !has_tokens && !failure {
        return Err(Reject::Dead(format!(
            "LLM span {:?} has no token counts ({} / {})",
            span.name,
            INPUT_KEYS.join(", "),
            OUTPUT_KEYS.join(", ")
        )));
    }
    let attrs_only = [a];
    let t = Scope::new(&attrs_only);
    let tokens = normalise::tokens(TokenInputs {
        input: t.count(INPUT_KEYS)?,
        output: t.count(OUTPUT_KEYS)?,
        total: t.count(TOTAL_KEYS)?,
        cache_read: t.count(CACHE_READ_KEYS)?,
        cache_creation: t.count(CACHE_WRITE_KEYS)?,
        cache_apart: false,
    })?;
    let mut r = blank(format, ts);
    r.tokens_in = tokens.tokens_in;
    r.tokens_out = tokens.tokens_out;
    r.cache_read_tokens = tokens.cache_read;
    r.cache_creation_tokens = tokens.cache_creation;
    r.model = t.string(MODEL_KEYS)?;
    r.provider = t.lenient_string(PROVIDER_KEYS);
    r.call_type = t.lenient_string(&["gen_ai.operation.name"]);
    r.trace_id = span.trace_id.clone();
    r.response_id = t.lenient_string(&["gen_ai.response.id", "llm.response.id"]);
    r.call_id = s
        .lenient_string(CALL_ID_KEYS)
        .or_else(|| match (&span.trace_id, &span.span_id) {
            (Some(t), Some(sp)) => Some(format!("{t}:{sp}")),
            _ => None,
        });
    if let Some(end) = span.end_ns.filter(|e| *e >= start) {
        r.latency_ms = Some((end - start) as f64 / 1e6);
    }
    let (code, is_error) = normalise::status(t.status_code(STATUS_KEYS)?, failure);
    r.status_code = code;
    r.is_error = is_error;
    if is_error {
        r.error_class = t
            .lenient_string(&["error.type", "exception.type"])
            .or_else(|| code.map(|c| format!("http_{c}")))
            .or_else(|| span.status_message.clone().filter(|m| !m.is_empty()))
            .or_else(|| Some("error".into()));
    }
    let meta_first = [&metadata, a];
    let m = Scope::new(&meta_first);
    r.repo_slug = common::repo(&m)?;
    let acc = common::acceptance(&m)?;
    r.accepted = acc.accepted;
    r.diff_ratio = acc.diff_ratio;
    r.accepted_lines = acc.accepted_lines;
    r.team_id = m.lenient_string(&["user_api_key_team_id", "team_id"]);
    r.key_alias = m.lenient_string(&["user_api_key_alias"]);
    let session_keys = ["session.id", "gen_ai.conversation.id"];
    let explicit = s.lenient_string(&session_keys);
    r.session_id = common::session(&m, vec![explicit.clone()], r.trace_id.clone());
    if let Some(sess) = explicit {
        r.session_id = Some(sess);
    }
    r.developer_id = s
        .lenient_string(&["user.id", "enduser.id"])
        .or_else(|| common::developer(&m));
    r.git_branch = common::branch(&s).or_else(|| common::branch(&m));
    r.reported_cost = s.number(COST_KEYS)?;
    Ok(r)
}

/// The `metadata` attribute (object or JSON string) merged with LiteLLM's flat `metadata.*` keys.
fn metadata(a: &Obj) -> Result<Obj, String> {
    let mut m = match a.get("metadata") {
        Some(v) => fields::object_or_json_string(v, "metadata")?.unwrap_or_default(),
        None => Obj::new(),
    };
    for (k, v) in a {
        if let Some(rest) = k.strip_prefix("metadata.") {
            m.entry(rest.to_string()).or_insert_with(|| v.clone());
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn span(name: &str, attrs: Value) -> SpanView {
        SpanView {
            name: name.into(),
            trace_id: Some("t1".into()),
            span_id: Some("s1".into()),
            start_ns: Some(1_760_295_600_000_000_000),
            end_ns: Some(1_760_295_602_500_000_000),
            attributes: attrs.as_object().cloned().unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn openinference_llm_span() {
        let s = span(
            "ChatCompletion",
            json!({"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
                   "llm.token_count.prompt": 1200, "llm.token_count.completion": 80, "llm.token_count.total": 1280,
                   "llm.token_count.prompt_details.cache_read": 1000, "session.id": "sess-1", "user.id": "alice",
                   "metadata": "{\"repo\": \"acme/api\"}"}),
        );
        let r = map(&s, SourceFormat::OtelSpan).unwrap();
        assert_eq!(r.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(r.provider.as_deref(), Some("openai"));
        assert_eq!(
            (r.tokens_in, r.tokens_out, r.cache_read_tokens),
            (1200, 80, 1000)
        );
        assert_eq!(r.session_id.as_deref(), Some("sess-1"));
        assert_eq!(r.developer_id.as_deref(), Some("alice"));
        assert_eq!(r.repo_slug.as_deref(), Some("acme/api"));
        assert_eq!(r.call_id.as_deref(), Some("t1:s1"));
        assert!((r.latency_ms.unwrap() - 2500.0).abs() < 1e-6);
        assert!(!r.is_error);
    }

    #[test]
    fn genai_span_prefers_response_model() {
        let s = span(
            "chat",
            json!({"gen_ai.system": "anthropic", "gen_ai.request.model": "claude-sonnet-4",
                   "gen_ai.response.model": "claude-sonnet-4-20250514",
                   "gen_ai.usage.input_tokens": 3000, "gen_ai.usage.output_tokens": 250}),
        );
        let r = map(&s, SourceFormat::OtlpJson).unwrap();
        assert_eq!(r.model.as_deref(), Some("claude-sonnet-4-20250514"));
        assert_eq!(r.provider.as_deref(), Some("anthropic"));
        assert_eq!((r.tokens_in, r.tokens_out), (3000, 250));
        assert_eq!(
            r.session_id.as_deref(),
            Some("t1"),
            "falls back to the trace"
        );
    }

    #[test]
    fn error_status_makes_an_error_call_without_tokens() {
        let mut s = span(
            "chat",
            json!({"gen_ai.request.model": "gpt-4o", "error.type": "RateLimitError",
                   "http.response.status_code": 429}),
        );
        s.status = Some(SpanStatus::Error);
        let r = map(&s, SourceFormat::OtlpJson).unwrap();
        assert!(r.is_error);
        assert_eq!(r.status_code, Some(429));
        assert_eq!(r.error_class.as_deref(), Some("RateLimitError"));
        s.status = None;
        assert!(matches!(
            map(&s, SourceFormat::OtlpJson),
            Err(Reject::Dead(_))
        ));
    }

    #[test]
    fn litellm_request_and_child() {
        let s = span(
            "litellm_request",
            json!({"gen_ai.request.model": "claude-3-5-haiku", "gen_ai.usage.prompt_tokens": 500,
                   "gen_ai.usage.completion_tokens": 40, "llm.usage.total_tokens": 540,
                   "litellm.call_id": "call-1", "metadata.user_api_key_alias": "bob-key",
                   "metadata.user_api_key_team_id": "team-b", "metadata.user_api_key_user_id": "bob"}),
        );
        let r = map(&s, SourceFormat::OtlpJson).unwrap();
        assert_eq!(r.call_id.as_deref(), Some("call-1"));
        assert_eq!((r.tokens_in, r.tokens_out), (500, 40));
        assert_eq!(r.key_alias.as_deref(), Some("bob-key"));
        assert_eq!(r.team_id.as_deref(), Some("team-b"));
        assert_eq!(r.developer_id.as_deref(), Some("bob"));
        let child = span(
            LITELLM_CHILD,
            json!({"gen_ai.request.model": "claude-3-5-haiku"}),
        );
        assert!(matches!(
            map(&child, SourceFormat::OtlpJson),
            Err(Reject::Skip(_))
        ));
    }

    #[test]
    fn non_llm_spans_are_skipped() {
        let chain = span(
            "agent",
            json!({"openinference.span.kind": "CHAIN", "llm.token_count.total": 9}),
        );
        assert!(matches!(
            map(&chain, SourceFormat::OtelSpan),
            Err(Reject::Skip(_))
        ));
        let plain = span("GET /", json!({"http.method": "GET"}));
        assert!(matches!(
            map(&plain, SourceFormat::OtelSpan),
            Err(Reject::Skip(_))
        ));
    }

    #[test]
    fn bad_values_dead_letter() {
        let s = span(
            "chat",
            json!({"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": -5}),
        );
        assert!(matches!(
            map(&s, SourceFormat::OtlpJson),
            Err(Reject::Dead(_))
        ));
        let mut s = span(
            "chat",
            json!({"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 5}),
        );
        s.start_ns = None;
        assert!(matches!(
            map(&s, SourceFormat::OtlpJson),
            Err(Reject::Dead(_))
        ));
    }
}
