//! `rebuild-rollups` on a PostgreSQL store: the rollups recomputed exactly from `traces`.

use super::PgStore;
use crate::error::Result;
use crate::metrics::counters::CallMeasures;
use crate::store::rollups::{RebuildStats, RollupDelta, RollupRow, ROW_COLUMNS, TABLES};
use crate::store::seam::RollupRebuild;

/// Rows fetched from the server-side cursor, and aggregated in memory, at a time.
const CHUNK_ROWS: i32 = 50_000;

/// A stored row as the rollups see it (columns as in [`ROW_COLUMNS`]).
fn rollup_row(r: &postgres::Row) -> Result<RollupRow<'_>> {
    let tokens_in: i64 = r.try_get(5)?;
    let tokens_out: i64 = r.try_get(6)?;
    Ok(RollupRow {
        repo: r.try_get(0)?,
        timestamp_us: r.try_get(1)?,
        developer: r.try_get(2)?,
        session: r.try_get(3)?,
        model: r.try_get(4)?,
        status: r.try_get(9)?,
        error_class: r.try_get(11)?,
        measures: CallMeasures {
            tokens: tokens_in.saturating_add(tokens_out),
            output_tokens: tokens_out,
            latency_ms: r.try_get(7)?,
            ttft_ms: r.try_get(8)?,
            is_error: r.try_get(10)?,
            accepted: r.try_get(12)?,
            diff_ratio: r.try_get(13)?,
            accepted_lines: r.try_get(14)?,
            cost_usd: r.try_get(15)?,
        },
    })
}

impl RollupRebuild for PgStore {
    /// In one transaction that holds writers off `traces` (`SHARE` lock) until it commits, so
    /// the rollups are never seen half rebuilt and match the rows exactly.
    fn rebuild_rollups(&mut self, repo: Option<&str>) -> Result<RebuildStats> {
        let mut c = self.client();
        let mut tx = c.transaction()?;
        tx.batch_execute("LOCK TABLE traces IN SHARE MODE")?;
        let clause = if repo.is_some() {
            " WHERE repo = $1"
        } else {
            ""
        };
        for table in TABLES {
            // `table` is one of the constant names in TABLES, never input.
            let sql = format!("DELETE FROM {table}{clause}");
            match repo {
                Some(r) => tx.execute(&sql, &[&r])?,
                None => tx.execute(&sql, &[])?,
            };
        }
        let (filter, params): (&str, Vec<&(dyn postgres::types::ToSql + Sync)>) = match &repo {
            Some(r) => ("repo_slug = $1", vec![r]),
            None => ("repo_slug IS NOT NULL AND repo_slug <> ''", vec![]),
        };
        let stmt = tx.prepare(&format!(
            "SELECT {ROW_COLUMNS} FROM traces WHERE {filter} ORDER BY id"
        ))?;
        let portal = tx.bind(&stmt, &params)?;
        let mut traces = 0u64;
        loop {
            let rows = tx.query_portal(&portal, CHUNK_ROWS)?;
            if rows.is_empty() {
                break;
            }
            let mut delta = RollupDelta::new();
            for r in &rows {
                delta.add(&rollup_row(r)?);
            }
            traces += rows.len() as u64;
            super::rollups::write(&mut tx, delta.into_changes())?;
        }
        let mut counts = [0u64; 4];
        for (n, table) in counts.iter_mut().zip(TABLES) {
            let sql = format!("SELECT COUNT(*) FROM {table}{clause}");
            let row = match repo {
                Some(r) => tx.query_one(&sql, &[&r])?,
                None => tx.query_one(&sql, &[])?,
            };
            *n = u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0);
        }
        tx.batch_execute("NOTIFY prodlens_changes")?;
        tx.commit()?;
        Ok(RebuildStats {
            repo: repo.map(str::to_string),
            traces,
            cells: counts[0],
            error_rows: counts[1],
            session_rows: counts[2],
            session_model_rows: counts[3],
        })
    }
}
