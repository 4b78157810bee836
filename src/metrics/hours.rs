//! Building a [`TraceAggregate`] from the stored hourly rollups: session numbers and the
//! aggregator that re-buckets UTC hours into local ones. No I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;
use foldhash::{HashMap, HashMapExt};

use super::aggregate::{
    merge_sketch, Cell, ErrorCount, ErrorKey, HourSession, SessionSlot, Slot, TraceAggregate,
};
use super::counters::Counters;
use super::distribution::Dist;
use crate::stats::sketch::QuantileSketch;

/// Numbers session ids (first seen, first numbered) for [`HourSession`] and [`SessionSlot`].
///
/// Ids of 36 bytes (UUIDs, what Claude Code writes) are keyed by their bytes in place, so
/// numbering them allocates nothing; other ids are kept as text.
#[derive(Debug, Default)]
pub struct SessionNumbers {
    uuids: HashMap<[u8; 36], u32>,
    others: HashMap<Box<str>, u32>,
    /// The days `[d0, d1]` ids will be numbered over, when the reader gives them (see
    /// [`SessionNumbers::expect_days`]).
    days: Option<(i64, i64)>,
    /// When to size the maps.
    sized_from: TwoDays,
}

/// When a list filled day by day is sized for the rest of its window: once, at the first row two
/// days after the first row's day.
#[derive(Debug, Default, Clone, Copy)]
struct TwoDays(Option<(i64, bool)>);

impl TwoDays {
    /// The first row's day, the one time `day` is two or more days past it; None otherwise.
    fn due(&mut self, day: i64) -> Option<i64> {
        match self.0 {
            None => self.0 = Some((day, false)),
            Some((first, false)) if day >= first + 2 => {
                self.0 = Some((first, true));
                return Some(first);
            }
            _ => {}
        }
        None
    }
}

impl SessionNumbers {
    /// Tells the numbering the days `[d0, d1]` its ids come from (in day order, through
    /// [`SessionNumbers::number_on`]), so that once two days have been numbered its maps are
    /// sized for the rest instead of rehashed at every doubling.
    pub fn expect_days(&mut self, d0: i64, d1: i64) {
        self.days = Some((d0, d1));
    }

    /// The number of session `id`, seen on `day` (see [`SessionNumbers::expect_days`]).
    pub fn number_on(&mut self, day: i64, id: &str) -> u32 {
        if let (Some(first), Some((_, d1))) = (self.sized_from.due(day), self.days) {
            let uuids = expected(self.uuids.len(), day - first, d1 - first + 1);
            self.uuids.reserve(uuids.saturating_sub(self.uuids.len()));
            let others = expected(self.others.len(), day - first, d1 - first + 1);
            self.others
                .reserve(others.saturating_sub(self.others.len()));
        }
        self.number(id)
    }

    /// The number of session `id`.
    pub fn number(&mut self, id: &str) -> u32 {
        let next = u32::try_from(self.uuids.len() + self.others.len()).unwrap_or(u32::MAX);
        if let Ok(bytes) = <[u8; 36]>::try_from(id.as_bytes()) {
            return *self.uuids.entry(bytes).or_insert(next);
        }
        if let Some(&n) = self.others.get(id) {
            return n;
        }
        self.others.insert(id.into(), next);
        next
    }
}

/// Builds a [`TraceAggregate`] from stored hourly rollups one row at a time, re-bucketing UTC
/// hours into local hours of a timezone and merging each cell's sketches into per-day sketches
/// at once (so memory does not grow with the number of cells' sketches).
///
/// Exact only when [`hour_aligned`](crate::stats::calendar::hour_aligned) holds for the window;
/// the caller checks. Rows of UTC hours outside chrono's range are dropped.
#[derive(Debug)]
pub struct HourAggregator {
    tz: Tz,
    slots: HashMap<i64, Option<Slot>>,
    /// The last hour looked up and its slot (rows arrive in hour order).
    last_slot: Option<(i64, Option<Slot>)>,
    /// The slots of the 24 hours of the last UTC day a session-day was added for.
    day_slots: Option<(i64, [Option<Slot>; 24])>,
    /// That day's session entries, one list per UTC hour, moved to `sessions` in hour order
    /// (each sorted by session) when the next day starts, so `finish` sorts sorted entries.
    day_entries: Vec<Vec<SessionSlot>>,
    cells: Vec<Cell>,
    errors: HashMap<ErrorKey, u64>,
    /// Sorted and deduplicated by `finish` (only hours repeated by a DST change repeat).
    sessions: Vec<SessionSlot>,
    latency_by_day: BTreeMap<NaiveDate, Dist>,
    ttft: Dist,
    /// The window's UTC hours `[h0, h1)` when the reader gives them (see
    /// [`HourAggregator::expect_window`]), to size the lists once from their first rows.
    window: Option<(i64, i64)>,
    /// The first cell's hour and the first session-day's day, once sized: `None` before.
    cells_from: Option<(i64, bool)>,
    sessions_from: TwoDays,
}

