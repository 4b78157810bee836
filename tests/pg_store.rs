//! The PostgreSQL store against a real server started by the test (`pg_support`): migrations
//! once under concurrent opens, the run log, source state, change notifications and row reads
//! behave as the SQLite store's do.

mod pg_support;

use prod_lens::ingest::files::FileState;
use prod_lens::pg::PgTarget;
use prod_lens::store::postgres::{PgStore, SCHEMA_VERSION};
use prod_lens::store::prelude::*;
use prod_lens::store::runs::RunCounts;
use prod_lens::store::source_state::Checkpoint;
use prod_lens::store::Store;
use std::time::{Duration, Instant};

/// The run log and source state, which both stores implement so far.
trait LogAndState: RunLog + SourceState {}

impl<T: RunLog + SourceState> LogAndState for T {}

fn target(pg: &pg_support::Postgres) -> PgTarget {
    PgTarget::parse(&pg.url_for("127.0.0.1", "sslmode=disable"), None, "--db").unwrap()
}

#[test]
fn concurrent_opens_migrate_once_and_a_newer_schema_is_refused() {
    let Some(pg) = pg_support::start_or_skip("PostgreSQL store") else {
        return;
    };
    let t = target(&pg);
    let opened: Vec<PgStore> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4).map(|_| s.spawn(|| PgStore::open(&t))).collect();
        hs.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
    });
    assert!(opened
        .iter()
        .all(|s| s.schema_version().unwrap() == SCHEMA_VERSION));
    assert_eq!(opened[0].trace_count().unwrap(), 0);
    assert_eq!(
        opened[0].name(),
        format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port)
    );
    drop(opened);
    pg.local_client()
        .batch_execute("UPDATE prodlens_schema SET version = 99")
        .unwrap();
    let e = PgStore::open(&t)
        .err()
        .expect("a newer schema must be refused");
    assert!(e.to_string().contains("schema version 99 is newer"), "{e}");
}

