//! GitHub-shaped JSON objects (list-endpoint pull requests, commits, repo-level issue events) with
//! the key sets of real api.github.com responses, for sample data and the fake server of the tests.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn id_of(s: &str) -> i64 {
    let h = blake3::hash(s.as_bytes());
    let b = h.as_bytes();
    i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], 0, 0])
}

/// A user object as GitHub embeds it (`user`, `author`, `actor`).
pub fn user_json(login: &str) -> Value {
    let u = format!("https://api.github.com/users/{login}");
    json!({
        "login": login, "id": id_of(login), "node_id": format!("U_{login}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{}", id_of(login)),
        "gravatar_id": "", "url": u, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"), "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"), "type": "User",
        "user_view_type": "public", "site_admin": false
    })
}

fn repo_json(repo: &str) -> Value {
    let (owner, name) = repo.split_once('/').unwrap_or((repo, repo));
    let u = format!("https://api.github.com/repos/{repo}");
    json!({
        "id": id_of(repo), "node_id": format!("R_{repo}"), "name": name, "full_name": repo,
        "private": false, "owner": user_json(owner), "html_url": format!("https://github.com/{repo}"),
        "description": null, "fork": false, "url": u, "default_branch": "main",
        "issue_events_url": format!("{u}/issues/events{{/number}}"), "pulls_url": format!("{u}/pulls{{/number}}"),
        "commits_url": format!("{u}/commits{{/sha}}"), "visibility": "public"
    })
}

/// What a sample pull request is.
#[derive(Clone, Debug)]
pub struct PullSpec {
    /// Number.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Body (may be empty).
    pub body: String,
    /// Author login.
    pub author: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last updated.
    pub updated_at: DateTime<Utc>,
    /// Closed (merged PRs are closed too).
    pub closed_at: Option<DateTime<Utc>>,
    /// Merged.
    pub merged_at: Option<DateTime<Utc>>,
    /// Merge commit sha.
    pub merge_commit_sha: Option<String>,
}

/// A pull request as `GET /repos/O/R/pulls` lists it.
pub fn pull_json(repo: &str, p: &PullSpec) -> Value {
    let u = format!("https://api.github.com/repos/{repo}");
    let n = p.number;
    let head_sha = format!("{:040x}", id_of(&format!("{repo}#{n}")) as u64 as u128);
    json!({
        "url": format!("{u}/pulls/{n}"), "id": id_of(&format!("pr {repo} {n}")),
        "node_id": format!("PR_{n}"), "html_url": format!("https://github.com/{repo}/pull/{n}"),
        "diff_url": format!("https://github.com/{repo}/pull/{n}.diff"),
        "patch_url": format!("https://github.com/{repo}/pull/{n}.patch"),
        "issue_url": format!("{u}/issues/{n}"), "number": n,
        "state": if p.closed_at.is_some() { "closed" } else { "open" }, "locked": false,
        "title": p.title, "user": user_json(&p.author),
        "body": if p.body.is_empty() { Value::Null } else { Value::String(p.body.clone()) },
        "created_at": ts(p.created_at), "updated_at": ts(p.updated_at),
        "closed_at": p.closed_at.map(ts), "merged_at": p.merged_at.map(ts),
        "merge_commit_sha": p.merge_commit_sha, "assignee": null, "assignees": [],
        "requested_reviewers": [], "requested_teams": [], "labels": [], "milestone": null,
        "draft": false, "commits_url": format!("{u}/pulls/{n}/commits"),
        "review_comments_url": format!("{u}/pulls/{n}/comments"),
        "review_comment_url": format!("{u}/pulls/comments{{/number}}"),
        "comments_url": format!("{u}/issues/{n}/comments"),
        "statuses_url": format!("{u}/statuses/{head_sha}"),
        "head": {"label": format!("{}:feature-{n}", repo.split('/').next().unwrap_or("")),
                 "ref": format!("feature-{n}"), "sha": head_sha, "user": user_json(&p.author),
                 "repo": repo_json(repo)},
        "base": {"label": "main", "ref": "main", "sha": "0".repeat(40),
                 "user": user_json(repo.split('/').next().unwrap_or("")), "repo": repo_json(repo)},
        "_links": {"self": {"href": format!("{u}/pulls/{n}")},
                   "html": {"href": format!("https://github.com/{repo}/pull/{n}")},
                   "issue": {"href": format!("{u}/issues/{n}")},
                   "comments": {"href": format!("{u}/issues/{n}/comments")},
                   "review_comments": {"href": format!("{u}/pulls/{n}/comments")},
                   "review_comment": {"href": format!("{u}/pulls/comments{{/number}}")},
                   "commits": {"href": format!("{u}/pulls/{n}/commits")},
                   "statuses": {"href": format!("{u}/statuses/{head_sha}")}},
        "author_association": "MEMBER", "auto_merge": null, "active_lock_reason": null
    })
}

