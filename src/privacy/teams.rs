//! Teams: which team each developer belongs to (a `member,team` file, else the team id their
//! calls carry) and the per-team lines of a report.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::metrics::breakdown::{DeveloperSummary, Totals};

/// The team of developers no file names and whose calls carry no team id.
pub const NO_TEAM: &str = "(no team)";

/// Longest team name or member accepted from a file.
const MAX_NAME: usize = 200;

/// Where a developer's team came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TeamSource {
    /// A `--teams` file (stored with `prod-lens teams`).
    File,
    /// The team id on the developer's calls (LiteLLM `user_api_key_team_id`, Claude Code's
    /// `organization.id`), the one on most of their calls.
    Traces,
}

/// Parses a teams file: CSV `member,team` (a member is a developer id or a GitHub login), `#`
/// comments and blank lines skipped, an optional `member,team` header. Errors name the line.
pub fn parse_teams(text: &str) -> Result<Vec<(String, String)>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    for rec in reader.records() {
        let rec = rec.map_err(|e| format!("{e} (write one member,team a line)"))?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(str::is_empty) {
            continue;
        }
        if rec.len() != 2 {
            return Err(format!(
                "line {line}: {} fields; write one member,team a line",
                rec.len()
            ));
        }
        let (member, team) = (&rec[0], &rec[1]);
        if out.is_empty()
            && member.eq_ignore_ascii_case("member")
            && team.eq_ignore_ascii_case("team")
        {
            continue;
        }
        for (what, v) in [("member", member), ("team", team)] {
            if v.is_empty() || v.len() > MAX_NAME || v.chars().any(char::is_control) {
                return Err(format!(
                    "line {line}: the {what} {v:?} must be 1 to {MAX_NAME} characters without control characters"
                ));
            }
        }
        if team == NO_TEAM {
            return Err(format!(
                "line {line}: {NO_TEAM:?} is reserved; name the team"
            ));
        }
        out.push((member.to_string(), team.to_string()));
    }
    Ok(out)
}

/// Team of each developer: file entries first, then the team id on most of their calls.
#[derive(Debug, Clone, Default)]
pub struct TeamMap {
    /// Lower-cased member → team, from a file.
    file: HashMap<String, String>,
    /// Lower-cased developer id → team id on most of their calls.
    traces: HashMap<String, String>,
}

impl TeamMap {
    /// Builds the map from file entries (later ones win) and `(developer id, team id, calls)`
    /// counts from the traces (a developer's team is the one on most calls; ties: the
    /// alphabetically first).
    pub fn new(file: &[(String, String)], traces: &[(String, String, i64)]) -> Self {
        let file = file
            .iter()
            .map(|(m, t)| (m.trim().to_ascii_lowercase(), t.trim().to_string()))
            .collect();
        let mut best: HashMap<String, (i64, String)> = HashMap::new();
        for (dev, team, calls) in traces {
            let e = best
                .entry(dev.trim().to_ascii_lowercase())
                .or_insert((i64::MIN, String::new()));
            if *calls > e.0 || (*calls == e.0 && *team < e.1) {
                *e = (*calls, team.clone());
            }
        }
        let traces = best.into_iter().map(|(d, (_, t))| (d, t)).collect();
        Self { file, traces }
    }

    /// Whether no developer has a team.
    pub fn is_empty(&self) -> bool {
        self.file.is_empty() && self.traces.is_empty()
    }

    /// The team of a person known under `names` (login and developer ids, any case): the
    /// first file entry naming one of them, else the traces' team of one of them.
    pub fn team_of<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Option<(&str, TeamSource)> {
        let key = |n: &str| n.trim().to_ascii_lowercase();
        for n in names.clone() {
            if let Some(t) = self.file.get(&key(n)) {
                return Some((t, TeamSource::File));
            }
        }
        names.into_iter().find_map(|n| {
            self.traces
                .get(&key(n))
                .map(|t| (t.as_str(), TeamSource::Traces))
        })
    }

