//! The sessions list: one row per (repo, session) with its calls, tokens, cost and errors,
//! filtered, sorted by a whitelisted column and paginated in SQL; and whether a developer is known.
//! The query and page types and the rules both stores share are in `session_query`.

use rusqlite::params;

use super::seam::*;
use super::session_query::{
    check_paging, developer_names, iso, page_offset, rollup_plan, shown_developer, RollupPlan,
};
pub use super::session_query::{
    SessionPage, SessionQuery, SessionRow, SessionSort, SortOrder, MAX_PER_PAGE,
};
use super::Store;
use crate::error::{Error, Result};

/// A non-negative integer column.
fn count(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0))
}

/// Rows of `traces` that a query covers (parameters ?1 repos JSON, ?2 start, ?3 end,
/// ?4 developer, ?5 model). `{ts}` is `timestamp_us`, or `+timestamp_us` to keep SQLite off the
/// timestamp index when the window holds most rows (a table scan is then about twice as fast).
const MATCHING: &str = "FROM traces
     WHERE repo_slug <> '' AND session_id <> ''
       AND {ts} >= ?2 AND {ts} < ?3
       AND (?1 IS NULL OR repo_slug IN (SELECT value FROM json_each(?1)))
       AND (?4 IS NULL OR lower(developer_id) IN (SELECT value FROM json_each(?4)))
       AND (?5 IS NULL OR model = ?5)
     GROUP BY repo_slug, session_id";

/// The same sessions from the rollups for the whole UTC days of the window (?2 and ?3 are days),
/// plus the calls of the window's partial first and last days from `traces` (`[?8, ?9)` and
/// `[?10, ?11)`, in µs; empty ranges when the bounds fall on UTC midnights): every call is in
/// exactly one part. `{days}` is `rollup_sessions` without a model filter and
/// `rollup_session_models` with one; `{model}` is the model condition of both parts.
const MATCHING_ROLLUP: &str = "FROM (
       SELECT repo, session, NULLIF(developer, '') AS developer, first_us, last_us, requests,
              tokens, cost_usd AS cost, cost_unknown, errors
       FROM {days}
       WHERE session <> '' AND day >= ?2 AND day < ?3
         AND (?1 IS NULL OR repo IN (SELECT value FROM json_each(?1)))
         AND (?4 IS NULL OR lower(developer) IN (SELECT value FROM json_each(?4)))
         AND {model}
       UNION ALL
       SELECT repo_slug, session_id, NULLIF(developer_id, ''), timestamp_us, timestamp_us, 1,
              tokens_in + tokens_out, cost_usd, cost_usd IS NULL, is_error
       FROM traces
       WHERE repo_slug <> '' AND session_id <> ''
         AND ((timestamp_us >= ?8 AND timestamp_us < ?9)
              OR (timestamp_us >= ?10 AND timestamp_us < ?11))
         AND (?1 IS NULL OR repo_slug IN (SELECT value FROM json_each(?1)))
         AND (?4 IS NULL OR lower(developer_id) IN (SELECT value FROM json_each(?4)))
         AND {model}
     )
     GROUP BY repo, session";

/// Binds the first `parameter_count` of `values` to `?1`, `?2`, … of `stmt`.
fn bind_leading(stmt: &mut rusqlite::Statement<'_>, values: &[&dyn rusqlite::ToSql]) -> Result<()> {
    let n = stmt.parameter_count();
    if n > values.len() {
        return Err(rusqlite::Error::InvalidParameterCount(values.len(), n).into());
    }
    for (i, v) in values.iter().take(n).enumerate() {
        stmt.raw_bind_parameter(i + 1, v)?;
    }
    Ok(())
}

/// Share of the stored time span above which a window is read by a table scan.
const SCAN_SHARE: f64 = 0.25;

