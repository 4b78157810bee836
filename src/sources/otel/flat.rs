//! Single spans as flat JSON objects, one per line:
//!
//! * `otel-span`: the shape SDK console exporters print (opentelemetry-python
//!   `ReadableSpan.to_json`: `name`, `context.trace_id`, `context.span_id`, `parent_id`, ISO
//!   `start_time`/`end_time`, `status.status_code`, `attributes`, `resource.attributes`), also with
//!   top-level `trace_id`/`span_id`/`parent_span_id`, Unix-nanosecond times and `status` as a string.
//! * `phoenix-span`: rows of Phoenix/Arize span dataframes written as JSONL (`name`,
//!   `context.span_id`, `context.trace_id`, `parent_id`, `start_time`, `end_time`, `status_code`,
//!   `status_message`, and every attribute as a top-level `attributes.<key>` column).

use super::view::{norm_id, SpanStatus, SpanView};
use crate::sources::fields::{lookup, Obj};
use serde_json::Value;

/// Reads a time given as an ISO string or a Unix number (s, ms, µs or ns by magnitude).
pub fn time_ns(v: &Value, name: &str) -> Result<i64, String> {
    let from_num = |x: f64| -> Result<i64, String> {
        let ns = if x > 1e17 {
            x
        } else if x > 1e14 {
            x * 1e3
        } else if x > 1e11 {
            x * 1e6
        } else {
            x * 1e9
        };
        if ns.is_finite() && ns > 0.0 && ns < 9.2e18 {
            Ok(ns as i64)
        } else {
            Err(format!("{name} is out of range ({x})"))
        }
    };
    match v {
        Value::Number(n) => match n.as_i64() {
            Some(i) if i > 100_000_000_000_000_000 => Ok(i),
            _ => from_num(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) if i > 100_000_000_000_000_000 => Ok(i),
            Ok(i) => from_num(i as f64),
            Err(_) => crate::time::parse_str(s)
                .map_err(|e| format!("{name}: {e}"))?
                .timestamp_nanos_opt()
                .ok_or_else(|| format!("{name} is out of range")),
        },
        other => Err(format!(
            "{name} must be a time, got {}",
            crate::sources::fields::type_name(other)
        )),
    }
}

fn status_of(raw: &str) -> SpanStatus {
    let s = raw.trim().to_ascii_uppercase();
    let s = s.rsplit('.').next().unwrap_or("");
    match s.trim_start_matches("STATUS_CODE_") {
        "ERROR" => SpanStatus::Error,
        "OK" => SpanStatus::Ok,
        _ => SpanStatus::Unset,
    }
}

fn text(obj: &Obj, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| lookup(obj, k).and_then(Value::as_str).map(str::to_string))
}

fn id(obj: &Obj, keys: &[&str]) -> Option<String> {
    text(obj, keys).and_then(|s| norm_id(&s))
}

fn times(obj: &Obj, view: &mut SpanView) -> Result<(), String> {
    if let Some(v) = lookup(obj, "start_time").or_else(|| lookup(obj, "startTimeUnixNano")) {
        view.start_ns = Some(time_ns(v, "start_time")?);
    }
    if let Some(v) = lookup(obj, "end_time").or_else(|| lookup(obj, "endTimeUnixNano")) {
        view.end_ns = Some(time_ns(v, "end_time")?);
    }
    Ok(())
}

/// Whether an object looks like a console-exporter span.
pub fn is_console_span(obj: &Obj) -> bool {
    obj.contains_key("name")
        && (obj.contains_key("start_time") || obj.contains_key("startTimeUnixNano"))
        && (lookup(obj, "context.span_id").is_some() || obj.contains_key("span_id"))
}

/// Whether an object looks like a Phoenix dataframe row.
pub fn is_phoenix_row(obj: &Obj) -> bool {
    obj.contains_key("context.span_id")
        || obj.contains_key("context.trace_id")
        || obj.contains_key("attributes.openinference.span.kind")
        || obj.contains_key("attributes.llm.model_name")
}

