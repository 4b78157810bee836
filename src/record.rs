//! The canonical record: one LLM call, whatever format it arrived in.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// The input shapes ProdLens can read; each has its own module under `sources/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// The seed's span-like shape: `timestamp`, `usage.input_tokens`, `attributes`, `metadata`.
    SeedSpan,
    /// The seed's LiteLLM custom-logger shape: top-level `model`, `usage.prompt_tokens`, `status`.
    LitellmLogger,
    /// LiteLLM's own `StandardLoggingPayload`.
    LitellmPayload,
    /// Claude Code's local session logs (`~/.claude/projects/*/*.jsonl`).
    ClaudeCode,
    /// Rows of LiteLLM's `LiteLLM_SpendLogs` table (`/spend/logs` API or a table dump).
    LitellmSpendLogs,
    /// An OTLP/JSON export request per line (Collector file exporter): LLM spans.
    OtlpJson,
    /// One span per line as SDK console exporters print it.
    OtelSpan,
    /// A Phoenix/Arize span dataframe row (`attributes.*` columns).
    PhoenixSpan,
    /// Claude Code's own OTel log events (`claude_code.api_request`, …).
    ClaudeCodeOtel,
}

/// How lines are read (`--format`): each line's shape detected, or every line as one format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FormatChoice {
    /// Detect the shape of every line.
    #[default]
    Auto,
    /// Read every line as this format.
    Only(SourceFormat),
}

impl FormatChoice {
    /// The one format every line is read as, if one was chosen.
    pub fn only(self) -> Option<SourceFormat> {
        match self {
            FormatChoice::Auto => None,
            FormatChoice::Only(f) => Some(f),
        }
    }
}

impl clap::ValueEnum for FormatChoice {
    fn value_variants<'a>() -> &'a [Self] {
        const ALL: [FormatChoice; 10] = [
            FormatChoice::Auto,
            FormatChoice::Only(SourceFormat::SeedSpan),
            FormatChoice::Only(SourceFormat::LitellmLogger),
            FormatChoice::Only(SourceFormat::LitellmPayload),
            FormatChoice::Only(SourceFormat::ClaudeCode),
            FormatChoice::Only(SourceFormat::LitellmSpendLogs),
            FormatChoice::Only(SourceFormat::OtlpJson),
            FormatChoice::Only(SourceFormat::OtelSpan),
            FormatChoice::Only(SourceFormat::PhoenixSpan),
            FormatChoice::Only(SourceFormat::ClaudeCodeOtel),
        ];
        &ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        match self {
            FormatChoice::Auto => Some(
                clap::builder::PossibleValue::new("auto").help("Detect the shape of every line"),
            ),
            FormatChoice::Only(f) => f.to_possible_value(),
        }
    }
}

impl SourceFormat {
    /// Every format, in detection order.
    pub const ALL: [SourceFormat; 9] = [
        SourceFormat::LitellmSpendLogs,
        SourceFormat::ClaudeCode,
        SourceFormat::OtlpJson,
        SourceFormat::ClaudeCodeOtel,
        SourceFormat::PhoenixSpan,
        SourceFormat::OtelSpan,
        SourceFormat::LitellmPayload,
        SourceFormat::SeedSpan,
        SourceFormat::LitellmLogger,
    ];

    /// The stable name used in `--format`, the store and the lake.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::SeedSpan => "seed-span",
            SourceFormat::LitellmLogger => "litellm-logger",
            SourceFormat::LitellmPayload => "litellm-payload",
            SourceFormat::ClaudeCode => "claude-code",
            SourceFormat::LitellmSpendLogs => "litellm-spend-logs",
            SourceFormat::OtlpJson => "otlp-json",
            SourceFormat::OtelSpan => "otel-span",
            SourceFormat::PhoenixSpan => "phoenix-span",
            SourceFormat::ClaudeCodeOtel => "claude-code-otel",
        }
    }

    /// Looks a format up by its stable name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Where a record's `cost_usd` came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CostSource {
    /// The record carried a credible cost.
    Reported,
    /// Computed from the price table (or `--default-price`).
    Estimated,
    /// No credible reported cost and no price for the model: `cost_usd` is null.
    Unknown,
}

