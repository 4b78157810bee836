//! OTLP export requests (`ExportTraceServiceRequest`, `ExportLogsServiceRequest`,
//! `ExportMetricsServiceRequest`) → a [`Batch`]. The JSON shape is the OTLP/JSON encoding
//! (opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding) the Collector's file exporter writes one
//! request per line; the receiver decodes protobuf bodies into the same types.

use super::claude_code::{self, Mapped};
use super::llm_span;
use super::view::{attrs_to_obj, id_hex, nanos, LogView, PointView, SpanStatus, SpanView};
use super::Batch;
use crate::record::SourceFormat;
use crate::sources::fields::Obj;
use crate::sources::Reject;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, NumberDataPoint};
use opentelemetry_proto::tonic::trace::v1::{status::StatusCode, Span};
use serde_json::Value;
use std::collections::HashSet;

/// Which OTLP signal a JSON object holds.
pub fn signal_key(obj: &Obj) -> Option<&'static str> {
    ["resourceSpans", "resourceLogs", "resourceMetrics"]
        .into_iter()
        .find(|k| obj.contains_key(*k))
}

/// Parses one OTLP/JSON request object; a structurally invalid object is an error.
pub fn parse_json(obj: &Obj) -> Result<Batch, String> {
    let v = Value::Object(obj.clone());
    match signal_key(obj) {
        Some("resourceSpans") => serde_json::from_value::<ExportTraceServiceRequest>(v)
            .map(|r| traces(&r))
            .map_err(|e| format!("invalid OTLP/JSON traces request: {e}")),
        Some("resourceLogs") => serde_json::from_value::<ExportLogsServiceRequest>(v)
            .map(|r| logs(&r))
            .map_err(|e| format!("invalid OTLP/JSON logs request: {e}")),
        Some("resourceMetrics") => serde_json::from_value::<ExportMetricsServiceRequest>(v)
            .map(|r| metrics(&r))
            .map_err(|e| format!("invalid OTLP/JSON metrics request: {e}")),
        _ => Err("not an OTLP request: no resourceSpans, resourceLogs or resourceMetrics".into()),
    }
}

fn span_view(s: &Span, resource: &Obj) -> SpanView {
    let status = s
        .status
        .as_ref()
        .map(|st| match StatusCode::try_from(st.code) {
            Ok(StatusCode::Error) => SpanStatus::Error,
            Ok(StatusCode::Ok) => SpanStatus::Ok,
            _ => SpanStatus::Unset,
        });
    SpanView {
        name: s.name.clone(),
        trace_id: id_hex(&s.trace_id),
        span_id: id_hex(&s.span_id),
        parent_id: id_hex(&s.parent_span_id),
        start_ns: nanos(s.start_time_unix_nano),
        end_ns: nanos(s.end_time_unix_nano),
        status,
        status_message: s.status.as_ref().map(|st| st.message.clone()),
        attributes: attrs_to_obj(&s.attributes),
        resource: resource.clone(),
    }
}

/// Maps every span of a traces request; nested LLM spans count once (see [`spans`]).
pub fn traces(req: &ExportTraceServiceRequest) -> Batch {
    let mut views = Vec::new();
    for rs in &req.resource_spans {
        let resource = rs
            .resource
            .as_ref()
            .map(|r| attrs_to_obj(&r.attributes))
            .unwrap_or_default();
        for ss in &rs.scope_spans {
            views.extend(ss.spans.iter().map(|s| span_view(s, &resource)));
        }
    }
    spans(&views, SourceFormat::OtlpJson)
}

/// Maps spans of one batch. An LLM span whose parent in the same batch is also an LLM span is
/// skipped: the outer span (e.g. an instrumented framework call around the SDK call) is the call.
pub fn spans(views: &[SpanView], format: SourceFormat) -> Batch {
    let llm: HashSet<(Option<&str>, &str)> = views
        .iter()
        .filter(|v| llm_span::is_llm(v))
        .filter_map(|v| v.span_id.as_deref().map(|s| (v.trace_id.as_deref(), s)))
        .collect();
    let mut b = Batch::default();
    for v in views {
        let nested = v
            .parent_id
            .as_deref()
            .is_some_and(|p| llm.contains(&(v.trace_id.as_deref(), p)));
        if nested && llm_span::is_llm(v) {
            b.skipped += 1;
            continue;
        }
        match llm_span::map(v, format) {
            Ok(r) => b.records.push(r),
            Err(Reject::Skip(_)) => b.skipped += 1,
            Err(Reject::Dead(d)) => b.dead.push(format!("span {:?}: {d}", v.name)),
        }
    }
    b
}

fn log_view(l: &LogRecord, resource: &Obj) -> LogView {
    LogView {
        time_ns: nanos(l.time_unix_nano).or_else(|| nanos(l.observed_time_unix_nano)),
        body: l
            .body
            .as_ref()
            .and_then(|b| super::view::any_to_json(b).as_str().map(str::to_string)),
        event_name: Some(l.event_name.clone()).filter(|s| !s.is_empty()),
        attributes: attrs_to_obj(&l.attributes),
        resource: resource.clone(),
    }
}

