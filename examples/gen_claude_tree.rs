//! Deterministic Claude Code log tree: `cargo run --release --example gen_claude_tree -- --out DIR`.
//!
//! Writes `<out>/projects/<encoded cwd>/<session uuid>.jsonl` the way Claude Code writes its local
//! transcripts (the line shapes of `tools/gen_claude_code_logs.py`), plus `<out>/repo-map.txt`
//! (`PATH_PREFIX OWNER/NAME` for `ingest-traces --repo-map`). Defaults: 20 000 sessions, ~500 MB,
//! ~340 000 distinct assistant calls over 90 days and 12 projects, with a long-tail session size
//! (empty and summary-only files up to MB-sized sessions), streaming copies (one message written
//! 2–4 times with the same `message.id`, `requestId` and usage, so ccusage's first-copy rule and
//! ProdLens's most-tokens rule agree), sidechain turns, `summary`, `user`, `<synthetic>` and API
//! error lines. The same arguments always give the same bytes.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Distinct assistant calls per session, on average.
const CALLS_PER_SESSION: f64 = 17.0;
/// First day of the window (2025-07-01T00:00:00Z) in seconds since the epoch.
const START_S: i64 = 1_751_328_000;
/// Length of the window in days.
const DAYS: i64 = 90;
/// Project folders (cwd), their repository and the branches their sessions use.
const PROJECTS: [(&str, &str, &[&str]); 12] = [
    (
        "/home/dev/work/api",
        "acme/api",
        &["main", "feature/billing", "fix/timeouts"],
    ),
    (
        "/home/dev/work/web",
        "acme/web",
        &["main", "feature/login", "feat/dark-mode"],
    ),
    (
        "/home/dev/work/mobile",
        "acme/mobile",
        &["main", "release/3.2"],
    ),
    (
        "/home/dev/work/infra",
        "acme/infra",
        &["main", "tf-upgrade"],
    ),
    (
        "/home/dev/work/data.pipeline",
        "acme/data-pipeline",
        &["main", "dbt-refactor"],
    ),
    ("/home/dev/work/auth", "acme/auth", &["main", "oauth2-pkce"]),
    (
        "/home/dev/work/search",
        "acme/search",
        &["main", "feature/ranking"],
    ),
    ("/home/dev/work/docs", "acme/docs", &["main"]),
    (
        "/home/dev/oss/tool",
        "oss/tool",
        &["main", "fix-123", "refactor/cli"],
    ),
    ("/home/dev/oss/parser", "oss/parser", &["master", "perf"]),
    (
        "/home/dev/work/payments",
        "acme/payments",
        &["main", "feature/refunds"],
    ),
    (
        "/home/dev/work/notifications",
        "acme/notifications",
        &["main", "hotfix/email"],
    ),
];
/// Models and their share of calls (per mille, cumulative).
const MODELS: [(&str, u64); 3] = [
    ("claude-sonnet-4-5-20250929", 700),
    ("claude-opus-4-1-20250805", 850),
    ("claude-haiku-4-5-20251001", 1000),
];
/// Claude Code versions written into the lines.
const VERSIONS: [&str; 4] = ["2.0.8", "2.0.14", "2.0.21", "2.0.27"];
/// Filler text for message content.
const LOREM: &str = "The function reads the configuration once at start-up and caches the parsed \
    values; callers that need a fresh view call reload() explicitly. Tests cover the empty file, a \
    missing key and a malformed value. Next, update the handler so that errors carry the request id \
    and the retry loop backs off exponentially with jitter, capped at thirty seconds. ";

fn main() {
    if let Err(e) = run() {
        eprintln!("gen_claude_tree: {e}");
        std::process::exit(2);
    }
}

