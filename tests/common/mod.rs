//! Shared helpers of the integration tests: a temporary working folder, the real `prod-lens`
//! binary run in it, the real SQLite file it writes, and the mixed-shape input with its expected
//! outcome line by line.

#![allow(dead_code)]

use assert_cmd::Command;
use flate2::{write::GzEncoder, Compression};
use rusqlite::Connection;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use tempfile::TempDir;

/// The integer keys `ingest-traces --json` promises (scripts depend on them).
pub const SUMMARY_INT_KEYS: [&str; 10] = [
    "read",
    "inserted",
    "duplicates",
    "dead_lettered",
    "cost_unknown",
    "skipped",
    "tokens_in",
    "tokens_out",
    "cache_read_tokens",
    "cache_creation_tokens",
];

/// A temporary working folder in which `prod-lens` runs.
pub struct Work {
    dir: TempDir,
}

impl Work {
    /// A fresh, empty folder.
    pub fn new() -> Self {
        Work {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes `bytes` to `rel` (parents created) and returns the path.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Writes `bytes` gzipped to `rel` and returns the path.
    pub fn write_gz(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        self.write(rel, &gzip(bytes))
    }

    /// `prod-lens` with the folder as working directory and no database or log settings
    /// inherited from the environment.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_prod-lens"));
        c.current_dir(self.root())
            .env_remove("PRODLENS_DB")
            .env_remove("RUST_LOG");
        c
    }

    /// Runs `ingest-traces --json --db <db> <args…>`, asserts exit 0, an empty stderr and a
    /// single-line stdout, and returns the summary object.
    pub fn ingest(&self, db: &Path, args: &[&str]) -> Value {
        self.ingest_stdin(db, args, None)
    }

    /// Like [`Work::ingest`], with bytes piped to stdin.
    pub fn ingest_stdin(&self, db: &Path, args: &[&str], stdin: Option<Vec<u8>>) -> Value {
        let mut c = self.cmd();
        c.arg("--db").arg(db).arg("ingest-traces").arg("--json");
        c.args(args);
        if let Some(bytes) = stdin {
            c.write_stdin(bytes);
        }
        let out = c.output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
        assert_eq!(stderr, "", "nothing on stderr when it is not a terminal");
        single_json_object(&stdout)
    }

    /// Every file and folder below the root, as sorted `/`-separated relative paths.
    pub fn tree(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(self.root(), self.root(), &mut out);
        out.sort();
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let rel = p
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if p.is_dir() {
            out.push(format!("{rel}/"));
            walk(root, &p, out);
        } else {
            out.push(rel);
        }
    }
}

/// Runs a command and asserts it exited 0, showing its stderr otherwise.
pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Parses stdout that must be exactly one JSON object on one line, and returns it.
pub fn single_json_object(stdout: &str) -> Value {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stdout, got {stdout:?}");
    assert!(stdout.ends_with('\n'));
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert!(v.is_object(), "{v}");
    v
}

/// Gzip-compresses bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// An integer field of a summary.
pub fn int(v: &Value, key: &str) -> i64 {
    v[key]
        .as_i64()
        .unwrap_or_else(|| panic!("{key} is not an integer in {v}"))
}

/// The summary's integer counters, in [`SUMMARY_INT_KEYS`] order.
pub fn counts(v: &Value) -> Vec<i64> {
    SUMMARY_INT_KEYS.iter().map(|k| int(v, k)).collect()
}

/// Opens a database file written by the binary.
pub fn open_db(path: &Path) -> Connection {
    assert!(path.is_file(), "no database at {}", path.display());
    Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

/// A single integer from a query.
pub fn query_i64(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every entry of a dead-letter file.
pub fn dead_letters(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The real LiteLLM fixture (16 StandardLoggingPayload lines from litellm 1.110.2).
pub fn litellm_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/litellm/standard_logging_payload.jsonl")
}

/// Line `n` (1-based) of the LiteLLM fixture, without its newline.
pub fn fixture_line(n: usize) -> Vec<u8> {
    let all = std::fs::read(litellm_fixture()).unwrap();
    all.split(|b| *b == b'\n').nth(n - 1).unwrap().to_vec()
}

/// What one line of [`MIXED`] must turn into.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Want {
    /// A stored row.
    Insert,
    /// A valid line that is not an LLM call.
    Skip,
    /// A blank line: not read, not counted.
    Blank,
    /// A dead letter whose reason contains the text.
    Dead(&'static str),
}

/// A file mixing the three shapes with every kind of malformed line, each with its outcome.
/// Line 19 ends in `\r\n`; the last line has no newline.
pub const MIXED: &[(&[u8], Want)] = &[
    // 1: seed span, repo in metadata; estimated at claude-3-sonnet prices (8.1e-4).
    (br#"{"timestamp":"2025-10-12T19:00:00Z","usage":{"input_tokens":120,"output_tokens":30,"total_tokens":150},"attributes":{"llm.model_name":"claude-3-sonnet","latency_ms":850,"status_code":200,"prod_lens.accepted":"yes"},"metadata":{"repo":"acme/api","session_id":"_session_alpha","developer_id":"dev-1"}}"#, Want::Insert),
    // 2: LiteLLM logger, offset + stray Z timestamp; estimated at gpt-4o prices (4.5e-3).
    (br#"{"timestamp":"2025-10-12T19:05:00.123456+00:00Z","model":"gpt-4o","call_type":"completion","usage":{"prompt_tokens":1000,"completion_tokens":200,"total_tokens":1200},"latency_ms":1234.5,"status":"success","status_code":200,"error":null,"metadata":{"repo":"acme/web","session_id":"session_s1"},"developer_id":"dev-2"}"#, Want::Insert),
    // 3: StandardLoggingPayload with cache tokens and a reported cost (0.0123).
    (br#"{"id":"chatcmpl-1","litellm_call_id":"call-0001","trace_id":"trace-1","call_type":"acompletion","status":"success","startTime":1760299200.0,"endTime":1760299202.5,"completionStartTime":1760299200.4,"response_cost":0.0123,"prompt_tokens":1200,"completion_tokens":80,"total_tokens":1280,"model":"claude-sonnet-4-20250514","custom_llm_provider":"anthropic","cache_hit":null,"metadata":{"user_api_key_user_id":"alice","requester_metadata":{"repo":"acme/api"},"usage_object":{"prompt_tokens":1200,"completion_tokens":80,"cache_read_input_tokens":1000,"cache_creation_input_tokens":100}},"messages":[{"role":"user","content":"TOP-SECRET-PROMPT"}],"response":{"choices":[{"message":{"content":"TOP-SECRET-ANSWER"}}]}}"#, Want::Insert),
    // 4
    (b"", Want::Blank),
    // 5
    (br#"{"timestamp": "2025-10-12T19:00:00Z", "usage": "#, Want::Dead("invalid JSON")),
    // 6
    (b"[1, 2, 3]", Want::Dead("not an object")),
    // 7
    (br#""just a string""#, Want::Dead("not an object")),
    // 8
    (br#"{"usage":{"input_tokens":5,"output_tokens":1},"attributes":{"llm.model_name":"gpt-4o"}}"#, Want::Dead("missing timestamp")),
    // 9
    (br#"{"timestamp":"2025-10-12T19:10:00Z","attributes":{"llm.model_name":"gpt-4o"}}"#, Want::Dead("missing usage")),
    // 10: wrong type inside usage.
    (br#"{"timestamp":"2025-10-12T19:11:00Z","model":"gpt-4o","usage":{"prompt_tokens":"ten","completion_tokens":1}}"#, Want::Dead("prompt_tokens")),
    // 11: wrong type of usage itself.
    (br#"{"timestamp":"2025-10-12T19:11:30Z","model":"gpt-4o","usage":"lots"}"#, Want::Dead("usage must be an object")),
    // 12
    (br#"{"timestamp":"2025-10-12T19:12:00Z","usage":{"input_tokens":10,"output_tokens":-5},"attributes":{}}"#, Want::Dead("negative")),
    // 13: u64::MAX tokens.
    (br#"{"timestamp":"2025-10-12T19:13:00Z","model":"gpt-4o","usage":{"prompt_tokens":18446744073709551615,"completion_tokens":1}}"#, Want::Dead("overflows")),
    // 14: a float far beyond any token count.
    (br#"{"litellm_call_id":"call-big","startTime":1760296000.0,"status":"success","prompt_tokens":1e30,"completion_tokens":1,"model":"gpt-4o"}"#, Want::Dead("overflows")),
    // 15: invalid UTF-8 inside a string.
    (b"{\"timestamp\":\"2025-10-12T19:14:00Z\",\"usage\":{\"input_tokens\":1},\"attributes\":{\"x\":\"\xff\xfe\"}}", Want::Dead("invalid UTF-8")),
    // 16
    (br#"{"timestamp":"2025-10-12T19:15:00Z","usage":{"input_tokens":1,"output_tokens":1},"attributes":{},"metadata":{"repo":"../../etc/passwd"}}"#, Want::Dead("invalid repo slug")),
    // 17: whitespace only: blank.
    (b"   \t  ", Want::Blank),
    // 18: NaN spelled as a string.
    (br#"{"timestamp":"2025-10-12T19:16:00Z","usage":{"input_tokens":1,"output_tokens":1},"attributes":{"latency_ms":"NaN"}}"#, Want::Dead("not finite")),
    // 19: CRLF line, ISO without zone; gpt-4o-mini (2.85e-6). Written with "\r\n".
    (br#"{"timestamp":"2025-10-12 19:20:00","usage":{"input_tokens":7,"output_tokens":3},"attributes":{"model":"gpt-4o-mini"}}"#, Want::Insert),
    // 20: not an LLM call.
    (br#"{"litellm_call_id":"call-pt","startTime":1760295700.0,"call_type":"pass_through_endpoint","status":"success"}"#, Want::Skip),
    // 21: unknown model: stored with an unknown cost.
    (br#"{"timestamp":1760296000,"model":"my-internal-model","usage":{"prompt_tokens":50,"completion_tokens":5}}"#, Want::Insert),
    // 22
    (br#"{"hello":"world"}"#, Want::Dead("unrecognised record shape")),
    // 23: payload without a timestamp.
    (br#"{"litellm_call_id":"call-nots","prompt_tokens":1,"completion_tokens":1,"model":"gpt-4o"}"#, Want::Dead("missing timestamp")),
    // 24: a failed call (no newline at the end of the file).
    (br#"{"litellm_call_id":"call-0002","id":"call-0002","startTime":1760296100.5,"endTime":1760296100.9,"status":"failure","call_type":"completion","model":"gpt-4o","prompt_tokens":0,"completion_tokens":0,"total_tokens":0,"response_cost":0.0,"error_information":{"error_code":"429","error_class":"RateLimitError"}}"#, Want::Insert),
];

/// Line number of [`MIXED`] written with a `\r\n` ending.
pub const MIXED_CRLF_LINE: usize = 19;

/// The bytes of [`MIXED`].
pub fn mixed_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (line, _)) in MIXED.iter().enumerate() {
        out.extend_from_slice(line);
        if i + 1 == MIXED_CRLF_LINE {
            out.extend_from_slice(b"\r\n");
        } else if i + 1 < MIXED.len() {
            out.push(b'\n');
        }
    }
    out
}

/// Expected summary counters of one first ingest of [`MIXED`] (in [`SUMMARY_INT_KEYS`] order):
/// 24 lines, 2 blank → 22 read; 6 inserted, 0 duplicates, 15 dead letters, 1 unknown cost,
/// 1 skipped; tokens in 120+1000+1200+7+50+0, out 30+200+80+3+5+0, cache 1000 / 100.
pub const MIXED_COUNTS: [i64; 10] = [22, 6, 0, 15, 1, 1, 2377, 318, 1000, 100];

/// Expected `cost_usd` of a first ingest of [`MIXED`]:
/// 8.1e-4 (est.) + 4.5e-3 (est.) + 0.0123 (reported) + 2.85e-6 (est.) + 0 (failure, reported).
pub const MIXED_COST: f64 = 8.1e-4 + 4.5e-3 + 0.0123 + 2.85e-6;

/// Asserts a float within 1e-12.
pub fn assert_close(got: f64, want: f64) {
    assert!((got - want).abs() < 1e-12, "got {got}, want {want}");
}

/// `tests/browser` when node, playwright-core and Chromium are all there, or why not.
pub fn browser_tools() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    match Process::new("node").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        _ => return Err("node is not installed".into()),
    }
    if !dir
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        return Err("tests/browser/node_modules is missing (npm ci --prefix tests/browser)".into());
    }
    let chromium = std::env::var_os("CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.is_file() {
        return Err(format!(
            "{} is missing (apt-get install chromium)",
            chromium.display()
        ));
    }
    Ok(dir)
}

/// A test whose external tool is missing: fails when `PRODLENS_REQUIRE_EXTERNAL=1` (CI), else
/// says loudly on stderr that `test` was skipped.
pub fn skip_or_fail(test: &str, why: &str) {
    let required = std::env::var("PRODLENS_REQUIRE_EXTERNAL").as_deref() == Ok("1");
    assert!(!required, "PRODLENS_REQUIRE_EXTERNAL=1 but {why}");
    // Written to the real stderr, not through the test harness's capture of eprintln!.
    let _ = std::io::stderr()
        .write_all(format!("\n!!!!!!!! SKIPPED: {test} — {why} !!!!!!!!\n\n").as_bytes());
}

/// Asserts that a browser check script (`tests/browser/*.mjs`) run as `out` passed as a whole
/// and ran each of `required` (its `ok   <check>` lines); returns its stdout.
pub fn assert_browser_checks(out: &std::process::Output, what: &str, required: &[&str]) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("all checks passed"), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    for check in required {
        assert!(
            stdout.contains(&format!("ok   {check}")),
            "{check}:\n{stdout}"
        );
    }
    stdout
}