/// A commit as `GET /repos/O/R/commits` lists it.
pub fn commit_json(repo: &str, sha: &str, login: &str, at: DateTime<Utc>, message: &str) -> Value {
    let u = format!("https://api.github.com/repos/{repo}");
    let name = login.trim_start_matches("dev-");
    let person = json!({"name": name, "email": format!("{name}@example.com"), "date": ts(at)});
    json!({
        "sha": sha, "node_id": format!("C_{sha}"),
        "commit": {"author": person, "committer": person, "message": message,
                   "tree": {"sha": "1".repeat(40), "url": format!("{u}/git/trees/{}", "1".repeat(40))},
                   "url": format!("{u}/git/commits/{sha}"), "comment_count": 0,
                   "verification": {"verified": false, "reason": "unsigned", "signature": null,
                                    "payload": null, "verified_at": null}},
        "url": format!("{u}/commits/{sha}"), "html_url": format!("https://github.com/{repo}/commit/{sha}"),
        "comments_url": format!("{u}/commits/{sha}/comments"),
        "author": user_json(login), "committer": user_json("web-flow"), "parents": []
    })
}

/// A repo-level issue event as `GET /repos/O/R/issues/events` lists it.
pub fn event_json(
    repo: &str,
    id: i64,
    event: &str,
    actor: &str,
    at: DateTime<Utc>,
    number: i64,
    is_pr: bool,
) -> Value {
    let u = format!("https://api.github.com/repos/{repo}");
    let mut issue = json!({
        "url": format!("{u}/issues/{number}"), "repository_url": u,
        "labels_url": format!("{u}/issues/{number}/labels{{/name}}"),
        "comments_url": format!("{u}/issues/{number}/comments"),
        "events_url": format!("{u}/issues/{number}/events"),
        "html_url": format!("https://github.com/{repo}/issues/{number}"),
        "id": id_of(&format!("issue {repo} {number}")), "node_id": format!("I_{number}"),
        "number": number, "title": format!("Item {number}"), "user": user_json(actor), "labels": [],
        "state": "open", "locked": false, "assignee": null, "assignees": [], "milestone": null,
        "comments": 0, "created_at": ts(at), "updated_at": ts(at), "closed_at": null,
        "author_association": "MEMBER", "active_lock_reason": null, "body": null,
        "reactions": {"total_count": 0}, "timeline_url": format!("{u}/issues/{number}/timeline"),
        "performed_via_github_app": null, "state_reason": null
    });
    if is_pr {
        issue["draft"] = json!(false);
        issue["pull_request"] = json!({"url": format!("{u}/pulls/{number}"),
            "html_url": format!("https://github.com/{repo}/pull/{number}"),
            "diff_url": format!("https://github.com/{repo}/pull/{number}.diff"),
            "patch_url": format!("https://github.com/{repo}/pull/{number}.patch"), "merged_at": null});
    }
    let mut e = json!({
        "id": id, "node_id": format!("E_{id}"), "url": format!("{u}/issues/events/{id}"),
        "actor": user_json(actor), "event": event, "commit_id": null, "commit_url": null,
        "created_at": ts(at), "issue": issue, "performed_via_github_app": null
    });
    if event != "merged" {
        e["state_reason"] = Value::Null;
    }
    e
}

/// What [`write_gh_sample`] wrote, over all repos.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GhSampleStats {
    /// Pull requests.
    pub pulls: u64,
    /// Commits.
    pub commits: u64,
    /// Issue events.
    pub events: u64,
    /// Merged PRs reverted by a later PR or commit.
    pub reverts: u64,
    /// PRs reopened after a close.
    pub reopens: u64,
}

struct RepoSample {
    pulls: Vec<(DateTime<Utc>, Value)>,
    commits: Vec<(DateTime<Utc>, Value)>,
    events: Vec<(DateTime<Utc>, String, i64, String)>,
}

fn at(day: chrono::NaiveDate, r: &mut crate::sample::Rng) -> DateTime<Utc> {
    let secs = 9 * 3600 + r.range(0, 9 * 3600 - 1) as i64;
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + chrono::Duration::seconds(secs)
}

