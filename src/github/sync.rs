//! Incremental, request-frugal sync of one repo: three paginated streams, each walked newest
//! first from a stable first-page URL, conditionally, until it passes its checkpoint.
//!
//! * Pull requests: `pulls?state=all&sort=updated&direction=desc&per_page=100`; paging stops at
//!   the first page holding a PR updated at or before the checkpoint (the newest `updated_at` of
//!   the last completed walk).
//! * Commits: the first page of `commits?per_page=100` (with `since=` the first sync's `--since`,
//!   if any) is probed; when it does not reach back to the checkpoint minus
//!   [`SyncOptions::commit_overlap`], the walk continues with `since=` that instant.
//! * Issue events: `issues/events?per_page=100` (one stream for the whole repo, not one request per
//!   PR) until the last seen event id.
//!
//! Each page's rows and its cache entry (ETag, Last-Modified, next link, ordering keys) are
//! committed in one transaction; a stream's checkpoint advances only after its walk completed. A
//! killed or failed run therefore resumes without gaps (the walk restarts from the first page) and
//! without duplicates (rows are upserted), and pages it already stored answer 304, which GitHub
//! does not count against the rate limit. An unchanged re-sync sends three conditional requests
//! and gets three 304s.

use super::client::{Client, Fetched};
use super::model::{self, Stream};
use crate::error::{Error, Result};
use crate::slug::RepoSlug;
use crate::store::github::{ApplyCounts, CacheEntry, StreamState};
use crate::store::prelude::*;
use crate::store::runs::RunCounts;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashSet;

/// The etl_runs job name of GitHub syncs and imports.
pub const JOB: &str = "ingest-github";

/// Sync settings.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// First sync only: ignore PRs updated and commits committed before this instant.
    pub since: Option<DateTime<Utc>>,
    /// How far before the commit checkpoint a catch-up `since=` reaches (late pushes, clock skew).
    pub commit_overlap: chrono::Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            since: None,
            commit_overlap: chrono::Duration::hours(24),
        }
    }
}

/// What a sync or import of one repo did (`--json` prints it; key names are stable).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RepoSummary {
    /// `owner/name`.
    pub repo: String,
    /// Pull requests received and stored.
    pub pull_requests: u64,
    /// Commits received and stored.
    pub commits: u64,
    /// Issue events received and stored.
    pub events: u64,
    /// Of those rows, how many were new.
    pub inserted: u64,
    /// Of those rows, how many were already stored (refreshed).
    pub updated: u64,
    /// HTTP requests sent (retries included; 0 for an import).
    pub requests: u64,
    /// Requests answered 304 (free: the stored page was current).
    pub not_modified: u64,
    /// Requests sent again after a failure or a rate-limit wait.
    pub retries: u64,
    /// Rate-limit waits.
    pub rate_limit_waits: u64,
    /// `x-ratelimit-remaining` after the last request; -1 when unknown.
    pub rate_limit_remaining: i64,
    /// Rework links stored for the repo after the run.
    pub rework_links: u64,
    /// `ok`, or `failed: …`.
    pub outcome: String,
}

impl RepoSummary {
    /// An empty summary for a repo.
    pub fn new(repo: &str) -> Self {
        RepoSummary {
            repo: repo.into(),
            rate_limit_remaining: -1,
            outcome: "running".into(),
            ..Default::default()
        }
    }

    /// Adds a page's rows.
    pub fn add_page(&mut self, stream: Stream, items: usize, c: ApplyCounts) {
        match stream {
            Stream::Pulls => self.pull_requests += items as u64,
            Stream::Commits => self.commits += items as u64,
            Stream::Events => self.events += items as u64,
        }
        self.inserted += c.inserted;
        self.updated += c.updated;
    }

    /// One summary line for people.
    pub fn line(&self) -> String {
        let limit = if self.rate_limit_remaining < 0 {
            "unknown".to_string()
        } else {
            self.rate_limit_remaining.to_string()
        };
        format!(
            "{}: {} PRs, {} commits, {} events ({} new, {} refreshed); {} requests, {} not modified (304), {} retries; rate limit left {}; {}",
            self.repo, self.pull_requests, self.commits, self.events, self.inserted, self.updated,
            self.requests, self.not_modified, self.retries, limit, self.outcome
        )
    }

