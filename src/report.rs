//! Building a report from the store: validated parameters in, [`Report`] out. Shared by the
//! `report` command and the dashboard server, so both compute the same numbers.

use crate::store::prelude::*;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{Error, Result};
use crate::metrics::association::PrimarySpec;
use crate::metrics::input::RepoData;
use crate::metrics::Freshness;
use crate::metrics::{self, Metadata, Report, ReportOptions, Service};
use crate::privacy::teams::{self, TeamMap};
use crate::privacy::Privacy;
use crate::slug::RepoSlug;
use crate::stats::adjusted::Adjust;
use crate::stats::calendar::{hour_aligned, local_day, parse_timezone, DayWindow};
use crate::store::report_data::{RepoRead, TraceFilter};

/// Local services whose presence is reported in `metadata.runtime_profile`.
pub const SERVICES: [(&str, u16); 3] = [("litellm", 4000), ("phoenix", 6006), ("arize", 8080)];

/// Largest lag accepted by `--lag-days` and `--max-lag`.
pub const MAX_LAG: usize = 60;

/// Which of the local LLM-tooling services accept a TCP connection on 127.0.0.1.
pub fn runtime_profile() -> Vec<Service> {
    SERVICES
        .iter()
        .map(|&(name, port)| Service {
            name: name.to_string(),
            port,
            answering: TcpStream::connect_timeout(
                &SocketAddr::from(([127, 0, 0, 1], port)),
                Duration::from_millis(150),
            )
            .is_ok(),
        })
        .collect()
}

/// Report parameters as a user gives them (flags or query string), before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportParams {
    /// Repos (`owner/name`); empty for every repo in the store.
    pub repos: Vec<String>,
    /// First day, `YYYY-MM-DD` in `timezone`; empty for [`DEFAULT_WINDOW_DAYS`] days ending at
    /// `until` (see [`fill_window`]).
    pub since: String,
    /// Last day, included; `None` for the last day with data (see [`fill_window`]), else today.
    pub until: Option<String>,
    /// IANA timezone of the day buckets.
    pub timezone: String,
    /// Lag of the seed's `ai_outcome_association` block.
    pub lag_days: usize,
    /// Largest lag in `associations`.
    pub max_lag: usize,
    /// Model policy globs.
    pub policy_models: Vec<String>,
    /// Drop weekends from the association series.
    pub business_days: bool,
    /// Scan rows instead of rollups.
    pub exact: bool,
    /// Only calls (and commits / PRs) of this developer.
    pub developer: Option<String>,
    /// Only calls of this model.
    pub model: Option<String>,
    /// What the association series are adjusted for.
    pub adjust: Adjust,
    /// Within-weekday permutations per association (0: none).
    pub permutations: usize,
    /// Days (`YYYY-MM-DD`) dropped from both association series.
    pub holidays: Vec<String>,
    /// The headline question `AI:OUTCOME:LAG`.
    pub primary: String,
    /// Identity links (`developer_id`, `github_login`) on top of the stored ones.
    pub identity_map: Vec<(String, String)>,
    /// Only this team's calls, commits and PRs.
    pub team: Option<String>,
    /// Team entries (`member`, `team`) on top of the stored ones.
    pub teams: Vec<(String, String)>,
}

impl Default for ReportParams {
    fn default() -> Self {
        Self {
            repos: Vec::new(),
            since: String::new(),
            until: None,
            timezone: "UTC".into(),
            lag_days: 1,
            max_lag: 3,
            policy_models: Vec::new(),
            business_days: false,
            exact: false,
            developer: None,
            model: None,
            adjust: Adjust::Calendar,
            permutations: 0,
            holidays: Vec::new(),
            primary: PrimarySpec::default().to_string(),
            identity_map: Vec::new(),
            team: None,
            teams: Vec::new(),
        }
    }
}

/// Days in the default window when `--since` is not given.
pub const DEFAULT_WINDOW_DAYS: u64 = 28;
/// Most shuffles `--permutations` accepts.
pub const MAX_PERMUTATIONS: usize = 100_000;

/// The last day (in `tz`, never after today) with trace or GitHub data for `repos` (every repo
/// when empty).
pub fn last_data_day(
    store: &dyn ReportStore,
    repos: &[String],
    tz: chrono_tz::Tz,
) -> Result<Option<NaiveDate>> {
    let all;
    let repos = if repos.is_empty() {
        all = store.report_repos()?;
        &all
    } else {
        repos
    };
    let mut last = None;
    for repo in repos {
        if let Some(t) = store.coverage(repo)?.last_data() {
            last = last.max(Some(local_day(t, tz)));
        }
    }
    // A commit's author date is whatever its author's clock said: never past today.
    Ok(last.map(|d| d.min(local_day(Utc::now(), tz))))
}

