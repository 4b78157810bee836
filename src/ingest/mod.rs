//! The ingest pipeline: inputs → line chunks → parse + normalise + price (worker threads) →
//! store (dedupe authority) → other sinks, with dead letters written as they occur.
//!
//! Memory stays flat whatever the input size: chunks are ~1 MiB, the channels between stages are
//! bounded, and rows are committed in batches. Chunks are re-ordered before writing, so results
//! (which copy of a duplicate wins, dead-letter order) do not depend on thread timing.

pub mod chunks;
pub mod files;
pub mod input;
mod pipeline;
pub mod postgres;
pub mod repo;

use crate::error::Result;
use crate::pricing::{Price, PriceTable};
use crate::record::{CostSource, SourceFormat, TraceRecord};
use crate::sinks::RecordSink;
use crate::slug::RepoSlug;
use crate::sources;
use crate::store::prelude::*;
use crate::store::runs::RunCounts;
use crate::store::traces::Written;
use files::{Plan, Probe};
use input::Input;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// How to ingest.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    /// Repo for records that name none (`--repo`).
    pub default_repo: Option<RepoSlug>,
    /// Forced input format (`--format`); None detects per line.
    pub format: Option<SourceFormat>,
    /// Folder for dead-letter files.
    pub dead_letter_dir: PathBuf,
    /// Prices for cost estimates.
    pub prices: PriceTable,
    /// `--default-price` fallback for unknown models.
    pub default_price: Option<Price>,
    /// Parser threads.
    pub threads: usize,
    /// Records written to the store at a time (one statement loop and one rollup upsert each).
    pub batch_size: usize,
    /// Records and activity rows written before the store commits (whole batches; see
    /// `TraceWriter::begin_writes`): fewer commits rewrite the dedupe index and the rollups fewer
    /// times (1 M LiteLLM lines without the lake: 24.7–26.8 s with a commit per 10 000-record
    /// batch, 20.4–21.2 s with 50 000; `BENCHMARKS.md`).
    pub commit_rows: u64,
    /// Repository of calls that carry a working folder (`--repo-map`, `.git/config`).
    pub repos: Arc<repo::RepoResolver>,
    /// Read every input whole, even files remembered as unchanged (`--full`).
    pub full: bool,
}

impl IngestOptions {
    /// Options with defaults: bundled prices, auto-detection, one parser per core.
    pub fn new(dead_letter_dir: PathBuf) -> Self {
        IngestOptions {
            default_repo: None,
            format: None,
            dead_letter_dir,
            prices: PriceTable::bundled(),
            default_price: None,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            batch_size: 10_000,
            commit_rows: 50_000,
            repos: Arc::new(repo::RepoResolver::new(Vec::new())),
            full: false,
        }
    }
}

/// Receives progress while ingesting (drawn as a bar by the CLI on a terminal).
pub trait Progress {
    /// The run starts: what it reads (one input's name or a count), and the bytes on disk to
    /// read when known.
    fn start(&self, label: &str, total_bytes: Option<u64>);
    /// Bytes read so far in the run, and records read so far.
    fn update(&self, bytes: u64, records: u64);
    /// The run is over.
    fn finish(&self);
}

/// A progress receiver that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn update(&self, _: u64, _: u64) {}
    fn finish(&self) {}
}

/// The outcome of an ingest run. Field names are a stable interface (`--json`).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct IngestSummary {
    /// Non-blank lines read.
    pub read: u64,
    /// Rows inserted.
    pub inserted: u64,
    /// Records already stored (or repeated within the run).
    pub duplicates: u64,
    /// Stored Claude Code calls raised to a later streaming copy with more tokens (also counted
    /// in `duplicates`); the token and cost sums below include the difference.
    pub raised: u64,
    /// Lines sent to the dead-letter queue.
    pub dead_lettered: u64,
    /// Inserted rows whose cost is unknown.
    pub cost_unknown: u64,
    /// Valid lines that are not LLM calls.
    pub skipped: u64,
    /// Claude Code activity rows inserted (`code_activity`).
    pub activity: u64,
    /// Sum of `tokens_in` over inserted rows.
    pub tokens_in: i64,
    /// Sum of `tokens_out` over inserted rows.
    pub tokens_out: i64,
    /// Sum of cache-read tokens over inserted rows.
    pub cache_read_tokens: i64,
    /// Sum of cache-creation tokens over inserted rows.
    pub cache_creation_tokens: i64,
    /// Sum of known costs over inserted rows (USD).
    pub cost_usd: f64,
    /// Inputs read (whole or resumed).
    pub inputs: u64,
    /// Files not read: unchanged since a run remembered them.
    pub files_skipped: u64,
    /// Files that grew since a run remembered them, read from where that run stopped.
    pub files_resumed: u64,
    /// `etl_runs` id of this run.
    pub run_id: i64,
    /// Wall time in seconds.
    pub elapsed_seconds: f64,
    /// Lines read per second.
    pub records_per_second: f64,
    /// Dead-letter files written to in this run.
    pub dead_letter_files: Vec<String>,
}

