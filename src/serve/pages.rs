//! The server's own pages: the sessions list, login, and error pages (the report pages are in
//! `dashboard`).

use std::fmt::Write;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};

use super::api::sessions_in;
use super::auth::{clear_cookie, set_cookie};
use super::error::ApiError;
use super::html::{
    document, esc, filter_form, head_html, nav, path_segment, FormOptions, Page, BASE_HEAD,
};
use super::params::{Filters, Paging, QueryPairs, DEFAULT_PER_PAGE, FILTER_KEYS, PAGE_KEYS};
use super::state::AppState;
use crate::store::sessions::{SessionPage, SessionRow, SessionSort, SortOrder};

/// An error as an HTML page (bad filters on a page answer 400 with the message).
pub fn error_page(e: &ApiError, logout: bool) -> Response {
    let mut body = nav(Page::Dashboard, &Filters::default(), logout);
    let _ = write!(
        body,
        "<main class=\"pl-main\"><h1>{} {}</h1>\n<p class=\"pl-error\" data-testid=\"error\">{}</p>\n",
        e.status.as_u16(),
        esc(e.status.canonical_reason().unwrap_or("")),
        esc(&e.message)
    );
    if let Some(p) = &e.parameter {
        let _ = writeln!(body, "<p>Parameter: <code>{}</code></p>", esc(p));
    }
    body += "<p><a href=\"/\">Back to the dashboard</a></p></main>\n";
    (
        e.status,
        Html(document("ProdLens: error", BASE_HEAD, &body)),
    )
        .into_response()
}

/// Any other path: 404, JSON under `/api` and an HTML page elsewhere.
pub async fn not_found(State(state): State<Arc<AppState>>, uri: Uri) -> Response {
    if uri.path() == "/api" || uri.path().starts_with("/api/") {
        return super::api::not_found(uri).await.into_response();
    }
    let path: String = uri
        .path()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    error_page(
        &ApiError::not_found(format!("no page {path}")),
        state.auth.is_some(),
    )
}

/// The login form; `error` is shown above it.
pub fn login_page(error: Option<&str>) -> Html<String> {
    let mut body = String::from("<main class=\"pl-main pl-login\"><h1>ProdLens</h1>\n");
    if let Some(e) = error {
        let _ = writeln!(
            body,
            "<p class=\"pl-error\" data-testid=\"login-error\">{}</p>",
            esc(e)
        );
    }
    body += "<form method=\"post\" action=\"/login\" data-testid=\"login\">\n\
             <label>Access token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required autofocus></label>\n\
             <button type=\"submit\">Log in</button>\n</form></main>\n";
    Html(document("ProdLens: log in", BASE_HEAD, &body))
}

/// `GET /login`.
pub async fn login_form() -> Html<String> {
    login_page(None)
}

/// `POST /login` (form field `token`): sets the session cookie and goes to the dashboard.
pub async fn login(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Some(auth) = &state.auth else {
        return redirect("/", None);
    };
    let token = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if auth.token_matches(&token) {
        match auth.new_session(chrono::Utc::now().timestamp()) {
            Ok(cookie) => redirect("/", Some(set_cookie(&cookie))),
            Err(e) => ApiError::internal(e).into_response(),
        }
    } else {
        // Slows guessing down; the token's length makes guessing hopeless anyway.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        (
            StatusCode::UNAUTHORIZED,
            login_page(Some("That is not the access token.")),
        )
            .into_response()
    }
}

/// `POST /logout`: ends the session.
pub async fn logout() -> Response {
    redirect("/login", Some(clear_cookie()))
}

