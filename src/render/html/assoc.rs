//! The AI → outcome association section: the Benjamini–Hochberg summary, the full table
//! (sortable) and one small chart of Pearson r by lag per (repo, AI series, outcome) pair.

use std::fmt::Write;

use super::bars::{Bar, BarChart};
use super::escape::{esc, id_part};
use super::sections::{head_cell, num_cell, num_cell_text, text_cell};
use super::svg::color;
use crate::metrics::association::Association;
use crate::metrics::Report;
use crate::render::{human, human_p};

fn flags(a: &Association) -> String {
    let mut f = Vec::new();
    match (a.significant.pearson, a.significant.spearman) {
        (true, true) => f.push("significant r, ρ".to_string()),
        (true, false) => f.push("significant r".to_string()),
        (false, true) => f.push("significant ρ".to_string()),
        (false, false) => {}
    }
    if a.role == crate::metrics::association::Role::Primary {
        f.push("primary question".to_string());
    }
    if a.low_sample {
        f.push("low sample (< 20 pairs), not tested".to_string());
    }
    if let Some(raw) = a.raw.pearson_r {
        f.push(format!("raw r {} (exploratory)", human(Some(raw))));
    }
    if let Some(reason) = a.pearson.reason.as_ref().or(a.spearman.reason.as_ref()) {
        f.push(reason.clone());
    }
    f.join(", ")
}

fn table(r: &Report) -> String {
    let mut s = String::from(
        r#"<div class="scroll tall"><table class="data sortable assoc" id="associations-table" data-testid="associations-table"><caption>Every tested pair and lag (click a column header to sort)</caption><thead><tr>"#,
    );
    for (h, numeric) in [
        ("Repo", false),
        ("AI series", false),
        ("Outcome", false),
        ("Lag (days)", true),
        ("n", true),
        ("Pearson r", true),
        ("95 % CI of r", false),
        ("p (r)", true),
        ("BH adj. p (r)", true),
        ("Spearman ρ", true),
        ("p (ρ)", true),
        ("BH adj. p (ρ)", true),
        ("Flags", false),
    ] {
        s.push_str(&head_cell(h, numeric));
    }
    s.push_str("</tr></thead><tbody>");
    for a in &r.associations {
        let sig = a.significant.pearson || a.significant.spearman;
        let _ = write!(
            s,
            r#"<tr class="{}" data-key="{}|{}|{}|{}">{}{}{}{}{}{}<td class="ci">[{}, {}]</td>{}{}{}{}{}<td class="flags">{}</td></tr>"#,
            if sig {
                "sig"
            } else if a.low_sample {
                "low"
            } else {
                ""
            },
            esc(&a.repo),
            esc(&a.ai_series),
            esc(&a.outcome_series),
            a.lag,
            text_cell(&a.repo),
            text_cell(&a.ai_series),
            text_cell(&a.outcome_series),
            num_cell(Some(a.lag as f64)),
            num_cell(Some(a.n as f64)),
            num_cell(a.pearson.r),
            human(a.pearson.ci_low),
            human(a.pearson.ci_high),
            num_cell_text(a.pearson.p_value, &human_p(a.pearson.p_value)),
            num_cell_text(a.adjusted_p.pearson, &human_p(a.adjusted_p.pearson)),
            num_cell(a.spearman.r),
            num_cell_text(a.spearman.p_value, &human_p(a.spearman.p_value)),
            num_cell_text(a.adjusted_p.spearman, &human_p(a.adjusted_p.spearman)),
            esc(&flags(a)),
        );
    }
    if r.associations.is_empty() {
        s.push_str(
            r#"<tr><td colspan="13">No associations: no repo data in the window.</td></tr>"#,
        );
    }
    s.push_str("</tbody></table></div>");
    s
}

