//! The report-wide sections: header (repos, window, freshness), threshold cards, warnings and
//! definitions; and the table-cell helpers the other sections share.

use std::fmt::Write;

use super::escape::{data_num, esc, id_part};
use crate::metrics::thresholds::Status;
use crate::metrics::Report;
use crate::render::{human, label, mark};

/// A numeric table cell: the value formatted by [`human`], the raw value in `data-sort`.
pub fn num_cell(v: Option<f64>) -> String {
    format!(
        r#"<td class="n" data-sort="{}">{}</td>"#,
        data_num(v),
        human(v)
    )
}

/// A numeric cell whose text is given (e.g. a p-value from `human_p`).
pub fn num_cell_text(v: Option<f64>, text: &str) -> String {
    format!(
        r#"<td class="n" data-sort="{}">{}</td>"#,
        data_num(v),
        esc(text)
    )
}

/// A text table cell (escaped).
pub fn text_cell(s: &str) -> String {
    format!("<td>{}</td>", esc(s))
}

/// A header cell; `numeric` columns sort descending first and align right.
pub fn head_cell(text: &str, numeric: bool) -> String {
    if numeric {
        format!(
            r#"<th scope="col" class="n" data-type="num">{}</th>"#,
            esc(text)
        )
    } else {
        format!(r#"<th scope="col">{}</th>"#, esc(text))
    }
}

/// `$12.3` for a USD amount, `–` for no data.
pub fn usd(v: Option<f64>) -> String {
    match v {
        Some(_) => format!("${}", human(v)),
        None => human(None),
    }
}

fn or_dash(v: Option<&str>) -> String {
    esc(v.unwrap_or("–"))
}

/// The page header: what, which repos, which window, how fresh the data is.
pub fn header(r: &Report) -> String {
    let m = &r.metadata;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<header id="report-header" data-testid="report-header"><h1>ProdLens report</h1><p class="lead"><span data-testid="window">{} → {}</span> · timezone <span data-testid="timezone">{}</span> · {}</p><dl class="facts"><dt>Repos</dt><dd data-testid="repos">{}</dd><dt>Lags</dt><dd>outcome day = AI day + lag; lags 0..{} tested; headline lag {} day(s)</dd>"#,
        esc(&m.since),
        esc(&m.until),
        esc(&m.timezone),
        if m.business_days {
            "business days (weekends dropped from the association series)"
        } else {
            "calendar days"
        },
        if m.repos.is_empty() {
            "none".to_string()
        } else {
            m.repos
                .iter()
                .map(|x| esc(x))
                .collect::<Vec<_>>()
                .join(", ")
        },
        m.max_lag,
        m.lag_days,
    );
    if m.developer.is_some() || m.model.is_some() {
        let _ = write!(
            s,
            r#"<dt>Filters</dt><dd data-testid="filters">developer {} · model {}</dd>"#,
            or_dash(m.developer.as_deref()),
            or_dash(m.model.as_deref())
        );
    }
    let services: Vec<String> = m
        .runtime_profile
        .iter()
        .map(|x| {
            format!(
                "{} :{} {}",
                esc(&x.name),
                x.port,
                if x.answering {
                    "answering"
                } else {
                    "not answering"
                }
            )
        })
        .collect();
    let _ = write!(
        s,
        r#"<dt>Generated</dt><dd>{} by prod-lens {} · {} mode</dd><dt>Local services</dt><dd>{}</dd></dl>"#,
        esc(&m.generated_at),
        esc(&m.tool_version),
        esc(&m.mode),
        if services.is_empty() {
            "not checked".to_string()
        } else {
            services.join(" · ")
        }
    );
    s.push_str(r#"<table class="data freshness" id="freshness" data-testid="freshness"><caption>Data freshness</caption><thead><tr>"#);
    for h in [
        "Repo",
        "Last trace ingest",
        "Newest trace day",
        "Last GitHub sync",
    ] {
        s.push_str(&head_cell(h, false));
    }
    s.push_str("</tr></thead><tbody>");
    for f in &m.freshness {
        let _ = write!(
            s,
            "<tr>{}<td>{}</td><td>{}</td><td>{}</td></tr>",
            text_cell(&f.repo),
            or_dash(f.last_trace_ingest.as_deref()),
            or_dash(f.latest_trace_day.as_deref()),
            or_dash(f.last_github_sync.as_deref())
        );
    }
    s.push_str("</tbody></table></header>\n");
    s
}

/// Pass / fail / no-data / insufficient-data cards of every target, grouped by repo.
pub fn thresholds(r: &Report) -> String {
    let mut s = String::from(
        r#"<section id="thresholds" data-testid="thresholds"><h2>Targets</h2><p class="note">Each card shows the measured value, the target, the sample behind the value (n) and whether it is met; “no data” and “insufficient data” (too small a sample to judge) are neither a pass nor a failure.</p>"#,
    );
    for repo in r.metrics.keys() {
        let _ = write!(
            s,
            r#"<h3>{}</h3><div class="cards" data-testid="thresholds-{}">"#,
            esc(repo),
            id_part(repo)
        );
        for t in r.thresholds.iter().filter(|t| &t.repo == repo) {
            let class = match t.status {
                Status::Pass => "pass",
                Status::Fail => "fail",
                Status::NoData => "nodata",
                Status::InsufficientData => "insufficientdata",
            };
            let _ = write!(
                s,
                r#"<div class="card {class}" data-testid="threshold-{}-{}" data-status="{class}" data-value="{}" title="{}"><div class="card-label">{}</div><div class="card-value">{}</div><div class="card-target">target {} {}</div><div class="card-n" title="{}">n {} (min {})</div><div class="card-status">{}</div></div>"#,
                id_part(repo),
                id_part(&t.metric),
                data_num(t.value),
                esc(&t.metric),
                esc(label(&t.metric)),
                human(t.value),
                esc(&t.comparison),
                human(Some(t.target)),
                esc(&t.rule),
                t.n,
                t.min_n,
                mark(t.status)
            );
        }
        s.push_str("</div>");
    }
    s.push_str("</section>\n");
    s
}

/// The privacy section (pseudonyms, minimum group size, what was suppressed); empty when
/// nothing is hidden or renamed.
pub fn privacy(r: &Report) -> String {
    let lines = crate::render::privacy_lines(&r.privacy);
    if lines.is_empty() {
        return String::new();
    }
    let mut s = String::from(r#"<section id="privacy" data-testid="privacy"><h2>Privacy</h2><ul>"#);
    for l in &lines {
        let _ = write!(s, "<li>{}</li>", esc(l));
    }
    s.push_str(
        "</ul></section>
",
    );
    s
}

/// The warnings list (things the reader must know).
pub fn warnings(r: &Report) -> String {
    let mut s = String::from(r#"<section id="warnings" data-testid="warnings"><h2>Warnings</h2>"#);
    if r.warnings.is_empty() {
        s.push_str("<p>None.</p>");
    } else {
        s.push_str("<ul>");
        for w in &r.warnings {
            let _ = write!(s, "<li>{}</li>", esc(w));
        }
        s.push_str("</ul>");
    }
    s.push_str("</section>\n");
    s
}

/// The definition of every indicator and statistic.
pub fn definitions(r: &Report) -> String {
    let mut s = String::from(
        r#"<section id="definitions" data-testid="definitions"><h2>Definitions</h2><dl class="defs">"#,
    );
    for (k, v) in &r.definitions {
        let _ = write!(
            s,
            r#"<dt id="def-{}">{}</dt><dd>{}</dd>"#,
            id_part(k),
            esc(k),
            esc(v)
        );
    }
    s.push_str("</dl></section>\n");
    s
}
