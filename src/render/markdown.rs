//! Markdown output, ready to paste in a PR or wiki.

use std::fmt::Write;

use super::{headline, human, human_p, label, mark, notable, Renderer};
use crate::error::Result;
use crate::metrics::Report;

/// GitHub-flavoured Markdown.
pub struct MarkdownRenderer;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl Renderer for MarkdownRenderer {
    fn render(&self, r: &Report) -> Result<String> {
        let m = &r.metadata;
        let mut s = String::new();
        let _ = writeln!(s, "# ProdLens report: {} → {}\n", m.since, m.until);
        let _ =
            writeln!(
            s,
            "Repos: {} · timezone {} · {} · lags 0..{} · {} mode · generated {} by prod-lens {}\n",
            m.repos.join(", "),
            m.timezone,
            if m.business_days { "business days" } else { "calendar days" },
            m.max_lag,
            m.mode,
            m.generated_at,
            m.tool_version
        );
        for (repo, x) in &r.metrics {
            let _ = writeln!(s, "## {repo}\n");
            let _ = writeln!(s, "| Indicator | Value | Target | n | min n | Status |");
            let _ = writeln!(s, "|---|---:|---:|---:|---:|---|");
            for t in r.thresholds.iter().filter(|t| &t.repo == repo) {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} {} | {} | {} | {} |",
                    label(&t.metric),
                    human(t.value),
                    t.comparison,
                    human(Some(t.target)),
                    t.n,
                    t.min_n,
                    mark(t.status)
                );
            }
            let _ = writeln!(
                s,
                "\nAI calls {} · developers {} · merged PRs {} · commits {} · total cost ${}\n",
                x.velocity.requests,
                x.velocity.developers,
                x.pr_throughput.merged,
                x.commit_frequency.commits,
                human(Some(x.cost.total_usd))
            );
            if !x.teams.is_empty() {
                let _ = writeln!(s, "Teams:\n");
                for t in &x.teams {
                    let _ = writeln!(s, "- {}", cell(&super::team_line(t)));
                }
                s.push('\n');
            }
            let (rw, te) = (&x.rework, &x.token_efficiency);
            let _ = writeln!(
                s,
                "Rework: {} reverted and {} reopened before merge of {} merged PRs; {} reopened PRs never merged (not in the rate) · output tokens per accepted line {} (all tokens {}) over {} calls with accepted lines\n",
                rw.reverted,
                rw.reopened,
                rw.merged,
                rw.reopened_unmerged,
                human(te.tokens_per_accepted_line),
                human(te.total_tokens_per_accepted_line),
                te.line_calls
            );
        }
        let mc = &r.multiple_comparison;
        let _ = writeln!(s, "## Primary question\n");
        for line in headline(r) {
            let _ = writeln!(s, "{}\n", cell(line.trim()));
        }
        let _ = writeln!(s, "## AI → outcome associations (exploratory)\n");
        let _ = writeln!(
            s,
            "{} associations, partial correlations with the calendar removed (raw figures in JSON/CSV). {}.\n",
            r.associations.len(),
            mc.summary()
        );
        let sig = notable(r);
        if !sig.is_empty() {
            let _ = writeln!(
                s,
                "| Repo | AI series | Outcome | Lag | n | Pearson r | 95 % CI | adj. p | Spearman ρ | adj. p |"
            );
            let _ = writeln!(s, "|---|---|---|---:|---:|---:|---|---:|---:|---:|");
            for a in sig {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | [{}, {}] | {} | {} | {} |",
                    cell(&a.repo),
                    a.ai_series,
                    a.outcome_series,
                    a.lag,
                    a.n,
                    human(a.pearson.r),
                    human(a.pearson.ci_low),
                    human(a.pearson.ci_high),
                    human_p(a.adjusted_p.pearson),
                    human(a.spearman.r),
                    human_p(a.adjusted_p.spearman)
                );
            }
            s.push('\n');
        }
        if !r.cohorts.is_empty() {
            let _ = writeln!(s, "## AI-assisted vs other merged PRs\n");
            for c in &r.cohorts {
                let _ = writeln!(s, "- {}", cell(&super::cohort_line(c)));
            }
            for a in &r.assisted_cost {
                let _ = writeln!(s, "- {}", cell(&super::assisted_cost_line(a)));
            }
            s.push('\n');
        }
        let privacy = super::privacy_lines(&r.privacy);
        if !privacy.is_empty() {
            let _ = writeln!(s, "## Privacy\n");
            for p in &privacy {
                let _ = writeln!(s, "- {}", cell(p));
            }
            s.push('\n');
        }
        if !r.warnings.is_empty() {
            let _ = writeln!(s, "## Warnings\n");
            for w in &r.warnings {
                let _ = writeln!(s, "- {}", cell(w));
            }
            s.push('\n');
        }
        let _ = writeln!(s, "<details><summary>Definitions</summary>\n");
        for (k, v) in &r.definitions {
            let _ = writeln!(s, "- **{k}**: {}", cell(v));
        }
        let _ = writeln!(s, "\n</details>");
        Ok(s)
    }
}
