//! LiteLLM's own `StandardLoggingPayload`, the object LiteLLM hands to every logging integration
//! and custom callback (see LiteLLM's "StandardLoggingPayload" documentation).
//!
//! Facts this mapping relies on (seen in real LiteLLM output, see `tests/fixtures/litellm/`):
//! the unique call id is `litellm_call_id` (top level or under `metadata` / `hidden_params`); `id`
//! is the provider's response id and can repeat across calls; the proxy can log the same failure
//! twice byte-identically; `session_id` is usually empty and the session sits in `trace_id` or in
//! Claude Code's `user_id` string; `response_cost` is `0.0` (never null) when LiteLLM has no price;
//! timestamps are epoch floats; `cache_hit` may be null; cache tokens are only in
//! `metadata.usage_object` (or `hidden_params.usage_object`).

use super::common;
use super::fields::{self, Obj};
use super::scope::Scope;
use super::{blank, is_non_llm_call_type, timestamp, usage, Reject};
use crate::normalise::{self, TokenInputs};
use crate::record::{SourceFormat, TraceRecord};
use serde_json::Value;

/// Parses one StandardLoggingPayload.
pub fn parse(obj: &Obj) -> Result<TraceRecord, Reject> {
    let empty = Obj::new();
    let metadata = match obj.get("metadata") {
        Some(v) => fields::object_or_json_string(v, "metadata")?.unwrap_or_default(),
        None => Obj::new(),
    };
    let requester = match metadata.get("requester_metadata") {
        Some(v) => {
            fields::object_or_json_string(v, "metadata.requester_metadata")?.unwrap_or_default()
        }
        None => Obj::new(),
    };
    let spend_meta = match metadata.get("spend_logs_metadata") {
        Some(v) => {
            fields::object_or_json_string(v, "metadata.spend_logs_metadata")?.unwrap_or_default()
        }
        None => Obj::new(),
    };
    let hidden = obj
        .get("hidden_params")
        .and_then(Value::as_object)
        .unwrap_or(&empty);

    let top = [obj];
    let t = Scope::new(&top);
    let call_type = t.lenient_string(&["call_type"]);
    if let Some(ct) = call_type.as_deref().filter(|ct| is_non_llm_call_type(ct)) {
        return Err(Reject::Skip(format!("call_type {ct} is not an LLM call")));
    }
    let ts = timestamp(&t, &["startTime", "start_time", "timestamp"])?;
    let start = ts.timestamp_micros() as f64 / 1e6;
    let failure = t
        .lenient_string(&["status"])
        .is_some_and(|s| s.eq_ignore_ascii_case("failure"));

    // Tokens: top-level counts; cache parts from the usage object (included in prompt_tokens).
    let usage_obj = [metadata.get("usage_object"), hidden.get("usage_object")]
        .into_iter()
        .flatten()
        .find_map(Value::as_object);
    let has_counts = ["prompt_tokens", "completion_tokens", "total_tokens"]
        .iter()
        .any(|k| obj.get(*k).is_some_and(|v| !v.is_null()));
    let tokens = if has_counts {
        let cache = match usage_obj {
            Some(u) => usage::read(u)?,
            None => Default::default(),
        };
        normalise::tokens(TokenInputs {
            input: t.count(&["prompt_tokens"])?,
            output: t.count(&["completion_tokens"])?,
            total: t.count(&["total_tokens"])?,
            cache_read: Some(cache.cache_read),
            cache_creation: Some(cache.cache_creation),
            cache_apart: false,
        })?
    } else if let Some(u) = usage_obj {
        usage::read(u)?
    } else if failure {
        Default::default()
    } else {
        return Err(Reject::Dead(
            "missing usage (prompt_tokens / completion_tokens / total_tokens)".into(),
        ));
    };

    let mut r = blank(SourceFormat::LitellmPayload, ts);
    r.tokens_in = tokens.tokens_in;
    r.tokens_out = tokens.tokens_out;
    r.cache_read_tokens = tokens.cache_read;
    r.cache_creation_tokens = tokens.cache_creation;
    r.call_type = call_type;
    r.model = t.string(&["model", "model_group"])?;
    r.provider = t.lenient_string(&["custom_llm_provider"]);
    r.trace_id = t.lenient_string(&["trace_id"]);
    r.response_id = t.lenient_string(&["id"]);
    let in_meta = [obj, &metadata, hidden];
    r.call_id = Scope::new(&in_meta).lenient_string(&["litellm_call_id"]);

    if let Some(end) = t.number(&["endTime", "end_time"])? {
        let end = epoch_seconds(end);
        if end >= start {
            r.latency_ms = Some((end - start) * 1000.0);
        }
    }
    if r.latency_ms.is_none() {
        r.latency_ms = t.number(&["response_time"])?.map(|s| s * 1000.0);
    }
    if let Some(first) = t.number(&["completionStartTime", "completion_start_time"])? {
        let ttft = (epoch_seconds(first) - start) * 1000.0;
        if ttft >= 0.0 && r.latency_ms.is_none_or(|l| ttft <= l + 1e-6) {
            r.ttft_ms = Some(ttft);
        }
    }

    let err = obj
        .get("error_information")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let err_objs = [err];
    let e = Scope::new(&err_objs);
    let (code, is_error, class) =
        common::litellm_status(&e, t.status_code(&["status_code"])?, failure);
    r.status_code = code;
    r.is_error = is_error;
    r.error_class = class;

    // Identity, repo and acceptance may be sent by the client in requester or spend-logs metadata.
    let id_objs = [obj, &metadata, &requester, &spend_meta];
    let ids = Scope::new(&id_objs);
    r.team_id = ids.lenient_string(&["user_api_key_team_id", "team_id"]);
    r.key_alias = ids.lenient_string(&["user_api_key_alias"]);
    let meta_first = [&requester, &spend_meta, &metadata, obj];
    let m = Scope::new(&meta_first);
    r.repo_slug = common::repo(&m)?;
    let acc = common::acceptance(&m)?;
    r.accepted = acc.accepted;
    r.diff_ratio = acc.diff_ratio;
    r.accepted_lines = acc.accepted_lines;
    let end_user = t.lenient_string(&["end_user"]);
    r.session_id = common::session(&ids, vec![end_user], r.trace_id.clone());
    r.developer_id = common::developer(&ids);
    r.git_branch = common::branch(&ids);
    r.cache_hit = t.boolean(&["cache_hit"])?;
    r.reported_cost = t.number(&["response_cost"])?;
    Ok(r)
}