impl IngestSummary {
    /// The one-line human summary.
    pub fn line(&self) -> String {
        let mut s = format!(
            "read {}, inserted {}, duplicates skipped {}, dead-lettered {}, skipped (not LLM calls) {}, \
             cost-unknown {} — {} tokens in / {} out, ${:.4} — {:.2}s ({:.0} records/s)",
            self.read,
            self.inserted,
            self.duplicates,
            self.dead_lettered,
            self.skipped,
            self.cost_unknown,
            self.tokens_in,
            self.tokens_out,
            self.cost_usd,
            self.elapsed_seconds,
            self.records_per_second
        );
        if self.files_skipped + self.files_resumed > 0 {
            s.push_str(&format!(
                " — files: {} read whole, {} unchanged and skipped, {} resumed where they grew",
                self.inputs - self.files_resumed,
                self.files_skipped,
                self.files_resumed
            ));
        }
        s
    }
}

/// Ingests every input into the store (and `sinks`), recording the run in `etl_runs`.
///
/// Files remembered from earlier runs are skipped when unchanged and resumed when they grew
/// (see [`files`]); `opts.full` reads everything again.
pub fn ingest(
    store: &mut dyn IngestStore,
    inputs: &[Input],
    opts: &IngestOptions,
    sinks: &mut [&mut dyn RecordSink],
    progress: &dyn Progress,
) -> Result<IngestSummary> {
    let started = Instant::now();
    let run_id = store.start_run("ingest-traces", &run_source(inputs))?;
    let mut summary = IngestSummary {
        run_id,
        ..Default::default()
    };
    let result = (|| -> Result<()> {
        let (jobs, to_read) = plan(store, inputs, opts, &mut summary)?;
        let label = match jobs.as_slice() {
            [one] => one.input.display(),
            _ => format!("{} inputs", jobs.len()),
        };
        progress.start(&label, to_read);
        let bulk = store.start_bulk_load(to_read.unwrap_or(0))?;
        let loaded = pipeline::run(store, &jobs, opts, sinks, progress, &mut summary, run_id);
        if loaded.is_ok() {
            // The lake writes its last files while the indexes are built.
            sinks.iter_mut().for_each(|s| s.start_finish());
        }
        if bulk {
            store.finish_bulk_load()?;
        }
        loaded?;
        // A new store built aside becomes visible before anything written beside it does.
        store.publish()?;
        for s in sinks.iter_mut() {
            s.finish()?;
        }
        Ok(())
    })();
    progress.finish();
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    summary.records_per_second = summary.read as f64 / summary.elapsed_seconds.max(1e-9);
    let outcome = match &result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("failed: {e}"),
    };
    let details = serde_json::to_string(&summary)?;
    let logged = store.finish_run(run_id, &counts(&summary), &outcome, Some(&details));
    // The run's own error comes first (a new store built aside cannot log a failed run: it is
    // discarded).
    result?;
    logged?;
    Ok(summary)
}

/// How a run names its inputs in `etl_runs`: all of them when few, else the first and a count.
fn run_source(inputs: &[Input]) -> String {
    const SHOWN: usize = 10;
    let mut s = inputs
        .iter()
        .take(SHOWN)
        .map(Input::display)
        .collect::<Vec<_>>()
        .join(" ");
    if inputs.len() > SHOWN {
        s.push_str(&format!(" … ({} inputs)", inputs.len()));
    }
    s
}

