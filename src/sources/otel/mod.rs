//! OpenTelemetry sources: OTLP/JSON batches (`otlp-json`, `claude-code-otel`), console-exporter
//! spans (`otel-span`) and Phoenix dataframe rows (`phoenix-span`). All of them go through the
//! format-neutral views of [`view`], then [`llm_span`] (spans) or [`claude_code`] (logs, metrics).

pub mod claude_code;
pub mod flat;
pub mod llm_span;
pub mod otlp;
pub mod view;

use crate::record::TraceRecord;
use claude_code::ActivityRow;

/// What one multi-record input (an OTLP request) turned into.
#[derive(Debug, Default)]
pub struct Batch {
    /// Canonical calls.
    pub records: Vec<TraceRecord>,
    /// Claude Code activity rows.
    pub activity: Vec<ActivityRow>,
    /// Items that are valid but not used (non-LLM spans, other events and metrics).
    pub skipped: u64,
    /// Reasons of unusable items.
    pub dead: Vec<String>,
}

impl Batch {
    /// Appends another batch.
    pub fn extend(&mut self, other: Batch) {
        self.records.extend(other.records);
        self.activity.extend(other.activity);
        self.skipped += other.skipped;
        self.dead.extend(other.dead);
    }

    /// Number of items that produced something or were rejected.
    pub fn items(&self) -> u64 {
        (self.records.len() + self.activity.len() + self.dead.len()) as u64 + self.skipped
    }
}
