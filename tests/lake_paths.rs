//! Path traversal attempts — in `--repo`, in records' repo fields, or in records handed to the
//! lake directly — never create a file outside the lake. Asserted on the whole file tree.

mod lake_support;

use chrono::{TimeZone, Utc};
use lake_support::*;
use prod_lens::lake::{BufferLimits, LakeOptions, LakeSink};
use prod_lens::record::{SourceFormat, TraceRecord};
use prod_lens::sinks::RecordSink;
use std::path::Path;
use std::process::Command;

const HOSTILE: [&str; 9] = [
    "../../etc/passwd",
    "../outside",
    "/abs/x",
    "a/b/c",
    "a\\\\b",
    "acme/../../x",
    "..",
    "acme/..",
    "repo=x/../../../y",
];

fn seed_line(repo: &str, i: usize) -> String {
    format!(
        r#"{{"timestamp":"2025-10-0{}T10:00:00Z","usage":{{"input_tokens":{},"output_tokens":5,"total_tokens":{}}},"attributes":{{"llm.model_name":"gpt-4o"}},"metadata":{{"repo":"{repo}","developer_id":"dev-{i}"}}}}"#,
        1 + i % 5,
        100 + i,
        105 + i
    )
}

/// Every file under `root` is inside `root/<sub>` except the ones listed in `allowed`.
fn assert_only_inside(root: &Path, lake_sub: &str, allowed: &[&str]) {
    for f in tree(root) {
        if allowed
            .iter()
            .any(|a| f == *a || f.starts_with(&format!("{a}/")))
        {
            continue;
        }
        let rel = f
            .strip_prefix(&format!("{lake_sub}/"))
            .unwrap_or_else(|| panic!("file outside the lake: {f}"));
        let parts: Vec<&str> = rel.split('/').collect();
        match parts.as_slice() {
            [name] => assert!(name.starts_with('.'), "unexpected lake root file {f}"),
            [repo, date, name] => {
                assert!(repo.starts_with("repo=") && !repo.contains(".."), "{f}");
                assert!(date.starts_with("date=") && !date.contains(".."), "{f}");
                assert!(
                    name.starts_with("part-") && name.ends_with(".parquet"),
                    "{f}"
                );
            }
            _ => panic!("unexpected lake path {f}"),
        }
    }
}

#[test]
fn hostile_repo_flag_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let input = work.join("in.jsonl");
    std::fs::write(&input, format!("{}\n", seed_line("acme/api", 1))).unwrap();
    for bad in ["../../etc/passwd", "/abs", "a/b/c", "a\\b", "..", "acme/.."] {
        let out = Command::new(bin())
            .current_dir(&work)
            .args([
                "--db",
                "db/cache.db",
                "ingest-traces",
                "--repo",
                bad,
                "--quiet",
            ])
            .arg(&input)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("invalid repo slug"));
    }
    assert_eq!(tree(tmp.path()), ["work/in.jsonl"]);
}

#[test]
fn hostile_repo_fields_in_records_stay_out_of_the_file_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("a/b/work");
    std::fs::create_dir_all(&work).unwrap();
    let mut text = String::new();
    for (i, bad) in HOSTILE.iter().enumerate() {
        text += &seed_line(bad, i);
        text.push('\n');
    }
    for i in 0..5 {
        text += &seed_line("acme/api", 100 + i);
        text.push('\n');
        text += &seed_line("o.k/re-po_1", 200 + i);
        text.push('\n');
    }
    std::fs::write(work.join("in.jsonl"), text).unwrap();
    let out = Command::new(bin())
        .current_dir(&work)
        .args([
            "--db",
            "db/cache.db",
            "ingest-traces",
            "in.jsonl",
            "--repo",
            "acme/default",
            "--parquet-dir",
            "lake",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dead_lettered"], HOSTILE.len());
    assert_eq!(v["inserted"], 10);
    assert_eq!(v["lake"]["rows"], 10);
    assert_only_inside(&work, "lake", &["in.jsonl", "db"]);
    // Nothing appeared above the working folder.
    assert_eq!(
        tree(tmp.path())
            .iter()
            .filter(|f| !f.starts_with("a/b/work/"))
            .count(),
        0
    );
    let repos: Vec<String> = std::fs::read_dir(work.join("lake"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("repo="))
        .collect();
    let mut repos = repos;
    repos.sort();
    assert_eq!(repos, ["repo=acme__api", "repo=o.k__re-po_1"]);
}

fn record(key: u8, repo: &str) -> TraceRecord {
    let ts = Utc.with_ymd_and_hms(2025, 10, 1, 9, 0, 0).unwrap();
    let mut r = prod_lens::sources::blank(SourceFormat::SeedSpan, ts);
    r.dedupe_key = [key; 16];
    r.repo_slug = Some(repo.to_string());
    r.tokens_in = 1;
    r.tokens_out = 1;
    r
}

#[test]
fn records_that_bypass_validation_still_land_inside_the_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("x/lake");
    let mut sink = LakeSink::open(LakeOptions {
        root: lake.clone(),
        db: tmp.path().join("x/none.db").into(),
        limits: BufferLimits::default(),
    })
    .unwrap();
    let recs: Vec<TraceRecord> = HOSTILE
        .iter()
        .chain(
            [
                "../../../../../../tmp/escape",
                "acme/api\0",
                "acme/api/../../..",
            ]
            .iter(),
        )
        .enumerate()
        .map(|(i, r)| record(i as u8, r))
        .collect();
    sink.write_new(recs.clone()).unwrap();
    sink.finish().unwrap();
    assert_only_inside(tmp.path(), "x/lake", &[]);
    let c = lake_count(&lake);
    assert_eq!(c.rows, recs.len() as u64);
    let parts: Vec<String> = tree(&lake)
        .into_iter()
        .filter(|f| f.ends_with(".parquet"))
        .collect();
    assert!(
        parts
            .iter()
            .all(|f| f.starts_with("repo=__invalid__/date=2025-10-01/")),
        "{parts:?}"
    );
}
