//! Summing the stored sketches of a report's rollup cells on a second thread, while the reading
//! thread goes on with the counters and sessions.
//!
//! An unfiltered report over a month reads a hundred thousand cells, each with a latency and a
//! TTFT sketch; decoding them was a fifth of the report's time. The cells' bytes are copied in
//! batches to one worker, which adds them to per-day sums ([`SketchSum`]) in the order given; the
//! sketches made from the sums equal merging the decoded sketches one by one, as
//! [`HourAggregator::cell`](crate::metrics::aggregate::HourAggregator::cell) does.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::stats::sketch::QuantileSketch;
use crate::stats::sketch_sum::SketchSum;
use crate::stats::StatsError;

/// Cells per batch sent to the worker.
const BATCH: usize = 4096;
/// Batches in flight (the reader waits when the worker is this far behind).
const IN_FLIGHT: usize = 4;

/// The merged sketches of the cells fed: latency per local day (days with latencies only) and
/// TTFT over all of them.
#[derive(Debug, Default)]
pub(in crate::store) struct MergedSketches {
    /// Latency per local day.
    pub latency_by_day: BTreeMap<NaiveDate, QuantileSketch>,
    /// Time to first token of every cell.
    pub ttft: QuantileSketch,
}

/// One cell's stored sketches, as ranges of the batch's bytes (`None` for NULL).
struct Entry {
    day: NaiveDate,
    hour: i64,
    latency: Option<Range<usize>>,
    ttft: Option<Range<usize>>,
}

#[derive(Default)]
struct Batch {
    entries: Vec<Entry>,
    bytes: Vec<u8>,
}

impl Batch {
    fn keep(&mut self, b: Option<&[u8]>) -> Option<Range<usize>> {
        let b = b?;
        let start = self.bytes.len();
        self.bytes.extend_from_slice(b);
        Some(start..self.bytes.len())
    }
}

/// Where the reading thread hands each cell's stored sketches.
pub(in crate::store) struct SketchFeed {
    tx: Option<SyncSender<Batch>>,
    /// Batches the worker has emptied, reused with their room (not allocated and faulted in
    /// again for each batch).
    spare: Receiver<Batch>,
    batch: Batch,
}

impl SketchFeed {
    /// Queues the stored sketches of one cell of local day `day` (UTC `hour` names the cell in
    /// an error).
    pub(in crate::store) fn push(
        &mut self,
        day: NaiveDate,
        hour: i64,
        latency: Option<&[u8]>,
        ttft: Option<&[u8]>,
    ) {
        let latency = self.batch.keep(latency);
        let ttft = self.batch.keep(ttft);
        self.batch.entries.push(Entry {
            day,
            hour,
            latency,
            ttft,
        });
        if self.batch.entries.len() >= BATCH {
            self.send();
        }
    }

    fn send(&mut self) {
        let next = self.spare.try_recv().unwrap_or_default();
        let batch = std::mem::replace(&mut self.batch, next);
        if batch.entries.is_empty() {
            return;
        }
        // A worker that stopped has an error to report when joined; stop feeding it.
        if let Some(tx) = &self.tx {
            if tx.send(batch).is_err() {
                self.tx = None;
            }
        }
    }
}

/// Runs `read` with a feed whose sketches a second thread decodes and merges meanwhile; returns
/// what `read` returned and the merged sketches. The error of `read` comes first, then an
/// unreadable sketch (named by `repo` and hour, with the fix).
pub(in crate::store) fn merged_while<T>(
    repo: &str,
    read: impl FnOnce(&mut SketchFeed) -> Result<T>,
) -> Result<(T, MergedSketches)> {
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Batch>(IN_FLIGHT);
        let (back, spare) = sync_channel::<Batch>(IN_FLIGHT + 1);
        let worker = scope.spawn(move || merge(rx, back, repo));
        let mut feed = SketchFeed {
            tx: Some(tx),
            spare,
            batch: Batch::default(),
        };
        let out = read(&mut feed);
        feed.send();
        drop(feed);
        let merged = worker.join().map_err(|_| {
            Error::Stats(StatsError::Sketch(
                "the thread merging rollup sketches failed".into(),
            ))
        })?;
        Ok((out?, merged?))
    })
}

