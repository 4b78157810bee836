//! What the commands need from a store, split by consumer into small traits.
//!
//! The embedded SQLite [`Store`](super::Store) implements every one; a server backend implements
//! the same traits, so code outside `store/` names what it needs (a trait), not a backend. Bring
//! them into scope with `use crate::store::prelude::*`.

use super::github::{ApplyCounts, CacheEntry, GitHubRepoStatus, StreamState};
use super::identities::IdentityRow;
use super::prune::PruneCounts;
use super::report_data::{RepoRead, TraceFilter};
use super::rollups::RebuildStats;
use super::runs::{RunCounts, RunRow};
use super::sessions::{SessionPage, SessionQuery};
use super::source_state::Checkpoint;
use super::status::Status;
use super::trace_rows::TraceGroup;
use super::traces::Written;
use crate::attribution::{AuthorCalls, CommitNeeds};
use crate::error::Result;
use crate::github::model::{Page, Stream};
use crate::identity::Linker;
use crate::ingest::files::FileState;
use crate::metrics::input::{Coverage, RepoData};
use crate::metrics::Freshness;
use crate::privacy::StoredPrivacy;
use crate::record::TraceRecord;
use crate::sources::otel::claude_code::ActivityRow;
use crate::store::attribution::AttributionInputs;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// Writing calls and what comes with them (`ingest-traces`, `collect`, `ingest-litellm`, `demo`).
pub trait TraceWriter {
    /// Writes a batch in one transaction, rollups included (held until the commit while writes
    /// are kept open, see [`TraceWriter::begin_writes`]), and says per record what happened.
    fn write_traces(&mut self, batch: &[TraceRecord], run_id: Option<i64>) -> Result<Vec<Written>>;

    /// Inserts a batch and says per record whether it was new.
    fn insert_traces(&mut self, batch: &[TraceRecord], run_id: Option<i64>) -> Result<Vec<bool>> {
        Ok(self
            .write_traces(batch, run_id)?
            .into_iter()
            .map(|w| w == Written::Inserted)
            .collect())
    }

    /// Stores code-activity rows (Claude Code telemetry), deduplicated; returns how many were new.
    fn insert_activity(&mut self, rows: &[ActivityRow], run_id: Option<i64>) -> Result<u64>;

    /// Keeps the writes that follow (traces, activity) in one transaction until
    /// [`TraceWriter::commit_writes`]: fewer, larger commits, each rewriting the pages of the
    /// dedupe index and the rollups once instead of once per batch. Nothing written after it is
    /// durable, or visible to other connections, before that commit, and a write that fails
    /// undoes all of it. A backend without it commits every batch as it comes. True when the
    /// writes that follow are kept open (false: each is committed as it comes).
    fn begin_writes(&mut self) -> Result<bool> {
        Ok(false)
    }

    /// Commits the writes kept open since [`TraceWriter::begin_writes`] (nothing when none are).
    fn commit_writes(&mut self) -> Result<()> {
        Ok(())
    }

    /// Undoes the writes kept open since [`TraceWriter::begin_writes`] (after an error).
    fn rollback_writes(&mut self) {}

    /// Prepares for a load of about `bytes` of input; true when the load must end with
    /// [`TraceWriter::finish_bulk_load`] (indexes set aside, statistics to refresh).
    fn start_bulk_load(&mut self, bytes: u64) -> Result<bool>;

    /// Ends a load begun with [`TraceWriter::start_bulk_load`], restoring what it set aside.
    fn finish_bulk_load(&mut self) -> Result<()>;

    /// True while the store is a new one built aside, which appears under its path only at
    /// [`TraceWriter::publish`]: files written beside it (the lake) must stay hidden until then.
    fn built_aside(&self) -> bool {
        false
    }

    /// Makes a store built aside durable and visible under its path (nothing for any other).
    fn publish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Where each source stopped: input files (incremental ingest) and PostgreSQL checkpoints.
pub trait SourceState {
    /// Every remembered input file.
    fn input_files(&self) -> Result<Vec<FileState>>;

    /// Remembers input files (replacing earlier states of the same paths).
    fn save_input_files(&mut self, files: &[FileState]) -> Result<()>;

    /// The saved checkpoint of a LiteLLM PostgreSQL source.
    fn litellm_checkpoint(&self, source: &str) -> Result<Option<Checkpoint>>;

    /// Saves the checkpoint of a LiteLLM PostgreSQL source.
    fn set_litellm_checkpoint(&self, source: &str, c: &Checkpoint) -> Result<()>;
}

/// The log of runs that every writing command keeps.
pub trait RunLog {
    /// Records the start of a run and returns its id.
    fn start_run(&self, job: &str, source: &str) -> Result<i64>;