    /// Counts for the etl_runs row.
    pub fn run_counts(&self) -> RunCounts {
        RunCounts {
            read: self.pull_requests + self.commits + self.events,
            inserted: self.inserted,
            duplicates: self.updated,
            ..Default::default()
        }
    }
}

/// Records the end of a repo's run: rework links, per-repo freshness and the etl_runs row.
pub fn finish(
    store: &mut dyn GithubStore,
    run: i64,
    s: &mut RepoSummary,
    outcome: &Result<()>,
) -> Result<()> {
    s.rework_links = store.gh_recompute_rework(&s.repo)? as u64;
    s.outcome = match outcome {
        Ok(()) => "ok".into(),
        Err(e) => format!("failed: {e}"),
    };
    let remaining = (s.rate_limit_remaining >= 0).then_some(s.rate_limit_remaining);
    store.gh_finish_repo(&s.repo, &s.outcome, remaining, None)?;
    let details = serde_json::to_string(s)?;
    store.finish_run(run, &s.run_counts(), &s.outcome, Some(&details))
}

fn time_key(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn max_key(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

struct Walker<'a> {
    store: &'a mut dyn GithubStore,
    client: &'a mut Client,
    repo: &'a str,
    summary: &'a mut RepoSummary,
}

impl Walker<'_> {
    /// Walks one stream from `url` until a page reaches `threshold` or the list ends; `switch`
    /// replaces the first page's next link. A 304 for the first page whose ETag is `done_etag`
    /// (the first page of the last completed walk) ends the walk at once: nothing changed since.
    /// Returns the largest key seen and the first page's ETag.
    fn walk(
        &mut self,
        stream: Stream,
        mut url: String,
        threshold: Option<&str>,
        mut switch: Option<String>,
        done_etag: Option<&str>,
    ) -> Result<(Option<String>, Option<String>)> {
        let mut newest = None;
        let mut first_etag = None;
        let mut seen = HashSet::new();
        loop {
            let first = seen.is_empty();
            if !seen.insert(url.clone()) {
                return Err(Error::MalformedPage {
                    repo: self.repo.into(),
                    url,
                    reason: "pagination loops back to a page already read".into(),
                });
            }
            let cached = self.store.gh_cache_get(&url)?;
            let validators = cached
                .as_ref()
                .map(|c| &c.validators)
                .filter(|v| v.etag.is_some() || v.last_modified.is_some());
            let (digest, next, etag) = match self.client.get_page(self.repo, &url, validators)? {
                Fetched::NotModified => {
                    let c = cached.ok_or_else(|| Error::MalformedPage {
                        repo: self.repo.into(),
                        url: url.clone(),
                        reason: "304 for a page that is not stored".into(),
                    })?;
                    if first && done_etag.is_some() && c.validators.etag.as_deref() == done_etag {
                        return Ok((c.digest.max_key, c.validators.etag));
                    }
                    (c.digest, c.next_url, c.validators.etag)
                }
                Fetched::Page {
                    body,
                    validators,
                    next,
                } => {
                    let page = model::parse_body(stream, &body, self.repo).map_err(|reason| {
                        Error::MalformedPage {
                            repo: self.repo.into(),
                            url: url.clone(),
                            reason,
                        }
                    })?;
                    let entry = CacheEntry {
                        validators,
                        next_url: next.clone(),
                        digest: page.digest(),
                    };
                    let counts =
                        self.store
                            .gh_apply_page(self.repo, &page, Some((&url, &entry)))?;
                    self.summary.add_page(stream, page.len(), counts);
                    tracing::info!(
                        repo = self.repo,
                        stream = stream.name(),
                        items = page.len(),
                        "page stored"
                    );
                    (entry.digest, next, entry.validators.etag)
                }
            };
            if first {
                first_etag = etag;
            }
            newest = max_key(newest, digest.max_key.clone());
            let reached = match (threshold, &digest.min_key) {
                (Some(t), Some(m)) => m.as_str() <= t,
                _ => false,
            };
            match (reached, next, switch.take()) {
                (true, _, _) | (false, None, _) => return Ok((newest, first_etag)),
                (false, Some(_), Some(s)) => url = s,
                (false, Some(n), None) => url = n,
            }
        }
    }

    /// Walks a stream and, once its rows are committed, advances its state.
    fn stream(
        &mut self,
        stream: Stream,
        base: &str,
        st: StreamState,
        rel: String,
        threshold: Option<String>,
        switch: Option<String>,
    ) -> Result<()> {
        let (newest, first_etag) = self.walk(
            stream,
            format!("{base}/{rel}"),
            threshold.as_deref(),
            switch,
            st.probe_etag.as_deref().filter(|_| st.checkpoint.is_some()),
        )?;
        self.store.gh_set_stream_state(
            self.repo,
            stream,
            &StreamState {
                checkpoint: max_key(st.checkpoint, newest),
                probe_url: Some(rel),
                probe_etag: first_etag,
            },
        )
    }
}

