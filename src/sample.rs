//! Deterministic sample traces for the demo and the benchmark: a team of developers working over
//! several weeks, in all three input shapes, with a known share of malformed lines.
//!
//! The same seed always gives the same bytes. Daily activity follows [`daily_intensity`], which
//! later stages (GitHub sample data) may use to build outcomes that depend on AI use.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use serde_json::{json, Value};
use std::io::{self, Write};

/// SplitMix64: a tiny, stable PRNG, so samples do not change when a crate's RNG does.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [lo, hi].
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A UUID-shaped hex string.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

/// What to generate.
#[derive(Clone, Debug)]
pub struct SampleSpec {
    /// Lines to write (valid and malformed together).
    pub lines: u64,
    /// Team size.
    pub developers: usize,
    /// First day.
    pub start: NaiveDate,
    /// Number of days.
    pub days: u32,
    /// Repositories the team works in.
    pub repos: Vec<String>,
    /// Malformed lines per 1000.
    pub malformed_per_mille: u64,
    /// Seed.
    pub seed: u64,
}

impl SampleSpec {
    /// The demo's team: 8 developers over 6 weeks in two repos, ~1 % malformed lines.
    pub fn demo() -> Self {
        SampleSpec {
            lines: 6_000,
            developers: 8,
            start: NaiveDate::from_ymd_opt(2025, 9, 1).unwrap_or_default(),
            days: 42,
            repos: vec!["acme/api".into(), "acme/web".into()],
            malformed_per_mille: 10,
            seed: 42,
        }
    }
}

/// How a developer's calls of a day are grouped into sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SessionLayout {
    /// Three sessions per developer and day, each spread over the working day (the default).
    #[default]
    Few,
    /// Claude Code-like: a new session about every `calls_per_session` calls of a developer's
    /// day, each in its own slice of the working day; developer ids stay distinct past the name
    /// list (`dev-alice`, …, `dev-jo`, `dev-alice-1`, …).
    Realistic {
        /// Mean calls per session.
        calls_per_session: u64,
    },
}

/// What was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SampleStats {
    /// Valid LLM-call lines (each a distinct call).
    pub valid: u64,
    /// Malformed lines (each should be dead-lettered).
    pub malformed: u64,
    /// Valid lines per shape: seed span, LiteLLM logger, LiteLLM payload.
    pub by_shape: [u64; 3],
}

/// Relative AI activity of a day (weekends low, some busy and some quiet weeks), in [0.1, 2].
pub fn daily_intensity(seed: u64, day: NaiveDate) -> f64 {
    if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        return 0.1;
    }
    let mut r = Rng::new(seed ^ (day.num_days_from_ce() as u64).wrapping_mul(0x51_7CC1_B727_220A));
    let week = (day.iso_week().week() % 3) as f64 * 0.25;
    (0.5 + week + r.unit() * 0.9).min(2.0)
}

const MODELS: [(&str, f64); 5] = [
    ("claude-sonnet-4-5-20250929", 0.55),
    ("claude-haiku-4-5", 0.2),
    ("gpt-4o", 0.12),
    ("gpt-4o-mini", 0.1),
    ("acme-internal-coder", 0.03),
];

fn pick_model(r: &mut Rng) -> &'static str {
    let mut x = r.unit();
    for (m, p) in MODELS {
        if x < p {
            return m;
        }
        x -= p;
    }
    MODELS[0].0
}

/// Writes the sample as JSONL and returns what was written.
pub fn write_sample(spec: &SampleSpec, out: &mut dyn Write) -> io::Result<SampleStats> {
    write_sample_with(spec, SessionLayout::Few, out)
}

