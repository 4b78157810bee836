//! The ingest pipeline: inputs → line chunks → parse + normalise + price (worker threads) →
//! store (dedupe authority) → other sinks, with dead letters written as they occur.
//!
//! Memory stays flat whatever the input size: chunks are ~1 MiB, the channels between stages are
//! bounded, and rows are committed in batches. Chunks are re-ordered before writing, so results
//! (which copy of a duplicate wins, dead-letter order) do not depend on thread timing.

pub mod chunks;
pub mod input;
pub mod postgres;
pub mod repo;

use crate::error::Result;
use crate::pricing::{Price, PriceTable, Pricer};
use crate::record::{CostSource, SourceFormat, TraceRecord};
use crate::sinks::dead_letter::DeadLetterWriter;
use crate::sinks::RecordSink;
use crate::slug::RepoSlug;
use crate::sources::otel::claude_code::ActivityRow;
use crate::sources::{self, LineOutcome};
use crate::store::runs::RunCounts;
use crate::store::traces::Written;
use crate::store::Store;
use chunks::{Chunk, ChunkReader};
use crossbeam_channel::bounded;
use input::Input;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Rows per store transaction.
    pub batch_size: usize,
    /// Repository of calls that carry a working folder (`--repo-map`, `.git/config`).
    pub repos: Arc<repo::RepoResolver>,
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
            repos: Arc::new(repo::RepoResolver::new(Vec::new())),
        }
    }
}

/// Receives progress while ingesting (drawn as a bar by the CLI on a terminal).
pub trait Progress {
    /// A new input starts; `size` is its size on disk when known.
    fn start_input(&self, input: &Input, size: Option<u64>);
    /// Bytes read so far of the current input, and records read so far in the run.
    fn update(&self, bytes: u64, records: u64);
    /// The run is over.
    fn finish(&self);
}

/// A progress receiver that ignores everything.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start_input(&self, _: &Input, _: Option<u64>) {}
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
    /// Inputs read.
    pub inputs: u64,
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
        format!(
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
        )
    }

    fn counts(&self) -> RunCounts {
        RunCounts {
            read: self.read,
            inserted: self.inserted,
            duplicates: self.duplicates,
            dead_lettered: self.dead_lettered,
            skipped: self.skipped,
            cost_unknown: self.cost_unknown,
        }
    }
}

/// What a worker made of one chunk.
struct Parsed {
    seq: u64,
    read: u64,
    skipped: u64,
    records: Vec<TraceRecord>,
    activity: Vec<ActivityRow>,
    dead: Vec<(u64, String, Vec<u8>)>,
}

fn parse_chunk(chunk: Chunk, opts: &IngestOptions, pricer: &mut Pricer) -> Parsed {
    let mut p = Parsed {
        seq: chunk.seq,
        read: 0,
        skipped: 0,
        records: Vec::new(),
        activity: Vec::new(),
        dead: Vec::new(),
    };
    if let Some((line, head)) = &chunk.oversized {
        p.read += 1;
        p.dead.push((
            *line,
            format!("line longer than {} bytes", chunks::MAX_LINE),
            head.clone(),
        ));
    }
    for (line, bytes) in chunks::lines(&chunk) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        p.read += 1;
        match sources::parse_line(bytes, opts.format) {
            LineOutcome::Record(mut r) => {
                if r.repo_slug.is_none() {
                    r.repo_slug = opts.default_repo.as_ref().map(|s| s.as_str().to_string());
                }
                if r.repo_slug.is_none() {
                    r.repo_slug = r.cwd.as_deref().and_then(|c| opts.repos.resolve(c));
                }
                pricer.apply(&mut r);
                p.records.push(*r);
            }
            LineOutcome::Skipped(_) => p.skipped += 1,
            LineOutcome::Dead(reason) => p.dead.push((line, reason, bytes.to_vec())),
            LineOutcome::Batch(b) => {
                let b = *b;
                for mut r in b.records {
                    if r.repo_slug.is_none() {
                        r.repo_slug = opts.default_repo.as_ref().map(|s| s.as_str().to_string());
                    }
                    pricer.apply(&mut r);
                    p.records.push(r);
                }
                p.activity.extend(b.activity);
                p.skipped += b.skipped;
                if !b.dead.is_empty() {
                    // The good items of the line are kept; the line is dead-lettered once with
                    // every reason, so that its bad items can be replayed.
                    p.dead.push((line, b.dead.join("; "), bytes.to_vec()));
                }
            }
        }
    }
    p
}