#[test]
fn run_log_and_source_state_round_trip_as_in_sqlite() {
    let Some(pg) = pg_support::start_or_skip("PostgreSQL store") else {
        return;
    };
    let mut p = PgStore::open(&target(&pg)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("s.db")).unwrap();
    let counts = RunCounts {
        read: 10,
        inserted: 7,
        duplicates: 2,
        dead_lettered: 1,
        skipped: 0,
        cost_unknown: 3,
    };
    let file = FileState {
        path: "/logs/a.jsonl".into(),
        size: 4096,
        mtime_ns: 1_700_000_000_000_000_000,
        head_hash: vec![1; 32],
        tail_hash: vec![2; 32],
        offset: 4000,
        lines: 12,
        resumable: true,
    };
    let grown = FileState {
        size: 8192,
        offset: 8100,
        lines: 30,
        ..file.clone()
    };
    let cp = Checkpoint {
        start_time: "2025-07-10 10:00:00.123000".into(),
        request_id: "r-1".into(),
    };
    let stores: [&mut dyn LogAndState; 2] = [&mut p, &mut s];
    let mut seen = Vec::new();
    for st in stores {
        let a = st.start_run("ingest-traces", "a.jsonl").unwrap();
        st.finish_run(a, &counts, "ok", Some("{}")).unwrap();
        let b = st.start_run("ingest-litellm", "postgres://x").unwrap();
        assert!(b > a);
        let runs = st.recent_runs(10).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!((runs[0].id, runs[0].outcome.as_str()), (b, "running"));
        assert_eq!(
            (runs[1].counts.clone(), runs[1].outcome.as_str()),
            (counts.clone(), "ok")
        );
        assert!(runs[1].finished_at.is_some());
        assert_eq!(st.dead_letter_total().unwrap(), 1);
        st.save_input_files(std::slice::from_ref(&file)).unwrap();
        st.save_input_files(std::slice::from_ref(&grown)).unwrap();
        assert_eq!(st.input_files().unwrap(), vec![grown.clone()]);
        assert_eq!(st.litellm_checkpoint("src").unwrap(), None);
        st.set_litellm_checkpoint("src", &cp).unwrap();
        let cp2 = Checkpoint {
            request_id: "r-2".into(),
            ..cp.clone()
        };
        st.set_litellm_checkpoint("src", &cp2).unwrap();
        assert_eq!(st.litellm_checkpoint("src").unwrap(), Some(cp2));
        seen.push(
            runs.iter()
                .map(|r| (r.job.clone(), r.source.clone()))
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(seen[0], seen[1], "both stores log the same runs");
}

#[test]
fn commits_of_another_process_are_noticed_and_rows_read_back() {
    let Some(pg) = pg_support::start_or_skip("PostgreSQL store") else {
        return;
    };
    let t = target(&pg);
    let watcher = PgStore::open(&t).unwrap();
    let writer = PgStore::open(&t).unwrap();
    let before = watcher.change_counter().unwrap();
    let id = writer.start_run("ingest-traces", "x").unwrap();
    writer
        .finish_run(id, &RunCounts::default(), "ok", None)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut now = watcher.change_counter().unwrap();
    while now < before + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        now = watcher.change_counter().unwrap();
    }
    assert_eq!(now, before + 2, "one notification per commit");
    assert_eq!(watcher.change_counter().unwrap(), now, "nothing new");

    // Rows written by any writer read back per (repo, date) group.
    let mut c = pg.local_client();
    for (i, repo) in [Some("acme/api"), Some("acme/api"), None]
        .iter()
        .enumerate()
    {
        c.execute(
            "INSERT INTO traces (dedupe_key, source_format, timestamp_us, event_date, repo_slug,
                tokens_in, tokens_out, cache_read_tokens, cache_creation_tokens, is_error,
                cost_source, model)
             VALUES ($1, 'litellm-payload', $2, '2025-10-12', $3, 10, 2, 0, 0, false,
                'unknown', 'gpt-4o')",
            &[
                &vec![i as u8; 16],
                &(1_760_227_200_000_000i64 + i as i64),
                repo,
            ],
        )
        .unwrap();
    }
    let mut groups = watcher.trace_groups().unwrap();
    groups.sort_by(|a, b| a.repo.cmp(&b.repo));
    assert_eq!(
        groups
            .iter()
            .map(|g| (g.repo.as_deref(), g.rows))
            .collect::<Vec<_>>(),
        vec![(None, 1), (Some("acme/api"), 2)]
    );
    let mut got = Vec::new();
    watcher
        .for_each_trace_in(Some("acme/api"), groups[1].date, &mut |r| {
            got.push((r.dedupe_key[0], r.tokens_in, r.model.clone(), r.is_error));
            Ok(())
        })
        .unwrap();
    assert_eq!(
        got,
        vec![
            (0, 10, Some("gpt-4o".into()), false),
            (1, 10, Some("gpt-4o".into()), false)
        ]
    );
}

/// A stored value, read the same way from either store.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Val {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Columns of each compared table with their kinds (i integer, b boolean, r real, t text,
/// x bytes), the key columns first.
const TABLES: &[(&str, &str)] = &[
    ("rollup_cells", "repo t, hour i, developer t, model t, requests i, tokens i, cost_usd r, cost_unknown i, errors i, signal i, accepted i, accepted_tokens i, accepted_lines i, line_tokens i, diff_n i, diff_sum r, diff_high i, latency_lt_1s i, latency_1_2s i, latency_2_5s i, latency_5_10s i, latency_10_30s i, latency_30_60s i, latency_ge_60s i, ttft_n i, line_calls i, line_output_tokens i, latency_sketch x, ttft_sketch x"),
    ("rollup_errors", "repo t, hour i, developer t, model t, status i, error_class t, errors i"),
    ("rollup_sessions", "repo t, day i, developer t, session t, hours i, models t, requests i, tokens i, cost_usd r, cost_unknown i, errors i, first_us i, last_us i"),
    ("rollup_session_models", "repo t, day i, developer t, session t, model t, requests i, tokens i, cost_usd r, cost_unknown i, errors i, first_us i, last_us i"),
    ("traces", "dedupe_key x, call_id t, source_format t, timestamp_us i, event_date t, repo_slug t, developer_id t, session_id t, model t, tokens_in i, tokens_out i, cache_read_tokens i, cache_creation_tokens i, latency_ms r, ttft_ms r, status_code i, is_error b, error_class t, accepted b, diff_ratio r, accepted_lines i, cache_hit b, cost_usd r, cost_source t, git_branch t, is_sidechain b"),
    ("code_activity", "dedupe_key x, session_id t, timestamp_us i, kind t, tool_name t, decision t, value r, cumulative b, developer_id t"),
    ("input_files", "path t, size i, head_hash x, tail_hash x, offset i, lines i, resumable b"),
];

