//! Query-string parsing: every parameter is checked on its own so that a bad one is answered
//! with 400 naming it. Pure: no I/O (the default window takes the newest trace as input).

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;

use super::error::ApiError;
use crate::metrics::association::PrimarySpec;
use crate::report::{ReportParams, ReportRequest, MAX_LAG};
use crate::slug::RepoSlug;
use crate::stats::adjusted::Adjust;
use crate::stats::calendar::{local_day, parse_timezone, DayWindow, MAX_WINDOW_DAYS};
use crate::store::sessions::{SessionSort, SortOrder, MAX_PER_PAGE};

/// Days in the default window (ending at the newest trace day).
pub const DEFAULT_WINDOW_DAYS: u64 = 28;

/// Longest accepted text value (developer, model, glob).
const MAX_TEXT: usize = 200;

/// Most values of a repeatable parameter.
const MAX_REPEAT: usize = 50;

/// Parameters of the report's filters that narrow rows or the window.
pub const FILTER_KEYS: [&str; 7] = [
    "repo",
    "since",
    "until",
    "timezone",
    "developer",
    "team",
    "model",
];

/// Parameters of the report that only change how it is computed.
pub const REPORT_ONLY_KEYS: [&str; 7] = [
    "lag",
    "max_lag",
    "policy_model",
    "business_days",
    "exact",
    "primary",
    "adjust",
];

/// Parameters of a paginated list.
pub const PAGE_KEYS: [&str; 4] = ["page", "per_page", "sort", "order"];

/// The decoded `name=value` pairs of a query string, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    /// Decodes a raw query string (`a=1&b=2`; `+` is a space).
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// 400 for the first parameter whose name is in none of `allowed`.
    pub fn reject_unknown(&self, allowed: &[&[&str]]) -> Result<(), ApiError> {
        match self
            .0
            .iter()
            .find(|(k, _)| !allowed.iter().any(|set| set.contains(&k.as_str())))
        {
            Some((k, _)) => Err(ApiError::bad_parameter(
                &printable(k),
                format!("unknown parameter {:?}", printable(k)),
            )),
            None => Ok(()),
        }
    }

    /// The value of a parameter given at most once; empty (or blank) counts as absent.
    pub fn one<'a>(&'a self, name: &'a str) -> Result<Option<&'a str>, ApiError> {
        let mut values = self.many(name);
        match (values.next(), values.next()) {
            (_, Some(_)) => Err(ApiError::bad_parameter(
                name,
                format!("{name} is given more than once"),
            )),
            (v, None) => Ok(v),
        }
    }

    /// Every non-blank value of a repeatable parameter, trimmed.
    pub fn many<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// A name made safe to echo: control characters dropped, at most 64 characters.
fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

fn text(name: &str, v: &str) -> Result<String, ApiError> {
    if v.chars().count() > MAX_TEXT || v.chars().any(char::is_control) {
        return Err(ApiError::bad_parameter(
            name,
            format!("{name}: at most {MAX_TEXT} characters, no control characters"),
        ));
    }
    Ok(v.to_string())
}

fn day(name: &str, v: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|e| {
        ApiError::bad_parameter(
            name,
            format!("{name} {:?}: {e} (use YYYY-MM-DD)", printable(v)),
        )
    })
}

fn number<T: std::str::FromStr>(name: &str, v: &str, range: &str) -> Result<T, ApiError> {
    v.parse::<T>().map_err(|_| {
        ApiError::bad_parameter(name, format!("{name} {:?}: use {range}", printable(v)))
    })
}

fn flag(q: &QueryPairs, name: &str) -> Result<bool, ApiError> {
    match q.one(name)? {
        None => Ok(false),
        Some("1" | "true" | "on" | "yes") => Ok(true),
        Some("0" | "false" | "off" | "no") => Ok(false),
        Some(v) => Err(ApiError::bad_parameter(
            name,
            format!("{name} {:?}: use true or false", printable(v)),
        )),
    }
}

fn lag(q: &QueryPairs, name: &str, default: usize) -> Result<usize, ApiError> {
    let range = format!("an integer from 0 to {MAX_LAG}");
    match q.one(name)? {
        None => Ok(default),
        Some(v) => {
            let n: usize = number(name, v, &range)?;
            if n > MAX_LAG {
                return Err(ApiError::bad_parameter(
                    name,
                    format!("{name} {n}: use {range}"),
                ));
            }
            Ok(n)
        }
    }
}