fn hex_sha(r: &mut crate::sample::Rng) -> String {
    format!(
        "{:016x}{:016x}{:08x}",
        r.next_u64(),
        r.next_u64(),
        r.next_u64() as u32
    )
}

/// One PR of the sample, as the trace sample needs it to tag calls with the PR's branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplePr {
    /// PR number.
    pub number: i64,
    /// Author login (`dev-<name>`).
    pub author: String,
    /// Head branch.
    pub head_ref: String,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// Merged or closed.
    pub end: DateTime<Utc>,
    /// Written with Claude Code.
    pub ai_assisted: bool,
}

/// The PRs the sample of `repo` holds (the same ones [`write_gh_sample`] writes).
pub fn sample_prs(
    repo: &str,
    start: chrono::NaiveDate,
    days: u32,
    developers: usize,
    seed: u64,
) -> Vec<SamplePr> {
    let names = crate::sample::NAMES;
    let devs: Vec<String> = (0..developers.max(1))
        .map(|i| format!("dev-{}", names[i % names.len()]))
        .collect();
    let (s, _) = repo_sample(repo, &devs, start, days, seed);
    let time = |v: &Value| -> Option<DateTime<Utc>> { v.as_str()?.parse().ok() };
    s.pulls
        .iter()
        .filter_map(|(_, p)| {
            let number = p["number"].as_i64()?;
            Some(SamplePr {
                number,
                author: p["user"]["login"].as_str()?.to_string(),
                head_ref: p["head"]["ref"].as_str()?.to_string(),
                created_at: time(&p["created_at"])?,
                end: time(&p["closed_at"])?,
                ai_assisted: ai_assisted(repo, number, seed),
            })
        })
        .collect()
}

