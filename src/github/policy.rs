//! Pure decisions of the HTTP client: what a response means (retry, wait, stop) and how long to
//! wait. No I/O, so every rule is unit-tested by value.

use std::time::Duration;

/// First backoff step for transient failures.
pub const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest single backoff for transient failures.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// Shortest wait after a secondary rate limit without `retry-after`.
pub const SECONDARY_MIN: Duration = Duration::from_secs(60);
/// Longest wait after a secondary rate limit.
pub const SECONDARY_CAP: Duration = Duration::from_secs(15 * 60);

/// What a response (or a transport failure) calls for.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// 200: use the body.
    Ok,
    /// 304: reuse what is stored.
    NotModified,
    /// Transient (5xx, timeout, reset): retry after a backoff.
    Transient,
    /// Primary rate limit: wait until the reset epoch (seconds), if allowed.
    Primary {
        /// `x-ratelimit-reset`, epoch seconds (None when missing).
        reset_epoch: Option<i64>,
    },
    /// Secondary rate limit: wait `retry-after` (seconds) or at least a minute.
    Secondary {
        /// `retry-after` in seconds, when given.
        retry_after: Option<u64>,
    },
    /// 401: bad credentials.
    Unauthorized,
    /// Anything else that retrying cannot fix.
    Refused,
}

/// The response facts the verdict depends on.
#[derive(Clone, Debug, Default)]
pub struct ResponseFacts<'a> {
    /// HTTP status.
    pub status: u16,
    /// `x-ratelimit-remaining`.
    pub remaining: Option<i64>,
    /// `x-ratelimit-reset`.
    pub reset: Option<i64>,
    /// `retry-after`, raw.
    pub retry_after: Option<&'a str>,
    /// Response body (for GitHub's "secondary rate limit" message).
    pub body: &'a [u8],
}

/// Classifies a response.
pub fn classify(f: &ResponseFacts<'_>) -> Verdict {
    match f.status {
        200..=299 => Verdict::Ok,
        304 => Verdict::NotModified,
        401 => Verdict::Unauthorized,
        403 | 429 => {
            let retry_after = f.retry_after.and_then(parse_retry_after);
            if f.remaining == Some(0) && retry_after.is_none() {
                Verdict::Primary {
                    reset_epoch: f.reset,
                }
            } else if retry_after.is_some() || f.status == 429 || mentions_secondary(f.body) {
                Verdict::Secondary { retry_after }
            } else {
                Verdict::Refused
            }
        }
        500 | 502 | 503 | 504 => Verdict::Transient,
        _ => Verdict::Refused,
    }
}

fn mentions_secondary(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]).to_ascii_lowercase();
    text.contains("secondary rate limit") || text.contains("abuse")
}

/// Parses `retry-after` given in seconds.
pub fn parse_retry_after(raw: &str) -> Option<u64> {
    raw.trim().parse::<u64>().ok()
}

/// Exponential backoff with "equal jitter": half the step fixed, half random (`unit` in [0, 1)).
pub fn backoff(attempt: u32, unit: f64) -> Duration {
    let step = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_CAP);
    let half = step / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// Wait after a secondary rate limit: `retry-after` when given, else at least a minute, doubling
/// with each attempt up to 15 minutes, plus jitter.
pub fn secondary_wait(retry_after: Option<u64>, attempt: u32, unit: f64) -> Duration {
    match retry_after {
        Some(s) => Duration::from_secs(s),
        None => {
            let step = SECONDARY_MIN
                .saturating_mul(1u32 << attempt.min(8))
                .min(SECONDARY_CAP);
            step + Duration::from_secs(10).mul_f64(unit.clamp(0.0, 1.0))
        }
    }
}

/// Wait until a primary limit resets (`reset_epoch`), from `now_epoch`, plus a second of margin.
pub fn primary_wait(reset_epoch: Option<i64>, now_epoch: i64) -> Duration {
    match reset_epoch {
        Some(r) => Duration::from_secs((r - now_epoch).max(0) as u64 + 1),
        // No reset given: GitHub's window is an hour.
        None => Duration::from_secs(3600),
    }
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let mut pieces = part.split(';');
        let url = pieces.next()?.trim();
        let is_next = pieces.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        let url = url.strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| url.to_string())
    })
}

