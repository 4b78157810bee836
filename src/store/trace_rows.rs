//! Reading stored trace rows back as records: the lake is rebuilt and checked from them.

use super::seam::*;
use super::Store;
use crate::error::{Error, Result};
use crate::record::TraceRecord;
use chrono::NaiveDate;
use rusqlite::params;

/// The columns a stored call is read back from, in the order [`record_from_row`] reads them
/// (either backend).
pub(in crate::store) const RECORD_COLUMNS: &str = "dedupe_key, call_id, response_id,
    source_format, timestamp_us, event_date, repo_slug, developer_id, session_id, trace_id,
    team_id, key_alias, model, provider, call_type, tokens_in, tokens_out, cache_read_tokens,
    cache_creation_tokens, latency_ms, ttft_ms, status_code, is_error, error_class, accepted,
    diff_ratio, accepted_lines, cache_hit, cost_usd, cost_source, cwd, git_branch, is_sidechain,
    client_version";

/// The stored rows of one repo value and event date, counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceGroup {
    /// The stored `repo_slug` (any text, or none).
    pub repo: Option<String>,
    /// The stored `event_date`.
    pub date: NaiveDate,
    /// Rows in the group.
    pub rows: i64,
}

/// The error of a stored row that cannot be read back (either backend).
pub(in crate::store) fn bad_row(what: &str, value: &str) -> Error {
    Error::Lake(format!(
        "stored row has an unreadable {what} {value:?}; the database may be damaged"
    ))
}

/// Parses a stored `event_date`.
pub(in crate::store) fn parse_event_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad_row("event_date", s))
}

/// A stored call from a row of [`RECORD_COLUMNS`]: `$get` is the row type's fallible getter
/// (`get` for SQLite, `try_get` for PostgreSQL); evaluates to `Result<TraceRecord>`.
macro_rules! record_from_row {
    ($r:expr, $get:ident) => {
        (|| -> $crate::error::Result<$crate::record::TraceRecord> {
            use $crate::store::trace_rows::{bad_row, parse_event_date};
            let key: Vec<u8> = $r.$get(0)?;
            let dedupe_key: [u8; 16] = key
                .as_slice()
                .try_into()
                .map_err(|_| bad_row("dedupe_key", &format!("{key:02x?}")))?;
            let fmt: String = $r.$get(3)?;
            let ts: i64 = $r.$get(4)?;
            let date: String = $r.$get(5)?;
            let cost_source: String = $r.$get(29)?;
            Ok($crate::record::TraceRecord {
                dedupe_key,
                call_id: $r.$get(1)?,
                response_id: $r.$get(2)?,
                source_format: $crate::record::SourceFormat::from_name(&fmt)
                    .ok_or_else(|| bad_row("source_format", &fmt))?,
                timestamp: chrono::DateTime::from_timestamp_micros(ts)
                    .ok_or_else(|| bad_row("timestamp", &ts.to_string()))?,
                event_date: parse_event_date(&date)?,
                repo_slug: $r.$get(6)?,
                developer_id: $r.$get(7)?,
                session_id: $r.$get(8)?,
                trace_id: $r.$get(9)?,
                team_id: $r.$get(10)?,
                key_alias: $r.$get(11)?,
                model: $r.$get(12)?,
                provider: $r.$get(13)?,
                call_type: $r.$get(14)?,
                tokens_in: $r.$get(15)?,
                tokens_out: $r.$get(16)?,
                cache_read_tokens: $r.$get(17)?,
                cache_creation_tokens: $r.$get(18)?,
                latency_ms: $r.$get(19)?,
                ttft_ms: $r.$get(20)?,
                status_code: $r.$get(21)?,
                is_error: $r.$get(22)?,
                error_class: $r.$get(23)?,
                accepted: $r.$get(24)?,
                diff_ratio: $r.$get(25)?,
                accepted_lines: $r.$get(26)?,
                cache_hit: $r.$get(27)?,
                reported_cost: None,
                cost_usd: $r.$get(28)?,
                cost_source: $crate::record::CostSource::from_name(&cost_source)
                    .ok_or_else(|| bad_row("cost_source", &cost_source))?,
                cwd: $r.$get(30)?,
                git_branch: $r.$get(31)?,
                is_sidechain: $r.$get(32)?,
                client_version: $r.$get(33)?,
            })
        })()
    };
}
pub(in crate::store) use record_from_row;

fn row_to_record(r: &rusqlite::Row<'_>) -> Result<TraceRecord> {
    record_from_row!(r, get)
}

impl TraceRows for Store {
    /// Counts the stored rows per (repo value, event date).
    fn trace_groups(&self) -> Result<Vec<TraceGroup>> {
        let mut stmt = self.conn.prepare(
            "SELECT repo_slug, event_date, COUNT(*) FROM traces GROUP BY repo_slug, event_date",
        )?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let date: String = r.get(1)?;
            out.push(TraceGroup {
                repo: r.get(0)?,
                date: parse_event_date(&date)?,
                rows: r.get(2)?,
            });
        }
        Ok(out)
    }

    /// Calls `f` with every stored row of one repo value (None: rows without one) and date.
    fn for_each_trace_in(
        &self,
        repo: Option<&str>,
        date: NaiveDate,
        f: &mut dyn FnMut(TraceRecord) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM traces WHERE repo_slug IS ?1 AND event_date = ?2"
        ))?;
        let mut rows = stmt.query(params![repo, date.format("%Y-%m-%d").to_string()])?;
        while let Some(row) = rows.next()? {
            f(row_to_record(row)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_rows_read_back_as_the_records_written() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(&tmp.path().join("c.db")).unwrap();
        let rec = crate::lake::tests::record(9, Some("acme/api"));
        let other = crate::lake::tests::record(10, None);
        store
            .insert_traces(&[rec.clone(), other.clone()], None)
            .unwrap();
        let day = rec.event_date;
        let mut back = Vec::new();
        store
            .for_each_trace_in(Some("acme/api"), day, &mut |r| {
                back.push(r);
                Ok(())
            })
            .unwrap();
        assert_eq!(back, vec![rec]);
        let mut none = Vec::new();
        store
            .for_each_trace_in(None, other.event_date, &mut |r| {
                none.push(r);
                Ok(())
            })
            .unwrap();
        assert_eq!(none, vec![other.clone()]);
        let groups = store.trace_groups().unwrap();
        assert_eq!(groups.len(), 2);
        assert!(groups.contains(&TraceGroup {
            repo: None,
            date: other.event_date,
            rows: 1
        }));
    }
}
