//! One repo's section: key figures, the daily AI-versus-delivery chart (series chosen with CSS
//! radio tabs, no script), cost per day and per model, latency per day and its histogram,
//! merge-time distribution, weekly PR throughput, and the per-developer and daily tables.

use std::fmt::Write;

use super::bars::{Bar, BarChart};
use super::escape::{esc, id_part};
use super::sections::{head_cell, num_cell, text_cell, usd};
use super::svg::{color, Line, Panel, TimeChart};
use crate::metrics::breakdown::DailyPoint;
use crate::metrics::RepoMetrics;
use crate::render::human;

/// The AI series of the daily chart: (key, tab label, y-axis title).
pub const AI_SERIES: [(&str, &str, &str); 4] = [
    ("requests", "Requests", "calls / day"),
    ("sessions", "Sessions", "sessions / day"),
    ("tokens", "Tokens", "tokens / day"),
    ("cost_usd", "Cost", "USD / day"),
];

/// Display order of the merge-time buckets.
pub const MERGE_BUCKETS: [&str; 6] = ["<1h", "1-4h", "4-24h", "1-3d", "3-7d", ">7d"];

fn ai_value(p: &DailyPoint, key: &str) -> f64 {
    match key {
        "requests" => p.requests as f64,
        "sessions" => p.sessions as f64,
        "tokens" => p.tokens as f64,
        _ => p.cost_usd,
    }
}

fn figure(inner: &str, caption: &str) -> String {
    if caption.is_empty() {
        format!("<figure>{inner}</figure>")
    } else {
        format!("<figure>{inner}<figcaption>{caption}</figcaption></figure>")
    }
}

