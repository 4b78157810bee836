//! Teams and the privacy setting in the store (migration 12): the entries of a teams file, the
//! team ids the calls carry, and the `prod-lens privacy` setting.

use chrono::Utc;
use rusqlite::{params, OptionalExtension};

use super::seam::*;
use super::Store;
use crate::error::Result;
use crate::privacy::StoredPrivacy;

/// Migration 12: team entries (`member` kept lower-case), settings, and the (developer, team)
/// pairs of the calls that carry a team id, read by seeks.
pub const SCHEMA: &str = r#"
    CREATE TABLE teams (
        member    TEXT PRIMARY KEY,
        team      TEXT NOT NULL,
        source    TEXT NOT NULL,
        loaded_at TEXT NOT NULL
    );
    CREATE TABLE settings (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE INDEX traces_developer_team ON traces(developer_id, team_id)
        WHERE team_id IS NOT NULL AND developer_id IS NOT NULL;
"#;

/// The settings row that holds the privacy setting (JSON).
const PRIVACY: &str = "privacy";

/// The next developer id after `?1` among the calls with a team id, in index order. (A
/// row-value seek `(developer_id, team_id) > (?1, ?2)` walks every entry of the pair instead:
/// 3 ms a pair over 1 M calls, against microseconds for these two.)
pub(super) const NEXT_DEVELOPER: &str = "SELECT developer_id FROM traces
     WHERE team_id IS NOT NULL AND developer_id IS NOT NULL AND developer_id > ?1
     ORDER BY developer_id LIMIT 1";

/// The next team id after `?2` among the calls of developer `?1`.
pub(super) const NEXT_TEAM: &str = "SELECT team_id FROM traces
     WHERE team_id IS NOT NULL AND developer_id IS NOT NULL AND developer_id = ?1 AND team_id > ?2
     ORDER BY team_id LIMIT 1";

/// Every distinct (developer id, team id) pair, one index seek each: `next_developer(d)` gives
/// the developer after `d`, `next_team(d, t)` the team of `d` after `t`.
pub(super) fn distinct_pairs(
    mut next_developer: impl FnMut(&str) -> Result<Option<String>>,
    mut next_team: impl FnMut(&str, &str) -> Result<Option<String>>,
) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut d = String::new();
    while let Some(dev) = next_developer(&d)? {
        let mut t = String::new();
        while let Some(team) = next_team(&dev, &t)? {
            pairs.push((dev.clone(), team.clone()));
            t = team;
        }
        d = dev;
    }
    Ok(pairs)
}

/// Calls of one (developer id, team id) pair.
pub(super) const PAIR_CALLS: &str = "SELECT COUNT(*) FROM traces
     WHERE team_id IS NOT NULL AND developer_id IS NOT NULL AND developer_id = ?1 AND team_id = ?2";

/// Counts the calls of the developers with more than one team, from pairs in developer order
/// (the others count 1: their one team is theirs whatever the count).
pub(super) fn weigh_pairs(
    pairs: Vec<(String, String)>,
    mut calls: impl FnMut(&str, &str) -> Result<i64>,
) -> Result<Vec<(String, String, i64)>> {
    let mut out = Vec::with_capacity(pairs.len());
    for (i, (d, t)) in pairs.iter().enumerate() {
        let shared = (i > 0 && pairs[i - 1].0 == *d) || pairs.get(i + 1).is_some_and(|n| n.0 == *d);
        let n = if shared { calls(d, t)? } else { 1 };
        out.push((d.clone(), t.clone(), n));
    }
    Ok(out)
}

impl Store {
    fn has_table(&self, name: &str) -> Result<bool> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [name],
            |r| r.get(0),
        )?)
    }
}