/// Parses the arguments and writes the tree.
fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut sessions: u64 = 20_000;
    let mut out: Option<PathBuf> = None;
    let mut seed: u64 = 14;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sessions" => {
                sessions = args
                    .next()
                    .ok_or("--sessions needs a value")?
                    .replace('_', "")
                    .parse()?
            }
            "--out" => out = Some(args.next().ok_or("--out needs a path")?.into()),
            "--seed" => seed = args.next().ok_or("--seed needs a value")?.parse()?,
            "-h" | "--help" => {
                println!("gen_claude_tree --out DIR [--sessions N] [--seed S]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let out = out.ok_or("--out DIR is required")?;
    let projects = out.join("projects");
    for (cwd, _, _) in PROJECTS {
        std::fs::create_dir_all(projects.join(encode(cwd)))?;
    }
    let mut map = String::new();
    for (cwd, repo, _) in PROJECTS {
        writeln!(map, "{cwd} {repo}")?;
    }
    std::fs::write(out.join("repo-map.txt"), map)?;

    let calls = session_calls(sessions, seed);
    // Two writer threads over interleaved sessions; every session has its own random stream.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4)) as u64;
    let totals = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (calls, projects) = (&calls, &projects);
                s.spawn(move || -> std::io::Result<Totals> {
                    let mut tot = Totals::default();
                    let mut buf = String::with_capacity(1 << 20);
                    for i in (t..sessions).step_by(threads as usize) {
                        buf.clear();
                        let mut rng = Rng::new(mix(mix(seed) ^ i));
                        let (cwd, _, branches) =
                            PROJECTS[rng.below(PROJECTS.len() as u64) as usize];
                        let branch = branches[rng.below(branches.len() as u64) as usize];
                        let id = rng.uuid();
                        let n = write_session(
                            &mut buf,
                            &mut rng,
                            &id,
                            cwd,
                            branch,
                            calls[i as usize],
                            &mut tot,
                        );
                        tot.calls += n;
                        let path = projects.join(encode(cwd)).join(format!("{id}.jsonl"));
                        write_file(&path, buf.as_bytes())?;
                        tot.bytes += buf.len() as u64;
                    }
                    Ok(tot)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("writer thread panicked"))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let mut all = Totals::default();
    for t in totals {
        all.add(&t);
    }
    eprintln!(
        "wrote {}: {sessions} sessions, {:.1} MB, {} lines, {} distinct calls ({} sidechain), {} streaming copies",
        out.display(),
        all.bytes as f64 / 1e6,
        all.lines,
        all.calls,
        all.sidechain,
        all.copies
    );
    Ok(())
}

/// Writes one file in a single call.
fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = BufWriter::new(std::fs::File::create(path)?);
    f.write_all(bytes)?;
    f.flush()
}

/// Counts over the written tree.
#[derive(Default)]
struct Totals {
    /// Bytes written.
    bytes: u64,
    /// Lines written.
    lines: u64,
    /// Distinct assistant calls with usage.
    calls: u64,
    /// Distinct sidechain calls.
    sidechain: u64,
    /// Extra lines repeating a call already written.
    copies: u64,
}

impl Totals {
    /// Adds another thread's counts.
    fn add(&mut self, o: &Totals) {
        self.bytes += o.bytes;
        self.lines += o.lines;
        self.calls += o.calls;
        self.sidechain += o.sidechain;
        self.copies += o.copies;
    }
}

/// Calls per session: log-normal weights (σ = 1.6) scaled to `CALLS_PER_SESSION` on average.
fn session_calls(sessions: u64, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(mix(seed ^ 0x5EED));
    let w: Vec<f64> = (0..sessions).map(|_| (1.6 * rng.normal()).exp()).collect();
    let sum: f64 = w.iter().sum();
    let scale = CALLS_PER_SESSION * sessions as f64 / sum.max(1e-9);
    w.iter().map(|x| (x * scale).round() as u64).collect()
}

/// Claude Code names a project folder after its cwd with every '/' and '.' as '-'.
fn encode(cwd: &str) -> String {
    cwd.replace(['/', '.'], "-")
}

/// Formats seconds + milliseconds since the epoch as Claude Code's `…T…:…:….mmmZ`.
fn timestamp(ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(ms).expect("timestamp in range");
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// One session being written: its constant fields, random stream and last line's uuid.
struct Session<'a> {
    /// Output for the whole file.
    buf: &'a mut String,
    /// The session's own random stream.
    rng: &'a mut Rng,
    /// `sessionId`.
    id: &'a str,
    /// `cwd`.
    cwd: &'a str,
    /// `gitBranch`.
    branch: &'a str,
    /// Claude Code `version`.
    version: &'static str,
    /// `uuid` of the previous line (`parentUuid` of the next).
    parent: Option<String>,
}

/// Writes one session's lines into `buf`; returns its distinct calls.
fn write_session(
    buf: &mut String,
    rng: &mut Rng,
    id: &str,
    cwd: &str,
    branch: &str,
    calls: u64,
    tot: &mut Totals,
) -> u64 {
    let version = VERSIONS[rng.below(VERSIONS.len() as u64) as usize];
    let mut ms = (START_S + rng.below((DAYS * 86_400) as u64) as i64) * 1000;
    let mut s = Session {
        buf,
        rng,
        id,
        cwd,
        branch,
        version,
        parent: None,
    };
    if calls == 0 {
        // An aborted session: a lone summary, or one prompt that was never answered.
        if s.rng.below(2) == 0 {
            let leaf = s.rng.uuid();
            let _ = writeln!(
                s.buf,
                r#"{{"type":"summary","summary":"Untitled","leafUuid":"{leaf}"}}"#
            );
        } else {
            s.user(ms, false, 40);
        }
        tot.lines += 1;
        return 0;
    }
    if s.rng.below(4) == 0 {
        // A resumed session starts with the summaries of the conversation it continues.
        for _ in 0..1 + s.rng.below(3) {
            let leaf = s.rng.uuid();
            let _ = writeln!(
                s.buf,
                r#"{{"type":"summary","summary":"Refactor the config loader and add tests","leafUuid":"{leaf}"}}"#
            );
            tot.lines += 1;
        }
    }
    let mut written = 0;
    let mut turn = 0u64;
    while written < calls {
        // A prompt, then a tool loop of assistant calls each answered by a tool result.
        ms += 1000 * (5 + s.rng.below(if turn == 0 { 30 } else { 900 })) as i64;
        let size = 20 + s.rng.below(100) as usize;
        s.user(ms, false, size);
        tot.lines += 1;
        let sidechain_turn = s.rng.below(8) == 0;
        let steps = (1 + s.rng.below(8)).min(calls - written);
        for step in 0..steps {
            let side = sidechain_turn && step > 0;
            ms += 300 + s.rng.below(20_000) as i64;
            let copies = if s.rng.below(100) < 16 {
                2 + s.rng.below(3)
            } else {
                1
            };
            s.call(&mut ms, side, copies);
            tot.lines += copies;
            tot.copies += copies - 1;
            if side {
                tot.sidechain += 1;
            }
            written += 1;
            if s.rng.below(20) < 8 {
                ms += 50 + s.rng.below(4000) as i64;
                let size = tool_result_size(s.rng);
                s.user(ms, side, size);
                tot.lines += 1;
            }
        }
        if s.rng.below(40) == 0 {
            // A zero-usage `<synthetic>` reply or an API error line (not a billed call).
            ms += 1000;
            let err = s.rng.below(2) == 0;
            s.head(ms, false, "assistant");
            let text = if err {
                "API Error: 529 Overloaded"
            } else {
                "No response requested."
            };
            let id = s.rng.uuid();
            let _ = write!(
                s.buf,
                r#","message":{{"id":"{id}","type":"message","role":"assistant","model":"<synthetic>","content":[{{"type":"text","text":"{text}"}}],"stop_reason":"stop_sequence","stop_sequence":"","usage":{{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}}}"#
            );
            if err {
                s.buf.push_str(r#","isApiErrorMessage":true"#);
            }
            s.buf.push_str("}\n");
            tot.lines += 1;
        }
        turn += 1;
    }
    if s.rng.below(3) == 0 {
        let _ = writeln!(
            s.buf,
            r#"{{"type":"summary","summary":"Add retries with backoff to the HTTP client","leafUuid":"{}"}}"#,
            s.parent.as_deref().unwrap_or("")
        );
        tot.lines += 1;
    }
    written
}

/// Size of a tool result: mostly small, sometimes a whole file or a long command output.
fn tool_result_size(rng: &mut Rng) -> usize {
    match rng.below(100) {
        0..=69 => 20 + rng.below(150) as usize,
        70..=94 => 150 + rng.below(600) as usize,
        95..=98 => 750 + rng.below(2250) as usize,
        _ => 4000 + rng.below(12_000) as usize,
    }
}

impl Session<'_> {
    /// Writes the fields every transcript line starts with (without the closing brace).
    fn head(&mut self, ms: i64, sidechain: bool, kind: &str) {
        let uuid = self.rng.uuid();
        let p = match self.parent.as_deref() {
            Some(p) => format!("\"{p}\""),
            None => "null".to_string(),
        };
        let _ = write!(
            self.buf,
            r#"{{"parentUuid":{p},"isSidechain":{sidechain},"userType":"external","cwd":"{}","sessionId":"{}","version":"{}","gitBranch":"{}","type":"{kind}","uuid":"{uuid}","timestamp":"{}""#,
            self.cwd,
            self.id,
            self.version,
            self.branch,
            timestamp(ms)
        );
        self.parent = Some(uuid);
    }

    /// Writes a `user` line whose content has about `size` bytes.
    fn user(&mut self, ms: i64, sidechain: bool, size: usize) {
        self.head(ms, sidechain, "user");
        self.buf
            .push_str(r#","message":{"role":"user","content":""#);
        filler(self.buf, self.rng, size);
        self.buf.push_str("\"}}\n");
    }

    /// Writes one assistant call as `copies` streaming lines sharing message id, request id and usage.
    fn call(&mut self, ms: &mut i64, sidechain: bool, copies: u64) {
        let rng = &mut *self.rng;
        let pick = rng.below(1000);
        let model = MODELS
            .iter()
            .find(|(_, c)| pick < *c)
            .map_or(MODELS[0].0, |m| m.0);
        let msg_id = format!("msg_01{}", rng.base62(22));
        let req_id = format!("req_011C{}", rng.base62(18));
        let input = 1 + rng.below(60);
        let cache_creation = if rng.below(3) == 0 {
            rng.below(25_000)
        } else {
            rng.below(2_000)
        };
        let cache_read = rng.below(160_000);
        let output = 1 + (rng.below(1000) * rng.below(1000)) / 250;
        for c in 0..copies {
            if c > 0 {
                *ms += 20 + self.rng.below(2500) as i64;
            }
            self.head(*ms, sidechain, "assistant");
            let _ = write!(
                self.buf,
                r#","message":{{"id":"{msg_id}","type":"message","role":"assistant","model":"{model}","content":["#
            );
            if c + 1 < copies || self.rng.below(2) == 0 {
                self.buf.push_str(r#"{"type":"text","text":""#);
                let n = 10 + self.rng.below(70) as usize;
                filler(self.buf, self.rng, n);
                self.buf.push_str("\"}");
            } else {
                let tool = self.rng.base62(22);
                let _ = write!(
                    self.buf,
                    r#"{{"type":"tool_use","id":"toolu_01{tool}","name":"Edit","input":{{"file_path":"{}/src/lib.rs","old_string":"","new_string":""#,
                    self.cwd
                );
                let n = 10 + self.rng.below(190) as usize;
                filler(self.buf, self.rng, n);
                self.buf.push_str("\"}}");
            }
            let stop = if c + 1 == copies {
                r#""tool_use""#
            } else {
                "null"
            };
            let _ = writeln!(
                self.buf,
                r#"],"stop_reason":{stop},"stop_sequence":null,"usage":{{"input_tokens":{input},"cache_creation_input_tokens":{cache_creation},"cache_read_input_tokens":{cache_read},"output_tokens":{output},"service_tier":"standard"}}}},"requestId":"{req_id}"}}"#
            );
        }
    }
}

/// Appends about `n` bytes of prose (JSON-safe) starting at a random offset.
fn filler(buf: &mut String, rng: &mut Rng, n: usize) {
    let mut left = n;
    let mut at = rng.below(LOREM.len() as u64 / 2) as usize;
    while left > 0 {
        let take = left.min(LOREM.len() - at);
        buf.push_str(&LOREM[at..at + take]);
        left -= take;
        at = 0;
    }
}

/// SplitMix64's finaliser: unrelated 64-bit values for neighbouring inputs.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// SplitMix64: small, fast and deterministic.
struct Rng(u64);

impl Rng {
    /// A generator for this seed.
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u1 = ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A random version-4 UUID.
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    /// `n` random base-62 characters.
    fn base62(&mut self, n: usize) -> String {
        const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        (0..n).map(|_| A[self.below(62) as usize] as char).collect()
    }
}