/// Groups associations by (repo, AI series, outcome), keeping the report's order.
fn pairs(r: &Report) -> Vec<Vec<&Association>> {
    let mut out: Vec<Vec<&Association>> = Vec::new();
    for a in &r.associations {
        match out.iter_mut().find(|g| {
            g.first().is_some_and(|b| {
                b.repo == a.repo
                    && b.ai_series == a.ai_series
                    && b.outcome_series == a.outcome_series
            })
        }) {
            Some(g) => g.push(a),
            None => out.push(vec![a]),
        }
    }
    for g in &mut out {
        g.sort_by_key(|a| a.lag);
    }
    out
}

fn lag_chart(group: &[&Association]) -> String {
    let Some(first) = group.first() else {
        return String::new();
    };
    let bars = group
        .iter()
        .map(|a| Bar {
            label: a.lag.to_string(),
            value: a.pearson.r.unwrap_or(0.0),
            text: human(a.pearson.r),
            color: if a.significant.pearson {
                color::BLUE
            } else if a.low_sample {
                color::SKY
            } else {
                color::GREY
            },
            whisker: a.pearson.ci_low.zip(a.pearson.ci_high),
        })
        .collect();
    BarChart {
        id: format!(
            "lag-{}-{}-{}",
            id_part(&first.repo),
            id_part(&first.ai_series),
            id_part(&first.outcome_series)
        ),
        title: format!("{} → {}", first.ai_series, first.outcome_series),
        desc: format!(
            "{}: Pearson r between daily {} and {} by lag in days, with 95 % confidence intervals; blue bars are significant after Benjamini–Hochberg.",
            first.repo, first.ai_series, first.outcome_series
        ),
        value_label: "Pearson r".into(),
        category_label: "lag (days)".into(),
        bars,
        domain: Some((-1.0, 1.0)),
        legend: vec![],
        horizontal: false,
        show_values: true,
        size: (300.0, 210.0),
    }
    .svg()
}

/// The headline: the primary question of each repo, its figures and one plain sentence.
pub fn primary_block(r: &Report) -> String {
    let mut s =
        String::from(r#"<section id="primary" data-testid="primary"><h2>Primary question</h2>"#);
    for (i, line) in crate::render::headline(r).iter().enumerate() {
        let _ = write!(
            s,
            "<p{}>{}</p>",
            if i == 0 { r#" class="note""# } else { "" },
            esc(line.trim())
        );
    }
    s.push_str("</section>");
    s
}

/// The whole association section.
pub fn section(r: &Report) -> String {
    let mc = &r.multiple_comparison;
    let mut s = String::from(
        r#"<section id="associations" data-testid="associations"><h2>AI → outcome associations</h2>"#,
    );
    let _ = write!(
        s,
        r#"<p class="note" data-testid="bh-summary">{} associations (partial correlations, calendar removed). {}; {} low-sample and {} undefined left out. Method: {}. Correlation over one window is not causation.</p>"#,
        r.associations.len(),
        esc(&mc.summary()),
        mc.excluded_low_sample,
        mc.excluded_undefined,
        esc(&mc.method)
    );
    s.push_str(&table(r));
    s.push_str(
        r#"<h3>Pearson r by lag</h3><p class="legend-note"><span class="sw sw-sig"></span> significant after BH <span class="sw sw-ns"></span> not significant <span class="sw sw-low"></span> low sample, not tested · whiskers: 95 % CI</p>"#,
    );
    let groups = pairs(r);
    let mut repo: Option<&str> = None;
    for g in &groups {
        let Some(first) = g.first() else { continue };
        if repo != Some(first.repo.as_str()) {
            if repo.is_some() {
                s.push_str("</div>");
            }
            let _ = write!(
                s,
                r#"<h4>{}</h4><div class="lag-grid" data-testid="lag-charts-{}">"#,
                esc(&first.repo),
                id_part(&first.repo)
            );
            repo = Some(first.repo.as_str());
        }
        let _ = write!(s, "<figure>{}</figure>", lag_chart(g));
    }
    if repo.is_some() {
        s.push_str("</div>");
    }
    s.push_str("</section>\n");
    s
}
