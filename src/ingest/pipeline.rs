//! One pipeline per run: a reader thread streams every input's chunks (file boundaries travel
//! with them), parser threads turn chunks into records, and the calling thread re-orders and
//! writes them. No thread or transaction per file: a run over 20 000 small files starts its
//! threads once and commits in the same large batches as a run over one big file.

use super::chunks::{self, Chunk, ChunkReader};
use super::files::{self, FileState, Plan, Stat};
use super::input::{self, Input};
use super::{committed, flush, IngestOptions, IngestSummary, Progress};
use crate::error::Result;
use crate::pricing::Pricer;
use crate::record::TraceRecord;
use crate::sinks::dead_letter::DeadLetterWriter;
use crate::sinks::RecordSink;
use crate::sources::otel::claude_code::ActivityRow;
use crate::sources::{self, LineOutcome};
use crate::store::prelude::*;
use crossbeam_channel::{bounded, Receiver, Sender};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// Input bytes read but not yet taken by the writer. The reader waits while this many are in
/// flight, whatever the size of the chunks: 24 chunks of a large file (1 MiB each), or about a
/// thousand small Claude Code session files. A budget counted in chunks would let the parsers run
/// only ~400 records ahead of a writer that commits 10 000 at a time, leaving both cores half idle
/// while the writer writes.
const IN_FLIGHT_BYTES: u64 = 24 << 20;
/// Parsed chunks the channel to the writer holds (memory is bounded by [`IN_FLIGHT_BYTES`]).
const OUT_QUEUE: usize = 4096;

/// One input to read in this run, with what to read of it.
#[derive(Debug)]
pub(crate) struct Job {
    /// The input.
    pub input: Input,
    /// Full or Resume (skipped inputs never reach the pipeline).
    pub plan: Plan,
    /// For files: the key it is remembered by and what it was when planned.
    pub file: Option<(String, Stat)>,
}

/// Input bytes in flight between the reader and the writer, bounded by [`IN_FLIGHT_BYTES`].
struct Budget {
    /// Bytes in flight, and whether the writer has stopped.
    state: Mutex<(u64, bool)>,
    freed: Condvar,
}

impl Budget {
    fn new() -> Self {
        Budget {
            state: Mutex::new((0, false)),
            freed: Condvar::new(),
        }
    }

    /// Waits until `n` more bytes fit (a chunk always fits when nothing is in flight) and counts
    /// them; false once the writer has stopped.
    fn take(&self, n: u64) -> bool {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !g.1 && g.0 > 0 && g.0.saturating_add(n) > IN_FLIGHT_BYTES {
            g = self.freed.wait(g).unwrap_or_else(PoisonError::into_inner);
        }
        if g.1 {
            return false;
        }
        g.0 = g.0.saturating_add(n);
        true
    }

    /// Returns `n` bytes the writer has taken.
    fn give(&self, n: u64) {
        let mut g = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        g.0 = g.0.saturating_sub(n);
        self.freed.notify_one();
    }

    /// Wakes a waiting reader for good: the writer is done.
    fn close(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.freed.notify_all();
    }
}

/// Closes the budget when the writer leaves, by return, error or panic, so that a reader
/// waiting for room lets the run's threads be joined.
struct CloseOnDrop<'a>(&'a Budget);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Closes the budget if a parser thread panics: its chunk never reaches the writer, which then
/// stops taking (and giving back) bytes, and a reader waiting for room would wait for ever.
struct CloseOnPanic<'a>(&'a Budget);

impl Drop for CloseOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.close();
        }
    }
}

/// What the reader learned when an input ended.
struct End {
    input: usize,
    /// What to remember of the file (None for stdin and unreadable files).
    state: Option<FileState>,
    /// A stream that broke or could not be opened: the line it broke at and why.
    read_error: Option<(u64, String)>,
}

/// Work for the parser threads, in run order.
enum Work {
    Chunk(Chunk),
    End(u64, End),
}

/// What a parser made of one chunk.
struct Parsed {
    input: usize,
    /// Input bytes of the chunk, returned to the [`Budget`] when the writer has taken it.
    bytes: u64,
    read: u64,
    skipped: u64,
    records: Vec<TraceRecord>,
    activity: Vec<ActivityRow>,
    dead: Vec<(u64, String, Vec<u8>)>,
}

