//! `GET /prs` and `GET /api/prs`: every PR of the window with its AI evidence, a filter on
//! AI-assisted or not, the merge-time distributions of both groups side by side, and the
//! comparison (the same listing as `prod-lens prs`).

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;

use super::api::json;
use super::error::ApiError;
use super::html::{document, esc, filter_form, head_html, nav, FormOptions, Page};
use super::params::{Filters, QueryPairs, FILTER_KEYS};
use super::state::AppState;
use crate::attribution::{Attribution, Evidence};
use crate::prs::{PrListRow, PrListing, PrsRequest};
use crate::render::{assisted_cost_line, cohort_line};

/// Parameters of the PR pages besides the filters.
pub const PR_KEYS: [&str; 2] = ["assisted", "attribution"];

/// The listing for a query, the window it covers, and the `assisted` filter (applied by the
/// caller to the list only: the comparison and the chart read every PR).
fn listing(
    state: &AppState,
    store: &dyn crate::store::prelude::DashboardStore,
    q: &QueryPairs,
) -> Result<(PrListing, crate::stats::calendar::DayWindow, Option<bool>), ApiError> {
    let f = Filters::parse(q)?;
    let window = AppState::window(store, &f)?;
    let attribution = match q.one("attribution")? {
        None | Some("strict") => Attribution::Strict,
        Some("any") => Attribution::Any,
        Some(v) => {
            return Err(ApiError::bad_parameter(
                "attribution",
                format!("attribution {v:?}: use strict or any"),
            ))
        }
    };
    let assisted = match q.one("assisted")? {
        None | Some("") => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(ApiError::bad_parameter(
                "assisted",
                format!("assisted {v:?}: use true or false"),
            ))
        }
    };
    let (start, end) = window
        .utc_bounds(f.tz)
        .ok_or_else(|| ApiError::bad_parameter("since", "the window is out of range"))?;
    let mut l = crate::prs::build(
        store,
        &PrsRequest {
            repos: f.repos.clone(),
            start,
            end,
            attribution,
            author_window: true,
            ..PrsRequest::default()
        },
        Utc::now(),
    )?;
    state.privacy(store)?.apply_prs(&mut l);
    Ok((l, window, assisted))
}

/// `GET /api/prs`: the listing as JSON (`prs`, `cohorts`, `cohort_comparison`, `assisted_cost`).
pub async fn api(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    q.reject_unknown(&[&FILTER_KEYS, &PR_KEYS])?;
    let (mut l, _, assisted) = state.with_store(move |st, s| listing(st, s, &q)).await?;
    if let Some(a) = assisted {
        l.prs.retain(|p| p.ai_assisted == a);
    }
    json(&l)
}