impl SessionsReader for Store {
    /// One page of the sessions matching `q`, sorted by `q.sort` then repo and session.
    fn sessions_page(&self, q: &SessionQuery) -> Result<SessionPage> {
        check_paging(q)?;
        let repos =
            if q.repos.is_empty() {
                None
            } else {
                Some(serde_json::to_string(&q.repos).map_err(|e| {
                    Error::InvalidArgument(format!("cannot encode the repo list: {e}"))
                })?)
            };
        // A developer filter matches every id linked to the same person (see `identities`).
        let linker = match &q.developer {
            Some(_) => Some(self.linker(&[])?),
            None => None,
        };
        let developer = match (&q.developer, &linker) {
            (Some(d), Some(l)) => {
                serde_json::to_string(&developer_names(l, d, &self.developer_ids()?)).ok()
            }
            _ => None,
        };
        let start = q.start_us.unwrap_or(i64::MIN);
        let end = q.end_us.unwrap_or(i64::MAX);
        let offset = page_offset(q);
        let plan = self.rollup_plan(q)?;
        let (days, head, tail) = match plan {
            Some(p) => (p.days, p.head, p.tail),
            None => ((start, end), (0, 0), (0, 0)),
        };
        let (matching, select) = match plan {
            Some(_) => (
                match q.model {
                    None => MATCHING_ROLLUP
                        .replace("{days}", "rollup_sessions")
                        .replace("{model}", "?5 IS NULL"),
                    Some(_) => MATCHING_ROLLUP
                        .replace("{days}", "rollup_session_models")
                        .replace("{model}", "model = ?5"),
                },
                "SELECT repo, session, MIN(developer) AS developer,
                        MIN(first_us) AS first_us, MAX(last_us) AS last_us,
                        SUM(requests) AS requests, SUM(tokens) AS tokens,
                        TOTAL(cost) AS cost, SUM(cost_unknown) AS cost_unknown,
                        SUM(errors) AS errors, COUNT(*) OVER () AS total",
            ),
            None => (
                MATCHING.replace(
                    "{ts}",
                    if self.wide_window(start, end)? {
                        "+timestamp_us"
                    } else {
                        "timestamp_us"
                    },
                ),
                "SELECT repo_slug, session_id, MIN(NULLIF(developer_id, '')) AS developer,
                        MIN(timestamp_us) AS first_us, MAX(timestamp_us) AS last_us,
                        COUNT(*) AS requests, SUM(tokens_in + tokens_out) AS tokens,
                        TOTAL(cost_usd) AS cost, SUM(cost_usd IS NULL) AS cost_unknown,
                        SUM(is_error) AS errors, COUNT(*) OVER () AS total",
            ),
        };
        // Both group keys come first, so ties sort the same way on either path.
        // The sort column and direction come from the enums above, never from input text.
        let sql = format!(
            "{select}
             {matching}
             ORDER BY {col} {dir}, 1 ASC, 2 ASC
             LIMIT ?6 OFFSET ?7",
            col = q.sort.column(),
            dir = q.order.sql(),
        );
        // One list of numbered parameters for both paths, the page and the count: each
        // statement binds the first `parameter_count` of them (the row scan uses ?1–?7, its
        // count ?1–?5).
        let args = params![
            repos,
            days.0,
            days.1,
            developer,
            q.model,
            i64::from(q.per_page),
            offset,
            head.0,
            head.1,
            tail.0,
            tail.1
        ];
        let mut stmt = self.conn.prepare_cached(&sql)?;
        bind_leading(&mut stmt, args)?;
        let mut rows = stmt.raw_query();
        let mut total = None;
        let mut items = Vec::with_capacity(q.per_page as usize);
        while let Some(r) = rows.next()? {
            total = Some(r.get::<_, i64>(10)?);
            let dev: Option<String> = r.get(2)?;
            items.push(SessionRow {
                repo: r.get(0)?,
                session: r.get(1)?,
                developer: shown_developer(linker.as_ref(), dev),
                first_seen: iso(r.get(3)?),
                last_seen: iso(r.get(4)?),
                requests: count(r, 5)?,
                tokens: r.get(6)?,
                cost_usd: r.get(7)?,
                cost_unknown: count(r, 8)?,
                errors: count(r, 9)?,
            });
        }
        drop(rows);
        let total = match total {
            Some(t) => t,
            // Past the last page: no row carried the total, count separately.
            None => {
                let mut count = self
                    .conn
                    .prepare_cached(&format!("SELECT COUNT(*) FROM (SELECT 1 {matching})"))?;
                bind_leading(&mut count, args)?;
                let mut rows = count.raw_query();
                match rows.next()? {
                    Some(r) => r.get(0)?,
                    None => 0,
                }
            }
        };
        Ok(SessionPage {
            total: u64::try_from(total).unwrap_or(0),
            page: q.page,
            per_page: q.per_page,
            items,
        })
    }

    /// Whether `developer` (any case) made a stored call or authored a stored commit or PR.
    fn developer_known(&self, developer: &str) -> Result<bool> {
        let exists = |sql: &str| -> Result<bool> {
            Ok(self
                .conn
                .query_row(sql, [developer], |r| r.get::<_, bool>(0))?)
        };
        // The exact spelling uses the index; any other case scans it.
        if exists("SELECT EXISTS (SELECT 1 FROM traces WHERE developer_id = ?1)")?
            || exists(
                "SELECT EXISTS (SELECT 1 FROM traces WHERE developer_id = ?1 COLLATE NOCASE)",
            )?
        {
            return Ok(true);
        }
        if !self.gh_tables_exist()? {
            return Ok(false);
        }
        exists(
            "SELECT EXISTS (SELECT 1 FROM gh_pull_requests WHERE author = ?1 COLLATE NOCASE)
                 OR EXISTS (SELECT 1 FROM gh_commits
                            WHERE COALESCE(author_login, author_name) = ?1 COLLATE NOCASE)",
        )
    }
}

