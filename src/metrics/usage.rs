//! AI-side indicators from trace rows: velocity (1), acceptance (2), model selection (3),
//! errors (4), token efficiency (5), acceptance quality (6) and cost (11).

use std::collections::{BTreeMap, HashSet};

use chrono::Timelike;
use chrono_tz::Tz;
use serde::Serialize;

use super::input::TraceRow;
use super::{glob_match, ratio};
use crate::stats::calendar::local_day;
use crate::stats::quantile::percentile;

/// Indicator 1: AI interaction velocity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Velocity {
    /// Calls in the window.
    pub requests: u64,
    /// Distinct developers.
    pub developers: u64,
    /// Distinct sessions.
    pub sessions: u64,
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// Median latency (ms) over calls with a latency.
    pub latency_median_ms: Option<f64>,
    /// 95th percentile latency (ms).
    pub latency_p95_ms: Option<f64>,
    /// Calls with a latency.
    pub latency_n: u64,
    /// Median time to first token (ms) over calls that report it.
    pub ttft_median_ms: Option<f64>,
    /// Calls reporting a time to first token.
    pub ttft_n: u64,
    /// Distinct (developer, local hour) pairs with ≥ 1 call.
    pub active_developer_hours: u64,
    /// Calls with a developer / active developer-hours.
    pub requests_per_active_developer_hour: Option<f64>,
    /// Distinct (developer, session, local hour) / active developer-hours.
    pub sessions_per_active_developer_hour: Option<f64>,
    /// Calls per latency bucket (see [`super::breakdown::LATENCY_BUCKETS`]).
    pub latency_distribution: Vec<super::breakdown::Bucket>,
}

/// Indicator 2: acceptance rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Acceptance {
    /// Calls with an acceptance signal.
    pub n: u64,
    /// Calls accepted.
    pub accepted: u64,
    /// Calls with no signal (not counted as rejections).
    pub no_signal: u64,
    /// accepted / n.
    pub rate: Option<f64>,
}

/// Indicator 3: model selection accuracy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSelection {
    /// The `--policy-model` globs.
    pub policy: Vec<String>,
    /// Calls whose model matches a glob.
    pub matching: u64,
    /// Calls considered.
    pub n: u64,
    /// matching / n; null without a policy.
    pub share: Option<f64>,
}

/// Indicator 4: error rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Errors {
    /// Failed calls.
    pub errors: u64,
    /// Calls.
    pub n: u64,
    /// errors / n.
    pub rate: Option<f64>,
    /// Failed calls per HTTP status (`unknown` when none reported).
    pub by_status: BTreeMap<String, u64>,
    /// Failed calls per error class (`unknown` when none reported).
    pub by_error_class: BTreeMap<String, u64>,
}

/// Indicator 5: token efficiency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenEfficiency {
    /// Accepted calls.
    pub accepted_requests: u64,
    /// Tokens of accepted calls / accepted calls.
    pub tokens_per_accepted_request: Option<f64>,
    /// Accepted lines over accepted calls that report lines.
    pub accepted_lines: i64,
    /// Tokens of accepted calls reporting lines / their accepted lines.
    pub tokens_per_accepted_line: Option<f64>,
}

/// Indicator 6: acceptance quality.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcceptanceQuality {
    /// Calls with a diff ratio.
    pub n: u64,
    /// Mean diff ratio.
    pub mean_diff_ratio: Option<f64>,
    /// Share of diff ratios ≥ 0.7.
    pub share_at_least_0_7: Option<f64>,
}

/// Indicator 11: cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    /// Sum of known costs (USD).
    pub total_usd: f64,
    /// Known cost per model.
    pub per_model: BTreeMap<String, f64>,
    /// Known cost per developer.
    pub per_developer: BTreeMap<String, f64>,
    /// Known cost per local day (days with calls).
    pub per_day: BTreeMap<String, f64>,
    /// total_usd / merged PRs in the window.
    pub per_merged_pr_usd: Option<f64>,
    /// Calls whose cost is unknown.
    pub unknown_calls: u64,
    /// unknown_calls / calls.
    pub unknown_share: Option<f64>,
}

/// The trace-side indicators of one repo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    /// Indicator 1.
    pub velocity: Velocity,
    /// Indicator 2.
    pub acceptance: Acceptance,
    /// Indicator 3.
    pub model_selection: ModelSelection,
    /// Indicator 4.
    pub errors: Errors,
    /// Indicator 5.
    pub token_efficiency: TokenEfficiency,
    /// Indicator 6.
    pub acceptance_quality: AcceptanceQuality,
    /// Indicator 11.
    pub cost: Cost,
}