/// Formats a duration for messages (`2h 0m`, `14m 5s`, `3s`).
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        _ => format!("{}h {}m", s / 3600, (s % 3600) / 60),
    }
}

/// Parses `15m`, `90s`, `2h` or a bare number of seconds.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let s = raw.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {raw:?}: use e.g. 90s, 15m or 2h"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("invalid duration {raw:?}: use e.g. 90s, 15m or 2h")),
    };
    Ok(Duration::from_secs(n.saturating_mul(mult)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: u16) -> ResponseFacts<'static> {
        ResponseFacts {
            status,
            ..Default::default()
        }
    }

    #[test]
    fn classifies_statuses() {
        assert_eq!(classify(&facts(200)), Verdict::Ok);
        assert_eq!(classify(&facts(304)), Verdict::NotModified);
        for s in [500, 502, 503, 504] {
            assert_eq!(classify(&facts(s)), Verdict::Transient);
        }
        assert_eq!(classify(&facts(401)), Verdict::Unauthorized);
        assert_eq!(classify(&facts(404)), Verdict::Refused);
        assert_eq!(classify(&facts(403)), Verdict::Refused);
        let primary = ResponseFacts {
            status: 403,
            remaining: Some(0),
            reset: Some(99),
            ..Default::default()
        };
        assert_eq!(
            classify(&primary),
            Verdict::Primary {
                reset_epoch: Some(99)
            }
        );
        let secondary = ResponseFacts {
            status: 403,
            remaining: Some(10),
            retry_after: Some("7"),
            ..Default::default()
        };
        assert_eq!(
            classify(&secondary),
            Verdict::Secondary {
                retry_after: Some(7)
            }
        );
        let by_body = ResponseFacts {
            status: 403,
            body: b"{\"message\":\"You have exceeded a secondary rate limit\"}",
            ..Default::default()
        };
        assert_eq!(classify(&by_body), Verdict::Secondary { retry_after: None });
        assert_eq!(
            classify(&facts(429)),
            Verdict::Secondary { retry_after: None }
        );
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        assert_eq!(backoff(0, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(0, 1.0), Duration::from_secs(1));
        assert_eq!(backoff(3, 0.0), Duration::from_secs(4));
        assert_eq!(backoff(30, 1.0), BACKOFF_CAP);
        assert!(backoff(2, 0.3) > backoff(2, 0.2));
    }

    #[test]
    fn secondary_waits_at_least_a_minute_unless_told() {
        assert_eq!(secondary_wait(Some(3), 0, 0.5), Duration::from_secs(3));
        assert!(secondary_wait(None, 0, 0.0) >= Duration::from_secs(60));
        assert!(secondary_wait(None, 1, 0.0) >= Duration::from_secs(120));
        assert!(secondary_wait(None, 20, 1.0) <= SECONDARY_CAP + Duration::from_secs(10));
    }

    #[test]
    fn primary_wait_counts_to_the_reset() {
        assert_eq!(primary_wait(Some(1002), 1000), Duration::from_secs(3));
        assert_eq!(primary_wait(Some(900), 1000), Duration::from_secs(1));
        assert_eq!(primary_wait(None, 0), Duration::from_secs(3600));
    }

    #[test]
    fn parses_link_headers() {
        let h = "<https://api.github.com/x?page=2>; rel=\"next\", <https://api.github.com/x?page=5>; rel=\"last\"";
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/x?page=2")
        );
        let last = "<https://a/x?page=1>; rel=\"prev\", <https://a/x?page=1>; rel=\"first\"";
        assert_eq!(next_link(last), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn parses_and_prints_durations() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("42").unwrap(), Duration::from_secs(42));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(human(Duration::from_secs(7200)), "2h 0m");
        assert_eq!(human(Duration::from_secs(65)), "1m 5s");
    }
}