/// A console-exporter span line as a view.
pub fn console_span(obj: &Obj) -> Result<SpanView, String> {
    let mut v = SpanView {
        name: text(obj, &["name"]).unwrap_or_default(),
        trace_id: id(obj, &["context.trace_id", "trace_id", "traceId"]),
        span_id: id(obj, &["context.span_id", "span_id", "spanId"]),
        parent_id: id(obj, &["parent_id", "parent_span_id", "parentSpanId"]),
        ..Default::default()
    };
    times(obj, &mut v)?;
    match obj.get("status") {
        Some(Value::String(s)) => v.status = Some(status_of(s)),
        Some(Value::Object(st)) => {
            v.status = text(st, &["status_code", "code"]).map(|s| status_of(&s));
            v.status_message = text(st, &["description", "message"]);
        }
        _ => {}
    }
    match obj.get("attributes") {
        Some(Value::Object(a)) => v.attributes = a.clone(),
        None | Some(Value::Null) => {}
        Some(other) => {
            return Err(format!(
                "attributes must be an object, got {}",
                crate::sources::fields::type_name(other)
            ))
        }
    }
    if let Some(Value::Object(r)) = obj.get("resource") {
        v.resource = match r.get("attributes") {
            Some(Value::Object(a)) => a.clone(),
            _ => r.clone(),
        };
    }
    Ok(v)
}

/// A Phoenix dataframe row as a view.
pub fn phoenix_row(obj: &Obj) -> Result<SpanView, String> {
    let mut v = SpanView {
        name: text(obj, &["name"]).unwrap_or_default(),
        trace_id: id(obj, &["context.trace_id", "trace_id"]),
        span_id: id(obj, &["context.span_id", "span_id"]),
        parent_id: id(obj, &["parent_id"]),
        status: text(obj, &["status_code"]).map(|s| status_of(&s)),
        status_message: text(obj, &["status_message"]),
        ..Default::default()
    };
    times(obj, &mut v)?;
    if let Some(Value::Object(a)) = obj.get("attributes") {
        v.attributes = a.clone();
    }
    for (k, val) in obj {
        if let Some(rest) = k.strip_prefix("attributes.") {
            if !val.is_null() {
                v.attributes.insert(rest.to_string(), val.clone());
            }
        }
    }
    if !v.attributes.contains_key("openinference.span.kind") {
        if let Some(kind) = text(obj, &["span_kind"]) {
            v.attributes
                .insert("openinference.span.kind".into(), Value::String(kind));
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn o(v: Value) -> Obj {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn console_shape() {
        let v = console_span(&o(json!({"name": "chat", "context": {"trace_id": "0xAB", "span_id": "0x01"},
            "parent_id": null, "start_time": "2025-10-12T19:00:00Z", "end_time": 1760295601000000000u64,
            "status": {"status_code": "ERROR", "description": "boom"}, "attributes": {"a": 1},
            "resource": {"attributes": {"service.name": "x"}}}))).unwrap();
        assert_eq!(
            (v.trace_id.as_deref(), v.span_id.as_deref(), v.parent_id),
            (Some("ab"), Some("01"), None)
        );
        assert_eq!(v.end_ns.unwrap() - v.start_ns.unwrap(), 1_000_000_000);
        assert_eq!(v.status, Some(SpanStatus::Error));
        assert_eq!(v.status_message.as_deref(), Some("boom"));
        assert_eq!(v.resource["service.name"], json!("x"));
        let v = console_span(&o(
            json!({"name": "c", "span_id": "1", "trace_id": "2", "start_time": 1760295600,
            "status": "StatusCode.OK"}),
        ))
        .unwrap();
        assert_eq!(v.status, Some(SpanStatus::Ok));
        assert_eq!(v.start_ns, Some(1_760_295_600_000_000_000));
        assert!(console_span(&o(
            json!({"name": "c", "span_id": "1", "start_time": "nope"})
        ))
        .is_err());
        assert!(console_span(&o(
            json!({"name": "c", "span_id": "1", "start_time": 1, "attributes": [1]})
        ))
        .is_err());
    }

    #[test]
    fn phoenix_shape() {
        let v = phoenix_row(&o(json!({"name": "ChatCompletion", "span_kind": "LLM", "context.span_id": "s",
            "context.trace_id": "t", "start_time": "2025-10-12T19:00:00.000+00:00", "status_code": "ERROR",
            "attributes.llm.model_name": "gpt-4o", "attributes.metadata": "{\"repo\": \"a/b\"}"}))).unwrap();
        assert_eq!(v.attributes["llm.model_name"], json!("gpt-4o"));
        assert_eq!(v.attributes["openinference.span.kind"], json!("LLM"));
        assert_eq!(v.status, Some(SpanStatus::Error));
    }
}