/// Writes the sample with the given session layout as JSONL and returns what was written.
pub fn write_sample_with(
    spec: &SampleSpec,
    layout: SessionLayout,
    out: &mut dyn Write,
) -> io::Result<SampleStats> {
    let mut r = Rng::new(spec.seed);
    let devs: Vec<String> = (0..spec.developers.max(1))
        .map(|i| match layout {
            SessionLayout::Realistic { .. } if i >= NAMES.len() => {
                format!("dev-{}-{}", NAMES[i % NAMES.len()], i / NAMES.len())
            }
            _ => format!("dev-{}", NAMES[i % NAMES.len()]),
        })
        .collect();
    let days: Vec<NaiveDate> = (0..spec.days.max(1))
        .map(|d| spec.start + Duration::days(d as i64))
        .collect();
    let weights: Vec<f64> = days
        .iter()
        .map(|d| daily_intensity(spec.seed, *d))
        .collect();
    let total_w: f64 = weights.iter().sum();
    // Claude Code PRs of the GitHub sample: calls of their author in their repo while they are
    // open (from 2 days before) are tagged with the PR's branch (proxy shape only).
    let ai_prs: Vec<(String, Vec<crate::github::sample::SamplePr>)> = spec
        .repos
        .iter()
        .map(|repo| {
            let prs = crate::github::sample::sample_prs(
                repo,
                spec.start,
                spec.days,
                spec.developers,
                spec.seed,
            );
            (
                repo.clone(),
                prs.into_iter().filter(|p| p.ai_assisted).collect(),
            )
        })
        .collect();
    let branch_of = |repo: &str, dev: &str, ts: chrono::DateTime<Utc>| -> Option<String> {
        let (_, prs) = ai_prs.iter().find(|(r, _)| r == repo)?;
        prs.iter()
            .find(|p| p.author == dev && ts >= p.created_at - Duration::days(2) && ts <= p.end)
            .map(|p| p.head_ref.clone())
    };
    let mut stats = SampleStats::default();
    let mut line = String::with_capacity(2048);
    let mut written = 0u64;
    for (di, day) in days.iter().enumerate() {
        let quota = ((spec.lines as f64) * weights[di] / total_w).round() as u64;
        let quota = if di + 1 == days.len() {
            spec.lines.saturating_sub(written)
        } else {
            quota.min(spec.lines - written)
        };
        // Sessions per developer this day.
        let k = match layout {
            SessionLayout::Few => 3,
            SessionLayout::Realistic { calls_per_session } => {
                let per_dev = calls_per_session.max(1) * devs.len() as u64;
                (quota.div_ceil(per_dev) as usize).max(3)
            }
        };
        let sessions: Vec<String> = (0..devs.len() * k).map(|_| r.uuid()).collect();
        for _ in 0..quota {
            written += 1;
            line.clear();
            if r.range(1, 1000) <= spec.malformed_per_mille {
                out.write_all(&malformed(&mut r, *day))?;
                out.write_all(b"\n")?;
                stats.malformed += 1;
                continue;
            }
            let d = r.range(0, devs.len() as u64 - 1) as usize;
            let j = r.range(0, k as u64 - 1);
            let session = &sessions[d * k + j as usize];
            let secs = match layout {
                SessionLayout::Few => 8 * 3600 + r.range(0, 10 * 3600 - 1),
                SessionLayout::Realistic { .. } => {
                    // Session j of k holds the j-th slice of the 10-hour working day.
                    let slice = (10 * 3600 / k as u64).max(1);
                    8 * 3600 + j * slice + r.range(0, slice - 1)
                }
            };
            let ts = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
                + Duration::seconds(secs as i64)
                + Duration::microseconds(r.range(0, 999_999) as i64);
            let call = Call {
                ts,
                dev: &devs[d],
                session,
                repo: &spec.repos[d % spec.repos.len().max(1)],
                model: pick_model(&mut r),
                tin: r.range(200, 30_000) as i64,
                tout: r.range(20, 2_000) as i64,
                latency_ms: 400.0 + r.unit() * 20_000.0,
                failed: r.chance(0.03),
                accepted: if r.chance(0.6) {
                    Some(r.chance(0.35))
                } else {
                    None
                },
                id: r.uuid(),
            };
            let shape = r.range(0, 2) as usize;
            let v = match shape {
                0 => seed_span(&call, &mut r),
                1 => logger(&call, &mut r),
                _ => {
                    let mut v = payload(&call, &mut r);
                    if let Some(b) = branch_of(call.repo, call.dev, call.ts) {
                        v["request_tags"] = json!([format!("branch:{b}")]);
                    }
                    v
                }
            };
            serde_json::to_writer(&mut *out, &v)?;
            out.write_all(b"\n")?;
            stats.valid += 1;
            stats.by_shape[shape] += 1;
        }
    }
    Ok(stats)
}

/// First names of the sample team; developer ids and GitHub logins are `dev-<name>`.
pub const NAMES: [&str; 10] = [
    "alice", "bob", "chen", "dana", "eli", "farah", "gus", "hana", "ivan", "jo",
];

struct Call<'a> {
    ts: chrono::DateTime<Utc>,
    dev: &'a str,
    session: &'a str,
    repo: &'a str,
    model: &'static str,
    tin: i64,
    tout: i64,
    latency_ms: f64,
    failed: bool,
    accepted: Option<bool>,
    id: String,
}

