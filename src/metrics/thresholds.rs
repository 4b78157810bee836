//! Targets of the pilot indicators (pass / fail / no data / insufficient data) and the report's
//! warnings.

use serde::Serialize;

use super::{ratio, RepoMetrics};

/// Outcome of one target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The value meets the target.
    Pass,
    /// The value misses the target.
    Fail,
    /// No value to judge.
    NoData,
    /// A value from too small a sample to judge (see [`SampleRule`]): neither pass nor fail.
    InsufficientData,
}

/// The smallest sample a target is judged on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleRule {
    /// Metric the rule is for (dotted path under `metrics.<repo>`).
    pub metric: &'static str,
    /// Smallest n judged pass or fail.
    pub min_n: u64,
    /// Smallest share of all calls that n must reach, when the rule has one.
    pub min_share: Option<f64>,
    /// What n counts and when it is too small, in words.
    pub text: &'static str,
}

/// The sample rule of every target, in the order of [`evaluate`]'s rows.
pub const RULES: [SampleRule; 11] = [
    SampleRule {
        metric: "velocity.sessions_per_active_developer_hour",
        min_n: 10,
        min_share: None,
        text: "n = active developer-hours; fewer than 10 is insufficient data",
    },
    SampleRule {
        metric: "velocity.latency_median_ms",
        min_n: 30,
        min_share: None,
        text: "n = calls with a latency; fewer than 30 is insufficient data",
    },
    SampleRule {
        metric: "acceptance.rate",
        min_n: 30,
        min_share: Some(0.05),
        text: "n = calls with an acceptance signal; fewer than 30, or under 5 % of all calls, is insufficient data",
    },
    SampleRule {
        metric: "model_selection.share",
        min_n: 30,
        min_share: None,
        text: "n = calls; fewer than 30 is insufficient data",
    },
    SampleRule {
        metric: "errors.rate",
        min_n: 30,
        min_share: None,
        text: "n = calls; fewer than 30 is insufficient data",
    },
    SampleRule {
        metric: "token_efficiency.tokens_per_accepted_line",
        min_n: 30,
        min_share: None,
        text: "n = accepted calls reporting accepted lines; fewer than 30 is insufficient data",
    },
    SampleRule {
        metric: "pr_throughput.mean_per_week",
        min_n: 2,
        min_share: None,
        text: "n = whole ISO weeks (Monday to Sunday) inside the window; fewer than 2 is insufficient data",
    },
    SampleRule {
        metric: "commit_frequency.per_developer_active_day",
        min_n: 5,
        min_share: None,
        text: "n = developer-active-days (per author, the days with a commit, summed); fewer than 5 is insufficient data",
    },
    SampleRule {
        metric: "merge_time.median_hours",
        min_n: 5,
        min_share: None,
        text: "n = PRs merged in the window; fewer than 5 is insufficient data",
    },
    SampleRule {
        metric: "rework.rate",
        min_n: 5,
        min_share: None,
        text: "n = PRs merged in the window; fewer than 5 is insufficient data",
    },
    SampleRule {
        metric: "cost.per_merged_pr_usd",
        min_n: 5,
        min_share: None,
        text: "n = PRs merged in the window; fewer than 5 is insufficient data",
    },
];

/// One target evaluated for one repo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Threshold {
    /// Repo.
    pub repo: String,
    /// Indicator key (as in `definitions`).
    pub indicator: String,
    /// Dotted metric path under `metrics.<repo>`.
    pub metric: String,
    /// `>` or `<`.
    pub comparison: String,
    /// Target value.
    pub target: f64,
    /// Value, null when no data.
    pub value: Option<f64>,
    /// The sample behind the value (what `rule` counts).
    pub n: u64,
    /// Smallest n judged pass or fail.
    pub min_n: u64,
    /// What n counts and when it is too small to judge.
    pub rule: String,
    /// pass / fail / no_data / insufficient_data.
    pub status: Status,
}

/// Judges `value` against the target unless it is missing or its sample is too small; `share`
/// is n / all calls (for rules with a smallest share).
fn judge(
    value: Option<f64>,
    cmp: &str,
    target: f64,
    n: u64,
    share: Option<f64>,
    rule: &SampleRule,
) -> Status {
    let Some(v) = value else {
        return Status::NoData;
    };
    let too_few = n < rule.min_n;
    let too_rare = rule
        .min_share
        .is_some_and(|min| share.is_none_or(|s| s < min));
    if too_few || too_rare {
        Status::InsufficientData
    } else if (cmp == ">" && v > target) || (cmp == "<" && v < target) {
        Status::Pass
    } else {
        Status::Fail
    }
}

