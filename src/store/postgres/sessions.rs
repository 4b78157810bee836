//! The sessions list of a PostgreSQL store: the SQLite store's query (`store::sessions`) in
//! PostgreSQL's SQL, with the same types and rules (`store::session_query`) and the same results
//! for the same rows.
//!
//! What keeps them equal: text is compared and sorted bytewise (`COLLATE "C"`, as SQLite's
//! BINARY), case is folded for ASCII only (SQLite's `lower()` and `NOCASE` leave `É` alone), NULL
//! developers sort first ascending and last descending (SQLite's NULLs are smallest), and integer
//! sums are read back as BIGINT. Costs are summed exactly and rounded once ([`exact_total`]),
//! which is what SQLite's compensated `TOTAL()` gives but for rare cancellations.

use super::PgStore;
use crate::error::Result;
use crate::store::seam::{IdentityStore, SessionsReader};
use crate::store::session_query::{
    check_paging, developer_names, iso, page_offset, rollup_plan, shown_developer, SessionPage,
    SessionQuery, SessionRow, SortOrder,
};
use postgres::types::{ToSql, Type};

/// `x` with ASCII letters lower-cased and every other character kept, as SQLite's `lower()`.
macro_rules! ascii_lower {
    ($x:literal) => {
        concat!(
            "translate(",
            $x,
            ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
        )
    };
}

/// Rows of `traces` that a query covers, one group per (repo, session). Parameters: $1 repos
/// (`text[]`, NULL for all), $2 and $3 the window in µs, $4 the lower-case developer ids
/// (`text[]`, NULL for all), $5 the model (NULL for all).
const MATCHING: &str = concat!(
    "FROM traces
     WHERE repo_slug <> '' AND session_id <> ''
       AND timestamp_us >= $2 AND timestamp_us < $3
       AND ($1::text[] IS NULL OR repo_slug = ANY($1::text[]))
       AND ($4::text[] IS NULL OR ",
    ascii_lower!("developer_id"),
    " = ANY($4::text[]))
       AND ($5::text IS NULL OR model = $5::text)
     GROUP BY repo_slug, session_id"
);

/// The columns of one session from `traces` (see [`MATCHING`]); `{cost}` is the summed cost.
const SELECT: &str = r#"SELECT repo_slug COLLATE "C" AS repo, session_id COLLATE "C" AS session,
        MIN(NULLIF(developer_id, '') COLLATE "C") AS developer,
        MIN(timestamp_us) AS first_us, MAX(timestamp_us) AS last_us,
        COUNT(*) AS requests, SUM(tokens_in + tokens_out)::BIGINT AS tokens,
        {cost} AS cost,
        COUNT(*) FILTER (WHERE cost_usd IS NULL) AS cost_unknown,
        COUNT(*) FILTER (WHERE is_error) AS errors, COUNT(*) OVER () AS total"#;

/// The same sessions from the rollups for the whole UTC days of the window ($2 and $3 are days),
/// plus the calls of the partial first and last days from `traces` (`[$6, $7)` and `[$8, $9)` in
/// µs; empty ranges when the bounds fall on UTC midnights). `{days}` is `rollup_sessions` without
/// a model filter and `rollup_session_models` with one; `{model}` the model condition.
const MATCHING_ROLLUP: &str = concat!(
    "FROM (
       SELECT repo, session, NULLIF(developer, '') AS developer, first_us, last_us, requests,
              tokens, cost_usd AS cost, cost_unknown, errors
       FROM {days}
       WHERE session <> '' AND day >= $2 AND day < $3
         AND ($1::text[] IS NULL OR repo = ANY($1::text[]))
         AND ($4::text[] IS NULL OR ",
    ascii_lower!("developer"),
    " = ANY($4::text[]))
         AND {model}
       UNION ALL
       SELECT repo_slug, session_id, NULLIF(developer_id, ''), timestamp_us, timestamp_us, 1,
              tokens_in + tokens_out, cost_usd, (cost_usd IS NULL)::int, is_error::int
       FROM traces
       WHERE repo_slug <> '' AND session_id <> ''
         AND ((timestamp_us >= $6 AND timestamp_us < $7)
              OR (timestamp_us >= $8 AND timestamp_us < $9))
         AND ($1::text[] IS NULL OR repo_slug = ANY($1::text[]))
         AND ($4::text[] IS NULL OR ",
    ascii_lower!("developer_id"),
    " = ANY($4::text[]))
         AND {model}
     ) AS u
     GROUP BY repo, session"
);

/// The columns of one session from the union of [`MATCHING_ROLLUP`]; `{cost}` as in [`SELECT`].
const SELECT_ROLLUP: &str = r#"SELECT repo COLLATE "C" AS repo, session COLLATE "C" AS session,
        MIN(developer COLLATE "C") AS developer,
        MIN(first_us) AS first_us, MAX(last_us) AS last_us,
        SUM(requests)::BIGINT AS requests, SUM(tokens)::BIGINT AS tokens,
        {cost} AS cost,
        SUM(cost_unknown)::BIGINT AS cost_unknown, SUM(errors)::BIGINT AS errors,
        COUNT(*) OVER () AS total"#;

/// An aggregate summing the DOUBLE PRECISION column `x` (a fixed name, never input) exactly and
/// rounding once, 0 when every value is NULL: what SQLite's compensated `TOTAL()` gives but in
/// the rarest cases, and the same in any row order (PostgreSQL's `SUM` rounds at every row,
/// in scan order). Each value below 2^33 in magnitude is split without loss into three integers
/// of 2^-30, 2^-83 and 2^-136 (a value is a multiple of 2^-136 from 2^-84 up), summed as
/// integers; bits below 2^-136 and values from 2^33 up are summed as floats.
pub(super) fn exact_total(x: &str) -> String {
    let a = format!("({x} * 1073741824::float8)");
    let b = format!("(({a} - trunc({a})) * 9007199254740992::float8)");
    let c = format!("(({b} - trunc({b})) * 9007199254740992::float8)");
    let small = format!("abs({x}) < 8589934592::float8");
    format!(
        "(((COALESCE(SUM(trunc({a})::int8) FILTER (WHERE {small}), 0)
              * 81129638414606681695789005144064
            + COALESCE(SUM(trunc({b})::int8) FILTER (WHERE {small}), 0) * 9007199254740992
            + COALESCE(SUM(trunc({c})::int8) FILTER (WHERE {small}), 0))
           * (power(5::numeric, 136) * 1e-136))::float8
         + COALESCE(SUM({c} - trunc({c})) FILTER (WHERE {small}), 0) * 1.1479437019748901e-41
         + COALESCE(SUM({x}) FILTER (WHERE NOT ({small})), 0))"
    )
}

