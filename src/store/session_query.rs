//! What a sessions list is asked and answers, and the pure rules both stores' queries share:
//! paging, the ids a developer filter matches, the developer a row shows, and how a window splits
//! into whole UTC days (read from the rollups) and partial ones (read from the rows).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::identity::Linker;

/// Largest accepted `per_page`.
pub const MAX_PER_PAGE: u32 = 500;

/// Column a sessions list is sorted by (the only sort keys accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionSort {
    /// Time of the session's latest call.
    #[default]
    LastSeen,
    /// Calls.
    Requests,
    /// Prompt plus completion tokens.
    Tokens,
    /// Known cost.
    Cost,
    /// Failed calls.
    Errors,
    /// Developer id.
    Developer,
}

impl SessionSort {
    /// Every sort key, in the order they are documented.
    pub const ALL: [SessionSort; 6] = [
        SessionSort::LastSeen,
        SessionSort::Requests,
        SessionSort::Tokens,
        SessionSort::Cost,
        SessionSort::Errors,
        SessionSort::Developer,
    ];

    /// The key's name in query strings (`last_seen`, `requests`, …).
    pub fn name(self) -> &'static str {
        match self {
            SessionSort::LastSeen => "last_seen",
            SessionSort::Requests => "requests",
            SessionSort::Tokens => "tokens",
            SessionSort::Cost => "cost",
            SessionSort::Errors => "errors",
            SessionSort::Developer => "developer",
        }
    }

    /// The key named `name`, if it is one of [`SessionSort::ALL`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The SQL expression sorted on: a fixed string, never built from input.
    pub(in crate::store) fn column(self) -> &'static str {
        match self {
            SessionSort::LastSeen => "last_us",
            SessionSort::Requests => "requests",
            SessionSort::Tokens => "tokens",
            SessionSort::Cost => "cost",
            SessionSort::Errors => "errors",
            SessionSort::Developer => "developer",
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Smallest first.
    Asc,
    /// Largest first.
    #[default]
    Desc,
}

impl SortOrder {
    /// `asc` or `desc`.
    pub fn name(self) -> &'static str {
        match self {
            SortOrder::Asc => "asc",
            SortOrder::Desc => "desc",
        }
    }

    /// `asc` or `desc` into the order.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "asc" => Some(SortOrder::Asc),
            "desc" => Some(SortOrder::Desc),
            _ => None,
        }
    }

    /// `ASC` or `DESC`.
    pub(in crate::store) fn sql(self) -> &'static str {
        match self {
            SortOrder::Asc => "ASC",
            SortOrder::Desc => "DESC",
        }
    }
}

/// Which sessions to list and how.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionQuery {
    /// Only these repos (`owner/name`); empty for every repo.
    pub repos: Vec<String>,
    /// Only calls at or after this instant (UTC microseconds).
    pub start_us: Option<i64>,
    /// Only calls before this instant (UTC microseconds).
    pub end_us: Option<i64>,
    /// Only calls of this developer (any case).
    pub developer: Option<String>,
    /// Only calls of this model (exact name).
    pub model: Option<String>,
    /// Sort key.
    pub sort: SessionSort,
    /// Sort direction.
    pub order: SortOrder,
    /// Page number, from 1.
    pub page: u32,
    /// Rows per page, 1..=[`MAX_PER_PAGE`].
    pub per_page: u32,
}

impl Default for SessionQuery {
    fn default() -> Self {
        Self {
            repos: Vec::new(),
            start_us: None,
            end_us: None,
            developer: None,
            model: None,
            sort: SessionSort::default(),
            order: SortOrder::default(),
            page: 1,
            per_page: 50,
        }
    }
}

/// One session: the calls of one `session_id` in one repo that match the query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRow {
    /// `owner/name`.
    pub repo: String,
    /// Session id.
    pub session: String,
    /// Developer of the session's calls (the smallest id when several).
    pub developer: Option<String>,
    /// First call (RFC 3339 UTC).
    pub first_seen: String,
    /// Latest call (RFC 3339 UTC).
    pub last_seen: String,
    /// Calls.
    pub requests: u64,
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// Summed known cost (USD).
    pub cost_usd: f64,
    /// Calls whose cost is unknown.
    pub cost_unknown: u64,
    /// Failed calls.
    pub errors: u64,
}

