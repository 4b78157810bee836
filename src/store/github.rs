//! GitHub tables (migration 2): pull requests, commits, issue events, rework links, the
//! conditional-request cache and per-repo sync state. Live sync and offline import both write
//! through [`Store::gh_apply_page`], so they store the same rows.

use super::seam::*;
use super::{parse_ts, Store};
use crate::error::Result;
use crate::github::client::Validators;
use crate::github::model::{Digest, Page, Stream};
use crate::github::rework::{self, CommitFacts, PrFacts, ReopenFacts, RevertRef};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};
use serde::Serialize;

/// A stored page of the conditional-request cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheEntry {
    /// Validators to send.
    pub validators: Validators,
    /// `rel="next"` of the stored page.
    pub next_url: Option<String>,
    /// Ordering keys of the stored page.
    pub digest: Digest,
}

/// Rows a page added or refreshed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyCounts {
    /// New rows.
    pub inserted: u64,
    /// Rows that were already stored (refreshed).
    pub updated: u64,
}

/// Where a stream's sync stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamState {
    /// Largest key covered by a completed walk.
    pub checkpoint: Option<String>,
    /// First-page URL the stream is probed with.
    pub probe_url: Option<String>,
    /// ETag of the first page when the last walk completed.
    pub probe_etag: Option<String>,
}

/// `status` figures of one repo's GitHub data.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GitHubRepoStatus {
    /// `owner/name`.
    pub repo: String,
    /// Stored pull requests.
    pub pull_requests: i64,
    /// Of which merged.
    pub merged: i64,
    /// Stored commits.
    pub commits: i64,
    /// PRs reopened after a close.
    pub reopened: i64,
    /// Merged PRs reverted within the window.
    pub reverted: i64,
    /// Last sync or import (RFC 3339 UTC).
    pub last_sync: Option<String>,
    /// Outcome of that sync.
    pub last_outcome: Option<String>,
    /// Rate limit left after it (null when unknown, e.g. offline import).
    pub rate_limit_remaining: Option<i64>,
}

