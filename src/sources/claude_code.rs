//! Claude Code's local session logs: `~/.claude/projects/<encoded cwd>/<session id>.jsonl`.
//!
//! Shape (as Claude Code writes it, and as ccusage reads it — see ccusage's `usageDataSchema`):
//! one JSON object per line with `type` (`user`, `assistant`, `summary`, `system`), `uuid`,
//! `sessionId`, `timestamp`, `cwd`, `gitBranch`, `version`, `isSidechain`, `requestId`, and for
//! assistant turns `message` with `id`, `model` and `usage.input_tokens | output_tokens |
//! cache_creation_input_tokens | cache_read_input_tokens` (cache tokens apart from input, the
//! Anthropic convention), plus `costUSD` in older versions.
//!
//! Rules:
//! * only lines with `message.usage` are calls; `<synthetic>` models and API error messages
//!   (`isApiErrorMessage`) are skipped and counted, like every other non-usage line;
//! * the call id is `message.id:requestId`, or `message.id` alone when `requestId` is missing or
//!   the line is a sidechain, so every streaming copy of a message has the same dedupe key;
//! * of those copies the one with most tokens wins ([`keep_most_tokens`] within a batch, the
//!   store's raise rule across batches and runs), keeping the first copy's timestamp.

use super::fields::{self, Obj};
use super::scope::Scope;
use super::{blank, timestamp, usage, Reject};
use crate::normalise::Tokens;
use crate::record::{SourceFormat, TraceRecord};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The model name Claude Code gives to messages it made up itself (no API call).
pub const SYNTHETIC_MODEL: &str = "<synthetic>";

/// Why a line without `message` is skipped.
pub(super) const NO_MESSAGE: &str = "Claude Code line without a message";
/// Why a message without `usage` is skipped.
pub(super) const NO_USAGE: &str = "Claude Code line without usage";
/// Why an API error message (`isApiErrorMessage`) is skipped.
pub(super) const API_ERROR: &str = "Claude Code API error message";
/// Why a message of [`SYNTHETIC_MODEL`] is skipped.
pub(super) const SYNTHETIC: &str = "Claude Code synthetic message";

/// Parses one Claude Code log line.
pub fn parse(obj: &Obj) -> Result<TraceRecord, Reject> {
    let message = match obj.get("message") {
        Some(Value::Object(m)) => m,
        _ => return Err(Reject::Skip(NO_MESSAGE.into())),
    };
    let usage_obj = match message.get("usage") {
        Some(Value::Object(u)) => u,
        _ => return Err(Reject::Skip(NO_USAGE.into())),
    };
    if obj.get("isApiErrorMessage").and_then(Value::as_bool) == Some(true) {
        return Err(Reject::Skip(API_ERROR.into()));
    }
    let msg = [message];
    let m = Scope::new(&msg);
    let model = m.string(&["model"])?;
    if model.as_deref() == Some(SYNTHETIC_MODEL) {
        return Err(Reject::Skip(SYNTHETIC.into()));
    }
    let top = [obj];
    let t = Scope::new(&top);
    let ts = timestamp(&t, &["timestamp"])?;
    let tokens = usage::read(usage_obj)?;
    let sidechain = match obj.get("isSidechain") {
        Some(v) => fields::boolean(v, "isSidechain")?,
        None => None,
    };
    Ok(record(Call {
        ts,
        model,
        tokens,
        sidechain,
        message_id: m.string(&["id"])?,
        request_id: t.string(&["requestId"])?,
        session_id: t.string(&["sessionId"])?,
        cost: t.number(&["costUSD"])?,
        cwd: t.string(&["cwd"])?,
        git_branch: t.string(&["gitBranch"])?,
        version: t.string(&["version"])?,
    }))
}

/// The fields of a Claude Code call, as either path reads them.
pub(super) struct Call {
    /// `timestamp`.
    pub ts: chrono::DateTime<chrono::Utc>,
    /// `message.model`.
    pub model: Option<String>,
    /// `message.usage`, read.
    pub tokens: Tokens,
    /// `isSidechain`.
    pub sidechain: Option<bool>,
    /// `message.id`.
    pub message_id: Option<String>,
    /// `requestId`.
    pub request_id: Option<String>,
    /// `sessionId`.
    pub session_id: Option<String>,
    /// `costUSD`.
    pub cost: Option<f64>,
    /// `cwd`.
    pub cwd: Option<String>,
    /// `gitBranch`.
    pub git_branch: Option<String>,
    /// `version`.
    pub version: Option<String>,
}