/// Types of $1…$11: every statement declares them all, so one it does not use is no error.
const PARAM_TYPES: [Type; 11] = [
    Type::TEXT_ARRAY,
    Type::INT8,
    Type::INT8,
    Type::TEXT_ARRAY,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
];

/// Where NULLs go, as in SQLite: smallest of all.
fn nulls(order: SortOrder) -> &'static str {
    match order {
        SortOrder::Asc => "NULLS FIRST",
        SortOrder::Desc => "NULLS LAST",
    }
}

/// A non-negative count.
fn count(r: &postgres::Row, i: usize) -> Result<u64> {
    Ok(u64::try_from(r.try_get::<_, i64>(i)?).unwrap_or(0))
}

impl SessionsReader for PgStore {
    /// One page of the sessions matching `q`, sorted by `q.sort` then repo and session.
    fn sessions_page(&self, q: &SessionQuery) -> Result<SessionPage> {
        check_paging(q)?;
        let repos: Option<&[String]> = (!q.repos.is_empty()).then_some(q.repos.as_slice());
        // A developer filter matches every id linked to the same person (see `identities`).
        let linker = match &q.developer {
            Some(_) => Some(IdentityStore::linker(self, &[])?),
            None => None,
        };
        let developers = match (&q.developer, &linker) {
            (Some(d), Some(l)) => Some(developer_names(l, d, &IdentityStore::developer_ids(self)?)),
            _ => None,
        };
        let mut c = self.client();
        let start = q.start_us.unwrap_or(i64::MIN);
        let end = q.end_us.unwrap_or(i64::MAX);
        // The rollups are written with the rows, in the same transaction: always there.
        let plan = rollup_plan(q);
        let (days, head, tail) = match plan {
            Some(p) => (p.days, p.head, p.tail),
            None => ((start, end), (0, 0), (0, 0)),
        };
        let (matching, select) = match plan {
            Some(_) => (
                match q.model {
                    None => MATCHING_ROLLUP
                        .replace("{days}", "rollup_sessions")
                        .replace("{model}", "$5::text IS NULL"),
                    Some(_) => MATCHING_ROLLUP
                        .replace("{days}", "rollup_session_models")
                        .replace("{model}", "model = $5::text"),
                },
                SELECT_ROLLUP.replace("{cost}", &exact_total("cost")),
            ),
            None => (
                MATCHING.to_string(),
                SELECT.replace("{cost}", &exact_total("cost_usd")),
            ),
        };
        // Both group keys come last, bytewise, so ties sort the same way on either path and in
        // either store. The sort column and direction come from enums, never from input text.
        let sql = format!(
            "{select}
             {matching}
             ORDER BY {col} {dir} {nulls}, repo ASC, session ASC
             LIMIT $10 OFFSET $11",
            col = q.sort.column(),
            dir = q.order.sql(),
            nulls = nulls(q.order),
        );
        let limit = i64::from(q.per_page);
        let offset = page_offset(q);
        let args: [&(dyn ToSql + Sync); 11] = [
            &repos,
            &days.0,
            &days.1,
            &developers,
            &q.model,
            &head.0,
            &head.1,
            &tail.0,
            &tail.1,
            &limit,
            &offset,
        ];
        let stmt = c.prepare_typed(&sql, &PARAM_TYPES)?;
        let rows = c.query(&stmt, &args)?;
        let mut total = None;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            total = Some(r.try_get::<_, i64>(10)?);
            items.push(SessionRow {
                repo: r.try_get(0)?,
                session: r.try_get(1)?,
                developer: shown_developer(linker.as_ref(), r.try_get(2)?),
                first_seen: iso(r.try_get(3)?),
                last_seen: iso(r.try_get(4)?),
                requests: count(r, 5)?,
                tokens: r.try_get(6)?,
                cost_usd: r.try_get(7)?,
                cost_unknown: count(r, 8)?,
                errors: count(r, 9)?,
            });
        }
        let total = match total {
            Some(t) => t,
            // Past the last page: no row carried the total, count separately.
            None => {
                let stmt = c.prepare_typed(
                    &format!("SELECT COUNT(*) FROM (SELECT 1 {matching}) AS m"),
                    &PARAM_TYPES[..9],
                )?;
                c.query_one(&stmt, &args[..9])?.try_get(0)?
            }
        };
        Ok(SessionPage {
            total: u64::try_from(total).unwrap_or(0),
            page: q.page,
            per_page: q.per_page,
            items,
        })
    }

    /// Whether `developer` (any ASCII case) made a stored call or authored a stored commit or PR.
    fn developer_known(&self, developer: &str) -> Result<bool> {
        let mut c = self.client();
        let mut exists =
            |sql: &str| -> Result<bool> { Ok(c.query_one(sql, &[&developer])?.try_get(0)?) };
        // The exact spelling uses the index; any other case scans the rows.
        Ok(
            exists("SELECT EXISTS (SELECT 1 FROM traces WHERE developer_id = $1)")?
                || exists(concat!(
                    "SELECT EXISTS (SELECT 1 FROM traces WHERE ",
                    ascii_lower!("developer_id"),
                    " = ",
                    ascii_lower!("$1::text"),
                    ")"
                ))?
                || exists(concat!(
                    "SELECT EXISTS (SELECT 1 FROM gh_pull_requests WHERE ",
                    ascii_lower!("author"),
                    " = ",
                    ascii_lower!("$1::text"),
                    ") OR EXISTS (SELECT 1 FROM gh_commits WHERE ",
                    ascii_lower!("COALESCE(author_login, author_name)"),
                    " = ",
                    ascii_lower!("$1::text"),
                    ")"
                ))?,
        )
    }
}
