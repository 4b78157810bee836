//! The seed's span-like shape:
//! `{"timestamp", "usage": {input_tokens, output_tokens, total_tokens}, "attributes": {…}, "metadata": {…}}`.
//!
//! Every attribute and metadata key the seed's normaliser read is honoured: model from
//! `llm.model_name | model | llm.model | model_name`; latency from `latency_ms |
//! request.latency_ms | response.latency_ms | duration_ms` (or top-level `latency_ms`); status from
//! `status_code | http.status_code | response.status_code`; acceptance from `prod_lens.accepted |
//! accepted | accepted_flag`; `diff_ratio` and `accepted_lines` (also under `prod_lens.` and
//! `analysis.`); repo from metadata `repo | repository | repo_slug`, then attributes. Metadata may be
//! an object, a JSON string, or sit under `attributes.metadata` / a flat `"attributes.metadata"` key.

use super::common;
use super::fields::{self, Obj};
use super::scope::Scope;
use super::{blank, timestamp, usage, Reject};
use crate::normalise;
use crate::record::{SourceFormat, TraceRecord};
use serde_json::Value;

/// Model name keys, in the seed's order.
const MODEL_KEYS: &[&str] = &[
    "llm.model_name",
    "model",
    "llm.model",
    "model_name",
    "gen_ai.request.model",
];
/// Latency keys, in the seed's order.
const LATENCY_KEYS: &[&str] = &[
    "latency_ms",
    "request.latency_ms",
    "response.latency_ms",
    "duration_ms",
];
/// Status code keys, in the seed's order.
const STATUS_KEYS: &[&str] = &["status_code", "http.status_code", "response.status_code"];

/// Parses one seed-shaped span.
pub fn parse(obj: &Obj) -> Result<TraceRecord, Reject> {
    let empty = Obj::new();
    let attributes = match obj.get("attributes") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(a)) => a,
        Some(other) => {
            return Err(Reject::Dead(format!(
                "attributes must be an object, got {}",
                fields::type_name(other)
            )))
        }
    };
    let metadata = metadata(obj, attributes)?.unwrap_or_default();

    if let Some(kind) = attributes
        .get("openinference.span.kind")
        .and_then(Value::as_str)
    {
        if !kind.eq_ignore_ascii_case("LLM") {
            return Err(Reject::Skip(format!("span kind {kind} is not an LLM call")));
        }
    }
    let top = [obj];
    let ts = timestamp(
        &Scope::new(&top),
        &["timestamp", "start_time", "startTime", "time"],
    )?;
    let usage_obj = match obj.get("usage") {
        Some(Value::Object(u)) if usage::has_tokens(u) => u,
        Some(Value::Object(_)) => return Err(Reject::Dead("usage has no token counts".into())),
        Some(other) => {
            return Err(Reject::Dead(format!(
                "usage must be an object, got {}",
                fields::type_name(other)
            )))
        }
        None => return Err(Reject::Dead("missing usage".into())),
    };
    let tokens = usage::read(usage_obj)?;

    let attrs_first = [attributes, &metadata, obj];
    let a = Scope::new(&attrs_first);
    let meta_first = [&metadata, attributes, obj];
    let m = Scope::new(&meta_first);

    let mut r = blank(SourceFormat::SeedSpan, ts);
    r.tokens_in = tokens.tokens_in;
    r.tokens_out = tokens.tokens_out;
    r.cache_read_tokens = tokens.cache_read;
    r.cache_creation_tokens = tokens.cache_creation;
    r.model = a.string(MODEL_KEYS)?;
    r.provider = a.string(&["llm.provider", "gen_ai.system", "custom_llm_provider"])?;
    r.latency_ms = a.number(LATENCY_KEYS)?;
    let failure = a
        .lenient_string(&["status", "otel.status_code"])
        .is_some_and(|s| is_failure(&s));
    let (code, is_error) = normalise::status(a.status_code(STATUS_KEYS)?, failure);
    r.status_code = code;
    r.is_error = is_error;
    r.error_class = error_class(&a, code, is_error);
    let acc = common::acceptance(&a)?;
    r.accepted = acc.accepted;
    r.diff_ratio = acc.diff_ratio;
    r.accepted_lines = acc.accepted_lines;
    r.repo_slug = common::repo(&m)?;
    r.developer_id = common::developer(&m);
    r.git_branch = common::branch(&m);
    r.session_id = common::session(&m, vec![], None);
    r.trace_id = m.lenient_string(&["trace_id", "context.trace_id", "traceId"]);
    r.call_id = m.lenient_string(&["litellm_call_id"]);
    r.team_id = m.lenient_string(&["user_api_key_team_id", "team_id"]);
    r.key_alias = m.lenient_string(&["user_api_key_alias"]);
    r.call_type = a.lenient_string(&["call_type"]);
    r.cache_hit = a.boolean(&["cache_hit"])?;
    r.reported_cost = a.number(common::COST_KEYS)?;
    Ok(r)
}

