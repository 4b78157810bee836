//! Input kinds of `prod-lens ingest-traces`: gzip files, stdin (plain and gzipped), folders, and
//! a missing input.

mod common;

use common::*;

#[test]
fn gzip_file_ingests_like_the_plain_file() {
    let w = Work::new();
    let gz = w.write_gz("mixed.jsonl.gz", &mixed_bytes());
    let s = w.ingest(
        &w.path("x.db"),
        &[gz.to_str().unwrap(), "--repo", "acme/default"],
    );
    assert_eq!(counts(&s), MIXED_COUNTS, "{s}");
    assert_close(s["cost_usd"].as_f64().unwrap(), MIXED_COST);
    // The dead-letter stem drops `.jsonl.gz`; line numbers are those of the decompressed text.
    let dead = dead_letters(&w.path("dead-letter/mixed.deadletter.jsonl"));
    assert_eq!(dead.len(), 15);
    assert_eq!(dead[0]["line"], 5);
    assert_eq!(dead[14]["line"], 23);
}

#[test]
fn stdin_plain_and_gzipped() {
    let w = Work::new();
    let db = w.path("x.db");
    let s = w.ingest_stdin(&db, &["-", "--repo", "acme/default"], Some(mixed_bytes()));
    assert_eq!(counts(&s), MIXED_COUNTS, "{s}");
    let dead = dead_letters(&w.path("dead-letter/stdin.deadletter.jsonl"));
    assert_eq!(dead.len(), 15);
    assert!(dead.iter().all(|d| d["source"] == "-"));

    // The same bytes gzipped on stdin into a fresh database.
    let db2 = w.path("y.db");
    let s = w.ingest_stdin(
        &db2,
        &["-", "--repo", "acme/default"],
        Some(gzip(&mixed_bytes())),
    );
    assert_eq!(counts(&s), MIXED_COUNTS, "{s}");
    // Into the first database: all duplicates.
    let s = w.ingest_stdin(
        &db,
        &["-", "--repo", "acme/default"],
        Some(gzip(&mixed_bytes())),
    );
    assert_eq!((int(&s, "inserted"), int(&s, "duplicates")), (0, 6), "{s}");
    let runs: Vec<String> = open_db(&db)
        .prepare("SELECT source FROM etl_runs ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(runs, ["-", "-"]);
}

#[test]
fn concatenated_gzip_members_are_read_through() {
    let w = Work::new();
    let one = payload_line("m1");
    let two = payload_line("m2");
    let mut bytes = gzip(format!("{one}\n").as_bytes());
    bytes.extend(gzip(format!("{two}\n").as_bytes()));
    w.write("rotated.jsonl.gz", &bytes);
    let s = w.ingest(&w.path("x.db"), &["rotated.jsonl.gz"]);
    assert_eq!((int(&s, "read"), int(&s, "inserted")), (2, 2), "{s}");
}

#[test]
fn a_byte_order_mark_does_not_cost_the_first_line() {
    let w = Work::new();
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(format!("{}\n{}\n", payload_line("b1"), payload_line("b2")).as_bytes());
    w.write("bom.jsonl", &bytes);
    let s = w.ingest(&w.path("x.db"), &["bom.jsonl"]);
    assert_eq!((int(&s, "read"), int(&s, "inserted")), (2, 2), "{s}");
    // Gzipped, and on stdin, too.
    w.write("bom.jsonl.gz", &gzip(&bytes));
    let s = w.ingest(&w.path("y.db"), &["bom.jsonl.gz"]);
    assert_eq!(int(&s, "inserted"), 2, "{s}");
    let s = w.ingest_stdin(&w.path("z.db"), &["-"], Some(bytes));
    assert_eq!(int(&s, "inserted"), 2, "{s}");
}

fn payload_line(call_id: &str) -> String {
    format!(
        r#"{{"litellm_call_id":"{call_id}","startTime":1760295600.0,"endTime":1760295601.0,"status":"success","model":"gpt-4o","prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"response_cost":0.000045}}"#
    )
}

#[test]
fn folders_are_walked_and_only_trace_files_read() {
    let w = Work::new();
    w.write(
        "logs/a.jsonl",
        format!("{}\n", payload_line("a1")).as_bytes(),
    );
    w.write_gz(
        "logs/sub/b.jsonl.gz",
        format!("{}\n{}\n", payload_line("b1"), payload_line("b2")).as_bytes(),
    );
    w.write(
        "logs/sub/deeper/c.JSONL",
        format!("{}\nnot json\n", payload_line("c1")).as_bytes(),
    );
    // Not trace files: they would insert or dead-letter if they were read.
    w.write("logs/notes.txt", b"not json at all\n");
    w.write(
        "logs/d.json",
        format!("{}\n", payload_line("d1")).as_bytes(),
    );
    w.write(
        "logs/sub/e.jsonl.bak",
        format!("{}\n", payload_line("e1")).as_bytes(),
    );
    w.write(
        "logs/sub/f.gz",
        &gzip(format!("{}\n", payload_line("f1")).as_bytes()),
    );

    let s = w.ingest(&w.path("x.db"), &["logs", "--repo", "acme/api"]);
    assert_eq!(
        (
            int(&s, "inputs"),
            int(&s, "read"),
            int(&s, "inserted"),
            int(&s, "dead_lettered")
        ),
        (3, 5, 4, 1),
        "{s}"
    );
    let ids: Vec<String> = open_db(&w.path("x.db"))
        .prepare("SELECT call_id FROM traces ORDER BY call_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, ["a1", "b1", "b2", "c1"]);
    let dead = dead_letters(&w.path("dead-letter/c.deadletter.jsonl"));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["line"], 2);
    assert!(dead[0]["reason"].as_str().unwrap().contains("invalid JSON"));
}

#[test]
fn missing_input_exits_2_with_one_line_naming_it() {
    let w = Work::new();
    w.write("ok.jsonl", format!("{}\n", payload_line("x")).as_bytes());
    let before = w.tree();
    for args in [
        vec!["nope.jsonl"],
        vec!["ok.jsonl", "missing-dir/nope.jsonl"],
    ] {
        let out = w.cmd().arg("ingest-traces").args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("nope.jsonl"), "{stderr}");
        assert!(out.stdout.is_empty());
        // A missing input stops the run before the database or dead letters are created.
        assert_eq!(w.tree(), before);
    }
}

