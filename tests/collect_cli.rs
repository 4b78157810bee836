//! `prod-lens collect`: the real binary on 127.0.0.1, real OTLP bodies (JSON built from the SDK
//! fixtures, protobuf built with the proto crate), gzip, malformed and oversized bodies, and a
//! SIGKILL right after a 200.

use flate2::{write::GzEncoder, Compression};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

struct Receiver {
    child: Child,
    url: String,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &std::path::Path, extra: &[&str]) -> Receiver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_prod-lens"))
        .args(["--db", db.to_str().unwrap(), "collect", "--listen", &addr])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening"), "{line}");
    Receiver {
        child,
        url: format!("http://{addr}"),
    }
}

fn post(url: &str, ct: &str, gzip: bool, body: &[u8]) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.post(url).header("Content-Type", ct);
    let data = if gzip {
        req = req.header("Content-Encoding", "gzip");
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(body).unwrap();
        e.finish().unwrap()
    } else {
        body.to_vec()
    };
    let mut resp = req.send(&data[..]).unwrap();
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_vec().unwrap())
}

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn proto_request(call: &str, input: i64) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![7; 16],
                    span_id: vec![input as u8 + 1; 8],
                    name: "litellm_request".into(),
                    start_time_unix_nano: 1_760_295_600_000_000_000,
                    end_time_unix_nano: 1_760_295_601_000_000_000,
                    attributes: vec![
                        kv(
                            "gen_ai.request.model",
                            any_value::Value::StringValue("gpt-4o".into()),
                        ),
                        kv(
                            "gen_ai.usage.input_tokens",
                            any_value::Value::IntValue(input),
                        ),
                        kv("gen_ai.usage.output_tokens", any_value::Value::IntValue(10)),
                        kv(
                            "litellm.call_id",
                            any_value::Value::StringValue(call.into()),
                        ),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn count(db: &std::path::Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/otel/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn receives_json_protobuf_and_gzip_and_rejects_bad_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let r = start(&db, &["--max-body-bytes", "200000"]);
    let traces = fixture("otlp_traces.jsonl");
    let (s, body) = post(
        &format!("{}/v1/traces", r.url),
        "application/json",
        false,
        traces.trim().as_bytes(),
    );
    assert_eq!((s, body.as_slice()), (200, &b"{}"[..]));
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM traces WHERE source_format = 'otlp-json'"
        ),
        5
    );
    // The same request again (a client retry) is deduplicated.
    post(
        &format!("{}/v1/traces", r.url),
        "application/json",
        true,
        traces.trim().as_bytes(),
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM traces"), 5);

    for line in fixture("otlp_logs.jsonl").lines() {
        let (s, _) = post(
            &format!("{}/v1/logs", r.url),
            "application/json",
            true,
            line.as_bytes(),
        );
        assert_eq!(s, 200);
    }
    let (s, _) = post(
        &format!("{}/v1/metrics", r.url),
        "application/json",
        false,
        fixture("otlp_metrics.jsonl").trim().as_bytes(),
    );
    assert_eq!(s, 200);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM traces WHERE source_format = 'claude-code-otel'"
        ),
        2
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM code_activity"), 9);
    assert_eq!(
        count(&db, "SELECT SUM(accepted) FROM code_turn_acceptance"),
        1
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM code_turn_acceptance"), 2);

    let pb = proto_request("pb-call-1", 100);
    let (s, body) = post(
        &format!("{}/v1/traces", r.url),
        "application/x-protobuf",
        true,
        &pb,
    );
    assert_eq!(s, 200);
    let resp =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(
            &body[..],
        )
        .unwrap();
    assert!(resp.partial_success.is_none());
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM traces WHERE call_id = 'pb-call-1' AND tokens_in = 100"
        ),
        1
    );

    // A batch with one bad span: 200 with a partial-success count, the good span kept.
    let bad = fixture("malformed.jsonl")
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let (s, body) = post(
        &format!("{}/v1/traces", r.url),
        "application/json",
        false,
        bad.as_bytes(),
    );
    assert_eq!(s, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["partialSuccess"]["rejectedSpans"], serde_json::json!(1));

    // Malformed bodies: 400 and dead letters; oversized: 413; the server keeps serving.
    let (s, _) = post(
        &format!("{}/v1/traces", r.url),
        "application/json",
        false,
        b"{not json",
    );
    assert_eq!(s, 400);
    let (s, _) = post(
        &format!("{}/v1/traces", r.url),
        "application/x-protobuf",
        false,
        b"\xff\xff\xff",
    );
    assert_eq!(s, 400);
    let (s, _) = post(
        &format!("{}/v1/traces", r.url),
        "application/json",
        false,
        &vec![b' '; 300_000],
    );
    assert_eq!(s, 413);
    let (s, _) = post(
        &format!("{}/v1/nope", r.url),
        "application/json",
        false,
        b"{}",
    );
    assert_eq!(s, 404);
    let dead: String = std::fs::read_dir(dir.path().join("dead-letter"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(dead.lines().count(), 3, "{dead}");
    let (s, _) = post(
        &format!("{}/v1/traces", r.url),
        "application/x-protobuf",
        false,
        &proto_request("pb-call-2", 5),
    );
    assert_eq!(s, 200);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM traces WHERE call_id = 'pb-call-2'"
        ),
        1
    );
}

#[test]
fn an_acknowledged_batch_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let mut r = start(&db, &["--repo", "acme/api"]);
    let (s, _) = post(
        &format!("{}/v1/traces", r.url),
        "application/x-protobuf",
        false,
        &proto_request("kill-1", 42),
    );
    assert_eq!(s, 200);
    r.child.kill().unwrap(); // SIGKILL on Unix
    r.child.wait().unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM traces WHERE call_id = 'kill-1' AND tokens_in = 42"
        ),
        1
    );
    // The hourly rollups were committed with the row.
    assert_eq!(
        count(
            &db,
            "SELECT SUM(requests) FROM rollup_cells WHERE repo = 'acme/api'"
        ),
        1
    );
    assert_eq!(
        count(
            &db,
            "SELECT SUM(tokens) FROM rollup_cells WHERE repo = 'acme/api'"
        ),
        count(&db, "SELECT tokens_in + tokens_out FROM traces")
    );
}

#[test]
fn refuses_a_non_loopback_address_unless_told() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_prod-lens"))
        .args([
            "--db",
            dir.path().join("db").to_str().unwrap(),
            "collect",
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