/// Parser output, in run order (by sequence number).
enum Out {
    Parsed(u64, Parsed),
    End(u64, End),
}

impl Out {
    fn seq(&self) -> u64 {
        match self {
            Out::Parsed(s, _) | Out::End(s, _) => *s,
        }
    }
}

fn parse_chunk(chunk: Chunk, opts: &IngestOptions, pricer: &mut Pricer) -> Parsed {
    let mut p = Parsed {
        input: chunk.input,
        bytes: chunk.data.len() as u64,
        read: 0,
        skipped: 0,
        // A record per line at most, for most formats: one allocation, not one per doubling
        // (each a copy of every record so far).
        records: Vec::with_capacity((chunk.lines as usize).saturating_add(1)),
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
    let default_repo = || opts.default_repo.as_ref().map(|s| s.as_str().to_string());
    for (line, bytes) in chunks::lines(&chunk) {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        p.read += 1;
        match sources::parse_line(bytes, opts.format) {
            LineOutcome::Record(mut r) => {
                if r.repo_slug.is_none() {
                    r.repo_slug = default_repo();
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
                        r.repo_slug = default_repo();
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

/// Streams every job's chunks into `tx`, numbering them across the run, each input followed by
/// its `End`. Stops early (returning) when the parsers hang up.
fn read_jobs(jobs: &[Job], tx: Sender<Work>, bytes: &AtomicU64, budget: &Budget) {
    let mut seq = 0u64;
    for (i, job) in jobs.iter().enumerate() {
        let end = match read_one(i, job, &tx, &mut seq, bytes, budget) {
            Some(end) => end,
            None => return,
        };
        if tx.send(Work::End(seq, end)).is_err() {
            return;
        }
        seq += 1;
    }
}

/// Reads one job; None when the parsers or the writer hung up.
fn read_one(
    i: usize,
    job: &Job,
    tx: &Sender<Work>,
    seq: &mut u64,
    total: &AtomicU64,
    budget: &Budget,
) -> Option<End> {
    let failed = |line: u64, reason: String| End {
        input: i,
        state: None,
        read_error: Some((line, reason)),
    };
    let counter = Arc::new(AtomicU64::new(0));
    let (start, lines) = match job.plan {
        Plan::Resume { offset, lines } => (offset, lines),
        _ => (0, 0),
    };
    // Files are opened here once; a second handle is kept for the fingerprints at the end.
    let (reader, file) = match &job.input {
        Input::Stdin => match input::open(&job.input, counter.clone()) {
            Ok(r) => (r, None),
            Err(e) => return Some(failed(0, e.to_string())),
        },
        Input::File(p) => {
            let opened = File::open(p).and_then(|f| Ok((f.try_clone()?, f)));
            let (f, keep) = match opened {
                Ok(x) => x,
                Err(e) => return Some(failed(0, format!("cannot open {}: {e}", p.display()))),
            };
            let reader = if start > 0 {
                input::open_at(f, start, counter.clone()).map_err(|e| e.to_string())
            } else {
                // Small files get small buffers (most Claude Code sessions are a few KB).
                let capacity = job.file.as_ref().map_or(1 << 20, |(_, st)| {
                    (st.size.saturating_add(1) as usize).clamp(8 << 10, 1 << 20)
                });
                input::decode(&job.input, Box::new(f), counter.clone(), capacity)
                    .map_err(|e| e.to_string())
            };
            match reader {
                Ok(r) => (r, Some(keep)),
                Err(e) => return Some(failed(0, e)),
            }
        }
    };
    let base = total.load(Ordering::Relaxed);
    let mut cr = ChunkReader::resume(reader, start, lines);
    if let Some((_, st)) = &job.file {
        cr = cr.with_size_hint(st.size.saturating_sub(start));
    }
    let mut complete = (start, lines);
    let mut decoded_end = start;
    loop {
        match cr.next_chunk() {
            Ok(Some(mut c)) => {
                if let Some(end) = c.complete_end() {
                    complete = end;
                }
                decoded_end = c.end_offset;
                c.seq = *seq;
                c.input = i;
                *seq += 1;
                total.store(base + counter.load(Ordering::Relaxed), Ordering::Relaxed);
                if !budget.take(c.data.len() as u64) || tx.send(Work::Chunk(c)).is_err() {
                    return None;
                }
            }
            Ok(None) => break,
            Err(e) => return Some(failed(cr.next_line_number(), format!("read error: {e}"))),
        }
    }
    total.store(base + counter.load(Ordering::Relaxed), Ordering::Relaxed);
    let state = match (&job.file, file) {
        (Some((key, stat)), Some(f)) => remember(
            key,
            stat,
            &f,
            start + counter.load(Ordering::Relaxed),
            decoded_end,
            complete,
        )
        .ok(),
        _ => None,
    };
    Some(End {
        input: i,
        state,
        read_error: None,
    })
}

/// What to remember of a file read up to raw byte `size`: plain files up to their last complete
/// line, others (gzip, arrays: decoded offsets differ from the file's) whole.
fn remember(
    key: &str,
    stat: &Stat,
    file: &File,
    size: u64,
    decoded_end: u64,
    complete: (u64, u64),
) -> std::io::Result<FileState> {
    let resumable = files::resumable(file)? && decoded_end == size;
    let (offset, lines) = if resumable { complete } else { (size, 0) };
    let (head_hash, tail_hash) = files::fingerprints(file, offset, size)?.unwrap_or_default();
    Ok(FileState {
        path: key.to_string(),
        size,
        mtime_ns: stat.mtime_ns,
        head_hash,
        tail_hash,
        offset,
        lines,
        resumable,
    })
}

/// Runs the pipeline over `jobs`, writing into the store and sinks and adding to `summary`.
pub(crate) fn run(
    store: &mut dyn IngestStore,
    jobs: &[Job],
    opts: &IngestOptions,
    sinks: &mut [&mut dyn RecordSink],
    progress: &dyn Progress,
    summary: &mut IngestSummary,
    run_id: i64,
) -> Result<()> {
    let threads = opts.threads.max(1);
    let bytes = AtomicU64::new(0);
    let budget = Budget::new();
    std::thread::scope(|s| -> Result<()> {
        let (work_tx, work_rx) = bounded::<Work>(threads * 2);
        // Parsed chunks waiting for the writer: enough for parsers to keep working while it
        // commits a batch; the reader's byte budget is what bounds them.
        let (out_tx, out_rx) = bounded::<Out>(OUT_QUEUE);
        let (bytes, budget) = (&bytes, &budget);
        let _close = CloseOnDrop(budget);
        s.spawn(move || read_jobs(jobs, work_tx, bytes, budget));
        for _ in 0..threads {
            let rx = work_rx.clone();
            let tx = out_tx.clone();
            s.spawn(move || {
                let _close = CloseOnPanic(budget);
                let mut pricer = Pricer::new(opts.prices.clone(), opts.default_price);
                for w in rx {
                    let out = match w {
                        Work::Chunk(c) => {
                            let seq = c.seq;
                            Out::Parsed(seq, parse_chunk(c, opts, &mut pricer))
                        }
                        Work::End(seq, e) => Out::End(seq, e),
                    };
                    if tx.send(out).is_err() {
                        return;
                    }
                }
            });
        }
        drop(work_rx);
        drop(out_tx);
        let stored = summary.clone();
        let mut w = Writer {
            store,
            opts,
            jobs,
            sinks,
            summary,
            run_id,
            dead: HashMap::new(),
            batch: Vec::with_capacity(opts.batch_size),
            activity: Vec::new(),
            states: Vec::new(),
            grouped: 0,
            stored,
        };
        // On error the receiver is dropped here, so the other threads stop at their next send.
        w.write_all(out_rx, progress, bytes, budget)
    })
}

/// The writing end: re-orders parser output and commits it in batches.
struct Writer<'a, 's> {
    store: &'a mut dyn IngestStore,
    opts: &'a IngestOptions,
    jobs: &'a [Job],
    sinks: &'a mut [&'s mut dyn RecordSink],
    summary: &'a mut IngestSummary,
    run_id: i64,
    /// Dead-letter files of inputs still being read (closed when their input ends).
    dead: HashMap<usize, DeadLetterWriter>,
    batch: Vec<TraceRecord>,
    activity: Vec<ActivityRow>,
    /// Files fully read whose rows are not all committed yet.
    states: Vec<FileState>,
    /// Rows and activity written in the store's open transaction.
    grouped: u64,
    /// The summary as of the last write the store committed: what a failed run reports as
    /// stored (see [`IngestSummary::keep_stored`]).
    stored: IngestSummary,
}

impl Writer<'_, '_> {
    fn write_all(
        &mut self,
        rx: Receiver<Out>,
        progress: &dyn Progress,
        bytes: &AtomicU64,
        budget: &Budget,
    ) -> Result<()> {
        let mut pending: BTreeMap<u64, Out> = BTreeMap::new();
        let mut next = 0u64;
        let written = (|| {
            for out in rx.iter() {
                pending.insert(out.seq(), out);
                while let Some(out) = pending.remove(&next) {
                    next += 1;
                    match out {
                        Out::Parsed(_, p) => {
                            let n = p.bytes;
                            self.take(p)?;
                            budget.give(n);
                        }
                        Out::End(_, e) => self.end(e)?,
                    }
                    progress.update(bytes.load(Ordering::Relaxed), self.summary.read);
                }
            }
            if !pending.is_empty() {
                // A parser stopped (panicked) before sending chunk `next`: nothing after it may
                // be taken as read.
                return Err(crate::error::Error::io(
                    "parsing the inputs",
                    std::io::Error::other(format!("chunk {next} never came back from a parser")),
                ));
            }
            self.write()?;
            self.commit()
        })();
        if written.is_err() {
            // The rows of the open transaction are undone; the sinks, which hold them, are
            // dropped unfinished (the lake's recovery reconciles it with the store later). The
            // run reports as stored only what was committed.
            self.store.rollback_writes();
            self.summary.keep_stored(&self.stored);
        }
        written
    }

    fn dead_letters(&mut self, input: usize) -> &mut DeadLetterWriter {
        let (dir, job) = (&self.opts.dead_letter_dir, &self.jobs[input]);
        self.dead
            .entry(input)
            .or_insert_with(|| DeadLetterWriter::new(dir, &job.input.stem(), &job.input.display()))
    }

    fn take(&mut self, p: Parsed) -> Result<()> {
        self.summary.read += p.read;
        self.summary.skipped += p.skipped;
        for (line, reason, raw) in &p.dead {
            self.dead_letters(p.input).write(*line, reason, raw)?;
            self.summary.dead_lettered += 1;
        }
        self.batch.extend(p.records);
        self.activity.extend(p.activity);
        if self.batch.len() >= self.opts.batch_size || self.activity.len() >= self.opts.batch_size {
            self.write()?;
            if self.grouped >= self.opts.commit_rows {
                self.commit()?;
            }
        }
        Ok(())
    }

    fn end(&mut self, e: End) -> Result<()> {
        if let Some((line, reason)) = &e.read_error {
            // The stream broke (truncated gzip, I/O error): everything before it is kept.
            self.dead_letters(e.input).write(*line, reason, b"")?;
            self.summary.dead_lettered += 1;
        }
        if let Some(d) = self.dead.remove(&e.input) {
            let p = d.path().display().to_string();
            if d.written() > 0 && !self.summary.dead_letter_files.contains(&p) {
                self.summary.dead_letter_files.push(p);
            }
        }
        self.summary.inputs += 1;
        self.states.extend(e.state);
        Ok(())
    }

    /// Writes the batch and the activity rows into the store's open transaction (begun here if
    /// none is).
    fn write(&mut self) -> Result<()> {
        if self.batch.is_empty() && self.activity.is_empty() {
            return Ok(());
        }
        let kept_open = self.store.begin_writes()?;
        self.grouped += (self.batch.len() + self.activity.len()) as u64;
        // The sinks hold the new rows until the commit.
        flush(
            self.store,
            &mut self.batch,
            self.sinks,
            self.summary,
            self.run_id,
        )?;
        if !self.activity.is_empty() {
            self.summary.activity += self
                .store
                .insert_activity(&self.activity, Some(self.run_id))?;
            self.activity.clear();
        }
        if !kept_open {
            self.stored = self.summary.clone();
        }
        Ok(())
    }

    /// Commits the store's open transaction, then gives its new rows to the sinks and
    /// remembers the files whose rows are now all stored.
    fn commit(&mut self) -> Result<()> {
        self.store.commit_writes()?;
        self.grouped = 0;
        self.stored = self.summary.clone();
        committed(self.sinks)?;
        self.store.save_input_files(&self.states)?;
        self.states.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_budget_holds_the_reader_until_the_writer_gives_bytes_back() {
        let b = Budget::new();
        assert!(b.take(IN_FLIGHT_BYTES - 10));
        std::thread::scope(|s| {
            let (tx, rx) = bounded::<bool>(1);
            let b = &b;
            s.spawn(move || tx.send(b.take(20)).unwrap());
            assert!(
                rx.recv_timeout(Duration::from_millis(100)).is_err(),
                "20 more bytes do not fit"
            );
            b.give(IN_FLIGHT_BYTES - 10);
            assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(true));
        });
        assert_eq!(b.state.lock().unwrap().0, 20);
    }

    #[test]
    fn a_chunk_larger_than_the_budget_passes_alone() {
        let b = Budget::new();
        assert!(b.take(IN_FLIGHT_BYTES * 2));
        b.give(IN_FLIGHT_BYTES * 2);
        assert_eq!(b.state.lock().unwrap().0, 0);
    }

    #[test]
    fn a_writer_that_stops_releases_a_waiting_reader() {
        let b = Budget::new();
        assert!(b.take(IN_FLIGHT_BYTES));
        std::thread::scope(|s| {
            let waiting = s.spawn(|| b.take(1));
            std::thread::sleep(Duration::from_millis(50));
            drop(CloseOnDrop(&b));
            assert!(!waiting.join().unwrap(), "the reader is told to stop");
        });
        assert!(!b.take(1), "and so is any later take");
    }

    #[test]
    fn a_parser_that_panics_releases_a_waiting_reader() {
        let b = Budget::new();
        assert!(b.take(IN_FLIGHT_BYTES));
        std::thread::scope(|s| {
            let waiting = s.spawn(|| b.take(1));
            let parser = s.spawn(|| {
                let _close = CloseOnPanic(&b);
                std::thread::sleep(Duration::from_millis(50));
                panic!("a parser bug");
            });
            assert!(parser.join().is_err());
            assert!(!waiting.join().unwrap(), "the reader is told to stop");
        });
        let b = Budget::new();
        drop(CloseOnPanic(&b));
        assert!(
            b.take(1),
            "a parser that ends normally leaves the budget open"
        );
    }

    /// A sink that refuses every record, after a second: long enough for the parsers to fill the
    /// budget and the reader to wait for room.
    struct Refusing;

    impl RecordSink for Refusing {
        fn write_new(&mut self, _: Vec<TraceRecord>) -> Result<()> {
            std::thread::sleep(Duration::from_secs(1));
            Err(crate::error::Error::Io {
                context: "sink refuses".into(),
                source: std::io::Error::other("full"),
            })
        }
        fn committed(&mut self) -> Result<()> {
            Ok(())
        }
        fn finish(&mut self) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_writer_that_fails_while_the_reader_waits_for_room_ends_the_run() {
        use std::fmt::Write;
        let d = tempfile::tempdir().unwrap();
        // 32 MiB of input, more than the budget: the reader is waiting for room when the writer
        // fails at its first batch.
        let pad = "x".repeat(4000);
        let mut inputs = Vec::new();
        for f in 0..4 {
            let mut text = String::new();
            for i in 0..2048 {
                writeln!(
                    text,
                    r#"{{"litellm_call_id":"c-{f}-{i}","startTime":1760299200,"endTime":1760299201,"status":"success","prompt_tokens":1,"completion_tokens":1,"total_tokens":2,"model":"gpt-4o","metadata":{{"pad":"{pad}"}}}}"#
                )
                .unwrap();
            }
            let p = d.path().join(format!("{f}.jsonl"));
            std::fs::write(&p, text).unwrap();
            inputs.push(Input::File(p));
        }
        let mut opts = IngestOptions::new(d.path().join("dead"));
        opts.batch_size = 100;
        let db = d.path().join("x.db");
        let (tx, rx) = bounded(1);
        std::thread::spawn(move || {
            let mut store = crate::store::StoreLocation::Sqlite(db)
                .open_writer()
                .unwrap();
            let r = super::super::ingest(
                store.as_mut(),
                &inputs,
                &opts,
                &mut [&mut Refusing],
                &super::super::NoProgress,
            );
            let _ = tx.send(r.map_err(|e| e.to_string()));
        });
        let r = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the run ends instead of hanging");
        assert!(r.unwrap_err().contains("sink refuses"));
    }
}
