//! Format-neutral views of OpenTelemetry spans, log records and metric points.
//!
//! Every OTel shape (OTLP/JSON or protobuf batches, console-exporter lines, Phoenix dataframe
//! rows) is first turned into these views, with attributes as a flat JSON object, so that one
//! mapping per signal serves them all.

use crate::sources::fields::Obj;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use serde_json::{Number, Value};

/// Span status, as OTel defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanStatus {
    /// No status set.
    Unset,
    /// Explicitly OK.
    Ok,
    /// Failed.
    Error,
}

/// One span, whatever shape it came in.
#[derive(Clone, Debug, Default)]
pub struct SpanView {
    /// Span name.
    pub name: String,
    /// Trace id, lower-case hex.
    pub trace_id: Option<String>,
    /// Span id, lower-case hex.
    pub span_id: Option<String>,
    /// Parent span id, lower-case hex.
    pub parent_id: Option<String>,
    /// Start time, Unix nanoseconds.
    pub start_ns: Option<i64>,
    /// End time, Unix nanoseconds.
    pub end_ns: Option<i64>,
    /// Status.
    pub status: Option<SpanStatus>,
    /// Status message.
    pub status_message: Option<String>,
    /// Attributes, flat (`"llm.model_name": …`).
    pub attributes: Obj,
    /// Resource attributes, flat.
    pub resource: Obj,
}

/// One log record.
#[derive(Clone, Debug, Default)]
pub struct LogView {
    /// Time, Unix nanoseconds (`timeUnixNano`, else `observedTimeUnixNano`).
    pub time_ns: Option<i64>,
    /// The body when it is a string.
    pub body: Option<String>,
    /// The record's `eventName` field.
    pub event_name: Option<String>,
    /// Attributes, flat.
    pub attributes: Obj,
    /// Resource attributes, flat.
    pub resource: Obj,
}

/// One numeric metric data point (sum or gauge).
#[derive(Clone, Debug, Default)]
pub struct PointView {
    /// Metric name.
    pub metric: String,
    /// Point time, Unix nanoseconds.
    pub time_ns: Option<i64>,
    /// Value.
    pub value: f64,
    /// True for a cumulative sum (values are running totals), false for delta sums and gauges.
    pub cumulative: bool,
    /// Point attributes, flat.
    pub attributes: Obj,
    /// Resource attributes, flat.
    pub resource: Obj,
}

/// An OTLP `AnyValue` as JSON: scalars as scalars, arrays as arrays, kvlists as objects.
pub fn any_to_json(v: &AnyValue) -> Value {
    match &v.value {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::Number((*i).into()),
        Some(any_value::Value::DoubleValue(d)) => {
            Number::from_f64(*d).map_or(Value::Null, Value::Number)
        }
        Some(any_value::Value::ArrayValue(a)) => {
            Value::Array(a.values.iter().map(any_to_json).collect())
        }
        Some(any_value::Value::KvlistValue(l)) => Value::Object(attrs_to_obj(&l.values)),
        Some(any_value::Value::BytesValue(b)) => Value::String(hex(b)),
        #[allow(unreachable_patterns)]
        Some(_) => Value::Null,
    }
}

/// OTLP key-value attributes as a flat JSON object (later duplicates win).
pub fn attrs_to_obj(kvs: &[KeyValue]) -> Obj {
    kvs.iter()
        .map(|kv| {
            let v = kv.value.as_ref().map_or(Value::Null, any_to_json);
            (kv.key.clone(), v)
        })
        .collect()
}

/// Lower-case hex of an id; None for an empty or all-zero id (invalid per OTLP).
pub fn id_hex(bytes: &[u8]) -> Option<String> {
    (!bytes.is_empty() && bytes.iter().any(|b| *b != 0)).then(|| hex(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A unix-nanosecond field as i64; 0 (unset in OTLP) and overflow give None.
pub fn nanos(n: u64) -> Option<i64> {
    i64::try_from(n).ok().filter(|n| *n > 0)
}

/// Normalises a textual id (`0x…` prefix, case, blank) to lower-case hex.
pub fn norm_id(raw: &str) -> Option<String> {
    let t = raw.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    (!t.is_empty() && t.bytes().any(|b| b != b'0')).then(|| t.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn kv(k: &str, v: any_value::Value) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    #[test]
    fn attributes_become_flat_json() {
        let o = attrs_to_obj(&[
            kv("s", any_value::Value::StringValue("x".into())),
            kv("i", any_value::Value::IntValue(7)),
            kv("d", any_value::Value::DoubleValue(0.5)),
            kv("b", any_value::Value::BoolValue(true)),
            kv(
                "a",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(any_value::Value::IntValue(1)),
                    }],
                }),
            ),
            kv(
                "k",
                any_value::Value::KvlistValue(KeyValueList {
                    values: vec![kv("repo", any_value::Value::StringValue("a/b".into()))],
                }),
            ),
        ]);
        assert_eq!(
            Value::Object(o),
            serde_json::json!({"s": "x", "i": 7, "d": 0.5, "b": true, "a": [1], "k": {"repo": "a/b"}})
        );
    }

    #[test]
    fn ids_and_times() {
        assert_eq!(id_hex(&[0, 0]), None);
        assert_eq!(id_hex(&[0xab, 1]).as_deref(), Some("ab01"));
        assert_eq!(norm_id("0xABcd").as_deref(), Some("abcd"));
        assert_eq!(norm_id("0x0000"), None);
        assert_eq!(nanos(0), None);
        assert_eq!(nanos(u64::MAX), None);
    }
}
