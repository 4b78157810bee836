//! The report pages: `/` (the dashboard) and `/developers/{id}` (a developer's profile), both
//! the HTML report of the filtered data with the server's navigation and filter form on top.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::{Html, IntoResponse, Response};

use super::api::{developer_id, load_profile, profile_keys, Profile};
use super::error::ApiError;
use super::html::{esc, filter_form, head_html, nav, path_segment, FormOptions, Page};
use super::pages::{error_page, sessions_table};
use super::params::{Filters, Paging, QueryPairs, FILTER_KEYS, REPORT_ONLY_KEYS};
use super::state::AppState;
use crate::metrics::Report;
use crate::render::html::{render_document, PageChrome};
use crate::render::human;

/// Developer ids, teams and model names of a report, for the filter form's suggestions.
fn suggestions(report: &Report) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut devs = BTreeSet::new();
    let mut teams = BTreeSet::new();
    let mut models = BTreeSet::new();
    for m in report.metrics.values() {
        devs.extend(m.developers.iter().map(|d| d.developer.clone()));
        teams.extend(
            m.teams
                .iter()
                .filter(|t| t.folded_teams.is_empty() && t.team != crate::privacy::teams::NO_TEAM)
                .map(|t| t.team.clone()),
        );
        models.extend(m.cost.per_model.keys().cloned());
    }
    (
        devs.into_iter().collect(),
        teams.into_iter().collect(),
        models.into_iter().collect(),
    )
}

/// `GET /`: the report of the filters with the filter form.
pub async fn dashboard(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Response {
    let logout = state.auth.is_some();
    match dashboard_html(state, raw).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(&e, logout),
    }
}

async fn dashboard_html(state: Arc<AppState>, raw: Option<String>) -> Result<String, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    q.reject_unknown(&[&FILTER_KEYS, &REPORT_ONLY_KEYS])?;
    let f = Filters::parse(&q)?;
    let f2 = f.clone();
    let (c, repos) = state
        .with_store(move |st, s| Ok((st.report(s, &f2)?, s.report_repos()?)))
        .await?;
    let (developers, teams, models) = suggestions(&c.report);
    let mut top = nav(Page::Dashboard, &f, state.auth.is_some());
    top += &filter_form(
        &f,
        &FormOptions {
            action: "/",
            repos: &repos,
            developers: &developers,
            teams: &teams,
            models: &models,
            developer_field: true,
            lag_field: true,
            hidden: Vec::new(),
            window: Some(&c.window),
        },
    );
    let chrome = PageChrome {
        title: format!(
            "ProdLens dashboard {} → {}",
            c.window.since(),
            c.window.until()
        ),
        head_html: head_html(c.generation),
        top_html: top,
    };
    Ok(render_document(&c.report, &chrome))
}

/// The profile header: totals and the latest sessions.
fn profile_html(p: &Profile, f: &Filters) -> String {
    let t = &p.totals;
    let mut s = format!(
        "<section class=\"pl-main\" id=\"profile\" data-testid=\"profile\">\n<h1>Developer <span data-testid=\"profile-id\">{}</span></h1>\n<div class=\"pl-profile\">\n",
        esc(&p.developer)
    );
    let cards = [
        ("requests", "Requests", t.requests.to_string()),
        ("sessions", "Sessions", t.sessions.to_string()),
        ("tokens", "Tokens", t.tokens.to_string()),
        ("cost", "Cost (USD)", format!("{:.2}", t.cost_usd)),
        (
            "acceptance",
            "Acceptance",
            t.acceptance_rate
                .map_or_else(|| human(None), |r| format!("{:.1} %", r * 100.0)),
        ),
        ("commits", "Commits", t.commits.to_string()),
        ("merged-prs", "Merged PRs", t.merged_prs.to_string()),
    ];
    for (id, label, value) in cards {
        let _ = writeln!(
            s,
            "<div>{label}<b data-testid=\"profile-{id}\">{}</b></div>",
            esc(&value)
        );
    }
    s += "</div>\n";
    let repos: Vec<&str> = p.repos.keys().map(String::as_str).collect();
    if !repos.is_empty() {
        let _ = writeln!(s, "<p>Repos: {}</p>", esc(&repos.join(", ")));
    }
    s += "<h2>Latest sessions</h2>\n";
    s += &sessions_table(
        &p.recent_sessions,
        f,
        Paging {
            page: 1,
            per_page: super::api::PROFILE_SESSIONS,
            sort: Default::default(),
            order: Default::default(),
        },
        false,
    );
    s += "</section>\n";
    s
}

/// `GET /developers/{id}`: the report narrowed to one developer, with their totals and
/// latest sessions on top.
pub async fn developer(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Response {
    let logout = state.auth.is_some();
    match developer_html(state, path, raw).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(&e, logout),
    }
}

async fn developer_html(
    state: Arc<AppState>,
    path: Result<Path<String>, PathRejection>,
    raw: Option<String>,
) -> Result<String, ApiError> {
    let id = developer_id(path)?;
    let q = QueryPairs::parse(raw.as_deref());
    q.reject_unknown(&[&profile_keys()])?;
    let f = Filters::parse(&q)?;
    let (f2, id2) = (f.clone(), id.clone());
    let (p, repos) = state
        .with_store(move |st, s| Ok((load_profile(st, s, &id2, &f2)?, s.report_repos()?)))
        .await?;
    let (_, _, models) = suggestions(&p.report);
    let window = p.window;
    let action = format!("/developers/{}", path_segment(&id));
    let mut top = nav(Page::Developer, &f, state.auth.is_some());
    top += &filter_form(
        &f,
        &FormOptions {
            action: &action,
            repos: &repos,
            developers: &[],
            teams: &[],
            models: &models,
            developer_field: false,
            lag_field: true,
            hidden: Vec::new(),
            window: Some(&window),
        },
    );
    top += &profile_html(&p, &f);
    let chrome = PageChrome {
        title: format!("ProdLens: {id} {} → {}", window.since(), window.until()),
        head_html: head_html(p.generation),
        top_html: top,
    };
    Ok(render_document(&p.report, &chrome))
}
