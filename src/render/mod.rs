//! Report renderers: one trait, one module per format (JSON, CSV, table, Markdown, HTML).

pub mod csv;
pub mod html;
pub mod json;
pub mod markdown;
pub mod table;

use crate::error::Result;
use crate::metrics::thresholds::Status;
use crate::metrics::Report;

/// Turns a [`Report`] into text in one format.
pub trait Renderer {
    /// Renders the whole report.
    fn render(&self, report: &Report) -> Result<String>;
}

/// One team's line for text formats.
pub fn team_line(t: &crate::privacy::teams::TeamSummary) -> String {
    let mut s = format!(
        "{}: {} developers · {} calls · {} sessions · {} tokens · ${} · acceptance {} (n {}) · {} commits · {} merged PRs",
        t.team,
        t.developers,
        t.totals.requests,
        t.totals.sessions,
        t.totals.tokens,
        human(Some(t.totals.cost_usd)),
        human(t.totals.acceptance_rate),
        t.totals.acceptance_n,
        t.totals.commits,
        t.totals.merged_prs
    );
    if !t.folded_teams.is_empty() {
        s += &format!(" (folded: {})", t.folded_teams.join(", "));
    }
    s
}

/// The privacy section's lines for text formats (empty when nothing is hidden or renamed).
pub fn privacy_lines(p: &crate::privacy::PrivacyNote) -> Vec<String> {
    if !p.pseudonymized && p.min_group_size <= 1 && p.suppressed.is_empty() {
        return Vec::new();
    }
    let mut out = vec![format!(
        "developers shown as {}; minimum group size {}; per-developer tables {}",
        if p.pseudonymized {
            "pseudonyms (dev-…)"
        } else {
            "stored ids"
        },
        p.min_group_size,
        if p.developers_shown {
            "shown"
        } else {
            "hidden"
        }
    )];
    out.extend(p.suppressed.iter().cloned());
    out
}

/// Formats an optional number for people: `–` for no data, at most 4 decimals.
pub fn human(v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) if x.abs() >= 100.0 => format!("{x:.1}"),
        Some(x) => {
            let s = format!("{x:.4}");
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        }
    }
}

/// Formats a p-value: scientific notation below 0.0001, so small p never reads as 0.
pub fn human_p(v: Option<f64>) -> String {
    match v {
        Some(p) if p > 0.0 && p < 1e-4 => format!("{p:.1e}"),
        other => human(other),
    }
}

/// The mark of a threshold status.
pub fn mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "✓ pass",
        Status::Fail => "✗ fail",
        Status::NoData => "· no data",
        Status::InsufficientData => "~ insufficient data",
    }
}

/// Short labels of the thresholded metrics.
pub fn label(metric: &str) -> &str {
    match metric {
        "velocity.sessions_per_active_developer_hour" => "Sessions per active dev-hour",
        "velocity.latency_median_ms" => "Median latency (ms)",
        "acceptance.rate" => "Acceptance rate",
        "model_selection.share" => "Model selection accuracy",
        "errors.rate" => "Error rate",
        "token_efficiency.tokens_per_accepted_line" => "Tokens per accepted line",
        "pr_throughput.mean_per_week" => "Merged PRs per week (mean)",
        "commit_frequency.per_developer_active_day" => "Commits per dev active day",
        "merge_time.median_hours" => "PR merge time, median (h)",
        "rework.rate" => "Rework rate",
        "cost.per_merged_pr_usd" => "AI spend per merged PR (USD)",
        other => other,
    }
}