/// The report's filters from a query, each one validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Filters {
    /// Repos (`owner/name`, validated, de-duplicated); empty for every repo.
    pub repos: Vec<String>,
    /// First day, when given.
    pub since: Option<NaiveDate>,
    /// Last day, when given.
    pub until: Option<NaiveDate>,
    /// Timezone of the day buckets.
    pub tz: Tz,
    /// Only this developer (any case).
    pub developer: Option<String>,
    /// Only this team's developers.
    pub team: Option<String>,
    /// Only this model.
    pub model: Option<String>,
    /// `lag`: lag of the seed's association block.
    pub lag: usize,
    /// `max_lag`: largest lag in `associations`.
    pub max_lag: usize,
    /// `policy_model` globs.
    pub policy_models: Vec<String>,
    /// `business_days`.
    pub business_days: bool,
    /// `exact`.
    pub exact: bool,
    /// `primary`: the headline question `AI:OUTCOME:LAG`.
    pub primary: PrimarySpec,
    /// `adjust`: `calendar` (default) or `none`.
    pub adjust: Adjust,
}

impl Default for Filters {
    fn default() -> Self {
        let d = ReportParams::default();
        Self {
            repos: Vec::new(),
            since: None,
            until: None,
            tz: chrono_tz::UTC,
            developer: None,
            team: None,
            model: None,
            lag: d.lag_days,
            max_lag: d.max_lag,
            policy_models: Vec::new(),
            business_days: false,
            exact: false,
            primary: PrimarySpec::default(),
            adjust: Adjust::Calendar,
        }
    }
}

impl Filters {
    /// Reads the filters of `q` (unknown parameters are the caller's to reject).
    pub fn parse(q: &QueryPairs) -> Result<Self, ApiError> {
        let d = Self::default();
        let mut repos: Vec<String> = Vec::new();
        for raw in q.many("repo") {
            let slug = RepoSlug::parse(raw)
                .map_err(|e| ApiError::bad_parameter("repo", e.to_string()))?
                .as_str()
                .to_string();
            if !repos.contains(&slug) {
                repos.push(slug);
            }
        }
        if repos.len() > MAX_REPEAT {
            return Err(ApiError::bad_parameter(
                "repo",
                format!("at most {MAX_REPEAT} repos"),
            ));
        }
        let mut policy_models = Vec::new();
        for g in q.many("policy_model") {
            policy_models.push(text("policy_model", g)?);
        }
        if policy_models.len() > MAX_REPEAT {
            return Err(ApiError::bad_parameter(
                "policy_model",
                format!("at most {MAX_REPEAT} globs"),
            ));
        }
        let tz = match q.one("timezone")? {
            None => d.tz,
            Some(v) => {
                parse_timezone(v).map_err(|e| ApiError::bad_parameter("timezone", e.to_string()))?
            }
        };
        Ok(Self {
            repos,
            since: q.one("since")?.map(|v| day("since", v)).transpose()?,
            until: q.one("until")?.map(|v| day("until", v)).transpose()?,
            tz,
            developer: q
                .one("developer")?
                .map(|v| text("developer", v))
                .transpose()?,
            team: q.one("team")?.map(|v| text("team", v)).transpose()?,
            model: q.one("model")?.map(|v| text("model", v)).transpose()?,
            lag: lag(q, "lag", d.lag)?,
            max_lag: lag(q, "max_lag", d.max_lag)?,
            policy_models,
            business_days: flag(q, "business_days")?,
            exact: flag(q, "exact")?,
            primary: match q.one("primary")? {
                None => d.primary,
                Some(v) => v
                    .parse()
                    .map_err(|e: String| ApiError::bad_parameter("primary", printable(&e)))?,
            },
            adjust: match q.one("adjust")? {
                None => d.adjust,
                Some(v) => <Adjust as clap::ValueEnum>::from_str(v, true).map_err(|_| {
                    ApiError::bad_parameter(
                        "adjust",
                        format!("adjust {:?}: use calendar or none", printable(v)),
                    )
                })?,
            },
        })
    }

    /// The day window: `until` defaults to the day of the newest trace (today when there is
    /// none, or when `since` is after it); `since` to [`DEFAULT_WINDOW_DAYS`] days ending at
    /// `until`.
    pub fn window(
        &self,
        newest: Option<DateTime<Utc>>,
        today: NaiveDate,
    ) -> Result<DayWindow, ApiError> {
        let until = match self.until {
            Some(u) => u,
            None => match newest.map(|t| local_day(t, self.tz)) {
                Some(n) if self.since.is_none_or(|s| s <= n) => n,
                _ => today,
            },
        };
        let since = match self.since {
            Some(s) => s,
            None => until
                .checked_sub_days(Days::new(DEFAULT_WINDOW_DAYS - 1))
                .unwrap_or(until),
        };
        if since > until {
            return Err(ApiError::bad_parameter(
                "since",
                format!("since {since} is after until {until}"),
            ));
        }
        DayWindow::new(since, until).map_err(|_| {
            ApiError::bad_parameter(
                "since",
                format!("the window is longer than {MAX_WINDOW_DAYS} days"),
            )
        })
    }

