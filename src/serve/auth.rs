//! Access control. Without a token the server answers only requests addressed to a loopback
//! host name (a defence against DNS rebinding). With a token every route but the login page and
//! static assets needs `Authorization: Bearer <token>` or the session cookie set by
//! `POST /login`. Tokens are compared in constant time (equality of BLAKE3 digests, whose `==`
//! is constant-time) and are never logged, echoed or put in a URL; the cookie holds a signed
//! expiry, not the token.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;
use crate::error::{Error, Result};

/// Shortest accepted token.
pub const MIN_TOKEN_LEN: usize = 16;

/// Name of the session cookie.
pub const COOKIE: &str = "prodlens_session";

/// How long a login lasts, in seconds.
pub const SESSION_SECONDS: i64 = 12 * 3600;

/// The configured token (as a digest) and the key that signs session cookies.
pub struct Auth {
    token: blake3::Hash,
    key: [u8; 32],
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Auth(<redacted>)")
    }
}

impl Auth {
    /// Access control with `token`; refuses a token shorter than [`MIN_TOKEN_LEN`] characters.
    pub fn new(token: &str) -> Result<Self> {
        if token.chars().count() < MIN_TOKEN_LEN || token.chars().any(char::is_whitespace) {
            return Err(Error::InvalidArgument(format!(
                "the access token must be at least {MIN_TOKEN_LEN} characters without spaces \
                 (e.g. `openssl rand -hex 24`)"
            )));
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| {
            Error::InvalidArgument(format!("no random numbers for the session key: {e}"))
        })?;
        Ok(Self {
            token: blake3::hash(token.as_bytes()),
            key,
        })
    }

    /// Whether `candidate` is the token (constant time).
    pub fn token_matches(&self, candidate: &str) -> bool {
        blake3::hash(candidate.as_bytes()) == self.token
    }

    fn mac(&self, payload: &str) -> blake3::Hash {
        blake3::keyed_hash(&self.key, payload.as_bytes())
    }

    /// A new session cookie value valid until `now + SESSION_SECONDS` (Unix seconds).
    pub fn new_session(&self, now: i64) -> Result<String> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce)
            .map_err(|e| Error::InvalidArgument(format!("no random numbers: {e}")))?;
        let hex: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let payload = format!("{}.{hex}", now + SESSION_SECONDS);
        Ok(format!("{payload}.{}", self.mac(&payload).to_hex()))
    }

    /// Whether a cookie value was signed by this server and has not expired at `now`.
    pub fn session_valid(&self, value: &str, now: i64) -> bool {
        let Some((payload, mac)) = value.rsplit_once('.') else {
            return false;
        };
        let Ok(mac) = blake3::Hash::from_hex(mac) else {
            return false;
        };
        let expiry = payload
            .split('.')
            .next()
            .and_then(|e| e.parse::<i64>().ok());
        // Digest equality is constant-time.
        self.mac(payload) == mac && expiry.is_some_and(|e| e > now)
    }

    /// Whether the request carries the token or a valid session cookie.
    pub fn authorized(&self, headers: &HeaderMap, now: i64) -> bool {
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.trim().split_once(' '))
            .any(|(scheme, t)| {
                scheme.eq_ignore_ascii_case("bearer") && self.token_matches(t.trim())
            });
        bearer || session_cookies(headers).any(|c| self.session_valid(c, now))
    }
}