/// Fills a missing `until` with the last day with data for the repos (today when the store has
/// none; `since` itself when `since` lies after the data) and a missing `since` with
/// [`DEFAULT_WINDOW_DAYS`] days ending at `until`.
pub fn fill_window(store: &dyn ReportStore, p: &ReportParams) -> Result<ReportParams> {
    let mut p = p.clone();
    let tz = parse_timezone(&p.timezone)
        .map_err(|e| Error::InvalidArgument(format!("--timezone: {e}")))?;
    let since = match p.since.trim() {
        "" => None,
        s => Some(parse_day("--since", s)?),
    };
    if p.until.as_deref().is_none_or(|u| u.trim().is_empty()) {
        let repos: Vec<String> = p
            .repos
            .iter()
            .map(|r| RepoSlug::parse(r).map(|s| s.as_str().to_string()))
            .collect::<std::result::Result<_, _>>()?;
        let until = match last_data_day(store, &repos, tz)? {
            Some(d) if since.is_none_or(|s| s <= d) => d,
            Some(_) => since.unwrap_or_else(|| local_day(Utc::now(), tz)),
            None => local_day(Utc::now(), tz),
        };
        p.until = Some(until.to_string());
    }
    if since.is_none() {
        let until = parse_day("--until", p.until.as_deref().unwrap_or_default())?;
        let since = until
            .checked_sub_days(chrono::Days::new(DEFAULT_WINDOW_DAYS - 1))
            .unwrap_or(until);
        p.since = since.to_string();
    }
    Ok(p)
}

/// A validated report request.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// Repos, validated and de-duplicated (empty: all).
    pub repos: Vec<String>,
    /// Computation options.
    pub options: ReportOptions,
    /// Canonical timezone name.
    pub timezone: String,
    /// Scan rows instead of rollups.
    pub exact: bool,
    /// Developer / model filter on the rows read.
    pub filter: TraceFilter,
    /// Identity links given with the request (`--identity-map`), on top of the stored ones.
    pub identity_map: Vec<(String, String)>,
    /// Compare AI-assisted with other merged PRs (the dashboard does it on its PR page).
    pub with_cohorts: bool,
    /// Team entries (`member`, `team`) given with the request, on top of the stored ones.
    pub teams: Vec<(String, String)>,
    /// Pseudonyms and group sizes applied to the result.
    pub privacy: Privacy,
}

fn parse_day(what: &str, raw: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|e| Error::InvalidArgument(format!("{what} {raw:?}: {e} (use YYYY-MM-DD)")))
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl ReportRequest {
    /// Validates `p`; `what` prefixes name the flag (`--since`) or parameter (`since`).
    pub fn from_params(p: &ReportParams, flag_prefix: &str) -> Result<Self> {
        let name = |n: &str| format!("{flag_prefix}{n}");
        let tz = parse_timezone(&p.timezone)
            .map_err(|e| Error::InvalidArgument(format!("{}: {e}", name("timezone"))))?;
        let until = match &p.until {
            Some(u) if !u.trim().is_empty() => parse_day(&name("until"), u)?,
            _ => local_day(Utc::now(), tz),
        };
        let since = match p.since.trim() {
            "" => until
                .checked_sub_days(chrono::Days::new(DEFAULT_WINDOW_DAYS - 1))
                .unwrap_or(until),
            s => parse_day(&name("since"), s)?,
        };
        let primary: PrimarySpec = p
            .primary
            .parse()
            .map_err(|e| Error::InvalidArgument(format!("{}: {e}", name("primary"))))?;
        if primary.lag > MAX_LAG {
            return Err(Error::InvalidArgument(format!(
                "{}: lag {} is above {MAX_LAG}",
                name("primary"),
                primary.lag
            )));
        }
        if p.permutations > MAX_PERMUTATIONS {
            return Err(Error::InvalidArgument(format!(
                "{}: use 0 to {MAX_PERMUTATIONS}",
                name("permutations")
            )));
        }
        if non_empty(&p.developer).is_some() && non_empty(&p.team).is_some() {
            return Err(Error::InvalidArgument(format!(
                "{} and {}: give one",
                name("developer"),
                name("team")
            )));
        }
        let mut holidays = std::collections::BTreeSet::new();
        for h in &p.holidays {
            holidays.insert(parse_day(&name("holiday"), h)?);
        }
        let window = DayWindow::new(since, until)
            .map_err(|e| Error::InvalidArgument(format!("window: {e}")))?;
        if p.max_lag > MAX_LAG || p.lag_days > MAX_LAG {
            return Err(Error::InvalidArgument(format!(
                "{} and {}: use 0 to {MAX_LAG}",
                name("max-lag"),
                name("lag-days")
            )));
        }
        let mut repos = Vec::new();
        for raw in &p.repos {
            let slug = RepoSlug::parse(raw)?.as_str().to_string();
            if !repos.contains(&slug) {
                repos.push(slug);
            }
        }
        Ok(Self {
            repos,
            options: ReportOptions {
                window,
                tz,
                business_days: p.business_days,
                lag_days: p.lag_days,
                max_lag: p.max_lag,
                policy_models: p.policy_models.clone(),
                q: crate::stats::multiple::DEFAULT_Q,
                adjust: p.adjust,
                permutations: p.permutations,
                holidays,
                primary,
            },
            timezone: tz.name().to_string(),
            exact: p.exact,
            filter: TraceFilter {
                developer: non_empty(&p.developer),
                linked: Vec::new(),
                model: non_empty(&p.model),
                team: non_empty(&p.team),
            },
            identity_map: p.identity_map.clone(),
            with_cohorts: true,
            teams: p.teams.clone(),
            privacy: Privacy::off(),
        })
    }
}

