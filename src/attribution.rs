//! Which pull requests AI worked on: evidence per PR, each kind recorded apart. Pure: the store
//! hands over the PRs, the calls made on branches, the commits and each author's calls.
//!
//! - `branch`: a call in the same repo whose branch equals the PR's head ref, from
//!   [`WINDOW_BEFORE_DAYS`] days before the PR was created to its merge (or close; an open PR:
//!   up to now). Calls on a default branch (`main`, `master`, or any base ref of the repo's PRs)
//!   never count. These calls carry their tokens and known cost to the PR.
//! - `trailer`: the PR's merge commit, or a commit whose subject names the PR (`(#123)`), carries
//!   an AI co-author trailer or footer ([`DEFAULT_TRAILERS`], plus `--ai-trailer` patterns),
//!   matched case-insensitively. Squash merges keep the trailers of the PR's commits in the
//!   merge commit.
//! - `author_window`: the PR's author (through the identity link) made calls in the repo in the
//!   same span. Weaker: it says the author used AI then, not that the PR was written with it.
//!
//! A PR is AI-assisted with `branch` or `trailer` evidence ([`Attribution::Strict`]), or with any
//! evidence ([`Attribution::Any`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use regex::{Regex, RegexBuilder};
use serde::Serialize;

/// Days before a PR's creation from which its branch's calls count.
pub const WINDOW_BEFORE_DAYS: i64 = 14;

/// AI co-author trailers and footers recognised by default (case-insensitive regexes, `^` at
/// a line start): Claude Code's trailer names Anthropic's no-reply address, so a human co-author
/// called Claude does not match; Copilot and Cursor's agents sign with their own names.
pub const DEFAULT_TRAILERS: [&str; 4] = [
    r"(?m)^co-authored-by:[ \t]*claude[^<\n]*<noreply@anthropic\.com>",
    r"(?m)^[^\n]*generated with \[claude code\]",
    r"(?m)^co-authored-by:[ \t]*copilot\b",
    r"(?m)^co-authored-by:[ \t]*cursor agent\b",
];

/// Text every match of a [`DEFAULT_TRAILERS`] pattern contains, ignoring ASCII case (no needle
/// holds a `k` or an `s`, the letters with non-ASCII case-insensitive matches), so a store can
/// skip the commits that hold none of them before any regex runs.
pub const DEFAULT_TRAILER_NEEDLES: [&str; 2] = ["co-authored-by", "generated with [claude code]"];

/// Branches that are never a PR's own work.
pub const DEFAULT_BRANCHES: [&str; 2] = ["main", "master"];

/// Which evidence makes a PR AI-assisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Attribution {
    /// `branch` or `trailer` evidence.
    #[default]
    Strict,
    /// Any evidence, `author_window` included.
    Any,
}

/// A kind of evidence that AI helped with a PR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// Calls on the PR's head branch.
    Branch,
    /// An AI co-author trailer on the merge commit or a commit naming the PR.
    Trailer,
    /// The author made calls in the repo while the PR was open (weaker).
    AuthorWindow,
}

/// One PR as attribution reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrFacts {
    /// PR number.
    pub number: i64,
    /// Author login.
    pub author: Option<String>,
    /// Head branch.
    pub head_ref: Option<String>,
    /// Base branch.
    pub base_ref: Option<String>,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Merged.
    pub merged_at: Option<DateTime<Utc>>,
    /// Closed (merged or not).
    pub closed_at: Option<DateTime<Utc>>,
    /// Merge commit of a merged PR.
    pub merge_commit_sha: Option<String>,
}

impl PrFacts {
    /// The span in which calls count for this PR: creation − 14 days to merge, close or `now`.
    pub fn span(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let end = self.merged_at.or(self.closed_at).unwrap_or(now);
        (self.created_at - Duration::days(WINDOW_BEFORE_DAYS), end)
    }
}