/// The record of a call. Its id is `message.id:requestId`, or `message.id` alone when
/// `requestId` is missing or the line is a sidechain.
pub(super) fn record(c: Call) -> TraceRecord {
    let mut r = blank(SourceFormat::ClaudeCode, c.ts);
    r.call_id = match (&c.message_id, &c.request_id) {
        (Some(mid), Some(rid)) if c.sidechain != Some(true) => Some(format!("{mid}:{rid}")),
        (Some(mid), _) => Some(mid.clone()),
        (None, _) => None,
    };
    r.response_id = c.message_id;
    r.trace_id = c.request_id;
    r.session_id = c.session_id;
    r.model = c.model;
    r.provider = Some("anthropic".into());
    r.tokens_in = c.tokens.tokens_in;
    r.tokens_out = c.tokens.tokens_out;
    r.cache_read_tokens = c.tokens.cache_read;
    r.cache_creation_tokens = c.tokens.cache_creation;
    r.reported_cost = c.cost;
    r.cwd = c.cwd;
    r.git_branch = c.git_branch;
    r.client_version = c.version;
    r.is_sidechain = c.sidechain;
    r
}

/// Collapses the streaming copies of a Claude Code message within one batch: the first copy stays
/// in place (its timestamp, so the call stays on the day ccusage puts it) and takes the tokens and
/// cost of the copy with most tokens; later copies are removed. Other records are untouched.
pub fn keep_most_tokens(batch: &mut Vec<TraceRecord>) {
    let mut first: foldhash::HashMap<[u8; 16], usize> =
        foldhash::HashMap::with_capacity_and_hasher(batch.len(), Default::default());
    let mut keep = vec![true; batch.len()];
    for i in 0..batch.len() {
        if batch[i].source_format != SourceFormat::ClaudeCode {
            continue;
        }
        match first.get(&batch[i].dedupe_key) {
            None => {
                first.insert(batch[i].dedupe_key, i);
            }
            Some(&j) => {
                keep[i] = false;
                if total(&batch[i]) > total(&batch[j]) {
                    let later = batch[i].clone();
                    raise(&mut batch[j], &later);
                }
            }
        }
    }
    let mut k = keep.into_iter();
    batch.retain(|_| k.next().unwrap_or(true));
}

/// Folders Claude Code keeps its logs in, as ccusage looks for them: `projects/` under every
/// comma-separated folder of `CLAUDE_CONFIG_DIR` when set, else `~/.config/claude/projects` and
/// `~/.claude/projects`. The caller keeps those that exist.
pub fn log_dirs(config_dir: Option<&str>, home: Option<&Path>) -> Vec<PathBuf> {
    let listed: Vec<PathBuf> = config_dir
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Path::new(s).join("projects"))
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    home.map(|h| {
        vec![
            h.join(".config/claude/projects"),
            h.join(".claude/projects"),
        ]
    })
    .unwrap_or_default()
}

fn total(r: &TraceRecord) -> i64 {
    r.tokens_in.saturating_add(r.tokens_out)
}

