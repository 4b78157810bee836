//! Field groups that several sources read the same way: acceptance signals, repo, identity, cost.

use super::scope::Scope;
use crate::normalise::{self, SessionInputs};
use crate::slug::RepoSlug;

/// Keys of the acceptance signal, in precedence order.
pub const ACCEPTED_KEYS: &[&str] = &[
    "prod_lens.accepted",
    "accepted",
    "accepted_flag",
    "analysis.accepted",
];
/// Keys of the diff ratio.
pub const DIFF_RATIO_KEYS: &[&str] = &["prod_lens.diff_ratio", "diff_ratio", "analysis.diff_ratio"];
/// Keys of the accepted line count.
pub const ACCEPTED_LINES_KEYS: &[&str] = &[
    "prod_lens.accepted_lines",
    "accepted_lines",
    "analysis.accepted_lines",
];
/// Keys naming the repository.
pub const REPO_KEYS: &[&str] = &["repo", "repository", "repo_slug"];
/// Keys of a reported cost in US dollars.
pub const COST_KEYS: &[&str] = &["response_cost", "cost_usd", "spend", "cost"];

/// Acceptance signal, diff ratio and accepted lines.
pub struct Acceptance {
    /// Accepted or not; None when the record carries no signal.
    pub accepted: Option<bool>,
    /// Diff ratio in [0, 1].
    pub diff_ratio: Option<f64>,
    /// Accepted lines.
    pub accepted_lines: Option<i64>,
}

/// Reads the acceptance fields; a diff ratio outside [0, 1] is rejected.
pub fn acceptance(scope: &Scope) -> Result<Acceptance, String> {
    let diff_ratio = scope.number(DIFF_RATIO_KEYS)?;
    if let Some(d) = diff_ratio {
        if d > 1.0 {
            return Err(format!("diff_ratio {d} is outside [0, 1]"));
        }
    }
    Ok(Acceptance {
        accepted: scope.boolean(ACCEPTED_KEYS)?,
        diff_ratio,
        accepted_lines: scope.count(ACCEPTED_LINES_KEYS)?,
    })
}

/// Reads and validates the record's repository; an invalid slug dead-letters the line.
pub fn repo(scope: &Scope) -> Result<Option<String>, String> {
    match scope.string(REPO_KEYS)? {
        Some(raw) => RepoSlug::parse(&raw)
            .map(|s| Some(s.as_str().to_string()))
            .map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

/// Session candidates in rule order from a scope (`requester_metadata.user_id` included).
pub fn session_candidates(scope: &Scope) -> Vec<Option<String>> {
    [
        "session_id",
        "user_id",
        "developer_session",
        "user_api_key_end_user_id",
        "requester_metadata.user_id",
    ]
    .iter()
    .map(|k| scope.lenient_string(&[k]))
    .collect()
}

/// Keys naming the git branch a call was made on, in rule order.
pub const BRANCH_KEYS: [&str; 5] = [
    "git_branch",
    "branch",
    "vcs.ref.head.name",
    "requester_metadata.git_branch",
    "requester_metadata.branch",
];

/// The git branch of a call: the first of [`BRANCH_KEYS`] present, else a request tag
/// `branch:<name>` (LiteLLM `request_tags` / `tags`). Blank names count as absent.
pub fn branch(scope: &Scope) -> Option<String> {
    if let Some(b) = scope.lenient_string(&BRANCH_KEYS) {
        return Some(b);
    }
    let (tags, _) = scope.value(&["request_tags", "tags"])?;
    let list: Vec<&str> = match tags {
        serde_json::Value::Array(a) => a.iter().filter_map(|t| t.as_str()).collect(),
        // Spend-log rows may carry the tags as a JSON string.
        serde_json::Value::String(s) => {
            return serde_json::from_str::<Vec<String>>(s)
                .ok()?
                .iter()
                .find_map(|t| branch_tag(t));
        }
        _ => return None,
    };
    list.into_iter().find_map(branch_tag)
}

fn branch_tag(tag: &str) -> Option<String> {
    let (k, v) = tag.split_once(':')?;
    let v = v.trim();
    (k.trim().eq_ignore_ascii_case("branch") && !v.is_empty()).then(|| v.to_string())
}

/// Developer id by the developer rule, read from a scope.
pub fn developer(scope: &Scope) -> Option<String> {
    let keys = [
        "developer_id",
        "dev_id",
        "user",
        "user_id",
        "requester_metadata.developer_id",
        "requester_metadata.user",
        "user_api_key_user_id",
        "end_user",
        "user_api_key_alias",
    ];
    let vals: Vec<Option<String>> = keys.iter().map(|k| scope.lenient_string(&[k])).collect();
    normalise::developer_id(&vals, 4)
}

/// Session id by the session rule from a scope, with optional search-only values and fallback.
pub fn session(
    scope: &Scope,
    search_only: Vec<Option<String>>,
    fallback: Option<String>,
) -> Option<String> {
    normalise::session_id(&SessionInputs {
        candidates: session_candidates(scope),
        search_only,
        fallback,
    })
}

/// Status of a LiteLLM call: the HTTP code from `error_information.error_code` (else
/// `fallback_code`), error when that code is ≥ 400 or the call failed, and the error class from
/// `error_class` (else `http_<code>`, else `failure`). Returns `(status_code, is_error, class)`.
pub fn litellm_status(
    err: &Scope,
    fallback_code: Option<i64>,
    failure: bool,
) -> (Option<i64>, bool, Option<String>) {
    let code = err
        .lenient_string(&["error_code"])
        .and_then(|c| c.parse::<i64>().ok())
        .filter(|c| (100..=599).contains(c));
    let (code, is_error) = normalise::status(code.or(fallback_code), failure);
    let class = is_error.then(|| {
        err.lenient_string(&["error_class"])
            .or_else(|| code.map(|c| format!("http_{c}")))
            .unwrap_or_else(|| "failure".into())
    });
    (code, is_error, class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::fields::Obj;

    fn one(json: &str) -> Option<String> {
        let o: Obj = serde_json::from_str(json).unwrap();
        let objs = [&o];
        branch(&Scope::new(&objs))
    }

    #[test]
    fn branch_from_keys_then_tags() {
        assert_eq!(
            one(r#"{"request_tags": ["prod", "branch:feat/x"]}"#).as_deref(),
            Some("feat/x")
        );
        assert_eq!(
            one(r#"{"git_branch": "fix-1", "tags": ["branch:other"]}"#).as_deref(),
            Some("fix-1")
        );
        assert_eq!(
            one(r#"{"vcs.ref.head.name": "rel-2"}"#).as_deref(),
            Some("rel-2")
        );
        assert_eq!(
            one(r#"{"request_tags": "[\"Branch: hot \"]"}"#).as_deref(),
            Some("hot")
        );
        assert_eq!(one(r#"{"branch": "  ", "request_tags": ["team:a"]}"#), None);
    }
}
