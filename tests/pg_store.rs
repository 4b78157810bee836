//! The PostgreSQL store against a real server started by the test (`pg_support`): migrations
//! once under concurrent opens, the run log, source state, change notifications and row reads
//! behave as the SQLite store's do.

mod pg_support;

use prod_lens::ingest::files::FileState;
use prod_lens::pg::PgTarget;
use prod_lens::store::postgres::PgStore;
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
    assert!(opened.iter().all(|s| s.schema_version().unwrap() == 1));
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
