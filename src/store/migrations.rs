//! Versioned schema migrations, tracked with `PRAGMA user_version`.
//!
//! All pending migrations and their data steps run in one transaction, so a file is never left
//! half-migrated; a file written by a newer ProdLens is refused rather than misread.

use crate::error::{Error, Result};
use rusqlite::Connection;

/// Migrations in order; index + 1 is the version each one produces.
const MIGRATIONS: &[&str] = &[
    // 1: traces and etl_runs.
    r#"
    CREATE TABLE traces (
        id                    INTEGER PRIMARY KEY,
        dedupe_key            BLOB    NOT NULL UNIQUE,
        call_id               TEXT,
        response_id           TEXT,
        source_format         TEXT    NOT NULL,
        timestamp_us          INTEGER NOT NULL,
        event_date            TEXT    NOT NULL,
        repo_slug             TEXT,
        developer_id          TEXT,
        session_id            TEXT,
        trace_id              TEXT,
        team_id               TEXT,
        key_alias             TEXT,
        model                 TEXT,
        provider              TEXT,
        call_type             TEXT,
        tokens_in             INTEGER NOT NULL,
        tokens_out            INTEGER NOT NULL,
        cache_read_tokens     INTEGER NOT NULL,
        cache_creation_tokens INTEGER NOT NULL,
        latency_ms            REAL,
        ttft_ms               REAL,
        status_code           INTEGER,
        is_error              INTEGER NOT NULL,
        error_class           TEXT,
        accepted              INTEGER,
        diff_ratio            REAL,
        accepted_lines        INTEGER,
        cache_hit             INTEGER,
        cost_usd              REAL,
        cost_source           TEXT    NOT NULL,
        ingested_run          INTEGER
    );
    CREATE INDEX traces_repo_date ON traces(repo_slug, event_date);
    CREATE INDEX traces_timestamp ON traces(timestamp_us);
    CREATE INDEX traces_developer ON traces(developer_id);
    CREATE INDEX traces_session   ON traces(session_id);

    CREATE TABLE etl_runs (
        id            INTEGER PRIMARY KEY,
        job           TEXT    NOT NULL,
        source        TEXT    NOT NULL,
        started_at    TEXT    NOT NULL,
        finished_at   TEXT,
        outcome       TEXT    NOT NULL,
        read          INTEGER NOT NULL DEFAULT 0,
        inserted      INTEGER NOT NULL DEFAULT 0,
        duplicates    INTEGER NOT NULL DEFAULT 0,
        dead_lettered INTEGER NOT NULL DEFAULT 0,
        skipped       INTEGER NOT NULL DEFAULT 0,
        cost_unknown  INTEGER NOT NULL DEFAULT 0,
        details       TEXT
    );
    CREATE INDEX etl_runs_job ON etl_runs(job, started_at);
    "#,
    // 2: GitHub delivery data written by `ingest-github` (live sync and `--from-json` import).
    // Every table carries the repo (`owner/name`, validated) so several repos never mix.
    // Times are UTC text `YYYY-MM-DDTHH:MM:SSZ`, which sorts in time order.
    r#"
    -- One row per pull request, upserted on every sighting (the newest copy wins).
    CREATE TABLE gh_pull_requests (
        repo             TEXT    NOT NULL,
        number           INTEGER NOT NULL,
        id               INTEGER,
        title            TEXT    NOT NULL,
        author           TEXT,
        state            TEXT    NOT NULL,
        draft            INTEGER NOT NULL,
        created_at       TEXT    NOT NULL,
        updated_at       TEXT    NOT NULL,
        closed_at        TEXT,
        merged_at        TEXT,
        merge_commit_sha TEXT,
        base_ref         TEXT,
        head_ref         TEXT,
        additions        INTEGER,
        deletions        INTEGER,
        changed_files    INTEGER,
        -- What the title/body say this PR reverts (see github::rework), for revert linking.
        revert_title     TEXT,
        revert_shas      TEXT,
        revert_numbers   TEXT,
        PRIMARY KEY (repo, number)
    );
    CREATE INDEX gh_pr_repo_merged  ON gh_pull_requests(repo, merged_at);
    CREATE INDEX gh_pr_repo_created ON gh_pull_requests(repo, created_at);
    CREATE INDEX gh_pr_repo_updated ON gh_pull_requests(repo, updated_at);
    CREATE INDEX gh_pr_number       ON gh_pull_requests(number);
    CREATE INDEX gh_pr_merge_sha    ON gh_pull_requests(repo, merge_commit_sha);

    -- One row per commit of the default branch; the message is kept to its first line.
    CREATE TABLE gh_commits (
        repo          TEXT NOT NULL,
        sha           TEXT NOT NULL,
        author_login  TEXT,
        author_name   TEXT,
        author_email  TEXT,
        authored_at   TEXT,
        committed_at  TEXT,
        message       TEXT NOT NULL,
        revert_shas   TEXT,
        PRIMARY KEY (repo, sha)
    );
    CREATE INDEX gh_commits_repo_authored  ON gh_commits(repo, authored_at);
    CREATE INDEX gh_commits_repo_committed ON gh_commits(repo, committed_at);
    CREATE INDEX gh_commits_author         ON gh_commits(author_login);

    -- Repo-level issue events (one paginated stream for the whole repo).
    CREATE TABLE gh_issue_events (
        repo            TEXT    NOT NULL,
        id              INTEGER NOT NULL,
        event           TEXT    NOT NULL,
        issue_number    INTEGER,
        is_pull_request INTEGER NOT NULL,
        actor           TEXT,
        created_at      TEXT    NOT NULL,
        commit_id       TEXT,
        PRIMARY KEY (repo, id)
    );
    CREATE INDEX gh_events_repo_issue ON gh_issue_events(repo, issue_number);
    CREATE INDEX gh_events_repo_event ON gh_issue_events(repo, event, created_at);

    -- Rework signals, recomputed from the rows above after every sync (see github::rework):
    -- kind 'revert' (a merged PR or commit reverting the PR) or 'reopened' (an issue event).
    CREATE TABLE gh_rework (
        repo              TEXT    NOT NULL,
        kind              TEXT    NOT NULL,
        pr_number         INTEGER NOT NULL,
        source            TEXT    NOT NULL,
        at                TEXT    NOT NULL,
        days_after_merge  REAL,
        within_window     INTEGER NOT NULL,
        PRIMARY KEY (repo, kind, pr_number, source)
    );
    CREATE INDEX gh_rework_repo_at ON gh_rework(repo, at);

    -- Conditional-request cache: one row per page URL (never holding a token). A 304 reuses the
    -- digest of the page, whose rows were committed in the same transaction as this row.
    CREATE TABLE gh_http_cache (
        url           TEXT    PRIMARY KEY,
        repo          TEXT    NOT NULL,
        stream        TEXT    NOT NULL,
        etag          TEXT,
        last_modified TEXT,
        next_url      TEXT,
        items         INTEGER NOT NULL,
        min_key       TEXT,
        max_key       TEXT,
        fetched_at    TEXT    NOT NULL
    );
    CREATE INDEX gh_http_cache_repo ON gh_http_cache(repo);

    -- Sync state per repo and stream: checkpoints advance only with the rows they cover.
    CREATE TABLE gh_sync_state (
        repo            TEXT NOT NULL,
        stream          TEXT NOT NULL,
        checkpoint      TEXT,
        probe_url       TEXT,
        -- ETag of the first page as the last completed walk saw it: a 304 for it means nothing
        -- changed since a complete walk, so the stream is done.
        probe_etag      TEXT,
        last_sync       TEXT,
        PRIMARY KEY (repo, stream)
    );

    -- Per repo: when it was last synced and the rate limit left then.
    CREATE TABLE gh_repos (
        repo                 TEXT PRIMARY KEY,
        last_sync            TEXT,
        last_outcome         TEXT,
        rate_limit_remaining INTEGER,
        rate_limit_reset     TEXT
    );
    "#,
    // Claude Code logs and LiteLLM spend logs (issue 6, parts 2 and 3): client context on each
    // call, and the incremental checkpoint of `ingest-litellm` per PostgreSQL source.
    r#"
    ALTER TABLE traces ADD COLUMN cwd            TEXT;
    ALTER TABLE traces ADD COLUMN git_branch     TEXT;
    ALTER TABLE traces ADD COLUMN is_sidechain   INTEGER;
    ALTER TABLE traces ADD COLUMN client_version TEXT;

    -- Last (startTime, request_id) of "LiteLLM_SpendLogs" committed, per source
    -- (host:port/dbname; never the password).
    CREATE TABLE litellm_checkpoints (
        source      TEXT PRIMARY KEY,
        start_time  TEXT NOT NULL,
        request_id  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    "#,
    // OpenTelemetry sources: Claude Code activity (tool decisions, line/commit/PR counts) keyed
    // by session, and the per-turn acceptance rule as a view (see sources::otel::claude_code).
    r#"
    CREATE TABLE code_activity (
        id            INTEGER PRIMARY KEY,
        dedupe_key    BLOB    NOT NULL UNIQUE,
        session_id    TEXT,
        timestamp_us  INTEGER NOT NULL,
        event_date    TEXT    NOT NULL,
        kind          TEXT    NOT NULL,
        tool_name     TEXT,
        decision      TEXT,
        source        TEXT,
        prompt_id     TEXT,
        line_type     TEXT,
        language      TEXT,
        value         REAL    NOT NULL,
        cumulative    INTEGER NOT NULL,
        developer_id  TEXT,
        ingested_run  INTEGER
    );
    CREATE INDEX code_activity_session ON code_activity(session_id, kind);

    CREATE VIEW code_turn_acceptance AS
      SELECT session_id,
             COALESCE(prompt_id, '') AS prompt_id,
             MIN(timestamp_us)       AS first_us,
             MAX(decision = 'accept') AS accepted,
             COUNT(*)                AS edit_decisions
        FROM code_activity
       WHERE kind = 'tool_decision'
         AND tool_name IN ('Edit', 'MultiEdit', 'Write', 'NotebookEdit')
         AND decision IN ('accept', 'reject')
       GROUP BY session_id, COALESCE(prompt_id, '');
    "#,
    // 5: hourly rollups of the traces (see store::rollups), filled from the stored rows below.
    crate::store::rollups::SCHEMA,
    // 6: the report reads merged PRs and authored commits of a window from the index alone
    // (no table lookup per row), with the same leading columns as the indexes they replace.
    r#"
    DROP INDEX gh_pr_repo_merged;
    CREATE INDEX gh_pr_repo_merged ON gh_pull_requests(repo, merged_at, author, created_at, number);
    DROP INDEX gh_commits_repo_authored;
    CREATE INDEX gh_commits_repo_authored
        ON gh_commits(repo, authored_at, author_login, author_name);
    "#,
    // 7: per-model session-days (see store::rollups).
    crate::store::rollups::SESSION_MODELS_SCHEMA,
    // 8: accepted calls reporting lines and their completion tokens per rollup cell; every
    // rollup is recomputed below.
    crate::store::rollups::LINE_COUNTERS_SCHEMA,
    // 9: identity map entries (see store::identities).
    crate::store::identities::SCHEMA,
    // 10: PR attribution: commit message bodies (AI co-author trailers) and the calls made on a
    // branch, read by repo and branch from the index alone (covering, partial).
    r#"
    ALTER TABLE gh_commits ADD COLUMN body TEXT;
    CREATE INDEX traces_repo_branch
        ON traces(repo_slug, git_branch, timestamp_us, tokens_in, tokens_out, cost_usd)
        WHERE git_branch IS NOT NULL;
    "#,
    // 11: input files already ingested, for incremental runs (see store::input_files).
    crate::store::source_state::SCHEMA,
    // 12: teams, settings (the privacy setting) and the calls' (developer, team) pairs.
    crate::store::teams::SCHEMA,
    // 13: indexes for reports. PR attribution reads a window's commits by subject and sha:
    // with both in the index, SQLite checks them there and visits the table (for the body) only
    // for commits that can be evidence, not once per commit. The identity linker groups commit
    // e-mails by login: read in order from a partial index instead of scanning every commit.
    r#"
    CREATE INDEX gh_commits_repo_committed_subject
        ON gh_commits(repo, committed_at, sha, message);
    DROP INDEX gh_commits_repo_committed;
    CREATE INDEX gh_commits_email_login ON gh_commits(lower(author_email), author_login)
        WHERE author_email IS NOT NULL AND author_email != '' AND author_login IS NOT NULL;
    "#,
];

/// A data step run after a migration's SQL, in the same transaction.
type Fill = fn(&Connection) -> Result<()>;

/// Data steps: (version, step). The rollups are filled once, by the last migration that adds a
/// rollup table or column, so that every rollup column exists when they are computed.
const FILLS: &[(i64, Fill)] = &[(8, fill_rollups)];

/// Version 8: computes the rollups of every stored trace (the same code as `rebuild-rollups`).
fn fill_rollups(conn: &Connection) -> Result<()> {
    crate::store::rollups::rebuild(conn, None).map(|_| ())
}

/// The schema version this build writes.
pub const CURRENT: i64 = MIGRATIONS.len() as i64;

/// Applies every pending migration.
pub fn migrate(conn: &mut Connection) -> Result<()> {
    // Serialise concurrent first opens: BEGIN IMMEDIATE takes the write lock before reading the version.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > CURRENT {
        return Err(Error::SchemaTooNew {
            found: version,
            supported: CURRENT,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let to = (i + 1) as i64;
        tx.execute_batch(sql)?;
        for (_, fill) in FILLS.iter().filter(|(v, _)| *v == to) {
            fill(&tx)?;
        }
        tx.pragma_update(None, "user_version", to)?;
    }
    tx.commit()?;
    Ok(())
}

/// Refuses a database written by a newer build (read-only opens).
pub fn check_version(conn: &Connection) -> Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > CURRENT {
        return Err(Error::SchemaTooNew {
            found: version,
            supported: CURRENT,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let mut c = Connection::open(&path).unwrap();
        migrate(&mut c).unwrap();
        migrate(&mut c).unwrap();
        let v: i64 = c
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, CURRENT);
        c.pragma_update(None, "user_version", CURRENT + 1).unwrap();
        assert!(matches!(migrate(&mut c), Err(Error::SchemaTooNew { .. })));
    }
}