#[test]
fn folder_without_trace_files_exits_2() {
    let w = Work::new();
    w.write("empty/readme.txt", b"nothing here\n");
    let out = w.cmd().args(["ingest-traces", "empty"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("empty"), "{stderr}");
    assert!(!w.path(".prod-lens").exists());
}

#[test]
fn truncated_gzip_keeps_what_was_read_and_dead_letters_the_break() {
    let w = Work::new();
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&payload_line(&format!("t{i}")));
        text.push('\n');
    }
    let gz = gzip(text.as_bytes());
    w.write("cut.jsonl.gz", &gz[..gz.len() - 200]);
    let s = w.ingest(&w.path("x.db"), &["cut.jsonl.gz"]);
    let inserted = int(&s, "inserted");
    assert!(inserted > 0 && inserted < 2000, "{s}");
    // Nothing is lost silently: every complete line before the break is stored, and the break
    // itself is one dead letter at the first line not read whole.
    let dead = dead_letters(&w.path("dead-letter/cut.deadletter.jsonl"));
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(dead[0]["reason"].as_str().unwrap().contains("read error"));
    assert_eq!(dead[0]["line"].as_i64(), Some(inserted + 1));
    assert_eq!(int(&s, "read"), inserted);
    assert_eq!(
        query_i64(&open_db(&w.path("x.db")), "SELECT COUNT(*) FROM traces"),
        inserted
    );
}
