//! Delivery-side indicators from GitHub rows: PR throughput (7), commit frequency (8),
//! PR merge time (9) and rework rate (10).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::input::{CommitRow, PullRow, ReworkKind, ReworkRow};
use super::ratio;
use crate::stats::calendar::{local_day, DayWindow, IsoWeek};
use crate::stats::quantile::{mean, percentile};

/// Indicator 7: merged PRs per ISO week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrThroughput {
    /// Merged PRs in the window.
    pub merged: u64,
    /// Merged PRs per ISO week touching the window (`YYYY-Www`), zero weeks included.
    pub per_week: BTreeMap<String, u64>,
    /// Mean over those weeks.
    pub mean_per_week: Option<f64>,
    /// Median over those weeks.
    pub median_per_week: Option<f64>,
    /// True when the window starts or ends mid-week (edge weeks are partial).
    pub partial_weeks: bool,
    /// ISO weeks lying wholly inside the window (Monday to Sunday).
    pub whole_weeks: u64,
}

/// Indicator 8: commits per active day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommitFrequency {
    /// Commits in the window.
    pub commits: u64,
    /// Days with ≥ 1 commit.
    pub active_days: u64,
    /// commits / active_days.
    pub per_active_day: Option<f64>,
    /// Per author: commits / that author's active days.
    pub per_developer: BTreeMap<String, f64>,
    /// Σ over authors of the days they committed on (developer-active-days).
    pub developer_active_days: u64,
    /// commits / developer_active_days.
    pub per_developer_active_day: Option<f64>,
}

/// Indicator 9: hours from PR creation to merge, over PRs merged in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergeTime {
    /// PRs merged in the window.
    pub n: u64,
    /// Median hours.
    pub median_hours: Option<f64>,
    /// 75th percentile hours.
    pub p75_hours: Option<f64>,
    /// 90th percentile hours.
    pub p90_hours: Option<f64>,
    /// Mean hours.
    pub mean_hours: Option<f64>,
    /// PR counts per bucket: `<1h`, `1-4h`, `4-24h`, `1-3d`, `3-7d`, `>7d`.
    pub distribution: BTreeMap<String, u64>,
}

/// Indicator 10: rework rate over the PRs merged in the window (each counted once).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rework {
    /// PRs merged in the window.
    pub merged: u64,
    /// Of those, reverted within 21 days of merge.
    pub reverted: u64,
    /// Of those, reopened after a close before their merge, not already counted as reverted.
    pub reopened: u64,
    /// (reverted + reopened) / merged, never above 1.
    pub rate: Option<f64>,
    /// PRs reopened inside the window that never merged (not part of the rate).
    pub reopened_unmerged: u64,
}

/// The delivery-side indicators of one repo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    /// Indicator 7.
    pub pr_throughput: PrThroughput,
    /// Indicator 8.
    pub commit_frequency: CommitFrequency,
    /// Indicator 9.
    pub merge_time: MergeTime,
    /// Indicator 10.
    pub rework: Rework,
}

/// Merge time of a merged PR in hours (never negative).
pub fn merge_hours(p: &PullRow) -> Option<f64> {
    let merged = p.merged_at?;
    let secs = (merged - p.created_at).num_seconds();
    (secs >= 0).then(|| secs as f64 / 3600.0)
}

const BUCKETS: [(&str, f64); 6] = [
    ("<1h", 1.0),
    ("1-4h", 4.0),
    ("4-24h", 24.0),
    ("1-3d", 72.0),
    ("3-7d", 168.0),
    (">7d", f64::INFINITY),
];