fn columns(spec: &str) -> Vec<(&str, &str)> {
    spec.split(',')
        .map(|c| c.trim().split_once(' ').unwrap())
        .collect()
}

fn sqlite_rows(db: &std::path::Path, table: &str, spec: &str) -> Vec<Vec<Val>> {
    let cols = columns(spec);
    let c = rusqlite::Connection::open(db).unwrap();
    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    let mut stmt = c
        .prepare(&format!("SELECT {} FROM {table}", names.join(", ")))
        .unwrap();
    let mut v: Vec<Vec<Val>> = stmt
        .query_map([], |r| {
            Ok(cols
                .iter()
                .enumerate()
                .map(|(i, (_, k))| match (r.get_ref(i).unwrap(), *k) {
                    (rusqlite::types::ValueRef::Null, _) => Val::Null,
                    (rusqlite::types::ValueRef::Integer(n), "i" | "b") => Val::Int(n),
                    (rusqlite::types::ValueRef::Integer(n), "r") => Val::Real(n as f64),
                    (rusqlite::types::ValueRef::Real(f), _) => Val::Real(f),
                    (rusqlite::types::ValueRef::Text(t), _) => {
                        Val::Text(String::from_utf8(t.to_vec()).unwrap())
                    }
                    (rusqlite::types::ValueRef::Blob(b), _) => Val::Blob(b.to_vec()),
                    (other, k) => panic!("{table}: {other:?} as {k}"),
                })
                .collect())
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

fn pg_rows(c: &mut postgres::Client, table: &str, spec: &str) -> Vec<Vec<Val>> {
    let cols = columns(spec);
    let names: Vec<String> = cols.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let rows = c
        .query(&format!("SELECT {} FROM {table}", names.join(", ")), &[])
        .unwrap();
    let mut v: Vec<Vec<Val>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .enumerate()
                .map(|(i, (_, k))| {
                    let some = |x: Option<Val>| x.unwrap_or(Val::Null);
                    match *k {
                        "i" => some(r.get::<_, Option<i64>>(i).map(Val::Int)),
                        "b" => some(r.get::<_, Option<bool>>(i).map(|b| Val::Int(b as i64))),
                        "r" => some(r.get::<_, Option<f64>>(i).map(Val::Real)),
                        "t" => some(r.get::<_, Option<String>>(i).map(Val::Text)),
                        _ => some(r.get::<_, Option<Vec<u8>>>(i).map(Val::Blob)),
                    }
                })
                .collect()
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

fn near(p: f64, q: f64) -> bool {
    (p - q).abs() <= 1e-9 * p.abs().max(1.0)
}

/// The same distribution: count, extremes and quantiles equal, sums equal up to rounding.
fn same_sketch(p: &[u8], q: &[u8]) -> bool {
    use prod_lens::stats::sketch::QuantileSketch;
    let (p, q) = (
        QuantileSketch::from_bytes(p).unwrap(),
        QuantileSketch::from_bytes(q).unwrap(),
    );
    let qs = [0.0, 0.1, 0.5, 0.9, 0.99, 1.0];
    p.count() == q.count()
        && p.min() == q.min()
        && p.max() == q.max()
        && qs.iter().all(|&x| p.quantile(x) == q.quantile(x))
        && near(p.sum().unwrap_or(0.0), q.sum().unwrap_or(0.0))
}

fn same(table: &str, a: &[Vec<Val>], b: &[Vec<Val>]) {
    assert_eq!(a.len(), b.len(), "{table}: row counts differ");
    for (x, y) in a.iter().zip(b) {
        let close = x.iter().zip(y).all(|(p, q)| match (p, q) {
            (Val::Real(p), Val::Real(q)) => near(*p, *q),
            // Sketches merged in another order may differ in the last bit of their sum.
            (Val::Blob(p), Val::Blob(q)) if p != q && table.starts_with("rollup") => {
                same_sketch(p, q)
            }
            _ => p == q,
        });
        assert!(close, "{table}: {x:?} != {y:?}");
    }
}

#[test]
fn the_same_inputs_give_the_same_rows_and_rollups_as_sqlite() {
    use prod_lens::ingest::{self, input, IngestOptions, NoProgress};
    let Some(pg) = pg_support::start_or_skip("PostgreSQL store") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A demo sample (sessions, errors, acceptance), Claude Code streaming copies (raises), the
    // LiteLLM payloads and Claude Code's OpenTelemetry logs (code activity).
    let sample = dir.path().join("sample.jsonl");
    let spec = prod_lens::sample::SampleSpec {
        lines: 6_000,
        ..prod_lens::sample::SampleSpec::demo()
    };
    prod_lens::sample::write_sample(&spec, &mut std::fs::File::create(&sample).unwrap()).unwrap();
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    // Claude Code's placeholder copies (output_tokens 1) in a file of their own, read first:
    // the final copies in the fixture's own files then raise the stored rows.
    let streaming = fixtures.join("claude_code/streaming/projects");
    let mut early = String::new();
    for d in std::fs::read_dir(&streaming).unwrap() {
        for f in std::fs::read_dir(d.unwrap().path()).unwrap() {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            for l in text.lines().filter(|l| l.contains("\"output_tokens\":1,")) {
                early.push_str(l);
                early.push('\n');
            }
        }
    }
    assert!(!early.is_empty());
    let early_file = dir.path().join("early.jsonl");
    std::fs::write(&early_file, early).unwrap();
    let paths = vec![
        early_file,
        sample,
        streaming,
        fixtures.join("litellm/standard_logging_payload.jsonl"),
        fixtures.join("otel/otlp_logs.jsonl"),
    ];
    let inputs = input::discover(&paths).unwrap();
    let mut opts = IngestOptions::new(dir.path().join("dead"));
    // Small batches: copies of one call land in different batches, and rollup rows are
    // raised and merged across commits.
    opts.batch_size = 700;
    let db = dir.path().join("s.db");
    let mut sqlite = Store::open(&db).unwrap();
    let mut pgs = PgStore::open(&target(&pg)).unwrap();
    let stores: [&mut dyn IngestStore; 2] = [&mut sqlite, &mut pgs];
    let mut summaries = Vec::new();
    for st in stores {
        let s = ingest::ingest(st, &inputs, &opts, &mut [], &NoProgress).unwrap();
        summaries.push((
            s.read,
            s.inserted,
            s.duplicates,
            s.raised,
            s.dead_lettered,
            s.activity,
        ));
    }
    assert_eq!(summaries[0], summaries[1]);
    assert!(
        summaries[0].1 > 5_000 && summaries[0].3 > 0,
        "{:?}",
        summaries[0]
    );
    let mut c = pg.local_client();
    for (table, spec) in TABLES {
        let (a, b) = (sqlite_rows(&db, table, spec), pg_rows(&mut c, table, spec));
        assert!(!a.is_empty(), "{table} is empty");
        same(table, &a, &b);
    }
    // A second run changes nothing in either: every input is remembered.
    let again = ingest::ingest(&mut pgs, &inputs, &opts, &mut [], &NoProgress).unwrap();
    assert_eq!(
        (again.read, again.inserted, again.files_skipped as usize),
        (0, 0, inputs.len())
    );
    // Re-reading everything (--full) inserts nothing and keeps the rollups exact.
    opts.full = true;
    let full = ingest::ingest(&mut pgs, &inputs, &opts, &mut [], &NoProgress).unwrap();
    assert_eq!(full.inserted, 0);
    for (table, spec) in TABLES.iter().filter(|t| t.0.starts_with("rollup")) {
        same(
            table,
            &sqlite_rows(&db, table, spec),
            &pg_rows(&mut c, table, spec),
        );
    }
    // What the writers kept is what a rebuild computes, for one repo and for all.
    let rollups = || TABLES.iter().filter(|t| t.0.starts_with("rollup"));
    let kept: Vec<_> = rollups()
        .map(|(table, spec)| pg_rows(&mut c, table, spec))
        .collect();
    let one = pgs.rebuild_rollups(Some("acme/api")).unwrap();
    assert!(one.traces > 0 && one.cells > 0, "{one:?}");
    let all = pgs.rebuild_rollups(None).unwrap();
    assert!(all.traces > one.traces, "{all:?}");
    for ((table, spec), before) in rollups().zip(&kept) {
        same(table, before, &pg_rows(&mut c, table, spec));
    }
}

#[test]
fn concurrent_writers_store_each_call_once_with_rollups_equal_to_their_rows() {
    use prod_lens::ingest::{self, input, IngestOptions, NoProgress};
    let Some(pg) = pg_support::start_or_skip("PostgreSQL store") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for seed in 0..4u64 {
        let f = dir.path().join(format!("part{seed}.jsonl"));
        let spec = prod_lens::sample::SampleSpec {
            lines: 2_500,
            seed,
            ..prod_lens::sample::SampleSpec::demo()
        };
        prod_lens::sample::write_sample(&spec, &mut std::fs::File::create(&f).unwrap()).unwrap();
        paths.push(f);
    }
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    paths.push(fixtures.join("claude_code/streaming/projects"));
    let inputs = input::discover(&paths).unwrap();
    // The reference: every input once, into SQLite.
    let db = dir.path().join("ref.db");
    let mut opts = IngestOptions::new(dir.path().join("dead"));
    opts.batch_size = 300;
    let reference = ingest::ingest(
        &mut Store::open(&db).unwrap(),
        &inputs,
        &opts,
        &mut [],
        &NoProgress,
    )
    .unwrap();
    // Four writers at once, each over every input in its own order, in small batches.
    let t = target(&pg);
    std::thread::scope(|s| {
        for w in 0..4 {
            let (t, inputs, opts) = (&t, &inputs, &opts);
            s.spawn(move || {
                let mut mine = inputs.clone();
                mine.rotate_left(w);
                let mut st = PgStore::open(t).unwrap();
                ingest::ingest(&mut st, &mine, opts, &mut [], &NoProgress).unwrap();
            });
        }
    });
    let pgs = PgStore::open(&t).unwrap();
    assert_eq!(pgs.trace_count().unwrap(), reference.inserted as i64);
    let mut c = pg.local_client();
    let sums = c
        .query_one(
            "SELECT SUM(tokens_in)::BIGINT, SUM(tokens_out)::BIGINT FROM traces",
            &[],
        )
        .unwrap();
    let (tin, tout): (i64, i64) = (sums.get(0), sums.get(1));
    let r = rusqlite::Connection::open(&db).unwrap();
    let (rin, rout): (i64, i64) = r
        .query_row(
            "SELECT SUM(tokens_in), SUM(tokens_out) FROM traces",
            [],
            |x| Ok((x.get(0)?, x.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (tin, tout),
        (rin, rout),
        "every call once, raised to its largest copy"
    );
    // The rollups the writers kept equal the rollups of the rows they left: those rows
    // written into a fresh SQLite store, whose rollups equal its rebuild (tested elsewhere).
    let rebuilt = dir.path().join("rebuilt.db");
    let mut fresh = Store::open(&rebuilt).unwrap();
    let mut rows = Vec::new();
    for g in pgs.trace_groups().unwrap() {
        pgs.for_each_trace_in(g.repo.as_deref(), g.date, &mut |rec| {
            rows.push(rec);
            Ok(())
        })
        .unwrap();
    }
    fresh.insert_traces(&rows, None).unwrap();
    for (table, spec) in TABLES.iter().filter(|t| t.0.starts_with("rollup")) {
        same(
            table,
            &sqlite_rows(&rebuilt, table, spec),
            &pg_rows(&mut c, table, spec),
        );
    }
}
