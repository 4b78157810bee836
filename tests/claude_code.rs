//! Claude Code local logs end to end: the generated `~/.claude/projects` trees in
//! `tests/fixtures/claude_code/` (see `tools/gen_claude_code_logs.py`, which also says how the
//! ccusage numbers were produced) ingested by the real binary, per-day totals read back from the
//! real SQLite file.

mod common;

use common::{int, open_db, query_i64, Work};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture(variant: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/claude_code")
        .join(variant)
}

/// Per-day `[input, output, cache creation, cache read, total]` in ccusage's terms (input
/// without cache tokens).
type Daily = BTreeMap<String, [i64; 5]>;

fn daily_fixture(path: &Path) -> Daily {
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    v["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let n = |k: &str| d[k].as_i64().unwrap();
            (
                d["date"].as_str().unwrap().to_string(),
                [
                    n("inputTokens"),
                    n("outputTokens"),
                    n("cacheCreationTokens"),
                    n("cacheReadTokens"),
                    n("totalTokens"),
                ],
            )
        })
        .collect()
}

fn daily_store(db: &Path) -> Daily {
    let c = open_db(db);
    let mut stmt = c
        .prepare(
            "SELECT event_date, SUM(tokens_in - cache_read_tokens - cache_creation_tokens),
                    SUM(tokens_out), SUM(cache_creation_tokens), SUM(cache_read_tokens),
                    SUM(tokens_in + tokens_out)
             FROM traces WHERE source_format = 'claude-code' GROUP BY event_date",
        )
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?],
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn ingest_claude_code(w: &Work, db: &Path, config_dirs: &str, extra: &[&str]) -> Value {
    let out = common::run_ok(
        w.cmd()
            .env("CLAUDE_CONFIG_DIR", config_dirs)
            .env("HOME", w.path("home"))
            .arg("--db")
            .arg(db)
            .args(["ingest-traces", "--json", "--claude-code", "--no-parquet"])
            .args(extra),
    );
    common::single_json_object(&String::from_utf8(out.stdout).unwrap())
}

#[test]
fn daily_totals_equal_ccusage_when_its_rule_and_ours_agree() {
    let w = Work::new();
    let db = w.path("p.db");
    let dir = fixture("compatible");
    // Several folders, comma-separated, one of them missing: still read like ccusage does.
    let dirs = format!("{},{}", dir.display(), w.path("nowhere").display());
    let s = ingest_claude_code(&w, &db, &dirs, &[]);
    assert_eq!(int(&s, "dead_lettered"), 0);
    assert!(
        int(&s, "skipped") > 0,
        "user, summary, synthetic and API error lines"
    );
    assert!(int(&s, "duplicates") > 0, "streaming copies");
    let want = daily_fixture(&dir.join("ccusage_daily.json"));
    assert_eq!(want.len(), 4);
    assert_eq!(daily_store(&db), want);
    // A second run adds nothing.
    let again = ingest_claude_code(&w, &db, &dirs, &[]);
    assert_eq!(int(&again, "inserted"), 0);
    assert_eq!(daily_store(&db), want);
}

#[test]
fn placeholder_copies_and_missing_request_ids_count_once_with_final_tokens() {
    let w = Work::new();
    let db = w.path("p.db");
    let dir = fixture("streaming");
    let s = w.ingest(
        &db,
        &[dir.join("projects").to_str().unwrap(), "--no-parquet"],
    );
    let truth = daily_fixture(&dir.join("truth_daily.json"));
    assert_eq!(daily_store(&db), truth);
    let ccusage = daily_fixture(&dir.join("ccusage_daily.json"));
    for (day, t) in &truth {
        let c = ccusage[day];
        // ccusage 18 keeps the first (placeholder) copy and does not dedupe without requestId:
        // fewer output tokens, more input and cache tokens than were really used.
        assert!(
            c[1] < t[1] && c[0] > t[0] && c[3] > t[3],
            "{day}: {c:?} vs {t:?}"
        );
    }
    let total: i64 = truth.values().map(|d| d[4]).sum();
    assert_eq!(
        int(&s, "tokens_in") + int(&s, "tokens_out"),
        total,
        "summary sums"
    );
}

