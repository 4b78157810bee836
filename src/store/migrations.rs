//! Versioned schema migrations, tracked with `PRAGMA user_version`.
//!
//! Each migration runs in its own transaction; a file written by a newer ProdLens is refused
//! rather than misread.

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
];

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
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
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