/// Maps every log record of a logs request (Claude Code events; other logs are skipped).
pub fn logs(req: &ExportLogsServiceRequest) -> Batch {
    let mut b = Batch::default();
    for rl in &req.resource_logs {
        let resource = rl
            .resource
            .as_ref()
            .map(|r| attrs_to_obj(&r.attributes))
            .unwrap_or_default();
        for sl in &rl.scope_logs {
            for l in &sl.log_records {
                let v = log_view(l, &resource);
                if !claude_code::is_claude_code_log(&v) {
                    b.skipped += 1;
                    continue;
                }
                match claude_code::map_log(&v) {
                    Ok(Mapped::Call(r)) => b.records.push(*r),
                    Ok(Mapped::Activity(a)) => b.activity.push(*a),
                    Err(Reject::Skip(_)) => b.skipped += 1,
                    Err(Reject::Dead(d)) => b.dead.push(format!("log record: {d}")),
                }
            }
        }
    }
    b
}

fn point(name: &str, p: &NumberDataPoint, cumulative: bool, resource: &Obj) -> PointView {
    let value = match p.value {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => f64::NAN,
    };
    PointView {
        metric: name.to_string(),
        time_ns: nanos(p.time_unix_nano),
        value,
        cumulative,
        attributes: attrs_to_obj(&p.attributes),
        resource: resource.clone(),
    }
}

/// Maps every sum/gauge point of a metrics request (Claude Code counters; others skipped).
pub fn metrics(req: &ExportMetricsServiceRequest) -> Batch {
    let mut b = Batch::default();
    for rm in &req.resource_metrics {
        let resource = rm
            .resource
            .as_ref()
            .map(|r| attrs_to_obj(&r.attributes))
            .unwrap_or_default();
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let (points, cumulative) = match &m.data {
                    Some(metric::Data::Sum(s)) => (&s.data_points, s.aggregation_temporality == 2),
                    Some(metric::Data::Gauge(g)) => (&g.data_points, false),
                    _ => {
                        b.skipped += 1;
                        continue;
                    }
                };
                for p in points {
                    match claude_code::map_point(&point(&m.name, p, cumulative, &resource)) {
                        Ok(a) => b.activity.push(a),
                        Err(Reject::Skip(_)) => b.skipped += 1,
                        Err(Reject::Dead(d)) => b.dead.push(format!("metric point: {d}")),
                    }
                }
            }
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<Obj> {
        let path = format!("{}/tests/fixtures/otel/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l)
                    .unwrap()
                    .as_object()
                    .cloned()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn sdk_traces_fixture() {
        let objs = fixture("otlp_traces.jsonl");
        let b = parse_json(&objs[0]).unwrap();
        assert!(b.dead.is_empty(), "{:?}", b.dead);
        // ChatCompletion, GenAI chat, GenAI error, two litellm_request; skipped: agent-run,
        // search-docs, raw_gen_ai_request.
        assert_eq!((b.records.len(), b.skipped), (5, 3));
        let tin: i64 = b.records.iter().map(|r| r.tokens_in).sum();
        assert_eq!(tin, 1200 + 3000 + 500);
        assert_eq!(b.records.iter().filter(|r| r.is_error).count(), 2);
        let litellm: Vec<_> = b
            .records
            .iter()
            .filter_map(|r| r.call_id.as_deref())
            .filter(|c| c.contains("litellm"))
            .collect();
        assert_eq!(litellm.len(), 2);
    }

    #[test]
    fn sdk_logs_and_metrics_fixtures() {
        let mut total = Batch::default();
        for o in fixture("otlp_logs.jsonl")
            .iter()
            .chain(fixture("otlp_metrics.jsonl").iter())
        {
            total.extend(parse_json(o).unwrap());
        }
        assert!(total.dead.is_empty(), "{:?}", total.dead);
        assert_eq!(total.records.len(), 2, "api_request + api_error");
        let calls = &total.records;
        assert_eq!(calls.iter().map(|r| r.tokens_out).sum::<i64>(), 310);
        // 3 tool decisions + 2 line counts + 2 edit decisions + commit + PR.
        assert_eq!(total.activity.len(), 9);
        // user_prompt, tool_result, cost.usage.
        assert_eq!(total.skipped, 3);
    }

    #[test]
    fn nested_llm_spans_count_once() {
        let outer = SpanView {
            name: "llm".into(),
            trace_id: Some("t".into()),
            span_id: Some("a".into()),
            start_ns: Some(1),
            attributes:
                serde_json::json!({"openinference.span.kind": "LLM", "llm.token_count.prompt": 5})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ..Default::default()
        };
        let mut inner = outer.clone();
        inner.span_id = Some("b".into());
        inner.parent_id = Some("a".into());
        let b = spans(&[outer, inner], SourceFormat::OtlpJson);
        assert_eq!((b.records.len(), b.skipped), (1, 1));
    }

    #[test]
    fn malformed_requests() {
        let objs = fixture("malformed.jsonl");
        assert!(parse_json(&objs[0]).is_err(), "bad hex id");
        let b = parse_json(&objs[1]).unwrap();
        assert_eq!((b.records.len(), b.dead.len()), (0, 1), "negative tokens");
        let b = parse_json(&objs[3]).unwrap();
        assert_eq!(b.dead.len(), 1, "non-numeric Claude Code tokens");
    }
}
