//! Claude Code's own telemetry (its "Monitoring" documentation,
//! docs.anthropic.com/en/docs/claude-code/monitoring-usage), sent as OTLP log events and metrics.
//!
//! * `claude_code.api_request` → a call: `model`, `cost_usd`, `duration_ms`, `input_tokens`,
//!   `output_tokens`, `cache_read_tokens`, `cache_creation_tokens` (reported apart from the input,
//!   Anthropic style), `session.id`; developer from `user.email`, else `user.account_uuid`, else
//!   `user.id`; `organization.id` as the team.
//! * `claude_code.api_error` → an error call: `model`, `status_code`, `error`, `duration_ms`.
//! * `claude_code.tool_decision` → an activity row (`tool_name`, `decision`, `source`, `prompt.id`).
//! * Metrics `claude_code.lines_of_code.count` (`type` = added | removed),
//!   `claude_code.code_edit_tool.decision` (`tool`, `decision`, `language`),
//!   `claude_code.commit.count`, `claude_code.pull_request.count` → activity rows. Cost and token
//!   metrics are skipped: the `api_request` events already carry them.
//!
//! Acceptance rule (the `code_turn_acceptance` view): a turn is a `(session, prompt.id)` pair — the
//! session alone when `prompt.id` is absent. A turn with at least one `tool_decision` for an edit
//! tool (`Edit`, `MultiEdit`, `Write`, `NotebookEdit`) is accepted when any of those decisions is
//! `accept`, and rejected when all are `reject`; turns without edit decisions carry no signal.
//! Accepted lines of a session are its `lines_of_code` points of type `added` (delta points are
//! summed; a cumulative series counts its largest value).

use crate::normalise::{self, TokenInputs};
use crate::record::{SourceFormat, TraceRecord};
use crate::sources::fields::Obj;
use crate::sources::otel::view::{LogView, PointView};
use crate::sources::scope::Scope;
use crate::sources::{blank, Reject};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Tools whose decisions are code edits.
pub const EDIT_TOOLS: &[&str] = &["Edit", "MultiEdit", "Write", "NotebookEdit"];

/// One Claude Code activity fact, keyed by session (table `code_activity`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActivityRow {
    /// Hash of the identifying fields; repeated deliveries are stored once.
    #[serde(skip)]
    pub dedupe_key: [u8; 16],
    /// Claude Code `session.id`.
    pub session_id: Option<String>,
    /// When it happened, UTC.
    pub timestamp: DateTime<Utc>,
    /// `tool_decision`, `code_edit_decision`, `lines_of_code`, `commit` or `pull_request`.
    pub kind: String,
    /// Tool name (`Edit`, `Write`, `Bash`, …).
    pub tool_name: Option<String>,
    /// `accept` or `reject`.
    pub decision: Option<String>,
    /// Where a decision came from (`config`, `user_temporary`, `user_reject`, …).
    pub source: Option<String>,
    /// The prompt (turn) the event belongs to.
    pub prompt_id: Option<String>,
    /// `added` or `removed` for line counts.
    pub line_type: Option<String>,
    /// Language of an edit decision.
    pub language: Option<String>,
    /// Count carried by the point (1 for a decision event).
    pub value: f64,
    /// True when `value` is a running total (cumulative temporality).
    pub cumulative: bool,
    /// Who, per `user.email` / `user.account_uuid` / `user.id`.
    pub developer_id: Option<String>,
}

/// What one Claude Code signal became.
#[derive(Debug)]
pub enum Mapped {
    /// A canonical call.
    Call(Box<TraceRecord>),
    /// An activity row.
    Activity(Box<ActivityRow>),
}

/// Whether a log record comes from Claude Code (by event name or service name).
pub fn is_claude_code_log(log: &LogView) -> bool {
    event_name(log).is_some_and(|n| n.starts_with("claude_code."))
        || log.resource.get("service.name").and_then(|v| v.as_str()) == Some("claude-code")
}

/// The event name with the `claude_code.` prefix.
fn event_name(log: &LogView) -> Option<String> {
    let raw = log
        .event_name
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            log.attributes
                .get("event.name")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
        .or_else(|| log.body.clone())?;
    Some(if raw.starts_with("claude_code.") {
        raw
    } else {
        format!("claude_code.{raw}")
    })
}

fn developer(s: &Scope) -> Option<String> {
    s.lenient_string(&["user.email", "user.account_uuid", "user.id"])
}

fn time_of(log: &LogView, s: &Scope) -> Result<DateTime<Utc>, String> {
    if let Some(raw) = s.lenient_string(&["event.timestamp"]) {
        return crate::time::parse_str(&raw).map_err(|e| format!("event.timestamp: {e}"));
    }
    log.time_ns
        .map(DateTime::from_timestamp_nanos)
        .ok_or_else(|| "log record has no time".to_string())
}