/// Recomputes the repo's rework links from its stored rows inside `tx`; returns how many there
/// are.
pub(super) fn recompute_rework_in(tx: &Transaction<'_>, repo: &str) -> Result<usize> {
    let prs: Vec<PrFacts> = tx
        .prepare(
            "SELECT number, title, merged_at, merge_commit_sha, revert_title, revert_shas,
                    revert_numbers FROM gh_pull_requests WHERE repo = ?1 ORDER BY number",
        )?
        .query_map([repo], |r| {
            Ok(PrFacts {
                number: r.get(0)?,
                title: r.get(1)?,
                merged_at: parse_ts(r.get(2)?),
                merge_commit_sha: r.get(3)?,
                reverts: RevertRef {
                    title: r.get(4)?,
                    shas: split(r.get(5)?),
                    numbers: split(r.get(6)?)
                        .iter()
                        .filter_map(|n| n.parse().ok())
                        .collect(),
                },
            })
        })?
        .collect::<Result<_, _>>()?;
    let commits: Vec<CommitFacts> = tx
        .prepare("SELECT sha, message, committed_at, revert_shas FROM gh_commits WHERE repo = ?1")?
        .query_map([repo], |r| {
            let subject: String = r.get(1)?;
            Ok(CommitFacts {
                sha: r.get(0)?,
                reverts: RevertRef {
                    title: rework::revert_title(&subject),
                    shas: split(r.get(3)?),
                    numbers: Vec::new(),
                },
                subject,
                at: parse_ts(r.get(2)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    let reopens: Vec<ReopenFacts> = tx
        .prepare(
            "SELECT id, issue_number, created_at FROM gh_issue_events
             WHERE repo = ?1 AND event = 'reopened' AND is_pull_request = 1
               AND issue_number IS NOT NULL",
        )?
        .query_map([repo], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?))
        })?
        .filter_map(|row| match row {
            Ok((id, number, at)) => parse_ts(Some(at)).map(|at| Ok(ReopenFacts { id, number, at })),
            Err(e) => Some(Err(e)),
        })
        .collect::<Result<_, _>>()?;
    let links = rework::compute(&prs, &commits, &reopens);
    tx.execute("DELETE FROM gh_rework WHERE repo = ?1", [repo])?;
    {
        let mut ins = tx.prepare(
            "INSERT INTO gh_rework (repo, kind, pr_number, source, at, days_after_merge, within_window)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for l in &links {
            ins.execute(params![
                repo,
                l.kind,
                l.pr_number,
                l.source,
                l.at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                l.days_after_merge,
                l.within_window
            ])?;
        }
    }
    Ok(links.len())
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn join<T: ToString>(v: &[T]) -> Option<String> {
    (!v.is_empty()).then(|| v.iter().map(T::to_string).collect::<Vec<_>>().join(" "))
}

fn split(s: Option<String>) -> Vec<String> {
    s.map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

fn exists(tx: &Transaction<'_>, sql: &str, repo: &str, key: &dyn rusqlite::ToSql) -> Result<bool> {
    Ok(tx
        .prepare_cached(sql)?
        .query_row(params![repo, key], |_| Ok(()))
        .optional()?
        .is_some())
}

fn write_rows(tx: &Transaction<'_>, repo: &str, page: &Page) -> Result<ApplyCounts> {
    let mut c = ApplyCounts::default();
    let mut tally = |existed: bool| {
        if existed {
            c.updated += 1
        } else {
            c.inserted += 1
        }
    };
    match page {
        Page::Pulls(rows) => {
            let mut up = tx.prepare_cached(
                "INSERT INTO gh_pull_requests (repo, number, id, title, author, state, draft,
                    created_at, updated_at, closed_at, merged_at, merge_commit_sha, base_ref, head_ref,
                    additions, deletions, changed_files, revert_title, revert_shas, revert_numbers)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20)
                 ON CONFLICT(repo, number) DO UPDATE SET id = excluded.id, title = excluded.title,
                    author = excluded.author, state = excluded.state, draft = excluded.draft,
                    created_at = excluded.created_at, updated_at = excluded.updated_at,
                    closed_at = excluded.closed_at, merged_at = excluded.merged_at,
                    merge_commit_sha = excluded.merge_commit_sha, base_ref = excluded.base_ref,
                    head_ref = excluded.head_ref,
                    additions = COALESCE(excluded.additions, additions),
                    deletions = COALESCE(excluded.deletions, deletions),
                    changed_files = COALESCE(excluded.changed_files, changed_files),
                    revert_title = excluded.revert_title, revert_shas = excluded.revert_shas,
                    revert_numbers = excluded.revert_numbers
                 WHERE excluded.updated_at >= gh_pull_requests.updated_at",
            )?;
            for p in rows {
                tally(exists(
                    tx,
                    "SELECT 1 FROM gh_pull_requests WHERE repo = ?1 AND number = ?2",
                    repo,
                    &p.number,
                )?);
                up.execute(params![
                    repo,
                    p.number,
                    p.id,
                    p.title,
                    p.author,
                    p.state,
                    p.draft,
                    p.created_at,
                    p.updated_at,
                    p.closed_at,
                    p.merged_at,
                    p.merge_commit_sha,
                    p.base_ref,
                    p.head_ref,
                    p.additions,
                    p.deletions,
                    p.changed_files,
                    p.reverts.title,
                    join(&p.reverts.shas),
                    join(&p.reverts.numbers),
                ])?;
            }
        }
        Page::Commits(rows) => {
            let mut up = tx.prepare_cached(
                "INSERT INTO gh_commits (repo, sha, author_login, author_name, author_email,
                    authored_at, committed_at, message, revert_shas, body)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)
                 ON CONFLICT(repo, sha) DO UPDATE SET author_login = excluded.author_login,
                    author_name = excluded.author_name, author_email = excluded.author_email,
                    authored_at = excluded.authored_at, committed_at = excluded.committed_at,
                    message = excluded.message, revert_shas = excluded.revert_shas,
                    body = excluded.body",
            )?;
            for r in rows {
                tally(exists(
                    tx,
                    "SELECT 1 FROM gh_commits WHERE repo = ?1 AND sha = ?2",
                    repo,
                    &r.sha,
                )?);
                up.execute(params![
                    repo,
                    r.sha,
                    r.author_login,
                    r.author_name,
                    r.author_email,
                    r.authored_at,
                    r.committed_at,
                    r.message,
                    join(&r.reverts.shas),
                    r.body,
                ])?;
            }
        }
        Page::Events(rows) => {
            let mut up = tx.prepare_cached(
                "INSERT INTO gh_issue_events (repo, id, event, issue_number, is_pull_request, actor,
                    created_at, commit_id)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8)
                 ON CONFLICT(repo, id) DO UPDATE SET event = excluded.event,
                    issue_number = excluded.issue_number, is_pull_request = excluded.is_pull_request,
                    actor = excluded.actor, created_at = excluded.created_at,
                    commit_id = excluded.commit_id",
            )?;
            for e in rows {
                tally(exists(
                    tx,
                    "SELECT 1 FROM gh_issue_events WHERE repo = ?1 AND id = ?2",
                    repo,
                    &e.id,
                )?);
                up.execute(params![
                    repo,
                    e.id,
                    e.event,
                    e.issue_number,
                    e.is_pull_request,
                    e.actor,
                    e.created_at,
                    e.commit_id
                ])?;
            }
        }
    }
    Ok(c)
}

