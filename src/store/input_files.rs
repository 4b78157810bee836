//! What the store remembers of each input file it ingested, so that a re-run skips unchanged
//! files and resumes appended ones (see `ingest::files` for the rules).

use super::Store;
use crate::error::Result;
use crate::ingest::files::FileState;
use rusqlite::params;

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

impl Store {
    /// Every remembered input file.
    pub fn input_files(&self) -> Result<Vec<FileState>> {
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
    pub fn save_input_files(&mut self, files: &[FileState]) -> Result<()> {
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
}