/// Maps one Claude Code log event.
pub fn map_log(log: &LogView) -> Result<Mapped, Reject> {
    let name = event_name(log).unwrap_or_default();
    let objs = [&log.attributes, &log.resource];
    let s = Scope::new(&objs);
    match name.as_str() {
        "claude_code.api_request" | "claude_code.api_error" => {
            let ts = time_of(log, &s)?;
            let error = name.ends_with("api_error");
            let mut r = blank(SourceFormat::ClaudeCodeOtel, ts);
            let tokens = normalise::tokens(TokenInputs {
                input: s.count(&["input_tokens"])?,
                output: s.count(&["output_tokens"])?,
                total: None,
                cache_read: s.count(&["cache_read_tokens"])?,
                cache_creation: s.count(&["cache_creation_tokens"])?,
                cache_apart: true,
            })?;
            r.tokens_in = tokens.tokens_in;
            r.tokens_out = tokens.tokens_out;
            r.cache_read_tokens = tokens.cache_read;
            r.cache_creation_tokens = tokens.cache_creation;
            r.model = s.string(&["model"])?;
            r.provider = Some("anthropic".into());
            r.latency_ms = s.number(&["duration_ms"])?;
            r.session_id = s.lenient_string(&["session.id"]);
            r.developer_id = developer(&s);
            r.git_branch = crate::sources::common::branch(&s);
            r.team_id = s.lenient_string(&["organization.id"]);
            r.call_id = s.lenient_string(&["request_id", "request.id"]);
            if error {
                let (code, _) =
                    normalise::status(s.status_code(&["status_code"]).ok().flatten(), true);
                r.status_code = code;
                r.is_error = true;
                r.error_class = s
                    .lenient_string(&["error"])
                    .or_else(|| code.map(|c| format!("http_{c}")))
                    .or_else(|| Some("api_error".into()));
            } else {
                r.reported_cost = s.number(&["cost_usd"])?;
            }
            Ok(Mapped::Call(Box::new(r)))
        }
        "claude_code.tool_decision" => {
            let ts = time_of(log, &s)?;
            let decision = s
                .lenient_string(&["decision"])
                .map(|d| d.to_ascii_lowercase());
            if !matches!(decision.as_deref(), Some("accept" | "reject")) {
                return Err(Reject::Dead(format!(
                    "tool_decision decision must be accept or reject, got {decision:?}"
                )));
            }
            Ok(Mapped::Activity(Box::new(activity(ActivityRow {
                dedupe_key: [0; 16],
                session_id: s.lenient_string(&["session.id"]),
                timestamp: ts,
                kind: "tool_decision".into(),
                tool_name: s.lenient_string(&["tool_name", "tool"]),
                decision,
                source: s.lenient_string(&["source"]),
                prompt_id: s.lenient_string(&["prompt.id"]),
                line_type: None,
                language: None,
                value: 1.0,
                cumulative: false,
                developer_id: developer(&s),
            }))))
        }
        other => Err(Reject::Skip(format!("log event {other:?} is not used"))),
    }
}

/// Maps one metric point; metrics other than the four activity counters are skipped.
pub fn map_point(p: &PointView) -> Result<ActivityRow, Reject> {
    let kind = match p.metric.as_str() {
        "claude_code.lines_of_code.count" => "lines_of_code",
        "claude_code.code_edit_tool.decision" => "code_edit_decision",
        "claude_code.commit.count" => "commit",
        "claude_code.pull_request.count" => "pull_request",
        other => return Err(Reject::Skip(format!("metric {other:?} is not used"))),
    };
    if !p.value.is_finite() || p.value < 0.0 {
        return Err(Reject::Dead(format!("{}: bad value {}", p.metric, p.value)));
    }
    let ts = p
        .time_ns
        .map(DateTime::from_timestamp_nanos)
        .ok_or_else(|| Reject::Dead(format!("{}: point has no time", p.metric)))?;
    let objs: [&Obj; 2] = [&p.attributes, &p.resource];
    let s = Scope::new(&objs);
    Ok(activity(ActivityRow {
        dedupe_key: [0; 16],
        session_id: s.lenient_string(&["session.id"]),
        timestamp: ts,
        kind: kind.into(),
        tool_name: s.lenient_string(&["tool", "tool_name"]),
        decision: s
            .lenient_string(&["decision"])
            .map(|d| d.to_ascii_lowercase()),
        source: s.lenient_string(&["source"]),
        prompt_id: s.lenient_string(&["prompt.id"]),
        line_type: s.lenient_string(&["type"]),
        language: s.lenient_string(&["language"]),
        value: p.value,
        cumulative: p.cumulative,
        developer_id: developer(&s),
    }))
}

