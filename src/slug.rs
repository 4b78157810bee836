//! Repository slug validation: the only way a repo name becomes a [`RepoSlug`].
//!
//! Slugs end up in SQL parameters and in file paths (the Parquet lake), so they are validated once
//! here and carried as a type afterwards: `owner/name`, each part 1–100 characters of
//! `[A-Za-z0-9._-]`, neither part `.` or `..`, no leading `/` or `\`, no other separator.

use crate::error::Error;
use std::fmt;

/// A validated `owner/name` repository slug.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct RepoSlug(String);

/// Longest accepted owner or name part (GitHub allows 39 / 100).
const MAX_PART: usize = 100;

impl RepoSlug {
    /// Validates `raw` (surrounding whitespace is trimmed) and returns the slug.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = raw.trim();
        let invalid = || Error::InvalidSlug(raw.to_string());
        let (owner, name) = s.split_once('/').ok_or_else(invalid)?;
        if !valid_part(owner) || !valid_part(name) {
            return Err(invalid());
        }
        Ok(RepoSlug(s.to_string()))
    }

    /// The slug as `owner/name`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The owner part.
    pub fn owner(&self) -> &str {
        self.0.split_once('/').map(|(o, _)| o).unwrap_or(&self.0)
    }

    /// The repository name part.
    pub fn name(&self) -> &str {
        self.0.split_once('/').map(|(_, n)| n).unwrap_or("")
    }

    /// A single path component for this slug (`owner__name`), safe to join under a directory.
    pub fn path_component(&self) -> String {
        format!("{}__{}", self.owner(), self.name())
    }
}

fn valid_part(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= MAX_PART
        && p != "."
        && p != ".."
        && !p.contains("..")
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl fmt::Display for RepoSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RepoSlug {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        RepoSlug::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_slugs() {
        for ok in ["acme/api", "a-b/c_d.e", "Org123/repo.js", " acme/web "] {
            assert!(RepoSlug::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(RepoSlug::parse(" acme/web ").unwrap().as_str(), "acme/web");
    }

    #[test]
    fn rejects_traversal_and_separators() {
        for bad in [
            "../../etc/passwd",
            "/abs",
            "/abs/x",
            "a/b/c",
            "a\\b",
            "\\a/b",
            "..",
            "a/..",
            "../b",
            "a/.",
            "a..b/c",
            "",
            "acme",
            "acme/",
            "/acme",
            "ac me/api",
            "acme/api\0",
            "acme/ap%2f",
            "acme/ápi",
        ] {
            let err = RepoSlug::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid repo slug"), "{bad:?} -> {err}");
        }
    }

    #[test]
    fn path_component_is_one_safe_component() {
        let s = RepoSlug::parse("acme/api").unwrap();
        assert_eq!(s.path_component(), "acme__api");
        assert_eq!(s.owner(), "acme");
        assert_eq!(s.name(), "api");
    }
}
