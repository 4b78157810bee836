//! Breakdowns for reading and charting: the calendar-complete daily table, the per-developer
//! table and the latency histogram of one repo.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Serialize;

use super::aggregate::TraceAggregate;
use super::counters::Counters;
use super::delivery::merge_hours;
use super::distribution::percentiles;
use super::input::RepoData;
use super::ratio;
use super::usage::count;
use crate::stats::calendar::{local_day, DayWindow};
use crate::stats::quantile::percentile;

/// One local day of one repo (calendar-complete over the window, weekends kept).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DailyPoint {
    /// `YYYY-MM-DD` in the report's timezone.
    pub date: String,
    /// Calls that day.
    pub requests: u64,
    /// Distinct sessions with a call that day.
    pub sessions: u64,
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// Known cost (USD).
    pub cost_usd: f64,
    /// Failed calls.
    pub errors: u64,
    /// Median latency (ms) of that day's calls.
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile latency (ms) of that day's calls.
    pub latency_p95_ms: Option<f64>,
    /// Commits by author date.
    pub commits: u64,
    /// PRs merged that day.
    pub merged_prs: u64,
    /// Median created→merged hours of the PRs merged that day.
    pub median_merge_hours: Option<f64>,
}

/// One developer's line of the per-developer table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeveloperSummary {
    /// The GitHub login when the developer id is linked to one (see `prod-lens identities`),
    /// else the developer id as stored on traces (or the login when only GitHub knows them).
    pub developer: String,
    /// Developer ids of calls linked to this login (empty when none differs from it).
    pub linked_ids: Vec<String>,
    /// Calls.
    pub requests: u64,
    /// Distinct sessions.
    pub sessions: u64,
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// Known cost (USD).
    pub cost_usd: f64,
    /// Calls with an acceptance signal.
    pub acceptance_n: u64,
    /// Calls accepted.
    pub accepted: u64,
    /// accepted / acceptance_n.
    pub acceptance_rate: Option<f64>,
    /// Commits whose author equals the developer id (case-insensitive).
    pub commits: u64,
    /// Merged PRs whose author equals the developer id (case-insensitive).
    pub merged_prs: u64,
}

/// Sums of per-developer lines: a developer's profile over repos, a team's line.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Calls.
    pub requests: u64,
    /// Distinct sessions (per developer and repo, summed).
    pub sessions: u64,
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// Known cost (USD).
    pub cost_usd: f64,
    /// Calls with an acceptance signal.
    pub acceptance_n: u64,
    /// Calls accepted.
    pub accepted: u64,
    /// accepted / acceptance_n.
    pub acceptance_rate: Option<f64>,
    /// Commits.
    pub commits: u64,
    /// Merged PRs.
    pub merged_prs: u64,
}

impl Totals {
    /// Adds one developer line.
    pub fn add_developer(&mut self, d: &DeveloperSummary) {
        self.add(&Totals {
            requests: d.requests,
            sessions: d.sessions,
            tokens: d.tokens,
            cost_usd: d.cost_usd,
            acceptance_n: d.acceptance_n,
            accepted: d.accepted,
            acceptance_rate: None,
            commits: d.commits,
            merged_prs: d.merged_prs,
        });
    }

    /// Adds other totals (the acceptance rate is recomputed from the sums).
    pub fn add(&mut self, o: &Totals) {
        self.requests += o.requests;
        self.sessions += o.sessions;
        self.tokens += o.tokens;
        self.cost_usd += o.cost_usd;
        self.acceptance_n += o.acceptance_n;
        self.accepted += o.accepted;
        self.commits += o.commits;
        self.merged_prs += o.merged_prs;
        self.acceptance_rate =
            crate::metrics::ratio(self.accepted as f64, self.acceptance_n as f64);
    }
}

/// A histogram bucket, in display order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    /// Human label, e.g. `1-2s`.
    pub label: String,
    /// Items in the bucket.
    pub count: u64,
}

