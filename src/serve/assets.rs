//! Static assets embedded in the binary (no files are read at run time).

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// Stylesheet of the navigation, filter form and the server's own pages.
pub const APP_CSS: &str = include_str!("static/app.css");

/// The refresh script: reloads a page when `/api/events` reports new data.
pub const APP_JS: &str = include_str!("static/app.js");

/// The tab icon.
pub const FAVICON: &str = include_str!("static/favicon.svg");

/// `GET /static/{name}`.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (kind, body) = match name.as_str() {
        "app.css" => ("text/css; charset=utf-8", APP_CSS),
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "favicon.svg" => ("image/svg+xml", FAVICON),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