/// Merge hours of both groups (`prs` merged in the window) as two strips of dots on one
/// log-scaled axis, with the medians.
pub fn merge_time_chart(prs: &[&PrListRow]) -> String {
    let groups: [(&str, Vec<f64>); 2] = [true, false].map(|ai| {
        (
            if ai { "AI-assisted" } else { "other" },
            prs.iter()
                .filter(|p| p.ai_assisted == ai)
                .filter_map(|p| p.merge_hours.filter(|h| h.is_finite() && *h >= 0.0))
                .collect(),
        )
    });
    let max = groups
        .iter()
        .flat_map(|g| g.1.iter().copied())
        .fold(1.0_f64, f64::max);
    let (w, left, row) = (640.0, 110.0, 44.0);
    let x = |h: f64| left + (w - left - 20.0) * (1.0 + h).ln() / (1.0 + max).ln();
    let mut s = format!(
        r#"<svg class="chart" id="merge-time-groups" data-testid="merge-time-groups" viewBox="0 0 {w} {}" role="img" aria-label="Merge hours of AI-assisted and other merged PRs"><title>Merge hours of AI-assisted and other merged PRs (log scale)</title>"#,
        row * 2.0 + 40.0
    );
    for (i, (label, hours)) in groups.iter().enumerate() {
        let y = 24.0 + row * i as f64;
        let color = if i == 0 { "#0072B2" } else { "#E69F00" };
        let _ = write!(
            s,
            r#"<text x="4" y="{}" font-size="12">{label} (n {})</text>"#,
            y + 4.0,
            hours.len()
        );
        for h in hours {
            let _ = write!(
                s,
                r#"<circle class="dot" data-group="{label}" data-value="{h}" cx="{:.1}" cy="{y}" r="3" fill="{color}" fill-opacity="0.55"/>"#,
                x(*h)
            );
        }
        if let Ok(Some(m)) = crate::stats::quantile::percentile(hours, 50.0) {
            let _ = write!(
                s,
                r#"<line class="median" data-group="{label}" data-value="{m}" x1="{:.1}" x2="{:.1}" y1="{}" y2="{}" stroke="{color}" stroke-width="3"/>"#,
                x(m),
                x(m),
                y - 12.0,
                y + 12.0
            );
        }
    }
    let axis_y = row * 2.0 + 20.0;
    for tick in [1.0, 4.0, 24.0, 72.0, 168.0] {
        if tick <= max * 1.2 {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{axis_y}" font-size="11" text-anchor="middle">{tick}h</text>"#,
                x(tick)
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn evidence_text(p: &PrListRow) -> String {
    p.evidence
        .iter()
        .map(|e| match e {
            Evidence::Branch => format!("branch ({} calls)", p.ai_calls),
            Evidence::Trailer => "trailer".to_string(),
            Evidence::AuthorWindow => format!(
                "author window ({} calls)",
                p.details.author_window.map_or(0, |a| a.calls)
            ),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET /prs`.
pub async fn page(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Response {
    let logout = state.auth.is_some();
    match page_html(state, raw).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => super::pages::error_page(&e, logout),
    }
}

async fn page_html(state: Arc<AppState>, raw: Option<String>) -> Result<String, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    q.reject_unknown(&[&FILTER_KEYS, &PR_KEYS])?;
    let f = Filters::parse(&q)?;
    let assisted = q.one("assisted")?.unwrap_or("").to_string();
    let attribution = q.one("attribution")?.unwrap_or("").to_string();
    let (l, window, only, repos, generation) = state
        .with_store(move |st, s| {
            let (l, w, only) = listing(st, s, &q)?;
            Ok((l, w, only, s.report_repos()?, st.changes.generation()))
        })
        .await?;
    let (start, end) = window
        .utc_bounds(f.tz)
        .ok_or_else(|| ApiError::bad_parameter("since", "the window is out of range"))?;
    // The chart compares the PRs merged in the window, like the comparison below it.
    let merged: Vec<&PrListRow> = l
        .prs
        .iter()
        .filter(|p| {
            p.merged_at
                .as_deref()
                .and_then(|m| m.parse::<chrono::DateTime<Utc>>().ok())
                .is_some_and(|m| m >= start && m < end)
        })
        .collect();
    let shown: Vec<&PrListRow> = l
        .prs
        .iter()
        .filter(|p| only.is_none_or(|a| p.ai_assisted == a))
        .collect();
    let mut body = nav(Page::Prs, &f, state.auth.is_some());
    let mut hidden = vec![];
    if !assisted.is_empty() {
        hidden.push(("assisted", assisted.clone()));
    }
    if !attribution.is_empty() {
        hidden.push(("attribution", attribution.clone()));
    }
    body += &filter_form(
        &f,
        &FormOptions {
            action: "/prs",
            repos: &repos,
            developers: &[],
            teams: &[],
            models: &[],
            developer_field: false,
            lag_field: false,
            hidden,
            window: Some(&window),
        },
    );
    body += "<main class=\"pl-main\">\n<h1>Pull requests</h1>\n";
    if f.developer.is_some() || f.model.is_some() {
        body += "<p class=\"note\" data-testid=\"filters-ignored\">This list is not narrowed by developer or model: it shows every PR of the repos and window.</p>\n";
    }
    let mut base = f.to_query(false);
    if !attribution.is_empty() {
        if !base.is_empty() {
            base.push('&');
        }
        base.push_str(&format!(
            "attribution={}",
            form_urlencoded::byte_serialize(attribution.as_bytes()).collect::<String>()
        ));
    }
    let link = |a: &str| {
        let mut qs = base.clone();
        if !a.is_empty() {
            if !qs.is_empty() {
                qs.push('&');
            }
            qs.push_str(&format!("assisted={a}"));
        }
        format!("/prs?{qs}")
    };
    let _ = write!(
        body,
        r#"<p data-testid="assisted-filter">Show: <a href="{}">all</a> · <a href="{}">AI-assisted</a> · <a href="{}">other</a></p>"#,
        esc(&link("")),
        esc(&link("true")),
        esc(&link("false"))
    );
    body += "<h2>Merge time, AI-assisted vs other</h2>\n";
    body += &merge_time_chart(&merged);
    body += "<ul data-testid=\"cohort-lines\">";
    for c in &l.cohorts {
        let _ = write!(body, "<li>{}</li>", esc(&cohort_line(c)));
    }
    for a in &l.assisted_cost {
        let _ = write!(body, "<li>{}</li>", esc(&assisted_cost_line(a)));
    }
    body += "</ul>\n<div class=\"scroll\"><table class=\"data\" data-testid=\"prs-table\"><thead><tr><th>Repo</th><th>PR</th><th>Title</th><th>Author</th><th>Branch</th><th>State</th><th>Merge hours</th><th>AI-assisted</th><th>Evidence</th><th>Calls</th><th>Tokens</th><th>Cost $</th></tr></thead><tbody>";
    for p in &shown {
        let _ = write!(
            body,
            "<tr data-number=\"{}\" data-assisted=\"{}\"><td>{}</td><td>#{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}</td></tr>",
            p.number,
            p.ai_assisted,
            esc(&p.repo),
            p.number,
            esc(&p.title),
            esc(p.author.as_deref().unwrap_or("")),
            esc(p.head_ref.as_deref().unwrap_or("")),
            esc(&p.state),
            p.merge_hours.map_or(String::new(), |h| format!("{h:.1}")),
            if p.ai_assisted { "yes" } else { "no" },
            esc(&evidence_text(p)),
            p.ai_calls,
            p.ai_tokens,
            p.ai_cost_usd
        );
    }
    if shown.is_empty() {
        body += "<tr><td colspan=\"12\">No pull request in the window.</td></tr>";
    }
    body += "</tbody></table></div>\n</main>\n";
    Ok(document(
        "ProdLens: pull requests",
        &head_html(generation),
        &body,
    ))
}
