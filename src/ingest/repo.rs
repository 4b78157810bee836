//! The repository of a call made from a known working folder (Claude Code's `cwd`), resolved at
//! the I/O edge: a `--repo-map` file (path prefix → owner/name), else the GitHub remote in
//! `<cwd>/.git/config` when that folder exists on this machine. (`--repo` comes before both and
//! is applied by the pipeline.) Parsing of both files is pure and unit-tested.

use crate::slug::RepoSlug;
use foldhash::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

/// Resolves working folders to repositories, remembering each folder's answer.
#[derive(Debug, Default)]
pub struct RepoResolver {
    map: Vec<(PathBuf, RepoSlug)>,
    read_git_config: bool,
    cache: Mutex<HashMap<String, Option<String>>>,
}

impl RepoResolver {
    /// A resolver with a repo map (possibly empty) that also reads `.git/config` files.
    pub fn new(map: Vec<(PathBuf, RepoSlug)>) -> Self {
        RepoResolver {
            map,
            read_git_config: true,
            cache: Mutex::new(HashMap::default()),
        }
    }

    /// The repository of `cwd`, or None.
    pub fn resolve(&self, cwd: &str) -> Option<String> {
        if let Ok(cache) = self.cache.lock() {
            if let Some(hit) = cache.get(cwd) {
                return hit.clone();
            }
        }
        let found = map_lookup(&self.map, Path::new(cwd))
            .map(|s| s.as_str().to_string())
            .or_else(|| {
                self.read_git_config
                    .then(|| git_config_remote(Path::new(cwd)))
                    .flatten()
            });
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(cwd.to_string(), found.clone());
        }
        found
    }
}

/// Reads `<dir>/.git/config` (only when `.git` is a folder) and returns its GitHub remote.
fn git_config_remote(dir: &Path) -> Option<String> {
    let git = dir.join(".git");
    if !git.is_dir() {
        return None;
    }
    let text = std::fs::read_to_string(git.join("config")).ok()?;
    github_remote(&text).map(|s| s.as_str().to_string())
}

/// Parses a repo map: one `PATH_PREFIX OWNER/NAME` per line (the slug is the last
/// whitespace-separated word, so prefixes may contain spaces); blank lines and `#` comments are
/// ignored. Errors name the line.
pub fn parse_repo_map(text: &str) -> Result<Vec<(PathBuf, RepoSlug)>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (prefix, slug) = line
            .rsplit_once(char::is_whitespace)
            .ok_or_else(|| format!("line {}: expected `PATH_PREFIX OWNER/NAME`", i + 1))?;
        let slug = RepoSlug::parse(slug).map_err(|e| format!("line {}: {e}", i + 1))?;
        out.push((PathBuf::from(prefix.trim()), slug));
    }
    Ok(out)
}

/// The entry whose prefix is the longest whole-component prefix of `path`.
pub fn map_lookup<'a>(map: &'a [(PathBuf, RepoSlug)], path: &Path) -> Option<&'a RepoSlug> {
    map.iter()
        .filter(|(prefix, _)| path.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.components().filter(is_named).count())
        .map(|(_, slug)| slug)
}

fn is_named(c: &Component<'_>) -> bool {
    matches!(c, Component::Normal(_))
}

/// The GitHub `owner/name` of a git config's `origin` remote, else of its first GitHub remote.
/// Understands `https://github.com/o/n(.git)`, `git@github.com:o/n(.git)` and
/// `ssh://git@github.com/o/n(.git)`.
pub fn github_remote(config: &str) -> Option<RepoSlug> {
    let mut section = String::new();
    let mut found: Vec<(bool, RepoSlug)> = Vec::new();
    for raw in config.lines() {
        let line = raw.trim();
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        if !section.starts_with("[remote ") {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() != "url" {
            continue;
        }
        if let Some(slug) = github_slug(value.trim()) {
            found.push((section == "[remote \"origin\"]", slug));
        }
    }
    let origin = found.iter().position(|(o, _)| *o).unwrap_or(0);
    (!found.is_empty()).then(|| found.swap_remove(origin).1)
}

fn github_slug(url: &str) -> Option<RepoSlug> {
    let rest = url
        .strip_prefix("https://github.com/")
        .or_else(|| url.strip_prefix("http://github.com/"))
        .or_else(|| url.strip_prefix("git@github.com:"))
        .or_else(|| url.strip_prefix("ssh://git@github.com/"))
        .or_else(|| url.strip_prefix("git://github.com/"))?;
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    RepoSlug::parse(rest).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_map_lines_and_longest_prefix() {
        let map = parse_repo_map(
            "# team folders\n/home/dev/work acme/monorepo\n\n/home/dev/work/web app acme/web\n",
        )
        .unwrap();
        assert_eq!(map.len(), 2);
        let find = |p: &str| map_lookup(&map, Path::new(p)).map(|s| s.as_str().to_string());
        assert_eq!(
            find("/home/dev/work/web app/src").as_deref(),
            Some("acme/web")
        );
        assert_eq!(find("/home/dev/work/api").as_deref(), Some("acme/monorepo"));
        assert_eq!(find("/home/dev/workshop"), None, "whole components only");
        assert!(parse_repo_map("/x not-a-slug").is_err());
        assert!(parse_repo_map("lonely").is_err());
    }

    #[test]
    fn github_remote_prefers_origin() {
        let cfg = "[core]\n\tbare = false\n[remote \"upstream\"]\n\turl = https://github.com/up/stream.git\n\
                   [remote \"origin\"]\n\turl = git@github.com:acme/api.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n";
        assert_eq!(github_remote(cfg).unwrap().as_str(), "acme/api");
        let only = "[remote \"fork\"]\n\turl = ssh://git@github.com/me/tool\n";
        assert_eq!(github_remote(only).unwrap().as_str(), "me/tool");
        let gitlab = "[remote \"origin\"]\n\turl = https://gitlab.com/a/b.git\n";
        assert_eq!(github_remote(gitlab), None);
    }

    #[test]
    fn resolver_reads_git_config_and_caches() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("proj");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::write(
            repo.join(".git/config"),
            "[remote \"origin\"]\n\turl = https://github.com/acme/proj.git\n",
        )
        .unwrap();
        let r = RepoResolver::new(vec![]);
        let cwd = repo.to_string_lossy().to_string();
        assert_eq!(r.resolve(&cwd).as_deref(), Some("acme/proj"));
        std::fs::remove_dir_all(repo.join(".git")).unwrap();
        assert_eq!(r.resolve(&cwd).as_deref(), Some("acme/proj"), "cached");
        assert_eq!(r.resolve("/no/such/folder"), None);
    }
}