/// Evaluates every target for one repo.
pub fn evaluate(repo: &str, m: &RepoMetrics) -> Vec<Threshold> {
    // (indicator, comparison, target, value, n), in RULES order.
    let rows: [(&str, &str, f64, Option<f64>, u64); 11] = [
        (
            "velocity",
            ">",
            4.0,
            m.velocity.sessions_per_active_developer_hour,
            m.velocity.active_developer_hours,
        ),
        (
            "velocity",
            "<",
            30_000.0,
            m.velocity.latency_median_ms,
            m.velocity.latency_n,
        ),
        ("acceptance", ">", 0.25, m.acceptance.rate, m.acceptance.n),
        (
            "model_selection",
            ">",
            0.80,
            m.model_selection.share,
            m.model_selection.n,
        ),
        ("errors", "<", 0.05, m.errors.rate, m.errors.n),
        (
            "token_efficiency",
            "<",
            50.0,
            m.token_efficiency.tokens_per_accepted_line,
            m.token_efficiency.line_calls,
        ),
        (
            "pr_throughput",
            ">",
            5.0,
            m.pr_throughput.mean_per_week,
            m.pr_throughput.whole_weeks,
        ),
        (
            "commit_frequency",
            ">",
            10.0,
            m.commit_frequency.per_developer_active_day,
            m.commit_frequency.developer_active_days,
        ),
        (
            "merge_time",
            "<",
            24.0,
            m.merge_time.median_hours,
            m.merge_time.n,
        ),
        ("rework", "<", 0.22, m.rework.rate, m.rework.merged),
        (
            "cost",
            "<",
            0.50,
            m.cost.per_merged_pr_usd,
            m.pr_throughput.merged,
        ),
    ];
    let calls = m.velocity.requests as f64;
    rows.iter()
        .zip(RULES.iter())
        .map(|(&(indicator, cmp, target, value, n), rule)| Threshold {
            repo: repo.to_string(),
            indicator: indicator.to_string(),
            metric: rule.metric.to_string(),
            comparison: cmp.to_string(),
            target,
            value,
            n,
            min_n: rule.min_n,
            rule: rule.text.to_string(),
            status: judge(value, cmp, target, n, ratio(n as f64, calls), rule),
        })
        .collect()
}