impl TeamReader for Store {
    fn teams(&self) -> Result<Vec<(String, String)>> {
        if !self.has_table("teams")? {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT member, team FROM teams ORDER BY member")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn trace_teams(&self) -> Result<Vec<(String, String, i64)>> {
        if !self.has_table("teams")? {
            return Ok(Vec::new());
        }
        // One index seek per developer and per distinct pair, however many calls there are.
        let mut dev = self.conn.prepare_cached(NEXT_DEVELOPER)?;
        let mut team = self.conn.prepare_cached(NEXT_TEAM)?;
        let pairs = distinct_pairs(
            |d| Ok(dev.query_row([d], |r| r.get(0)).optional()?),
            |d, t| Ok(team.query_row([d, t], |r| r.get(0)).optional()?),
        )?;
        let mut count = self.conn.prepare_cached(PAIR_CALLS)?;
        weigh_pairs(pairs, |d, t| {
            Ok(count.query_row(params![d, t], |r| r.get(0))?)
        })
    }

    fn privacy_settings(&self) -> Result<StoredPrivacy> {
        if !self.has_table("settings")? {
            return Ok(StoredPrivacy::default());
        }
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE name = ?1",
                [PRIVACY],
                |r| r.get(0),
            )
            .optional()?;
        parse_settings(text.as_deref())
    }
}

/// Reads the stored privacy JSON (with its key, which serialising skips).
pub(super) fn parse_settings(text: Option<&str>) -> Result<StoredPrivacy> {
    let Some(text) = text else {
        return Ok(StoredPrivacy::default());
    };
    #[derive(serde::Deserialize)]
    struct Raw {
        pseudonymize: bool,
        min_group_size: Option<usize>,
        key: Option<String>,
    }
    let raw: Raw = serde_json::from_str(text).map_err(|e| {
        crate::error::Error::InvalidArgument(format!(
            "the store's privacy setting is not readable ({e}); set it again with prod-lens privacy"
        ))
    })?;
    Ok(StoredPrivacy {
        pseudonymize: raw.pseudonymize,
        min_group_size: raw.min_group_size,
        key: raw.key,
    })
}

/// The stored privacy JSON, key included.
pub(super) fn settings_json(s: &StoredPrivacy) -> String {
    serde_json::json!({
        "pseudonymize": s.pseudonymize,
        "min_group_size": s.min_group_size,
        "key": s.key,
    })
    .to_string()
}

impl TeamWriter for Store {
    fn save_teams(&mut self, entries: &[(String, String)], source: &str) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        tx.execute("DELETE FROM teams", [])?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO teams (member, team, source, loaded_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(member) DO UPDATE SET team = excluded.team",
            )?;
            for (member, team) in entries {
                stmt.execute(params![
                    member.trim().to_ascii_lowercase(),
                    team.trim(),
                    source,
                    now
                ])?;
            }
        }
        tx.commit()?;
        Ok(entries.len())
    }

    fn save_privacy_settings(&mut self, s: &StoredPrivacy) -> Result<()> {
        self.conn.execute(
            "INSERT INTO settings (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![PRIVACY, settings_json(s)],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::TraceRecord;

    #[test]
    fn teams_settings_and_trace_pairs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("t.db")).unwrap();
        assert!(s.teams().unwrap().is_empty());
        assert_eq!(s.privacy_settings().unwrap(), StoredPrivacy::default());
        s.save_teams(
            &[("Alice".into(), "web".into()), ("bob".into(), "api".into())],
            "t.csv",
        )
        .unwrap();
        s.save_teams(&[("alice".into(), "platform".into())], "t2.csv")
            .unwrap();
        assert_eq!(
            s.teams().unwrap(),
            vec![("alice".to_string(), "platform".to_string())]
        );

        let stored = StoredPrivacy {
            pseudonymize: true,
            min_group_size: Some(3),
            key: Some("k".repeat(32)),
        };
        s.save_privacy_settings(&stored).unwrap();
        assert_eq!(s.privacy_settings().unwrap(), stored);

        let rec = |i: u8, dev: &str, team: Option<&str>| {
            let mut r = crate::lake::tests::record(i, Some("acme/api"));
            r.developer_id = Some(dev.into());
            r.team_id = team.map(str::to_string);
            r
        };
        let batch: Vec<TraceRecord> = vec![
            rec(1, "a", Some("t1")),
            rec(2, "a", Some("t1")),
            rec(3, "a", Some("t2")),
            rec(4, "b", Some("t3")),
            rec(5, "b", Some("t3")),
            rec(6, "c", None),
        ];
        s.write_traces(&batch, None).unwrap();
        assert_eq!(
            s.trace_teams().unwrap(),
            vec![
                ("a".into(), "t1".into(), 2),
                ("a".into(), "t2".into(), 1),
                ("b".into(), "t3".into(), 1)
            ]
        );
    }
}
