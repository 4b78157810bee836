//! GitHub REST objects (pull requests, commits, issue events) parsed from JSON, and the rows
//! ProdLens stores for them. Pure: no I/O. Optional fields may be missing or null; a missing
//! required field (a PR's number, a commit's sha, an event's id) makes the page malformed.

use super::rework::{self, RevertRef};
use serde::Deserialize;
use serde_json::Value;

/// The three paginated lists a sync reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// `GET /repos/O/R/pulls?state=all&sort=updated&direction=desc`.
    Pulls,
    /// `GET /repos/O/R/commits`.
    Commits,
    /// `GET /repos/O/R/issues/events`.
    Events,
}

impl Stream {
    /// Every stream, in sync order.
    pub const ALL: [Stream; 3] = [Stream::Pulls, Stream::Commits, Stream::Events];

    /// The stream's stored name.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Pulls => "pulls",
            Stream::Commits => "commits",
            Stream::Events => "events",
        }
    }
}

#[derive(Deserialize)]
struct ApiUser {
    login: Option<String>,
}

#[derive(Deserialize)]
struct ApiRef {
    #[serde(rename = "ref")]
    name: Option<String>,
}

#[derive(Deserialize)]
struct ApiPull {
    id: Option<i64>,
    number: i64,
    title: Option<String>,
    user: Option<ApiUser>,
    state: Option<String>,
    draft: Option<bool>,
    body: Option<String>,
    created_at: String,
    updated_at: String,
    closed_at: Option<String>,
    merged_at: Option<String>,
    merge_commit_sha: Option<String>,
    base: Option<ApiRef>,
    head: Option<ApiRef>,
    additions: Option<i64>,
    deletions: Option<i64>,
    changed_files: Option<i64>,
}

#[derive(Deserialize)]
struct ApiGitPerson {
    name: Option<String>,
    email: Option<String>,
    date: Option<String>,
}

#[derive(Deserialize)]
struct ApiGitCommit {
    author: Option<ApiGitPerson>,
    committer: Option<ApiGitPerson>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct ApiCommit {
    sha: String,
    commit: Option<ApiGitCommit>,
    author: Option<ApiUser>,
}

#[derive(Deserialize)]
struct ApiIssue {
    number: Option<i64>,
    pull_request: Option<Value>,
}

#[derive(Deserialize)]
struct ApiEvent {
    id: i64,
    event: String,
    actor: Option<ApiUser>,
    created_at: String,
    commit_id: Option<String>,
    issue: Option<ApiIssue>,
}

/// A stored pull request.
#[derive(Clone, Debug, PartialEq)]
pub struct PullRequestRow {
    /// PR number (unique per repo).
    pub number: i64,
    /// GitHub's global id.
    pub id: Option<i64>,
    /// Title.
    pub title: String,
    /// Author login.
    pub author: Option<String>,
    /// `open` or `closed`.
    pub state: String,
    /// Draft flag.
    pub draft: bool,
    /// Creation time (UTC text).
    pub created_at: String,
    /// Last update time (UTC text).
    pub updated_at: String,
    /// Close time.
    pub closed_at: Option<String>,
    /// Merge time.
    pub merged_at: Option<String>,
    /// Merge (or squash) commit sha.
    pub merge_commit_sha: Option<String>,
    /// Target branch.
    pub base_ref: Option<String>,
    /// Source branch.
    pub head_ref: Option<String>,
    /// Lines added (single-PR responses only).
    pub additions: Option<i64>,
    /// Lines deleted (single-PR responses only).
    pub deletions: Option<i64>,
    /// Files changed (single-PR responses only).
    pub changed_files: Option<i64>,
    /// What the PR says it reverts.
    pub reverts: RevertRef,
}

/// A stored commit.
#[derive(Clone, Debug, PartialEq)]
pub struct CommitRow {
    /// Full sha.
    pub sha: String,
    /// Author's GitHub login, when GitHub could match the e-mail.
    pub author_login: Option<String>,
    /// Git author name.
    pub author_name: Option<String>,
    /// Git author e-mail.
    pub author_email: Option<String>,
    /// Authored time.
    pub authored_at: Option<String>,
    /// Committed time.
    pub committed_at: Option<String>,
    /// First line of the message.
    pub message: String,
    /// The rest of the message (trailers such as `Co-Authored-By:` live there), at most
    /// [`MAX_BODY_BYTES`].
    pub body: String,
    /// Shas named by `This reverts commit …`, plus the `Revert "…"` title.
    pub reverts: RevertRef,
}

/// Longest commit message body kept (bytes, cut at a character boundary).
pub const MAX_BODY_BYTES: usize = 8192;

fn body_of(message: &str) -> String {
    let rest = message.split_once('\n').map_or("", |(_, r)| r).trim();
    let mut end = rest.len().min(MAX_BODY_BYTES);
    while !rest.is_char_boundary(end) {
        end -= 1;
    }
    rest[..end].to_string()
}

/// A stored repo-level issue event.
#[derive(Clone, Debug, PartialEq)]
pub struct IssueEventRow {
    /// Event id.
    pub id: i64,
    /// `closed`, `reopened`, `merged`, `labeled`, …
    pub event: String,
    /// Issue or PR number.
    pub issue_number: Option<i64>,
    /// True when the issue is a pull request.
    pub is_pull_request: bool,
    /// Who did it.
    pub actor: Option<String>,
    /// When (UTC text).
    pub created_at: String,
    /// Commit the event refers to.
    pub commit_id: Option<String>,
}

/// One page of one stream, parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum Page {
    /// Pull requests.
    Pulls(Vec<PullRequestRow>),
    /// Commits.
    Commits(Vec<CommitRow>),
    /// Issue events.
    Events(Vec<IssueEventRow>),
}

