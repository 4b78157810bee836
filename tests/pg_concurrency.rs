//! One PostgreSQL store, many writers at once: four `ingest-traces` processes over overlapping
//! files and two `collect` receivers under load (overlapping calls posted to both). Every call
//! is stored once, every acknowledged batch is there, and the rollups equal `rebuild-rollups`.

mod common;
mod pg_support;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_prod-lens"));
    c.env_remove("PRODLENS_DB").env_remove("RUST_LOG");
    c
}

/// A `collect` receiver, killed when dropped.
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

fn receiver(db: &str, dead: &str) -> Receiver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = bin()
        .args([
            "--db", db, "collect", "--listen", &addr, "--repo", "acme/api",
        ])
        .args(["--dead-letter-dir", dead])
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
        url: format!("http://{addr}/v1/traces"),
    }
}

fn kv(k: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// One OTLP request with the calls `ids` (input tokens = the id, 10 output tokens).
fn request(ids: std::ops::Range<i64>) -> Vec<u8> {
    let spans = ids
        .map(|i| Span {
            trace_id: i.to_be_bytes().repeat(2),
            span_id: i.to_be_bytes().to_vec(),
            name: "litellm_request".into(),
            start_time_unix_nano: 1_757_000_000_000_000_000 + i as u64 * 60_000_000_000,
            end_time_unix_nano: 1_757_000_001_000_000_000 + i as u64 * 60_000_000_000,
            attributes: vec![
                kv(
                    "gen_ai.request.model",
                    any_value::Value::StringValue("gpt-4o".into()),
                ),
                kv("gen_ai.usage.input_tokens", any_value::Value::IntValue(i)),
                kv("gen_ai.usage.output_tokens", any_value::Value::IntValue(10)),
                kv(
                    "litellm.call_id",
                    any_value::Value::StringValue(format!("collected-{i}")),
                ),
            ],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn post(url: &str, body: &[u8]) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .post(url)
        .header("Content-Type", "application/x-protobuf")
        .send(body)
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn four_ingests_and_two_receivers_store_every_call_once() {
    let Some(pg) = pg_support::start_or_skip("concurrent writers into PostgreSQL") else {
        return;
    };
    let w = common::Work::new();
    let mut files = Vec::new();
    for seed in 0..4u64 {
        let f = w.path(&format!("part{seed}.jsonl"));
        let spec = prod_lens::sample::SampleSpec {
            lines: 3_000,
            seed,
            ..prod_lens::sample::SampleSpec::demo()
        };
        prod_lens::sample::write_sample(&spec, &mut std::fs::File::create(&f).unwrap()).unwrap();
        files.push(f.to_str().unwrap().to_string());
    }
    let dead = w.path("dead");
    let dead = dead.to_str().unwrap().to_string();
    let ingest = |db: &str, files: &[String]| {
        let mut c = bin();
        c.args(["--db", db, "ingest-traces", "--no-parquet", "--quiet"])
            .args(["--dead-letter-dir", &dead])
            .args(files)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    };
    // The reference: every file once, into SQLite.
    let sqlite = w.path("ref.db");
    let sqlite = sqlite.to_str().unwrap().to_string();
    let out = ingest(&sqlite, &files).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = rusqlite::Connection::open(&sqlite).unwrap();
    let (file_calls, file_tokens): (i64, i64) = r
        .query_row("SELECT COUNT(*), SUM(tokens_in) FROM traces", [], |x| {
            Ok((x.get(0)?, x.get(1)?))
        })
        .unwrap();

    let url = pg.url_for("127.0.0.1", "sslmode=disable");
    // Migrated once before the writers start, as a deployment does.
    let out = bin().args(["--db", &url, "status"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receivers = [receiver(&url, &dead), receiver(&url, &dead)];
    // Receiver 0 gets calls 0..600 and receiver 1 calls 300..900, 20 per request, while four
    // ingests run over every file in rotated orders.
    let (posted, ingests) = std::thread::scope(|s| {
        let posters: Vec<_> = receivers
            .iter()
            .enumerate()
            .map(|(k, r)| {
                s.spawn(move || {
                    let first = k as i64 * 300;
                    (0..30)
                        .map(|b| {
                            let from = first + b * 20;
                            post(&r.url, &request(from..from + 20))
                        })
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        let ingests: Vec<_> = (0..4)
            .map(|k| {
                let mut mine = files.clone();
                mine.rotate_left(k);
                ingest(&url, &mine).spawn().unwrap()
            })
            .collect();
        let ingests: Vec<_> = ingests
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let posted: Vec<u16> = posters
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        (posted, ingests)
    });
    assert!(posted.iter().all(|&s| s == 200), "{posted:?}");
    for o in &ingests {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    drop(receivers);

    let mut c = pg.local_client();
    let row = c
        .query_one(
            "SELECT COUNT(*), COUNT(DISTINCT dedupe_key), SUM(tokens_in)::BIGINT FROM traces",
            &[],
        )
        .unwrap();
    let (n, distinct, tokens): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    let collected_tokens: i64 = (0..900).sum();
    assert_eq!(n, file_calls + 900, "every call once");
    assert_eq!(distinct, n);
    assert_eq!(tokens, file_tokens + collected_tokens);
    let kept = pg_support::rollup_rows(&mut c);
    let out = bin()
        .args(["--db", &url, "rebuild-rollups"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pg_support::same_rows(
        "rollups kept vs rebuilt",
        &kept,
        &pg_support::rollup_rows(&mut c),
    );
    // Each receiver logged its run.
    let runs: i64 = c
        .query_one("SELECT COUNT(*) FROM etl_runs WHERE job = 'collect'", &[])
        .unwrap()
        .get(0);
    assert_eq!(runs, 2);
}
