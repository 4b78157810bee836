//! AI-side indicators from trace rows: velocity (1), acceptance (2), model selection (3),
//! errors (4), token efficiency (5), acceptance quality (6) and cost (11).

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use serde::Serialize;

use super::aggregate::TraceAggregate;
use super::distribution::percentiles;
use super::{glob_match, ratio};

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
    /// Accepted calls reporting more than 0 accepted lines (the n of the per-line figures).
    pub line_calls: u64,
    /// Accepted lines over accepted calls that report lines.
    pub accepted_lines: i64,
    /// Completion (output) tokens of accepted calls reporting lines / their accepted lines.
    pub tokens_per_accepted_line: Option<f64>,
    /// Prompt plus completion tokens of those calls / their accepted lines.
    pub total_tokens_per_accepted_line: Option<f64>,
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

/// Adds `v` to `key`'s sum (the first value as it is, so each key's sum is the same sequence
/// of additions as a running total).
fn add_to<K: std::hash::Hash + Eq>(map: &mut HashMap<K, f64>, key: K, v: f64) {
    map.entry(key).and_modify(|sum| *sum += v).or_insert(v);
}

/// The sums keyed by name, in name order.
fn by_name<K: ToString>(sums: HashMap<K, f64>) -> BTreeMap<String, f64> {
    sums.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Computes the trace-side indicators from the aggregate; `merged_prs` feeds cost per merged PR.
pub fn compute(agg: &TraceAggregate, policy: &[String], merged_prs: u64) -> Usage {
    compute_as(agg, policy, merged_prs, |d| d)
}

/// [`compute`] with every developer id counted as `person(id)` (e.g. the GitHub login it is
/// linked to), so that per-developer counts count people, not ids.
pub fn compute_as<'a>(
    agg: &'a TraceAggregate,
    policy: &[String],
    merged_prs: u64,
    person: impl Fn(&'a str) -> &'a str,
) -> Usage {
    let t = agg.totals();
    let mut developers = HashSet::new();
    let mut dev_hours = HashSet::new();
    let mut with_dev = 0i64;
    let mut matching = 0i64;
    let mut model_match: HashMap<Option<&str>, bool> = HashMap::new();
    let mut cost = Cost {
        total_usd: 0.0,
        per_model: BTreeMap::new(),
        per_developer: BTreeMap::new(),
        per_day: BTreeMap::new(),
        per_merged_pr_usd: None,
        unknown_calls: count(t.cost_unknown),
        unknown_share: None,
    };
    // Summed under borrowed keys; named once at the end.
    let (mut per_model, mut per_developer, mut per_day) =
        (HashMap::new(), HashMap::new(), HashMap::new());
    for c in agg.cells.iter().filter(|c| c.counts.requests > 0) {
        let model = c.model.as_deref();
        let developer = c.developer.as_deref().map(&person);
        if let Some(d) = developer {
            developers.insert(d);
            with_dev += c.counts.requests;
            dev_hours.insert((d, c.slot));
        }
        let matches = *model_match
            .entry(model)
            .or_insert_with(|| model.is_some_and(|m| policy.iter().any(|g| glob_match(g, m))));
        if matches {
            matching += c.counts.requests;
        }
        if c.counts.known_cost_calls() > 0 {
            let v = c.counts.cost_usd;
            cost.total_usd += v;
            add_to(&mut per_model, model.unwrap_or("unknown"), v);
            add_to(&mut per_developer, developer.unwrap_or("unknown"), v);
            add_to(&mut per_day, c.slot.day, v);
        }
    }
    cost.per_model = by_name(per_model);
    cost.per_developer = by_name(per_developer);
    cost.per_day = by_name(per_day);
    // Distinct (person, session, local hour): two ids of one person may share a session. The
    // entries are sorted by (hour, session), so each (hour, session) is one run of entries and
    // its distinct people are counted within the run (almost always one).
    let mut session_hours = 0usize;
    let mut people: Vec<&str> = Vec::new();
    let mut run = None;
    for s in &agg.sessions {
        let Some(d) = s.developer.as_deref() else {
            continue;
        };
        if run != Some((s.slot, s.session)) {
            session_hours += people.len();
            people.clear();
            run = Some((s.slot, s.session));
        }
        let p = person(d);
        if !people.contains(&p) {
            people.push(p);
        }
    }
    let session_hours = session_hours + people.len();
    let active = dev_hours.len() as u64;
    let mut buckets = [0u64; 7];
    for (b, &v) in buckets.iter_mut().zip(&t.latency_buckets) {
        *b = count(v);
    }
    let lat = percentiles(agg.latency_by_day.values(), &[50.0, 95.0]);
    let ttft = percentiles([&agg.ttft], &[50.0]);
    let n = count(t.requests);
    let velocity = Velocity {
        requests: n,
        developers: developers.len() as u64,
        sessions: agg.distinct_sessions as u64,
        tokens: t.tokens,
        latency_median_ms: lat[0],
        latency_p95_ms: lat[1],
        latency_n: count(t.latency_n()),
        ttft_median_ms: ttft[0],
        ttft_n: count(t.ttft_n),
        active_developer_hours: active,
        requests_per_active_developer_hour: ratio(with_dev as f64, active as f64),
        sessions_per_active_developer_hour: ratio(session_hours as f64, active as f64),
        latency_distribution: super::breakdown::latency_distribution(&buckets),
    };

    let (signal, accepted) = (count(t.signal), count(t.accepted));
    let acceptance = Acceptance {
        n: signal,
        accepted,
        no_signal: n.saturating_sub(signal),
        rate: ratio(accepted as f64, signal as f64),
    };

    let matching = count(matching);
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
    for e in &agg.errors {
        let status = e.status.map_or("unknown".to_string(), |s| s.to_string());
        *by_status.entry(status).or_insert(0) += e.count;
        let class = e.class.as_deref().unwrap_or("unknown").to_string();
        *by_error_class.entry(class).or_insert(0) += e.count;
    }
    let errors = count(t.errors);
    let errors = Errors {
        errors,
        n,
        rate: ratio(errors as f64, n as f64),
        by_status,
        by_error_class,
    };

    let token_efficiency = TokenEfficiency {
        accepted_requests: accepted,
        tokens_per_accepted_request: ratio(t.accepted_tokens as f64, accepted as f64),
        line_calls: count(t.line_calls),
        accepted_lines: t.accepted_lines,
        tokens_per_accepted_line: ratio(t.line_output_tokens as f64, t.accepted_lines as f64),
        total_tokens_per_accepted_line: ratio(t.line_tokens as f64, t.accepted_lines as f64),
    };

    let diff_n = count(t.diff_n);
    let acceptance_quality = AcceptanceQuality {
        n: diff_n,
        mean_diff_ratio: ratio(t.diff_sum, diff_n as f64),
        share_at_least_0_7: ratio(t.diff_high as f64, diff_n as f64),
    };

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

/// A count as reported (counters are signed only to carry corrections).
pub(crate) fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::input::TraceRow;
    use chrono::{DateTime, Utc};

    fn compute(rows: &[TraceRow], tz: chrono_tz::Tz, policy: &[String], merged: u64) -> Usage {
        super::compute(&TraceAggregate::from_rows(rows, tz), policy, merged)
    }

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
            output_tokens: 30,
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
        assert_eq!(u.token_efficiency.line_calls, 1);
        assert_eq!(u.token_efficiency.tokens_per_accepted_line, Some(3.0));
        assert_eq!(
            u.token_efficiency.total_tokens_per_accepted_line,
            Some(10.0)
        );
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
