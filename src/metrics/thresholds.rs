//! Targets of the pilot indicators (pass / fail / no data) and the report's warnings.

use serde::Serialize;

use super::RepoMetrics;

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
}

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
    /// pass / fail / no_data.
    pub status: Status,
}

fn judge(value: Option<f64>, cmp: &str, target: f64) -> Status {
    match value {
        None => Status::NoData,
        Some(v) if (cmp == ">" && v > target) || (cmp == "<" && v < target) => Status::Pass,
        Some(_) => Status::Fail,
    }
}

/// Evaluates every target for one repo.
pub fn evaluate(repo: &str, m: &RepoMetrics) -> Vec<Threshold> {
    let rows: [(&str, &str, &str, f64, Option<f64>); 11] = [
        (
            "velocity",
            "velocity.sessions_per_active_developer_hour",
            ">",
            4.0,
            m.velocity.sessions_per_active_developer_hour,
        ),
        (
            "velocity",
            "velocity.latency_median_ms",
            "<",
            30_000.0,
            m.velocity.latency_median_ms,
        ),
        (
            "acceptance",
            "acceptance.rate",
            ">",
            0.25,
            m.acceptance.rate,
        ),
        (
            "model_selection",
            "model_selection.share",
            ">",
            0.80,
            m.model_selection.share,
        ),
        ("errors", "errors.rate", "<", 0.05, m.errors.rate),
        (
            "token_efficiency",
            "token_efficiency.tokens_per_accepted_line",
            "<",
            50.0,
            m.token_efficiency.tokens_per_accepted_line,
        ),
        (
            "pr_throughput",
            "pr_throughput.mean_per_week",
            ">",
            5.0,
            m.pr_throughput.mean_per_week,
        ),
        (
            "commit_frequency",
            "commit_frequency.per_developer_active_day",
            ">",
            10.0,
            m.commit_frequency.per_developer_active_day,
        ),
        (
            "merge_time",
            "merge_time.median_hours",
            "<",
            24.0,
            m.merge_time.median_hours,
        ),
        ("rework", "rework.rate", "<", 0.22, m.rework.rate),
        (
            "cost",
            "cost.per_merged_pr_usd",
            "<",
            0.50,
            m.cost.per_merged_pr_usd,
        ),
    ];
    rows.iter()
        .map(|&(indicator, metric, cmp, target, value)| Threshold {
            repo: repo.to_string(),
            indicator: indicator.to_string(),
            metric: metric.to_string(),
            comparison: cmp.to_string(),
            target,
            value,
            status: judge(value, cmp, target),
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