/// The worker: adds every cell's sketches to its day's latency sum and the TTFT sum, in arrival
/// order, and makes the sketches at the end (equal to decoding and merging them one by one);
/// hands each emptied batch `back`.
fn merge(rx: Receiver<Batch>, back: SyncSender<Batch>, repo: &str) -> Result<MergedSketches> {
    let mut latency: BTreeMap<NaiveDate, SketchSum> = BTreeMap::new();
    let mut ttft = SketchSum::default();
    for batch in rx {
        for e in &batch.entries {
            let bytes = |r: &Option<Range<usize>>| r.clone().and_then(|r| batch.bytes.get(r));
            if let Some(b) = bytes(&e.latency) {
                add(latency.entry(e.day).or_default(), b, repo, e.hour)?;
            }
            if let Some(b) = bytes(&e.ttft) {
                add(&mut ttft, b, repo, e.hour)?;
            }
        }
        let mut batch = batch;
        batch.entries.clear();
        batch.bytes.clear();
        // The feed may have finished, or hold enough spares already: then it is dropped here.
        let _ = back.try_send(batch);
    }
    let made = |s: &SketchSum| s.finish().map_err(Error::Stats);
    let mut out = MergedSketches {
        ttft: made(&ttft)?,
        ..MergedSketches::default()
    };
    for (day, s) in latency.iter().filter(|(_, s)| !s.is_empty()) {
        out.latency_by_day.insert(*day, made(s)?);
    }
    Ok(out)
}

/// Adds a cell's stored sketch; an unreadable one names the cell and the fix.
fn add(sum: &mut SketchSum, bytes: &[u8], repo: &str, hour: i64) -> Result<()> {
    sum.add_bytes(bytes).map_err(|e| {
        Error::Stats(StatsError::Sketch(format!(
            "rollup cell {repo} hour {hour} is unreadable ({e}); run `prod-lens rebuild-rollups`"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(values: &[f64]) -> Vec<u8> {
        let mut s = QuantileSketch::new();
        for &v in values {
            s.add(v).unwrap();
        }
        s.to_bytes()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 10, d).unwrap()
    }

    #[test]
    fn merges_per_day_and_overall_as_one_thread_would() {
        // More cells than a batch, days recurring out of order, NULL and empty sketches.
        let mut cells = Vec::new();
        for i in 0..10_000u32 {
            let d = day(1 + (i / 1000) % 3 + if i % 977 == 0 { 5 } else { 0 });
            let lat = (i % 7 != 0).then(|| bytes(&[f64::from(i % 500) + 1.0, 3.0]));
            let ttft = (i % 3 == 0).then(|| bytes(&[f64::from(i % 50) + 0.5]));
            cells.push((d, lat, ttft));
        }
        cells.push((day(2), Some(bytes(&[])), None));
        let (n, merged) = merged_while("acme/api", |feed| {
            for (i, (d, l, t)) in cells.iter().enumerate() {
                feed.push(*d, i as i64, l.as_deref(), t.as_deref());
            }
            Ok(cells.len())
        })
        .unwrap();
        assert_eq!(n, 10_001);
        let mut want: BTreeMap<NaiveDate, QuantileSketch> = BTreeMap::new();
        let mut ttft = QuantileSketch::new();
        for (d, l, t) in &cells {
            if let Some(l) = l {
                let s = QuantileSketch::from_bytes(l).unwrap();
                if !s.is_empty() {
                    want.entry(*d).or_default().merge(&s).unwrap();
                }
            }
            if let Some(t) = t {
                ttft.merge(&QuantileSketch::from_bytes(t).unwrap()).unwrap();
            }
        }
        assert_eq!(
            merged.latency_by_day.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        );
        for (d, s) in &want {
            let got = &merged.latency_by_day[d];
            assert_eq!(got.count(), s.count(), "{d}");
            for q in [0.0, 0.5, 0.95, 1.0] {
                assert_eq!(got.quantile(q), s.quantile(q), "{d} q{q}");
            }
        }
        assert_eq!(merged.ttft.count(), ttft.count());
        assert_eq!(merged.ttft.quantile(0.5), ttft.quantile(0.5));
    }

    #[test]
    fn an_unreadable_sketch_is_an_error_naming_the_cell_and_the_fix() {
        let good = bytes(&[1.0]);
        let err = merged_while("acme/api", |feed| {
            for h in 0..(BATCH as i64 * 3) {
                let bad = h == 5000;
                feed.push(
                    day(1),
                    h,
                    Some(if bad { &[9u8, 9, 9][..] } else { &good[..] }),
                    None,
                );
            }
            Ok(())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("acme/api hour 5000"), "{err}");
        assert!(err.contains("rebuild-rollups"), "{err}");
    }

    #[test]
    fn an_error_of_the_reader_comes_first() {
        let err = merged_while("acme/api", |feed| -> Result<()> {
            feed.push(day(1), 1, Some(&[9u8][..]), None);
            Err(Error::InvalidArgument("reader failed".into()))
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("reader failed"), "{err}");
    }
}
