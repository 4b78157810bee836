//! Rows of LiteLLM's `LiteLLM_SpendLogs` table: the proxy's `/spend/logs` API output, a table
//! dump, or a row read by `ingest-litellm` (PostgreSQL `row_to_json`).
//!
//! Columns as defined by `model LiteLLM_SpendLogs` in LiteLLM's
//! `litellm/proxy/schema.prisma` (read from litellm 1.110.2): `request_id` (primary key),
//! `call_type`, `api_key` (a hash of the virtual key, never the key), `spend`, `total_tokens`,
//! `prompt_tokens`, `completion_tokens`, `startTime`, `endTime`, `completionStartTime`, `model`,
//! `model_group`, `custom_llm_provider`, `user`, `metadata` (JSON), `cache_hit` (a string:
//! `"True"`, `"False"` or empty), `request_tags` (JSON array), `team_id`, `end_user`,
//! `session_id`, `status`, `litellm_call_id`, `messages` / `response` (never read). Prompt tokens
//! include cache tokens; the cache parts are only in `metadata.usage_object`. Times are ISO
//! strings (no offset in a dump: UTC) or epoch numbers.

use super::common;
use super::fields::{self, Obj};
use super::scope::Scope;
use super::{blank, is_non_llm_call_type, timestamp, usage, Reject};
use crate::normalise::{self, TokenInputs};
use crate::record::{SourceFormat, TraceRecord};
use serde_json::Value;