fn kpis(m: &RepoMetrics) -> String {
    let v = &m.velocity;
    let items: [(&str, String, &str); 14] = [
        ("AI calls", human(Some(v.requests as f64)), "requests"),
        ("Developers", human(Some(v.developers as f64)), "developers"),
        ("Sessions", human(Some(v.sessions as f64)), "sessions"),
        ("Tokens", human(Some(v.tokens as f64)), "tokens"),
        ("Known cost", usd(Some(m.cost.total_usd)), "cost"),
        (
            "Calls without cost",
            human(m.cost.unknown_share),
            "unknown-cost-share",
        ),
        ("Error rate", human(m.errors.rate), "error-rate"),
        (
            "Acceptance rate",
            human(m.acceptance.rate),
            "acceptance-rate",
        ),
        (
            "Latency p50 (ms)",
            human(v.latency_median_ms),
            "latency-p50",
        ),
        ("Latency p95 (ms)", human(v.latency_p95_ms), "latency-p95"),
        (
            "Commits",
            human(Some(m.commit_frequency.commits as f64)),
            "commits",
        ),
        (
            "Merged PRs",
            human(Some(m.pr_throughput.merged as f64)),
            "merged-prs",
        ),
        (
            "Reopened, never merged",
            human(Some(m.rework.reopened_unmerged as f64)),
            "reopened-unmerged",
        ),
        (
            "All tokens per accepted line",
            human(m.token_efficiency.total_tokens_per_accepted_line),
            "total-tokens-per-line",
        ),
    ];
    let mut s = String::from(r#"<dl class="kpis">"#);
    for (name, value, key) in items {
        let _ = write!(
            s,
            r#"<div><dt>{name}</dt><dd data-testid="kpi-{key}">{value}</dd></div>"#
        );
    }
    s.push_str("</dl>");
    s
}

fn daily_tabs(repo: &str, rid: &str, daily: &[DailyPoint]) -> String {
    let days: Vec<String> = daily.iter().map(|p| p.date.clone()).collect();
    let mut s = format!(
        r#"<div class="tabs" data-testid="daily-{rid}"><span class="tabs-label">AI series:</span>"#
    );
    for (i, (key, tab, _)) in AI_SERIES.iter().enumerate() {
        let _ = write!(
            s,
            r#"<input type="radio" class="tab t-{key}" name="ai-{rid}" id="ai-{rid}-{key}" value="{key}"{}><label for="ai-{rid}-{key}" data-testid="tab-{rid}-{key}">{tab}</label>"#,
            if i == 0 { " checked" } else { "" }
        );
    }
    for (key, tab, unit) in AI_SERIES {
        let chart = TimeChart {
            id: format!("daily-{rid}-{key}"),
            title: format!("{repo}: AI {} per day vs commits and merged PRs", tab.to_lowercase()),
            desc: format!(
                "Top: AI {key} per day; bottom: commits and merged pull requests per day, {} to {}.",
                days.first().map_or("", String::as_str),
                days.last().map_or("", String::as_str)
            ),
            days: days.clone(),
            panels: vec![
                Panel {
                    y_label: unit.into(),
                    lines: vec![Line {
                        name: format!("AI {}", tab.to_lowercase()),
                        values: daily.iter().map(|p| Some(ai_value(p, key))).collect(),
                        color: color::BLUE,
                        dashed: false,
                    }],
                },
                Panel {
                    y_label: "count / day".into(),
                    lines: vec![
                        Line {
                            name: "commits".into(),
                            values: daily.iter().map(|p| Some(p.commits as f64)).collect(),
                            color: color::ORANGE,
                            dashed: false,
                        },
                        Line {
                            name: "merged PRs".into(),
                            values: daily.iter().map(|p| Some(p.merged_prs as f64)).collect(),
                            color: color::GREEN,
                            dashed: true,
                        },
                    ],
                },
            ],
            width: 1160.0,
        };
        let _ = write!(
            s,
            r#"<div class="tab-panel p-{key}" data-series="{key}">{}</div>"#,
            chart.svg()
        );
    }
    s.push_str("</div>");
    s
}

fn cost_charts(repo: &str, rid: &str, m: &RepoMetrics) -> String {
    let days: Vec<String> = m.daily.iter().map(|p| p.date.clone()).collect();
    let per_day = TimeChart {
        id: format!("cost-day-{rid}"),
        title: format!("{repo}: known cost per day"),
        desc: "Known cost of the day's calls in US dollars.".into(),
        days,
        panels: vec![Panel {
            y_label: "USD / day".into(),
            lines: vec![Line {
                name: "cost (USD)".into(),
                values: m.daily.iter().map(|p| Some(p.cost_usd)).collect(),
                color: color::PURPLE,
                dashed: false,
            }],
        }],
        width: 600.0,
    };
    let mut models: Vec<(&String, &f64)> = m.cost.per_model.iter().collect();
    models.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
    let per_model = BarChart {
        id: format!("cost-model-{rid}"),
        title: format!("{repo}: known cost per model"),
        desc: "Known cost per model in US dollars over the window, largest first.".into(),
        value_label: "USD".into(),
        category_label: "model".into(),
        bars: models
            .iter()
            .map(|(name, v)| Bar {
                label: (*name).clone(),
                value: **v,
                text: usd(Some(**v)),
                color: color::PURPLE,
                whisker: None,
            })
            .collect(),
        domain: None,
        legend: vec![],
        horizontal: true,
        show_values: true,
        size: (600.0, 76.0 + 28.0 * models.len().max(1) as f64),
    };
    format!(
        r#"<h3>Cost</h3><div class="grid2">{}{}</div>"#,
        figure(&per_day.svg(), ""),
        figure(
            &per_model.svg(),
            &format!(
                "Total {} · per merged PR {} · calls without a known cost: {} ({} of calls; counted as $0).",
                usd(Some(m.cost.total_usd)),
                usd(m.cost.per_merged_pr_usd),
                m.cost.unknown_calls,
                human(m.cost.unknown_share)
            )
        )
    )
}

fn latency_charts(repo: &str, rid: &str, m: &RepoMetrics) -> String {
    let v = &m.velocity;
    let per_day = TimeChart {
        id: format!("latency-day-{rid}"),
        title: format!("{repo}: call latency per day (p50 and p95)"),
        desc: "Median and 95th percentile latency of each day's calls in milliseconds.".into(),
        days: m.daily.iter().map(|p| p.date.clone()).collect(),
        panels: vec![Panel {
            y_label: "ms".into(),
            lines: vec![
                Line {
                    name: "p50".into(),
                    values: m.daily.iter().map(|p| p.latency_p50_ms).collect(),
                    color: color::BLUE,
                    dashed: false,
                },
                Line {
                    name: "p95".into(),
                    values: m.daily.iter().map(|p| p.latency_p95_ms).collect(),
                    color: color::VERMILLION,
                    dashed: true,
                },
            ],
        }],
        width: 600.0,
    };
    let hist = BarChart {
        id: format!("latency-hist-{rid}"),
        title: format!("{repo}: latency distribution"),
        desc: "Calls with a reported latency per latency bucket.".into(),
        value_label: "calls".into(),
        category_label: "latency".into(),
        bars: v
            .latency_distribution
            .iter()
            .map(|b| Bar::count(b.label.as_str(), b.count, color::BLUE))
            .collect(),
        domain: None,
        legend: vec![],
        horizontal: false,
        show_values: true,
        size: (600.0, 280.0),
    };
    format!(
        r#"<h3>Latency</h3><div class="grid2">{}{}</div>"#,
        figure(&per_day.svg(), ""),
        figure(
            &hist.svg(),
            &format!(
                "Over the window: p50 {} ms · p95 {} ms · {} calls with a latency · time to first token p50 {} ms ({} calls).",
                human(v.latency_median_ms),
                human(v.latency_p95_ms),
                v.latency_n,
                human(v.ttft_median_ms),
                v.ttft_n
            )
        )
    )
}

fn delivery_charts(repo: &str, rid: &str, m: &RepoMetrics) -> String {
    let mt = &m.merge_time;
    let mut buckets: Vec<(&str, u64)> = MERGE_BUCKETS
        .iter()
        .filter_map(|b| mt.distribution.get(*b).map(|n| (*b, *n)))
        .collect();
    buckets.extend(
        mt.distribution
            .iter()
            .filter(|(k, _)| !MERGE_BUCKETS.contains(&k.as_str()))
            .map(|(k, n)| (k.as_str(), *n)),
    );
    let merge = BarChart {
        id: format!("merge-time-{rid}"),
        title: format!("{repo}: time from PR creation to merge"),
        desc: "Pull requests merged in the window per creation-to-merge time bucket.".into(),
        value_label: "merged PRs".into(),
        category_label: "creation → merge".into(),
        bars: buckets
            .iter()
            .map(|&(k, n)| Bar::count(k, n, color::GREEN))
            .collect(),
        domain: None,
        legend: vec![],
        horizontal: false,
        show_values: true,
        size: (600.0, 280.0),
    };
    let pt = &m.pr_throughput;
    let weekly = BarChart {
        id: format!("throughput-{rid}"),
        title: format!("{repo}: merged PRs per ISO week"),
        desc: "Pull requests merged per ISO week (Monday to Sunday).".into(),
        value_label: "merged PRs".into(),
        category_label: "ISO week".into(),
        bars: pt
            .per_week
            .iter()
            .map(|(k, &n)| Bar::count(k.as_str(), n, color::ORANGE))
            .collect(),
        domain: None,
        legend: vec![],
        horizontal: false,
        show_values: true,
        size: (600.0, 280.0),
    };
    format!(
        r#"<h3>Delivery</h3><div class="grid2">{}{}</div>"#,
        figure(
            &merge.svg(),
            &format!(
                "{} merged PRs · median {} h · p75 {} h · p90 {} h · mean {} h.",
                mt.n,
                human(mt.median_hours),
                human(mt.p75_hours),
                human(mt.p90_hours),
                human(mt.mean_hours)
            )
        ),
        figure(
            &weekly.svg(),
            &format!(
                "{} merged PRs · mean {} per week · median {} per week{}.",
                pt.merged,
                human(pt.mean_per_week),
                human(pt.median_per_week),
                if pt.partial_weeks {
                    " · the first or last week is partial"
                } else {
                    ""
                }
            )
        )
    )
}

fn team_table(rid: &str, m: &RepoMetrics) -> String {
    if m.teams.is_empty() {
        return String::new();
    }
    let mut s = format!(
        r#"<h3>Teams</h3><div class="scroll"><table class="data sortable" id="teams-{rid}" data-testid="teams-{rid}"><caption>Per team (a teams file, else the team id on the calls; see Privacy for folded teams)</caption><thead><tr>"#
    );
    s.push_str(&head_cell("Team", false));
    for h in [
        "Developers",
        "Calls",
        "Sessions",
        "Tokens",
        "Cost (USD)",
        "Acceptance rate",
        "Commits",
        "Merged PRs",
    ] {
        s.push_str(&head_cell(h, true));
    }
    s.push_str("</tr></thead><tbody>");
    for t in &m.teams {
        let _ = write!(
            s,
            r#"<tr data-team="{}">{}{}{}{}{}{}{}{}{}</tr>"#,
            esc(&t.team),
            text_cell(&t.team),
            num_cell(Some(t.developers as f64)),
            num_cell(Some(t.totals.requests as f64)),
            num_cell(Some(t.totals.sessions as f64)),
            num_cell(Some(t.totals.tokens as f64)),
            num_cell(Some(t.totals.cost_usd)),
            num_cell(t.totals.acceptance_rate),
            num_cell(Some(t.totals.commits as f64)),
            num_cell(Some(t.totals.merged_prs as f64)),
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

fn developer_table(rid: &str, m: &RepoMetrics, shown: bool) -> String {
    if !shown {
        return format!(
            r#"<h3>Developers</h3><p class="note" data-testid="developers-hidden-{rid}">The per-developer table is hidden: each line would describe one person, below the minimum group size (see Privacy).</p>"#
        );
    }
    let mut s = format!(
        r#"<h3>Developers</h3><div class="scroll"><table class="data sortable" id="developers-{rid}" data-testid="developers-{rid}"><caption>Per developer (click a column header to sort)</caption><thead><tr>"#
    );
    s.push_str(&head_cell("Developer", false));
    for h in [
        "Calls",
        "Sessions",
        "Tokens",
        "Cost (USD)",
        "Acceptance rate",
        "Calls with signal",
        "Commits",
        "Merged PRs",
    ] {
        s.push_str(&head_cell(h, true));
    }
    s.push_str("</tr></thead><tbody>");
    for d in &m.developers {
        let _ = write!(
            s,
            r#"<tr data-developer="{}">{}{}{}{}{}{}{}{}{}</tr>"#,
            esc(&d.developer),
            text_cell(&d.developer),
            num_cell(Some(d.requests as f64)),
            num_cell(Some(d.sessions as f64)),
            num_cell(Some(d.tokens as f64)),
            num_cell(Some(d.cost_usd)),
            num_cell(d.acceptance_rate),
            num_cell(Some(d.acceptance_n as f64)),
            num_cell(Some(d.commits as f64)),
            num_cell(Some(d.merged_prs as f64)),
        );
    }
    if m.developers.is_empty() {
        s.push_str(r#"<tr><td colspan="9">No developer data in the window.</td></tr>"#);
    }
    s.push_str("</tbody></table></div>");
    s
}

fn daily_table(rid: &str, daily: &[DailyPoint]) -> String {
    let mut s = format!(
        r#"<details class="daily-data"><summary>Daily numbers</summary><div class="scroll"><table class="data sortable" id="daily-table-{rid}" data-testid="daily-table-{rid}"><thead><tr>"#
    );
    s.push_str(&head_cell("Day", false));
    for h in [
        "Calls",
        "Sessions",
        "Tokens",
        "Cost (USD)",
        "Errors",
        "Latency p50 (ms)",
        "Latency p95 (ms)",
        "Commits",
        "Merged PRs",
        "Median merge (h)",
    ] {
        s.push_str(&head_cell(h, true));
    }
    s.push_str("</tr></thead><tbody>");
    for p in daily {
        let _ = write!(
            s,
            "<tr>{}{}{}{}{}{}{}{}{}{}{}</tr>",
            text_cell(&p.date),
            num_cell(Some(p.requests as f64)),
            num_cell(Some(p.sessions as f64)),
            num_cell(Some(p.tokens as f64)),
            num_cell(Some(p.cost_usd)),
            num_cell(Some(p.errors as f64)),
            num_cell(p.latency_p50_ms),
            num_cell(p.latency_p95_ms),
            num_cell(Some(p.commits as f64)),
            num_cell(Some(p.merged_prs as f64)),
            num_cell(p.median_merge_hours),
        );
    }
    s.push_str("</tbody></table></div></details>");
    s
}

/// The whole section of one repo.
pub fn section(repo: &str, m: &RepoMetrics, developers_shown: bool) -> String {
    let rid = id_part(repo);
    let mut s = format!(
        r#"<section class="repo" id="repo-{rid}" data-testid="repo-{rid}" data-repo="{}"><h2>{}</h2>"#,
        esc(repo),
        esc(repo)
    );
    s.push_str(&kpis(m));
    let _ = write!(
        s,
        r#"<h3>AI use and delivery per day</h3><p class="note">Choose the AI series; commits are counted by author date, merged PRs by merge day. Total cost {} over {} days.</p>"#,
        usd(Some(m.cost.total_usd)),
        m.daily.len()
    );
    s.push_str(&figure(&daily_tabs(repo, &rid, &m.daily), ""));
    s.push_str(&cost_charts(repo, &rid, m));
    s.push_str(&latency_charts(repo, &rid, m));
    s.push_str(&delivery_charts(repo, &rid, m));
    s.push_str(&team_table(&rid, m));
    s.push_str(&developer_table(&rid, m, developers_shown));
    s.push_str(&daily_table(&rid, &m.daily));
    s.push_str("</section>\n");
    s
}