/// Ordering keys of a page, enough to decide where paging stops without the page itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Digest {
    /// Items on the page.
    pub items: usize,
    /// Smallest key (oldest update / commit time, lowest event id).
    pub min_key: Option<String>,
    /// Largest key.
    pub max_key: Option<String>,
}

/// The sortable key of an event id (zero-padded so text order is number order).
pub fn event_key(id: i64) -> String {
    format!("{:020}", id.max(0))
}

/// Normalises a GitHub timestamp to `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn norm_time(raw: &str) -> Result<String, String> {
    crate::time::parse_str(raw).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn opt_time(raw: Option<String>) -> Option<String> {
    raw.as_deref().and_then(|s| norm_time(s).ok())
}

impl Page {
    /// The stream this page belongs to.
    pub fn stream(&self) -> Stream {
        match self {
            Page::Pulls(_) => Stream::Pulls,
            Page::Commits(_) => Stream::Commits,
            Page::Events(_) => Stream::Events,
        }
    }

    /// Items on the page.
    pub fn len(&self) -> usize {
        match self {
            Page::Pulls(v) => v.len(),
            Page::Commits(v) => v.len(),
            Page::Events(v) => v.len(),
        }
    }

    /// True when the page holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The page's ordering keys.
    pub fn digest(&self) -> Digest {
        let keys: Vec<String> = match self {
            Page::Pulls(v) => v.iter().map(|p| p.updated_at.clone()).collect(),
            Page::Commits(v) => v.iter().filter_map(|c| c.committed_at.clone()).collect(),
            Page::Events(v) => v.iter().map(|e| event_key(e.id)).collect(),
        };
        Digest {
            items: self.len(),
            min_key: keys.iter().min().cloned(),
            max_key: keys.iter().max().cloned(),
        }
    }
}

/// Tells which stream a page (a JSON array) belongs to from its first object's keys.
pub fn detect_stream(items: &[Value]) -> Option<Stream> {
    let first = items.first()?.as_object()?;
    if first.contains_key("sha") && first.contains_key("commit") {
        Some(Stream::Commits)
    } else if first.contains_key("event") && first.contains_key("id") {
        Some(Stream::Events)
    } else if first.contains_key("number")
        && (first.contains_key("merged_at") || first.contains_key("head"))
    {
        Some(Stream::Pulls)
    } else {
        None
    }
}

