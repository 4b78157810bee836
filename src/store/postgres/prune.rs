//! `prune` on a PostgreSQL store: the steps of [`crate::store::prune`] and the rework links of
//! the repos touched in one transaction that holds other writers off `traces` until it commits,
//! then `VACUUM (ANALYZE)` of the tables it deleted from.

use super::PgStore;
use crate::error::Result;
use crate::store::prune::{steps, Bound, Cut, PruneCounts, TableCount, GITHUB_STEPS};
use crate::store::seam::Retention;
use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use std::collections::BTreeSet;

/// A step's filter with PostgreSQL's placeholder.
fn filter(sql: &str) -> String {
    sql.replace("?1", "$1")
}

impl PgStore {
    fn prune_rows(&self, cut: &Cut, github: bool, dry_run: bool) -> Result<PruneCounts> {
        let mut counts = cut.counts(dry_run);
        let mut c = self.client();
        let mut tx = c.transaction()?;
        if !dry_run {
            // Writers add calls and their rollups in one transaction: none may commit between
            // this one's deletes (a call kept whose rollup row went). Self-conflicting, so two
            // prunes queue instead of deadlocking.
            tx.batch_execute("LOCK TABLE traces IN SHARE ROW EXCLUSIVE MODE")?;
        }
        let value = |b: Bound| -> Box<dyn ToSql + Sync> {
            match b {
                Bound::Micros => Box::new(cut.micros),
                Bound::Hour => Box::new(cut.hour),
                Bound::Day => Box::new(cut.day),
                Bound::GhTime => Box::new(cut.gh.clone()),
            }
        };
        let mut repos = BTreeSet::new();
        if github {
            for s in GITHUB_STEPS {
                // `s.table` and `s.filter` are constants; the cut is a parameter.
                let sql = format!(
                    "SELECT DISTINCT repo FROM {} WHERE {}",
                    s.table,
                    filter(s.filter)
                );
                let v = value(s.bound);
                for r in tx.query(&sql, &[v.as_ref()])? {
                    repos.insert(r.try_get::<_, String>(0)?);
                }
            }
        }
        for s in steps(github) {
            let v = value(s.bound);
            let rows = if dry_run {
                let sql = format!(
                    "SELECT COUNT(*) FROM {} WHERE {}",
                    s.table,
                    filter(s.filter)
                );
                let n: i64 = tx.query_one(&sql, &[v.as_ref()])?.try_get(0)?;
                u64::try_from(n).unwrap_or(0)
            } else {
                let sql = format!("DELETE FROM {} WHERE {}", s.table, filter(s.filter));
                tx.execute(&sql, &[v.as_ref()])?
            };
            counts.tables.push(TableCount {
                table: s.table.to_string(),
                rows,
            });
        }
        if dry_run {
            tx.rollback()?;
        } else {
            for repo in &repos {
                super::github::recompute_rework_in(&mut tx, repo)?;
            }
            tx.batch_execute("NOTIFY prodlens_changes")?;
            tx.commit()?;
        }
        counts.rework_repos = repos.into_iter().collect();
        Ok(counts)
    }

    /// `VACUUM (ANALYZE)` of the tables rows were deleted from (outside any transaction), so
    /// their space is reusable and the planner's statistics are right at once. A role that does
    /// not own a table gets a server warning and the table is left to autovacuum.
    fn vacuum(&self, counts: &PruneCounts) -> Result<()> {
        let tables: Vec<&str> = counts
            .tables
            .iter()
            .filter(|t| t.rows > 0)
            .map(|t| t.table.as_str())
            .collect();
        if tables.is_empty() {
            return Ok(());
        }
        // The names are the constant table names of the steps, never input.
        let sql = format!("VACUUM (ANALYZE) {}", tables.join(", "));
        self.client().batch_execute(&sql)?;
        Ok(())
    }
}

impl Retention for PgStore {
    fn prune(&mut self, before: DateTime<Utc>, github: bool, dry_run: bool) -> Result<PruneCounts> {
        let cut = Cut::new(before)?;
        let counts = self.prune_rows(&cut, github, dry_run)?;
        if !dry_run {
            self.vacuum(&counts)?;
        }
        Ok(counts)
    }
}