/// Computes the delivery indicators over PRs merged and commits authored in `window`.
pub fn compute(
    pulls: &[PullRow],
    commits: &[CommitRow],
    rework: &[ReworkRow],
    window: &DayWindow,
    tz: Tz,
) -> Delivery {
    let merged: Vec<&PullRow> = pulls
        .iter()
        .filter(|p| {
            p.merged_at
                .is_some_and(|m| window.contains(local_day(m, tz)))
        })
        .collect();

    // Counted by week, named once per week.
    let mut weeks: BTreeMap<IsoWeek, u64> = window.days().map(|d| (IsoWeek::of(d), 0)).collect();
    for p in &merged {
        if let Some(m) = p.merged_at {
            *weeks.entry(IsoWeek::of(local_day(m, tz))).or_insert(0) += 1;
        }
    }
    let per_week: BTreeMap<String, u64> = weeks.iter().map(|(w, &n)| (w.to_string(), n)).collect();
    let weekly: Vec<f64> = per_week.values().map(|&v| v as f64).collect();
    let pr_throughput = PrThroughput {
        merged: merged.len() as u64,
        mean_per_week: mean(&weekly),
        median_per_week: percentile(&weekly, 50.0).ok().flatten(),
        partial_weeks: IsoWeek::of(window.since()).monday() != Some(window.since())
            || window.until().weekday().num_days_from_monday() != 6,
        whole_weeks: window
            .days()
            .filter(|d| d.weekday() == chrono::Weekday::Mon)
            .filter(|d| {
                d.checked_add_days(chrono::Days::new(6))
                    .is_some_and(|sunday| sunday <= window.until())
            })
            .count() as u64,
        per_week,
    };

    // (author, day) of every commit in the window, sorted: each author's commits are one run,
    // their distinct days the changes of day within it.
    let mut days = BTreeSet::new();
    let mut by_author: Vec<(&str, chrono::NaiveDate)> = Vec::with_capacity(commits.len());
    for c in commits {
        let day = local_day(c.authored_at, tz);
        if !window.contains(day) {
            continue;
        }
        days.insert(day);
        by_author.push((c.author.as_deref().unwrap_or("unknown"), day));
    }
    by_author.sort_unstable();
    let in_window = by_author.len() as u64;
    let (mut dev_days, mut per_developer) = (0usize, BTreeMap::new());
    for run in by_author.chunk_by(|a, b| a.0 == b.0) {
        let active = 1 + run.windows(2).filter(|w| w[0].1 != w[1].1).count();
        dev_days += active;
        if let Some(r) = ratio(run.len() as f64, active as f64) {
            per_developer.insert(run[0].0.to_string(), r);
        }
    }
    let commit_frequency = CommitFrequency {
        commits: in_window,
        active_days: days.len() as u64,
        per_active_day: ratio(in_window as f64, days.len() as f64),
        per_developer,
        developer_active_days: dev_days as u64,
        per_developer_active_day: ratio(in_window as f64, dev_days as f64),
    };

    let hours: Vec<f64> = merged.iter().filter_map(|p| merge_hours(p)).collect();
    let mut distribution: BTreeMap<String, u64> =
        BUCKETS.iter().map(|(k, _)| (k.to_string(), 0)).collect();
    for h in &hours {
        if let Some((k, _)) = BUCKETS.iter().find(|(_, hi)| h < hi) {
            *distribution.entry(k.to_string()).or_insert(0) += 1;
        }
    }
    let merge_time = MergeTime {
        n: hours.len() as u64,
        median_hours: percentile(&hours, 50.0).ok().flatten(),
        p75_hours: percentile(&hours, 75.0).ok().flatten(),
        p90_hours: percentile(&hours, 90.0).ok().flatten(),
        mean_hours: mean(&hours),
        distribution,
    };

    let rework = rework_rate(&merged, rework, window, tz);

    Delivery {
        pr_throughput,
        commit_frequency,
        merge_time,
        rework,
    }
}