/// One page of sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionPage {
    /// Sessions matching the query over all pages.
    pub total: u64,
    /// This page's number.
    pub page: u32,
    /// Rows per page asked for.
    pub per_page: u32,
    /// This page's rows (empty past the last page).
    pub items: Vec<SessionRow>,
}

/// `us` as RFC 3339 UTC text (empty when out of range).
pub(in crate::store) fn iso(us: i64) -> String {
    crate::time::iso_micros(us).unwrap_or_default()
}

/// How a window is read from the rollups: whole UTC days `[first, last)` from `rollup_sessions`,
/// and the calls before the first and from the end of the last whole day from `traces`
/// (`[start, end)` in µs; `(0, 0)` when there are none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(in crate::store) struct RollupPlan {
    /// Whole UTC days `[first, last)` (day numbers).
    pub(in crate::store) days: (i64, i64),
    /// Calls before the first whole day, `[start, end)` in µs.
    pub(in crate::store) head: (i64, i64),
    /// Calls after the last whole day, `[start, end)` in µs.
    pub(in crate::store) tail: (i64, i64),
}

/// Microseconds in a UTC day.
const DAY_US: i64 = 86_400_000_000;

/// `a / b` rounded towards +∞ (`b` > 0).
fn div_ceil(a: i64, b: i64) -> i64 {
    a.div_euclid(b) + i64::from(a.rem_euclid(b) != 0)
}

/// Checks `q`'s page number and size.
pub(in crate::store) fn check_paging(q: &SessionQuery) -> Result<()> {
    if q.page == 0 || q.per_page == 0 || q.per_page > MAX_PER_PAGE {
        return Err(Error::InvalidArgument(format!(
            "page must be ≥ 1 and per_page 1..={MAX_PER_PAGE}"
        )));
    }
    Ok(())
}

/// Rows before `q`'s page.
pub(in crate::store) fn page_offset(q: &SessionQuery) -> i64 {
    i64::from(q.page.saturating_sub(1)) * i64::from(q.per_page)
}

/// The lower-case (ASCII) developer ids a filter on `developer` matches: every id of `ids`
/// linked to the same person, and `developer` itself.
pub(in crate::store) fn developer_names(
    l: &Linker,
    developer: &str,
    ids: &[String],
) -> Vec<String> {
    let person = l.person(developer).into_owned();
    let mut names = l.ids_of(&person, ids.iter().map(String::as_str));
    let own = developer.to_ascii_lowercase();
    if !names.contains(&own) {
        names.push(own);
    }
    names
}

/// The developer a row shows: under a developer filter (`linker` given), the person it belongs to.
pub(in crate::store) fn shown_developer(
    linker: Option<&Linker>,
    dev: Option<String>,
) -> Option<String> {
    match (linker, dev) {
        (Some(l), Some(d)) => Some(l.person(&d).into_owned()),
        (_, d) => d,
    }
}

/// How to read `q` from the rollups (when the store has them), when the window holds a whole UTC
/// day; `None` reads every call of the window from `traces`.
pub(in crate::store) fn rollup_plan(q: &SessionQuery) -> Option<RollupPlan> {
    let first = q.start_us.map_or(i64::MIN, |us| div_ceil(us, DAY_US));
    let last = q.end_us.map_or(i64::MAX, |us| us.div_euclid(DAY_US));
    if first >= last {
        return None;
    }
    // A bound within a day of the i64 range has no midnight to split at: read the rows.
    let (Some(first_us), Some(last_us)) = (
        q.start_us.map_or(Some(0), |_| first.checked_mul(DAY_US)),
        q.end_us.map_or(Some(0), |_| last.checked_mul(DAY_US)),
    ) else {
        return None;
    };
    let head = match q.start_us {
        Some(us) if us < first_us => (us, first_us),
        _ => (0, 0),
    };
    let tail = match q.end_us {
        Some(us) if us > last_us => (last_us, us),
        _ => (0, 0),
    };
    Some(RollupPlan {
        days: (first, last),
        head,
        tail,
    })
}