/// Cells read before the cell list is sized for the rest of the window.
const SIZE_CELLS_AFTER: usize = 4096;

/// The room `n` entries over `covered` units of a window of `total` units are likely to need:
/// scaled to the window, plus a quarter, at most 1 024 times `n` (and `usize::MAX`). Room not written to costs no
/// memory (the pages are never touched), while growing by doubling copies every entry and
/// touches the pages twice.
fn expected(n: usize, covered: i64, total: i64) -> usize {
    let (covered, total) = (covered.max(1) as u128, total.max(covered) as u128);
    let scaled = (n as u128).saturating_mul(total).saturating_mul(5) / (covered * 4);
    usize::try_from(scaled.min(n as u128 * 1024)).unwrap_or(usize::MAX)
}

impl HourAggregator {
    /// An empty aggregator for timezone `tz`.
    pub fn new(tz: Tz) -> Self {
        HourAggregator {
            tz,
            slots: HashMap::new(),
            last_slot: None,
            day_slots: None,
            day_entries: vec![Vec::new(); 24],
            cells: Vec::new(),
            errors: HashMap::new(),
            sessions: Vec::new(),
            latency_by_day: BTreeMap::new(),
            ttft: Dist::Sketch(QuantileSketch::new()),
            window: None,
            cells_from: None,
            sessions_from: TwoDays::default(),
        }
    }

    /// Tells the aggregator the window's UTC hours `[h0, h1)`, so that once the first rows
    /// show how dense the window is, its lists are sized once instead of grown by doubling.
    pub fn expect_window(&mut self, h0: i64, h1: i64) {
        self.window = Some((h0, h1));
    }

    fn slot(&mut self, hour: i64) -> Option<Slot> {
        if let Some((h, slot)) = self.last_slot {
            if h == hour {
                return slot;
            }
        }
        let tz = self.tz;
        let slot = *self
            .slots
            .entry(hour)
            .or_insert_with(|| Slot::of_utc_hour(hour, tz));
        self.last_slot = Some((hour, slot));
        slot
    }

    /// Adds one stored cell with its latency and TTFT sketches.
    pub fn cell(
        &mut self,
        hour: i64,
        developer: Option<Arc<str>>,
        model: Option<Arc<str>>,
        counts: Counters,
        latency: &QuantileSketch,
        ttft: &QuantileSketch,
    ) {
        let Some(slot) = self.cell_counts(hour, developer, model, counts) else {
            return;
        };
        if !latency.is_empty() {
            let day = self
                .latency_by_day
                .entry(slot.day)
                .or_insert_with(|| Dist::Sketch(QuantileSketch::new()));
            merge_sketch(day, latency);
        }
        merge_sketch(&mut self.ttft, ttft);
    }

    /// Adds one stored cell's counters, its sketches being merged elsewhere (see
    /// [`HourAggregator::add_sketches`]); returns its local clock hour, `None` (and nothing
    /// added) outside chrono's range.
    pub fn cell_counts(
        &mut self,
        hour: i64,
        developer: Option<Arc<str>>,
        model: Option<Arc<str>>,
        counts: Counters,
    ) -> Option<Slot> {
        let slot = self.slot(hour)?;
        match self.cells_from {
            None => self.cells_from = Some((hour, false)),
            Some((first, false)) if self.cells.len() == SIZE_CELLS_AFTER => {
                self.cells_from = Some((first, true));
                if let Some((_, h1)) = self.window {
                    let n = expected(self.cells.len(), hour - first + 1, h1 - first);
                    let _ = self.cells.try_reserve(n.saturating_sub(self.cells.len()));
                }
            }
            _ => {}
        }
        self.cells.push(Cell {
            slot,
            developer,
            model,
            counts,
        });
        Some(slot)
    }

