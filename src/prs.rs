//! Which pull requests AI helped with: every PR of a window with its evidence, attributed calls,
//! tokens and cost, and the AI-assisted vs other comparison. Shared by `prod-lens prs`, the
//! report and the dashboard.

use crate::store::prelude::*;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::attribution::{attribute, Attribution, AuthorCalls, Evidence, PrEvidence, Trailers};
use crate::error::{Error, Result};
use crate::identity::Linker;
use crate::metrics::cohorts::{compare, Cohort, CohortFamily, CohortPr};

/// One PR of the listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrListRow {
    /// `owner/name`.
    pub repo: String,
    /// PR number.
    pub number: i64,
    /// Author login.
    pub author: Option<String>,
    /// Title.
    pub title: String,
    /// Head branch.
    pub head_ref: Option<String>,
    /// Opened (RFC 3339).
    pub created_at: String,
    /// Merged (RFC 3339), if it was.
    pub merged_at: Option<String>,
    /// Hours from creation to merge.
    pub merge_hours: Option<f64>,
    /// `open`, `closed` or `merged`.
    pub state: String,
    /// Additions + deletions, when GitHub reported them.
    pub size: Option<i64>,
    /// Reverted within 21 days of its merge.
    pub reverted: bool,
    /// Reopened before its merge.
    pub reopened: bool,
    /// AI-assisted under the attribution rule.
    pub ai_assisted: bool,
    /// Kinds of evidence found.
    pub evidence: Vec<Evidence>,
    /// Calls attributed by branch.
    pub ai_calls: u64,
    /// Their tokens.
    pub ai_tokens: i64,
    /// Their known cost.
    pub ai_cost_usd: f64,
    /// The full evidence.
    pub details: PrEvidence,
}

/// Cost of AI per AI-assisted merged PR, from the calls attributed to each PR.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssistedCost {
    /// Repo, or `all`.
    pub repo: String,
    /// AI-assisted PRs merged in the window.
    pub assisted_merged: usize,
    /// Of those, PRs with branch evidence (the others carry no attributed calls, so cost 0:
    /// trailer-only PRs dilute the figure).
    pub with_branch_evidence: usize,
    /// Known cost of the calls attributed to them by branch.
    pub attributed_cost_usd: f64,
    /// attributed_cost_usd / assisted_merged.
    pub per_ai_assisted_merged_pr_usd: Option<f64>,
}