/// Values of the session cookie in a request's `Cookie` headers.
fn session_cookies(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// `Set-Cookie` value for a session (HttpOnly, SameSite=Strict, whole site).
pub fn set_cookie(value: &str) -> String {
    format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={SESSION_SECONDS}")
}

/// `Set-Cookie` value that ends the session.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

/// Whether a `Host` header names this machine's loopback interface (any port).
pub fn loopback_host(host: &str) -> bool {
    let host = host.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        match host.rsplit_once(':') {
            Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => host,
        }
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Paths reachable without logging in (they show no data).
fn public(path: &str) -> bool {
    matches!(path, "/login" | "/logout") || path.starts_with("/static/")
}

/// Middleware applying the rules above to every request.
pub async fn guard(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    match &state.auth {
        None => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            if loopback_host(host) {
                next.run(req).await
            } else {
                ApiError {
                    status: StatusCode::FORBIDDEN,
                    message: "this server answers only requests to localhost / 127.0.0.1; \
                              serve with --auth-token to allow other host names"
                        .into(),
                    parameter: None,
                }
                .into_response()
            }
        }
        Some(auth) => {
            if public(&path) || auth.authorized(req.headers(), chrono::Utc::now().timestamp()) {
                next.run(req).await
            } else {
                unauthorized(&path)
            }
        }
    }
}

fn unauthorized(path: &str) -> Response {
    if path == "/api" || path.starts_with("/api/") {
        let mut r = ApiError {
            status: StatusCode::UNAUTHORIZED,
            message:
                "authentication required: send `Authorization: Bearer <token>` or log in at /login"
                    .into(),
            parameter: None,
        }
        .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"prod-lens\""),
        );
        r
    } else {
        (StatusCode::UNAUTHORIZED, super::pages::login_page(None)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "s3cret-token-0123456789";

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn short_tokens_are_refused_and_debug_hides_the_token() {
        assert!(Auth::new("short").is_err());
        assert!(Auth::new("sixteen chars ok").is_err(), "no spaces");
        let a = Auth::new(TOKEN).unwrap();
        assert!(!format!("{a:?}").contains(TOKEN));
    }

    #[test]
    fn bearer_token_and_cookie() {
        let a = Auth::new(TOKEN).unwrap();
        let now = 1_760_000_000;
        assert!(a.authorized(
            &headers(&[(header::AUTHORIZATION, &format!("Bearer {TOKEN}"))]),
            now
        ));
        assert!(a.authorized(
            &headers(&[(header::AUTHORIZATION, &format!("bearer  {TOKEN} "))]),
            now
        ));
        assert!(!a.authorized(
            &headers(&[(header::AUTHORIZATION, &format!("Basic {TOKEN}"))]),
            now
        ));
        assert!(!a.authorized(
            &headers(&[(header::AUTHORIZATION, "Bearer s3cret-token-012345678")]),
            now
        ));
        assert!(!a.authorized(&HeaderMap::new(), now));
        let c = a.new_session(now).unwrap();
        assert!(!c.contains(TOKEN));
        let cookie = format!("theme=dark; {COOKIE}={c}");
        assert!(a.authorized(&headers(&[(header::COOKIE, &cookie)]), now));
        assert!(!a.authorized(
            &headers(&[(header::COOKIE, &cookie)]),
            now + SESSION_SECONDS
        ));
        // Forged or altered cookies, and cookies of another server (another key), fail.
        let (payload, _) = c.rsplit_once('.').unwrap();
        let later = payload.replacen(
            &(now + SESSION_SECONDS).to_string(),
            &(now * 2).to_string(),
            1,
        );
        let forged = format!("{later}.{}", blake3::hash(later.as_bytes()).to_hex());
        for bad in [forged, format!("{payload}.zz"), "x".into(), String::new()] {
            assert!(!a.session_valid(&bad, now), "{bad}");
        }
        let other = Auth::new(TOKEN).unwrap();
        assert!(!other.session_valid(&c, now));
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost:8787",
            "LOCALHOST",
            "127.0.0.1:1",
            "127.0.0.1",
            "[::1]:8787",
            "localhost.:80",
        ] {
            assert!(loopback_host(h), "{h}");
        }
        for h in [
            "evil.example:8787",
            "10.0.0.1:8787",
            "",
            "localhost.evil.example",
            "[::2]:1",
        ] {
            assert!(!loopback_host(h), "{h}");
        }
    }

    #[test]
    fn cookie_attributes() {
        let s = set_cookie("v");
        assert!(s.contains("HttpOnly") && s.contains("SameSite=Strict") && s.contains("Path=/"));
        assert!(clear_cookie().contains("Max-Age=0"));
    }
}
