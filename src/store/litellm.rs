//! Checkpoints of `ingest-litellm`: where the next run over a PostgreSQL source resumes.

use super::Store;
use crate::error::Result;
use rusqlite::{params, OptionalExtension};

/// Where a run resumes: the last `startTime` (text, microseconds) and `request_id` committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// `startTime` as `YYYY-MM-DD HH:MM:SS.ffffff`.
    pub start_time: String,
    /// `request_id` of that row.
    pub request_id: String,
}

impl Store {
    /// The saved checkpoint of a PostgreSQL source.
    pub fn litellm_checkpoint(&self, source: &str) -> Result<Option<Checkpoint>> {
        Ok(self
            .conn()
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
    pub fn set_litellm_checkpoint(&self, source: &str, c: &Checkpoint) -> Result<()> {
        self.conn().execute(
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
