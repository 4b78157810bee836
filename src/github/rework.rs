//! Rework signals, computed from stored rows without I/O.
//!
//! GitHub does not let a merged pull request be reopened, so rework is defined from what can
//! happen:
//!
//! * **reverted**: a merged PR reverted within [`REVERT_WINDOW_DAYS`] (21) days of its merge. A
//!   revert is a *merged* PR or a default-branch commit whose title/message has GitHub's
//!   `Revert "<title>"` form, contains `This reverts commit <sha>` (what `git revert` writes), or
//!   `Reverts owner/name#N` (what GitHub's Revert button writes). It is linked to the PR it reverts
//!   by PR number, by the PR's merge commit sha (or a commit whose subject ends in `(#N)` or reads
//!   `Merge pull request #N`), or else by the exact title of the latest PR merged before it.
//! * **reopened**: a PR reopened after a close, from the repo's `reopened` issue events.
//!
//! Both signals are stored (table `gh_rework`); reverts later than the window are kept with
//! `within_window = 0` so the window can be changed in a report without a re-sync.

use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Days after a merge within which a revert counts as rework.
pub const REVERT_WINDOW_DAYS: f64 = 21.0;

/// What a title and body/message say they revert.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevertRef {
    /// The quoted title of `Revert "<title>"`.
    pub title: Option<String>,
    /// Shas named by `This reverts commit <sha>`.
    pub shas: Vec<String>,
    /// PR numbers named by `Reverts #N` / `Reverts owner/name#N` (same repo only).
    pub numbers: Vec<i64>,
}

impl RevertRef {
    /// True when nothing marks a revert.
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.shas.is_empty() && self.numbers.is_empty()
    }
}

/// Strips a trailing ` (#123)` that squash merges append to a subject; returns the rest and N.
pub fn split_pr_suffix(subject: &str) -> (&str, Option<i64>) {
    let s = subject.trim_end();
    if let Some(rest) = s.strip_suffix(')') {
        if let Some(idx) = rest.rfind(" (#") {
            if let Ok(n) = rest[idx + 3..].parse::<i64>() {
                return (&s[..idx], Some(n));
            }
        }
    }
    (s, None)
}

/// The quoted title of a `Revert "<title>"` subject (squash suffix removed), if any.
pub fn revert_title(subject: &str) -> Option<String> {
    let (s, _) = split_pr_suffix(subject.trim());
    let inner = s.strip_prefix("Revert \"")?.strip_suffix('"')?;
    (!inner.trim().is_empty()).then(|| inner.to_string())
}