fn seed_span(c: &Call, r: &mut Rng) -> Value {
    let mut attributes = json!({
        "llm.model_name": c.model, "latency_ms": (c.latency_ms * 10.0).round() / 10.0,
        "status_code": if c.failed { 500 } else { 200 }, "span.id": c.id,
    });
    if let Some(a) = c.accepted {
        attributes["prod_lens.accepted"] = json!(a);
        if a {
            attributes["prod_lens.diff_ratio"] = json!((r.unit() * 100.0).round() / 100.0);
            attributes["prod_lens.accepted_lines"] = json!(r.range(1, 80));
        }
    }
    json!({
        "timestamp": c.ts.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "usage": {"input_tokens": c.tin, "output_tokens": c.tout, "total_tokens": c.tin + c.tout},
        "attributes": attributes,
        "metadata": {"repo": c.repo, "developer_id": c.dev, "session_id": format!("session_{}", c.session)},
    })
}

fn logger(c: &Call, r: &mut Rng) -> Value {
    let mut v = json!({
        "timestamp": format!("{}Z", c.ts.format("%Y-%m-%dT%H:%M:%S%.6f+00:00")),
        "model": c.model, "call_type": "completion",
        "usage": {"prompt_tokens": c.tin, "completion_tokens": c.tout, "total_tokens": c.tin + c.tout},
        "latency_ms": (c.latency_ms * 10.0).round() / 10.0,
        "status": if c.failed { "failure" } else { "success" },
        "status_code": if c.failed { Value::Null } else { json!(200) },
        "error": if c.failed { json!("APIConnectionError: upstream closed the connection") } else { Value::Null },
        "developer_id": c.dev,
        "metadata": {"repo": c.repo, "session_id": format!("session_{}", c.session), "request_id": c.id},
    });
    if let Some(a) = c.accepted {
        v["metadata"]["accepted"] = json!(if a { "yes" } else { "no" });
        if a {
            v["metadata"]["accepted_lines"] = json!(r.range(1, 80));
        }
    }
    v
}

fn payload(c: &Call, r: &mut Rng) -> Value {
    let start = c.ts.timestamp_micros() as f64 / 1e6;
    let end = start + c.latency_ms / 1000.0;
    let cache_read = if c.model.starts_with("claude") {
        c.tin * 6 / 10
    } else {
        0
    };
    let (status, code, class) = match (c.failed, r.chance(0.5)) {
        (false, _) => ("success", "", ""),
        (true, true) => ("failure", "429", "RateLimitError"),
        (true, false) => ("failure", "500", "InternalServerError"),
    };
    let (pt, ct) = if c.failed { (0, 0) } else { (c.tin, c.tout) };
    let unpriced = c.model == "acme-internal-coder";
    let cost = if c.failed || unpriced {
        0.0
    } else {
        (pt as f64 * 3e-6 + ct as f64 * 15e-6 * 1e6).round() / 1e6
    };
    // The proxy knows people by e-mail; `prod-lens identities` links it to the GitHub login
    // through the commits that carry the same e-mail.
    let email = format!("{}@example.com", c.dev.trim_start_matches("dev-"));
    let user_id = format!(
        "user_{:016x}_account_{}_session_{}",
        r.next_u64(),
        c.id,
        c.session
    );
    json!({
        "id": format!("chatcmpl-{}", &c.id[..8]), "litellm_call_id": c.id, "trace_id": r.uuid(), "session_id": "",
        "call_type": "acompletion", "cache_hit": Value::Null, "stream": Value::Null, "status": status,
        "custom_llm_provider": if c.model.starts_with("claude") { "anthropic" } else { "openai" },
        "saved_cache_cost": 0.0, "startTime": start, "endTime": end,
        "completionStartTime": start + (c.latency_ms / 1000.0) * 0.3, "response_time": c.latency_ms / 1000.0,
        "model": c.model, "model_id": "", "model_group": "", "api_base": "",
        "response_cost": cost,
        "response_cost_failure_debug_info": if unpriced { json!({"error_str": "This model isn't mapped yet."}) } else { Value::Null },
        "prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct,
        "end_user": "", "request_tags": [], "requester_ip_address": "",
        "metadata": {
            "user_api_key_hash": format!("{:016x}", r.next_u64()), "user_api_key_alias": format!("{}-key", c.dev),
            "user_api_key_team_id": "team-platform", "user_api_key_user_id": email, "user_api_key_org_id": Value::Null,
            "user_api_key_end_user_id": Value::Null, "user_api_key_team_alias": Value::Null,
            "spend_logs_metadata": Value::Null,
            "requester_metadata": {"repo": c.repo, "user_id": user_id},
            "usage_object": if c.failed { json!({}) } else { json!({"prompt_tokens": pt, "completion_tokens": ct,
                "total_tokens": pt + ct, "cache_read_input_tokens": cache_read, "cache_creation_input_tokens": 0,
                "prompt_tokens_details": {"cached_tokens": cache_read}}) },
            "applied_guardrails": [],
        },
        "error_str": if c.failed { json!(format!("litellm.{class}: upstream error")) } else { Value::Null },
        "error_information": {"error_code": code, "error_class": class, "llm_provider": "", "traceback": "", "error_message": ""},
        "messages": [{"role": "user", "content": "Refactor the handler to use the new client."}],
        "response": if c.failed { Value::Null } else { json!({"choices": [{"message": {"role": "assistant", "content": "Here is the refactor."}}]}) },
        "model_parameters": {"max_tokens": 4096}, "hidden_params": {"api_base": "", "response_cost": cost},
    })
}

