//! `prod-lens serve`: a local dashboard and JSON API over the store, read-only.
//!
//! - [`params`]: query strings → validated filters (400 naming the bad parameter).
//! - [`api`]: `/api/status`, `/api/report`, `/api/daily`, `/api/sessions`, `/api/developers/{id}`.
//! - [`events`]: `/api/events`, server-sent events when the store changes.
//! - [`dashboard`]: `/` and `/developers/{id}`, the HTML report with filters on top.
//! - [`pages`], [`html`]: the sessions page, login and error pages, the filter form.
//! - [`auth`]: loopback-only without a token; bearer token or session cookie with one.
//! - [`state`]: read-only connections, change detection, the report cache.
//! - [`assets`]: CSS, JS and icon compiled into the binary.

pub mod api;
pub mod assets;
pub mod auth;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod html;
pub mod pages;
pub mod params;
pub mod prs_page;
pub mod state;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::{Error, Result};
use error::ApiError;
use state::AppState;

/// Default port.
pub const DEFAULT_PORT: u16 = 8787;

/// How long shutdown waits for open requests before giving up on them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Refuses a non-loopback bind address without an access token.
pub fn check_exposure(bind: IpAddr, has_token: bool) -> Result<()> {
    if bind.is_loopback() || has_token {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "refusing to serve on {bind} without an access token: anyone who can reach this \
         address could read the data. Set PRODLENS_AUTH_TOKEN (or pass --auth-token), or bind 127.0.0.1"
    )))
}

/// Content-Security-Policy of the pages: only this server's own scripts, styles and data.
const CSP: &str = "default-src 'none'; script-src 'self' 'unsafe-inline'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds security headers, forbids caching of data, and logs the request (never its headers).
async fn headers(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    tracing::info!(
        "{method} {path} → {} in {} ms",
        res.status().as_u16(),
        started.elapsed().as_millis()
    );
    res
}

/// The answer when a handler panics: 500 JSON, and the server goes on.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a request handler panicked").into_response()
}

async fn api_method_not_allowed(method: Method) -> ApiError {
    ApiError {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        message: format!("{method} is not allowed here: the API is read-only (GET)"),
        parameter: None,
    }
}

/// Every route, with the auth, header and panic layers.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/status", get(api::status))
        .route("/report", get(api::report))
        .route("/daily", get(api::daily))
        .route("/sessions", get(api::sessions))
        .route("/prs", get(prs_page::api))
        .route("/developers/{id}", get(api::developer))
        .route("/events", get(events::events))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api_method_not_allowed);
    Router::new()
        .route("/", get(dashboard::dashboard))
        .route("/sessions", get(pages::sessions))
        .route("/prs", get(prs_page::page))
        .route("/developers/{id}", get(dashboard::developer))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/static/{name}", get(assets::asset))
        .nest("/api", api)
        .fallback(pages::not_found)
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            auth::guard,
        ))
        .layer(middleware::from_fn(headers))
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// Serves until `signal` resolves, then tells event streams to end, waits up to
/// [`SHUTDOWN_GRACE`] for open requests, and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    stop: tokio::sync::watch::Sender<bool>,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let poller = tokio::spawn(events::poll(Arc::clone(&state), events::POLL_INTERVAL));
    let mut stopped = state.shutdown.clone();
    let app = router(state);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        signal.await;
        let _ = stop.send(true);
    });
    let grace = async move {
        events::stopping(&mut stopped).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        r = server => r?,
        _ = grace => tracing::warn!("requests still open after {SHUTDOWN_GRACE:?}; stopping anyway"),
    }
    poller.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure_rules() {
        assert!(check_exposure("127.0.0.1".parse().unwrap(), false).is_ok());
        assert!(check_exposure("::1".parse().unwrap(), false).is_ok());
        let e = check_exposure("0.0.0.0".parse().unwrap(), false).unwrap_err();
        assert!(e.to_string().contains("PRODLENS_AUTH_TOKEN"), "{e}");
        assert!(check_exposure("192.168.1.5".parse().unwrap(), false).is_err());
        assert!(check_exposure("0.0.0.0".parse().unwrap(), true).is_ok());
    }

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_the_server_goes_on() {
        let app = Router::new()
            .route(
                "/boom",
                get(|uri: axum::http::Uri| async move {
                    // Indexing past the end: a bug that panics.
                    let parts: Vec<String> = uri.path().split('/').map(str::to_string).collect();
                    parts[5].clone()
                }),
            )
            .route("/ok", get(|| async { "ok" }))
            .layer(CatchPanicLayer::custom(panic_response));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let get = move |path: &'static str| {
            tokio::task::spawn_blocking(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut r = agent.get(format!("http://{addr}{path}")).call().unwrap();
                (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
            })
        };
        let (status, body) = get("/boom").await.unwrap();
        assert_eq!(status, 500);
        assert!(body.contains("internal error"), "{body}");
        assert_eq!(get("/ok").await.unwrap(), (200, "ok".to_string()));
    }
}
