//! Terminal output: readable in 100 columns, pass/fail marks, colour only when asked
//! (the caller decides: a TTY and no `NO_COLOR`).

use std::fmt::Write;

use super::{headline, human, human_p, label, mark, notable, Renderer};

/// Most association rows the table lists.
const MAX_ROWS: usize = 12;
use crate::error::Result;
use crate::metrics::thresholds::Status;
use crate::metrics::Report;

/// Plain-text tables.
pub struct TableRenderer {
    /// Use ANSI colours for pass/fail.
    pub color: bool,
}

fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Splits `text` into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let cur = lines.last_mut().map_or(0, |l| l.chars().count());
        if cur > 0 && cur + 1 + word.chars().count() > width {
            lines.push(String::new());
        }
        if let Some(l) = lines.last_mut() {
            if !l.is_empty() {
                l.push(' ');
            }
            l.push_str(word);
        }
    }
    lines
}

impl TableRenderer {
    fn status(&self, s: Status) -> String {
        let text = mark(s);
        if !self.color {
            return text.to_string();
        }
        let code = match s {
            Status::Pass => "32",
            Status::Fail => "31",
            Status::NoData => "2",
            Status::InsufficientData => "33",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

impl Renderer for TableRenderer {
    fn render(&self, r: &Report) -> Result<String> {
        let m = &r.metadata;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "ProdLens report · {} → {} ({}) · lags 0..{} · {}",
            m.since,
            m.until,
            m.timezone,
            m.max_lag,
            if m.business_days {
                "business days"
            } else {
                "calendar days"
            }
        );
        let _ = writeln!(
            s,
            "generated {} by prod-lens {} · {} mode",
            m.generated_at, m.tool_version, m.mode
        );
        for (repo, x) in &r.metrics {
            let _ = writeln!(
                s,
                "\n── {repo} {}",
                "─".repeat(95usize.saturating_sub(repo.chars().count()))
            );
            let _ = writeln!(
                s,
                "{:<34} {:>14} {:>12} {:>7}  Status",
                "Indicator", "Value", "Target", "n"
            );
            for t in r.thresholds.iter().filter(|t| &t.repo == repo) {
                let _ = writeln!(
                    s,
                    "{:<34} {:>14} {:>12} {:>7}  {}",
                    cut(label(&t.metric), 34),
                    human(t.value),
                    format!("{} {}", t.comparison, human(Some(t.target))),
                    t.n,
                    self.status(t.status)
                );
            }
            if !x.teams.is_empty() {
                let _ = writeln!(s, "Teams:");
                for t in &x.teams {
                    for (i, l) in wrap(&super::team_line(t), 94).iter().enumerate() {
                        let _ = writeln!(s, "  {}{l}", if i == 0 { "" } else { "    " });
                    }
                }
            }
            let v = &x.velocity;
            let _ = writeln!(
                s,
                "AI calls {} · developers {} · sessions {} · tokens {}",
                v.requests, v.developers, v.sessions, v.tokens
            );
            let _ = writeln!(
                s,
                "Latency p95 {} ms · TTFT median {} ms (n {}) · requests per active dev-hour {}",
                human(v.latency_p95_ms),
                human(v.ttft_median_ms),
                v.ttft_n,
                human(v.requests_per_active_developer_hour)
            );
            let _ = writeln!(
                s,
                "Acceptance n {} (no signal {}) · diff ratio mean {} (≥ 0.7: {}) · errors {}/{}",
                x.acceptance.n,
                x.acceptance.no_signal,
                human(x.acceptance_quality.mean_diff_ratio),
                human(x.acceptance_quality.share_at_least_0_7),
                x.errors.errors,
                x.errors.n
            );
            let mt = &x.merge_time;
            let _ = writeln!(
                s,
                "Merged PRs {} · merge hours p75 {} p90 {} mean {} · reverted {} · reopened {}",
                x.pr_throughput.merged,
                human(mt.p75_hours),
                human(mt.p90_hours),
                human(mt.mean_hours),
                x.rework.reverted,
                x.rework.reopened
            );
            let te = &x.token_efficiency;
            let _ = writeln!(
                s,
                "Reopened, never merged {} · accepted lines {} in {} calls · all tokens per line {}",
                x.rework.reopened_unmerged,
                te.accepted_lines,
                te.line_calls,
                human(te.total_tokens_per_accepted_line)
            );
            let _ = writeln!(
                s,
                "Commits {} on {} active days · {} per active day",
                x.commit_frequency.commits,
                x.commit_frequency.active_days,
                human(x.commit_frequency.per_active_day)
            );
            let _ = writeln!(
                s,
                "Cost ${} total · unknown-cost calls {}",
                human(Some(x.cost.total_usd)),
                x.cost.unknown_calls
            );
        }
        let mc = &r.multiple_comparison;
        let _ = writeln!(s);
        for line in headline(r) {
            for (i, l) in wrap(&line, 98).iter().enumerate() {
                let _ = writeln!(s, "{}{l}", if i == 0 { "" } else { "    " });
            }
        }
        let _ = writeln!(
            s,
            "\nExploratory AI → outcome associations ({} rows, partial r; raw r in --format json/csv):",
            r.associations.len()
        );
        for l in wrap(&mc.summary(), 98) {
            let _ = writeln!(s, "  {l}");
        }
        let mut sig = notable(r);
        let shown = sig.len().min(MAX_ROWS);
        let hidden = sig.len() - shown;
        sig.truncate(shown);
        if !sig.is_empty() {
            let _ = writeln!(
                s,
                "{:<16} {:<9} {:<18} {:>3} {:>4} {:>8} {:>9} {:>8} {:>9}",
                "repo", "AI", "outcome", "lag", "n", "r", "adj p", "rho", "adj p"
            );
        }
        for a in sig {
            let _ = writeln!(
                s,
                "{:<16} {:<9} {:<18} {:>3} {:>4} {:>8} {:>9} {:>8} {:>9}",
                cut(&a.repo, 16),
                a.ai_series,
                a.outcome_series,
                a.lag,
                a.n,
                human(a.pearson.r),
                human_p(a.adjusted_p.pearson),
                human(a.spearman.r),
                human_p(a.adjusted_p.spearman)
            );
        }
        if hidden > 0 {
            let _ = writeln!(
                s,
                "… and {hidden} more significant (strongest shown); every test is in --format json/csv"
            );
        }
        if !r.cohorts.is_empty() {
            let _ = writeln!(s, "\nAI-assisted vs other merged PRs (branch or trailer evidence; prod-lens prs lists them):");
            for c in &r.cohorts {
                for (i, l) in wrap(&super::cohort_line(c), 96).iter().enumerate() {
                    let _ = writeln!(s, "{}{l}", if i == 0 { "  " } else { "      " });
                }
            }
            for a in &r.assisted_cost {
                let _ = writeln!(s, "  {}", super::assisted_cost_line(a));
            }
        }
        let privacy = super::privacy_lines(&r.privacy);
        if !privacy.is_empty() {
            let _ = writeln!(s, "\nPrivacy:");
            for p in &privacy {
                for (i, line) in wrap(p, 94).iter().enumerate() {
                    let _ = writeln!(s, "  {} {line}", if i == 0 { "-" } else { " " });
                }
            }
        }
        if !r.warnings.is_empty() {
            let _ = writeln!(s, "\nWarnings:");
            for w in &r.warnings {
                for (i, line) in wrap(w, 94).iter().enumerate() {
                    let _ = writeln!(s, "  {} {line}", if i == 0 { "!" } else { " " });
                }
            }
        }
        let _ = writeln!(
            s,
            "\nDefinitions: --format json (`definitions`) or the README's Report section."
        );
        Ok(s)
    }
}