/// Syncs one repo's three streams into the store. Rows are kept whatever happens; the error
/// says what stopped the sync.
pub fn sync_streams(
    store: &mut dyn GithubStore,
    client: &mut Client,
    repo: &RepoSlug,
    opts: &SyncOptions,
    summary: &mut RepoSummary,
) -> Result<()> {
    let base = format!(
        "{}/repos/{}/{}",
        client.api_url(),
        repo.owner(),
        repo.name()
    );
    let r = repo.as_str();
    let mut w = Walker {
        store,
        client,
        repo: r,
        summary,
    };

    // Pull requests.
    let st = w.store.gh_stream_state(r, Stream::Pulls)?;
    let threshold = max_key(st.checkpoint.clone(), opts.since.map(time_key));
    let rel = "pulls?state=all&sort=updated&direction=desc&per_page=100".to_string();
    w.stream(Stream::Pulls, &base, st, rel, threshold, None)?;

    // Commits.
    let st = w.store.gh_stream_state(r, Stream::Commits)?;
    let rel = st.probe_url.clone().unwrap_or_else(|| match opts.since {
        Some(s) => format!("commits?per_page=100&since={}", time_key(s)),
        None => "commits?per_page=100".to_string(),
    });
    let threshold = st
        .checkpoint
        .as_deref()
        .and_then(|c| crate::time::parse_str(c).ok())
        .map(|c| time_key(c - opts.commit_overlap));
    let catch_up = threshold
        .as_ref()
        .map(|t| format!("{base}/commits?per_page=100&since={t}"));
    w.stream(Stream::Commits, &base, st, rel, threshold, catch_up)?;

    // Issue events (reopens).
    let st = w.store.gh_stream_state(r, Stream::Events)?;
    let threshold = st.checkpoint.clone();
    let rel = "issues/events?per_page=100".to_string();
    w.stream(Stream::Events, &base, st, rel, threshold, None)?;
    Ok(())
}

/// Syncs one repo and records the run; returns its summary and what stopped it, if anything.
pub fn sync_repo(
    store: &mut dyn GithubStore,
    client: &mut Client,
    repo: &RepoSlug,
    opts: &SyncOptions,
) -> Result<(RepoSummary, Result<()>)> {
    let run = store.start_run(JOB, repo.as_str())?;
    let mut summary = RepoSummary::new(repo.as_str());
    client.take_stats();
    let outcome = sync_streams(store, client, repo, opts, &mut summary);
    let stats = client.take_stats();
    summary.requests = stats.requests;
    summary.not_modified = stats.not_modified;
    summary.retries = stats.retries;
    summary.rate_limit_waits = stats.rate_limit_waits;
    summary.rate_limit_remaining = stats.rate_limit_remaining.unwrap_or(-1);
    store.gh_finish_repo(
        repo.as_str(),
        "running",
        stats.rate_limit_remaining,
        stats.rate_limit_reset,
    )?;
    finish(store, run, &mut summary, &outcome)?;
    Ok((summary, outcome))
}