/// Parses one spend-log row.
pub fn parse(obj: &Obj) -> Result<TraceRecord, Reject> {
    let metadata = match obj.get("metadata") {
        Some(v) => fields::object_or_json_string(v, "metadata")?.unwrap_or_default(),
        None => Obj::new(),
    };
    let nested = |key: &str| -> Result<Obj, String> {
        match metadata.get(key) {
            Some(v) => Ok(
                fields::object_or_json_string(v, &format!("metadata.{key}"))?.unwrap_or_default(),
            ),
            None => Ok(Obj::new()),
        }
    };
    let requester = nested("requester_metadata")?;
    let spend_meta = nested("spend_logs_metadata")?;
    let err = nested("error_information")?;

    let top = [obj];
    let t = Scope::new(&top);
    let call_type = t.lenient_string(&["call_type"]);
    if let Some(ct) = call_type.as_deref().filter(|ct| is_non_llm_call_type(ct)) {
        return Err(Reject::Skip(format!("call_type {ct} is not an LLM call")));
    }
    let ts = timestamp(&t, &["startTime"])?;
    let failure = t
        .lenient_string(&["status"])
        .is_some_and(|s| s.eq_ignore_ascii_case("failure"));

    let cache = match metadata.get("usage_object").and_then(Value::as_object) {
        Some(u) => usage::read(u)?,
        None => Default::default(),
    };
    let tokens = normalise::tokens(TokenInputs {
        input: t.count(&["prompt_tokens"])?,
        output: t.count(&["completion_tokens"])?,
        total: t.count(&["total_tokens"])?,
        cache_read: Some(cache.cache_read),
        cache_creation: Some(cache.cache_creation),
        cache_apart: false,
    })?;

    let mut r = blank(SourceFormat::LitellmSpendLogs, ts);
    r.tokens_in = tokens.tokens_in;
    r.tokens_out = tokens.tokens_out;
    r.cache_read_tokens = tokens.cache_read;
    r.cache_creation_tokens = tokens.cache_creation;
    r.call_type = call_type;
    r.model = t.string(&["model"])?.or(t.string(&["model_group"])?);
    r.provider = t.lenient_string(&["custom_llm_provider"]);
    let request_id = t.string(&["request_id"])?;
    // `litellm_call_id` is the id LiteLLM's other logs use, so the same call read from a payload
    // log and from the spend logs is one row; `request_id` (the table's key) otherwise.
    r.call_id = t
        .lenient_string(&["litellm_call_id"])
        .or(request_id.clone());
    r.response_id = request_id;
    r.trace_id = Scope::new(&[&metadata]).lenient_string(&["trace_id"]);

    let start = ts.timestamp_micros();
    if let Some((v, _)) = t.value(&["endTime"]) {
        let end = crate::time::parse_value(v).map_err(|e| format!("endTime: {e}"))?;
        let ms = (end.timestamp_micros() - start) as f64 / 1000.0;
        if ms >= 0.0 {
            r.latency_ms = Some(ms);
        }
    }
    if let Some((v, _)) = t.value(&["completionStartTime"]) {
        let first = crate::time::parse_value(v).map_err(|e| format!("completionStartTime: {e}"))?;
        let ms = (first.timestamp_micros() - start) as f64 / 1000.0;
        if ms >= 0.0 && r.latency_ms.is_none_or(|l| ms <= l + 1e-6) {
            r.ttft_ms = Some(ms);
        }
    }

    let err_objs = [&err];
    let e = Scope::new(&err_objs);
    let (code, is_error, class) = common::litellm_status(&e, None, failure);
    r.status_code = code;
    r.is_error = is_error;
    r.error_class = class;

    let id_objs = [obj, &metadata, &requester, &spend_meta];
    let ids = Scope::new(&id_objs);
    r.team_id = ids.lenient_string(&["team_id", "user_api_key_team_id"]);
    // The key's alias when the metadata has it, else the key hash (a stable id, not a secret).
    r.key_alias = ids.lenient_string(&["user_api_key_alias", "api_key"]);
    let meta_first = [&requester, &spend_meta, &metadata];
    let m = Scope::new(&meta_first);
    r.repo_slug = common::repo(&m)?;
    let end_user = t.lenient_string(&["end_user"]);
    r.session_id = common::session(&ids, vec![end_user], r.trace_id.clone());
    r.developer_id = common::developer(&ids);
    r.git_branch = common::branch(&ids);
    r.cache_hit = match obj.get("cache_hit") {
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        Some(v) => fields::boolean(v, "cache_hit")?,
        None => None,
    };
    r.reported_cost = t.number(&["spend"])?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{parse_line, LineOutcome};
    use serde_json::json;

    /// A row as `GET /spend/logs` returns it (LiteLLM 1.110: `metadata` an object, times ISO).
    fn row() -> Value {
        json!({
            "request_id": "chatcmpl-7f3a", "call_type": "acompletion",
            "api_key": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
            "spend": 0.0231, "total_tokens": 1500, "prompt_tokens": 1400, "completion_tokens": 100,
            "startTime": "2025-07-10T10:00:00.000Z", "endTime": "2025-07-10T10:00:03.500Z",
            "completionStartTime": "2025-07-10T10:00:00.600Z",
            "model": "claude-sonnet-4-20250514", "model_group": "sonnet", "model_id": "m-1",
            "custom_llm_provider": "anthropic", "api_base": "", "user": "alice",
            "metadata": {"user_api_key_alias": "alice-key", "user_api_key_team_id": "team-a",
                         "usage_object": {"prompt_tokens": 1400, "completion_tokens": 100,
                                          "cache_read_input_tokens": 1000,
                                          "cache_creation_input_tokens": 200},
                         "requester_metadata": {"repo": "acme/api"}},
            "cache_hit": "False", "cache_key": "", "request_tags": ["prod"], "team_id": "team-a",
            "end_user": "", "requester_ip_address": "", "session_id": "sess-9",
            "status": "success", "litellm_call_id": "0b1c-call",
            "messages": {"secret": "prompt"}, "response": {"secret": "answer"}
        })
    }

    fn record(v: Value) -> TraceRecord {
        match parse_line(&serde_json::to_vec(&v).unwrap(), None) {
            LineOutcome::Record(r) => *r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn maps_a_spend_log_row() {
        let r = record(row());
        assert_eq!(r.source_format, SourceFormat::LitellmSpendLogs);
        assert_eq!(r.call_id.as_deref(), Some("0b1c-call"));
        assert_eq!(r.response_id.as_deref(), Some("chatcmpl-7f3a"));
        assert_eq!(
            (
                r.tokens_in,
                r.tokens_out,
                r.cache_read_tokens,
                r.cache_creation_tokens
            ),
            (1400, 100, 1000, 200)
        );
        assert_eq!(r.reported_cost, Some(0.0231));
        assert!((r.latency_ms.unwrap() - 3500.0).abs() < 1e-6);
        assert!((r.ttft_ms.unwrap() - 600.0).abs() < 1e-6);
        assert_eq!(r.model.as_deref(), Some("claude-sonnet-4-20250514"));
        assert_eq!(r.provider.as_deref(), Some("anthropic"));
        assert_eq!(r.developer_id.as_deref(), Some("alice"));
        assert_eq!(r.team_id.as_deref(), Some("team-a"));
        assert_eq!(r.key_alias.as_deref(), Some("alice-key"));
        assert_eq!(r.session_id.as_deref(), Some("sess-9"));
        assert_eq!(r.repo_slug.as_deref(), Some("acme/api"));
        assert_eq!(r.cache_hit, Some(false));
        assert!(!r.is_error);
        assert!(!serde_json::to_string(&r).unwrap().contains("secret"));
    }

    #[test]
    fn table_dump_row_with_json_strings_and_naive_times() {
        let mut v = row();
        v["metadata"] = json!(v["metadata"].to_string());
        v["startTime"] = json!("2025-07-10T10:00:00");
        v["endTime"] = json!("2025-07-10T10:00:01.25");
        v["completionStartTime"] = Value::Null;
        v["cache_hit"] = json!("True");
        v.as_object_mut().unwrap().remove("litellm_call_id");
        let r = record(v);
        assert_eq!(r.call_id.as_deref(), Some("chatcmpl-7f3a"));
        assert_eq!(r.cache_read_tokens, 1000);
        assert_eq!(r.timestamp.to_rfc3339(), "2025-07-10T10:00:00+00:00");
        assert!((r.latency_ms.unwrap() - 1250.0).abs() < 1e-6);
        assert_eq!(r.ttft_ms, None);
        assert_eq!(r.cache_hit, Some(true));
    }

    #[test]
    fn failure_row() {
        let mut v = row();
        v["status"] = json!("failure");
        v["metadata"]["error_information"] =
            json!({"error_code": "429", "error_class": "RateLimitError"});
        let r = record(v);
        assert!(r.is_error);
        assert_eq!(r.status_code, Some(429));
        assert_eq!(r.error_class.as_deref(), Some("RateLimitError"));
    }

    #[test]
    fn malformed_rows_are_dead_and_non_llm_rows_skipped() {
        let bytes = |v: Value| serde_json::to_vec(&v).unwrap();
        let mut v = row();
        v["spend"] = json!("a lot");
        assert!(matches!(parse_line(&bytes(v), None), LineOutcome::Dead(_)));
        let mut v = row();
        v.as_object_mut().unwrap().remove("startTime");
        assert!(matches!(parse_line(&bytes(v), None), LineOutcome::Dead(_)));
        let mut v = row();
        v["call_type"] = json!("pass_through_endpoint");
        assert!(matches!(
            parse_line(&bytes(v), None),
            LineOutcome::Skipped(_)
        ));
    }
}