/// The PRs of a window, their attribution and the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrListing {
    /// Which evidence counts (`strict`: branch or trailer; `any`: author_window too).
    pub attribution: Attribution,
    /// Every PR created, merged or closed in the window.
    pub prs: Vec<PrListRow>,
    /// AI-assisted vs other merged PRs.
    pub cohorts: Vec<Cohort>,
    /// The cohort family's BH summary.
    pub cohort_comparison: CohortFamily,
    /// Cost per AI-assisted merged PR.
    pub assisted_cost: Vec<AssistedCost>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct PrsRequest {
    /// Repos (validated); empty for every repo in the store.
    pub repos: Vec<String>,
    /// UTC start of the window.
    pub start: DateTime<Utc>,
    /// UTC end of the window (exclusive).
    pub end: DateTime<Utc>,
    /// Which evidence makes a PR AI-assisted.
    pub attribution: Attribution,
    /// Extra AI trailer regexes.
    pub ai_trailers: Vec<String>,
    /// Identity links on top of the stored ones.
    pub identity_map: Vec<(String, String)>,
    /// Look up each author's calls while their PR was open (author_window evidence); the report
    /// skips it unless `attribution` is `any`.
    pub author_window: bool,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Builds the listing from the store; `now` ends the span of PRs still open.
pub fn build(store: &dyn PrStore, req: &PrsRequest, now: DateTime<Utc>) -> Result<PrListing> {
    let linker = store.linker(&req.identity_map)?;
    build_with(store, req, &linker, now)
}

/// [`build`] with the store's identity links already read.
pub fn build_with(
    store: &dyn PrStore,
    req: &PrsRequest,
    linker: &Linker,
    now: DateTime<Utc>,
) -> Result<PrListing> {
    let trailers = Trailers::new(&req.ai_trailers).map_err(Error::InvalidArgument)?;
    let repos = if req.repos.is_empty() {
        store.report_repos()?
    } else {
        req.repos.clone()
    };
    let mut rows = Vec::new();
    for repo in &repos {
        let input = store.attribution_inputs(repo, req.start, req.end, now, trailers.needs())?;
        let facts: Vec<_> = input
            .prs
            .iter()
            .map(|p| p.facts.clone())
            .chain(input.competitors.iter().cloned())
            .collect();
        // Each person's calls per UTC hour over the PRs' spans, read once per repo; a PR's
        // author-window evidence sums the hours of its span (found by binary search).
        let mut author_calls: BTreeMap<i64, AuthorCalls> = BTreeMap::new();
        let window_prs = &facts[..input.prs.len()];
        if req.author_window && !window_prs.is_empty() {
            let from = window_prs
                .iter()
                .map(|p| p.span(now).0)
                .min()
                .unwrap_or(req.start);
            let to = window_prs
                .iter()
                .map(|p| p.span(now).1)
                .max()
                .unwrap_or(req.end);
            let mut people: BTreeMap<String, Vec<(i64, AuthorCalls)>> = BTreeMap::new();
            let mut person_of: BTreeMap<String, String> = BTreeMap::new();
            for (hour, id, c) in store.hourly_calls(repo, from, to)? {
                let person = person_of
                    .entry(id.clone())
                    .or_insert_with(|| linker.person(&id).to_ascii_lowercase())
                    .clone();
                people.entry(person).or_default().push((hour, c));
            }
            // Each person's hours in order (sums over a span add them up in hour order).
            let prefix: BTreeMap<String, (Vec<i64>, Vec<AuthorCalls>)> = people
                .into_iter()
                .map(|(k, mut v)| {
                    v.sort_by_key(|e| e.0);
                    (k, v.into_iter().unzip())
                })
                .collect();
            for p in window_prs {
                let Some(a) = &p.author else { continue };
                let Some((hours, sums)) = prefix.get(&a.to_ascii_lowercase()) else {
                    continue;
                };
                let (s0, s1) = p.span(now);
                let (h0, h1) = (
                    crate::metrics::counters::utc_hour(s0.timestamp_micros()),
                    crate::metrics::counters::utc_hour(s1.timestamp_micros()),
                );
                let (i, j) = (
                    hours.partition_point(|&h| h < h0),
                    hours.partition_point(|&h| h <= h1),
                );
                let mut sum = AuthorCalls::default();
                for c in &sums[i..j] {
                    sum.calls += c.calls;
                    sum.tokens += c.tokens;
                    sum.cost_usd += c.cost_usd;
                }
                author_calls.insert(p.number, sum);
            }
        }
        let evidence = attribute(
            &facts,
            &input.base_refs,
            &input.calls,
            &input.commits,
            &trailers,
            |p| author_calls.get(&p.number).copied(),
            now,
        );
        for (p, e) in input.prs.into_iter().zip(evidence) {
            let f = &p.facts;
            let merge_hours = f
                .merged_at
                .map(|m| (m - f.created_at).num_seconds() as f64 / 3600.0);
            rows.push(PrListRow {
                repo: repo.clone(),
                number: f.number,
                // A PR author is a GitHub login already.
                author: f.author.clone(),
                title: p.title.clone(),
                head_ref: f.head_ref.clone(),
                created_at: iso(f.created_at),
                merged_at: f.merged_at.map(iso),
                merge_hours,
                state: if f.merged_at.is_some() {
                    "merged".into()
                } else {
                    p.state.clone()
                },
                size: match (p.additions, p.deletions) {
                    (Some(a), Some(d)) => Some(a + d),
                    _ => None,
                },
                reverted: p.reverted,
                reopened: p.reopened,
                ai_assisted: e.ai_assisted(req.attribution),
                evidence: e.evidence.clone(),
                ai_calls: e.ai_calls,
                ai_tokens: e.ai_tokens,
                ai_cost_usd: e.ai_cost_usd,
                details: e,
            });
        }
    }
    // The comparison reads PRs merged inside the window.
    let merged: Vec<CohortPr> = rows
        .iter()
        .filter_map(|r| {
            let at: DateTime<Utc> = r.merged_at.as_deref()?.parse().ok()?;
            (at >= req.start && at < req.end).then(|| CohortPr {
                repo: r.repo.clone(),
                author: r.author.clone(),
                merge_hours: r.merge_hours.unwrap_or(0.0),
                size: r.size.map(|s| s as f64),
                rework: r.reverted || r.reopened,
                ai_assisted: r.ai_assisted,
            })
        })
        .collect();
    let (cohorts, cohort_comparison) = compare(&merged, crate::stats::multiple::DEFAULT_Q);
    // Cost per AI-assisted PR merged in the window (the same PRs as the comparison).
    let mut cost: BTreeMap<String, (usize, usize, f64)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.ai_assisted) {
        let Some(at) = r
            .merged_at
            .as_deref()
            .and_then(|m| m.parse::<DateTime<Utc>>().ok())
        else {
            continue;
        };
        if at < req.start || at >= req.end {
            continue;
        }
        for key in [r.repo.clone(), "all".to_string()] {
            let c = cost.entry(key).or_default();
            c.0 += 1;
            c.1 += usize::from(r.evidence.contains(&Evidence::Branch));
            c.2 += r.ai_cost_usd;
        }
    }
    let assisted_cost = cost
        .into_iter()
        .filter(|(k, _)| k != "all" || repos.len() > 1)
        .map(|(repo, (n, with_branch, usd))| AssistedCost {
            repo,
            assisted_merged: n,
            with_branch_evidence: with_branch,
            attributed_cost_usd: usd,
            per_ai_assisted_merged_pr_usd: (n > 0).then(|| usd / n as f64),
        })
        .collect();
    Ok(PrListing {
        attribution: req.attribution,
        prs: rows,
        cohorts,
        cohort_comparison,
        assisted_cost,
    })
}
