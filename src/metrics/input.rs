//! Inputs of the report: the rows of one repo over the window, as the store hands them over.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// One LLM call, reduced to the fields the indicators read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TraceRow {
    /// When the call started, UTC.
    pub timestamp: DateTime<Utc>,
    /// Who made the call.
    pub developer: Option<Arc<str>>,
    /// The coding session.
    pub session: Option<Arc<str>>,
    /// Model name as reported.
    pub model: Option<Arc<str>>,
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// Completion (output) tokens.
    pub output_tokens: i64,
    /// End-to-end latency in milliseconds.
    pub latency_ms: Option<f64>,
    /// Time to first token in milliseconds.
    pub ttft_ms: Option<f64>,
    /// HTTP status code.
    pub status_code: Option<i64>,
    /// Status ≥ 400 or a reported failure.
    pub is_error: bool,
    /// Error class of a failed call.
    pub error_class: Option<String>,
    /// Acceptance signal; `None` when the call carries none.
    pub accepted: Option<bool>,
    /// Similarity of the accepted change to the suggestion (0–1).
    pub diff_ratio: Option<f64>,
    /// Lines of the suggestion that were accepted.
    pub accepted_lines: Option<i64>,
    /// Cost in US dollars; `None` when unknown.
    pub cost_usd: Option<f64>,
}

/// One pull request.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRow {
    /// PR number within the repo.
    pub number: i64,
    /// Author login.
    pub author: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was merged, if it was.
    pub merged_at: Option<DateTime<Utc>>,
}

/// One commit.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitRow {
    /// Author login (or name when the login is unknown).
    pub author: Option<String>,
    /// Author date.
    pub authored_at: DateTime<Utc>,
}

/// Kind of a rework signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReworkKind {
    /// A merged PR reverted by a later PR or commit.
    Revert,
    /// A PR reopened after a close.
    Reopened,
}

/// One rework signal linked to a PR.
#[derive(Debug, Clone, PartialEq)]
pub struct ReworkRow {
    /// Revert or reopen.
    pub kind: ReworkKind,
    /// The PR reworked.
    pub pr_number: i64,
    /// When the revert or reopen happened.
    pub at: DateTime<Utc>,
    /// For reverts: within 21 days of the merge.
    pub within_window: bool,
    /// When the reworked PR was merged, `None` when it was not (as stored).
    pub pr_merged_at: Option<DateTime<Utc>>,
}

/// Everything the report reads for one repo.
#[derive(Debug, Clone, Default)]
pub struct RepoData {
    /// `owner/name`.
    pub repo: String,
    /// Calls inside the window (read when `aggregate` is `None`).
    pub traces: Vec<TraceRow>,
    /// The calls already aggregated (rollups); when set, `traces` is not read.
    pub aggregate: Option<super::aggregate::TraceAggregate>,
    /// PRs merged inside the window.
    pub pulls: Vec<PullRow>,
    /// Commits authored inside the window.
    pub commits: Vec<CommitRow>,
    /// Rework signals of the repo (any time).
    pub rework: Vec<ReworkRow>,
    /// True when the store holds GitHub data for this repo at all.
    pub has_github: bool,
    /// When each source of the repo was collecting; `None` takes the whole window as covered.
    pub coverage: Option<Coverage>,
    /// Links developer ids of calls to GitHub logins; `None` keys people by the id as written.
    pub linker: Option<Arc<crate::identity::Linker>>,
}

/// When the traces and the GitHub data of a repo start and end (over all stored data).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Coverage {
    /// First stored call.
    pub trace_first: Option<DateTime<Utc>>,
    /// Last stored call.
    pub trace_last: Option<DateTime<Utc>>,
    /// First PR creation or commit.
    pub github_first: Option<DateTime<Utc>>,
    /// Last PR creation, merge or commit.
    pub github_last: Option<DateTime<Utc>>,
    /// Last successful GitHub sync (collection went on until then even without activity).
    pub github_last_sync: Option<DateTime<Utc>>,
}

impl Coverage {
    /// The last instant GitHub data was known to be collected: the last sync, else the last activity.
    pub fn github_end(&self) -> Option<DateTime<Utc>> {
        self.github_last_sync.or(self.github_last)
    }

    /// The latest instant with data from either source.
    pub fn last_data(&self) -> Option<DateTime<Utc>> {
        match (self.trace_last, self.github_last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}