    /// Every team name, sorted.
    pub fn teams(&self) -> BTreeSet<&str> {
        self.file
            .values()
            .chain(self.traces.values())
            .map(String::as_str)
            .collect()
    }

    /// Whether `name` is a known team (exact name).
    pub fn has_team(&self, name: &str) -> bool {
        self.file
            .values()
            .chain(self.traces.values())
            .any(|t| t == name)
    }
}

/// One team's line of a report: the sum of its developers' lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamSummary {
    /// Team name ([`NO_TEAM`] for developers without one; `other` for folded small teams).
    pub team: String,
    /// Where the members' team came from (`file`, `traces`); empty for `other` and no team.
    pub sources: Vec<TeamSource>,
    /// Developers with calls, commits or merged PRs in the window.
    pub developers: u64,
    /// Calls, sessions, tokens, known cost, acceptance, commits and merged PRs, summed.
    #[serde(flatten)]
    pub totals: Totals,
    /// Teams folded into this line (only on `other`).
    pub folded_teams: Vec<String>,
}

impl TeamSummary {
    fn empty(team: &str) -> Self {
        Self {
            team: team.to_string(),
            sources: Vec::new(),
            developers: 0,
            totals: Totals::default(),
            folded_teams: Vec::new(),
        }
    }

    fn add(&mut self, o: &TeamSummary) {
        self.developers += o.developers;
        self.totals.add(&o.totals);
    }
}

/// The names a developer line is known under: its name and its linked ids.
pub fn names_of(d: &DeveloperSummary) -> impl Iterator<Item = &str> + Clone {
    std::iter::once(d.developer.as_str()).chain(d.linked_ids.iter().map(String::as_str))
}

/// Per-team lines from the per-developer lines, sorted by cost (highest first), then name;
/// empty when no developer has a team.
pub fn summarize(devs: &[DeveloperSummary], map: &TeamMap) -> Vec<TeamSummary> {
    if map.is_empty() {
        return Vec::new();
    }
    let mut teams: BTreeMap<String, TeamSummary> = BTreeMap::new();
    for d in devs {
        let (team, source) = match map.team_of(names_of(d)) {
            Some((t, s)) => (t, Some(s)),
            None => (NO_TEAM, None),
        };
        let t = teams
            .entry(team.to_string())
            .or_insert_with(|| TeamSummary::empty(team));
        if let Some(s) = source {
            if !t.sources.contains(&s) {
                t.sources.push(s);
            }
        }
        t.developers += 1;
        t.totals.add_developer(d);
    }
    let mut out: Vec<TeamSummary> = teams.into_values().collect();
    out.sort_by(|a, b| {
        b.totals
            .cost_usd
            .total_cmp(&a.totals.cost_usd)
            .then_with(|| a.team.cmp(&b.team))
    });
    out
}

/// Name of the line small groups are folded into.
pub const OTHER: &str = "other";