/// A call made on a branch.
#[derive(Debug, Clone, PartialEq)]
pub struct BranchCall {
    /// When.
    pub at: DateTime<Utc>,
    /// The branch.
    pub branch: String,
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// Known cost.
    pub cost_usd: Option<f64>,
}

/// A commit as attribution reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommitFacts {
    /// Full sha.
    pub sha: String,
    /// First line.
    pub subject: String,
    /// The rest of the message.
    pub body: String,
}

/// Calls a PR's author made in the repo while it was open (from the rollups).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct AuthorCalls {
    /// Calls.
    pub calls: u64,
    /// Prompt plus completion tokens.
    pub tokens: i64,
    /// Known cost.
    pub cost_usd: f64,
}

/// The evidence of one PR.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PrEvidence {
    /// Kinds found, in order.
    pub evidence: Vec<Evidence>,
    /// Calls attributed by branch.
    pub ai_calls: u64,
    /// Their tokens.
    pub ai_tokens: i64,
    /// Their known cost.
    pub ai_cost_usd: f64,
    /// Of those, calls without a known cost.
    pub ai_cost_unknown_calls: u64,
    /// Shas of commits with an AI trailer.
    pub trailer_commits: Vec<String>,
    /// The author's calls while the PR was open (author_window evidence).
    pub author_window: Option<AuthorCalls>,
}

impl PrEvidence {
    /// True when the evidence makes the PR AI-assisted under `rule`.
    pub fn ai_assisted(&self, rule: Attribution) -> bool {
        self.evidence.iter().any(|e| match e {
            Evidence::Branch | Evidence::Trailer => true,
            Evidence::AuthorWindow => rule == Attribution::Any,
        })
    }
}

/// The AI trailer patterns: the defaults plus `--ai-trailer` regexes.
#[derive(Debug, Clone)]
pub struct Trailers(Vec<Regex>);

/// Which commits a store reads for trailer evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitNeeds<'a> {
    /// Texts one of which (ignoring ASCII case) the subject or body must contain; `None` when
    /// any commit may carry a trailer (user patterns).
    pub needles: Option<&'a [&'a str]>,
}

impl Trailers {
    /// The default patterns plus `extra` (case-insensitive); an invalid regex is an error
    /// naming it.
    pub fn new(extra: &[String]) -> Result<Self, String> {
        let mut v = Vec::new();
        for p in DEFAULT_TRAILERS
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
        {
            v.push(
                RegexBuilder::new(p)
                    .case_insensitive(true)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| format!("--ai-trailer {p:?}: {e}"))?,
            );
        }
        Ok(Trailers(v))
    }

    /// True when `text` carries an AI trailer or footer.
    pub fn matches(&self, text: &str) -> bool {
        self.0.iter().any(|r| r.is_match(text))
    }

    /// What a commit must contain to match: [`DEFAULT_TRAILER_NEEDLES`] when only the default
    /// patterns are in use.
    pub fn needs(&self) -> CommitNeeds<'static> {
        CommitNeeds {
            needles: (self.0.len() == DEFAULT_TRAILERS.len())
                .then_some(&DEFAULT_TRAILER_NEEDLES[..]),
        }
    }
}