    /// Records how a run ended.
    fn finish_run(
        &self,
        id: i64,
        counts: &RunCounts,
        outcome: &str,
        details: Option<&str>,
    ) -> Result<()>;

    /// The latest `limit` runs, newest first.
    fn recent_runs(&self, limit: usize) -> Result<Vec<RunRow>>;

    /// Dead letters counted by every run.
    fn dead_letter_total(&self) -> Result<i64>;
}

/// GitHub rows, HTTP cache and sync checkpoints (`ingest-github`).
pub trait GithubState {
    /// The cached validators and body of a GitHub URL.
    fn gh_cache_get(&self, url: &str) -> Result<Option<CacheEntry>>;

    /// Stores one fetched page (and its cache entry) in one transaction.
    fn gh_apply_page(
        &mut self,
        repo: &str,
        page: &Page,
        cache: Option<(&str, &CacheEntry)>,
    ) -> Result<ApplyCounts>;

    /// Where a repo's stream (pulls, commits, events) stopped.
    fn gh_stream_state(&self, repo: &str, stream: Stream) -> Result<StreamState>;

    /// Saves where a repo's stream stopped.
    fn gh_set_stream_state(&self, repo: &str, stream: Stream, s: &StreamState) -> Result<()>;

    /// Records the end of a repo's sync and the rate limit seen.
    fn gh_finish_repo(
        &self,
        repo: &str,
        outcome: &str,
        remaining: Option<i64>,
        reset: Option<i64>,
    ) -> Result<()>;

    /// The rate-limit budget left at a repo's last sync.
    fn gh_rate_limit_remaining(&self, repo: &str) -> Result<Option<i64>>;

    /// Recomputes a repo's rework links (reverts, reopens, follow-up fixes).
    fn gh_recompute_rework(&mut self, repo: &str) -> Result<usize>;

    /// Whether the GitHub tables exist (a store opened read-only may predate them).
    fn gh_tables_exist(&self) -> Result<bool>;

    /// Per-repo GitHub sync status.
    fn gh_status(&self) -> Result<Vec<GitHubRepoStatus>>;
}

/// Links between developer ids and GitHub logins.
pub trait IdentityStore {
    /// Stores the links of an identity map; returns how many were new or changed.
    fn save_identity_map(&mut self, entries: &[(String, String)], source: &str) -> Result<usize>;

    /// The linker of the stored links plus `extra` ones.
    fn linker(&self, extra: &[(String, String)]) -> Result<Linker>;

    /// Every developer id seen in the traces.
    fn developer_ids(&self) -> Result<Vec<String>>;

    /// Every developer and login with how they are linked.
    fn identities(&self, linker: &Linker) -> Result<Vec<IdentityRow>>;
}

/// Teams and the privacy setting as stored (`report`, `serve`, and every command's output).
pub trait TeamReader {
    /// The stored teams file entries (`member` lower-case, `team`).
    fn teams(&self) -> Result<Vec<(String, String)>>;

    /// `(developer id, team id, calls)` of the calls that carry a team id; calls are counted
    /// only for developers with several team ids (1 otherwise).
    fn trace_teams(&self) -> Result<Vec<(String, String, i64)>>;

    /// The stored privacy setting (the default when none is stored).
    fn privacy_settings(&self) -> Result<StoredPrivacy>;
}

/// Storing teams and the privacy setting (`prod-lens teams`, `prod-lens privacy`).
pub trait TeamWriter {
    /// Replaces the stored teams with `entries` read from `source`; returns how many.
    fn save_teams(&mut self, entries: &[(String, String)], source: &str) -> Result<usize>;

    /// Stores the privacy setting.
    fn save_privacy_settings(&mut self, s: &StoredPrivacy) -> Result<()>;
}

/// What a report reads of one repo over a window (`report`, the dashboard).
pub trait ReportReader {
    /// The repos with any traces or GitHub data.
    fn report_repos(&self) -> Result<Vec<String>>;

    /// A repo's data over `[start, end)` from the trace rows.
    fn report_data(
        &self,
        repo: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        filter: &TraceFilter,
    ) -> Result<RepoData>;

    /// A repo's data over `[start, end)` from the hourly rollups, bucketed in `tz`.
    fn report_data_rollups(
        &self,
        repo: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        filter: &TraceFilter,
        tz: Tz,
    ) -> Result<RepoData>;

    /// Data freshness of one repo: last trace ingest, newest trace day, last GitHub sync.
    fn report_freshness(&self, repo: &str) -> Result<Freshness>;

    /// Whether the rollups with every counter this build reads exist.
    fn has_rollups(&self) -> Result<bool>;

    /// Every repo of `repos` as `read` says, each with its coverage and freshness, in the
    /// order given; a backend may read several repos side by side.
    fn report_data_each(
        &self,
        repos: &[String],
        read: &RepoRead<'_>,
    ) -> Result<Vec<(RepoData, Freshness)>> {
        read.load_each(self, repos)
    }