/// Where the trace-side numbers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceMode {
    /// The hourly rollups (percentiles from sketches).
    Rollups,
    /// Every row of the window, as asked with `--exact`.
    Exact,
    /// Every row of the window because the rollups cannot answer (the reason).
    Fallback(String),
}

impl TraceMode {
    /// The `metadata.mode` value: `rollups`, `exact` or `exact-fallback`.
    pub fn name(&self) -> &'static str {
        match self {
            TraceMode::Rollups => "rollups",
            TraceMode::Exact => "exact",
            TraceMode::Fallback(_) => "exact-fallback",
        }
    }
}

/// Chooses rollups unless `--exact` is asked, the store has none yet, or the timezone cannot
/// be re-bucketed from UTC hours over `[start, end)`.
pub fn trace_mode(
    store: &dyn ReportStore,
    req: &ReportRequest,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<TraceMode> {
    if req.exact {
        return Ok(TraceMode::Exact);
    }
    if !store.has_rollups()? {
        return Ok(TraceMode::Fallback(format!(
            "the store (schema version {}) has no rollups yet; open it once with a writing command (e.g. prod-lens rebuild-rollups) to add them",
            store.schema_version()?
        )));
    }
    if !hour_aligned(req.options.tz, start, end) {
        return Ok(TraceMode::Fallback(format!(
            "timezone {} is not a whole number of hours from UTC over the window, so hourly UTC rollups cannot be re-bucketed into its days",
            req.timezone
        )));
    }
    Ok(TraceMode::Rollups)
}

/// Builds the report from the store; `generated_at` and `runtime_profile` are injected.
pub fn build(
    store: &dyn ReportStore,
    req: &ReportRequest,
    generated_at: String,
    runtime_profile: Vec<Service>,
) -> Result<Report> {
    let repos = if req.repos.is_empty() {
        store.report_repos()?
    } else {
        req.repos.clone()
    };
    let (start, end) = req
        .options
        .window
        .utc_bounds(req.options.tz)
        .ok_or_else(|| {
            Error::InvalidArgument("the window lies outside the supported date range".into())
        })?;
    let mode = trace_mode(store, req, start, end)?;
    let linker = std::sync::Arc::new(store.linker(&req.identity_map)?);
    let privacy = &req.privacy;
    let mut team_entries = store.teams()?;
    team_entries.extend(req.teams.iter().cloned());
    let team_map = TeamMap::new(&team_entries, &store.trace_teams()?);
    // One person under every id linked to them: the filter matches all of them.
    let mut filter = req.filter.clone();
    if let Some(asked) = &req.filter.developer {
        privacy.refuse_developer_view("a developer filter")?;
        let ids = store.developer_ids()?;
        let known = linker.names_of_all(&ids);
        let dev = privacy
            .resolve_developer(asked, known.iter().map(String::as_str))
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "developer {asked:?}: no developer has this pseudonym"
                ))
            })?;
        let person = linker.person(&dev).into_owned();
        filter.linked = linker.ids_of(&person, ids.iter().map(String::as_str));
        filter.developer = Some(dev);
    }
    if let Some(team) = &req.filter.team {
        let ids = store.developer_ids()?;
        let (members, people) = team_members(team, &team_map, &team_entries, &linker, &ids)?;
        if people < privacy.min_group_size && !privacy.show_developers {
            return Err(Error::InvalidArgument(format!(
                "team {team:?} has {people} developers, below the minimum group size {}: its report would describe individuals",
                privacy.min_group_size
            )));
        }
        filter.linked = members;
    }
    let read = RepoRead {
        start,
        end,
        filter: &filter,
        tz: req.options.tz,
        rollups: mode == TraceMode::Rollups,
    };
    let (mut data, freshness): (Vec<RepoData>, Vec<Freshness>) =
        store.report_data_each(&repos, &read)?.into_iter().unzip();
    for d in &mut data {
        d.linker = Some(linker.clone());
    }
    let w = &req.options.window;
    let metadata = Metadata {
        repos: repos.clone(),
        since: w.since().to_string(),
        until: w.until().to_string(),
        timezone: req.timezone.clone(),
        business_days: req.options.business_days,
        lag_days: req.options.lag_days,
        max_lag: req.options.max_lag,
        developer: filter.developer.clone(),
        team: filter.team.clone(),
        model: req.filter.model.clone(),
        mode: mode.name().into(),
        generated_at,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        freshness,
        runtime_profile,
    };
    // Which PRs AI helped with, and how they compare (strict attribution: branch or trailer);
    // computed without developer, team or model filters only, and left to the dashboard's PR
    // page there. The listing reads the store on this thread while the metrics are computed
    // beside it.
    let unfiltered = filter.developer.is_none() && filter.team.is_none() && filter.model.is_none();
    let (computed, listing) = std::thread::scope(|scope| {
        let computing = scope.spawn(|| metrics::compute(&data, &req.options, metadata));
        let listing = (req.with_cohorts && unfiltered).then(|| {
            crate::prs::build_with(
                store,
                &crate::prs::PrsRequest {
                    repos: repos.clone(),
                    start,
                    end,
                    identity_map: req.identity_map.clone(),
                    ..crate::prs::PrsRequest::default()
                },
                &linker,
                Utc::now(),
            )
        });
        let computed = computing
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (computed, listing)
    });
    let mut report = computed?;
    for m in report.metrics.values_mut() {
        m.teams = teams::summarize(&m.developers, &team_map);
    }
    if let TraceMode::Fallback(why) = &mode {
        report.warnings.push(format!(
            "{why}: every trace row of the window was scanned (mode exact-fallback, exact percentiles)"
        ));
    }
    if req.filter.model.is_some() {
        report.warnings.push(
            "the model filter applies to calls only: commits and merged PRs are the repo's (or the developer's)".into(),
        );
    }
    if let Some(listing) = listing.transpose()? {
        report.cohorts = listing.cohorts;
        report.cohort_comparison = Some(listing.cohort_comparison);
        report.assisted_cost = listing.assisted_cost;
    }
    let without_repo = store.calls_without_repo(start, end)?;
    if without_repo > 0 && unfiltered {
        let with_repo: u64 = report.metrics.values().map(|m| m.velocity.requests).sum();
        let share = without_repo as f64 / (without_repo as f64 + with_repo as f64);
        report.warnings.push(format!(
            "{without_repo} calls in the window ({:.1} % of all calls) are stored without a repo and appear in no per-repo figure",
            share * 100.0
        ));
    }
    if repos.is_empty() {
        report
            .warnings
            .insert(0, "the store holds no repo data yet".into());
    }
    privacy.apply_report(&mut report);
    Ok(report)
}

