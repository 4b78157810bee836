//! `ingest-traces` on the OpenTelemetry fixtures with auto-detection: counts, tokens and cost.

use std::process::Command;

fn ingest(files: &[&str]) -> (serde_json::Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite");
    let fx = format!("{}/tests/fixtures/otel", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_prod-lens"))
        .args([
            "--db",
            db.to_str().unwrap(),
            "ingest-traces",
            "--json",
            "--no-parquet",
        ])
        .args(files.iter().map(|f| format!("{fx}/{f}")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), dir)
}

#[test]
fn otlp_json_files() {
    let (s, _d) = ingest(&["otlp_traces.jsonl", "otlp_logs.jsonl", "otlp_metrics.jsonl"]);
    // 5 LLM spans + api_request + api_error.
    assert_eq!(s["inserted"], 7);
    assert_eq!(s["activity"], 9);
    assert_eq!(s["dead_lettered"], 0);
    assert_eq!(s["skipped"], 6);
    assert_eq!(s["tokens_in"], 1200 + 3000 + 500 + 12 + 20000 + 1500);
    assert_eq!(s["tokens_out"], 80 + 250 + 40 + 310);
    assert!(s["cost_usd"].as_f64().unwrap() > 0.0213);
}

#[test]
fn console_and_phoenix_spans() {
    let (s, _d) = ingest(&["console_spans.jsonl"]);
    // Console lines are single spans, so the raw_gen_ai_request child is skipped by name.
    assert_eq!(
        (s["inserted"].as_i64(), s["skipped"].as_i64()),
        (Some(5), Some(3))
    );
    assert_eq!(s["tokens_in"], 1200 + 3000 + 500);
    let (s, _d) = ingest(&["phoenix_spans.jsonl"]);
    assert_eq!(
        (s["inserted"].as_i64(), s["skipped"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(s["tokens_in"], 900);
}

#[test]
fn malformed_lines_are_dead_lettered() {
    let (s, _d) = ingest(&["malformed.jsonl"]);
    assert_eq!(
        (
            s["read"].as_i64(),
            s["dead_lettered"].as_i64(),
            s["inserted"].as_i64()
        ),
        (Some(4), Some(4), Some(0))
    );
}