/// Sets the dedupe key from every identifying field.
fn activity(mut a: ActivityRow) -> ActivityRow {
    let mut h = blake3::Hasher::new();
    for part in [
        Some(a.kind.as_str()),
        a.session_id.as_deref(),
        a.tool_name.as_deref(),
        a.decision.as_deref(),
        a.source.as_deref(),
        a.prompt_id.as_deref(),
        a.line_type.as_deref(),
        a.language.as_deref(),
        a.developer_id.as_deref(),
    ] {
        h.update(part.unwrap_or("\u{0}").as_bytes());
        h.update(b"\x1f");
    }
    h.update(&a.timestamp.timestamp_nanos_opt().unwrap_or(0).to_le_bytes());
    h.update(&a.value.to_bits().to_le_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&h.finalize().as_bytes()[..16]);
    a.dedupe_key = key;
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn log(body: &str, attrs: Value) -> LogView {
        LogView {
            time_ns: Some(1_760_295_600_000_000_000),
            body: Some(body.into()),
            attributes: attrs.as_object().cloned().unwrap(),
            ..Default::default()
        }
    }

    #[test]
    fn api_request_is_a_call() {
        let l = log(
            "claude_code.api_request",
            json!({"event.name": "api_request", "event.timestamp": "2025-10-12T19:00:01Z",
                   "session.id": "cc-1", "user.email": "dana@example.com", "user.account_uuid": "acc",
                   "organization.id": "org-9", "model": "claude-sonnet-4-20250514", "cost_usd": "0.0213",
                   "duration_ms": "4100", "input_tokens": "12", "output_tokens": "310",
                   "cache_read_tokens": "20000", "cache_creation_tokens": "1500"}),
        );
        let Mapped::Call(r) = map_log(&l).unwrap() else {
            panic!("not a call")
        };
        assert_eq!(r.source_format, SourceFormat::ClaudeCodeOtel);
        assert_eq!((r.tokens_in, r.tokens_out), (12 + 20000 + 1500, 310));
        assert_eq!(
            (r.cache_read_tokens, r.cache_creation_tokens),
            (20000, 1500)
        );
        assert_eq!(r.reported_cost, Some(0.0213));
        assert_eq!(r.latency_ms, Some(4100.0));
        assert_eq!(r.session_id.as_deref(), Some("cc-1"));
        assert_eq!(r.developer_id.as_deref(), Some("dana@example.com"));
        assert_eq!(r.team_id.as_deref(), Some("org-9"));
        assert_eq!(r.timestamp.to_rfc3339(), "2025-10-12T19:00:01+00:00");
    }

    #[test]
    fn api_error_is_an_error_call() {
        let l = log(
            "claude_code.api_error",
            json!({"model": "m", "error": "Overloaded", "status_code": "529", "session.id": "cc-1"}),
        );
        let Mapped::Call(r) = map_log(&l).unwrap() else {
            panic!("not a call")
        };
        assert!(r.is_error);
        assert_eq!(r.status_code, Some(529));
        assert_eq!(r.error_class.as_deref(), Some("Overloaded"));
    }

    #[test]
    fn tool_decision_and_skips() {
        let l = log(
            "claude_code.tool_decision",
            json!({"tool_name": "Edit", "decision": "accept", "source": "config", "session.id": "cc-1", "prompt.id": "p1"}),
        );
        let Mapped::Activity(a) = map_log(&l).unwrap() else {
            panic!("not activity")
        };
        assert_eq!(
            (
                a.kind.as_str(),
                a.tool_name.as_deref(),
                a.decision.as_deref(),
                a.prompt_id.as_deref()
            ),
            ("tool_decision", Some("Edit"), Some("accept"), Some("p1"))
        );
        assert!(matches!(
            map_log(&log("claude_code.user_prompt", json!({}))),
            Err(Reject::Skip(_))
        ));
        let bad = log("claude_code.tool_decision", json!({"decision": "maybe"}));
        assert!(matches!(map_log(&bad), Err(Reject::Dead(_))));
        let bad = log("claude_code.api_request", json!({"input_tokens": "many"}));
        assert!(matches!(map_log(&bad), Err(Reject::Dead(_))));
    }

    #[test]
    fn metric_points() {
        let p = PointView {
            metric: "claude_code.lines_of_code.count".into(),
            time_ns: Some(1),
            value: 57.0,
            attributes: json!({"type": "added", "session.id": "cc-1"})
                .as_object()
                .cloned()
                .unwrap(),
            ..Default::default()
        };
        let a = map_point(&p).unwrap();
        assert_eq!(
            (a.kind.as_str(), a.line_type.as_deref(), a.value),
            ("lines_of_code", Some("added"), 57.0)
        );
        let mut q = p.clone();
        q.value = 58.0;
        assert_ne!(map_point(&q).unwrap().dedupe_key, a.dedupe_key);
        q.metric = "claude_code.cost.usage".into();
        assert!(matches!(map_point(&q), Err(Reject::Skip(_))));
    }
}