/// The headline lines: the adjustment, then each repo's primary question with its figures.
pub fn headline(report: &Report) -> Vec<String> {
    use crate::metrics::association::Inference;
    let a = &report.adjustment;
    let mut out = vec![match a.method {
        crate::stats::adjusted::Adjust::Calendar => format!(
            "Primary question (stated before looking; day-of-week and trend removed, log scale{}{}):",
            if a.holidays.is_empty() {
                String::new()
            } else {
                format!(", {} holidays dropped", a.holidays.len())
            },
            if a.business_days { ", business days" } else { "" }
        ),
        crate::stats::adjusted::Adjust::None => {
            "Primary question (NOT adjusted for the calendar: --adjust none; exploratory):".into()
        }
    }];
    for p in &report.primary {
        let figures = match p.inference {
            Inference::Tested => format!(
                "r {} [95 % CI {} to {}], p {}, adjusted p {}, n {}, detectable |r| ≥ {}{}",
                human(p.r),
                human(p.ci_low),
                human(p.ci_high),
                human_p(p.p_value),
                human_p(p.adjusted_p),
                p.n,
                human(p.detectable_r),
                if p.significant { " · significant" } else { "" }
            ),
            Inference::Insufficient => format!("insufficient data: n {} paired days", p.n),
        };
        out.push(format!("{} {}: {figures}", p.repo, p.question));
        out.push(format!("  {}", p.statement));
    }
    out
}

/// One line per AI-assisted vs other comparison: groups, p, adjusted p, effect, within developer.
pub fn cohort_line(c: &crate::metrics::cohorts::Cohort) -> String {
    let groups = match c.outcome.as_str() {
        "rework" => format!(
            "rate {} (n {}) vs {} (n {})",
            human(c.assisted.rate),
            c.assisted.n,
            human(c.other.rate),
            c.other.n
        ),
        _ => format!(
            "median {} (n {}) vs {} (n {})",
            human(c.assisted.median),
            c.assisted.n,
            human(c.other.median),
            c.other.n
        ),
    };
    let effect = match (&c.effect.hodges_lehmann, &c.effect.rates) {
        (Some(h), _) if h.shift.is_some() => format!(
            "; shift {} [95 % CI {} to {}], Cliff's delta {}",
            human(h.shift),
            human(h.ci_low),
            human(h.ci_high),
            human(c.effect.cliffs_delta.as_ref().and_then(|d| d.delta))
        ),
        (_, Some(r)) if r.difference.is_some() => format!(
            "; difference {} [95 % CI {} to {}]",
            human(r.difference),
            human(r.ci_low),
            human(r.ci_high)
        ),
        _ => String::new(),
    };
    let within = c
        .within_developer
        .as_ref()
        .map(|w| {
            format!(
                "; within developer ({} developers with both kinds): p {}",
                w.strata,
                human_p(w.permutation_p)
            )
        })
        .unwrap_or_default();
    format!(
        "{} {}: AI-assisted {groups}; p {}, adjusted p {}{}{effect}{within}{}",
        c.repo,
        c.outcome,
        human_p(c.p_value),
        human_p(c.adjusted_p),
        if c.significant { " · significant" } else { "" },
        if c.low_sample {
            " · low sample (< 5 PRs in a group)"
        } else {
            ""
        }
    )
}

/// One line of cost per AI-assisted merged PR.
pub fn assisted_cost_line(a: &crate::prs::AssistedCost) -> String {
    format!(
        "{}: cost per AI-assisted merged PR ${} ({} PRs, {} of them with calls on their branch; known cost of those calls)",
        a.repo,
        human(a.per_ai_assisted_merged_pr_usd),
        a.assisted_merged,
        a.with_branch_evidence
    )
}

/// The associations worth a line in human formats: significant after BH, strongest first.
pub fn notable(report: &Report) -> Vec<&crate::metrics::association::Association> {
    let mut v: Vec<_> = report
        .associations
        .iter()
        .filter(|a| a.significant.pearson || a.significant.spearman)
        .collect();
    let key = |a: &crate::metrics::association::Association| {
        a.adjusted_p
            .pearson
            .unwrap_or(1.0)
            .min(a.adjusted_p.spearman.unwrap_or(1.0))
    };
    v.sort_by(|a, b| key(a).total_cmp(&key(b)));
    v
}