/// Folds the teams with fewer than `k` developers into one `other` line (kept only when it has
/// `k` developers itself); returns the lines and the names of the teams folded or dropped.
pub fn fold_small(teams: Vec<TeamSummary>, k: usize) -> (Vec<TeamSummary>, Vec<String>, bool) {
    if k <= 1 {
        return (teams, Vec::new(), false);
    }
    let mut kept = Vec::new();
    let mut other = TeamSummary::empty(OTHER);
    for t in teams {
        if t.developers as usize >= k {
            kept.push(t);
        } else {
            other.add(&t);
            other.folded_teams.push(t.team);
        }
    }
    let folded = other.folded_teams.clone();
    let mut other_dropped = false;
    if !folded.is_empty() {
        if other.developers as usize >= k {
            kept.push(other);
        } else {
            other_dropped = true;
        }
    }
    (kept, folded, other_dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(name: &str, linked: &[&str], requests: u64, cost: f64) -> DeveloperSummary {
        DeveloperSummary {
            developer: name.into(),
            linked_ids: linked.iter().map(|s| s.to_string()).collect(),
            requests,
            sessions: 1,
            tokens: 10,
            cost_usd: cost,
            acceptance_n: 2,
            accepted: 1,
            acceptance_rate: Some(0.5),
            commits: 3,
            merged_prs: 1,
        }
    }

    #[test]
    fn parses_with_header_comments_and_quotes() {
        let text = "\u{feff}member,team\n# platform\nalice@acme.com, Platform\n\n\"bob, jr\",\"Web, EU\"\n";
        assert_eq!(
            parse_teams(text).unwrap(),
            vec![
                ("alice@acme.com".into(), "Platform".into()),
                ("bob, jr".into(), "Web, EU".into())
            ]
        );
        let e = parse_teams("alice,platform\nbob\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(parse_teams("alice,(no team)\n").is_err());
        assert!(parse_teams("alice,\n").unwrap_err().contains("line 1"));
    }

    #[test]
    fn file_wins_over_traces_and_links_count() {
        let map = TeamMap::new(
            &[("Alice-GH".into(), "platform".into())],
            &[
                ("alice@acme.com".into(), "team-a".into(), 9),
                ("bob@acme.com".into(), "team-b".into(), 2),
                ("bob@acme.com".into(), "team-c".into(), 5),
                ("carol@acme.com".into(), "team-z".into(), 3),
                ("carol@acme.com".into(), "team-y".into(), 3),
            ],
        );
        assert_eq!(
            map.team_of(["alice-gh", "alice@acme.com"]),
            Some(("platform", TeamSource::File))
        );
        assert_eq!(
            map.team_of(["alice@acme.com"]),
            Some(("team-a", TeamSource::Traces))
        );
        assert_eq!(
            map.team_of(["BOB@acme.com"]),
            Some(("team-c", TeamSource::Traces))
        );
        assert_eq!(
            map.team_of(["carol@acme.com"]),
            Some(("team-y", TeamSource::Traces))
        );
        assert_eq!(map.team_of(["dave"]), None);
        assert!(map.has_team("team-c") && !map.has_team("team-b"));
    }

    #[test]
    fn summarizes_and_folds() {
        let map = TeamMap::new(
            &[
                ("a".into(), "big".into()),
                ("b".into(), "big".into()),
                ("c".into(), "small".into()),
            ],
            &[],
        );
        let devs = [
            dev("a", &[], 10, 1.0),
            dev("b", &[], 20, 2.0),
            dev("c", &[], 5, 0.5),
            dev("d", &[], 1, 0.25),
        ];
        let t = summarize(&devs, &map);
        assert_eq!(t.len(), 3);
        assert_eq!(
            (t[0].team.as_str(), t[0].developers, t[0].totals.requests),
            ("big", 2, 30)
        );
        assert_eq!(t[0].totals.cost_usd, 3.0);
        assert_eq!(t[0].totals.commits, 6);
        assert_eq!(t[0].totals.acceptance_rate, Some(0.5));
        assert_eq!(
            (t[1].team.as_str(), t[1].sources.clone()),
            ("small", vec![TeamSource::File])
        );
        assert_eq!((t[2].team.as_str(), t[2].developers), (NO_TEAM, 1));

        let (kept, folded, dropped) = fold_small(t.clone(), 2);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[1].team, OTHER);
        assert_eq!(kept[1].developers, 2);
        assert_eq!(kept[1].totals.requests, 6);
        assert_eq!(folded, vec!["small".to_string(), NO_TEAM.to_string()]);
        assert!(!dropped);

        // K = 3: big (2), small (1) and no team (1) fold into one other of 4.
        let (kept, folded, dropped) = fold_small(t.clone(), 3);
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].team.as_str(), kept[0].developers), (OTHER, 4));
        assert_eq!(folded.len(), 3);
        assert!(!dropped);
        // K = 5: an other of 4 is left out too.
        let (kept, folded, dropped) = fold_small(t.clone(), 5);
        assert!(kept.is_empty());
        assert_eq!(folded.len(), 3);
        assert!(dropped);
        let (kept, _, _) = fold_small(t, 1);
        assert_eq!(kept.len(), 3);
        assert!(summarize(&devs, &TeamMap::default()).is_empty());
    }
}