/// The early copies of a message ingested in one run, the final copy in a later one: the stored
/// row is raised to the final counts, the summary counts the difference, the lake is not
/// duplicated.
#[test]
fn a_later_run_raises_a_stored_placeholder_copy() {
    let w = Work::new();
    let db = w.path("p.db");
    let src = fixture("streaming").join("projects");
    let file = std::fs::read_dir(src.join("-home-dev-work-api"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    let early: String = text
        .lines()
        .filter(|l| !l.contains("\"stop_reason\":\"end_turn\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let partial = w.write("early/s.jsonl", early.as_bytes());
    let first = w.ingest(&db, &[partial.to_str().unwrap()]);
    let full = w.write("full/s.jsonl", text.as_bytes());
    let second = w.ingest(&db, &[full.to_str().unwrap()]);
    assert!(int(&second, "raised") > 0, "{second}");
    let c = open_db(&db);
    let stored_out = query_i64(&c, "SELECT SUM(tokens_out) FROM traces");
    assert_eq!(
        int(&first, "tokens_out") + int(&second, "tokens_out"),
        stored_out,
        "run summaries add up to what is stored"
    );
    let check = w
        .cmd()
        .arg("--db")
        .arg(&db)
        .args(["lake", "check", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        check.status.code(),
        Some(0),
        "lake rows = stored rows: {}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn cwd_branch_and_repo_from_flag_map_or_git_remote() {
    let w = Work::new();
    let db = w.path("p.db");
    let proj = w.path("checkouts/tool");
    std::fs::create_dir_all(proj.join(".git")).unwrap();
    std::fs::write(
        proj.join(".git/config"),
        "[remote \"origin\"]\n\turl = git@github.com:acme/tool.git\n",
    )
    .unwrap();
    let line = |cwd: &str, id: &str| {
        format!(
            "{{\"sessionId\":\"s-{id}\",\"type\":\"assistant\",\"timestamp\":\"2025-07-10T10:00:00Z\",\
             \"cwd\":{cwd:?},\"gitBranch\":\"feat/{id}\",\"isSidechain\":false,\"requestId\":\"r-{id}\",\
             \"message\":{{\"id\":\"m-{id}\",\"model\":\"claude-sonnet-4-20250514\",\
             \"usage\":{{\"input_tokens\":1,\"output_tokens\":2}}}}}}\n"
        )
    };
    let logs = [
        line(proj.to_str().unwrap(), "git"),
        line("/srv/mono/service-a", "map"),
        line("/elsewhere", "none"),
    ]
    .concat();
    let f = w.write("projects/x/s.jsonl", logs.as_bytes());
    let map = w.write("repos.txt", b"# prefix repo\n/srv/mono acme/mono\n");
    w.ingest(
        &db,
        &[
            f.to_str().unwrap(),
            "--repo-map",
            map.to_str().unwrap(),
            "--no-parquet",
        ],
    );
    let c = open_db(&db);
    let rows: Vec<(String, Option<String>, String, String)> = c
        .prepare("SELECT session_id, repo_slug, cwd, git_branch FROM traces ORDER BY session_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows[0].0, "s-git");
    assert_eq!(rows[0].1.as_deref(), Some("acme/tool"));
    assert_eq!(rows[0].3, "feat/git");
    assert_eq!(rows[1].1.as_deref(), Some("acme/mono"));
    assert_eq!(rows[1].2, "/srv/mono/service-a");
    assert_eq!(rows[2].1, None);
    // --repo comes first.
    let db2 = w.path("q.db");
    w.ingest(
        &db2,
        &[f.to_str().unwrap(), "--repo", "o/forced", "--no-parquet"],
    );
    let c2 = open_db(&db2);
    assert_eq!(
        query_i64(
            &c2,
            "SELECT COUNT(*) FROM traces WHERE repo_slug = 'o/forced'"
        ),
        3
    );
}