    /// The validated report request over `window`.
    #[allow(clippy::needless_update)]
    pub fn request(&self, window: &DayWindow) -> Result<ReportRequest, ApiError> {
        let params = ReportParams {
            repos: self.repos.clone(),
            since: window.since().to_string(),
            until: Some(window.until().to_string()),
            timezone: self.tz.name().to_string(),
            lag_days: self.lag,
            max_lag: self.max_lag,
            policy_models: self.policy_models.clone(),
            business_days: self.business_days,
            exact: self.exact,
            developer: self.developer.clone(),
            team: self.team.clone(),
            model: self.model.clone(),
            primary: self.primary.to_string(),
            adjust: self.adjust,
            // Fields added later keep their defaults.
            ..ReportParams::default()
        };
        // Every field was checked above; a refusal here is a window the calendar cannot map.
        if self.developer.is_some() && self.team.is_some() {
            return Err(ApiError::bad_parameter(
                "team",
                "developer and team: give one",
            ));
        }
        let mut req = ReportRequest::from_params(&params, "")
            .map_err(|e| ApiError::bad_parameter("since", e.to_string()))?;
        // The PR comparison is on the dashboard's pull request page, computed when asked for.
        req.with_cohorts = false;
        Ok(req)
    }

    /// The filters as a query string (defaults left out), for links between pages.
    pub fn to_query(&self, with_report_options: bool) -> String {
        let d = Self::default();
        let mut s = form_urlencoded::Serializer::new(String::new());
        for r in &self.repos {
            s.append_pair("repo", r);
        }
        if let Some(v) = self.since {
            s.append_pair("since", &v.to_string());
        }
        if let Some(v) = self.until {
            s.append_pair("until", &v.to_string());
        }
        if self.tz != d.tz {
            s.append_pair("timezone", self.tz.name());
        }
        if let Some(v) = &self.developer {
            s.append_pair("developer", v);
        }
        if let Some(v) = &self.team {
            s.append_pair("team", v);
        }
        if let Some(v) = &self.model {
            s.append_pair("model", v);
        }
        if with_report_options {
            if self.lag != d.lag {
                s.append_pair("lag", &self.lag.to_string());
            }
            if self.max_lag != d.max_lag {
                s.append_pair("max_lag", &self.max_lag.to_string());
            }
            for g in &self.policy_models {
                s.append_pair("policy_model", g);
            }
            if self.business_days {
                s.append_pair("business_days", "true");
            }
            if self.exact {
                s.append_pair("exact", "true");
            }
            if self.primary != d.primary {
                s.append_pair("primary", &self.primary.to_string());
            }
            if self.adjust != d.adjust {
                s.append_pair("adjust", self.adjust.name());
            }
        }
        s.finish()
    }
}

/// Page, size and order of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Page number, from 1.
    pub page: u32,
    /// Rows per page.
    pub per_page: u32,
    /// Sort key.
    pub sort: SessionSort,
    /// Direction.
    pub order: SortOrder,
}

/// Default rows per page.
pub const DEFAULT_PER_PAGE: u32 = 50;