/// Whether sample PR `number` of `repo` was written with Claude Code (about 40 %), from a
/// stream of its own so that the choice does not shift any other draw of the sample.
pub fn ai_assisted(repo: &str, number: i64, seed: u64) -> bool {
    let h = blake3::hash(format!("{repo}#{number}#{seed}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    crate::sample::Rng::new(u64::from_le_bytes(b)).chance(0.4)
}

fn poisson_like(mean: f64, r: &mut crate::sample::Rng) -> u64 {
    // Rounded mean with ±30 % noise: enough variety, stable across platforms.
    (mean * (0.7 + 0.6 * r.unit())).round().max(0.0) as u64
}

fn repo_sample(
    repo: &str,
    devs: &[String],
    start: chrono::NaiveDate,
    days: u32,
    seed: u64,
) -> (RepoSample, GhSampleStats) {
    use crate::sample::{daily_intensity, Rng};
    use chrono::{Datelike, Duration, Weekday};
    let mut r = Rng::new(
        seed ^ u64::from_le_bytes(
            blake3::hash(repo.as_bytes()).as_bytes()[..8]
                .try_into()
                .unwrap_or([0; 8]),
        ),
    );
    let mut s = RepoSample {
        pulls: vec![],
        commits: vec![],
        events: vec![],
    };
    let mut stats = GhSampleStats::default();
    let mut number = 0i64;
    let mut merged: Vec<(i64, String, DateTime<Utc>, String)> = Vec::new();
    for d in 0..days {
        let day = start + Duration::days(d as i64);
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        // Delivery follows the PREVIOUS day's AI use (a lag-1 association for the report to find).
        let prev = daily_intensity(seed, day - Duration::days(1));
        let today = if weekend { 0.15 } else { 1.0 };
        let merges = poisson_like(2.5 * prev * today, &mut r);
        let direct = poisson_like(4.0 * prev * today, &mut r);
        for _ in 0..merges + poisson_like(0.3 * today, &mut r) {
            number += 1;
            let author = &devs[r.range(0, devs.len() as u64 - 1) as usize];
            let created = at(day, &mut r) - Duration::hours(r.range(2, 72) as i64);
            let title = format!(
                "{} {}",
                ["Add", "Fix", "Refactor", "Speed up", "Document"][r.range(0, 4) as usize],
                ["cache", "login", "search", "billing", "export", "retry", "metrics"]
                    [r.range(0, 6) as usize]
            );
            let title = format!("{title} (change {number})");
            let is_merged = r.chance(0.9);
            let end = at(day, &mut r).max(created + Duration::minutes(30));
            // About 40 % of PRs are written with Claude Code (their own stream of draws, so the
            // rest of the sample does not change): they carry an AI trailer on the squash-merge
            // commit and were opened closer to their merge (a planted effect on merge time).
            let ai = ai_assisted(repo, number, seed);
            let created = if ai {
                end - (end - created) * 2 / 5
            } else {
                created
            };
            let reopen = r.chance(0.05);
            if reopen {
                let closed = created + (end - created) / 3;
                s.events
                    .push((closed, "closed".into(), number, author.clone()));
                s.events.push((
                    closed + Duration::minutes(30),
                    "reopened".into(),
                    number,
                    author.clone(),
                ));
                stats.reopens += 1;
            }
            let sha = hex_sha(&mut r);
            let spec = PullSpec {
                number,
                title: title.clone(),
                body: String::new(),
                author: author.clone(),
                created_at: created,
                updated_at: end + Duration::minutes(1),
                closed_at: Some(end),
                merged_at: is_merged.then_some(end),
                merge_commit_sha: is_merged.then(|| sha.clone()),
            };
            s.pulls.push((spec.updated_at, pull_json(repo, &spec)));
            if is_merged {
                s.events
                    .push((end, "merged".into(), number, author.clone()));
                let message = match (ai, number % 2) {
                    (false, _) => format!("{title} (#{number})"),
                    (true, 0) => format!(
                        "{title} (#{number})\n\n* first pass\n* review fixes\n\nCo-Authored-By: Claude <noreply@anthropic.com>"
                    ),
                    (true, _) => format!(
                        "{title} (#{number})\n\n🤖 Generated with [Claude Code](https://claude.com/claude-code)"
                    ),
                };
                s.commits
                    .push((end, commit_json(repo, &sha, author, end, &message)));
                merged.push((number, title, end, sha));
            }
            s.events
                .push((end, "closed".into(), number, author.clone()));
        }
        for _ in 0..direct {
            let author = &devs[r.range(0, devs.len() as u64 - 1) as usize];
            let t = at(day, &mut r);
            s.commits.push((
                t,
                commit_json(repo, &hex_sha(&mut r), author, t, "Small direct change"),
            ));
        }
        // About 4 % of merges are reverted one to ten days later, by a PR or a plain commit.
        let candidates: Vec<_> = merged
            .iter()
            .filter(|m| {
                (day.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc() - m.2).num_days() == 3
            })
            .cloned()
            .collect();
        for (n, title, _, sha) in candidates {
            if !r.chance(0.04 * 7.0 / 3.0) {
                continue;
            }
            stats.reverts += 1;
            let t = at(day, &mut r);
            let author = &devs[r.range(0, devs.len() as u64 - 1) as usize];
            let revert_sha = hex_sha(&mut r);
            if r.chance(0.5) {
                number += 1;
                let spec = PullSpec {
                    number,
                    title: format!("Revert \"{title}\""),
                    body: format!("Reverts {repo}#{n}"),
                    author: author.clone(),
                    created_at: t - Duration::minutes(40),
                    updated_at: t + Duration::minutes(1),
                    closed_at: Some(t),
                    merged_at: Some(t),
                    merge_commit_sha: Some(revert_sha.clone()),
                };
                s.pulls.push((spec.updated_at, pull_json(repo, &spec)));
                s.events.push((t, "merged".into(), number, author.clone()));
                s.events.push((t, "closed".into(), number, author.clone()));
                s.commits.push((
                    t,
                    commit_json(
                        repo,
                        &revert_sha,
                        author,
                        t,
                        &format!("Revert \"{title}\" (#{number})\n\nThis reverts commit {sha}."),
                    ),
                ));
            } else {
                s.commits.push((
                    t,
                    commit_json(
                        repo,
                        &revert_sha,
                        author,
                        t,
                        &format!("Revert \"{title}\"\n\nThis reverts commit {sha}."),
                    ),
                ));
            }
        }
    }
    stats.pulls = s.pulls.len() as u64;
    stats.commits = s.commits.len() as u64;
    stats.events = s.events.len() as u64;
    (s, stats)
}

fn write_pages(path: &std::path::Path, items: &[Value]) -> std::io::Result<()> {
    let mut out = Vec::new();
    for chunk in items.chunks(100) {
        serde_json::to_writer(&mut out, chunk)?;
    }
    if items.is_empty() {
        out.extend_from_slice(b"[]");
    }
    out.push(b'\n');
    std::fs::write(path, out)
}

/// Writes `gh api --paginate`-shaped files (`pulls.json`, `commits.json`, `issues-events.json`
/// under `<dir>/<owner__name>/`) for the sample team `dev-<name>` of [`crate::sample`], over `days`
/// from `start`. Daily merges and commits follow the previous day's
/// [`crate::sample::daily_intensity`]; a few merges are reverted and a few PRs reopened. The same
/// arguments always give the same bytes.
pub fn write_gh_sample(
    dir: &std::path::Path,
    repos: &[crate::slug::RepoSlug],
    start: chrono::NaiveDate,
    days: u32,
    developers: usize,
    seed: u64,
) -> std::io::Result<GhSampleStats> {
    let names = crate::sample::NAMES;
    let devs: Vec<String> = (0..developers.max(1))
        .map(|i| format!("dev-{}", names[i % names.len()]))
        .collect();
    let mut total = GhSampleStats::default();
    for repo in repos {
        let (mut s, stats) = repo_sample(repo.as_str(), &devs, start, days, seed);
        let folder = dir.join(repo.path_component());
        std::fs::create_dir_all(&folder)?;
        // Newest first, as the API lists them.
        s.pulls.sort_by_key(|p| std::cmp::Reverse(p.0));
        s.commits.sort_by_key(|c| std::cmp::Reverse(c.0));
        s.events.sort_by_key(|e| e.0);
        let events: Vec<Value> = s
            .events
            .iter()
            .enumerate()
            .rev()
            .map(|(i, (t, kind, n, actor))| {
                event_json(
                    repo.as_str(),
                    1_000_000 + i as i64,
                    kind,
                    actor,
                    *t,
                    *n,
                    true,
                )
            })
            .collect();
        write_pages(
            &folder.join("pulls.json"),
            &s.pulls.into_iter().map(|p| p.1).collect::<Vec<_>>(),
        )?;
        write_pages(
            &folder.join("commits.json"),
            &s.commits.into_iter().map(|c| c.1).collect::<Vec<_>>(),
        )?;
        write_pages(&folder.join("issues-events.json"), &events)?;
        total.pulls += stats.pulls;
        total.commits += stats.commits;
        total.events += stats.events;
        total.reverts += stats.reverts;
        total.reopens += stats.reopens;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slug::RepoSlug;
    use chrono::{Datelike, NaiveDate, Weekday};

    fn write(dir: &std::path::Path) -> GhSampleStats {
        let repos = [
            RepoSlug::parse("acme/api").unwrap(),
            RepoSlug::parse("acme/web").unwrap(),
        ];
        write_gh_sample(
            dir,
            &repos,
            NaiveDate::from_ymd_opt(2025, 9, 1).unwrap(),
            42,
            8,
            42,
        )
        .unwrap()
    }

    #[test]
    fn is_deterministic_and_has_rework() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let stats = write(a.path());
        assert_eq!(stats, write(b.path()));
        for f in [
            "acme__api/pulls.json",
            "acme__web/commits.json",
            "acme__api/issues-events.json",
        ] {
            assert_eq!(
                std::fs::read(a.path().join(f)).unwrap(),
                std::fs::read(b.path().join(f)).unwrap()
            );
        }
        assert!(
            stats.pulls > 100 && stats.commits > stats.pulls,
            "{stats:?}"
        );
        assert!(stats.reverts >= 2 && stats.reopens >= 2, "{stats:?}");
    }

    #[test]
    fn weekday_commits_follow_the_previous_days_intensity() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path());
        let text = std::fs::read_to_string(dir.path().join("acme__api/commits.json")).unwrap();
        let mut per_day: std::collections::BTreeMap<NaiveDate, f64> = Default::default();
        for page in serde_json::Deserializer::from_str(&text).into_iter::<Vec<Value>>() {
            for c in page.unwrap() {
                let t = crate::time::parse_str(c["commit"]["author"]["date"].as_str().unwrap())
                    .unwrap();
                *per_day.entry(t.date_naive()).or_default() += 1.0;
            }
        }
        let (xs, ys): (Vec<f64>, Vec<f64>) = per_day
            .iter()
            .filter(|(d, _)| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
            .map(|(d, n)| {
                (
                    crate::sample::daily_intensity(42, *d - chrono::Duration::days(1)),
                    *n,
                )
            })
            .unzip();
        let n = xs.len() as f64;
        let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
        let cov: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
        let sx = xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>().sqrt();
        let sy = ys.iter().map(|y| (y - my).powi(2)).sum::<f64>().sqrt();
        let r = cov / (sx * sy);
        assert!(r > 0.4, "lag-1 correlation {r}");
    }
}