impl Store {
    /// How to read `q` from the rollups, when the store has the ones it needs (per model with a
    /// model filter) and the window holds a whole UTC day; `None` reads every call of the window
    /// from `traces`.
    fn rollup_plan(&self, q: &SessionQuery) -> Result<Option<RollupPlan>> {
        let has = match q.model {
            None => self.has_rollups()?,
            Some(_) => self.has_session_model_rollups()?,
        };
        Ok(if has { rollup_plan(q) } else { None })
    }

    /// Whether `[start, end)` covers more than [`SCAN_SHARE`] of the stored calls' time span.
    fn wide_window(&self, start: i64, end: i64) -> Result<bool> {
        let (min, max): (Option<i64>, Option<i64>) = self.conn.query_row(
            "SELECT MIN(timestamp_us), MAX(timestamp_us) FROM traces",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let (Some(min), Some(max)) = (min, max) else {
            return Ok(false);
        };
        let span = (max as f64 - min as f64).max(1.0);
        let covered = (end.min(max) as f64 - start.max(min) as f64).max(0.0);
        Ok(covered / span > SCAN_SHARE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    /// A call of `dev` in `repo`/`session` at minute `min` of 2025-10-12 19:00 UTC.
    fn call(
        key: u8,
        repo: &str,
        session: &str,
        dev: &str,
        min: u32,
        tokens: i64,
    ) -> crate::record::TraceRecord {
        let mut r = crate::lake::tests::record(key, Some(repo));
        r.timestamp = Utc.with_ymd_and_hms(2025, 10, 12, 19, min, 0).unwrap();
        r.session_id = Some(session.into());
        r.developer_id = Some(dev.into());
        r.tokens_in = tokens;
        r.tokens_out = 0;
        r.cost_usd = Some(f64::from(key) / 100.0);
        r
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.db")).unwrap();
        let mut calls = vec![
            call(1, "acme/api", "s1", "Ana", 0, 10),
            call(2, "acme/api", "s1", "ana", 5, 20),
            call(3, "acme/api", "s2", "bo", 1, 300),
            call(4, "acme/web", "s1", "cy", 2, 7),
            call(5, "acme/web", "s3", "bo", 9, 1),
        ];
        calls[2].is_error = true;
        calls[3].cost_usd = None;
        calls[4].model = Some("claude-3".into());
        let mut no_session = call(6, "acme/api", "x", "ana", 3, 1);
        no_session.session_id = None;
        calls.push(no_session);
        s.insert_traces(&calls, None).unwrap();
        (dir, s)
    }

    fn keys(p: &SessionPage) -> Vec<(String, String)> {
        p.items
            .iter()
            .map(|r| (r.repo.clone(), r.session.clone()))
            .collect()
    }

    fn k(repo: &str, session: &str) -> (String, String) {
        (repo.to_string(), session.to_string())
    }

    #[test]
    fn groups_by_repo_and_session_with_totals() {
        let (_d, s) = store();
        let p = s.sessions_page(&SessionQuery::default()).unwrap();
        assert_eq!(p.total, 4, "calls without a session are not sessions");
        // Latest call first.
        assert_eq!(
            keys(&p),
            [
                k("acme/web", "s3"),
                k("acme/api", "s1"),
                k("acme/web", "s1"),
                k("acme/api", "s2")
            ]
        );
        let s1 = &p.items[1];
        assert_eq!(s1.requests, 2);
        assert_eq!(s1.tokens, 30);
        assert_eq!(s1.developer.as_deref(), Some("Ana"));
        assert_eq!(s1.first_seen, "2025-10-12T19:00:00.000Z");
        assert_eq!(s1.last_seen, "2025-10-12T19:05:00.000Z");
        assert!((s1.cost_usd - 0.03).abs() < 1e-12);
        assert_eq!(p.items[3].errors, 1);
        assert_eq!((p.items[2].cost_usd, p.items[2].cost_unknown), (0.0, 1));
    }

    #[test]
    fn every_sort_key_and_direction() {
        let (_d, s) = store();
        let page = |sort, order| {
            keys(
                &s.sessions_page(&SessionQuery {
                    sort,
                    order,
                    ..SessionQuery::default()
                })
                .unwrap(),
            )
        };
        use SessionSort::*;
        assert_eq!(
            page(Tokens, SortOrder::Desc),
            [
                k("acme/api", "s2"),
                k("acme/api", "s1"),
                k("acme/web", "s1"),
                k("acme/web", "s3")
            ]
        );
        assert_eq!(
            page(Tokens, SortOrder::Asc),
            [
                k("acme/web", "s3"),
                k("acme/web", "s1"),
                k("acme/api", "s1"),
                k("acme/api", "s2")
            ]
        );
        // Ties break on repo then session, ascending, whatever the direction.
        assert_eq!(
            page(Requests, SortOrder::Desc),
            [
                k("acme/api", "s1"),
                k("acme/api", "s2"),
                k("acme/web", "s1"),
                k("acme/web", "s3")
            ]
        );
        assert_eq!(page(Errors, SortOrder::Desc)[0], k("acme/api", "s2"));
        assert_eq!(page(Cost, SortOrder::Desc)[0], k("acme/web", "s3"));
        assert_eq!(page(Cost, SortOrder::Asc)[0], k("acme/web", "s1"));
        assert_eq!(
            page(Developer, SortOrder::Asc),
            [
                k("acme/api", "s1"),
                k("acme/api", "s2"),
                k("acme/web", "s3"),
                k("acme/web", "s1")
            ]
        );
        assert_eq!(page(LastSeen, SortOrder::Asc)[0], k("acme/api", "s2"));
        for s in SessionSort::ALL {
            assert_eq!(SessionSort::parse(s.name()), Some(s));
        }
        assert_eq!(SessionSort::parse("tokens; DROP TABLE traces"), None);
    }

    #[test]
    fn filters_narrow_the_calls() {
        let (_d, s) = store();
        let q = |f: &dyn Fn(&mut SessionQuery)| {
            let mut q = SessionQuery::default();
            f(&mut q);
            s.sessions_page(&q).unwrap()
        };
        let p = q(&|q| q.repos = vec!["acme/web".into()]);
        assert_eq!(keys(&p), [k("acme/web", "s3"), k("acme/web", "s1")]);
        let p = q(&|q| q.developer = Some("ANA".into()));
        assert_eq!(keys(&p), [k("acme/api", "s1")]);
        assert_eq!(p.items[0].requests, 2);
        let p = q(&|q| q.model = Some("claude-3".into()));
        assert_eq!(keys(&p), [k("acme/web", "s3")]);
        // [19:01, 19:05): the calls of api/s2 and web/s1 (api/s1 calls at 19:00 and 19:05).
        let at = |m| {
            Utc.with_ymd_and_hms(2025, 10, 12, 19, m, 0)
                .unwrap()
                .timestamp_micros()
        };
        let p = q(&|q| {
            q.start_us = Some(at(1));
            q.end_us = Some(at(5));
        });
        assert_eq!(p.total, 2);
        // A narrow window (a ninth of the span) reads through the timestamp index: same rules.
        assert!(!s.wide_window(at(9), at(10)).unwrap());
        assert!(s.wide_window(at(1), at(5)).unwrap());
        let p = q(&|q| {
            q.start_us = Some(at(9));
            q.end_us = Some(at(10));
        });
        assert_eq!(keys(&p), [k("acme/web", "s3")]);
        let p = q(&|q| q.repos = vec!["nobody/here".into()]);
        assert_eq!((p.total, p.items.len()), (0, 0));
    }

    #[test]
    fn pages_and_bounds() {
        let (_d, s) = store();
        let page = |page, per_page| {
            s.sessions_page(&SessionQuery {
                page,
                per_page,
                sort: SessionSort::Tokens,
                ..SessionQuery::default()
            })
        };
        let p = page(2, 3).unwrap();
        assert_eq!((p.total, p.page, p.per_page), (4, 2, 3));
        assert_eq!(keys(&p), [k("acme/web", "s3")]);
        let past = page(3, 3).unwrap();
        assert_eq!((past.total, past.items.len()), (4, 0));
        let far = page(u32::MAX, MAX_PER_PAGE).unwrap();
        assert_eq!((far.total, far.items.len()), (4, 0));
        assert!(page(0, 3).is_err());
        assert!(page(1, 0).is_err());
        assert!(page(1, MAX_PER_PAGE + 1).is_err());
    }

    #[test]
    fn known_developers_in_any_case() {
        let (_d, s) = store();
        assert!(s.developer_known("ana").unwrap());
        assert!(s.developer_known("BO").unwrap());
        assert!(!s.developer_known("nobody").unwrap());
    }
}