/// LiteLLM writes epoch seconds; tolerate milliseconds too.
fn epoch_seconds(x: f64) -> f64 {
    if x > 1e11 {
        x / 1e3
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_v(v: Value) -> Result<TraceRecord, Reject> {
        parse(v.as_object().unwrap())
    }

    fn base() -> Value {
        json!({
            "id": "chatcmpl-1", "trace_id": "trace-abc", "call_type": "acompletion", "status": "success",
            "startTime": 1760295600.0, "endTime": 1760295602.5, "completionStartTime": 1760295600.4,
            "response_cost": 0.0123, "prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280,
            "model": "claude-sonnet-4-20250514", "model_group": "claude-sonnet", "custom_llm_provider": "anthropic",
            "cache_hit": null, "end_user": "", "session_id": "",
            "metadata": {"litellm_call_id": "call-1", "user_api_key_alias": "alice-key", "user_api_key_team_id": "team-a",
                          "user_api_key_user_id": "alice", "requester_metadata": {"repo": "acme/api"},
                          "usage_object": {"prompt_tokens": 1200, "completion_tokens": 80,
                                           "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 100}},
            "messages": [{"role": "user", "content": "secret prompt"}], "response": {"content": "secret"}
        })
    }

    #[test]
    fn maps_the_fields_that_matter() {
        let r = parse_v(base()).unwrap();
        assert_eq!(r.call_id.as_deref(), Some("call-1"));
        assert_eq!(r.response_id.as_deref(), Some("chatcmpl-1"));
        assert_eq!(
            (
                r.tokens_in,
                r.tokens_out,
                r.cache_read_tokens,
                r.cache_creation_tokens
            ),
            (1200, 80, 1000, 100)
        );
        assert!((r.latency_ms.unwrap() - 2500.0).abs() < 1e-3);
        assert!((r.ttft_ms.unwrap() - 400.0).abs() < 1e-3);
        assert_eq!(r.reported_cost, Some(0.0123));
        assert_eq!(
            r.session_id.as_deref(),
            Some("trace-abc"),
            "empty session_id falls back to trace_id"
        );
        assert_eq!(r.developer_id.as_deref(), Some("alice"));
        assert_eq!(r.key_alias.as_deref(), Some("alice-key"));
        assert_eq!(r.team_id.as_deref(), Some("team-a"));
        assert_eq!(r.repo_slug.as_deref(), Some("acme/api"));
        assert!(!r.is_error);
        let text = serde_json::to_string(&r).unwrap();
        assert!(
            !text.contains("secret"),
            "prompt and response text are never kept"
        );
    }

    #[test]
    fn claude_code_user_id_in_requester_metadata() {
        let mut v = base();
        v["metadata"]["requester_metadata"]["user_id"] =
            json!("user_ab12_account_11111111-2222-3333-4444-555555555555_session_aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
        assert_eq!(
            parse_v(v).unwrap().session_id.as_deref(),
            Some("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
        );
    }

    #[test]
    fn end_user_is_searched_for_a_session() {
        let mut v = base();
        v["end_user"] = json!("user_x_session_s-9");
        assert_eq!(parse_v(v).unwrap().session_id.as_deref(), Some("s-9"));
    }

    #[test]
    fn failure_payload() {
        let mut v = base();
        v["status"] = json!("failure");
        v["prompt_tokens"] = json!(0);
        v["completion_tokens"] = json!(0);
        v["total_tokens"] = json!(0);
        v["error_information"] = json!({"error_code": "429", "error_class": "RateLimitError", "llm_provider": "anthropic"});
        let r = parse_v(v).unwrap();
        assert!(r.is_error);
        assert_eq!(r.status_code, Some(429));
        assert_eq!(r.error_class.as_deref(), Some("RateLimitError"));
    }

    #[test]
    fn failure_without_code() {
        let mut v = base();
        v["status"] = json!("failure");
        v["error_information"] = json!({"error_code": "", "error_class": "APIConnectionError"});
        let r = parse_v(v).unwrap();
        assert_eq!((r.status_code, r.is_error), (None, true));
    }
}