    /// Merges latency sketches per local day and a TTFT sketch, each the merge of cells added
    /// with [`HourAggregator::cell_counts`] (in the order [`HourAggregator::cell`] would).
    pub fn add_sketches(
        &mut self,
        latency_by_day: BTreeMap<NaiveDate, QuantileSketch>,
        ttft: &QuantileSketch,
    ) {
        for (day, s) in latency_by_day {
            if s.is_empty() {
                continue;
            }
            match self.latency_by_day.get_mut(&day) {
                Some(d) => merge_sketch(d, &s),
                None => {
                    self.latency_by_day.insert(day, Dist::Sketch(s));
                }
            }
        }
        merge_sketch(&mut self.ttft, ttft);
    }

    /// Makes room for `n` more cells.
    pub fn reserve_cells(&mut self, n: usize) {
        self.cells.reserve(n);
    }

    /// Adds failed calls of one (status, class).
    pub fn error(&mut self, e: ErrorCount) {
        let n = self.errors.entry((e.status, e.class)).or_insert(0);
        *n = n.saturating_add(e.count);
    }

    /// Adds one stored (hour, developer, session); `finish` puts it in order.
    pub fn session(&mut self, s: HourSession) {
        if let Some(slot) = self.slot(s.hour) {
            self.sessions.push(SessionSlot {
                slot,
                developer: s.developer,
                session: s.session,
            });
        }
    }

    /// Adds one stored session-day: an (hour, developer, session) for each set bit h of `hours`,
    /// UTC hour h of UTC day `day` (days since the epoch); bits above 23 are ignored.
    pub fn session_day(&mut self, day: i64, hours: u32, developer: Option<Arc<str>>, session: u32) {
        let slots = match self.day_slots {
            Some((d, slots)) if d == day => slots,
            _ => {
                self.flush_day();
                self.size_sessions(day);
                let mut slots = [None; 24];
                for (h, slot) in (0i64..).zip(slots.iter_mut()) {
                    *slot = day.checked_mul(24).and_then(|first| self.slot(first + h));
                }
                self.day_slots = Some((day, slots));
                slots
            }
        };
        let mut bits = hours & 0x00ff_ffff;
        while bits != 0 {
            let h = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if let Some(slot) = slots[h] {
                self.day_entries[h].push(SessionSlot {
                    slot,
                    developer: developer.clone(),
                    session,
                });
            }
        }
    }

    /// Sizes the session list once two days have been added, as [`expected`] for the window.
    fn size_sessions(&mut self, day: i64) {
        if let (Some(first), Some((_, h1))) = (self.sessions_from.due(day), self.window) {
            let last_day = (h1 - 1).div_euclid(24);
            let n = expected(self.sessions.len(), day - first, last_day - first + 1);
            let _ = self
                .sessions
                .try_reserve(n.saturating_sub(self.sessions.len()));
        }
    }

    /// Moves the last day's session entries to `sessions`, hour by hour, each hour sorted by
    /// (session, developer) as `finish` sorts them.
    fn flush_day(&mut self) {
        for entries in &mut self.day_entries {
            entries
                .sort_unstable_by(|a, b| (a.session, &a.developer).cmp(&(b.session, &b.developer)));
            self.sessions.append(entries);
        }
    }

    /// Makes room for `n` more (hour, developer, session) entries.
    pub fn reserve_sessions(&mut self, n: usize) {
        self.sessions.reserve(n);
    }