/// One malformed line, of a kind chosen at random (all must be dead-lettered).
fn malformed(r: &mut Rng, day: NaiveDate) -> Vec<u8> {
    let ts = format!("{day}T12:00:00Z");
    match r.range(0, 6) {
        0 => br#"{"timestamp": "2025-09-01T10:00:00Z", "usage": {"input_tokens": 5"#.to_vec(),
        1 => b"[1, 2, 3]".to_vec(),
        2 => br#"{"usage": {"input_tokens": 5, "output_tokens": 1}, "attributes": {}}"#.to_vec(),
        3 => format!(r#"{{"timestamp": "{ts}", "usage": {{"input_tokens": -40, "output_tokens": 1}}, "attributes": {{}}}}"#).into_bytes(),
        4 => format!(r#"{{"timestamp": "{ts}", "model": "gpt-4o", "usage": {{"prompt_tokens": 3}}, "metadata": {{"repo": "../../etc/passwd"}}}}"#).into_bytes(),
        5 => {
            let mut v = format!(r#"{{"timestamp": "{ts}", "model": "gpt-4o", "usage": {{"prompt_tokens": 3}}, "x": ""#).into_bytes();
            v.extend_from_slice(&[0xff, 0xfe]);
            v.extend_from_slice(b"\"}");
            v
        }
        _ => format!(r#"{{"timestamp": "{ts}", "model": "gpt-4o", "usage": {{"prompt_tokens": "many"}}}}"#).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn deterministic_and_counted() {
        let spec = SampleSpec {
            lines: 2_000,
            ..SampleSpec::demo()
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let sa = write_sample(&spec, &mut a).unwrap();
        let sb = write_sample(&spec, &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        assert_eq!(sa.valid + sa.malformed, 2_000);
        assert_eq!(a.iter().filter(|c| **c == b'\n').count(), 2_000);
        assert!(sa.malformed > 5 && sa.by_shape.iter().all(|n| *n > 400));
    }

    #[test]
    fn realistic_sessions_are_many_and_developers_distinct() {
        let spec = SampleSpec {
            lines: 20_000,
            developers: 40,
            ..SampleSpec::demo()
        };
        let layout = SessionLayout::Realistic {
            calls_per_session: 8,
        };
        let mut buf = Vec::new();
        write_sample_with(&spec, layout, &mut buf).unwrap();
        let (mut devs, mut sessions) = (BTreeSet::new(), BTreeSet::new());
        for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(v) = serde_json::from_slice::<Value>(line) else {
                continue;
            };
            if let Some(d) = v["metadata"]["developer_id"]
                .as_str()
                .or(v["developer_id"].as_str())
            {
                devs.insert(d.to_string());
            }
            if let Some(s) = v["metadata"]["session_id"].as_str() {
                sessions.insert(s.to_string());
            }
        }
        assert_eq!(devs.len(), 40);
        // Two thirds of ~19 800 calls carry the session in metadata: ~8 calls a session.
        assert!(sessions.len() > 1_200, "{}", sessions.len());
        let mut few = Vec::new();
        write_sample_with(&spec, SessionLayout::Few, &mut few).unwrap();
        let mut default = Vec::new();
        write_sample(&spec, &mut default).unwrap();
        assert_eq!(few, default);
    }

    #[test]
    fn every_line_parses_as_expected() {
        let spec = SampleSpec {
            lines: 3_000,
            ..SampleSpec::demo()
        };
        let mut buf = Vec::new();
        let stats = write_sample(&spec, &mut buf).unwrap();
        let (mut ok, mut dead) = (0, 0);
        for line in buf.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            match crate::sources::parse_line(line, None) {
                crate::sources::LineOutcome::Record(_) => ok += 1,
                crate::sources::LineOutcome::Dead(_) => dead += 1,
                crate::sources::LineOutcome::Skipped(s) => panic!("unexpected skip {s}"),
                crate::sources::LineOutcome::Batch(_) => panic!("unexpected batch"),
            }
        }
        assert_eq!((ok, dead), (stats.valid, stats.malformed));
    }
}
