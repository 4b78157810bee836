//! Identity links in PostgreSQL: the SQLite store's `store/identities.rs` with the same results.
//!
//! SQLite's `lower()` folds ASCII letters only and its `BINARY` collation orders by bytes, while
//! PostgreSQL's `lower()` and default collation follow the locale; so case is folded with Rust's
//! ASCII folding and lists are put in byte order here, never by the server.

use super::PgStore;
use crate::error::Result;
use crate::identity::Linker;
use crate::store::identities::{identity_rows, IdentityRow};
use crate::store::seam::IdentityStore;
use chrono::Utc;
use std::collections::BTreeMap;

impl IdentityStore for PgStore {
    /// Stores identity map entries (the id trimmed and lower-cased); an entry for an id already
    /// mapped replaces it. Returns the entries written.
    fn save_identity_map(&mut self, entries: &[(String, String)], source: &str) -> Result<usize> {
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut c = self.client();
        let mut tx = c.transaction()?;
        let stmt = tx.prepare(
            "INSERT INTO identity_map (developer_id, github_login, source, loaded_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (developer_id) DO UPDATE SET github_login = excluded.github_login,
                 source = excluded.source, loaded_at = excluded.loaded_at",
        )?;
        for (id, login) in entries {
            tx.execute(
                &stmt,
                &[
                    &id.trim().to_ascii_lowercase(),
                    &login.trim(),
                    &source,
                    &now,
                ],
            )?;
        }
        tx.batch_execute("NOTIFY prodlens_changes")?;
        tx.commit()?;
        Ok(entries.len())
    }

    /// The linker of the stored links, with `extra` entries taking precedence.
    fn linker(&self, extra: &[(String, String)]) -> Result<Linker> {
        let mut c = self.client();
        let mut map: Vec<(String, String)> = Vec::new();
        for r in c.query("SELECT developer_id, github_login FROM identity_map", &[])? {
            map.push((r.try_get(0)?, r.try_get(1)?));
        }
        // Later entries win in the linker's map: the extra ones come last.
        map.extend(extra.iter().cloned());
        // Commits per (e-mail folded as SQLite's lower() folds it, login).
        let mut emails: BTreeMap<(String, String), u64> = BTreeMap::new();
        for r in c.query(
            "SELECT author_email, author_login, COUNT(*) FROM gh_commits
             WHERE author_email IS NOT NULL AND author_email != '' AND author_login IS NOT NULL
             GROUP BY author_email, author_login",
            &[],
        )? {
            let email: String = r.try_get(0)?;
            let n: i64 = r.try_get(2)?;
            *emails
                .entry((email.to_ascii_lowercase(), r.try_get(1)?))
                .or_default() += n as u64;
        }
        let mut logins: Vec<String> = Vec::new();
        for r in c.query(
            "SELECT author_login FROM gh_commits WHERE author_login IS NOT NULL
             UNION SELECT author FROM gh_pull_requests WHERE author IS NOT NULL",
            &[],
        )? {
            logins.push(r.try_get(0)?);
        }
        // In byte order, as SQLite's UNION gives them (of two spellings of a login, the last
        // is the one the linker keeps).
        logins.sort();
        Ok(Linker::new(
            map,
            emails.into_iter().map(|((e, l), n)| (e, l, n)),
            logins,
        ))
    }

    /// The distinct developer ids of stored calls, in byte order.
    fn developer_ids(&self) -> Result<Vec<String>> {
        let rows = self.client().query(
            "SELECT DISTINCT developer_id FROM traces
             WHERE developer_id IS NOT NULL AND developer_id != ''",
            &[],
        )?;
        let mut ids = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<Vec<String>, _>>()?;
        ids.sort();
        Ok(ids)
    }

    /// Every developer id of stored calls and every GitHub login, linked or not, with counts.
    fn identities(&self, linker: &Linker) -> Result<Vec<IdentityRow>> {
        let mut c = self.client();
        let mut ids: Vec<(String, i64)> = Vec::new();
        for r in c.query(
            "SELECT developer_id, COUNT(*) FROM traces
             WHERE developer_id IS NOT NULL AND developer_id != '' GROUP BY developer_id",
            &[],
        )? {
            ids.push((r.try_get(0)?, r.try_get(1)?));
        }
        // Commit logins, then PR authors, each in byte order as SQLite's GROUP BY gives them
        // (the first spelling of a login is the one shown).
        let mut found: Vec<(i32, String, i64)> = Vec::new();
        for r in c.query(
            "SELECT 0, author_login, COUNT(*) FROM gh_commits WHERE author_login IS NOT NULL
             GROUP BY author_login
             UNION ALL SELECT 1, author, 0 FROM gh_pull_requests WHERE author IS NOT NULL
             GROUP BY author",
            &[],
        )? {
            found.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        found.sort();
        Ok(identity_rows(
            ids,
            found.into_iter().map(|(_, login, n)| (login, n)).collect(),
            linker,
        ))
    }
}