impl CostSource {
    /// The stable name stored in the `cost_source` column.
    pub fn name(self) -> &'static str {
        match self {
            CostSource::Reported => "reported",
            CostSource::Estimated => "estimated",
            CostSource::Unknown => "unknown",
        }
    }

    /// The cost source a stored name stands for.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            CostSource::Reported,
            CostSource::Estimated,
            CostSource::Unknown,
        ]
        .into_iter()
        .find(|c| c.name() == name)
    }
}

/// One normalised LLM call. Prompt and response text are never part of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceRecord {
    /// 16-byte dedupe key: hash of the source's unique call id, else of the normalised key fields.
    #[serde(skip)]
    pub dedupe_key: [u8; 16],
    /// The source's own unique call id (LiteLLM `litellm_call_id`), when it has one.
    pub call_id: Option<String>,
    /// The provider's response id (may repeat across calls; informational only).
    pub response_id: Option<String>,
    /// Which input shape produced the record.
    pub source_format: SourceFormat,
    /// When the call started, UTC.
    pub timestamp: DateTime<Utc>,
    /// The UTC calendar date of `timestamp`.
    pub event_date: NaiveDate,
    /// `owner/name` of the repository the call is attributed to.
    pub repo_slug: Option<String>,
    /// Who made the call (a person or key owner), per the developer-id rule.
    pub developer_id: Option<String>,
    /// The coding session, per the session-id rule.
    pub session_id: Option<String>,
    /// Trace id that groups the calls of one request.
    pub trace_id: Option<String>,
    /// Team id (LiteLLM `user_api_key_team_id`).
    pub team_id: Option<String>,
    /// API key alias (LiteLLM `user_api_key_alias`).
    pub key_alias: Option<String>,
    /// Model name as reported.
    pub model: Option<String>,
    /// Provider (`anthropic`, `openai`, …) when reported.
    pub provider: Option<String>,
    /// Kind of call (`completion`, `acompletion`, `embedding`, …).
    pub call_type: Option<String>,
    /// Every prompt token, cache reads and writes included.
    pub tokens_in: i64,
    /// Completion tokens.
    pub tokens_out: i64,
    /// Prompt tokens read from the provider's cache (a part of `tokens_in`).
    pub cache_read_tokens: i64,
    /// Prompt tokens written to the provider's cache (a part of `tokens_in`).
    pub cache_creation_tokens: i64,
    /// End-to-end latency in milliseconds.
    pub latency_ms: Option<f64>,
    /// Time to first token in milliseconds, when known.
    pub ttft_ms: Option<f64>,
    /// HTTP status code, when reported.
    pub status_code: Option<i64>,
    /// True for status ≥ 400 or a reported failure.
    pub is_error: bool,
    /// Error class (`RateLimitError`, `http_500`, …) for failed calls.
    pub error_class: Option<String>,
    /// Whether the suggestion was accepted; None when the record carries no signal.
    pub accepted: Option<bool>,
    /// Similarity of the accepted change to the suggestion (0–1).
    pub diff_ratio: Option<f64>,
    /// Lines of the suggestion that were accepted.
    pub accepted_lines: Option<i64>,
    /// Whether the response came from LiteLLM's cache.
    pub cache_hit: Option<bool>,
    /// Cost the record reported, before credibility checks.
    #[serde(skip)]
    pub reported_cost: Option<f64>,
    /// Cost in US dollars (null when unknown).
    pub cost_usd: Option<f64>,
    /// Where `cost_usd` came from.
    pub cost_source: CostSource,
    /// Working folder of the client that made the call (Claude Code `cwd`).
    pub cwd: Option<String>,
    /// Git branch checked out in `cwd` when the call was made (Claude Code `gitBranch`).
    pub git_branch: Option<String>,
    /// True for calls made by a sub-agent (Claude Code `isSidechain`); None when not reported.
    pub is_sidechain: Option<bool>,
    /// Version of the client that made the call (Claude Code `version`).
    pub client_version: Option<String>,
}
