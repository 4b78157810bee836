//! Incremental `ingest-traces`: unchanged files are skipped, appended files resumed where the
//! last run stopped, rewritten, shortened, touched or gzip files read again, renamed files
//! recognised, and `--full` reads everything; many files go through one pipeline.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;

/// One LiteLLM call line (unique id `call-<i>`), without its newline.
fn call(i: u32) -> String {
    format!(
        r#"{{"litellm_call_id":"call-{i}","startTime":{},"endTime":{},"status":"success","prompt_tokens":10,"completion_tokens":{i},"total_tokens":{},"model":"gpt-4o","metadata":{{"requester_metadata":{{"repo":"acme/api"}}}}}}"#,
        1_760_299_200 + i,
        1_760_299_201 + i,
        10 + i
    )
}

/// Lines `from..to` as JSONL, each ending in a newline.
fn calls(from: u32, to: u32) -> String {
    (from..to).map(|i| call(i) + "\n").collect()
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// (read, inserted, duplicates, files_skipped, files_resumed) of a summary.
fn shape(s: &serde_json::Value) -> [i64; 5] {
    [
        int(s, "read"),
        int(s, "inserted"),
        int(s, "duplicates"),
        int(s, "files_skipped"),
        int(s, "files_resumed"),
    ]
}

fn rows(db: &Path) -> i64 {
    query_i64(&open_db(db), "SELECT COUNT(*) FROM traces")
}

#[test]
fn unchanged_files_are_skipped_and_full_reads_them_again() {
    let w = Work::new();
    let db = w.path("x.db");
    w.write("logs/a.jsonl", calls(0, 5).as_bytes());
    w.write("logs/b.jsonl", calls(5, 8).as_bytes());
    let logs = w.path("logs");
    let logs = logs.to_str().unwrap();
    let s = w.ingest(&db, &[logs, "--no-parquet"]);
    assert_eq!(shape(&s), [8, 8, 0, 0, 0], "{s}");
    assert_eq!(int(&s, "inputs"), 2);
    let s = w.ingest(&db, &[logs, "--no-parquet"]);
    assert_eq!(shape(&s), [0, 0, 0, 2, 0], "{s}");
    assert_eq!(int(&s, "inputs"), 0);
    // The same files named another way (relative to the working folder) are the same files.
    let s = w.ingest(&db, &["logs/a.jsonl", "--no-parquet"]);
    assert_eq!(shape(&s), [0, 0, 0, 1, 0], "{s}");
    let s = w.ingest(&db, &[logs, "--no-parquet", "--full"]);
    assert_eq!(shape(&s), [8, 0, 8, 0, 0], "{s}");
    assert_eq!(rows(&db), 8);
    // The human summary says what was skipped.
    let out = run_ok(
        w.cmd()
            .arg("--db")
            .arg(&db)
            .args(["ingest-traces", logs, "--no-parquet"]),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 unchanged and skipped"), "{text}");
}

#[test]
fn appended_files_resume_with_the_right_line_numbers() {
    let w = Work::new();
    let db = w.path("x.db");
    let f = w.write("a.jsonl", calls(0, 5).as_bytes());
    let a = f.to_str().unwrap();
    assert_eq!(shape(&w.ingest(&db, &[a, "--no-parquet"])), [5, 5, 0, 0, 0]);
    append(&f, &(calls(5, 8) + "{broken\n" + &call(8) + "\n"));
    let s = w.ingest(&db, &[a, "--no-parquet"]);
    // Only the new lines are read: 3 calls, a broken line, one more call.
    assert_eq!(shape(&s), [5, 4, 0, 0, 1], "{s}");
    let dead = dead_letters(&w.path("dead-letter/a.deadletter.jsonl"));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["line"], 9, "numbered as in the whole file");
    assert_eq!(rows(&db), 9);
    // Nothing new since: skipped.
    assert_eq!(shape(&w.ingest(&db, &[a, "--no-parquet"])), [0, 0, 0, 1, 0]);
}

#[test]
fn a_last_line_without_newline_is_read_again_when_the_file_grows() {
    let w = Work::new();
    let db = w.path("x.db");
    // The writer was cut mid-line: the half line is dead-lettered, the rest kept.
    let half = call(3);
    let (first, second) = half.split_at(40);
    let f = w.write("a.jsonl", (calls(0, 3) + first).as_bytes());
    let a = f.to_str().unwrap();
    let s = w.ingest(&db, &[a, "--no-parquet"]);
    assert_eq!(
        [int(&s, "inserted"), int(&s, "dead_lettered")],
        [3, 1],
        "{s}"
    );
    // It finishes the line and writes another: the completed line is read from its start.
    append(&f, &(second.to_string() + "\n" + &call(4) + "\n"));
    let s = w.ingest(&db, &[a, "--no-parquet"]);
    assert_eq!(shape(&s), [2, 2, 0, 0, 1], "{s}");
    assert_eq!(rows(&db), 5);
    // A complete last line without a newline is stored, and read again (a duplicate) on resume.
    let g = w.write("b.jsonl", (calls(10, 12) + &call(12)).as_bytes());
    let b = g.to_str().unwrap();
    assert_eq!(int(&w.ingest(&db, &[b, "--no-parquet"]), "inserted"), 3);
    append(&g, &("\n".to_string() + &call(13) + "\n"));
    let s = w.ingest(&db, &[b, "--no-parquet"]);
    assert_eq!(shape(&s), [2, 1, 1, 0, 1], "{s}");
}

#[test]
fn rewritten_truncated_and_touched_files_are_read_again() {
    let w = Work::new();
    let db = w.path("x.db");
    let f = w.write("a.jsonl", calls(0, 10).as_bytes());
    let a = f.to_str().unwrap();
    w.ingest(&db, &[a, "--no-parquet"]);
    // Truncated and rewritten shorter: three old lines and a new one.
    std::fs::write(&f, calls(0, 3) + &call(50) + "\n").unwrap();
    let s = w.ingest(&db, &[a, "--no-parquet"]);
    assert_eq!(shape(&s), [4, 1, 3, 0, 0], "{s}");
    // Rewritten longer with other content (the start differs): read whole, not resumed.
    std::fs::write(&f, calls(100, 120)).unwrap();
    let s = w.ingest(&db, &[a, "--no-parquet"]);
    assert_eq!(shape(&s), [20, 20, 0, 0, 0], "{s}");
    // Rewritten longer with the same start but a changed line before the old end.
    let mut text = calls(100, 120);
    text = text.replacen("\"completion_tokens\":110", "\"completion_tokens\":999", 1);
    text += &calls(120, 122);
    std::fs::write(&f, text).unwrap();
    let s = w.ingest(&db, &[a, "--no-parquet"]);
    assert_eq!(int(&s, "files_resumed"), 0, "{s}");
    assert_eq!(int(&s, "read"), 22, "{s}");
    // Touched, same bytes: read again (all duplicates) rather than guessed unchanged.
    let t = std::fs::File::options().write(true).open(&f).unwrap();
    t.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(t);
    let s = w.ingest(&db, &[a, "--no-parquet"]);
    assert_eq!(shape(&s), [22, 0, 22, 0, 0], "{s}");
    assert_eq!(rows(&db), 10 + 1 + 20 + 2);
}

#[test]
fn renamed_files_are_recognised_and_gzip_files_are_read_whole_when_they_change() {
    let w = Work::new();
    let db = w.path("x.db");
    w.write("logs/a.jsonl", calls(0, 6).as_bytes());
    let logs = w.path("logs");
    let logs = logs.to_str().unwrap();
    w.ingest(&db, &[logs, "--no-parquet"]);
    std::fs::rename(w.path("logs/a.jsonl"), w.path("logs/renamed.jsonl")).unwrap();
    let s = w.ingest(&db, &[logs, "--no-parquet"]);
    assert_eq!(shape(&s), [0, 0, 0, 1, 0], "{s}");
    // Renamed and grown: read again whole (the dedupe keeps the rows exact).
    std::fs::rename(w.path("logs/renamed.jsonl"), w.path("logs/b.jsonl")).unwrap();
    append(&w.path("logs/b.jsonl"), &calls(6, 8));
    let s = w.ingest(&db, &[logs, "--no-parquet"]);
    assert_eq!(shape(&s), [8, 2, 6, 0, 0], "{s}");
    assert_eq!(rows(&db), 8);

    let gz = w.write_gz("z.jsonl.gz", calls(20, 24).as_bytes());
    let z = gz.to_str().unwrap();
    assert_eq!(shape(&w.ingest(&db, &[z, "--no-parquet"])), [4, 4, 0, 0, 0]);
    assert_eq!(shape(&w.ingest(&db, &[z, "--no-parquet"])), [0, 0, 0, 1, 0]);
    w.write_gz("z.jsonl.gz", calls(20, 26).as_bytes());
    let s = w.ingest(&db, &[z, "--no-parquet"]);
    assert_eq!(shape(&s), [6, 2, 4, 0, 0], "{s}");
}

#[test]
fn many_files_stream_through_one_run() {
    let w = Work::new();
    let db = w.path("x.db");
    for f in 0..300u32 {
        let mut text = calls(f * 10, f * 10 + 10);
        if f % 50 == 7 {
            text.push_str("not json\n");
        }
        w.write(&format!("tree/p{}/s{f:03}.jsonl", f % 7), text.as_bytes());
    }
    let tree = w.path("tree");
    let s = w.ingest(&db, &[tree.to_str().unwrap(), "--no-parquet"]);
    assert_eq!(shape(&s), [3006, 3000, 0, 0, 0], "{s}");
    assert_eq!(int(&s, "inputs"), 300);
    // Each bad line is dead-lettered in its own file's queue, with its own line number.
    let files = s["dead_letter_files"].as_array().unwrap();
    assert_eq!(files.len(), 6, "{s}");
    let dead = dead_letters(&w.path("dead-letter/s007.deadletter.jsonl"));
    assert_eq!((dead.len(), dead[0]["line"].as_i64()), (1, Some(11)));
    assert!(dead[0]["source"].as_str().unwrap().ends_with("s007.jsonl"));
    // The run is recorded with a short source, not 300 paths.
    let source: String = open_db(&db)
        .query_row("SELECT source FROM etl_runs", [], |r| r.get(0))
        .unwrap();
    assert!(source.ends_with("(300 inputs)"), "{source}");
    let remembered = query_i64(&open_db(&db), "SELECT COUNT(*) FROM input_files");
    assert_eq!(remembered, 300);
    // A second run reads nothing, a third after one append reads one file's new lines.
    let s = w.ingest(&db, &[tree.to_str().unwrap(), "--no-parquet"]);
    assert_eq!(shape(&s), [0, 0, 0, 300, 0], "{s}");
    append(&w.path("tree/p3/s150.jsonl"), &calls(5000, 5002));
    let s = w.ingest(&db, &[tree.to_str().unwrap(), "--no-parquet"]);
    assert_eq!(shape(&s), [2, 2, 0, 299, 1], "{s}");
}