/// Decides what to read of each input, counting skipped and resumed files; also returns the
/// bytes to read (None when stdin is among them).
fn plan(
    store: &dyn IngestStore,
    inputs: &[Input],
    opts: &IngestOptions,
    summary: &mut IngestSummary,
) -> Result<(Vec<pipeline::Job>, Option<u64>)> {
    let probe = Probe::new(if opts.full {
        Vec::new()
    } else {
        store.input_files()?
    });
    let mut jobs = Vec::with_capacity(inputs.len());
    let mut to_read = Some(0u64);
    for input in inputs {
        let Input::File(path) = input else {
            to_read = None;
            jobs.push(pipeline::Job {
                input: input.clone(),
                plan: Plan::Full,
                file: None,
            });
            continue;
        };
        // A file that cannot be probed now is planned whole; its reader reports why it fails.
        let Ok(p) = probe.plan(path) else {
            jobs.push(pipeline::Job {
                input: input.clone(),
                plan: Plan::Full,
                file: None,
            });
            continue;
        };
        match p.plan {
            Plan::Skip => {
                summary.files_skipped += 1;
                continue;
            }
            Plan::Resume { offset, .. } => {
                summary.files_resumed += 1;
                to_read = to_read.map(|t| t + p.stat.size.saturating_sub(offset));
            }
            Plan::Full => to_read = to_read.map(|t| t + p.stat.size),
        }
        jobs.push(pipeline::Job {
            input: input.clone(),
            plan: p.plan,
            file: Some((p.path, p.stat)),
        });
    }
    Ok((jobs, to_read))
}

impl IngestSummary {
    /// Sets what this run stored (rows, duplicates, raises, their sums, activity rows) back to
    /// `committed`'s, the summary as of the store's last commit: after a failed write the open
    /// transaction's rows are undone. What was read, skipped and dead-lettered stays.
    pub fn keep_stored(&mut self, committed: &IngestSummary) {
        self.inserted = committed.inserted;
        self.duplicates = committed.duplicates;
        self.raised = committed.raised;
        self.cost_unknown = committed.cost_unknown;
        self.activity = committed.activity;
        self.tokens_in = committed.tokens_in;
        self.tokens_out = committed.tokens_out;
        self.cache_read_tokens = committed.cache_read_tokens;
        self.cache_creation_tokens = committed.cache_creation_tokens;
        self.cost_usd = committed.cost_usd;
    }
}

/// The `etl_runs` counters of a summary.
pub(crate) fn counts(s: &IngestSummary) -> RunCounts {
    RunCounts {
        read: s.read,
        inserted: s.inserted,
        duplicates: s.duplicates,
        dead_lettered: s.dead_lettered,
        skipped: s.skipped,
        cost_unknown: s.cost_unknown,
    }
}

/// Tells every sink that the store has committed the records given to it so far.
pub(crate) fn committed(sinks: &mut [&mut dyn RecordSink]) -> Result<()> {
    sinks.iter_mut().try_for_each(|s| s.committed())
}

/// Writes a batch of parsed records to the store and the sinks, adding to the summary.
pub(crate) fn flush(
    store: &mut dyn IngestStore,
    batch: &mut Vec<TraceRecord>,
    sinks: &mut [&mut dyn RecordSink],
    summary: &mut IngestSummary,
    run_id: i64,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let before = batch.len();
    sources::claude_code::keep_most_tokens(batch);
    summary.duplicates += (before - batch.len()) as u64;
    let written = store.write_traces(batch, Some(run_id))?;
    // The sinks get the new records themselves (none are kept when there is no sink).
    let mut fresh = match sinks.last_mut() {
        Some(s) => {
            let mut v = s.spare().unwrap_or_default();
            v.reserve(batch.len());
            v
        }
        None => Vec::new(),
    };
    for (r, w) in batch.drain(..).zip(written) {
        match w {
            Written::Inserted => {}
            Written::Duplicate => {
                summary.duplicates += 1;
                continue;
            }
            Written::Raised {
                tokens_in,
                tokens_out,
                cache_read_tokens,
                cache_creation_tokens,
                cost_usd,
            } => {
                // The lake keeps the copy it was first given (see `Store::write_traces`).
                summary.duplicates += 1;
                summary.raised += 1;
                summary.tokens_in += r.tokens_in - tokens_in;
                summary.tokens_out += r.tokens_out - tokens_out;
                summary.cache_read_tokens += r.cache_read_tokens - cache_read_tokens;
                summary.cache_creation_tokens += r.cache_creation_tokens - cache_creation_tokens;
                summary.cost_usd += r.cost_usd.unwrap_or(0.0) - cost_usd.unwrap_or(0.0);
                continue;
            }
        }
        summary.inserted += 1;
        summary.tokens_in += r.tokens_in;
        summary.tokens_out += r.tokens_out;
        summary.cache_read_tokens += r.cache_read_tokens;
        summary.cache_creation_tokens += r.cache_creation_tokens;
        match r.cost_source {
            CostSource::Unknown => summary.cost_unknown += 1,
            _ => summary.cost_usd += r.cost_usd.unwrap_or(0.0),
        }
        if !sinks.is_empty() {
            fresh.push(r);
        }
    }
    if let Some((last, others)) = sinks.split_last_mut() {
        for s in others {
            s.write_new(fresh.clone())?;
        }
        last.write_new(fresh)?;
    }
    Ok(())
}
