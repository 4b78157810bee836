//! One person across traces and GitHub: links the developer ids of AI calls (an e-mail, a
//! LiteLLM user or key alias, a Claude Code account) to GitHub logins. Pure: the store hands over
//! the map entries, the commit (e-mail, login) pairs and the logins it knows.
//!
//! Rules, in order (the first that applies wins):
//! 1. `map` — an entry of an identity map file (`developer_id,github_login`).
//! 2. `commit_email` — the id is an e-mail that synced commits carry with a GitHub login
//!    (the login seen most often with that e-mail; ties broken by name).
//! 3. `noreply` — the id is a GitHub no-reply address, `12345+login@users.noreply.github.com`
//!    or `login@users.noreply.github.com`.
//! 4. `same_name` — the id equals a known GitHub login, ignoring case.
//!
//! Ids and e-mails compare case-insensitively; logins keep GitHub's spelling.

use std::collections::BTreeMap;

use serde::Serialize;

/// How a developer id was linked to a GitHub login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkRule {
    /// An entry of an identity map file.
    Map,
    /// A synced commit carries this e-mail with that login.
    CommitEmail,
    /// A GitHub no-reply address names the login.
    Noreply,
    /// The id is the login, ignoring case.
    SameName,
}

impl LinkRule {
    /// The rule's name as reports print it.
    pub fn name(self) -> &'static str {
        match self {
            LinkRule::Map => "map",
            LinkRule::CommitEmail => "commit_email",
            LinkRule::Noreply => "noreply",
            LinkRule::SameName => "same_name",
        }
    }
}

/// A developer id's GitHub login and how it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// The GitHub login.
    pub login: String,
    /// The rule that linked them.
    pub rule: LinkRule,
}

/// What linking needs: map entries, commit e-mails with their logins, and known logins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Linker {
    map: BTreeMap<String, String>,
    emails: BTreeMap<String, String>,
    logins: BTreeMap<String, String>,
}

/// A GitHub login: 1–39 characters, ASCII letters, digits and single inner hyphens.
pub fn valid_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 39
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// The login named by a GitHub no-reply address, if `email` is one.
pub fn noreply_login(email: &str) -> Option<&str> {
    let (local, domain) = email.rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case("users.noreply.github.com") {
        return None;
    }
    let login = match local.split_once('+') {
        Some((id, login)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => login,
        Some(_) => return None,
        None => local,
    };
    valid_login(login).then_some(login)
}

impl Linker {
    /// Builds a linker from map entries (`developer_id`, `login`), commit `(e-mail, login,
    /// commits)` triples and the logins GitHub data names.
    pub fn new(
        map: impl IntoIterator<Item = (String, String)>,
        commit_emails: impl IntoIterator<Item = (String, String, u64)>,
        logins: impl IntoIterator<Item = String>,
    ) -> Self {
        let mut best: BTreeMap<String, (u64, String)> = BTreeMap::new();
        for (email, login, n) in commit_emails {
            let key = email.trim().to_ascii_lowercase();
            if key.is_empty() || !valid_login(&login) {
                continue;
            }
            let slot = best.entry(key).or_insert((0, login.clone()));
            // Most commits wins; on a tie the smaller login, so the result never depends on order.
            if n > slot.0 || (n == slot.0 && login < slot.1) {
                *slot = (n, login);
            }
        }
        Linker {
            map: map
                .into_iter()
                .map(|(id, login)| (id.trim().to_ascii_lowercase(), login.trim().to_string()))
                .filter(|(id, login)| !id.is_empty() && valid_login(login))
                .collect(),
            emails: best.into_iter().map(|(e, (_, l))| (e, l)).collect(),
            logins: logins
                .into_iter()
                .filter(|l| valid_login(l))
                .map(|l| (l.to_ascii_lowercase(), l))
                .collect(),
        }
    }

    /// The login of `developer_id`, if a rule links it.
    pub fn link(&self, developer_id: &str) -> Option<Link> {
        let key = developer_id.trim().to_ascii_lowercase();
        if key.is_empty() {
            return None;
        }
        let found = |login: &String, rule| {
            Some(Link {
                login: login.clone(),
                rule,
            })
        };
        if let Some(l) = self.map.get(&key) {
            return found(l, LinkRule::Map);
        }
        if let Some(l) = self.emails.get(&key) {
            return found(l, LinkRule::CommitEmail);
        }
        if let Some(l) = noreply_login(developer_id.trim()) {
            // Prefer GitHub's spelling of the login when it is known.
            let login = self
                .logins
                .get(&l.to_ascii_lowercase())
                .cloned()
                .unwrap_or_else(|| l.to_string());
            return found(&login, LinkRule::Noreply);
        }
        self.logins
            .get(&key)
            .and_then(|l| found(l, LinkRule::SameName))
    }

    /// The name a per-developer figure is keyed by: the linked login, else the id itself.
    pub fn person<'a>(&'a self, developer_id: &'a str) -> std::borrow::Cow<'a, str> {
        match self.link(developer_id) {
            Some(l) => std::borrow::Cow::Owned(l.login),
            None => std::borrow::Cow::Borrowed(developer_id),
        }
    }

    /// Each of `ids` and the person (login, or the id itself) it counts for: every name a
    /// developer may be asked for by (a pseudonym is matched against these).
    pub fn names_of_all(&self, ids: &[String]) -> Vec<String> {
        ids.iter()
            .flat_map(|i| [i.clone(), self.person(i).into_owned()])
            .collect()
    }

    /// Every id of `ids` that links to `login` (ignoring case), plus `login` itself: what a
    /// filter on one person must match.
    pub fn ids_of<'a>(&self, login: &str, ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let want = login.trim().to_ascii_lowercase();
        // The login itself, unless it is also an id that links to someone else (a key alias
        // mapped to another person).
        let own = self
            .link(login)
            .is_none_or(|l| l.login.to_ascii_lowercase() == want);
        let mut out = if own { vec![want.clone()] } else { Vec::new() };
        for id in ids {
            let lower = id.to_ascii_lowercase();
            if !out.contains(&lower)
                && lower != want
                && self
                    .link(id)
                    .is_some_and(|l| l.login.to_ascii_lowercase() == want)
            {
                out.push(lower);
            }
        }
        out
    }
}

