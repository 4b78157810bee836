//! The JSON API under `/api`: status, report, daily series, sessions, developer profiles.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;
use super::params::{Filters, Paging, QueryPairs, FILTER_KEYS, PAGE_KEYS, REPORT_ONLY_KEYS};
use super::state::AppState;
use crate::metrics::breakdown::{DailyPoint, DeveloperSummary};
use crate::metrics::Report;
use crate::stats::calendar::DayWindow;
use crate::store::prelude::DashboardStore;
use crate::store::sessions::{SessionPage, SessionQuery, SessionRow, SessionSort, SortOrder};

/// Sessions listed on a developer's profile.
pub const PROFILE_SESSIONS: u32 = 20;

/// Serialises `v` as the JSON answer.
pub fn json<T: Serialize>(v: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(v).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `GET /api/status?runs=N`: what `prod-lens status --json` prints.
pub async fn status(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    q.reject_unknown(&[&["runs"]])?;
    let runs = match q.one("runs")? {
        None => super::state::DEFAULT_STATUS_RUNS,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_parameter(
                    "runs",
                    "runs: use an integer from 1 to 1000",
                ))
            }
        },
    };
    let status = state.with_store(move |st, s| st.status(s, runs)).await?;
    json(&*status)
}

/// `GET /api/report`: the report JSON of `prod-lens report --format json` for the filters.
pub async fn report(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    q.reject_unknown(&[&FILTER_KEYS, &REPORT_ONLY_KEYS])?;
    let f = Filters::parse(&q)?;
    let c = state.with_store(move |st, s| st.report(s, &f)).await?;
    json(&*c.report)
}

/// The daily series of every repo of a report.
#[derive(Debug, Serialize)]
pub struct Daily {
    /// First day.
    pub since: String,
    /// Last day.
    pub until: String,
    /// Timezone of the days.
    pub timezone: String,
    /// Developer filter.
    pub developer: Option<String>,
    /// Model filter.
    pub model: Option<String>,
    /// Days per repo.
    pub repos: BTreeMap<String, Vec<DailyPoint>>,
}

/// `GET /api/daily`: the report's `daily` table per repo.
pub async fn daily(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    q.reject_unknown(&[&FILTER_KEYS, &["exact"]])?;
    let f = Filters::parse(&q)?;
    let c = state.with_store(move |st, s| st.report(s, &f)).await?;
    let m = &c.report.metadata;
    json(&Daily {
        since: m.since.clone(),
        until: m.until.clone(),
        timezone: m.timezone.clone(),
        developer: m.developer.clone(),
        model: m.model.clone(),
        repos: c
            .report
            .metrics
            .iter()
            .map(|(repo, rm)| (repo.clone(), rm.daily.clone()))
            .collect(),
    })
}

/// The sessions query for filters over `window`.
pub fn session_query(
    f: &Filters,
    window: &DayWindow,
    paging: Paging,
) -> Result<SessionQuery, ApiError> {
    let (start, end) = window.utc_bounds(f.tz).ok_or_else(|| {
        ApiError::bad_parameter("since", "the window lies outside the supported date range")
    })?;
    Ok(SessionQuery {
        repos: f.repos.clone(),
        start_us: Some(start.timestamp_micros()),
        end_us: Some(end.timestamp_micros()),
        developer: f.developer.clone(),
        model: f.model.clone(),
        sort: paging.sort,
        order: paging.order,
        page: paging.page,
        per_page: paging.per_page,
    })
}

/// One page of sessions with the window it covers.
pub fn sessions_in(
    st: &AppState,
    store: &dyn DashboardStore,
    f: &Filters,
    paging: Paging,
) -> Result<(Arc<SessionPage>, DayWindow), ApiError> {
    let window = AppState::window(store, f)?;
    let page = st.sessions_page(store, &session_query(f, &window, paging)?)?;
    Ok((page, window))
}

/// `GET /api/sessions`: `{total, page, per_page, items}`.
pub async fn sessions(
    State(state): State<Arc<AppState>>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    q.reject_unknown(&[&FILTER_KEYS, &PAGE_KEYS])?;
    let f = Filters::parse(&q)?;
    let paging = Paging::parse(&q)?;
    let (page, _) = state
        .with_store(move |st, s| sessions_in(st, s, &f, paging))
        .await?;
    json(&*page)
}

/// A developer's numbers summed over repos.
pub use crate::metrics::breakdown::Totals;

/// A developer's part of one repo.
#[derive(Debug, Clone, Serialize)]
pub struct RepoPart {
    /// Their line of the repo's per-developer table.
    pub summary: DeveloperSummary,
    /// Their known cost per model.
    pub cost_per_model: BTreeMap<String, f64>,
    /// Their daily series.
    pub daily: Vec<DailyPoint>,
}

