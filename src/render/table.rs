//! Terminal output: readable in 100 columns, pass/fail marks, colour only when asked
//! (the caller decides: a TTY and no `NO_COLOR`).

use std::fmt::Write;

use super::{human, label, mark, notable, Renderer};
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
                "─".repeat(96usize.saturating_sub(repo.len()))
            );
            let _ = writeln!(
                s,
                "{:<34} {:>14} {:>12}  {}",
                "Indicator", "Value", "Target", "Status"
            );
            for t in r.thresholds.iter().filter(|t| &t.repo == repo) {
                let _ = writeln!(
                    s,
                    "{:<34} {:>14} {:>12}  {}",
                    cut(label(&t.metric), 34),
                    human(t.value),
                    format!("{} {}", t.comparison, human(Some(t.target))),
                    self.status(t.status)
                );
            }
            let v = &x.velocity;
            let _ = writeln!(
                s,
                "AI calls {} · developers {} · sessions {} · tokens {} · p95 latency {} ms · TTFT median {} ms",
                v.requests, v.developers, v.sessions, v.tokens,
                human(v.latency_p95_ms), human(v.ttft_median_ms)
            );
            let _ = writeln!(
                s,
                "Acceptance n {} (no signal {}) · diff ratio mean {} (≥0.7: {}) · errors {} of {}",
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
                "Merged PRs {} · merge h p75 {} p90 {} mean {} · commits {} on {} days · reverted {} reopened {}",
                x.pr_throughput.merged, human(mt.p75_hours), human(mt.p90_hours),
                human(mt.mean_hours), x.commit_frequency.commits, x.commit_frequency.active_days,
                x.rework.reverted, x.rework.reopened
            );
            let _ = writeln!(
                s,
                "Cost ${} total · unknown-cost calls {}",
                human(Some(x.cost.total_usd)),
                x.cost.unknown_calls
            );
        }
        let mc = &r.multiple_comparison;
        let _ = writeln!(
            s,
            "\nAI → outcome associations: {} tests, BH over m = {} (q = {}), {} significant",
            r.associations.len(),
            mc.m,
            mc.q,
            mc.significant
        );
        let sig = notable(r);
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
                human(a.adjusted_p.pearson),
                human(a.spearman.r),
                human(a.adjusted_p.spearman)
            );
        }
        if let Some(seed) = &r.ai_outcome_association {
            let _ = writeln!(
                s,
                "Requests vs commits at lag {} ({}): Pearson r {} (p {}), Spearman {} (p {}), n {}",
                seed.lag_days,
                seed.repo,
                human(seed.pearson.r),
                human(seed.pearson.p_value),
                human(seed.spearman.r),
                human(seed.spearman.p_value),
                seed.pearson.count
            );
        }
        if !r.warnings.is_empty() {
            let _ = writeln!(s, "\nWarnings:");
            for w in &r.warnings {
                let _ = writeln!(s, "  ! {w}");
            }
        }
        let _ = writeln!(
            s,
            "\nDefinitions: --format json (`definitions`) or the README's Report section."
        );
        Ok(s)
    }
}