fn is_hex_sha(s: &str) -> bool {
    (7..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Parses a title plus body (PR) or a full commit message (title = first line).
pub fn parse_revert(title: &str, body: &str, repo: &str) -> RevertRef {
    let mut r = RevertRef {
        title: revert_title(title),
        ..Default::default()
    };
    for line in body.lines() {
        let line = line.trim();
        if let Some(pos) = line.find("This reverts commit ") {
            let rest = &line[pos + "This reverts commit ".len()..];
            let sha: String = rest.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
            if is_hex_sha(&sha) && !r.shas.contains(&sha.to_ascii_lowercase()) {
                r.shas.push(sha.to_ascii_lowercase());
            }
        }
        if let Some(rest) = line.strip_prefix("Reverts ") {
            let target = rest.split_whitespace().next().unwrap_or("");
            let (slug, num) = target.split_once('#').unwrap_or(("?", ""));
            if slug.is_empty() || slug.eq_ignore_ascii_case(repo) {
                if let Ok(n) = num.trim_end_matches(['.', ',']).parse::<i64>() {
                    if !r.numbers.contains(&n) {
                        r.numbers.push(n);
                    }
                }
            }
        }
    }
    r
}

/// A stored pull request, as rework needs it.
#[derive(Clone, Debug)]
pub struct PrFacts {
    /// PR number.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Merge time, when merged.
    pub merged_at: Option<DateTime<Utc>>,
    /// Merge commit sha, when merged.
    pub merge_commit_sha: Option<String>,
    /// What this PR says it reverts.
    pub reverts: RevertRef,
}

/// A stored commit, as rework needs it.
#[derive(Clone, Debug)]
pub struct CommitFacts {
    /// Full sha.
    pub sha: String,
    /// First line of the message.
    pub subject: String,
    /// Commit time.
    pub at: Option<DateTime<Utc>>,
    /// What this commit says it reverts.
    pub reverts: RevertRef,
}

/// A stored `reopened` issue event of a PR.
#[derive(Clone, Debug)]
pub struct ReopenFacts {
    /// Event id.
    pub id: i64,
    /// PR number.
    pub number: i64,
    /// Event time.
    pub at: DateTime<Utc>,
}

/// One rework signal on a PR.
#[derive(Clone, Debug, PartialEq)]
pub struct ReworkLink {
    /// `revert` or `reopened`.
    pub kind: &'static str,
    /// The PR the signal is about.
    pub pr_number: i64,
    /// What produced it: `pr#N`, `commit:<sha>` or `event:<id>`.
    pub source: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Days between the PR's merge and the revert (reverts only).
    pub days_after_merge: Option<f64>,
    /// Counts as rework: reverts within the window, every reopen.
    pub within_window: bool,
}

/// Finds the PR a revert points to, in order: PR number, sha, title.
fn resolve(
    r: &RevertRef,
    at: DateTime<Utc>,
    self_number: Option<i64>,
    by_number: &HashMap<i64, &PrFacts>,
    sha_to_pr: &HashMap<String, i64>,
    prs: &[PrFacts],
) -> Option<i64> {
    for n in &r.numbers {
        if by_number.contains_key(n) && Some(*n) != self_number {
            return Some(*n);
        }
    }
    for sha in &r.shas {
        let hit = sha_to_pr
            .iter()
            .find(|(full, _)| full.starts_with(sha.as_str()))
            .map(|(_, n)| *n);
        if let Some(n) = hit.filter(|n| Some(*n) != self_number) {
            return Some(n);
        }
    }
    let title = r.title.as_deref()?;
    prs.iter()
        .filter(|p| p.title == title && Some(p.number) != self_number)
        .filter(|p| p.merged_at.is_some_and(|m| m <= at))
        .max_by_key(|p| p.merged_at)
        .map(|p| p.number)
}

/// Computes every rework link of one repo from its stored PRs, commits and reopen events.
pub fn compute(
    prs: &[PrFacts],
    commits: &[CommitFacts],
    reopens: &[ReopenFacts],
) -> Vec<ReworkLink> {
    let by_number: HashMap<i64, &PrFacts> = prs.iter().map(|p| (p.number, p)).collect();
    let mut sha_to_pr: HashMap<String, i64> = HashMap::new();
    for p in prs {
        if let (Some(sha), Some(_)) = (&p.merge_commit_sha, p.merged_at) {
            sha_to_pr.insert(sha.to_ascii_lowercase(), p.number);
        }
    }
    for c in commits {
        let (_, n) = split_pr_suffix(&c.subject);
        let merge = c
            .subject
            .strip_prefix("Merge pull request #")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse::<i64>().ok());
        if let Some(n) = n.or(merge).filter(|n| by_number.contains_key(n)) {
            sha_to_pr.entry(c.sha.to_ascii_lowercase()).or_insert(n);
        }
    }
    let mut links: Vec<ReworkLink> = Vec::new();
    let mut push = |target: i64, source: String, at: DateTime<Utc>| {
        let merged = by_number.get(&target).and_then(|p| p.merged_at);
        let days = merged.map(|m| (at - m).num_seconds() as f64 / 86_400.0);
        let within = days.is_some_and(|d| (0.0..=REVERT_WINDOW_DAYS).contains(&d));
        if merged.is_some() {
            links.push(ReworkLink {
                kind: "revert",
                pr_number: target,
                source,
                at,
                days_after_merge: days,
                within_window: within,
            });
        }
    };
    for p in prs {
        let Some(at) = p.merged_at else { continue };
        if p.reverts.is_empty() {
            continue;
        }
        let own = Some(p.number);
        if let Some(t) = resolve(&p.reverts, at, own, &by_number, &sha_to_pr, prs) {
            push(t, format!("pr#{}", p.number), at);
        }
    }
    for c in commits {
        let Some(at) = c.at else { continue };
        if c.reverts.is_empty() {
            continue;
        }
        let own = sha_to_pr.get(&c.sha.to_ascii_lowercase()).copied();
        if let Some(t) = resolve(&c.reverts, at, own, &by_number, &sha_to_pr, prs) {
            push(t, format!("commit:{}", c.sha), at);
        }
    }
    for e in reopens {
        links.push(ReworkLink {
            kind: "reopened",
            pr_number: e.number,
            source: format!("event:{}", e.id),
            at: e.at,
            days_after_merge: None,
            within_window: true,
        });
    }
    links.sort_by(|a, b| (a.kind, a.pr_number, &a.source).cmp(&(b.kind, b.pr_number, &b.source)));
    links.dedup_by(|a, b| a.kind == b.kind && a.pr_number == b.pr_number && a.source == b.source);
    links
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 9, day, 12, 0, 0).unwrap()
    }

    fn pr(n: i64, title: &str, merged: Option<u32>, sha: &str, body: &str) -> PrFacts {
        PrFacts {
            number: n,
            title: title.into(),
            merged_at: merged.map(t),
            merge_commit_sha: Some(sha.into()),
            reverts: parse_revert(title, body, "acme/api"),
        }
    }

    #[test]
    fn parses_the_three_revert_spellings() {
        let r = parse_revert(
            "Revert \"Add cache\" (#45)",
            "Reverts acme/api#12\n\nThis reverts commit ABCDEF1234567.",
            "acme/api",
        );
        assert_eq!(r.title.as_deref(), Some("Add cache"));
        assert_eq!(r.shas, vec!["abcdef1234567".to_string()]);
        assert_eq!(r.numbers, vec![12]);
        assert!(parse_revert("Add cache", "", "acme/api").is_empty());
        // Another repo's PR number is not ours; a too-short sha is not a sha.
        let other = parse_revert(
            "x",
            "Reverts other/repo#3\nThis reverts commit abc.",
            "acme/api",
        );
        assert!(other.is_empty());
        assert_eq!(parse_revert("x", "Reverts #7", "acme/api").numbers, vec![7]);
        assert_eq!(
            revert_title("Revert \"Revert \"X\"\"").as_deref(),
            Some("Revert \"X\"")
        );
        assert_eq!(revert_title("Revert \"\""), None);
        assert_eq!(split_pr_suffix("Fix (#12)"), ("Fix", Some(12)));
        assert_eq!(split_pr_suffix("Fix (#x)"), ("Fix (#x)", None));
    }

    #[test]
    fn links_reverts_by_number_sha_and_title_with_the_window() {
        let prs = vec![
            pr(1, "Add cache", Some(1), "aaaaaaa1111", ""),
            pr(
                2,
                "Revert \"Add cache\"",
                Some(5),
                "bbbbbbb2222",
                "Reverts acme/api#1",
            ),
            pr(3, "Speed up", Some(2), "ccccccc3333", ""),
            // Unmerged revert PR: reverts nothing.
            pr(4, "Revert \"Speed up\"", None, "", ""),
            pr(5, "Old thing", Some(1), "ddddddd4444", ""),
        ];
        let commits = vec![
            CommitFacts {
                sha: "eeeeeee5555".into(),
                subject: "Revert \"Speed up\"".into(),
                at: Some(t(30)),
                reverts: parse_revert(
                    "Revert \"Speed up\"",
                    "This reverts commit ccccccc3333.",
                    "acme/api",
                ),
            },
            CommitFacts {
                sha: "fffffff6666".into(),
                subject: "Revert \"Old thing\"".into(),
                at: Some(t(3)),
                reverts: parse_revert("Revert \"Old thing\"", "", "acme/api"),
            },
        ];
        let reopens = vec![ReopenFacts {
            id: 9,
            number: 4,
            at: t(6),
        }];
        let links = compute(&prs, &commits, &reopens);
        let find = |n: i64, src: &str| {
            links
                .iter()
                .find(|l| l.pr_number == n && l.source == src)
                .cloned()
        };
        let by_pr = find(1, "pr#2").unwrap();
        assert!(by_pr.within_window);
        assert_eq!(by_pr.days_after_merge, Some(4.0));
        let late = find(3, "commit:eeeeeee5555").unwrap();
        assert!(!late.within_window, "28 days after merge is outside 21");
        assert!(find(5, "commit:fffffff6666").unwrap().within_window);
        assert!(links.iter().all(|l| l.source != "pr#4"));
        let reopen = find(4, "event:9").unwrap();
        assert_eq!(reopen.kind, "reopened");
        assert_eq!(links.len(), 4);
    }

    #[test]
    fn a_squash_commit_of_a_revert_pr_links_to_the_same_target() {
        let prs = vec![
            pr(1, "Add cache", Some(1), "aaaaaaa1111", ""),
            pr(
                2,
                "Revert \"Add cache\"",
                Some(2),
                "bbbbbbb2222",
                "This reverts commit aaaaaaa1111.",
            ),
        ];
        let commits = vec![CommitFacts {
            sha: "bbbbbbb2222".into(),
            subject: "Revert \"Add cache\" (#2)".into(),
            at: Some(t(2)),
            reverts: parse_revert(
                "Revert \"Add cache\" (#2)",
                "This reverts commit aaaaaaa1111.",
                "acme/api",
            ),
        }];
        let links = compute(&prs, &commits, &[]);
        assert_eq!(links.len(), 2);
        assert!(links.iter().all(|l| l.pr_number == 1 && l.kind == "revert"));
    }
}
