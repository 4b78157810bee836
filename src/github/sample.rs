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