/// The ids and logins of a team's members (for the row filter) and how many people they are:
/// every stored developer id whose team (through its login) is `team`, and the file's members.
fn team_members(
    team: &str,
    map: &TeamMap,
    entries: &[(String, String)],
    linker: &crate::identity::Linker,
    ids: &[String],
) -> Result<(Vec<String>, usize)> {
    if !map.has_team(team) {
        let known: Vec<&str> = map.teams().into_iter().collect();
        return Err(Error::InvalidArgument(format!(
            "team {team:?} is not a team of this store (teams: {}); store a teams file with `prod-lens teams FILE`",
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        )));
    }
    let mut members = std::collections::BTreeSet::new();
    let mut people = std::collections::BTreeSet::new();
    for id in ids {
        let person = linker.person(id);
        if map.team_of([person.as_ref(), id.as_str()]).map(|(t, _)| t) == Some(team) {
            people.insert(person.to_ascii_lowercase());
            members.insert(id.to_ascii_lowercase());
            members.insert(person.to_ascii_lowercase());
        }
    }
    for (member, t) in entries {
        // A member named in the file but without calls (a GitHub login, say) still counts, unless
        // a later entry moved them.
        if t == team && map.team_of([member.as_str()]).map(|(t, _)| t) == Some(team) {
            let m = member.trim().to_ascii_lowercase();
            people.insert(linker.person(&m).to_ascii_lowercase());
            members.insert(m);
        }
    }
    Ok((members.into_iter().collect(), people.len()))
}