impl GithubState for Store {
    /// The cached page for `url`, if any.
    fn gh_cache_get(&self, url: &str) -> Result<Option<CacheEntry>> {
        Ok(self
            .conn
            .query_row(
                "SELECT etag, last_modified, next_url, items, min_key, max_key
                 FROM gh_http_cache WHERE url = ?1",
                [url],
                |r| {
                    Ok(CacheEntry {
                        validators: Validators {
                            etag: r.get(0)?,
                            last_modified: r.get(1)?,
                        },
                        next_url: r.get(2)?,
                        digest: Digest {
                            items: r.get::<_, i64>(3)?.max(0) as usize,
                            min_key: r.get(4)?,
                            max_key: r.get(5)?,
                        },
                    })
                },
            )
            .optional()?)
    }

    /// Stores a page's rows, and (live sync) its cache entry, in one transaction.
    fn gh_apply_page(
        &mut self,
        repo: &str,
        page: &Page,
        cache: Option<(&str, &CacheEntry)>,
    ) -> Result<ApplyCounts> {
        let tx = self.conn.transaction()?;
        let counts = write_rows(&tx, repo, page)?;
        if let Some((url, e)) = cache {
            tx.execute(
                "INSERT INTO gh_http_cache (url, repo, stream, etag, last_modified, next_url, items,
                    min_key, max_key, fetched_at)
                 VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)
                 ON CONFLICT(url) DO UPDATE SET repo = excluded.repo, stream = excluded.stream,
                    etag = excluded.etag, last_modified = excluded.last_modified,
                    next_url = excluded.next_url, items = excluded.items,
                    min_key = excluded.min_key, max_key = excluded.max_key,
                    fetched_at = excluded.fetched_at",
                params![
                    url,
                    repo,
                    page.stream().name(),
                    e.validators.etag,
                    e.validators.last_modified,
                    e.next_url,
                    e.digest.items as i64,
                    e.digest.min_key,
                    e.digest.max_key,
                    now()
                ],
            )?;
        }
        tx.commit()?;
        Ok(counts)
    }

    /// The sync state of one stream of a repo.
    fn gh_stream_state(&self, repo: &str, stream: Stream) -> Result<StreamState> {
        Ok(self
            .conn
            .query_row(
                "SELECT checkpoint, probe_url, probe_etag FROM gh_sync_state
                 WHERE repo = ?1 AND stream = ?2",
                params![repo, stream.name()],
                |r| {
                    Ok(StreamState {
                        checkpoint: r.get(0)?,
                        probe_url: r.get(1)?,
                        probe_etag: r.get(2)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Records a completed walk of a stream (called only after its rows are committed).
    fn gh_set_stream_state(&self, repo: &str, stream: Stream, s: &StreamState) -> Result<()> {
        self.conn.execute(
            "INSERT INTO gh_sync_state (repo, stream, checkpoint, probe_url, probe_etag, last_sync)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(repo, stream) DO UPDATE SET checkpoint = excluded.checkpoint,
                probe_url = excluded.probe_url, probe_etag = excluded.probe_etag,
                last_sync = excluded.last_sync",
            params![
                repo,
                stream.name(),
                s.checkpoint,
                s.probe_url,
                s.probe_etag,
                now()
            ],
        )?;
        Ok(())
    }

    /// Records the end of a repo's sync or import, with the rate limit left (if known).
    fn gh_finish_repo(
        &self,
        repo: &str,
        outcome: &str,
        remaining: Option<i64>,
        reset: Option<i64>,
    ) -> Result<()> {
        let reset = reset
            .and_then(|r| DateTime::from_timestamp(r, 0))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        self.conn.execute(
            "INSERT INTO gh_repos (repo, last_sync, last_outcome, rate_limit_remaining, rate_limit_reset)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(repo) DO UPDATE SET last_sync = excluded.last_sync,
                last_outcome = excluded.last_outcome,
                rate_limit_remaining = COALESCE(excluded.rate_limit_remaining, rate_limit_remaining),
                rate_limit_reset = COALESCE(excluded.rate_limit_reset, rate_limit_reset)",
            params![repo, now(), outcome, remaining, reset],
        )?;
        Ok(())
    }

    /// Rate limit left at the repo's last sync, if known.
    fn gh_rate_limit_remaining(&self, repo: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .query_row(
                "SELECT rate_limit_remaining FROM gh_repos WHERE repo = ?1",
                [repo],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Recomputes the repo's rework links from its stored rows; returns how many there are.
    fn gh_recompute_rework(&mut self, repo: &str) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let n = recompute_rework_in(&tx, repo)?;
        tx.commit()?;
        Ok(n)
    }

    /// True when the file has the GitHub tables (a read-only open of an older file may not).
    fn gh_tables_exist(&self) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gh_repos'",
                [],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// GitHub figures per repo for `status`.
    fn gh_status(&self) -> Result<Vec<GitHubRepoStatus>> {
        let mut stmt = self.conn.prepare(
            "WITH repos AS (
                SELECT repo FROM gh_pull_requests UNION SELECT repo FROM gh_commits
                UNION SELECT repo FROM gh_issue_events UNION SELECT repo FROM gh_repos)
             SELECT r.repo,
                (SELECT COUNT(*) FROM gh_pull_requests p WHERE p.repo = r.repo),
                (SELECT COUNT(*) FROM gh_pull_requests p WHERE p.repo = r.repo AND p.merged_at IS NOT NULL),
                (SELECT COUNT(*) FROM gh_commits c WHERE c.repo = r.repo),
                (SELECT COUNT(DISTINCT pr_number) FROM gh_rework w
                    WHERE w.repo = r.repo AND w.kind = 'reopened'),
                (SELECT COUNT(DISTINCT pr_number) FROM gh_rework w
                    WHERE w.repo = r.repo AND w.kind = 'revert' AND w.within_window = 1),
                g.last_sync, g.last_outcome, g.rate_limit_remaining
             FROM repos r LEFT JOIN gh_repos g ON g.repo = r.repo ORDER BY r.repo",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(GitHubRepoStatus {
                    repo: r.get(0)?,
                    pull_requests: r.get(1)?,
                    merged: r.get(2)?,
                    commits: r.get(3)?,
                    reopened: r.get(4)?,
                    reverted: r.get(5)?,
                    last_sync: r.get(6)?,
                    last_outcome: r.get(7)?,
                    rate_limit_remaining: r.get(8)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::model::PullRequestRow;

    fn pr(n: i64, title: &str, updated: &str) -> PullRequestRow {
        PullRequestRow {
            number: n,
            id: None,
            title: title.into(),
            author: None,
            state: "open".into(),
            draft: false,
            created_at: "2025-09-01T00:00:00Z".into(),
            updated_at: updated.into(),
            closed_at: None,
            merged_at: None,
            merge_commit_sha: None,
            base_ref: None,
            head_ref: None,
            additions: None,
            deletions: None,
            changed_files: None,
            reverts: RevertRef::default(),
        }
    }

    #[test]
    fn upserts_count_new_rows_keep_the_newest_copy_and_cache_with_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("g.db")).unwrap();
        let page = Page::Pulls(vec![
            pr(1, "new", "2025-09-03T00:00:00Z"),
            pr(2, "b", "2025-09-02T00:00:00Z"),
        ]);
        let entry = CacheEntry {
            validators: Validators {
                etag: Some("W/\"x\"".into()),
                last_modified: None,
            },
            next_url: Some("https://api.github.com/x?page=2".into()),
            digest: page.digest(),
        };
        let c = s
            .gh_apply_page(
                "acme/api",
                &page,
                Some(("https://api.github.com/x", &entry)),
            )
            .unwrap();
        assert_eq!(
            c,
            ApplyCounts {
                inserted: 2,
                updated: 0
            }
        );
        assert_eq!(
            s.gh_cache_get("https://api.github.com/x").unwrap(),
            Some(entry)
        );
        // An older copy (e.g. an old export) does not overwrite the newer row.
        let old = Page::Pulls(vec![pr(1, "old", "2025-09-01T00:00:00Z")]);
        let c = s.gh_apply_page("acme/api", &old, None).unwrap();
        assert_eq!(
            c,
            ApplyCounts {
                inserted: 0,
                updated: 1
            }
        );
        let t: String = s
            .conn()
            .query_row(
                "SELECT title FROM gh_pull_requests WHERE repo = 'acme/api' AND number = 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(t, "new");
        // Same number in another repo is another row.
        let c = s.gh_apply_page("acme/web", &old, None).unwrap();
        assert_eq!(c.inserted, 1);
        assert!(s.gh_tables_exist().unwrap());
        assert_eq!(
            s.gh_stream_state("acme/api", Stream::Pulls).unwrap(),
            StreamState::default()
        );
    }
}