    /// When the traces and the GitHub data of `repo` start and end.
    fn coverage(&self, repo: &str) -> Result<Coverage>;

    /// Calls in `[start, end)` stored without a repo.
    fn calls_without_repo(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<i64>;

    /// The newest stored call's instant.
    fn newest_trace(&self) -> Result<Option<DateTime<Utc>>>;
}

/// What the per-pull-request view reads (`prs`, the dashboard's PR page).
pub trait PrReader {
    /// The PRs, commits and calls of a repo that attribution needs over `[start, end)`.
    fn attribution_inputs(
        &self,
        repo: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
        needs: CommitNeeds<'_>,
    ) -> Result<AttributionInputs>;

    /// Calls per UTC hour and author over `[from, to)`.
    fn hourly_calls(
        &self,
        repo: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(i64, String, AuthorCalls)>>;
}

/// Sessions lists (the dashboard's sessions page and API).
pub trait SessionsReader {
    /// One page of sessions.
    fn sessions_page(&self, q: &SessionQuery) -> Result<SessionPage>;

    /// Whether any call names this developer (case-insensitively).
    fn developer_known(&self, developer: &str) -> Result<bool>;
}

/// The store's own state (`status`).
pub trait StatusReader {
    /// The status report (last `runs` runs).
    fn status(&self, runs: usize) -> Result<Status>;

    /// The schema version of the store.
    fn schema_version(&self) -> Result<i64>;

    /// Whether the per-model session-days exist (schema version 7 and later).
    fn has_session_model_rollups(&self) -> Result<bool>;
}

/// Noticing new data cheaply (the dashboard polls it).
pub trait ChangeDetector {
    /// A number that changes whenever another connection commits.
    fn change_counter(&self) -> Result<i64>;
}

/// Stored rows read back as records (the Parquet lake is checked and repaired from them).
pub trait TraceRows {
    /// Stored rows counted per (repo value, event date).
    fn trace_groups(&self) -> Result<Vec<TraceGroup>>;

    /// Calls `f` with every stored row of one repo value (None: rows without one) and date.
    fn for_each_trace_in(
        &self,
        repo: Option<&str>,
        date: NaiveDate,
        f: &mut dyn FnMut(TraceRecord) -> Result<()>,
    ) -> Result<()>;
}

/// Recomputing the rollups from the rows (`rebuild-rollups`).
pub trait RollupRebuild {
    /// Recomputes the rollups of `repo` (every repo when `None`).
    fn rebuild_rollups(&mut self, repo: Option<&str>) -> Result<RebuildStats>;
}

/// Retention (`prune`): deleting what is older than a cut.
pub trait Retention {
    /// Deletes calls, code activity and their rollups before `before` (a UTC midnight), with
    /// `github` also the GitHub rows before it and recomputes those repos' rework links, all in
    /// one transaction; a `dry_run` only counts. Returns the rows per table.
    fn prune(&mut self, before: DateTime<Utc>, github: bool, dry_run: bool) -> Result<PruneCounts>;
}

/// What an ingest needs: writing rows, where each source stopped, and the run log.
pub trait IngestStore: TraceWriter + SourceState + RunLog {}

impl<T: TraceWriter + SourceState + RunLog + ?Sized> IngestStore for T {}

/// What a GitHub sync or import needs: the GitHub state and the run log.
pub trait GithubStore: GithubState + RunLog {}

impl<T: GithubState + RunLog + ?Sized> GithubStore for T {}

/// What the per-pull-request listing reads.
pub trait PrStore: PrReader + ReportReader + IdentityStore {}

impl<T: PrReader + ReportReader + IdentityStore + ?Sized> PrStore for T {}

/// What a report reads: the repo data, identity links, the PR listing, teams, the privacy
/// setting and the schema state.
pub trait ReportStore: PrStore + StatusReader + TeamReader {}

impl<T: PrStore + StatusReader + TeamReader + ?Sized> ReportStore for T {}

/// What the writing commands need: ingest, identity links, GitHub state, rollup rebuilds,
/// retention, and what a report reads (the demo reports on the store it wrote).
pub trait WriteStore:
    IngestStore + GithubStore + RollupRebuild + Retention + ReportStore + TeamWriter + Send
{
}

impl<T> WriteStore for T where
    T: IngestStore
        + GithubStore
        + RollupRebuild
        + Retention
        + ReportStore
        + TeamWriter
        + Send
        + ?Sized
{
}

/// What the dashboard reads: reports, PR listings, sessions, status and change detection, from
/// any thread of its pool.
pub trait DashboardStore: ReportStore + SessionsReader + ChangeDetector + Send {}

impl<T: ReportStore + SessionsReader + ChangeDetector + Send + ?Sized> DashboardStore for T {}