/// Parses an identity map file: CSV `developer_id,github_login`, `#` comments and blank lines
/// skipped, an optional header row. Errors name the line.
pub fn parse_map(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let Some((id, login)) = line.split_once(',') else {
            return Err(format!(
                "line {}: {line:?} is not `developer_id,github_login`",
                i + 1
            ));
        };
        let (id, login) = (id.trim(), login.trim());
        if out.is_empty() && id.eq_ignore_ascii_case("developer_id") {
            continue;
        }
        if id.is_empty() || login.contains(',') {
            return Err(format!(
                "line {}: {line:?} is not `developer_id,github_login`",
                i + 1
            ));
        }
        if !valid_login(login) {
            return Err(format!(
                "line {}: {login:?} is not a GitHub login (letters, digits and hyphens, at most 39)",
                i + 1
            ));
        }
        out.push((id.to_string(), login.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linker() -> Linker {
        Linker::new(
            [("Carol.Key".to_string(), "carol-gh".to_string())],
            [
                ("alice@acme.com".to_string(), "alice".to_string(), 12),
                ("ALICE@acme.com".to_string(), "alice-old".to_string(), 2),
                ("bob@acme.com".to_string(), "bob".to_string(), 3),
                ("carol.key".to_string(), "not-carol".to_string(), 9),
            ],
            ["Dave".to_string(), "alice".to_string(), "bob".to_string()],
        )
    }

    #[test]
    fn rules_apply_in_order() {
        let l = linker();
        let link = |id: &str| l.link(id).map(|k| (k.login, k.rule));
        assert_eq!(link("carol.key"), Some(("carol-gh".into(), LinkRule::Map)));
        assert_eq!(
            link("Alice@Acme.com"),
            Some(("alice".into(), LinkRule::CommitEmail))
        );
        assert_eq!(
            link("12345+dave@users.noreply.github.com"),
            Some(("Dave".into(), LinkRule::Noreply))
        );
        assert_eq!(
            link("erin@users.noreply.github.com"),
            Some(("erin".into(), LinkRule::Noreply))
        );
        assert_eq!(link("DAVE"), Some(("Dave".into(), LinkRule::SameName)));
        assert_eq!(link("frank@acme.com"), None);
        assert_eq!(link(""), None);
        assert_eq!(l.person("frank@acme.com"), "frank@acme.com");
        assert_eq!(l.person("bob@acme.com"), "bob");
    }

    #[test]
    fn noreply_addresses() {
        assert_eq!(
            noreply_login("123+octo-cat@users.noreply.github.com"),
            Some("octo-cat")
        );
        assert_eq!(
            noreply_login("octocat@USERS.noreply.github.com"),
            Some("octocat")
        );
        assert_eq!(noreply_login("x+octocat@users.noreply.github.com"), None);
        assert_eq!(noreply_login("octocat@github.com"), None);
        assert_eq!(noreply_login("-bad@users.noreply.github.com"), None);
    }

    #[test]
    fn ids_of_a_person() {
        let l = linker();
        let ids = l.ids_of("Alice", ["alice@acme.com", "bob@acme.com", "ALICE"]);
        assert_eq!(ids, ["alice", "alice@acme.com"]);
        // A key alias mapped to another person is not that login's own id.
        let l = Linker::new(
            [("bob".to_string(), "robert-gh".to_string())],
            [],
            ["bob".to_string(), "robert-gh".to_string()],
        );
        assert!(l.ids_of("bob", ["bob"]).is_empty());
        assert_eq!(l.ids_of("robert-gh", ["bob"]), ["robert-gh", "bob"]);
    }

    #[test]
    fn map_files() {
        let m = parse_map("# who is who\ndeveloper_id,github_login\nalice@acme.com, alice\n\nbob-key,bob # key alias\n").unwrap();
        assert_eq!(
            m,
            [
                ("alice@acme.com".to_string(), "alice".to_string()),
                ("bob-key".to_string(), "bob".to_string())
            ]
        );
        assert!(parse_map("alice alice").unwrap_err().contains("line 1"));
        assert!(parse_map("a,b\nc,../etc").unwrap_err().contains("line 2"));
        assert!(parse_map("a,b,c").unwrap_err().contains("line 1"));
    }
}