fn raise(kept: &mut TraceRecord, later: &TraceRecord) {
    kept.tokens_in = later.tokens_in;
    kept.tokens_out = later.tokens_out;
    kept.cache_read_tokens = later.cache_read_tokens;
    kept.cache_creation_tokens = later.cache_creation_tokens;
    kept.reported_cost = later.reported_cost;
    kept.cost_usd = later.cost_usd;
    kept.cost_source = later.cost_source;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{parse_line, LineOutcome};
    use serde_json::json;

    fn line(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn assistant(out: i64) -> Value {
        json!({
            "parentUuid": "p-1", "isSidechain": false, "userType": "external",
            "cwd": "/home/dev/api", "sessionId": "sess-1", "version": "1.0.51",
            "gitBranch": "main", "type": "assistant", "uuid": "u-2",
            "timestamp": "2025-07-10T10:00:00.123Z", "requestId": "req_1",
            "message": {"id": "msg_1", "type": "message", "role": "assistant",
                        "model": "claude-sonnet-4-20250514", "content": [],
                        "usage": {"input_tokens": 4, "cache_creation_input_tokens": 100,
                                  "cache_read_input_tokens": 2000, "output_tokens": out}}
        })
    }

    fn record(v: Value) -> TraceRecord {
        match parse_line(&line(v), None) {
            LineOutcome::Record(r) => *r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn maps_an_assistant_turn() {
        let r = record(assistant(50));
        assert_eq!(r.source_format, SourceFormat::ClaudeCode);
        assert_eq!(
            (
                r.tokens_in,
                r.tokens_out,
                r.cache_read_tokens,
                r.cache_creation_tokens
            ),
            (2104, 50, 2000, 100),
            "cache tokens are apart from input and summed into tokens_in"
        );
        assert_eq!(r.call_id.as_deref(), Some("msg_1:req_1"));
        assert_eq!(r.session_id.as_deref(), Some("sess-1"));
        assert_eq!(r.cwd.as_deref(), Some("/home/dev/api"));
        assert_eq!(r.git_branch.as_deref(), Some("main"));
        assert_eq!(r.client_version.as_deref(), Some("1.0.51"));
        assert_eq!(r.is_sidechain, Some(false));
        assert_eq!(r.model.as_deref(), Some("claude-sonnet-4-20250514"));
        assert_eq!(r.repo_slug, None, "the repo is resolved at the I/O edge");
        assert_eq!(r.reported_cost, None);
    }

    #[test]
    fn call_id_falls_back_to_message_id() {
        let mut v = assistant(1);
        v.as_object_mut().unwrap().remove("requestId");
        assert_eq!(record(v).call_id.as_deref(), Some("msg_1"));
        let mut v = assistant(1);
        v["isSidechain"] = json!(true);
        let r = record(v);
        assert_eq!(r.call_id.as_deref(), Some("msg_1"));
        assert_eq!(r.is_sidechain, Some(true));
    }

    #[test]
    fn streaming_copies_share_a_key_and_the_largest_wins() {
        let mut early = record(assistant(1));
        early.cost_usd = Some(0.01);
        let mut late = record(assistant(300));
        late.timestamp += chrono::Duration::seconds(2);
        late.cost_usd = Some(0.02);
        assert_eq!(early.dedupe_key, late.dedupe_key);
        let other = record(json!({"sessionId": "s", "type": "assistant",
            "timestamp": "2025-07-10T11:00:00Z",
            "message": {"id": "msg_2", "model": "m", "usage": {"input_tokens": 1, "output_tokens": 1}}}));
        let mut batch = vec![early.clone(), other.clone(), late.clone(), early.clone()];
        keep_most_tokens(&mut batch);
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].tokens_out, 300);
        assert_eq!(batch[0].cost_usd, Some(0.02));
        assert_eq!(
            batch[0].timestamp, early.timestamp,
            "first copy's time stays"
        );
        assert_eq!(batch[1], other);
    }

    #[test]
    fn non_calls_are_skipped_not_dead() {
        let mut synthetic = assistant(0);
        synthetic["message"]["model"] = json!("<synthetic>");
        let mut api_error = assistant(0);
        api_error["isApiErrorMessage"] = json!(true);
        let user = json!({"sessionId": "s", "type": "user", "timestamp": "2025-07-10T10:00:00Z",
                          "message": {"role": "user", "content": "hi"}});
        let summary = json!({"type": "summary", "summary": "x", "leafUuid": "u-9"});
        for v in [synthetic, api_error, user, summary] {
            assert!(
                matches!(parse_line(&line(v.clone()), None), LineOutcome::Skipped(_)),
                "{v}"
            );
        }
    }

    #[test]
    fn malformed_usage_is_dead_lettered() {
        let mut v = assistant(1);
        v["message"]["usage"]["output_tokens"] = json!("lots");
        assert!(matches!(parse_line(&line(v), None), LineOutcome::Dead(_)));
        let mut v = assistant(1);
        v["timestamp"] = json!("yesterday");
        assert!(matches!(parse_line(&line(v), None), LineOutcome::Dead(_)));
    }

    #[test]
    fn log_dirs_follow_claude_config_dir() {
        assert_eq!(
            log_dirs(Some("/a, /b/c ,"), Some(Path::new("/home/u"))),
            [PathBuf::from("/a/projects"), PathBuf::from("/b/c/projects")]
        );
        assert_eq!(
            log_dirs(None, Some(Path::new("/home/u"))),
            [
                PathBuf::from("/home/u/.config/claude/projects"),
                PathBuf::from("/home/u/.claude/projects")
            ]
        );
        assert!(log_dirs(Some(""), None).is_empty());
    }

    #[test]
    fn cost_usd_is_reported() {
        let mut v = assistant(1);
        v["costUSD"] = json!(0.0123);
        assert_eq!(record(v).reported_cost, Some(0.0123));
    }
}
