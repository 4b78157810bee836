//! Teams and the privacy setting in PostgreSQL: the SQLite store's `store/teams.rs` with the
//! same results (the calls' pairs read by index seeks, the setting as the same JSON).

use super::PgStore;
use crate::error::Result;
use crate::privacy::StoredPrivacy;
use crate::store::seam::{TeamReader, TeamWriter};
use crate::store::teams::{
    distinct_pairs, parse_settings, settings_json, weigh_pairs, NEXT_DEVELOPER, NEXT_TEAM,
};
use chrono::Utc;

impl TeamReader for PgStore {
    fn teams(&self) -> Result<Vec<(String, String)>> {
        let mut c = self.client();
        let mut out = Vec::new();
        for r in c.query(
            "SELECT member, team FROM teams ORDER BY member COLLATE \"C\"",
            &[],
        )? {
            out.push((r.try_get(0)?, r.try_get(1)?));
        }
        Ok(out)
    }

    fn trace_teams(&self) -> Result<Vec<(String, String, i64)>> {
        let mut c = self.client();
        let dev = c.prepare(&NEXT_DEVELOPER.replace("?1", "$1"))?;
        let team = c.prepare(&NEXT_TEAM.replace("?1", "$1").replace("?2", "$2"))?;
        let pairs = {
            let c = std::cell::RefCell::new(&mut *c);
            distinct_pairs(
                |d| {
                    let row = c.borrow_mut().query_opt(&dev, &[&d])?;
                    Ok(row.map(|r| r.try_get(0)).transpose()?)
                },
                |d, t| {
                    let row = c.borrow_mut().query_opt(&team, &[&d, &t])?;
                    Ok(row.map(|r| r.try_get(0)).transpose()?)
                },
            )?
        };
        let count = c.prepare(
            "SELECT COUNT(*) FROM traces WHERE team_id IS NOT NULL AND developer_id IS NOT NULL
               AND developer_id = $1 AND team_id = $2",
        )?;
        weigh_pairs(pairs, |d, t| {
            Ok(c.query_one(&count, &[&d, &t])?.try_get(0)?)
        })
    }

    fn privacy_settings(&self) -> Result<StoredPrivacy> {
        let mut c = self.client();
        let text: Option<String> = c
            .query_opt("SELECT value FROM settings WHERE name = 'privacy'", &[])?
            .map(|r| r.try_get(0))
            .transpose()?;
        parse_settings(text.as_deref())
    }
}

impl TeamWriter for PgStore {
    fn save_teams(&mut self, entries: &[(String, String)], source: &str) -> Result<usize> {
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut c = self.client();
        let mut tx = c.transaction()?;
        tx.execute("DELETE FROM teams", &[])?;
        let stmt = tx.prepare(
            "INSERT INTO teams (member, team, source, loaded_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (member) DO UPDATE SET team = excluded.team",
        )?;
        for (member, team) in entries {
            tx.execute(
                &stmt,
                &[
                    &member.trim().to_ascii_lowercase(),
                    &team.trim(),
                    &source,
                    &now,
                ],
            )?;
        }
        tx.batch_execute("NOTIFY prodlens_changes")?;
        tx.commit()?;
        Ok(entries.len())
    }

    fn save_privacy_settings(&mut self, s: &StoredPrivacy) -> Result<()> {
        let mut c = self.client();
        c.execute(
            "INSERT INTO settings (name, value) VALUES ('privacy', $1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            &[&settings_json(s)],
        )?;
        c.batch_execute("NOTIFY prodlens_changes")?;
        Ok(())
    }
}
