//! Who and which session a call belongs to.

/// The inputs of the session-id rule, gathered by a source.
#[derive(Debug, Default, Clone)]
pub struct SessionInputs {
    /// Candidates in rule order: `session_id`, `user_id`, `developer_session`,
    /// `user_api_key_end_user_id`, `requester_metadata.user_id` (missing ones as None).
    pub candidates: Vec<Option<String>>,
    /// Values searched for the `session[_-]<id>` pattern but never taken as is (LiteLLM `end_user`,
    /// which names a person).
    pub search_only: Vec<Option<String>>,
    /// Used when nothing else yields a session (LiteLLM `trace_id`).
    pub fallback: Option<String>,
}

/// Session-id rule.
///
/// Take the non-empty candidates in order; the first that contains `session[_-]<id>` yields `<id>`
/// (`_session_alpha` → `alpha`, `session_alpha_beta` → `alpha_beta`, Claude Code's
/// `user_<hash>_account_<uuid>_session_<uuid>` → the session uuid). The search-only values are
/// searched after the candidates. Without a match, the first candidate as is; without a
/// candidate, the fallback (with the same pattern applied: LiteLLM puts a client's
/// `session_<id>` into `trace_id`).
pub fn session_id(inputs: &SessionInputs) -> Option<String> {
    let candidates: Vec<&str> = non_empty(&inputs.candidates).collect();
    let searched = candidates
        .iter()
        .copied()
        .chain(non_empty(&inputs.search_only));
    for c in searched {
        if let Some(id) = session_pattern(c) {
            return Some(id.to_string());
        }
    }
    candidates.first().map(|s| s.to_string()).or_else(|| {
        let fb = inputs
            .fallback
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())?;
        Some(session_pattern(fb).unwrap_or(fb).to_string())
    })
}

fn non_empty(v: &[Option<String>]) -> impl Iterator<Item = &str> {
    v.iter()
        .filter_map(|s| s.as_deref().map(str::trim).filter(|s| !s.is_empty()))
}

/// Finds `session_<id>` / `session-<id>` (case-insensitive `session`) and returns the non-empty
/// `<id>`: everything after the separator.
fn session_pattern(s: &str) -> Option<&str> {
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find("session") {
        let start = from + pos + "session".len();
        if let Some(sep) = lower.as_bytes().get(start) {
            if (*sep == b'_' || *sep == b'-') && start + 1 < s.len() {
                return Some(&s[start + 1..]);
            }
        }
        from = start;
    }
    None
}

/// Developer-id rule: the first non-empty value among, in order,
/// `developer_id | dev_id | user | user_id` (skipping values that contain "session", which are
/// session handles rather than people), then `requester_metadata.developer_id | user`, then
/// LiteLLM's `user_api_key_user_id`, `end_user`, the key alias.
///
/// The caller passes the values in that order; `session_guarded` is how many of the first values
/// the "contains session" guard applies to (the four direct keys).
pub fn developer_id(values: &[Option<String>], session_guarded: usize) -> Option<String> {
    values.iter().enumerate().find_map(|(i, v)| {
        let v = v.as_deref()?.trim();
        if v.is_empty() || (i < session_guarded && v.to_ascii_lowercase().contains("session")) {
            return None;
        }
        Some(v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    fn sess(
        candidates: &[Option<String>],
        search: &[Option<String>],
        fb: Option<&str>,
    ) -> Option<String> {
        session_id(&SessionInputs {
            candidates: candidates.to_vec(),
            search_only: search.to_vec(),
            fallback: fb.map(String::from),
        })
    }

    #[test]
    fn seed_examples() {
        assert_eq!(sess(&[s("_session_alpha")], &[], None), s("alpha"));
        assert_eq!(sess(&[s("session_alpha_beta")], &[], None), s("alpha_beta"));
        assert_eq!(sess(&[s("session-xyz")], &[], None), s("xyz"));
    }

    #[test]
    fn claude_code_user_id_yields_session_uuid() {
        let uid = "user_3f2a9b_account_11111111-2222-3333-4444-555555555555_session_aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
        assert_eq!(
            sess(&[None, s(uid)], &[], None),
            s("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
        );
    }

    #[test]
    fn order_and_empties() {
        // Empty session_id is skipped; the first *matching* candidate wins over an earlier plain one.
        assert_eq!(
            sess(&[s(""), s("bob"), s("x_session_42")], &[], None),
            s("42")
        );
        // No match: the first non-empty candidate as is.
        assert_eq!(
            sess(&[s("  "), s("plain-1"), s("plain-2")], &[], None),
            s("plain-1")
        );
        // "session" with nothing after the separator is not a match.
        assert_eq!(sess(&[s("my_session_")], &[], None), s("my_session_"));
        assert_eq!(sess(&[s("sessionless")], &[], None), s("sessionless"));
    }

    #[test]
    fn end_user_is_searched_never_taken() {
        assert_eq!(
            sess(&[], &[s("alice@example.com")], Some("trace-1")),
            s("trace-1")
        );
        assert_eq!(sess(&[], &[s("u_session_77")], Some("trace-1")), s("77"));
        assert_eq!(sess(&[s("")], &[s("alice")], None), None);
        assert_eq!(sess(&[], &[], Some("session_abc123")), s("abc123"));
    }

    #[test]
    fn developer_rule_order_and_session_guard() {
        let vals = [None, None, s("session_abc"), s("dev-bob"), s("dev-rm")];
        assert_eq!(developer_id(&vals, 4), s("dev-bob"));
        let vals = [s("dev-alice"), s("x")];
        assert_eq!(developer_id(&vals, 4), s("dev-alice"));
        // Past the direct keys the guard no longer applies (e.g. a key alias).
        let vals = [s("session_1"), None, None, None, s("team-session-key")];
        assert_eq!(developer_id(&vals, 4), s("team-session-key"));
        assert_eq!(developer_id(&[s(" "), None], 4), None);
    }
}