/// Metadata from `metadata`, `attributes.metadata` or the flat `"attributes.metadata"` key.
fn metadata(obj: &Obj, attributes: &Obj) -> Result<Option<Obj>, String> {
    for (v, name) in [
        (obj.get("metadata"), "metadata"),
        (attributes.get("metadata"), "attributes.metadata"),
        (obj.get("attributes.metadata"), "attributes.metadata"),
    ] {
        if let Some(v) = v {
            if let Some(m) = fields::object_or_json_string(v, name)? {
                return Ok(Some(m));
            }
        }
    }
    Ok(None)
}

/// True for the status words that mean the call failed.
pub(crate) fn is_failure(s: &str) -> bool {
    matches!(
        s.trim().to_ascii_lowercase().as_str(),
        "failure" | "failed" | "error" | "status_code_error" | "fail"
    )
}

/// Error class: an explicit `error_class` / `error.type`, else `http_<code>`, else `failure`.
pub(crate) fn error_class(s: &Scope, code: Option<i64>, is_error: bool) -> Option<String> {
    if !is_error {
        return None;
    }
    s.lenient_string(&["error_class", "error.type", "error_type", "exception.type"])
        .or_else(|| code.map(|c| format!("http_{c}")))
        .or_else(|| Some("failure".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_v(v: Value) -> Result<TraceRecord, Reject> {
        parse(v.as_object().unwrap())
    }

    #[test]
    fn seed_example_span() {
        let r = parse_v(json!({
            "timestamp": "2025-10-12T19:00:00Z",
            "usage": {"input_tokens": 120, "output_tokens": 30, "total_tokens": 150},
            "attributes": {"llm.model_name": "claude-3-sonnet", "latency_ms": 850, "status_code": 200,
                            "prod_lens.accepted": "yes", "analysis.diff_ratio": 0.8, "accepted_lines": 12},
            "metadata": {"repo": "acme/api", "session_id": "_session_alpha", "developer_id": "dev-1"}
        }))
        .unwrap();
        assert_eq!(r.model.as_deref(), Some("claude-3-sonnet"));
        assert_eq!((r.tokens_in, r.tokens_out), (120, 30));
        assert_eq!(r.latency_ms, Some(850.0));
        assert_eq!((r.status_code, r.is_error), (Some(200), false));
        assert_eq!(r.accepted, Some(true));
        assert_eq!(r.diff_ratio, Some(0.8));
        assert_eq!(r.accepted_lines, Some(12));
        assert_eq!(r.repo_slug.as_deref(), Some("acme/api"));
        assert_eq!(r.session_id.as_deref(), Some("alpha"));
        assert_eq!(r.developer_id.as_deref(), Some("dev-1"));
    }

    #[test]
    fn every_model_latency_and_status_key() {
        for (k, v) in [
            ("llm.model_name", "a"),
            ("model", "b"),
            ("llm.model", "c"),
            ("model_name", "d"),
        ] {
            let r = parse_v(json!({"timestamp": 1760295600, "usage": {"total_tokens": 5}, "attributes": {k: v}})).unwrap();
            assert_eq!(r.model.as_deref(), Some(v), "{k}");
        }
        for k in [
            "latency_ms",
            "request.latency_ms",
            "response.latency_ms",
            "duration_ms",
        ] {
            let r = parse_v(json!({"timestamp": 1760295600, "usage": {"total_tokens": 5}, "attributes": {k: 42}})).unwrap();
            assert_eq!(r.latency_ms, Some(42.0), "{k}");
        }
        let r = parse_v(
            json!({"timestamp": 1760295600, "latency_ms": 7, "usage": {"total_tokens": 5}}),
        )
        .unwrap();
        assert_eq!(r.latency_ms, Some(7.0), "top-level latency_ms");
        for k in ["status_code", "http.status_code", "response.status_code"] {
            let r = parse_v(json!({"timestamp": 1760295600, "usage": {"total_tokens": 5}, "attributes": {k: 503}})).unwrap();
            assert_eq!((r.status_code, r.is_error), (Some(503), true), "{k}");
        }
    }

    #[test]
    fn acceptance_keys_and_spellings() {
        for k in ["prod_lens.accepted", "accepted", "accepted_flag"] {
            for (v, want) in [
                (json!(true), true),
                (json!("1"), true),
                (json!("yes"), true),
                (json!(0), false),
            ] {
                let r = parse_v(json!({"timestamp": 1760295600, "usage": {"total_tokens": 5}, "attributes": {k: v}})).unwrap();
                assert_eq!(r.accepted, Some(want), "{k}={v}");
            }
        }
        for k in ["prod_lens.diff_ratio", "analysis.diff_ratio", "diff_ratio"] {
            let r = parse_v(json!({"timestamp": 1760295600, "usage": {"total_tokens": 5}, "metadata": {k: 0.5}})).unwrap();
            assert_eq!(r.diff_ratio, Some(0.5), "{k}");
        }
        let r = parse_v(json!({"timestamp": 1760295600, "usage": {"total_tokens": 5}})).unwrap();
        assert_eq!(r.accepted, None, "no signal is not false");
    }

    #[test]
    fn metadata_locations() {
        let variants = [
            json!({"timestamp": 1760295600, "usage": {"total_tokens": 1}, "metadata": "{\"repo\": \"acme/api\"}"}),
            json!({"timestamp": 1760295600, "usage": {"total_tokens": 1}, "attributes": {"metadata": {"repository": "acme/api"}}}),
            json!({"timestamp": 1760295600, "usage": {"total_tokens": 1}, "attributes": {"metadata": "{\"repo_slug\": \"acme/api\"}"}}),
            json!({"timestamp": 1760295600, "usage": {"total_tokens": 1}, "attributes.metadata": "{\"repo\": \"acme/api\"}"}),
            json!({"timestamp": 1760295600, "usage": {"total_tokens": 1}, "attributes": {"repo": "acme/api"}}),
        ];
        for v in variants {
            assert_eq!(
                parse_v(v.clone()).unwrap().repo_slug.as_deref(),
                Some("acme/api"),
                "{v}"
            );
        }
    }

    #[test]
    fn bad_values_are_dead_letters() {
        let dead = |v: Value| matches!(parse_v(v), Err(Reject::Dead(_)));
        assert!(
            dead(json!({"usage": {"total_tokens": 1}})),
            "missing timestamp"
        );
        assert!(dead(json!({"timestamp": 1760295600})), "missing usage");
        assert!(dead(
            json!({"timestamp": 1760295600, "usage": {"input_tokens": -1}})
        ));
        assert!(dead(
            json!({"timestamp": 1760295600, "usage": {"input_tokens": "ten"}})
        ));
        assert!(dead(
            json!({"timestamp": 1760295600, "usage": {"total_tokens": 1}, "metadata": {"repo": "../../etc/passwd"}})
        ));
        assert!(dead(
            json!({"timestamp": 1760295600, "usage": {"total_tokens": 1}, "attributes": {"latency_ms": -3}})
        ));
        assert!(dead(
            json!({"timestamp": 1760295600, "usage": {"total_tokens": 1}, "attributes": [1]})
        ));
    }

    #[test]
    fn non_llm_spans_are_skipped() {
        let r = parse_v(
            json!({"timestamp": 1760295600, "usage": {"total_tokens": 1}, "attributes": {"openinference.span.kind": "TOOL"}}),
        );
        assert!(matches!(r, Err(Reject::Skip(_))));
    }

    #[test]
    fn anthropic_cache_tokens_are_added_to_input() {
        let r = parse_v(
            json!({"timestamp": 1760295600, "usage": {"input_tokens": 10, "output_tokens": 2,
            "cache_read_input_tokens": 100, "cache_creation_input_tokens": 50}}),
        )
        .unwrap();
        assert_eq!(
            (r.tokens_in, r.cache_read_tokens, r.cache_creation_tokens),
            (160, 100, 50)
        );
    }
}
