//! The fast path for Claude Code log lines: decoded straight into typed, borrowed fields instead
//! of a JSON object of values, since a Claude Code tree is hundreds of thousands of lines and
//! [`claude_code::parse`] reads a dozen of their fields.
//!
//! It takes only lines it can decide the way the general path would: well-typed fields, no
//! escaped strings, no duplicate keys, a readable timestamp and usage, detected as Claude Code
//! (or forced). Anything else returns None and goes through the general path, which gives the
//! dead-letter reason; tests check both paths agree line by line.

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::de::{Deserializer, IgnoredAny};
use serde::Deserialize;

use super::claude_code::{self, Call, API_ERROR, NO_MESSAGE, NO_USAGE, SYNTHETIC, SYNTHETIC_MODEL};
use super::fields::{self, Obj};
use super::{usage, Reject};
use crate::record::{SourceFormat, TraceRecord};

/// Finds the `sessionId` key in a line's text.
static SESSION_ID: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"sessionId\""));

/// The fields of a line that [`claude_code::parse`] and format detection read.
#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    message: Option<Message<'a>>,
    #[serde(rename = "isApiErrorMessage")]
    api_error: Option<bool>,
    timestamp: Option<&'a str>,
    #[serde(rename = "isSidechain")]
    sidechain: Option<bool>,
    #[serde(rename = "requestId")]
    request_id: Option<&'a str>,
    #[serde(rename = "sessionId")]
    session_id: Option<&'a str>,
    #[serde(rename = "costUSD")]
    cost_usd: Option<f64>,
    cwd: Option<&'a str>,
    #[serde(rename = "gitBranch")]
    git_branch: Option<&'a str>,
    version: Option<&'a str>,
    // Keys format detection tests for, whatever their value.
    #[serde(rename = "type", default, deserialize_with = "present")]
    has_type: bool,
    #[serde(rename = "leafUuid", default, deserialize_with = "present")]
    has_leaf_uuid: bool,
    #[serde(rename = "request_id", default, deserialize_with = "present")]
    has_request_id: bool,
    #[serde(default, deserialize_with = "present")]
    spend: bool,
    #[serde(default, deserialize_with = "present")]
    api_key: bool,
}

/// The fields of `message` that are read.
#[derive(Deserialize)]
struct Message<'a> {
    id: Option<&'a str>,
    model: Option<&'a str>,
    usage: Option<Obj>,
}

/// True for a key that is there, whatever its value (null included).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// A string field as the general path reads it (see [`fields::string`]).
fn text(v: Option<&str>) -> Option<String> {
    v.and_then(fields::trimmed)
}

/// The record or skip of a Claude Code line (forced, or detected as one), or None for the
/// general path.
pub(super) fn parse(
    line_text: &str,
    forced: Option<SourceFormat>,
) -> Option<Result<TraceRecord, Reject>> {
    match forced {
        Some(SourceFormat::ClaudeCode) => {}
        // Calls need a `sessionId` to be detected (summary lines, detected by `leafUuid`, are
        // rare and left to the general path); other formats' lines pay one search.
        None if SESSION_ID.find(line_text.as_bytes()).is_some() => {}
        _ => return None,
    }
    let line: Line = serde_json::from_str(line_text).ok()?;
    if forced.is_none() {
        // `detect`'s first two rules: spend-log rows, then Claude Code. A null `sessionId` is
        // there for detection but not read here: the general path decides.
        let spend_log = line.has_request_id && (line.spend || line.api_key);
        let claude = (line.session_id.is_some() && line.has_type) || line.has_leaf_uuid;
        if spend_log || !claude {
            return None;
        }
    }
    record(line)
}

/// The record (or skip) of a decoded line, as [`claude_code::parse`] makes it; None where that
/// would dead-letter the line, so that the general path gives the reason.
fn record(line: Line) -> Option<Result<TraceRecord, Reject>> {
    let skip = |why: &str| Some(Err(Reject::Skip(why.to_string())));
    let Some(message) = line.message else {
        return skip(NO_MESSAGE);
    };
    let Some(usage_obj) = &message.usage else {
        return skip(NO_USAGE);
    };
    if line.api_error == Some(true) {
        return skip(API_ERROR);
    }
    let model = text(message.model);
    if model.as_deref() == Some(SYNTHETIC_MODEL) {
        return skip(SYNTHETIC);
    }
    let ts = crate::time::parse_str(line.timestamp?).ok()?;
    let tokens = usage::read(usage_obj).ok()?;
    let cost = match line.cost_usd {
        Some(c) if !(c.is_finite() && c >= 0.0) => return None,
        c => c,
    };
    Some(Ok(claude_code::record(Call {
        ts,
        model,
        tokens,
        sidechain: line.sidechain,
        message_id: text(message.id),
        request_id: text(line.request_id),
        session_id: text(line.session_id),
        cost,
        cwd: text(line.cwd),
        git_branch: text(line.git_branch),
        version: text(line.version),
    })))
}