/// The PR a commit subject names the way GitHub's squash merge does: a trailing `(#123)`.
/// A PR cited elsewhere in the subject (`Revert "Add cache (#12)" (#30)` names #30) does not count.
pub fn named_pr(subject: &str) -> Option<i64> {
    let rest = subject.trim_end().strip_suffix(')')?;
    let i = rest.rfind("(#")?;
    let digits = &rest[i + 2..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Evidence for every PR of one repo. `author_calls(pr)` gives the author's calls in the PR's
/// span (None when the author has no linked calls); `now` ends the span of open PRs.
pub fn attribute(
    prs: &[PrFacts],
    base_refs: &[String],
    calls: &[BranchCall],
    commits: &[CommitFacts],
    trailers: &Trailers,
    author_calls: impl Fn(&PrFacts) -> Option<AuthorCalls>,
    now: DateTime<Utc>,
) -> Vec<PrEvidence> {
    let defaults: BTreeSet<&str> = DEFAULT_BRANCHES
        .iter()
        .copied()
        .chain(prs.iter().filter_map(|p| p.base_ref.as_deref()))
        .chain(base_refs.iter().map(String::as_str))
        .collect();
    let mut out = vec![PrEvidence::default(); prs.len()];
    // Branch evidence: each call goes to the PR on its branch whose span ends first at or after
    // it (so a call is never counted twice when a branch name is reused).
    let mut by_branch: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in prs.iter().enumerate() {
        if let Some(h) = p.head_ref.as_deref().filter(|h| !defaults.contains(h)) {
            by_branch.entry(h).or_default().push(i);
        }
    }
    for c in calls {
        let Some(cands) = by_branch.get(c.branch.as_str()) else {
            continue;
        };
        let best = cands
            .iter()
            .filter(|&&i| {
                let (a, b) = prs[i].span(now);
                c.at >= a && c.at <= b
            })
            .min_by_key(|&&i| (prs[i].span(now).1, prs[i].number));
        if let Some(&i) = best {
            let e = &mut out[i];
            e.ai_calls += 1;
            e.ai_tokens += c.tokens;
            match c.cost_usd.filter(|v| v.is_finite()) {
                Some(v) => e.ai_cost_usd += v,
                None => e.ai_cost_unknown_calls += 1,
            }
        }
    }
    // Trailer evidence: the merge commit, or commits naming the PR.
    let by_sha: BTreeMap<&str, &CommitFacts> =
        commits.iter().map(|c| (c.sha.as_str(), c)).collect();
    let mut naming: BTreeMap<i64, Vec<&CommitFacts>> = BTreeMap::new();
    for c in commits {
        if let Some(n) = named_pr(&c.subject) {
            naming.entry(n).or_default().push(c);
        }
    }
    let carries = |c: &CommitFacts| trailers.matches(&c.subject) || trailers.matches(&c.body);
    for (i, p) in prs.iter().enumerate() {
        let e = &mut out[i];
        let mut shas: BTreeSet<String> = BTreeSet::new();
        if let Some(c) = p.merge_commit_sha.as_deref().and_then(|s| by_sha.get(s)) {
            if carries(c) {
                shas.insert(c.sha.clone());
            }
        }
        for c in naming.get(&p.number).into_iter().flatten() {
            if carries(c) {
                shas.insert(c.sha.clone());
            }
        }
        if e.ai_calls > 0 {
            e.evidence.push(Evidence::Branch);
        }
        if !shas.is_empty() {
            e.evidence.push(Evidence::Trailer);
            e.trailer_commits = shas.into_iter().collect();
        }
        if let Some(a) = author_calls(p).filter(|a| a.calls > 0) {
            e.evidence.push(Evidence::AuthorWindow);
            e.author_window = Some(a);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn pr(number: i64, head: &str, created: &str, merged: Option<&str>) -> PrFacts {
        PrFacts {
            number,
            author: Some("alice".into()),
            head_ref: Some(head.into()),
            base_ref: Some("develop".into()),
            created_at: at(created),
            merged_at: merged.map(at),
            closed_at: merged.map(at),
            merge_commit_sha: Some(format!("m{number}")),
        }
    }

    fn call(ts: &str, branch: &str, cost: Option<f64>) -> BranchCall {
        BranchCall {
            at: at(ts),
            branch: branch.into(),
            tokens: 100,
            cost_usd: cost,
        }
    }

    #[test]
    fn branch_evidence_respects_the_span_and_default_branches() {
        let prs = [
            pr(
                1,
                "feat/a",
                "2025-10-10T00:00:00Z",
                Some("2025-10-12T00:00:00Z"),
            ),
            pr(
                2,
                "develop",
                "2025-10-10T00:00:00Z",
                Some("2025-10-12T00:00:00Z"),
            ),
            pr(3, "main", "2025-10-10T00:00:00Z", None),
        ];
        let calls = [
            call("2025-09-27T00:00:00Z", "feat/a", Some(1.0)), // 13 days before: counts
            call("2025-09-25T00:00:00Z", "feat/a", Some(1.0)), // 15 days before: no
            call("2025-10-11T00:00:00Z", "feat/a", None),      // counts, unknown cost
            call("2025-10-13T00:00:00Z", "feat/a", Some(1.0)), // after the merge: no
            call("2025-10-11T00:00:00Z", "develop", Some(1.0)), // a base ref: never
            call("2025-10-11T00:00:00Z", "main", Some(1.0)),   // a default branch: never
        ];
        let t = Trailers::new(&[]).unwrap();
        let e = attribute(
            &prs,
            &[],
            &calls,
            &[],
            &t,
            |_| None,
            at("2025-11-01T00:00:00Z"),
        );
        assert_eq!(e[0].evidence, [Evidence::Branch]);
        assert_eq!((e[0].ai_calls, e[0].ai_tokens), (2, 200));
        assert_eq!((e[0].ai_cost_usd, e[0].ai_cost_unknown_calls), (1.0, 1));
        assert!(e[1].evidence.is_empty() && e[2].evidence.is_empty());
        assert!(e[0].ai_assisted(Attribution::Strict));
    }

    #[test]
    fn a_reused_branch_name_gives_each_call_to_one_pr() {
        let prs = [
            pr(
                1,
                "fix",
                "2025-10-01T00:00:00Z",
                Some("2025-10-05T00:00:00Z"),
            ),
            pr(
                2,
                "fix",
                "2025-10-06T00:00:00Z",
                Some("2025-10-09T00:00:00Z"),
            ),
        ];
        let calls = [
            call("2025-10-04T00:00:00Z", "fix", Some(1.0)),
            call("2025-10-07T00:00:00Z", "fix", Some(2.0)),
        ];
        let t = Trailers::new(&[]).unwrap();
        let e = attribute(
            &prs,
            &[],
            &calls,
            &[],
            &t,
            |_| None,
            at("2025-11-01T00:00:00Z"),
        );
        assert_eq!((e[0].ai_calls, e[0].ai_cost_usd), (1, 1.0));
        assert_eq!((e[1].ai_calls, e[1].ai_cost_usd), (1, 2.0));
    }

    #[test]
    fn trailers_in_squash_merges_and_commits_naming_the_pr() {
        let prs = [
            pr(7, "a", "2025-10-01T00:00:00Z", Some("2025-10-02T00:00:00Z")),
            pr(8, "b", "2025-10-01T00:00:00Z", Some("2025-10-02T00:00:00Z")),
            pr(9, "c", "2025-10-01T00:00:00Z", Some("2025-10-02T00:00:00Z")),
        ];
        let commits = [
            CommitFacts {
                sha: "m7".into(),
                subject: "Add cache (#7)".into(),
                body: "* wip\n\nCo-Authored-By: Claude <noreply@anthropic.com>".into(),
            },
            CommitFacts {
                sha: "x".into(),
                subject: "Fix login (#8)".into(),
                body: "🤖 Generated with [Claude Code](https://claude.com/claude-code)".into(),
            },
            CommitFacts {
                sha: "m9".into(),
                subject: "Tidy (#9)".into(),
                body: "Co-authored-by: Dana <dana@example.com>".into(),
            },
        ];
        let t = Trailers::new(&[]).unwrap();
        let e = attribute(
            &prs,
            &[],
            &[],
            &commits,
            &t,
            |_| None,
            at("2025-11-01T00:00:00Z"),
        );
        assert_eq!(e[0].evidence, [Evidence::Trailer]);
        assert_eq!(e[0].trailer_commits, ["m7"]);
        assert_eq!(e[1].evidence, [Evidence::Trailer]);
        assert!(e[2].evidence.is_empty());
        let custom = Trailers::new(&["co-authored-by: dana".into()]).unwrap();
        let e = attribute(
            &prs,
            &[],
            &[],
            &commits,
            &custom,
            |_| None,
            at("2025-11-01T00:00:00Z"),
        );
        assert_eq!(e[2].evidence, [Evidence::Trailer]);
        assert!(Trailers::new(&["(".into()])
            .unwrap_err()
            .contains("--ai-trailer"));
    }

    #[test]
    fn author_window_is_weaker_evidence() {
        let prs = [pr(
            1,
            "a",
            "2025-10-01T00:00:00Z",
            Some("2025-10-02T00:00:00Z"),
        )];
        let t = Trailers::new(&[]).unwrap();
        let e = attribute(
            &prs,
            &[],
            &[],
            &[],
            &t,
            |_| {
                Some(AuthorCalls {
                    calls: 3,
                    tokens: 10,
                    cost_usd: 0.5,
                })
            },
            at("2025-11-01T00:00:00Z"),
        );
        assert_eq!(e[0].evidence, [Evidence::AuthorWindow]);
        assert!(!e[0].ai_assisted(Attribution::Strict));
        assert!(e[0].ai_assisted(Attribution::Any));
    }

    #[test]
    fn pr_numbers_named_in_subjects() {
        assert_eq!(named_pr("Fix login (#12)"), Some(12));
        assert_eq!(named_pr("Revert \"Add cache (#12)\" (#30) "), Some(30));
        assert_eq!(named_pr("Fix (#12) later"), None);
        assert_eq!(named_pr("Fix (#x)"), None);
        assert_eq!(named_pr("Fix (#)"), None);
    }

    #[test]
    fn default_trailers_are_the_assistants_not_namesakes() {
        let t = Trailers::new(&[]).unwrap();
        assert!(t.matches("x\n\nCo-Authored-By: Claude <noreply@anthropic.com>"));
        assert!(t.matches("co-authored-by: Claude Opus 4 <noreply@anthropic.com>"));
        assert!(t.matches("🤖 Generated with [Claude Code](https://claude.com/claude-code)"));
        assert!(t.matches("Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>"));
        assert!(t.matches("Co-authored-by: Cursor Agent <cursoragent@cursor.com>"));
        assert!(!t.matches("Co-authored-by: Claude Dupont <cd@acme.com>"));
        assert!(!t.matches("Co-authored-by: Claudette <c@acme.com>"));
        assert!(!t.matches("Mention co-authored-by: claude <noreply@anthropic.com> inline"));
        assert!(!t.matches("Co-authored-by: Copilotte <x@y>"));
    }

    #[test]
    fn every_default_match_holds_a_needle() {
        let t = Trailers::new(&[]).unwrap();
        let needles = t.needs().needles.unwrap();
        for text in [
            "x\n\nCo-Authored-By: Claude <noreply@anthropic.com>",
            "CO-AUTHORED-BY:\tclaude code <NOREPLY@ANTHROPIC.COM>",
            "🤖 Generated with [Claude Code](https://claude.com/claude-code)",
            "done. GENERATED WITH [CLAUDE CODE]",
            "Co-authored-by: Copilot <175728472+Copilot@users.noreply.github.com>",
            "Co-authored-by: Cursor Agent <cursoragent@cursor.com>",
        ] {
            assert!(t.matches(text), "{text}");
            let lower = text.to_ascii_lowercase();
            assert!(needles.iter().any(|n| lower.contains(n)), "{text}");
        }
        // `k` and `s` also match non-ASCII letters case-insensitively (K, ſ); `%` and `_` are
        // LIKE wildcards: no needle holds any of them.
        for n in needles {
            assert!(!n.contains(['k', 's', '%', '_']), "{n}");
        }
        assert_eq!(Trailers::new(&["x".into()]).unwrap().needs().needles, None);
    }
}