fn finite(values: impl Iterator<Item = Option<f64>>) -> Vec<f64> {
    values.flatten().filter(|v| v.is_finite()).collect()
}

fn pct(values: &[f64], q: f64) -> Option<f64> {
    percentile(values, q).ok().flatten()
}

/// Computes the trace-side indicators; `merged_prs` feeds cost per merged PR.
pub fn compute(rows: &[TraceRow], tz: Tz, policy: &[String], merged_prs: u64) -> Usage {
    let n = rows.len() as u64;
    let latencies = finite(rows.iter().map(|r| r.latency_ms));
    let ttfts = finite(rows.iter().map(|r| r.ttft_ms));
    let mut dev_hours = HashSet::new();
    let mut session_hours = HashSet::new();
    let mut developers = HashSet::new();
    let mut sessions = HashSet::new();
    let mut with_dev = 0u64;
    for r in rows {
        if let Some(s) = &r.session {
            sessions.insert(&**s);
        }
        if let Some(d) = &r.developer {
            developers.insert(&**d);
            with_dev += 1;
            let local = r.timestamp.with_timezone(&tz);
            let hour = (local.date_naive(), local.hour());
            dev_hours.insert((&**d, hour));
            if let Some(s) = &r.session {
                session_hours.insert((&**d, &**s, hour));
            }
        }
    }
    let active = dev_hours.len() as u64;
    let mut buckets = [0u64; 7];
    for &l in &latencies {
        buckets[super::breakdown::latency_bucket(l)] += 1;
    }
    let velocity = Velocity {
        requests: n,
        developers: developers.len() as u64,
        sessions: sessions.len() as u64,
        tokens: rows.iter().map(|r| r.tokens).sum(),
        latency_median_ms: pct(&latencies, 50.0),
        latency_p95_ms: pct(&latencies, 95.0),
        latency_n: latencies.len() as u64,
        ttft_median_ms: pct(&ttfts, 50.0),
        ttft_n: ttfts.len() as u64,
        active_developer_hours: active,
        requests_per_active_developer_hour: ratio(with_dev as f64, active as f64),
        sessions_per_active_developer_hour: ratio(session_hours.len() as f64, active as f64),
        latency_distribution: super::breakdown::latency_distribution(&buckets),
    };

    let signal = rows.iter().filter(|r| r.accepted.is_some()).count() as u64;
    let accepted_rows: Vec<&TraceRow> = rows.iter().filter(|r| r.accepted == Some(true)).collect();
    let accepted = accepted_rows.len() as u64;
    let acceptance = Acceptance {
        n: signal,
        accepted,
        no_signal: n - signal,
        rate: ratio(accepted as f64, signal as f64),
    };

    let matching = rows
        .iter()
        .filter(|r| {
            r.model
                .as_deref()
                .is_some_and(|m| policy.iter().any(|g| glob_match(g, m)))
        })
        .count() as u64;
    let model_selection = ModelSelection {
        policy: policy.to_vec(),
        matching,
        n,
        share: if policy.is_empty() {
            None
        } else {
            ratio(matching as f64, n as f64)
        },
    };

    let mut by_status = BTreeMap::new();
    let mut by_error_class = BTreeMap::new();
    let mut errors = 0u64;
    for r in rows.iter().filter(|r| r.is_error) {
        errors += 1;
        let status = r
            .status_code
            .map_or("unknown".to_string(), |s| s.to_string());
        *by_status.entry(status).or_insert(0) += 1;
        let class = r.error_class.clone().unwrap_or_else(|| "unknown".into());
        *by_error_class.entry(class).or_insert(0) += 1;
    }
    let errors = Errors {
        errors,
        n,
        rate: ratio(errors as f64, n as f64),
        by_status,
        by_error_class,
    };

    let accepted_tokens: i64 = accepted_rows.iter().map(|r| r.tokens).sum();
    let with_lines: Vec<&&TraceRow> = accepted_rows
        .iter()
        .filter(|r| r.accepted_lines.is_some_and(|l| l > 0))
        .collect();
    let lines: i64 = with_lines.iter().filter_map(|r| r.accepted_lines).sum();
    let line_tokens: i64 = with_lines.iter().map(|r| r.tokens).sum();
    let token_efficiency = TokenEfficiency {
        accepted_requests: accepted,
        tokens_per_accepted_request: ratio(accepted_tokens as f64, accepted as f64),
        accepted_lines: lines,
        tokens_per_accepted_line: ratio(line_tokens as f64, lines as f64),
    };

    let ratios = finite(rows.iter().map(|r| r.diff_ratio));
    let high = ratios.iter().filter(|&&d| d >= 0.7).count();
    let acceptance_quality = AcceptanceQuality {
        n: ratios.len() as u64,
        mean_diff_ratio: crate::stats::quantile::mean(&ratios),
        share_at_least_0_7: ratio(high as f64, ratios.len() as f64),
    };

    let mut cost = Cost {
        total_usd: 0.0,
        per_model: BTreeMap::new(),
        per_developer: BTreeMap::new(),
        per_day: BTreeMap::new(),
        per_merged_pr_usd: None,
        unknown_calls: 0,
        unknown_share: None,
    };
    for r in rows {
        match r.cost_usd.filter(|c| c.is_finite()) {
            Some(c) => {
                cost.total_usd += c;
                let model = r.model.as_deref().unwrap_or("unknown").to_string();
                *cost.per_model.entry(model).or_insert(0.0) += c;
                let dev = r.developer.as_deref().unwrap_or("unknown").to_string();
                *cost.per_developer.entry(dev).or_insert(0.0) += c;
                let day = local_day(r.timestamp, tz).to_string();
                *cost.per_day.entry(day).or_insert(0.0) += c;
            }
            None => cost.unknown_calls += 1,
        }
    }
    cost.per_merged_pr_usd = ratio(cost.total_usd, merged_prs as f64);
    cost.unknown_share = ratio(cost.unknown_calls as f64, n as f64);

    Usage {
        velocity,
        acceptance,
        model_selection,
        errors,
        token_efficiency,
        acceptance_quality,
        cost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn row(ts: &str, dev: &str, session: &str) -> TraceRow {
        TraceRow {
            timestamp: at(ts),
            developer: Some(dev.into()),
            session: Some(session.into()),
            model: Some("claude-3-opus".into()),
            tokens: 100,
            ..TraceRow::default()
        }
    }

    #[test]
    fn velocity_counts_developer_hours_and_sessions() {
        let rows = vec![
            row("2025-10-01T09:05:00Z", "a", "s1"),
            row("2025-10-01T09:55:00Z", "a", "s2"),
            row("2025-10-01T10:05:00Z", "a", "s2"),
            row("2025-10-01T09:10:00Z", "b", "s3"),
        ];
        let u = compute(&rows, chrono_tz::UTC, &[], 0);
        assert_eq!(u.velocity.active_developer_hours, 3);
        assert_eq!(
            u.velocity.requests_per_active_developer_hour,
            Some(4.0 / 3.0)
        );
        // (a,s1,9) (a,s2,9) (a,s2,10) (b,s3,9)
        assert_eq!(
            u.velocity.sessions_per_active_developer_hour,
            Some(4.0 / 3.0)
        );
        assert_eq!(u.velocity.sessions, 3);
        assert_eq!(u.model_selection.share, None);
    }

    #[test]
    fn acceptance_without_signal_is_not_zero() {
        let mut rows = vec![row("2025-10-01T09:05:00Z", "a", "s1"); 4];
        rows[0].accepted = Some(true);
        rows[0].accepted_lines = Some(10);
        rows[1].accepted = Some(false);
        rows[2].cost_usd = Some(0.5);
        let u = compute(&rows, chrono_tz::UTC, &["claude-3-*".into()], 2);
        assert_eq!(u.acceptance.n, 2);
        assert_eq!(u.acceptance.rate, Some(0.5));
        assert_eq!(u.acceptance.no_signal, 2);
        assert_eq!(u.token_efficiency.tokens_per_accepted_line, Some(10.0));
        assert_eq!(u.model_selection.share, Some(1.0));
        assert_eq!(u.cost.per_merged_pr_usd, Some(0.25));
        assert_eq!(u.cost.unknown_share, Some(0.75));
        let none = compute(&[], chrono_tz::UTC, &[], 0);
        assert_eq!(none.acceptance.rate, None);
        assert_eq!(none.errors.rate, None);
    }

    #[test]
    fn errors_break_down_by_status_and_class() {
        let mut rows = vec![row("2025-10-01T09:05:00Z", "a", "s1"); 4];
        rows[0].is_error = true;
        rows[0].status_code = Some(429);
        rows[0].error_class = Some("RateLimitError".into());
        rows[1].is_error = true;
        let u = compute(&rows, chrono_tz::UTC, &[], 0);
        assert_eq!(u.errors.rate, Some(0.5));
        assert_eq!(u.errors.by_status.get("429"), Some(&1));
        assert_eq!(u.errors.by_status.get("unknown"), Some(&1));
        assert_eq!(u.errors.by_error_class.get("RateLimitError"), Some(&1));
    }
}
