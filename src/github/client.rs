//! The GitHub HTTP client: headers, conditional requests, Link pagination, retries with backoff
//! and jitter, and rate-limit handling. Decisions live in [`super::policy`]; waiting goes through
//! a [`Clock`], so tests can scale or record the waits while the logic stays the real one.
//!
//! Built on `ureq` (blocking, rustls): a sync runs one request at a time by design, so an async
//! runtime would add weight without speed.

use super::policy::{self, ResponseFacts, Verdict};
use crate::error::{Error, Result};
use crate::sample::Rng;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use ureq::http::Uri;

/// Default API root (GitHub.com); GitHub Enterprise uses `https://HOST/api/v3`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// REST API version sent with every request.
pub const API_VERSION: &str = "2022-11-28";
/// Largest page body accepted.
const BODY_LIMIT: u64 = 256 * 1024 * 1024;
/// Primary-limit waits allowed per request before giving up.
const MAX_PRIMARY_WAITS: u32 = 3;
/// Environment variable that scales every wait (tests: e.g. `0.001`); 1 when unset.
pub const TIME_SCALE_ENV: &str = "PRODLENS_HTTP_TIME_SCALE";

/// Time source and sleeper for retries and rate-limit waits.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> SystemTime;
    /// Waits for `d` (the real duration the policy chose; an implementation may scale it).
    fn sleep(&self, d: Duration);
}

/// The system clock, with waits optionally scaled by [`TIME_SCALE_ENV`].
#[derive(Clone, Debug)]
pub struct SystemClock {
    scale: f64,
}

impl SystemClock {
    /// A clock that waits for real.
    pub fn new() -> Self {
        SystemClock { scale: 1.0 }
    }

    /// A clock whose waits are scaled by [`TIME_SCALE_ENV`] when it holds a number in (0, 1].
    pub fn from_env() -> Self {
        let scale = std::env::var(TIME_SCALE_ENV)
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| *s > 0.0 && *s <= 1.0)
            .unwrap_or(1.0);
        SystemClock { scale }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d.mul_f64(self.scale));
    }
}

/// An API token. It is only ever put in the `Authorization` header: never printed (its `Debug`
/// is redacted), logged, stored or put in a URL.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// A token from a flag or the environment; `None` when empty.
    pub fn new(raw: &str) -> Option<Token> {
        let t = raw.trim();
        (!t.is_empty()).then(|| Token(t.to_string()))
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(redacted)")
    }
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// API root without a trailing slash.
    pub api_url: String,
    /// Token, if any (public repos work without, at a lower rate limit).
    pub token: Option<Token>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Retries per request for transient failures and secondary limits.
    pub max_retries: u32,
    /// Longest rate-limit wait before stopping with a "re-run later" message.
    pub max_wait: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            api_url: DEFAULT_API_URL.into(),
            token: None,
            timeout: Duration::from_secs(30),
            max_retries: 5,
            max_wait: Duration::from_secs(15 * 60),
        }
    }
}

/// Validators of a stored page, sent as `If-None-Match` / `If-Modified-Since`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag` of the stored page.
    pub etag: Option<String>,
    /// `Last-Modified` of the stored page.
    pub last_modified: Option<String>,
}

/// What a page request returned.
#[derive(Debug)]
pub enum Fetched {
    /// 304: the stored page is current.
    NotModified,
    /// 200: a new page body.
    Page {
        /// Body bytes.
        body: Vec<u8>,
        /// New validators.
        validators: Validators,
        /// `rel="next"` URL, if any.
        next: Option<String>,
    },
}

/// Request counters of a client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// 304 answers.
    pub not_modified: u64,
    /// Requests sent again after a failure or a rate-limit wait.
    pub retries: u64,
    /// Primary or secondary rate-limit waits.
    pub rate_limit_waits: u64,
    /// Last `x-ratelimit-remaining` seen.
    pub rate_limit_remaining: Option<i64>,
    /// Last `x-ratelimit-reset` seen (epoch seconds).
    pub rate_limit_reset: Option<i64>,
}