/// Indicator 10: merged PRs reverted within 21 days or reopened before their merge, each once.
fn rework_rate(merged: &[&PullRow], rework: &[ReworkRow], window: &DayWindow, tz: Tz) -> Rework {
    let merged_at: BTreeMap<i64, DateTime<Utc>> = merged
        .iter()
        .filter_map(|p| Some((p.number, p.merged_at?)))
        .collect();
    let reverted: BTreeSet<i64> = rework
        .iter()
        .filter(|r| r.kind == ReworkKind::Revert && r.within_window)
        .map(|r| r.pr_number)
        .filter(|n| merged_at.contains_key(n))
        .collect();
    let reopened: BTreeSet<i64> = rework
        .iter()
        .filter(|r| r.kind == ReworkKind::Reopened)
        .filter(|r| merged_at.get(&r.pr_number).is_some_and(|&m| r.at < m))
        .map(|r| r.pr_number)
        .filter(|n| !reverted.contains(n))
        .collect();
    let reopened_unmerged: BTreeSet<i64> = rework
        .iter()
        .filter(|r| r.kind == ReworkKind::Reopened && r.pr_merged_at.is_none())
        .filter(|r| !merged_at.contains_key(&r.pr_number))
        .filter(|r| window.contains(local_day(r.at, tz)))
        .map(|r| r.pr_number)
        .collect();
    let n = merged_at.len();
    Rework {
        merged: n as u64,
        reverted: reverted.len() as u64,
        reopened: reopened.len() as u64,
        rate: ratio((reverted.len() + reopened.len()) as f64, n as f64),
        reopened_unmerged: reopened_unmerged.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate, Utc};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn pr(n: i64, created: &str, merged: Option<&str>) -> PullRow {
        PullRow {
            number: n,
            author: Some("a".into()),
            created_at: at(created),
            merged_at: merged.map(at),
        }
    }

    #[test]
    fn weeks_merge_time_and_rework() {
        // Mon 2025-09-29 .. Sun 2025-10-12: two full ISO weeks.
        let w = DayWindow::new(d("2025-09-29"), d("2025-10-12")).unwrap();
        let pulls = vec![
            pr(1, "2025-09-29T08:00:00Z", Some("2025-09-29T10:00:00Z")),
            pr(2, "2025-09-29T08:00:00Z", Some("2025-10-01T08:00:00Z")),
            pr(3, "2025-09-20T08:00:00Z", Some("2025-10-06T08:00:00Z")),
            pr(4, "2025-09-20T08:00:00Z", Some("2025-10-20T08:00:00Z")), // outside
        ];
        let rework = vec![
            signal(
                ReworkKind::Revert,
                2,
                "2025-10-02T08:00:00Z",
                Some(&pulls[1]),
            ),
            signal(ReworkKind::Reopened, 9, "2025-10-03T08:00:00Z", None),
        ];
        let out = compute(&pulls, &[], &rework, &w, chrono_tz::UTC);
        assert_eq!(out.pr_throughput.merged, 3);
        assert_eq!(out.pr_throughput.per_week.get("2025-W40"), Some(&2));
        assert_eq!(out.pr_throughput.per_week.get("2025-W41"), Some(&1));
        assert_eq!(out.pr_throughput.mean_per_week, Some(1.5));
        assert!(!out.pr_throughput.partial_weeks);
        assert_eq!(out.merge_time.n, 3);
        assert_eq!(out.merge_time.median_hours, Some(48.0));
        assert_eq!(out.merge_time.distribution.get("1-4h"), Some(&1));
        assert_eq!(out.pr_throughput.whole_weeks, 2);
        assert_eq!(out.rework.reverted, 1);
        assert_eq!(out.rework.reopened, 0);
        assert_eq!(out.rework.reopened_unmerged, 1);
        assert_eq!(out.rework.rate, Some(1.0 / 3.0));
    }

    fn signal(kind: ReworkKind, n: i64, when: &str, pr: Option<&PullRow>) -> ReworkRow {
        ReworkRow {
            kind,
            pr_number: n,
            at: at(when),
            within_window: true,
            pr_merged_at: pr.and_then(|p| p.merged_at),
        }
    }

    #[test]
    fn reopened_prs_that_never_merged_are_not_rework_of_merged_prs() {
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-10")).unwrap();
        let pulls = vec![pr(1, "2025-10-01T08:00:00Z", Some("2025-10-02T08:00:00Z"))];
        let rework: Vec<ReworkRow> = [5, 6, 7]
            .iter()
            .map(|&n| signal(ReworkKind::Reopened, n, "2025-10-03T08:00:00Z", None))
            .collect();
        let r = compute(&pulls, &[], &rework, &w, chrono_tz::UTC).rework;
        assert_eq!((r.merged, r.reverted, r.reopened), (1, 0, 0));
        assert_eq!(r.reopened_unmerged, 3);
        assert_eq!(r.rate, Some(0.0));
    }

    #[test]
    fn a_merged_pr_counts_once_and_only_for_a_reopen_before_its_merge() {
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-10")).unwrap();
        let pulls = vec![
            pr(1, "2025-09-20T08:00:00Z", Some("2025-10-02T08:00:00Z")),
            pr(2, "2025-09-20T08:00:00Z", Some("2025-10-03T08:00:00Z")),
            pr(3, "2025-09-20T08:00:00Z", Some("2025-10-04T08:00:00Z")),
            pr(4, "2025-09-20T08:00:00Z", Some("2025-10-05T08:00:00Z")),
        ];
        let rework = vec![
            // 1: reverted and reopened before its merge (even before the window): once.
            signal(
                ReworkKind::Revert,
                1,
                "2025-10-06T08:00:00Z",
                Some(&pulls[0]),
            ),
            signal(
                ReworkKind::Reopened,
                1,
                "2025-09-25T08:00:00Z",
                Some(&pulls[0]),
            ),
            signal(
                ReworkKind::Reopened,
                1,
                "2025-09-26T08:00:00Z",
                Some(&pulls[0]),
            ),
            // 2: reopened before its merge.
            signal(
                ReworkKind::Reopened,
                2,
                "2025-10-01T08:00:00Z",
                Some(&pulls[1]),
            ),
            // 3: a reopen stamped after the merge is not a reopen before it.
            signal(
                ReworkKind::Reopened,
                3,
                "2025-10-07T08:00:00Z",
                Some(&pulls[2]),
            ),
            // 4: a revert later than 21 days.
            ReworkRow {
                within_window: false,
                ..signal(
                    ReworkKind::Revert,
                    4,
                    "2025-11-30T08:00:00Z",
                    Some(&pulls[3]),
                )
            },
        ];
        let r = compute(&pulls, &[], &rework, &w, chrono_tz::UTC).rework;
        assert_eq!((r.merged, r.reverted, r.reopened), (4, 1, 1));
        assert_eq!(r.reopened_unmerged, 0);
        assert_eq!(r.rate, Some(0.5));
    }

    proptest::proptest! {
        #[test]
        fn rework_rate_stays_within_0_and_1(
            merged in proptest::collection::vec((0i64..12, 0i64..20), 0..10),
            signals in proptest::collection::vec(
                (proptest::bool::ANY, 0i64..16, 0i64..40, proptest::bool::ANY, proptest::option::of(0i64..40)),
                0..30,
            ),
        ) {
            let w = DayWindow::new(d("2025-10-01"), d("2025-10-20")).unwrap();
            let day = |k: i64| at("2025-09-25T00:00:00Z") + chrono::Duration::days(k);
            let pulls: Vec<PullRow> = merged
                .iter()
                .map(|&(n, m)| PullRow {
                    number: n,
                    author: None,
                    created_at: day(0),
                    merged_at: Some(day(m)),
                })
                .collect();
            let rework: Vec<ReworkRow> = signals
                .iter()
                .map(|&(revert, n, t, within, pm)| ReworkRow {
                    kind: if revert { ReworkKind::Revert } else { ReworkKind::Reopened },
                    pr_number: n,
                    at: day(t),
                    within_window: within,
                    pr_merged_at: pm.map(day),
                })
                .collect();
            let r = compute(&pulls, &[], &rework, &w, chrono_tz::UTC).rework;
            proptest::prop_assert!(r.reverted + r.reopened <= r.merged);
            if let Some(rate) = r.rate {
                proptest::prop_assert!((0.0..=1.0).contains(&rate), "rate {rate}");
            } else {
                proptest::prop_assert_eq!(r.merged, 0);
            }
        }
    }

    #[test]
    fn commits_per_active_day_and_developer() {
        let w = DayWindow::new(d("2025-10-01"), d("2025-10-05")).unwrap();
        let c = |who: &str, ts: &str| CommitRow {
            author: Some(who.into()),
            authored_at: at(ts),
        };
        let commits = vec![
            c("a", "2025-10-01T09:00:00Z"),
            c("a", "2025-10-01T10:00:00Z"),
            c("a", "2025-10-02T10:00:00Z"),
            c("b", "2025-10-02T10:00:00Z"),
            c("b", "2025-10-09T10:00:00Z"), // outside
        ];
        let out = compute(&[], &commits, &[], &w, chrono_tz::UTC);
        let f = out.commit_frequency;
        assert_eq!(f.commits, 4);
        assert_eq!(f.active_days, 2);
        assert_eq!(f.per_active_day, Some(2.0));
        assert_eq!(f.per_developer.get("a"), Some(&1.5));
        assert_eq!(f.developer_active_days, 3);
        assert_eq!(f.per_developer_active_day, Some(4.0 / 3.0));
    }
}