impl Paging {
    /// Reads `page`, `per_page`, `sort` and `order`.
    pub fn parse(q: &QueryPairs) -> Result<Self, ApiError> {
        let page = match q.one("page")? {
            None => 1,
            Some(v) => number::<u32>("page", v, "an integer ≥ 1")?,
        };
        if page == 0 {
            return Err(ApiError::bad_parameter("page", "page 0: pages start at 1"));
        }
        let range = format!("an integer from 1 to {MAX_PER_PAGE}");
        let per_page = match q.one("per_page")? {
            None => DEFAULT_PER_PAGE,
            Some(v) => number::<u32>("per_page", v, &range)?,
        };
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(ApiError::bad_parameter(
                "per_page",
                format!("per_page {per_page}: use {range}"),
            ));
        }
        let sort = match q.one("sort")? {
            None => SessionSort::default(),
            Some(v) => SessionSort::parse(v).ok_or_else(|| {
                let names: Vec<&str> = SessionSort::ALL.iter().map(|s| s.name()).collect();
                ApiError::bad_parameter(
                    "sort",
                    format!("sort {:?}: use one of {}", printable(v), names.join(", ")),
                )
            })?,
        };
        let order = match q.one("order")? {
            None => SortOrder::default(),
            Some(v) => SortOrder::parse(v).ok_or_else(|| {
                ApiError::bad_parameter(
                    "order",
                    format!("order {:?}: use asc or desc", printable(v)),
                )
            })?,
        };
        Ok(Self {
            page,
            per_page,
            sort,
            order,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(raw: &str) -> QueryPairs {
        QueryPairs::parse(Some(raw))
    }

    fn param_of(e: ApiError) -> String {
        assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        e.parameter.unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn every_bad_filter_is_named() {
        for (raw, name) in [
            ("since=2025-13-01", "since"),
            ("until=yesterday", "until"),
            ("timezone=Mars/Olympus", "timezone"),
            ("repo=../../etc", "repo"),
            ("lag=61", "lag"),
            ("lag=-1", "lag"),
            ("max_lag=x", "max_lag"),
            ("business_days=maybe", "business_days"),
            ("exact=2", "exact"),
            ("since=2025-01-01&since=2025-02-01", "since"),
            ("developer=a%00b", "developer"),
        ] {
            assert_eq!(
                param_of(Filters::parse(&q(raw)).unwrap_err()),
                name,
                "{raw}"
            );
        }
        let long = format!("model={}", "m".repeat(MAX_TEXT + 1));
        assert_eq!(param_of(Filters::parse(&q(&long)).unwrap_err()), "model");
    }

    #[test]
    fn good_filters_parse_and_round_trip() {
        let raw = "repo=acme/api&repo=acme/web&repo=acme/api&since=2025-09-01&until=2025-09-30\
                   &timezone=Europe/Berlin&developer=dev-1&model=gpt-4o&lag=2&max_lag=5\
                   &policy_model=claude-*&business_days=on&exact=true";
        let f = Filters::parse(&q(raw)).unwrap();
        assert_eq!(f.repos, ["acme/api", "acme/web"]);
        assert_eq!(
            (f.since, f.until),
            (Some(date("2025-09-01")), Some(date("2025-09-30")))
        );
        assert_eq!(f.tz, chrono_tz::Europe::Berlin);
        assert_eq!(
            (f.lag, f.max_lag, f.business_days, f.exact),
            (2, 5, true, true)
        );
        assert_eq!(Filters::parse(&q(&f.to_query(true))).unwrap(), f);
        // Blank form fields are absent.
        let blank = Filters::parse(&q("repo=&since=&developer=+&model=")).unwrap();
        assert_eq!(blank, Filters::default());
        assert_eq!(blank.to_query(true), "");
    }

    #[test]
    fn unknown_parameters_are_refused() {
        let e = q("since=2025-01-01&sice=2025-01-02").reject_unknown(&[&FILTER_KEYS]);
        assert_eq!(param_of(e.unwrap_err()), "sice");
        assert!(q("page=2&repo=a/b")
            .reject_unknown(&[&FILTER_KEYS, &PAGE_KEYS])
            .is_ok());
    }

    #[test]
    fn default_window_ends_at_the_newest_trace_day() {
        let today = date("2025-12-01");
        let newest: DateTime<Utc> = "2025-10-12T23:30:00Z".parse().unwrap();
        let w = Filters::default().window(Some(newest), today).unwrap();
        assert_eq!(
            (w.since(), w.until()),
            (date("2025-09-15"), date("2025-10-12"))
        );
        assert_eq!(w.len(), DEFAULT_WINDOW_DAYS as usize);
        // In Berlin the newest call falls on the 13th.
        let berlin = Filters {
            tz: chrono_tz::Europe::Berlin,
            ..Filters::default()
        };
        assert_eq!(
            berlin.window(Some(newest), today).unwrap().until(),
            date("2025-10-13")
        );
        // An empty store ends at today; a since after the newest day too.
        assert_eq!(
            Filters::default().window(None, today).unwrap().until(),
            today
        );
        let late = Filters {
            since: Some(date("2025-11-01")),
            ..Filters::default()
        };
        let w = late.window(Some(newest), today).unwrap();
        assert_eq!((w.since(), w.until()), (date("2025-11-01"), today));
        let backwards = Filters {
            since: Some(date("2025-10-05")),
            until: Some(date("2025-10-01")),
            ..Filters::default()
        };
        assert_eq!(
            param_of(backwards.window(None, today).unwrap_err()),
            "since"
        );
    }

    #[test]
    fn paging_bounds() {
        let p = Paging::parse(&q("")).unwrap();
        assert_eq!(
            (p.page, p.per_page, p.sort, p.order),
            (1, 50, SessionSort::LastSeen, SortOrder::Desc)
        );
        let p = Paging::parse(&q("page=3&per_page=500&sort=cost&order=asc")).unwrap();
        assert_eq!(
            (p.page, p.per_page, p.sort, p.order),
            (3, 500, SessionSort::Cost, SortOrder::Asc)
        );
        for (raw, name) in [
            ("page=0", "page"),
            ("page=-2", "page"),
            ("page=1.5", "page"),
            ("per_page=0", "per_page"),
            ("per_page=501", "per_page"),
            ("sort=cost;drop", "sort"),
            ("sort=COST", "sort"),
            ("order=up", "order"),
        ] {
            assert_eq!(param_of(Paging::parse(&q(raw)).unwrap_err()), name, "{raw}");
        }
    }
}