/// `GET /api/developers/{id}`.
#[derive(Debug, Serialize)]
pub struct Profile {
    /// The developer id asked for.
    pub developer: String,
    /// First day.
    pub since: String,
    /// Last day.
    pub until: String,
    /// Timezone.
    pub timezone: String,
    /// Summed over the repos below.
    pub totals: Totals,
    /// Repos where the developer has calls, commits or merged PRs in the window.
    pub repos: BTreeMap<String, RepoPart>,
    /// Their latest sessions in the window (newest first).
    pub recent_sessions: Vec<SessionRow>,
    /// The whole report narrowed to the developer.
    #[serde(serialize_with = "shared")]
    pub report: Arc<Report>,
    /// The data generation of the report.
    #[serde(skip)]
    pub generation: u64,
    /// The window, as a value.
    #[serde(skip)]
    pub window: DayWindow,
}

fn shared<S: serde::Serializer>(r: &Arc<Report>, s: S) -> Result<S::Ok, S::Error> {
    r.as_ref().serialize(s)
}

/// Builds a profile from the report narrowed to `id` and their latest sessions.
pub fn profile(
    id: &str,
    report: Arc<Report>,
    recent_sessions: Vec<SessionRow>,
    generation: u64,
    window: DayWindow,
) -> Profile {
    let mut totals = Totals::default();
    let mut repos = BTreeMap::new();
    for (repo, m) in &report.metrics {
        let Some(summary) = m
            .developers
            .iter()
            .find(|d| d.developer.to_lowercase() == id.to_lowercase())
        else {
            continue;
        };
        totals.add_developer(summary);
        repos.insert(
            repo.clone(),
            RepoPart {
                summary: summary.clone(),
                cost_per_model: m.cost.per_model.clone(),
                daily: m.daily.clone(),
            },
        );
    }
    let md = &report.metadata;
    Profile {
        developer: id.to_string(),
        since: md.since.clone(),
        until: md.until.clone(),
        timezone: md.timezone.clone(),
        totals,
        repos,
        recent_sessions,
        report: Arc::clone(&report),
        generation,
        window,
    }
}

/// Validates the `{id}` path segment.
pub fn developer_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::bad_parameter("id", e.body_text()))?;
    let id = id.trim().to_string();
    if id.is_empty() || id.chars().count() > 200 || id.chars().any(char::is_control) {
        return Err(ApiError::bad_parameter(
            "id",
            "developer id: 1 to 200 characters, no control characters",
        ));
    }
    Ok(id)
}

/// Loads a developer's profile; 404 when the store has never seen them.
pub fn load_profile(
    st: &AppState,
    store: &dyn DashboardStore,
    id: &str,
    f: &Filters,
) -> Result<Profile, ApiError> {
    // Bad filters are answered before an unknown developer.
    AppState::window(store, f)?;
    let privacy = st.privacy(store)?;
    let shown = id;
    let id = &st.resolve_developer(store, &privacy, id, "a developer's page")?;
    if !store.developer_known(id)? {
        return Err(ApiError::not_found(format!(
            "no calls, commits or pull requests of developer {id:?} are stored"
        )));
    }
    let f = Filters {
        developer: Some(id.to_string()),
        ..f.clone()
    };
    let c = st.report(store, &f)?;
    let paging = Paging {
        page: 1,
        per_page: PROFILE_SESSIONS,
        sort: SessionSort::LastSeen,
        order: SortOrder::Desc,
    };
    let recent = st.sessions_page(store, &session_query(&f, &c.window, paging)?)?;
    Ok(profile(
        shown,
        c.report,
        recent.items.clone(),
        c.generation,
        c.window,
    ))
}

/// Query keys a profile accepts: the report's filters except `developer` (it is in the path).
pub fn profile_keys() -> Vec<&'static str> {
    FILTER_KEYS
        .iter()
        .chain(REPORT_ONLY_KEYS.iter())
        .copied()
        .filter(|k| *k != "developer")
        .collect()
}

/// `GET /api/developers/{id}`.
pub async fn developer(
    State(state): State<Arc<AppState>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id = developer_id(path)?;
    let q = QueryPairs::parse(raw.as_deref());
    q.reject_unknown(&[&profile_keys()])?;
    let f = Filters::parse(&q)?;
    let p = state
        .with_store(move |st, s| load_profile(st, s, &id, &f))
        .await?;
    json(&p)
}

/// Any other path under `/api`: 404 JSON.
pub async fn not_found(uri: Uri) -> ApiError {
    let path: String = uri
        .path()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    ApiError::not_found(format!("no API route {path}"))
}