    /// The aggregate.
    pub fn finish(mut self) -> TraceAggregate {
        self.flush_day();
        TraceAggregate::sorted(
            self.cells,
            self.errors,
            self.sessions,
            self.latency_by_day,
            self.ttft,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::counters::utc_hour;
    use chrono::{DateTime, Utc};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn lists_are_sized_from_their_first_rows_within_bounds() {
        assert_eq!(expected(100, 10, 100), 1250);
        assert_eq!(expected(100, 0, 100), 12_500);
        assert_eq!(expected(100, 1, 1_000_000), 100 * 1024);
        assert_eq!(expected(100, 10, 5), 125);
        assert_eq!(expected(0, 10, 100), 0);
        assert_eq!(expected(usize::MAX / 2, 1, i64::MAX), usize::MAX);
    }

    #[test]
    fn uuid_and_other_session_ids_share_one_numbering() {
        let lower = "0000a0b3-1fa0-4c05-91fd-8e14d7c67fa7";
        let upper = "0000A0B3-1FA0-4C05-91FD-8E14D7C67FA7";
        let mut numbers = SessionNumbers::default();
        assert_eq!(numbers.number(lower), 0);
        assert_eq!(numbers.number("x"), 1);
        assert_eq!(numbers.number(upper), 2);
        assert_eq!(numbers.number("0000a0b3-1fa0-4c05-91fd-8e14d7c67fa"), 3);
        assert_eq!(numbers.number(lower), 0);
        assert_eq!(numbers.number(upper), 2);
        assert_eq!(numbers.number("x"), 1);
        assert_eq!(numbers.number("0000a0b3-1fa0-4c05-91fd-8e14d7c67fa"), 3);
    }

    #[test]
    fn a_session_day_adds_what_its_hours_add_one_by_one() {
        let tz = chrono_tz::Europe::Berlin;
        // 2025-10-26: the clocks go back, two UTC hours share a local hour.
        let day = utc_hour(at("2025-10-26T00:00:00Z").timestamp_micros()) / 24;
        let hours = 0b1000_0000_0000_0000_0000_0111 | 1 << 30;
        let (mut by_day, mut by_hour) = (HourAggregator::new(tz), HourAggregator::new(tz));
        for (d, dev, n) in [(day, "ana", 3), (day, "bo", 1), (day + 1, "ana", 3)] {
            by_day.session_day(d, hours, Some(dev.into()), n);
            for h in (0..24).filter(|h| hours & (1 << h) != 0) {
                by_hour.session(HourSession {
                    hour: d * 24 + h,
                    developer: Some(dev.into()),
                    session: n,
                });
            }
        }
        let (a, b) = (by_day.finish(), by_hour.finish());
        assert_eq!(a.sessions, b.sessions);
        // UTC 00:00 and 01:00 are both 02:00 in Berlin that day: one entry per (hour, session).
        assert_eq!(a.sessions.len(), 10, "{:?}", a.sessions);
        assert_eq!(a.distinct_sessions, 2);
    }

    #[test]
    fn many_cells_in_falling_hours_come_out_sorted() {
        let h = utc_hour(at("2025-10-20T00:00:00Z").timestamp_micros());
        let mut agg = HourAggregator::new(chrono_tz::UTC);
        let n = 12_305;
        // Falling hours, so `finish` has to sort across chunks.
        for i in (0..n).rev() {
            let counts = Counters {
                requests: i as i64,
                ..Counters::default()
            };
            let hour = h + (i / 50) as i64;
            agg.cell_counts(
                hour,
                Some(format!("d{:05}", i % 50).as_str().into()),
                None,
                counts,
            );
        }
        let done = agg.finish();
        assert_eq!(done.cells.len(), n);
        let requests: Vec<i64> = done.cells.iter().map(|c| c.counts.requests).collect();
        assert_eq!(requests, (0..n as i64).collect::<Vec<_>>());
    }

    proptest::proptest! {
        #[test]
        fn numbers_match_a_plain_map_of_the_texts(
            ids in proptest::collection::vec(
                "[0-9a-fA-F]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{11}[0-9a-g-]|[a-c]{1,3}|[ab]{35,37}",
                0..60)
        ) {
            let mut numbers = SessionNumbers::default();
            let mut plain: std::collections::HashMap<&str, u32> = Default::default();
            for id in ids.iter().chain(ids.iter().rev()) {
                let next = plain.len() as u32;
                let want = *plain.entry(id.as_str()).or_insert(next);
                proptest::prop_assert_eq!(numbers.number(id), want);
            }
        }
    }
}
