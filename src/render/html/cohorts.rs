//! The AI-assisted vs other merged PRs section: one row per repo and outcome with both groups,
//! the test, adjusted p, effect sizes and the within-developer comparison.

use std::fmt::Write;

use super::escape::esc;
use crate::metrics::Report;
use crate::render::{human, human_p};

/// The whole section (empty when the report has no comparison).
pub fn section(r: &Report) -> String {
    if r.cohorts.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        r#"<section id="cohorts" data-testid="cohorts"><h2>AI-assisted vs other merged PRs</h2><p class="note">A PR is AI-assisted when calls were made on its branch or its merge commit carries an AI co-author trailer (prod-lens prs lists each PR's evidence). Continuous outcomes: Mann–Whitney U, Hodges–Lehmann shift (AI-assisted − other) with its 95 % CI, Cliff's delta, ratio of medians with a bootstrap 95 % CI. Rework: Fisher's exact test, difference of rates with a Newcombe 95 % CI. Within developer: only developers with both kinds of PR (van Elteren weights, permutation p). Every p is in one Benjamini–Hochberg family.</p><div class="scroll"><table class="data" data-testid="cohorts-table"><thead><tr><th>Repo</th><th>Outcome</th><th>AI-assisted</th><th>Other</th><th>p</th><th>adj. p</th><th>Effect</th><th>Within developer</th><th>Flags</th></tr></thead><tbody>"#,
    );
    for c in &r.cohorts {
        let group = |g: &crate::metrics::cohorts::Group| match c.outcome.as_str() {
            "rework" => format!("{} (n {})", human(g.rate), g.n),
            _ => format!("median {} (n {})", human(g.median), g.n),
        };
        let effect = match (
            &c.effect.hodges_lehmann,
            &c.effect.median_ratio,
            &c.effect.rates,
        ) {
            (Some(h), Some(m), _) => format!(
                "shift {} [{}, {}]; ratio {} [{}, {}]; δ {}",
                human(h.shift),
                human(h.ci_low),
                human(h.ci_high),
                human(m.ratio),
                human(m.ci_low),
                human(m.ci_high),
                human(c.effect.cliffs_delta.as_ref().and_then(|d| d.delta))
            ),
            (_, _, Some(x)) => format!(
                "difference {} [{}, {}]",
                human(x.difference),
                human(x.ci_low),
                human(x.ci_high)
            ),
            _ => String::new(),
        };
        let within = c
            .within_developer
            .as_ref()
            .map(|w| format!("{} developers, p {}", w.strata, human_p(w.permutation_p)))
            .unwrap_or_default();
        let mut flags = Vec::new();
        if c.significant {
            flags.push("significant");
        }
        if c.low_sample {
            flags.push("low sample");
        }
        let _ = write!(
            s,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if c.significant { r#" class="sig""# } else { "" },
            esc(&c.repo),
            esc(&c.outcome),
            esc(&group(&c.assisted)),
            esc(&group(&c.other)),
            esc(&human_p(c.p_value)),
            esc(&human_p(c.adjusted_p)),
            esc(&effect),
            esc(&within),
            esc(&flags.join(", "))
        );
    }
    s.push_str("</tbody></table></div>");
    for a in &r.assisted_cost {
        let _ = write!(s, "<p>{}</p>", esc(&crate::render::assisted_cost_line(a)));
    }
    s.push_str("</section>");
    s
}