/// Upper bounds (ms, exclusive) and labels of the latency histogram; the last bucket is open.
pub const LATENCY_BUCKETS: [(f64, &str); 7] = [
    (1_000.0, "<1s"),
    (2_000.0, "1-2s"),
    (5_000.0, "2-5s"),
    (10_000.0, "5-10s"),
    (30_000.0, "10-30s"),
    (60_000.0, "30-60s"),
    (f64::INFINITY, ">=60s"),
];

/// Index of the latency bucket holding `ms`.
pub fn latency_bucket(ms: f64) -> usize {
    LATENCY_BUCKETS
        .iter()
        .position(|&(upper, _)| ms < upper)
        .unwrap_or(LATENCY_BUCKETS.len() - 1)
}

/// Latency histogram from per-bucket counts (in [`LATENCY_BUCKETS`] order).
pub fn latency_distribution(counts: &[u64; 7]) -> Vec<Bucket> {
    LATENCY_BUCKETS
        .iter()
        .zip(counts)
        .map(|(&(_, label), &count)| Bucket {
            label: label.to_string(),
            count,
        })
        .collect()
}

#[derive(Default)]
struct Day {
    counts: Counters,
    commits: u64,
    merged: u64,
    merge_hours: Vec<f64>,
}

fn pct(values: &[f64], q: f64) -> Option<f64> {
    percentile(values, q).ok().flatten()
}

/// The daily table of one repo over every day of the window.
pub fn daily(data: &RepoData, agg: &TraceAggregate, window: &DayWindow, tz: Tz) -> Vec<DailyPoint> {
    let mut days: BTreeMap<NaiveDate, Day> = window.days().map(|d| (d, Day::default())).collect();
    for c in &agg.cells {
        let Some(day) = days.get_mut(&c.slot.day) else {
            continue;
        };
        day.counts.add(&c.counts);
    }
    let sessions = agg.sessions_per_day();
    for c in &data.commits {
        if let Some(day) = days.get_mut(&local_day(c.authored_at, tz)) {
            day.commits += 1;
        }
    }
    for p in &data.pulls {
        let Some(m) = p.merged_at else { continue };
        if let Some(day) = days.get_mut(&local_day(m, tz)) {
            day.merged += 1;
            day.merge_hours.extend(merge_hours(p));
        }
    }
    days.into_iter()
        .map(|(date, d)| {
            let lat = percentiles(agg.latency_by_day.get(&date), &[50.0, 95.0]);
            DailyPoint {
                date: date.to_string(),
                requests: count(d.counts.requests),
                sessions: sessions.get(&date).copied().unwrap_or(0),
                tokens: d.counts.tokens,
                cost_usd: d.counts.cost_usd,
                errors: count(d.counts.errors),
                latency_p50_ms: lat[0],
                latency_p95_ms: lat[1],
                commits: d.commits,
                merged_prs: d.merged,
                median_merge_hours: pct(&d.merge_hours, 50.0),
            }
        })
        .collect()
}

#[derive(Default)]
struct Dev<'a> {
    /// Spellings of the id with their calls (traces) or items (GitHub).
    spellings: BTreeMap<&'a str, (u64, u64)>,
    counts: Counters,
    /// Session numbers seen, as bits (the numbers are dense, see
    /// [`SessionSlot::session`](crate::metrics::aggregate::SessionSlot::session)).
    sessions: Vec<u64>,
    commits: u64,
    merged: u64,
}

impl Dev<'_> {
    /// The spelling with the most calls, else the most GitHub items; ties go to the first in
    /// byte order, so the name does not depend on the order rows are read in.
    fn name(&self) -> String {
        let mut best: Option<(&str, (u64, u64))> = None;
        for (&name, &n) in &self.spellings {
            if best.is_none_or(|(_, b)| n > b) {
                best = Some((name, n));
            }
        }
        best.map(|(n, _)| n.to_string()).unwrap_or_default()
    }

    /// Marks session number `n` as one of this developer's.
    fn add_session(&mut self, n: u32) {
        let (word, bit) = (n as usize / 64, n % 64);
        if self.sessions.len() <= word {
            self.sessions.resize(word + 1, 0);
        }
        self.sessions[word] |= 1 << bit;
    }

    /// Distinct sessions marked.
    fn session_count(&self) -> u64 {
        self.sessions
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum()
    }
}

