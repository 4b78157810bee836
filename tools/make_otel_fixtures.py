#!/usr/bin/env python3
"""Generates the OpenTelemetry fixtures under tests/fixtures/otel/ with the real OpenTelemetry SDK.

Run: pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http; python3 tools/make_otel_fixtures.py

How each file is produced:
* console_spans.jsonl  - the SDK's ConsoleSpanExporter (``ReadableSpan.to_json``), one span per line
  (``formatter`` set to compact JSON). Shape: opentelemetry-python sdk/trace/__init__.py ``to_json``.
* otlp_traces.jsonl, otlp_logs.jsonl, otlp_metrics.jsonl - the SDK's OTLP/HTTP protobuf exporters
  posting to a tiny HTTP server in this script; each body is decoded with the generated protobuf
  classes and written as OTLP/JSON, one Export*ServiceRequest per line, the way the Collector's file
  exporter writes it. OTLP/JSON differs from the proto3 JSON mapping in two ways (OTLP spec,
  "JSON Protobuf Encoding": https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
  trace and span ids are hex, not base64, and enums are integers. Both are applied here.
* otlp_traces.pb - the first raw protobuf body, byte for byte.
Span attributes follow OpenInference (github.com/Arize-ai/openinference, spec/semantic_conventions.md),
the OTel GenAI conventions (opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/) and LiteLLM's
OTel integration (litellm/integrations/opentelemetry.py: ``litellm_request`` + ``raw_gen_ai_request``).
Claude Code log events and metrics use the names and attributes of Claude Code's monitoring
documentation (docs.anthropic.com/en/docs/claude-code/monitoring-usage); the SDK builds the envelope.
"""
import base64, http.server, json, os, sys, threading, time
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from google.protobuf.json_format import MessageToDict

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "otel")
BODIES = []

class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        BODIES.append((self.path, self.rfile.read(n)))
        self.send_response(200); self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a):
        pass

srv = http.server.HTTPServer(("127.0.0.1", 0), Sink)
threading.Thread(target=srv.serve_forever, daemon=True).start()
EP = f"http://127.0.0.1:{srv.server_port}"

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, ConsoleSpanExporter, BatchSpanProcessor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.trace import Status, StatusCode

console = open(os.path.join(OUT, "console_spans.jsonl"), "w")
tp = TracerProvider(resource=Resource.create({"service.name": "checkout-agent"}))
tp.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=console, formatter=lambda s: s.to_json(indent=None) + "\n")))
tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=EP + "/v1/traces"), schedule_delay_millis=60000))
tr = tp.get_tracer("fixture")

with tr.start_as_current_span("agent-run", attributes={"openinference.span.kind": "CHAIN", "session.id": "sess-oi-1"}):
    with tr.start_as_current_span("ChatCompletion", attributes={
        "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai",
        "llm.token_count.prompt": 1200, "llm.token_count.completion": 80, "llm.token_count.total": 1280,
        "llm.token_count.prompt_details.cache_read": 1000, "llm.token_count.prompt_details.cache_write": 0,
        "session.id": "sess-oi-1", "user.id": "alice",
        "metadata": json.dumps({"repo": "acme/api", "team": "core"})}):
        time.sleep(0.01)
    with tr.start_as_current_span("search-docs", attributes={"openinference.span.kind": "RETRIEVER"}):
        pass
with tr.start_as_current_span("chat claude-sonnet-4-20250514", attributes={
        "gen_ai.operation.name": "chat", "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4", "gen_ai.response.model": "claude-sonnet-4-20250514",
        "gen_ai.usage.input_tokens": 3000, "gen_ai.usage.output_tokens": 250, "gen_ai.response.id": "msg_01"}):
    time.sleep(0.01)
with tr.start_as_current_span("chat gpt-4o", attributes={
        "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o",
        "error.type": "RateLimitError", "http.response.status_code": 429}) as s:
    s.set_status(Status(StatusCode.ERROR, "rate limited"))
with tr.start_as_current_span("litellm_request", attributes={
        "gen_ai.request.model": "claude-3-5-haiku-20241022", "gen_ai.system": "anthropic",
        "gen_ai.usage.prompt_tokens": 500, "gen_ai.usage.completion_tokens": 40, "llm.usage.total_tokens": 540,
        "litellm.call_id": "9d0f2f1e-litellm-call-1", "metadata.user_api_key_alias": "bob-key",
        "metadata.user_api_key_team_id": "team-b", "metadata.user_api_key_user_id": "bob"}):
    with tr.start_as_current_span("raw_gen_ai_request", attributes={
            "llm.anthropic.model": "claude-3-5-haiku-20241022", "gen_ai.request.model": "claude-3-5-haiku-20241022"}):
        pass
