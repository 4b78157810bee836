//! Where each source stopped: what the store remembers of each input file it ingested, so that a
//! re-run skips unchanged files and resumes appended ones (see `ingest::files` for the rules), and
//! the checkpoints of `ingest-litellm` over a PostgreSQL source.

use super::seam::*;
use super::Store;
use crate::error::Result;
use crate::ingest::files::FileState;
use rusqlite::{params, OptionalExtension};

/// Schema version 11: one row per input file path.
pub const SCHEMA: &str = r#"
CREATE TABLE input_files (
    path       TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    head_hash  BLOB NOT NULL,
    tail_hash  BLOB NOT NULL,
    offset     INTEGER NOT NULL,
    lines      INTEGER NOT NULL,
    resumable  INTEGER NOT NULL,
    updated_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX input_files_head ON input_files(head_hash, size);
"#;

/// Where a run resumes: the last `startTime` (text, microseconds) and `request_id` committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// `startTime` as `YYYY-MM-DD HH:MM:SS.ffffff`.
    pub start_time: String,
    /// `request_id` of that row.
    pub request_id: String,
}

impl SourceState for Store {
    /// Every remembered input file.
    fn input_files(&self) -> Result<Vec<FileState>> {
        let mut stmt = self.conn.prepare(
            "SELECT path, size, mtime_ns, head_hash, tail_hash, offset, lines, resumable
             FROM input_files",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(FileState {
                path: r.get(0)?,
                size: r.get::<_, i64>(1)? as u64,
                mtime_ns: r.get(2)?,
                head_hash: r.get(3)?,
                tail_hash: r.get(4)?,
                offset: r.get::<_, i64>(5)? as u64,
                lines: r.get::<_, i64>(6)? as u64,
                resumable: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Remembers input files, in one transaction. Called only after every row read from them
    /// has been committed, so a crash can make a file be read again but never skipped early.
    fn save_input_files(&mut self, files: &[FileState]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO input_files
                   (path, size, mtime_ns, head_hash, tail_hash, offset, lines, resumable, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT(path) DO UPDATE SET size = excluded.size,
                   mtime_ns = excluded.mtime_ns, head_hash = excluded.head_hash,
                   tail_hash = excluded.tail_hash, offset = excluded.offset,
                   lines = excluded.lines, resumable = excluded.resumable,
                   updated_at = excluded.updated_at",
            )?;
            for f in files {
                stmt.execute(params![
                    f.path,
                    f.size as i64,
                    f.mtime_ns,
                    f.head_hash,
                    f.tail_hash,
                    f.offset as i64,
                    f.lines as i64,
                    f.resumable,
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The saved checkpoint of a PostgreSQL source.
    fn litellm_checkpoint(&self, source: &str) -> Result<Option<Checkpoint>> {
        Ok(self
            .conn
            .query_row(
                "SELECT start_time, request_id FROM litellm_checkpoints WHERE source = ?1",
                params![source],
                |r| {
                    Ok(Checkpoint {
                        start_time: r.get(0)?,
                        request_id: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    /// Saves the checkpoint of a PostgreSQL source.
    fn set_litellm_checkpoint(&self, source: &str, c: &Checkpoint) -> Result<()> {
        self.conn.execute(
            "INSERT INTO litellm_checkpoints (source, start_time, request_id, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(source) DO UPDATE SET start_time = excluded.start_time,
                 request_id = excluded.request_id, updated_at = excluded.updated_at",
            params![
                source,
                c.start_time,
                c.request_id,
                chrono::Utc::now().to_rfc3339()
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("x.db")).unwrap();
        assert_eq!(store.litellm_checkpoint("a").unwrap(), None);
        let c = Checkpoint {
            start_time: "2025-07-10 10:00:00.123000".into(),
            request_id: "r-1".into(),
        };
        store.set_litellm_checkpoint("a", &c).unwrap();
        let c2 = Checkpoint {
            request_id: "r-2".into(),
            ..c
        };
        store.set_litellm_checkpoint("a", &c2).unwrap();
        assert_eq!(store.litellm_checkpoint("a").unwrap(), Some(c2));
        assert_eq!(store.litellm_checkpoint("b").unwrap(), None);
    }
}