/// One distinct developer id of the trace side: its person's entry in the table, the spelling
/// it counts under (its linked login, or itself) and its calls.
struct IdEntry<'a> {
    dev: usize,
    spelling: &'a str,
    calls: u64,
}

/// The per-developer table of one repo, sorted by calls (most first), then name.
///
/// Ids that differ only in case are one developer, shown with the spelling used by most calls;
/// GitHub authors are matched to them the same way, and an author with no calls still gets a
/// line, so delivery without AI use stays visible.
pub fn developers(data: &RepoData, agg: &TraceAggregate) -> Vec<DeveloperSummary> {
    // Each distinct developer id once: the GitHub login it is linked to, when it is, and the
    // key (lower case) of the person it counts for.
    let ids = agg.developer_ids();
    let linked: HashMap<&str, String> = match &data.linker {
        Some(l) => ids
            .iter()
            .filter_map(|&id| l.link(id).map(|k| (id, k.login)))
            .collect(),
        None => HashMap::new(),
    };
    // People by key, as indices into `people`; every id of the trace side resolved once.
    let mut people: Vec<(String, Dev)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut person_of = |key: String| -> usize {
        *index.entry(key.clone()).or_insert_with(|| {
            people.push((key, Dev::default()));
            people.len() - 1
        })
    };
    let mut by_id: HashMap<&str, IdEntry> = HashMap::with_capacity(ids.len());
    for &id in &ids {
        let spelling = linked.get(id).map_or(id, String::as_str);
        let dev = person_of(spelling.to_lowercase());
        by_id.insert(
            id,
            IdEntry {
                dev,
                spelling,
                calls: 0,
            },
        );
    }
    // Counters are added cell by cell, in the cells' order, so sums are the same every run.
    for c in agg.cells.iter().filter(|c| c.counts.requests > 0) {
        let Some(e) = c.developer.as_deref().and_then(|n| by_id.get_mut(n)) else {
            continue;
        };
        e.calls += count(c.counts.requests);
        people[e.dev].1.counts.add(&c.counts);
    }
    // A developer is listed once a session or a call of theirs is seen.
    let mut listed = vec![false; people.len()];
    for s in &agg.sessions {
        if let Some(e) = s.developer.as_deref().and_then(|n| by_id.get(n)) {
            listed[e.dev] = true;
            people[e.dev].1.add_session(s.session);
        }
    }
    let mut aliases: HashMap<String, std::collections::BTreeSet<String>> = HashMap::new();
    for (&id, e) in by_id.iter().filter(|(_, e)| e.calls > 0) {
        let (key, d) = &mut people[e.dev];
        listed[e.dev] = true;
        d.spellings.entry(e.spelling).or_default().0 += e.calls;
        if e.spelling != id {
            aliases
                .entry(key.clone())
                .or_default()
                .insert(id.to_string());
        }
    }
    let mut devs: HashMap<String, Dev> = people
        .into_iter()
        .zip(listed)
        .filter_map(|(p, listed)| listed.then_some(p))
        .collect();
    // Commits and merged PRs counted per spelling first, then each spelling added once.
    let mut authored: HashMap<&str, (u64, u64)> = HashMap::new();
    for a in data.commits.iter().filter_map(|c| c.author.as_deref()) {
        authored.entry(a).or_default().0 += 1;
    }
    for p in data.pulls.iter().filter(|p| p.merged_at.is_some()) {
        if let Some(a) = p.author.as_deref() {
            authored.entry(a).or_default().1 += 1;
        }
    }
    for (a, (commits, merged)) in authored {
        let d = devs.entry(a.to_lowercase()).or_default();
        d.spellings.entry(a).or_default().1 += commits + merged;
        d.commits += commits;
        d.merged += merged;
    }
    let mut out: Vec<DeveloperSummary> = devs
        .into_iter()
        .map(|(key, d)| {
            let (signal, accepted) = (count(d.counts.signal), count(d.counts.accepted));
            DeveloperSummary {
                linked_ids: aliases
                    .remove(&key)
                    .map(|s| s.into_iter().collect())
                    .unwrap_or_default(),
                developer: d.name(),
                requests: count(d.counts.requests),
                sessions: d.session_count(),
                tokens: d.counts.tokens,
                cost_usd: d.counts.cost_usd,
                acceptance_n: signal,
                accepted,
                acceptance_rate: ratio(accepted as f64, signal as f64),
                commits: d.commits,
                merged_prs: d.merged,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then_with(|| a.developer.cmp(&b.developer))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::input::{CommitRow, PullRow, TraceRow};
    use chrono::{DateTime, Utc};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn call(ts: &str, dev: &str, session: &str, latency: f64) -> TraceRow {
        TraceRow {
            timestamp: at(ts),
            developer: Some(dev.into()),
            session: Some(session.into()),
            tokens: 10,
            latency_ms: Some(latency),
            cost_usd: Some(0.25),
            ..TraceRow::default()
        }
    }

    fn data() -> RepoData {
        RepoData {
            repo: "acme/api".into(),
            traces: vec![
                call("2025-10-01T09:00:00Z", "Ana", "s1", 100.0),
                call("2025-10-01T10:00:00Z", "ana", "s1", 300.0),
                call("2025-10-03T23:30:00Z", "bo", "s2", 1500.0),
            ],
            commits: vec![CommitRow {
                author: Some("ANA".into()),
                authored_at: at("2025-10-02T12:00:00Z"),
            }],
            pulls: vec![PullRow {
                number: 1,
                author: Some("cy".into()),
                created_at: at("2025-10-01T00:00:00Z"),
                merged_at: Some(at("2025-10-03T06:00:00Z")),
            }],
            ..RepoData::default()
        }
    }

    #[test]
    fn daily_is_calendar_complete_and_local() {
        let w =
            DayWindow::new("2025-10-01".parse().unwrap(), "2025-10-04".parse().unwrap()).unwrap();
        let d = data();
        let utc = daily(
            &d,
            &TraceAggregate::from_rows(&d.traces, chrono_tz::UTC),
            &w,
            chrono_tz::UTC,
        );
        assert_eq!(utc.len(), 4);
        assert_eq!(utc[0].requests, 2);
        assert_eq!(utc[0].sessions, 1);
        assert_eq!(utc[0].latency_p50_ms, Some(200.0));
        assert_eq!(utc[0].cost_usd, 0.5);
        assert_eq!(utc[1].requests, 0);
        assert_eq!(utc[1].commits, 1);
        assert_eq!(utc[1].latency_p50_ms, None);
        assert_eq!(utc[2].merged_prs, 1);
        assert_eq!(utc[2].median_merge_hours, Some(54.0));
        // 23:30 UTC on the 3rd is the 4th in Berlin.
        let tz = chrono_tz::Europe::Berlin;
        let berlin = daily(&d, &TraceAggregate::from_rows(&d.traces, tz), &w, tz);
        assert_eq!(berlin[2].requests, 0);
        assert_eq!(berlin[3].requests, 1);
    }

    #[test]
    fn developers_merge_case_and_keep_github_only_authors() {
        let d = data();
        let devs = developers(&d, &TraceAggregate::from_rows(&d.traces, chrono_tz::UTC));
        assert_eq!(devs.len(), 3);
        assert_eq!(devs[0].developer, "Ana");
        assert_eq!(devs[0].requests, 2);
        assert_eq!(devs[0].sessions, 1);
        assert_eq!(devs[0].commits, 1);
        assert_eq!(devs[0].acceptance_rate, None);
        let cy = devs.iter().find(|d| d.developer == "cy").unwrap();
        assert_eq!((cy.requests, cy.merged_prs), (0, 1));
    }

    #[test]
    fn latency_buckets_are_half_open() {
        assert_eq!(latency_bucket(0.0), 0);
        assert_eq!(latency_bucket(999.9), 0);
        assert_eq!(latency_bucket(1000.0), 1);
        assert_eq!(latency_bucket(59_999.0), 5);
        assert_eq!(latency_bucket(1e9), 6);
        let d = latency_distribution(&[1, 0, 0, 0, 0, 0, 2]);
        assert_eq!(d[6].label, ">=60s");
        assert_eq!(d[6].count, 2);
    }
}
