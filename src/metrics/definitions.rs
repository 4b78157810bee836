//! The exact definition of every indicator, as printed in JSON `definitions` and the README.

use std::collections::BTreeMap;

/// (key, definition) for every indicator and statistic in the report.
pub const DEFINITIONS: [(&str, &str); 17] = [
    ("window", "Days are calendar days in --timezone (default UTC); the window is [since, until], both days included. Traces, commits (author date) and merged PRs (merge time) are bucketed by the local day of their instant. Rows of one repo never enter another repo's numbers."),
    ("velocity", "AI interaction velocity: median and p95 latency in ms over calls that report a latency (numpy linear interpolation); median time to first token over calls that report it; an active developer-hour is a (developer, local clock hour) with >= 1 call; requests per active developer-hour = calls with a developer / active developer-hours; sessions per active developer-hour = distinct (developer, session, local hour) / active developer-hours. Targets: > 4 sessions per active developer-hour, median latency < 30 s."),
    ("acceptance", "Acceptance rate: accepted calls / calls that carry an acceptance signal (n). Calls without a signal are reported as no_signal and are not rejections. Target > 25 %."),
    ("model_selection", "Model selection accuracy: share of calls whose model matches any --policy-model glob (* any run, ? one character). No data without --policy-model. Target > 80 %."),
    ("errors", "Error rate: calls with HTTP status >= 400 or a reported failure / all calls, broken down by status code and error class. Target < 5 %."),
    ("token_efficiency", "Token efficiency: prompt + completion tokens of accepted calls / accepted calls; and tokens of accepted calls that report accepted lines / those accepted lines. Target < 50 tokens per accepted line."),
    ("acceptance_quality", "Acceptance quality: mean diff ratio over calls reporting one, share of diff ratios >= 0.7, n. No target."),
    ("pr_throughput", "PR throughput: PRs merged per ISO week (Monday-Sunday weeks touching the window, weeks without merges count as 0), with mean and median over those weeks. Edge weeks are partial when the window does not start on a Monday or end on a Sunday. Target > 5 merged PRs per week per team (repo)."),
    ("commit_frequency", "Commit frequency: commits (author date) / days with >= 1 commit, overall; per developer: that author's commits / that author's active days; per developer-active-day: commits / sum over authors of their active days. Target > 10 commits per developer-active-day."),
    ("merge_time", "PR merge time: hours from creation to merge of PRs merged in the window: median, p75, p90 (numpy linear interpolation), mean, n, and counts per bucket <1h, 1-4h, 4-24h, 1-3d, 3-7d, >7d. Target median < 24 h."),
    ("rework", "Rework rate: (PRs merged in the window that were reverted within 21 days of merge, by a PR or commit in GitHub's Revert \"...\" form or naming the merge commit with \"This reverts commit <sha>\" + other PRs reopened after a close, the reopen in the window) / PRs merged in the window. GitHub cannot reopen a merged PR, so reopens count closed-unmerged PRs that came back. Target < 22 %."),
    ("cost", "Cost: sum of known call costs in USD (reported by the source, else estimated from the price table), per model, per developer, per local day; cost per merged PR = total / PRs merged in the window (target < $0.50); unknown_share = calls without a known cost / all calls (their cost counts as 0 in the totals and the cost_usd series)."),
    ("associations", "AI -> outcome association: for each AI series (requests = calls per day, sessions = distinct sessions per day, tokens = prompt + completion tokens per day, cost_usd = known cost per day) and each outcome series (commits per day by author date, merged_prs per day by merge time, median_merge_hours = median creation-to-merge hours of PRs merged that day, 0 on days without merges) and each lag k in 0..max-lag: series are calendar-complete (days without activity are 0; --business-days drops Saturdays and Sundays from both, so lags count business days); lag k pairs the AI value of day d with the outcome of day d+k for every d with both inside the window (n = days - k). Pearson r with a two-sided t-test p-value (n - 2 degrees of freedom) and a Fisher-z 95 % CI (needs n > 3); Spearman rho = Pearson r of average ranks (ties share their mean rank) with the same t-test. A constant series gives r = null with a reason. Fewer than 6 pairs: low_sample = true, reported but not tested. Correlation over a window is not causation; trends shared by both series inflate r."),
    ("multiple_comparison", "Benjamini-Hochberg step-up adjustment over the whole family of tests actually run: every Pearson and every Spearman p-value in associations that is not low_sample and is defined (m = family size). Adjusted p of rank i = min over j >= i of p(j) * m / j, capped at 1 (monotone; equals scipy.stats.false_discovery_control(method='bh')). Significant when adjusted p <= q = 0.05."),
    ("daily", "Daily table: every local day of the window (weekends included) with calls, distinct sessions, tokens, known cost, failed calls, p50 and p95 latency of that day's calls, commits by author date, PRs merged that day and their median creation-to-merge hours. Velocity's latency_distribution counts calls with a latency per bucket <1s, 1-2s, 2-5s, 5-10s, 10-30s, 30-60s, >=60s (lower bound included)."),
    ("developers", "Per-developer table: per developer id on traces, calls, distinct sessions, tokens, known cost, acceptance (accepted / calls with a signal), and the commits and merged PRs whose GitHub author (login, else name) equals the developer id ignoring case; GitHub authors without calls get a line of their own. Sorted by calls, most first."),
    ("percentiles", "Percentiles are exact: computed over every row in the window with numpy's linear interpolation. This version keeps no rollups, so every report scans the rows (mode exact) and --exact changes nothing."),
];

/// The definitions as a map (JSON `definitions`).
pub fn definitions() -> BTreeMap<String, String> {
    DEFINITIONS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
