//! Breakdowns for reading and charting: the calendar-complete daily table, the per-developer
//! table and the latency histogram of one repo.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Serialize;

use super::delivery::merge_hours;
use super::input::RepoData;
use super::ratio;
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
    /// Developer id as stored on traces (or the GitHub login when only GitHub knows them).
    pub developer: String,
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
struct Day<'a> {
    requests: u64,
    sessions: HashSet<&'a str>,
    tokens: i64,
    cost: f64,
    errors: u64,
    latencies: Vec<f64>,
    commits: u64,
    merged: u64,
    merge_hours: Vec<f64>,
}

fn pct(values: &[f64], q: f64) -> Option<f64> {
    percentile(values, q).ok().flatten()
}

/// The daily table of one repo over every day of the window.
pub fn daily(data: &RepoData, window: &DayWindow, tz: Tz) -> Vec<DailyPoint> {
    let mut days: BTreeMap<NaiveDate, Day> = window.days().map(|d| (d, Day::default())).collect();
    for t in &data.traces {
        let Some(day) = days.get_mut(&local_day(t.timestamp, tz)) else {
            continue;
        };
        day.requests += 1;
        day.tokens += t.tokens;
        if let Some(s) = &t.session {
            day.sessions.insert(s);
        }
        if let Some(c) = t.cost_usd.filter(|c| c.is_finite()) {
            day.cost += c;
        }
        day.errors += u64::from(t.is_error);
        if let Some(l) = t.latency_ms.filter(|l| l.is_finite()) {
            day.latencies.push(l);
        }
    }
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
        .map(|(date, d)| DailyPoint {
            date: date.to_string(),
            requests: d.requests,
            sessions: d.sessions.len() as u64,
            tokens: d.tokens,
            cost_usd: d.cost,
            errors: d.errors,
            latency_p50_ms: pct(&d.latencies, 50.0),
            latency_p95_ms: pct(&d.latencies, 95.0),
            commits: d.commits,
            merged_prs: d.merged,
            median_merge_hours: pct(&d.merge_hours, 50.0),
        })
        .collect()
}

#[derive(Default)]
struct Dev<'a> {
    name: String,
    requests: u64,
    sessions: HashSet<&'a str>,
    tokens: i64,
    cost: f64,
    signal: u64,
    accepted: u64,
    commits: u64,
    merged: u64,
}

/// The per-developer table of one repo, sorted by calls (most first), then name.
///
/// GitHub authors are matched to trace developers case-insensitively; an author with no calls
/// still gets a line, so delivery without AI use stays visible.
pub fn developers(data: &RepoData) -> Vec<DeveloperSummary> {
    let mut devs: HashMap<String, Dev> = HashMap::new();
    fn entry<'m, 'a>(devs: &'m mut HashMap<String, Dev<'a>>, name: &str) -> &'m mut Dev<'a> {
        devs.entry(name.to_lowercase()).or_insert_with(|| Dev {
            name: name.to_string(),
            ..Dev::default()
        })
    }
    for t in &data.traces {
        let Some(name) = t.developer.as_deref() else {
            continue;
        };
        let d = entry(&mut devs, name);
        d.requests += 1;
        d.tokens += t.tokens;
        if let Some(s) = &t.session {
            d.sessions.insert(s);
        }
        if let Some(c) = t.cost_usd.filter(|c| c.is_finite()) {
            d.cost += c;
        }
        if let Some(a) = t.accepted {
            d.signal += 1;
            d.accepted += u64::from(a);
        }
    }
    for c in &data.commits {
        if let Some(a) = c.author.as_deref() {
            entry(&mut devs, a).commits += 1;
        }
    }
    for p in data.pulls.iter().filter(|p| p.merged_at.is_some()) {
        if let Some(a) = p.author.as_deref() {
            entry(&mut devs, a).merged += 1;
        }
    }
    let mut out: Vec<DeveloperSummary> = devs
        .into_values()
        .map(|d| DeveloperSummary {
            developer: d.name,
            requests: d.requests,
            sessions: d.sessions.len() as u64,
            tokens: d.tokens,
            cost_usd: d.cost,
            acceptance_n: d.signal,
            accepted: d.accepted,
            acceptance_rate: ratio(d.accepted as f64, d.signal as f64),
            commits: d.commits,
            merged_prs: d.merged,
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
        let utc = daily(&data(), &w, chrono_tz::UTC);
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
        let berlin = daily(&data(), &w, chrono_tz::Europe::Berlin);
        assert_eq!(berlin[2].requests, 0);
        assert_eq!(berlin[3].requests, 1);
    }

    #[test]
    fn developers_merge_case_and_keep_github_only_authors() {
        let devs = developers(&data());
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
