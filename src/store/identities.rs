//! Identity links in the store: the entries of identity map files (migration 9) and what the
//! linker reads from synced GitHub data (commit e-mails with their logins, known logins), plus
//! the developer ids of stored calls with their call counts for `prod-lens identities`.

use chrono::Utc;
use rusqlite::params;
use serde::Serialize;

use super::seam::*;
use super::Store;
use crate::error::Result;
use crate::identity::{Link, Linker};

/// Migration 9: identity map entries (`developer_id` kept lower-case).
pub const SCHEMA: &str = r#"
    CREATE TABLE identity_map (
        developer_id TEXT PRIMARY KEY,
        github_login TEXT NOT NULL,
        source       TEXT NOT NULL,
        loaded_at    TEXT NOT NULL
    );
"#;

/// One row of `prod-lens identities`: a developer id or a login, linked or not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdentityRow {
    /// The developer id of the calls (null for a login that no call id links to).
    pub developer_id: Option<String>,
    /// The GitHub login (null when unmatched).
    pub github_login: Option<String>,
    /// How they were linked (null when unmatched).
    pub rule: Option<String>,
    /// Calls stored under this developer id.
    pub calls: i64,
    /// Commits authored by this login (all repos).
    pub commits: i64,
}

impl IdentityStore for Store {
    /// Stores identity map entries (`developer_id`, `github_login`) read from `source` (a file
    /// name); an entry for an id already mapped replaces it. Returns the entries written.
    fn save_identity_map(&mut self, entries: &[(String, String)], source: &str) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        {
            let mut stmt = tx.prepare(
                "INSERT INTO identity_map (developer_id, github_login, source, loaded_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(developer_id) DO UPDATE SET github_login = excluded.github_login,
                     source = excluded.source, loaded_at = excluded.loaded_at",
            )?;
            for (id, login) in entries {
                stmt.execute(params![
                    id.trim().to_ascii_lowercase(),
                    login.trim(),
                    source,
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(entries.len())
    }

    /// The linker of this store, with `extra` map entries (e.g. a `--identity-map` file given to
    /// a read-only command) taking precedence over stored ones.
    fn linker(&self, extra: &[(String, String)]) -> Result<Linker> {
        let mut map: Vec<(String, String)> = Vec::new();
        if self.has_identity_map()? {
            let mut stmt = self
                .conn
                .prepare("SELECT developer_id, github_login FROM identity_map")?;
            map = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
        }
        // Later entries win in the linker's map: the extra ones come last.
        map.extend(extra.iter().cloned());
        let (mut emails, mut logins) = (Vec::new(), Vec::new());
        if self.gh_tables_exist()? {
            let mut stmt = self.conn.prepare(
                "SELECT lower(author_email), author_login, COUNT(*) FROM gh_commits
                 WHERE author_email IS NOT NULL AND author_email != '' AND author_login IS NOT NULL
                 GROUP BY lower(author_email), author_login",
            )?;
            emails = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)? as u64,
                    ))
                })?
                .collect::<rusqlite::Result<_>>()?;
            // Distinct, in byte order (as UNION gave them). The commit logins are walked one
            // index seek per login rather than over every commit (a report builds the linker
            // before anything else runs).
            let mut distinct = std::collections::BTreeSet::new();
            for sql in [
                "WITH RECURSIVE l(login) AS (
                   SELECT (SELECT MIN(author_login) FROM gh_commits WHERE author_login IS NOT NULL)
                   UNION ALL
                   SELECT (SELECT MIN(author_login) FROM gh_commits WHERE author_login > l.login)
                     FROM l WHERE l.login IS NOT NULL)
                 SELECT login FROM l WHERE login IS NOT NULL",
                "SELECT DISTINCT author FROM gh_pull_requests WHERE author IS NOT NULL",
            ] {
                let mut stmt = self.conn.prepare(sql)?;
                for login in stmt.query_map([], |r| r.get::<_, String>(0))? {
                    distinct.insert(login?);
                }
            }
            logins = distinct.into_iter().collect();
        }
        Ok(Linker::new(map, emails, logins))
    }

    /// The distinct developer ids of stored calls (developer index).
    fn developer_ids(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT developer_id FROM traces WHERE developer_id IS NOT NULL AND developer_id != ''",
        )?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    /// Every developer id of stored calls and every GitHub login, linked or not, with counts.
    fn identities(&self, linker: &Linker) -> Result<Vec<IdentityRow>> {
        let mut stmt = self.conn.prepare(
            "SELECT developer_id, COUNT(*) FROM traces
             WHERE developer_id IS NOT NULL AND developer_id != '' GROUP BY developer_id",
        )?;
        let ids: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut logins: Vec<(String, i64)> = Vec::new();
        if self.gh_tables_exist()? {
            let mut stmt = self.conn.prepare(
                "SELECT author_login, COUNT(*) FROM gh_commits WHERE author_login IS NOT NULL
                 GROUP BY author_login
                 UNION ALL SELECT author, 0 FROM gh_pull_requests WHERE author IS NOT NULL
                 GROUP BY author",
            )?;
            logins = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
        }
        Ok(identity_rows(ids, logins, linker))
    }
}

/// The rows of `prod-lens identities` from the developer ids of calls with their call counts and
/// the logins of GitHub data with their commits (commit authors first, then PR authors with 0;
/// of two spellings of one login, the first is shown). Both stores build their rows here.
pub(crate) fn identity_rows(
    ids: Vec<(String, i64)>,
    logins: Vec<(String, i64)>,
    linker: &Linker,
) -> Vec<IdentityRow> {
    let mut commits: std::collections::BTreeMap<String, (String, i64)> = Default::default();
    for (login, n) in logins {
        commits
            .entry(login.to_ascii_lowercase())
            .or_insert((login, 0))
            .1 += n;
    }
    let mut linked_logins = std::collections::BTreeSet::new();
    let mut out: Vec<IdentityRow> = ids
        .into_iter()
        .map(|(id, calls)| {
            let link: Option<Link> = linker.link(&id);
            let login = link.as_ref().map(|l| l.login.clone());
            if let Some(l) = &login {
                linked_logins.insert(l.to_ascii_lowercase());
            }
            IdentityRow {
                commits: login
                    .as_ref()
                    .and_then(|l| commits.get(&l.to_ascii_lowercase()))
                    .map_or(0, |c| c.1),
                developer_id: Some(id),
                github_login: login,
                rule: link.map(|l| l.rule.name().to_string()),
                calls,
            }
        })
        .collect();
    for (key, (login, n)) in commits {
        if !linked_logins.contains(&key) {
            out.push(IdentityRow {
                developer_id: None,
                github_login: Some(login),
                rule: None,
                calls: 0,
                commits: n,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.rule.is_none(), &a.github_login, &a.developer_id).cmp(&(
            b.rule.is_none(),
            &b.github_login,
            &b.developer_id,
        ))
    });
    out
}

impl Store {
    fn has_identity_map(&self) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'identity_map')",
            [],
            |r| r.get(0),
        )?)
    }
}