/// Ingests every input into the store (and `sinks`), recording the run in `etl_runs`.
pub fn ingest(
    store: &mut Store,
    inputs: &[Input],
    opts: &IngestOptions,
    sinks: &mut [&mut dyn RecordSink],
    progress: &dyn Progress,
) -> Result<IngestSummary> {
    let started = Instant::now();
    let source = inputs
        .iter()
        .map(Input::display)
        .collect::<Vec<_>>()
        .join(" ");
    let run_id = store.start_run("ingest-traces", &source)?;
    let mut summary = IngestSummary {
        run_id,
        ..Default::default()
    };
    let result = (|| {
        for input in inputs {
            ingest_one(store, input, opts, sinks, progress, &mut summary, run_id)?;
            summary.inputs += 1;
        }
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
    store.finish_run(run_id, &summary.counts(), &outcome, Some(&details))?;
    result.map(|()| summary)
}

fn ingest_one(
    store: &mut Store,
    input: &Input,
    opts: &IngestOptions,
    sinks: &mut [&mut dyn RecordSink],
    progress: &dyn Progress,
    summary: &mut IngestSummary,
    run_id: i64,
) -> Result<()> {
    let bytes = Arc::new(AtomicU64::new(0));
    let reader = input::open(input, bytes.clone())?;
    progress.start_input(input, input.size());
    let mut dead = DeadLetterWriter::new(&opts.dead_letter_dir, &input.stem(), &input.display());
    let threads = opts.threads.max(1);
    let read_error = std::thread::scope(|s| -> Result<Option<(u64, String)>> {
        let (chunk_tx, chunk_rx) = bounded::<Chunk>(threads * 2);
        let (out_tx, out_rx) = bounded::<Parsed>(threads * 2);
        let reader_handle = s.spawn(move || {
            let mut cr = ChunkReader::new(reader);
            loop {
                match cr.next_chunk() {
                    Ok(Some(c)) => {
                        if chunk_tx.send(c).is_err() {
                            return None;
                        }
                    }
                    Ok(None) => return None,
                    Err(e) => return Some((cr.next_line_number(), format!("read error: {e}"))),
                }
            }
        });
        for _ in 0..threads {
            let rx = chunk_rx.clone();
            let tx = out_tx.clone();
            s.spawn(move || {
                let mut pricer = Pricer::new(opts.prices.clone(), opts.default_price);
                for chunk in rx {
                    if tx.send(parse_chunk(chunk, opts, &mut pricer)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(chunk_rx);
        drop(out_tx);
        write_all(
            store, out_rx, opts, sinks, &mut dead, summary, run_id, progress, &bytes,
        )?;
        Ok(reader_handle
            .join()
            .unwrap_or(Some((0, "reader thread panicked".into()))))
    })?;
    if let Some((line, reason)) = read_error {
        // The stream broke (truncated gzip, I/O error): everything before it is kept.
        dead.write(line, &reason, b"")?;
        summary.dead_lettered += 1;
    }
    if dead.written() > 0 {
        let p = dead.path().display().to_string();
        if !summary.dead_letter_files.contains(&p) {
            summary.dead_letter_files.push(p);
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn write_all(
    store: &mut Store,
    rx: crossbeam_channel::Receiver<Parsed>,
    opts: &IngestOptions,
    sinks: &mut [&mut dyn RecordSink],
    dead: &mut DeadLetterWriter,
    summary: &mut IngestSummary,
    run_id: i64,
    progress: &dyn Progress,
    bytes: &AtomicU64,
) -> Result<()> {
    let mut pending: BTreeMap<u64, Parsed> = BTreeMap::new();
    let mut next = 0u64;
    let mut batch: Vec<TraceRecord> = Vec::with_capacity(opts.batch_size);
    let mut activity: Vec<ActivityRow> = Vec::new();
    for parsed in rx.iter() {
        pending.insert(parsed.seq, parsed);
        while let Some(p) = pending.remove(&next) {
            next += 1;
            summary.read += p.read;
            summary.skipped += p.skipped;
            for (line, reason, raw) in &p.dead {
                dead.write(*line, reason, raw)?;
                summary.dead_lettered += 1;
            }
            batch.extend(p.records);
            activity.extend(p.activity);
            if batch.len() >= opts.batch_size || activity.len() >= opts.batch_size {
                flush(store, &mut batch, sinks, summary, run_id)?;
                flush_activity(store, &mut activity, summary, run_id)?;
            }
            progress.update(bytes.load(Ordering::Relaxed), summary.read);
        }
    }
    flush(store, &mut batch, sinks, summary, run_id)?;
    flush_activity(store, &mut activity, summary, run_id)
}

fn flush_activity(
    store: &mut Store,
    rows: &mut Vec<ActivityRow>,
    summary: &mut IngestSummary,
    run_id: i64,
) -> Result<()> {
    if !rows.is_empty() {
        summary.activity += store.insert_activity(rows, Some(run_id))?;
        rows.clear();
    }
    Ok(())
}

/// Writes a batch of parsed records to the store and the sinks, adding to the summary.
pub(crate) fn flush(
    store: &mut Store,
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
    let mut fresh = Vec::with_capacity(batch.len());
    for (r, w) in batch.iter().zip(written) {
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
        fresh.push(r);
    }
    for s in sinks.iter_mut() {
        s.write_new(&fresh)?;
    }
    batch.clear();
    Ok(())
}