with tr.start_as_current_span("litellm_request", attributes={
        "gen_ai.request.model": "gpt-4o", "gen_ai.system": "openai", "litellm.call_id": "9d0f2f1e-litellm-call-2",
        "error.type": "APIConnectionError"}) as s:
    s.set_status(Status(StatusCode.ERROR, "connection reset"))
tp.force_flush(); tp.shutdown(); console.close()

# Claude Code telemetry: log events and delta metrics.
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry._logs import LogRecord
cc_res = Resource.create({"service.name": "claude-code", "service.version": "1.0.98"})
lp = LoggerProvider(resource=cc_res)
lp.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=EP + "/v1/logs")))
lg = lp.get_logger("com.anthropic.claude_code.events", "1.0.98")
ids = {"session.id": "cc-sess-1", "user.account_uuid": "acc-1111", "organization.id": "org-9",
       "user.email": "dana@example.com", "terminal.type": "vscode"}
t0 = 1760295600_000_000_000
def ev(i, name, **attrs):
    a = dict(ids); a.update({"event.name": name, "event.timestamp": "2025-10-12T19:00:0%dZ" % i}); a.update(attrs)
    lg.emit(LogRecord(timestamp=t0 + i * 1_000_000_000, body="claude_code." + name, attributes=a))
ev(0, "user_prompt", **{"prompt_length": "42", "prompt.id": "p-1"})
ev(1, "api_request", model="claude-sonnet-4-20250514", cost_usd="0.0213", duration_ms="4100",
   input_tokens="12", output_tokens="310", cache_read_tokens="20000", cache_creation_tokens="1500", **{"prompt.id": "p-1"})
ev(2, "tool_decision", tool_name="Edit", decision="accept", source="user_temporary", **{"prompt.id": "p-1"})
ev(3, "tool_result", tool_name="Edit", success="true", duration_ms="12", **{"prompt.id": "p-1"})
ev(4, "api_error", model="claude-sonnet-4-20250514", error="Overloaded", status_code="529", duration_ms="900",
   attempt="1", **{"prompt.id": "p-2"})
ev(5, "tool_decision", tool_name="Write", decision="reject", source="user_reject", **{"prompt.id": "p-2"})
ev(6, "tool_decision", tool_name="Bash", decision="accept", source="config", **{"prompt.id": "p-2"})
lp.shutdown()

from opentelemetry.sdk.metrics import MeterProvider, Counter
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader, AggregationTemporality
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=EP + "/v1/metrics",
    preferred_temporality={Counter: AggregationTemporality.DELTA}), export_interval_millis=3_600_000)
mp = MeterProvider(resource=cc_res, metric_readers=[reader])
m = mp.get_meter("com.anthropic.claude_code", "1.0.98")
m.create_counter("claude_code.lines_of_code.count", unit="count").add(57, dict(ids, type="added"))
m.create_counter("claude_code.lines_of_code.count", unit="count").add(9, dict(ids, type="removed"))
m.create_counter("claude_code.code_edit_tool.decision").add(1, dict(ids, tool="Edit", decision="accept", language="Rust"))
m.create_counter("claude_code.code_edit_tool.decision").add(1, dict(ids, tool="Write", decision="reject", language="Rust"))
m.create_counter("claude_code.commit.count").add(2, ids)
m.create_counter("claude_code.pull_request.count").add(1, ids)
m.create_counter("claude_code.cost.usage", unit="USD").add(0.0213, dict(ids, model="claude-sonnet-4-20250514"))
mp.shutdown()
srv.shutdown()

KIND = {"/v1/traces": (ExportTraceServiceRequest, "otlp_traces.jsonl"),
        "/v1/logs": (ExportLogsServiceRequest, "otlp_logs.jsonl"),
        "/v1/metrics": (ExportMetricsServiceRequest, "otlp_metrics.jsonl")}
HEX_KEYS = {"traceId", "spanId", "parentSpanId"}
def hexify(v):
    if isinstance(v, dict):
        return {k: (base64.b64decode(x).hex() if k in HEX_KEYS and isinstance(x, str) else hexify(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [hexify(x) for x in v]
    return v
files = {}
for path, body in BODIES:
    cls, name = KIND[path]
    msg = cls(); msg.ParseFromString(body)
    if name == "otlp_traces.jsonl" and not os.path.exists(os.path.join(OUT, "otlp_traces.pb.tmp")):
        open(os.path.join(OUT, "otlp_traces.pb.tmp"), "wb").write(body)
    d = hexify(MessageToDict(msg, use_integers_for_enums=True))
    files.setdefault(name, []).append(json.dumps(d, separators=(",", ":")))
os.replace(os.path.join(OUT, "otlp_traces.pb.tmp"), os.path.join(OUT, "otlp_traces.pb"))
for name, lines in files.items():
    open(os.path.join(OUT, name), "w").write("\n".join(lines) + "\n")
print({k: len(v) for k, v in files.items()}, file=sys.stderr)