/// The `owner/name` an item names in its API URLs, if any (used to route imported files).
pub fn item_repo(item: &Value) -> Option<String> {
    let from_url = |u: &str| {
        let rest = &u[u.find("/repos/")? + "/repos/".len()..];
        let mut parts = rest.split('/');
        Some(format!("{}/{}", parts.next()?, parts.next()?))
    };
    item.pointer("/base/repo/full_name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| item.get("url").and_then(Value::as_str).and_then(from_url))
}

/// Parses one page of `stream` from a JSON array; `repo` scopes `Reverts owner/name#N`.
pub fn parse_page(stream: Stream, items: Vec<Value>, repo: &str) -> Result<Page, String> {
    fn each<T: for<'de> Deserialize<'de>>(items: Vec<Value>) -> Result<Vec<T>, String> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| serde_json::from_value(v).map_err(|e| format!("item {i}: {e}")))
            .collect()
    }
    Ok(match stream {
        Stream::Pulls => Page::Pulls(
            each::<ApiPull>(items)?
                .into_iter()
                .map(|p| pull_row(p, repo))
                .collect::<Result<_, _>>()?,
        ),
        Stream::Commits => Page::Commits(
            each::<ApiCommit>(items)?
                .into_iter()
                .map(commit_row)
                .collect(),
        ),
        Stream::Events => Page::Events(
            each::<ApiEvent>(items)?
                .into_iter()
                .map(event_row)
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Parses a page body (the bytes of one response) as a JSON array of `stream` items.
pub fn parse_body(stream: Stream, body: &[u8], repo: &str) -> Result<Page, String> {
    let v: Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    match v {
        Value::Array(items) => parse_page(stream, items, repo),
        other => Err(format!(
            "expected a JSON array, got {}",
            crate::sources::fields::type_name(&other)
        )),
    }
}

fn pull_row(p: ApiPull, repo: &str) -> Result<PullRequestRow, String> {
    let title = p.title.unwrap_or_default();
    let reverts = rework::parse_revert(&title, p.body.as_deref().unwrap_or(""), repo);
    Ok(PullRequestRow {
        number: p.number,
        id: p.id,
        author: p.user.and_then(|u| u.login),
        state: p.state.unwrap_or_else(|| "unknown".into()),
        draft: p.draft.unwrap_or(false),
        created_at: norm_time(&p.created_at)
            .map_err(|e| format!("PR #{}: created_at: {e}", p.number))?,
        updated_at: norm_time(&p.updated_at)
            .map_err(|e| format!("PR #{}: updated_at: {e}", p.number))?,
        closed_at: opt_time(p.closed_at),
        merged_at: opt_time(p.merged_at),
        merge_commit_sha: p.merge_commit_sha,
        base_ref: p.base.and_then(|r| r.name),
        head_ref: p.head.and_then(|r| r.name),
        additions: p.additions,
        deletions: p.deletions,
        changed_files: p.changed_files,
        title,
        reverts,
    })
}

fn commit_row(c: ApiCommit) -> CommitRow {
    let git = c.commit;
    let message = git
        .as_ref()
        .and_then(|g| g.message.clone())
        .unwrap_or_default();
    let subject = message.lines().next().unwrap_or("").to_string();
    let (author, committer) = match git {
        Some(g) => (g.author, g.committer),
        None => (None, None),
    };
    let mut reverts = rework::parse_revert(&subject, &message, "");
    reverts.numbers.clear();
    CommitRow {
        sha: c.sha,
        author_login: c.author.and_then(|u| u.login),
        authored_at: opt_time(author.as_ref().and_then(|a| a.date.clone())),
        committed_at: opt_time(committer.and_then(|a| a.date)),
        author_name: author.as_ref().and_then(|a| a.name.clone()),
        author_email: author.and_then(|a| a.email),
        body: body_of(&message),
        message: subject,
        reverts,
    }
}

fn event_row(e: ApiEvent) -> Result<IssueEventRow, String> {
    Ok(IssueEventRow {
        created_at: norm_time(&e.created_at)
            .map_err(|r| format!("event {}: created_at: {r}", e.id))?,
        id: e.id,
        event: e.event,
        issue_number: e.issue.as_ref().and_then(|i| i.number),
        is_pull_request: e.issue.as_ref().is_some_and(|i| i.pull_request.is_some()),
        actor: e.actor.and_then(|a| a.login),
        commit_id: e.commit_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_pull_with_nulls_and_missing_optionals() {
        let v = json!([{"number": 7, "title": "Revert \"X\"", "user": null, "state": "closed",
            "created_at": "2025-09-01T10:00:00Z", "updated_at": "2025-09-02T10:00:00+02:00",
            "merged_at": null, "body": null, "head": {"ref": "fix"}, "base": {"ref": "main"}}]);
        let Page::Pulls(p) =
            parse_page(Stream::Pulls, v.as_array().unwrap().clone(), "a/b").unwrap()
        else {
            panic!()
        };
        assert_eq!(p[0].updated_at, "2025-09-02T08:00:00Z");
        assert_eq!(p[0].author, None);
        assert_eq!(p[0].reverts.title.as_deref(), Some("X"));
        assert_eq!(p[0].head_ref.as_deref(), Some("fix"));
        assert!(!p[0].draft);
    }

    #[test]
    fn missing_required_fields_and_non_arrays_are_errors() {
        let err = parse_page(Stream::Pulls, vec![json!({"title": "x"})], "a/b").unwrap_err();
        assert!(err.contains("item 0"), "{err}");
        assert!(parse_body(Stream::Events, b"{\"message\":\"x\"}", "a/b").is_err());
        assert!(parse_body(Stream::Events, b"[{\"id\": 1,", "a/b")
            .unwrap_err()
            .contains("invalid JSON"));
        let bad_time = json!({"id": 1, "event": "closed", "created_at": "yesterday"});
        assert!(parse_page(Stream::Events, vec![bad_time], "a/b").is_err());
    }

    #[test]
    fn commit_keeps_first_line_and_revert_shas() {
        let v = json!({"sha": "abc", "author": {"login": "dev-alice"}, "commit": {
            "author": {"name": "Alice", "email": "a@x", "date": "2025-09-01T10:00:00Z"},
            "committer": {"date": "2025-09-01T11:00:00Z"},
            "message": "Revert \"Y\"\n\nThis reverts commit 0123456789abcdef."}});
        let Page::Commits(c) = parse_page(Stream::Commits, vec![v], "a/b").unwrap() else {
            panic!()
        };
        assert_eq!(c[0].message, "Revert \"Y\"");
        assert_eq!(c[0].reverts.shas, vec!["0123456789abcdef".to_string()]);
        assert_eq!(c[0].author_login.as_deref(), Some("dev-alice"));
    }

    #[test]
    fn detects_streams_and_repos_from_content() {
        let pr = json!({"number": 1, "head": {}, "base": {"repo": {"full_name": "acme/api"}}});
        let commit = json!({"sha": "a", "commit": {}, "url": "https://api.github.com/repos/acme/web/commits/a"});
        let ev = json!({"id": 1, "event": "closed", "url": "https://x/api/v3/repos/o/r/issues/events/1"});
        assert_eq!(
            detect_stream(std::slice::from_ref(&pr)),
            Some(Stream::Pulls)
        );
        assert_eq!(
            detect_stream(std::slice::from_ref(&commit)),
            Some(Stream::Commits)
        );
        assert_eq!(
            detect_stream(std::slice::from_ref(&ev)),
            Some(Stream::Events)
        );
        assert_eq!(detect_stream(&[json!({"a": 1})]), None);
        assert_eq!(detect_stream(&[]), None);
        assert_eq!(item_repo(&pr).as_deref(), Some("acme/api"));
        assert_eq!(item_repo(&commit).as_deref(), Some("acme/web"));
        assert_eq!(item_repo(&ev).as_deref(), Some("o/r"));
    }

    #[test]
    fn digest_orders_event_ids_numerically() {
        let page = Page::Events(
            [9, 10, 100]
                .iter()
                .map(|&id| IssueEventRow {
                    id,
                    event: "closed".into(),
                    issue_number: None,
                    is_pull_request: false,
                    actor: None,
                    created_at: "2025-01-01T00:00:00Z".into(),
                    commit_id: None,
                })
                .collect(),
        );
        let d = page.digest();
        assert_eq!(d.min_key, Some(event_key(9)));
        assert_eq!(d.max_key, Some(event_key(100)));
    }
}