/// A GitHub REST client for page lists.
pub struct Client {
    agent: ureq::Agent,
    cfg: ClientConfig,
    origin: (String, String),
    clock: Arc<dyn Clock>,
    rng: Rng,
    /// Counters since the client was made (or last [`Client::take_stats`]).
    pub stats: RequestStats,
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn origin_of(url: &str) -> Option<(String, String)> {
    let uri: Uri = url.parse().ok()?;
    Some((
        uri.scheme_str()?.to_ascii_lowercase(),
        uri.authority()?.as_str().to_ascii_lowercase(),
    ))
}

fn header<'a>(resp: &'a ureq::http::Response<ureq::Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn github_message(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
        .chars()
        .take(300)
        .collect()
}

fn transient_transport(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::Timeout(_) | ureq::Error::Protocol(_) | ureq::Error::ConnectionFailed => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionReset
                | K::ConnectionAborted
                | K::ConnectionRefused
                | K::BrokenPipe
                | K::UnexpectedEof
                | K::TimedOut
                | K::Interrupted
                | K::WouldBlock
        ),
        _ => false,
    }
}

impl Client {
    /// Makes a client; refuses to send a token over plain `http://` except to loopback.
    pub fn new(cfg: ClientConfig, clock: Arc<dyn Clock>) -> Result<Self> {
        let api_url = cfg.api_url.trim_end_matches('/').to_string();
        let uri: Uri = api_url
            .parse()
            .map_err(|_| Error::InvalidArgument(format!("invalid --api-url {api_url:?}")))?;
        let (scheme, host) = (
            uri.scheme_str().unwrap_or("").to_ascii_lowercase(),
            uri.host().unwrap_or("").to_string(),
        );
        if host.is_empty() || !(scheme == "https" || scheme == "http") {
            return Err(Error::InvalidArgument(format!(
                "invalid --api-url {api_url:?}: expected https://HOST[/api/v3]"
            )));
        }
        let loopback = is_loopback(&host);
        if scheme == "http" && !loopback && cfg.token.is_some() {
            return Err(Error::InvalidArgument(format!(
                "refusing to send the GitHub token over plain http to {host}: use an https:// --api-url"
            )));
        }
        let origin = origin_of(&api_url)
            .ok_or_else(|| Error::InvalidArgument(format!("invalid --api-url {api_url:?}")))?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(cfg.timeout))
            .user_agent(concat!("prod-lens/", env!("CARGO_PKG_VERSION")))
            .max_redirects(0)
            .proxy(if loopback {
                None
            } else {
                ureq::Proxy::try_from_env()
            })
            .build();
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7);
        Ok(Client {
            agent: ureq::Agent::new_with_config(config),
            cfg: ClientConfig { api_url, ..cfg },
            origin,
            clock,
            rng: Rng::new(seed),
            stats: RequestStats::default(),
        })
    }

    /// The API root, without a trailing slash.
    pub fn api_url(&self) -> &str {
        &self.cfg.api_url
    }

    /// True when requests carry a token.
    pub fn has_token(&self) -> bool {
        self.cfg.token.is_some()
    }

    /// Returns the counters and starts new ones (the last rate-limit figures carry over).
    pub fn take_stats(&mut self) -> RequestStats {
        let next = RequestStats {
            rate_limit_remaining: self.stats.rate_limit_remaining,
            rate_limit_reset: self.stats.rate_limit_reset,
            ..Default::default()
        };
        std::mem::replace(&mut self.stats, next)
    }

    fn now_epoch(&self) -> i64 {
        self.clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }

    fn send(
        &self,
        url: &str,
        v: Option<&Validators>,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let mut req = self
            .agent
            .get(url)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION);
        if let Some(t) = &self.cfg.token {
            req = req.header("Authorization", format!("Bearer {}", t.0));
        }
        if let Some(v) = v {
            if let Some(e) = &v.etag {
                req = req.header("If-None-Match", e.as_str());
            }
            if let Some(lm) = &v.last_modified {
                req = req.header("If-Modified-Since", lm.as_str());
            }
        }
        req.call()
    }

    fn refused_hint(&self, status: u16, repo: &str, location: Option<&str>, msg: &str) -> String {
        let no_token = if self.has_token() {
            ""
        } else {
            " (no token was given: private repos need GITHUB_TOKEN or --token)"
        };
        match status {
            404 => format!(
                "repository {repo} not found — check the owner/name for a typo, or the token cannot see this private repo (classic token: `repo` scope; fine-grained: read access to contents, pull requests and issues){no_token}"
            ),
            403 => format!(
                "access to {repo} forbidden ({msg}) — the token lacks a scope for this repo, or the organisation requires SSO authorisation of the token{no_token}"
            ),
            301 | 302 | 307 | 308 => format!(
                "{repo} has moved (Location: {}) — sync it under its new owner/name",
                location.unwrap_or("?")
            ),
            _ => format!("unexpected answer for {repo}: {msg}"),
        }
    }

    /// Fetches one page, conditionally when `validators` are given, retrying what can be retried.
    pub fn get_page(
        &mut self,
        repo: &str,
        url: &str,
        validators: Option<&Validators>,
    ) -> Result<Fetched> {
        if origin_of(url).as_ref() != Some(&self.origin) {
            return Err(Error::MalformedPage {
                repo: repo.into(),
                url: url.into(),
                reason: format!(
                    "refusing to follow a link outside {} (the token is only sent there)",
                    self.cfg.api_url
                ),
            });
        }
        let mut attempt: u32 = 0;
        let mut primary_waits: u32 = 0;
        loop {
            self.stats.requests += 1;
            tracing::debug!(url, conditional = validators.is_some(), "GET");
            let outcome = self.send(url, validators).and_then(|mut resp| {
                let status = resp.status().as_u16();
                let body = if status == 304 {
                    Vec::new()
                } else {
                    resp.body_mut()
                        .with_config()
                        .limit(BODY_LIMIT)
                        .read_to_vec()?
                };
                Ok((resp, status, body))
            });
            let (resp, status, body) = match outcome {
                Ok(x) => x,
                Err(e) if transient_transport(&e) && attempt < self.cfg.max_retries => {
                    let wait = policy::backoff(attempt, self.rng.unit());
                    tracing::info!(url, error = %e, wait_ms = wait.as_millis() as u64, "transient failure, retrying");
                    self.clock.sleep(wait);
                    attempt += 1;
                    self.stats.retries += 1;
                    continue;
                }
                Err(e) => {
                    return Err(Error::Http {
                        url: url.into(),
                        attempts: attempt + 1,
                        reason: e.to_string(),
                    })
                }
            };
            let num = |name: &str| header(&resp, name).and_then(|s| s.trim().parse::<i64>().ok());
            let facts = ResponseFacts {
                status,
                remaining: num("x-ratelimit-remaining"),
                reset: num("x-ratelimit-reset"),
                retry_after: header(&resp, "retry-after"),
                body: &body,
            };
            if facts.remaining.is_some() {
                self.stats.rate_limit_remaining = facts.remaining;
                self.stats.rate_limit_reset = facts.reset;
            }
            tracing::debug!(url, status, remaining = ?facts.remaining, "response");
            match policy::classify(&facts) {
                Verdict::Ok => {
                    return Ok(Fetched::Page {
                        validators: Validators {
                            etag: header(&resp, "etag").map(str::to_string),
                            last_modified: header(&resp, "last-modified").map(str::to_string),
                        },
                        next: header(&resp, "link").and_then(policy::next_link),
                        body,
                    })
                }
                Verdict::NotModified if validators.is_some() => {
                    self.stats.not_modified += 1;
                    return Ok(Fetched::NotModified);
                }
                Verdict::Transient if attempt < self.cfg.max_retries => {
                    let wait = policy::backoff(attempt, self.rng.unit());
                    tracing::info!(
                        url,
                        status,
                        wait_ms = wait.as_millis() as u64,
                        "server error, retrying"
                    );
                    self.clock.sleep(wait);
                    attempt += 1;
                    self.stats.retries += 1;
                }
                Verdict::Transient => {
                    return Err(Error::Http {
                        url: url.into(),
                        attempts: attempt + 1,
                        reason: format!("HTTP {status}: {}", github_message(&body)),
                    })
                }
                Verdict::Primary { reset_epoch } => {
                    let wait = policy::primary_wait(reset_epoch, self.now_epoch());
                    if wait > self.cfg.max_wait || primary_waits >= MAX_PRIMARY_WAITS {
                        let reset_at = chrono::DateTime::from_timestamp(
                            self.now_epoch() + wait.as_secs() as i64,
                            0,
                        )
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_else(|| "unknown".into());
                        return Err(Error::RateLimited {
                            repo: repo.into(),
                            reset_at,
                            wait: policy::human(wait),
                            max_wait: policy::human(self.cfg.max_wait),
                        });
                    }
                    tracing::warn!(
                        "GitHub rate limit exhausted; waiting {} for it to reset",
                        policy::human(wait)
                    );
                    self.clock.sleep(wait);
                    primary_waits += 1;
                    self.stats.rate_limit_waits += 1;
                    self.stats.retries += 1;
                }
                Verdict::Secondary { retry_after } if attempt < self.cfg.max_retries => {
                    let wait = policy::secondary_wait(retry_after, attempt, self.rng.unit());
                    tracing::warn!(
                        "GitHub secondary rate limit; waiting {} before retrying",
                        policy::human(wait)
                    );
                    self.clock.sleep(wait);
                    attempt += 1;
                    self.stats.rate_limit_waits += 1;
                    self.stats.retries += 1;
                }
                Verdict::Secondary { .. } => {
                    return Err(Error::Http {
                        url: url.into(),
                        attempts: attempt + 1,
                        reason: format!(
                            "secondary rate limit persisted: {}",
                            github_message(&body)
                        ),
                    })
                }
                Verdict::Unauthorized => {
                    return Err(Error::GitHubUnauthorized {
                        repo: repo.into(),
                        detail: github_message(&body),
                    })
                }
                Verdict::NotModified | Verdict::Refused => {
                    let hint = self.refused_hint(
                        status,
                        repo,
                        header(&resp, "location"),
                        &github_message(&body),
                    );
                    return Err(Error::GitHubRefused {
                        repo: repo.into(),
                        status,
                        url: url.into(),
                        hint,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str, token: Option<&str>) -> ClientConfig {
        ClientConfig {
            api_url: url.into(),
            token: token.and_then(Token::new),
            ..Default::default()
        }
    }

    #[test]
    fn refuses_a_token_over_plain_http_except_loopback() {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
        let err = Client::new(
            cfg("http://ghe.example.com/api/v3", Some("t0k")),
            clock.clone(),
        )
        .err()
        .unwrap()
        .to_string();
        assert!(
            err.contains("refusing to send the GitHub token over plain http"),
            "{err}"
        );
        assert!(!err.contains("t0k"));
        for ok in [
            "http://127.0.0.1:9",
            "http://localhost:9/api/v3",
            "http://[::1]:9",
            "https://ghe.example.com/api/v3/",
        ] {
            let c = Client::new(cfg(ok, Some("t0k")), clock.clone()).unwrap();
            assert!(!c.api_url().ends_with('/'));
        }
        assert!(Client::new(cfg("http://ghe.example.com", None), clock.clone()).is_ok());
        assert!(Client::new(cfg("ftp://x", None), clock.clone()).is_err());
        assert!(Client::new(cfg("not a url", None), clock).is_err());
    }

    #[test]
    fn token_debug_is_redacted() {
        let t = Token::new(" secret ").unwrap();
        assert_eq!(format!("{t:?}"), "Token(redacted)");
        assert!(Token::new("  ").is_none());
        assert!(!format!("{:?}", cfg("https://x", Some("secret"))).contains("secret"));
    }

    #[test]
    fn loopback_and_origin_checks() {
        assert!(is_loopback("127.0.0.1") && is_loopback("[::1]") && is_loopback("LOCALHOST"));
        assert!(!is_loopback("10.0.0.1") && !is_loopback("example.com"));
        assert_eq!(
            origin_of("https://API.github.com/repos/a/b?page=2"),
            Some(("https".into(), "api.github.com".into()))
        );
    }
}
