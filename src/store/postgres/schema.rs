//! The PostgreSQL schema, versioned in `prodlens_schema`: the tables of the SQLite store with
//! PostgreSQL types (BIGINT, DOUBLE PRECISION, BYTEA, BOOLEAN). Only standard SQL and core
//! PostgreSQL types are used, so managed services and Citus take it as it is.

/// Migrations in order; index + 1 is the version each one produces.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: calls, runs, source checkpoints, code activity, rollups and identity links.
    r#"
    CREATE TABLE traces (
        id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        dedupe_key            BYTEA   NOT NULL UNIQUE,
        call_id               TEXT,
        response_id           TEXT,
        source_format         TEXT    NOT NULL,
        timestamp_us          BIGINT  NOT NULL,
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
        tokens_in             BIGINT  NOT NULL,
        tokens_out            BIGINT  NOT NULL,
        cache_read_tokens     BIGINT  NOT NULL,
        cache_creation_tokens BIGINT  NOT NULL,
        latency_ms            DOUBLE PRECISION,
        ttft_ms               DOUBLE PRECISION,
        status_code           BIGINT,
        is_error              BOOLEAN NOT NULL,
        error_class           TEXT,
        accepted              BOOLEAN,
        diff_ratio            DOUBLE PRECISION,
        accepted_lines        BIGINT,
        cache_hit             BOOLEAN,
        cost_usd              DOUBLE PRECISION,
        cost_source           TEXT    NOT NULL,
        ingested_run          BIGINT,
        cwd                   TEXT,
        git_branch            TEXT,
        is_sidechain          BOOLEAN,
        client_version        TEXT
    );
    CREATE INDEX traces_repo_date ON traces(repo_slug, event_date);
    CREATE INDEX traces_timestamp ON traces(timestamp_us);
    CREATE INDEX traces_developer ON traces(developer_id);
    CREATE INDEX traces_session   ON traces(session_id);
    CREATE INDEX traces_repo_branch
        ON traces(repo_slug, git_branch, timestamp_us, tokens_in, tokens_out, cost_usd)
        WHERE git_branch IS NOT NULL;

    CREATE TABLE etl_runs (
        id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        job           TEXT   NOT NULL,
        source        TEXT   NOT NULL,
        started_at    TEXT   NOT NULL,
        finished_at   TEXT,
        outcome       TEXT   NOT NULL,
        read          BIGINT NOT NULL DEFAULT 0,
        inserted      BIGINT NOT NULL DEFAULT 0,
        duplicates    BIGINT NOT NULL DEFAULT 0,
        dead_lettered BIGINT NOT NULL DEFAULT 0,
        skipped       BIGINT NOT NULL DEFAULT 0,
        cost_unknown  BIGINT NOT NULL DEFAULT 0,
        details       TEXT
    );
    CREATE INDEX etl_runs_job ON etl_runs(job, started_at);

    CREATE TABLE litellm_checkpoints (
        source      TEXT PRIMARY KEY,
        start_time  TEXT NOT NULL,
        request_id  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );

    CREATE TABLE input_files (
        path       TEXT PRIMARY KEY,
        size       BIGINT  NOT NULL,
        mtime_ns   BIGINT  NOT NULL,
        head_hash  BYTEA   NOT NULL,
        tail_hash  BYTEA   NOT NULL,
        "offset"   BIGINT  NOT NULL,
        lines      BIGINT  NOT NULL,
        resumable  BOOLEAN NOT NULL,
        updated_at TEXT    NOT NULL
    );
    CREATE INDEX input_files_head ON input_files(head_hash, size);

    CREATE TABLE code_activity (
        id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        dedupe_key    BYTEA  NOT NULL UNIQUE,
        session_id    TEXT,
        timestamp_us  BIGINT NOT NULL,
        event_date    TEXT   NOT NULL,
        kind          TEXT   NOT NULL,
        tool_name     TEXT,
        decision      TEXT,
        source        TEXT,
        prompt_id     TEXT,
        line_type     TEXT,
        language      TEXT,
        value         DOUBLE PRECISION NOT NULL,
        cumulative    BOOLEAN NOT NULL,
        developer_id  TEXT,
        ingested_run  BIGINT
    );
    CREATE INDEX code_activity_session ON code_activity(session_id, kind);

    CREATE TABLE rollup_cells (
        repo               TEXT   NOT NULL,
        hour               BIGINT NOT NULL,
        developer          TEXT   NOT NULL,
        model              TEXT   NOT NULL,
        requests           BIGINT NOT NULL,
        tokens             BIGINT NOT NULL,
        cost_usd           DOUBLE PRECISION NOT NULL,
        cost_unknown       BIGINT NOT NULL,
        errors             BIGINT NOT NULL,
        signal             BIGINT NOT NULL,
        accepted           BIGINT NOT NULL,
        accepted_tokens    BIGINT NOT NULL,
        accepted_lines     BIGINT NOT NULL,
        line_tokens        BIGINT NOT NULL,
        diff_n             BIGINT NOT NULL,
        diff_sum           DOUBLE PRECISION NOT NULL,
        diff_high          BIGINT NOT NULL,
        latency_lt_1s      BIGINT NOT NULL,
        latency_1_2s       BIGINT NOT NULL,
        latency_2_5s       BIGINT NOT NULL,
        latency_5_10s      BIGINT NOT NULL,
        latency_10_30s     BIGINT NOT NULL,
        latency_30_60s     BIGINT NOT NULL,
        latency_ge_60s     BIGINT NOT NULL,
        ttft_n             BIGINT NOT NULL,
        latency_sketch     BYTEA,
        ttft_sketch        BYTEA,
        line_calls         BIGINT NOT NULL DEFAULT 0,
        line_output_tokens BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (repo, hour, developer, model)
    );
    CREATE TABLE rollup_errors (
        repo         TEXT   NOT NULL,
        hour         BIGINT NOT NULL,
        developer    TEXT   NOT NULL,
        model        TEXT   NOT NULL,
        status       BIGINT NOT NULL,
        error_class  TEXT   NOT NULL,
        errors       BIGINT NOT NULL,
        PRIMARY KEY (repo, hour, developer, model, status, error_class)
    );
    CREATE TABLE rollup_sessions (
        repo          TEXT   NOT NULL,
        day           BIGINT NOT NULL,
        developer     TEXT   NOT NULL,
        session       TEXT   NOT NULL,
        hours         BIGINT NOT NULL,
        models        TEXT   NOT NULL,
        requests      BIGINT NOT NULL,
        tokens        BIGINT NOT NULL,
        cost_usd      DOUBLE PRECISION NOT NULL,
        cost_unknown  BIGINT NOT NULL,
        errors        BIGINT NOT NULL,
        first_us      BIGINT NOT NULL,
        last_us       BIGINT NOT NULL,
        PRIMARY KEY (repo, day, developer, session)
    );
    CREATE INDEX rollup_sessions_session ON rollup_sessions(repo, session, day);
    CREATE TABLE rollup_session_models (
        repo          TEXT   NOT NULL,
        day           BIGINT NOT NULL,
        developer     TEXT   NOT NULL,
        session       TEXT   NOT NULL,
        model         TEXT   NOT NULL,
        requests      BIGINT NOT NULL,
        tokens        BIGINT NOT NULL,
        cost_usd      DOUBLE PRECISION NOT NULL,
        cost_unknown  BIGINT NOT NULL,
        errors        BIGINT NOT NULL,
        first_us      BIGINT NOT NULL,
        last_us       BIGINT NOT NULL,
        PRIMARY KEY (repo, day, developer, session, model)
    );
    CREATE INDEX rollup_session_models_model ON rollup_session_models(model, day);

    CREATE TABLE identity_map (
        developer_id TEXT PRIMARY KEY,
        github_login TEXT NOT NULL,
        source       TEXT NOT NULL,
        loaded_at    TEXT NOT NULL
    );
    "#,
    // 2: GitHub rows, rework links, the conditional-request cache and sync state, as in the
    // SQLite store (times are UTC text `YYYY-MM-DDTHH:MM:SSZ`, which sorts in time order).
    r#"
    CREATE TABLE gh_pull_requests (
        repo             TEXT    NOT NULL,
        number           BIGINT  NOT NULL,
        id               BIGINT,
        title            TEXT    NOT NULL,
        author           TEXT,
        state            TEXT    NOT NULL,
        draft            BOOLEAN NOT NULL,
        created_at       TEXT    NOT NULL,
        updated_at       TEXT    NOT NULL,
        closed_at        TEXT,
        merged_at        TEXT,
        merge_commit_sha TEXT,
        base_ref         TEXT,
        head_ref         TEXT,
        additions        BIGINT,
        deletions        BIGINT,
        changed_files    BIGINT,
        revert_title     TEXT,
        revert_shas      TEXT,
        revert_numbers   TEXT,
        PRIMARY KEY (repo, number)
    );
    CREATE INDEX gh_pr_repo_merged  ON gh_pull_requests(repo, merged_at, author, created_at, number);
    CREATE INDEX gh_pr_repo_created ON gh_pull_requests(repo, created_at);
    CREATE INDEX gh_pr_repo_updated ON gh_pull_requests(repo, updated_at);
    CREATE INDEX gh_pr_number       ON gh_pull_requests(number);
    CREATE INDEX gh_pr_merge_sha    ON gh_pull_requests(repo, merge_commit_sha);

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
        body          TEXT,
        PRIMARY KEY (repo, sha)
    );
    CREATE INDEX gh_commits_repo_authored
        ON gh_commits(repo, authored_at, author_login, author_name);
    CREATE INDEX gh_commits_repo_committed ON gh_commits(repo, committed_at);
    CREATE INDEX gh_commits_author         ON gh_commits(author_login);

    CREATE TABLE gh_issue_events (
        repo            TEXT    NOT NULL,
        id              BIGINT  NOT NULL,
        event           TEXT    NOT NULL,
        issue_number    BIGINT,
        is_pull_request BOOLEAN NOT NULL,
        actor           TEXT,
        created_at      TEXT    NOT NULL,
        commit_id       TEXT,
        PRIMARY KEY (repo, id)
    );
    CREATE INDEX gh_events_repo_issue ON gh_issue_events(repo, issue_number);
    CREATE INDEX gh_events_repo_event ON gh_issue_events(repo, event, created_at);

    CREATE TABLE gh_rework (
        repo              TEXT    NOT NULL,
        kind              TEXT    NOT NULL,
        pr_number         BIGINT  NOT NULL,
        source            TEXT    NOT NULL,
        at                TEXT    NOT NULL,
        days_after_merge  DOUBLE PRECISION,
        within_window     BOOLEAN NOT NULL,
        PRIMARY KEY (repo, kind, pr_number, source)
    );
    CREATE INDEX gh_rework_repo_at ON gh_rework(repo, at);

    CREATE TABLE gh_http_cache (
        url           TEXT    PRIMARY KEY,
        repo          TEXT    NOT NULL,
        stream        TEXT    NOT NULL,
        etag          TEXT,
        last_modified TEXT,
        next_url      TEXT,
        items         BIGINT  NOT NULL,
        min_key       TEXT,
        max_key       TEXT,
        fetched_at    TEXT    NOT NULL
    );
    CREATE INDEX gh_http_cache_repo ON gh_http_cache(repo);

    CREATE TABLE gh_sync_state (
        repo            TEXT NOT NULL,
        stream          TEXT NOT NULL,
        checkpoint      TEXT,
        probe_url       TEXT,
        probe_etag      TEXT,
        last_sync       TEXT,
        PRIMARY KEY (repo, stream)
    );

    CREATE TABLE gh_repos (
        repo                 TEXT PRIMARY KEY,
        last_sync            TEXT,
        last_outcome         TEXT,
        rate_limit_remaining BIGINT,
        rate_limit_reset     TEXT
    );
    "#,
    // 3: room on each page of the rollups for the new version of an updated row (HOT updates,
    // no index change), which every batch makes of the cells it touches.
    r#"
    ALTER TABLE rollup_cells SET (fillfactor = 70);
    ALTER TABLE rollup_errors SET (fillfactor = 70);
    ALTER TABLE rollup_sessions SET (fillfactor = 70);
    ALTER TABLE rollup_session_models SET (fillfactor = 70);
    "#,
    // 4: teams, settings (the privacy setting) and the calls' (developer, team) pairs: the
    // SQLite migration's SQL, which is standard.
    crate::store::teams::SCHEMA,
];