fn redirect(to: &'static str, cookie: Option<String>) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response();
    if let Some(c) = cookie.and_then(|c| c.parse().ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

fn sessions_link(f: &Filters, p: Paging) -> String {
    let mut q = f.to_query(false);
    let mut add = |k: &str, v: String| {
        if !q.is_empty() {
            q.push('&');
        }
        q.push_str(k);
        q.push('=');
        q.push_str(&v);
    };
    if p.page != 1 {
        add("page", p.page.to_string());
    }
    if p.per_page != DEFAULT_PER_PAGE {
        add("per_page", p.per_page.to_string());
    }
    if p.sort != SessionSort::default() {
        add("sort", p.sort.name().to_string());
    }
    if p.order != SortOrder::default() {
        add("order", p.order.name().to_string());
    }
    if q.is_empty() {
        "/sessions".into()
    } else {
        format!("/sessions?{q}")
    }
}

/// The sessions table with sortable headers and pagination links.
pub fn sessions_table(items: &[SessionRow], f: &Filters, p: Paging, sortable: bool) -> String {
    let cols: [(&str, Option<SessionSort>, bool); 9] = [
        ("Repo", None, false),
        ("Session", None, false),
        ("Developer", Some(SessionSort::Developer), false),
        ("First call (UTC)", None, false),
        ("Last call (UTC)", Some(SessionSort::LastSeen), false),
        ("Requests", Some(SessionSort::Requests), true),
        ("Tokens", Some(SessionSort::Tokens), true),
        ("Cost (USD)", Some(SessionSort::Cost), true),
        ("Errors", Some(SessionSort::Errors), true),
    ];
    let mut s = String::from(
        "<table class=\"pl-table\" id=\"sessions\" data-testid=\"sessions-table\">\n<thead><tr>",
    );
    for (label, key, num) in cols {
        let class = if num { " class=\"num\"" } else { "" };
        match key.filter(|_| sortable) {
            Some(k) => {
                let current = p.sort == k;
                let order = if current && p.order == SortOrder::Desc {
                    SortOrder::Asc
                } else {
                    SortOrder::Desc
                };
                let aria = match (current, p.order) {
                    (false, _) => "",
                    (true, SortOrder::Asc) => " aria-sort=\"ascending\"",
                    (true, SortOrder::Desc) => " aria-sort=\"descending\"",
                };
                let link = sessions_link(
                    f,
                    Paging {
                        page: 1,
                        sort: k,
                        order,
                        ..p
                    },
                );
                let _ = write!(
                    s,
                    "<th{class}{aria}><a href=\"{}\" data-sort=\"{}\">{label}</a></th>",
                    esc(&link),
                    k.name()
                );
            }
            None => {
                let _ = write!(s, "<th{class}>{label}</th>");
            }
        }
    }
    s += "</tr></thead>\n<tbody>\n";
    let dev_q = f.to_query(false);
    for r in items {
        let dev = match &r.developer {
            Some(d) => {
                let mut href = format!("/developers/{}", path_segment(d));
                if !dev_q.is_empty() {
                    href = format!("{href}?{dev_q}");
                }
                format!("<a href=\"{}\">{}</a>", esc(&href), esc(d))
            }
            None => "–".into(),
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td><code>{}</code></td><td>{dev}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.4}</td><td class=\"num\">{}</td></tr>",
            esc(&r.repo),
            esc(&r.session),
            esc(&r.first_seen),
            esc(&r.last_seen),
            r.requests,
            r.tokens,
            r.cost_usd,
            r.errors
        );
    }
    if items.is_empty() {
        s += "<tr><td colspan=\"9\">No sessions on this page.</td></tr>\n";
    }
    s += "</tbody></table>\n";
    s
}

fn pager(page: &SessionPage, f: &Filters, p: Paging) -> String {
    let pages = page.total.div_ceil(u64::from(p.per_page)).max(1);
    let mut s = format!(
        "<p class=\"pl-pager\" data-testid=\"pager\">Page {} of {pages} · {} sessions",
        p.page, page.total
    );
    if p.page > 1 {
        let prev = (u64::from(p.page) - 1).min(pages) as u32;
        let _ = write!(
            s,
            " · <a href=\"{}\" rel=\"prev\">previous</a>",
            esc(&sessions_link(f, Paging { page: prev, ..p }))
        );
    }
    if u64::from(p.page) < pages {
        let _ = write!(
            s,
            " · <a href=\"{}\" rel=\"next\">next</a>",
            esc(&sessions_link(
                f,
                Paging {
                    page: p.page + 1,
                    ..p
                }
            ))
        );
    }
    s + "</p>\n"
}

/// `GET /sessions`.
pub async fn sessions(State(state): State<Arc<AppState>>, RawQuery(raw): RawQuery) -> Response {
    let logout = state.auth.is_some();
    match sessions_html(state, raw).await {
        Ok(html) => Html(html).into_response(),
        Err(e) => error_page(&e, logout),
    }
}

async fn sessions_html(state: Arc<AppState>, raw: Option<String>) -> Result<String, ApiError> {
    let q = QueryPairs::parse(raw.as_deref());
    q.reject_unknown(&[&FILTER_KEYS, &PAGE_KEYS])?;
    let f = Filters::parse(&q)?;
    let p = Paging::parse(&q)?;
    let f2 = f.clone();
    let (page, window, repos, generation) = state
        .with_store(move |st, s| {
            let (page, window) = sessions_in(st, s, &f2, p)?;
            Ok((page, window, s.report_repos()?, st.changes.generation()))
        })
        .await?;
    let mut hidden = vec![];
    if p.sort != SessionSort::default() {
        hidden.push(("sort", p.sort.name().to_string()));
    }
    if p.order != SortOrder::default() {
        hidden.push(("order", p.order.name().to_string()));
    }
    if p.per_page != DEFAULT_PER_PAGE {
        hidden.push(("per_page", p.per_page.to_string()));
    }
    let mut body = nav(Page::Sessions, &f, state.auth.is_some());
    body += &filter_form(
        &f,
        &FormOptions {
            action: "/sessions",
            repos: &repos,
            developers: &[],
            teams: &[],
            models: &[],
            developer_field: true,
            lag_field: false,
            hidden,
            window: Some(&window),
        },
    );
    body += "<main class=\"pl-main\">\n<h1>Sessions</h1>\n";
    body += &pager(&page, &f, p);
    body += &sessions_table(&page.items, &f, p, true);
    body += "</main>\n";
    Ok(document(
        "ProdLens: sessions",
        &head_html(generation),
        &body,
    ))
}