/// Warnings about one repo's data.
pub fn warnings(repo: &str, has_github: bool, m: &RepoMetrics) -> Vec<String> {
    let mut w = Vec::new();
    if !has_github {
        w.push(format!(
            "{repo}: no GitHub data in the store (run `prod-lens ingest-github --repo {repo}`); delivery indicators have no data"
        ));
    }
    if m.velocity.requests == 0 {
        w.push(format!("{repo}: no AI calls in the window"));
    }
    if m.cost.unknown_calls > 0 {
        w.push(format!(
            "{repo}: {} calls ({:.1} %) have no known cost; they count as $0 in cost totals",
            m.cost.unknown_calls,
            m.cost.unknown_share.unwrap_or(0.0) * 100.0
        ));
    }
    if m.acceptance.n == 0 && m.velocity.requests > 0 {
        w.push(format!("{repo}: no call carries an acceptance signal"));
    }
    if m.pr_throughput.partial_weeks {
        w.push(format!(
            "{repo}: the window starts or ends mid-week, so its first or last ISO week is partial"
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::aggregate::TraceAggregate;
    use crate::metrics::input::{PullRow, TraceRow};
    use crate::metrics::{delivery, usage};
    use crate::stats::calendar::DayWindow;
    use chrono::{DateTime, Duration, Utc};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn metrics(rows: &[TraceRow], merged: usize) -> RepoMetrics {
        let w =
            DayWindow::new("2025-10-01".parse().unwrap(), "2025-10-31".parse().unwrap()).unwrap();
        let pulls: Vec<PullRow> = (0..merged)
            .map(|i| PullRow {
                number: i as i64,
                author: None,
                created_at: at("2025-10-02T08:00:00Z"),
                merged_at: Some(at("2025-10-02T10:00:00Z") + Duration::hours(i as i64)),
            })
            .collect();
        let d = delivery::compute(&pulls, &[], &[], &w, chrono_tz::UTC);
        let agg = TraceAggregate::from_rows(rows, chrono_tz::UTC);
        let u = usage::compute(&agg, &[], d.pr_throughput.merged);
        RepoMetrics {
            velocity: u.velocity,
            acceptance: u.acceptance,
            model_selection: u.model_selection,
            errors: u.errors,
            token_efficiency: u.token_efficiency,
            acceptance_quality: u.acceptance_quality,
            pr_throughput: d.pr_throughput,
            commit_frequency: d.commit_frequency,
            merge_time: d.merge_time,
            rework: d.rework,
            cost: u.cost,
            daily: Vec::new(),
            developers: Vec::new(),
            teams: Vec::new(),
        }
    }

    fn calls(n: usize, with_signal: usize) -> Vec<TraceRow> {
        (0..n)
            .map(|i| TraceRow {
                timestamp: at("2025-10-03T09:00:00Z") + Duration::minutes(i as i64),
                developer: Some("a".into()),
                tokens: 100,
                output_tokens: 20,
                latency_ms: Some(900.0),
                accepted: (i < with_signal).then_some(true),
                accepted_lines: (i < with_signal).then_some(4),
                ..TraceRow::default()
            })
            .collect()
    }

    fn row<'a>(t: &'a [Threshold], metric: &str) -> &'a Threshold {
        t.iter().find(|t| t.metric == metric).unwrap()
    }

    #[test]
    fn a_rate_from_2_of_4267_calls_is_insufficient_data() {
        let t = evaluate("r", &metrics(&calls(4267, 2), 0));
        let a = row(&t, "acceptance.rate");
        assert_eq!((a.value, a.n, a.min_n), (Some(1.0), 2, 30));
        assert_eq!(a.status, Status::InsufficientData);
        // 40 signals clear the count but stay under 5 % of the calls.
        let t = evaluate("r", &metrics(&calls(4267, 40), 0));
        assert_eq!(row(&t, "acceptance.rate").status, Status::InsufficientData);
        let t = evaluate("r", &metrics(&calls(4267, 300), 0));
        assert_eq!(row(&t, "acceptance.rate").status, Status::Pass);
        assert_eq!(row(&t, "errors.rate").status, Status::Pass);
        let tokens = row(&t, "token_efficiency.tokens_per_accepted_line");
        assert_eq!((tokens.value, tokens.n), (Some(5.0), 300));
        assert_eq!(tokens.status, Status::Pass);
    }

    #[test]
    fn small_samples_are_insufficient_and_missing_values_no_data() {
        let t = evaluate("r", &metrics(&calls(29, 29), 4));
        for metric in [
            "velocity.latency_median_ms",
            "errors.rate",
            "acceptance.rate",
            "token_efficiency.tokens_per_accepted_line",
            "merge_time.median_hours",
            "rework.rate",
            "cost.per_merged_pr_usd",
            "velocity.sessions_per_active_developer_hour",
        ] {
            let r = row(&t, metric);
            assert_eq!(r.status, Status::InsufficientData, "{metric}: {r:?}");
        }
        // No --policy-model: no value at all.
        assert_eq!(row(&t, "model_selection.share").status, Status::NoData);
        // October 2025 (Wednesday 1st to Friday 31st) holds 3 whole ISO weeks.
        assert_eq!(row(&t, "pr_throughput.mean_per_week").n, 3);
        let t = evaluate("r", &metrics(&calls(30, 30), 5));
        assert_eq!(row(&t, "merge_time.median_hours").status, Status::Pass);
        assert_eq!(row(&t, "rework.rate").status, Status::Pass);
        assert_eq!(row(&t, "errors.rate").status, Status::Pass);
        let none = evaluate("r", &metrics(&[], 0));
        assert!(none
            .iter()
            .filter(|t| t.indicator != "pr_throughput")
            .all(|t| t.status == Status::NoData));
    }

    #[test]
    fn every_rule_is_in_the_definitions_and_in_row_order() {
        let defs = crate::metrics::definitions::definitions();
        let text = &defs["thresholds"];
        let t = evaluate("r", &metrics(&[], 0));
        for (rule, row) in RULES.iter().zip(&t) {
            assert_eq!(rule.metric, row.metric);
            let line = format!("{}: {}", rule.metric, rule.text);
            assert!(text.contains(&line), "definitions lack {line}");
        }
    }
}
