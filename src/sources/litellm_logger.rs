//! The seed's LiteLLM custom-logger shape: top-level `model`, `call_type`, `usage: {prompt_tokens,
//! completion_tokens, total_tokens}`, `latency_ms`, `status: success|failure`, `status_code`,
//! `error`, `metadata`, `developer_id`, and a timestamp such as `2025-10-12T19:00:00.123456+00:00Z`.

use super::common;
use super::fields::{self, Obj};
use super::scope::Scope;
use super::seed_span::{error_class, is_failure};
use super::{blank, is_non_llm_call_type, timestamp, usage, Reject};
use crate::normalise;
use crate::record::{SourceFormat, TraceRecord};
use serde_json::Value;

/// Parses one logger record.
pub fn parse(obj: &Obj) -> Result<TraceRecord, Reject> {
    let metadata = match obj.get("metadata") {
        Some(v) => fields::object_or_json_string(v, "metadata")?.unwrap_or_default(),
        None => Obj::new(),
    };
    let objs = [obj, &metadata];
    let s = Scope::new(&objs);
    let call_type = s.lenient_string(&["call_type"]);
    if let Some(ct) = call_type.as_deref().filter(|ct| is_non_llm_call_type(ct)) {
        return Err(Reject::Skip(format!("call_type {ct} is not an LLM call")));
    }
    let ts = timestamp(
        &s,
        &["timestamp", "start_time", "startTime", "created_at", "time"],
    )?;
    let failure = s
        .lenient_string(&["status"])
        .is_some_and(|st| is_failure(&st));
    let tokens = match obj.get("usage") {
        Some(Value::Object(u)) => usage::read(u)?,
        Some(Value::Null) | None if failure => Default::default(),
        Some(Value::Null) | None => return Err(Reject::Dead("missing usage".into())),
        Some(other) => {
            return Err(Reject::Dead(format!(
                "usage must be an object, got {}",
                fields::type_name(other)
            )))
        }
    };
    let mut r = blank(SourceFormat::LitellmLogger, ts);
    r.tokens_in = tokens.tokens_in;
    r.tokens_out = tokens.tokens_out;
    r.cache_read_tokens = tokens.cache_read;
    r.cache_creation_tokens = tokens.cache_creation;
    r.call_type = call_type;
    r.model = s.string(&["model", "model_name"])?;
    r.provider = s.lenient_string(&["custom_llm_provider", "provider"]);
    r.latency_ms = s.number(&["latency_ms", "duration_ms"])?;
    r.ttft_ms = s.number(&["ttft_ms", "time_to_first_token_ms"])?;
    let (code, is_error) = normalise::status(
        s.status_code(&["status_code", "http.status_code"])?,
        failure,
    );
    r.status_code = code;
    r.is_error = is_error;
    r.error_class = if is_error {
        error_class(&s, code, is_error).map(|c| match (c.as_str(), obj.get("error")) {
            ("failure", Some(Value::String(e))) => error_kind(e),
            _ => c,
        })
    } else {
        None
    };
    let acc = common::acceptance(&s)?;
    r.accepted = acc.accepted;
    r.diff_ratio = acc.diff_ratio;
    r.accepted_lines = acc.accepted_lines;
    let meta_first = [&metadata, obj];
    let m = Scope::new(&meta_first);
    r.repo_slug = common::repo(&m)?;
    r.developer_id = common::developer(&s);
    r.git_branch = common::branch(&s).or_else(|| common::branch(&m));
    r.session_id = common::session(&m, vec![], None);
    r.trace_id = s.lenient_string(&["trace_id"]);
    r.call_id = s.lenient_string(&["litellm_call_id"]);
    r.response_id = s.lenient_string(&["response_id", "id"]);
    r.team_id = s.lenient_string(&["user_api_key_team_id", "team_id"]);
    r.key_alias = s.lenient_string(&["user_api_key_alias"]);
    r.cache_hit = s.boolean(&["cache_hit"])?;
    r.reported_cost = s.number(common::COST_KEYS)?;
    Ok(r)
}

/// The class part of an error message such as `RateLimitError: too many requests`.
fn error_kind(message: &str) -> String {
    let head = message.split([':', '\n', '(']).next().unwrap_or("").trim();
    let head = head.rsplit('.').next().unwrap_or(head);
    if !head.is_empty()
        && head.len() <= 64
        && head.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        head.to_string()
    } else {
        "failure".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_v(v: Value) -> Result<TraceRecord, Reject> {
        parse(v.as_object().unwrap())
    }

    #[test]
    fn seed_logger_record() {
        let r = parse_v(json!({
            "timestamp": "2025-10-12T19:00:00.123456+00:00Z", "model": "claude-3-sonnet-20240229",
            "call_type": "completion", "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            "latency_ms": 1234.5, "status": "success", "status_code": 200, "error": null,
            "metadata": {"repo": "acme/web", "session_id": "session_s1"}, "developer_id": "dev-7"
        }))
        .unwrap();
        assert_eq!(r.timestamp.timestamp_micros(), 1_760_295_600_123_456);
        assert_eq!((r.tokens_in, r.tokens_out), (100, 20));
        assert_eq!(r.session_id.as_deref(), Some("s1"));
        assert_eq!(r.developer_id.as_deref(), Some("dev-7"));
        assert_eq!(r.repo_slug.as_deref(), Some("acme/web"));
        assert!(!r.is_error);
    }

    #[test]
    fn failure_without_code_is_error_with_class() {
        let r = parse_v(
            json!({"timestamp": "2025-10-12T19:00:00Z", "model": "m", "status": "failure",
            "error": "RateLimitError: slow down", "usage": null}),
        )
        .unwrap();
        assert!(r.is_error);
        assert_eq!(r.status_code, None);
        assert_eq!(r.error_class.as_deref(), Some("RateLimitError"));
    }

    #[test]
    fn missing_input_tokens_use_total() {
        let r = parse_v(json!({"timestamp": 1760295600, "model": "m", "usage": {"completion_tokens": 20, "total_tokens": 120}})).unwrap();
        assert_eq!((r.tokens_in, r.tokens_out), (100, 20));
    }

    #[test]
    fn session_handle_in_user_is_not_a_developer() {
        let r = parse_v(
            json!({"timestamp": 1760295600, "model": "m", "usage": {"total_tokens": 1},
            "user": "x_session_9", "metadata": {"user_api_key_user_id": "kim"}}),
        )
        .unwrap();
        assert_eq!(r.developer_id.as_deref(), Some("kim"));
    }
}
