//! Offline import of what `gh api --paginate repos/O/R/{pulls?state=all,commits,issues/events}`
//! prints: JSON arrays, several pages concatenated (`[...][...]`), in `.json` or `.json.gz` files.
//! Each array's kind is told from its content, its repo from the API URLs inside it (or the only
//! `--repo`), and its rows are stored through the same code path as a live sync.

use super::model::{self, Stream};
use super::sync::{self, RepoSummary, JOB};
use crate::error::{Error, Result};
use crate::slug::RepoSlug;
use crate::store::prelude::*;
use flate2::read::MultiGzDecoder;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// Every `.json` / `.json.gz` file under the given files and folders, sorted per folder.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let rd = std::fs::read_dir(dir).map_err(|source| Error::Input {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out)?;
            } else {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.ends_with(".json") || name.ends_with(".json.gz") {
                    out.push(p);
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(Error::Input {
                path: p.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
            });
        }
    }
    Ok(out)
}

fn open(path: &Path) -> Result<Box<dyn Read>> {
    let mut f = std::fs::File::open(path).map_err(|source| Error::Input {
        path: path.to_path_buf(),
        source,
    })?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(|source| Error::Input {
        path: path.to_path_buf(),
        source,
    })?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let reader = BufReader::new(head.chain(f));
    Ok(if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::new(MultiGzDecoder::new(reader)))
    } else {
        Box::new(reader)
    })
}

fn route(items: &[Value], repos: &[RepoSlug], file: &str) -> Result<RepoSlug> {
    let named = items.iter().find_map(model::item_repo);
    let bad = |reason: String| Error::MalformedPage {
        repo: named.clone().unwrap_or_else(|| "?".into()),
        url: file.into(),
        reason,
    };
    match named.clone() {
        Some(n) => repos
            .iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(&n))
            .cloned()
            .ok_or_else(|| bad(format!("the data is for {n}, which is not among --repo"))),
        None if repos.len() == 1 => Ok(repos[0].clone()),
        None => Err(bad(
            "the data names no repo; import it with a single --repo".into(),
        )),
    }
}

/// Imports the files into the store; one summary (and etl_runs row) per repo touched.
pub fn import(
    store: &mut dyn GithubStore,
    repos: &[RepoSlug],
    files: &[PathBuf],
) -> Result<Vec<RepoSummary>> {
    let mut summaries: BTreeMap<RepoSlug, RepoSummary> = BTreeMap::new();
    let mut runs: BTreeMap<RepoSlug, i64> = BTreeMap::new();
    let mut failure: Option<Error> = None;
    'files: for path in files {
        let file = path.display().to_string();
        let stream = serde_json::Deserializer::from_reader(open(path)?).into_iter::<Value>();
        for (i, value) in stream.enumerate() {
            let malformed = |reason: String| Error::MalformedPage {
                repo: repos.first().map(|r| r.to_string()).unwrap_or_default(),
                url: format!("{file} (array {})", i + 1),
                reason,
            };
            let items = match value {
                Ok(Value::Array(items)) => items,
                Ok(_) => {
                    failure = Some(malformed(
                        "expected JSON arrays as `gh api --paginate` prints".into(),
                    ));
                    break 'files;
                }
                Err(e) => {
                    failure = Some(malformed(format!("invalid JSON: {e}")));
                    break 'files;
                }
            };
            if items.is_empty() {
                continue;
            }
            let Some(kind) = model::detect_stream(&items) else {
                failure = Some(malformed(
                    "not a list of pull requests, commits or issue events".into(),
                ));
                break 'files;
            };
            let repo = match route(&items, repos, &file) {
                Ok(r) => r,
                Err(e) => {
                    failure = Some(e);
                    break 'files;
                }
            };
            let page = match model::parse_page(kind, items, repo.as_str()) {
                Ok(p) => p,
                Err(reason) => {
                    failure = Some(malformed(reason));
                    break 'files;
                }
            };
            if !runs.contains_key(&repo) {
                runs.insert(
                    repo.clone(),
                    store.start_run(JOB, &format!("{repo} from {file}"))?,
                );
            }
            let counts = store.gh_apply_page(repo.as_str(), &page, None)?;
            summaries
                .entry(repo.clone())
                .or_insert_with(|| RepoSummary::new(repo.as_str()))
                .add_page(kind_of(&page), page.len(), counts);
        }
    }
    let mut out = Vec::new();
    for (repo, mut s) in summaries {
        let run = runs.get(&repo).copied().unwrap_or_default();
        s.rate_limit_remaining = store.gh_rate_limit_remaining(repo.as_str())?.unwrap_or(-1);
        let outcome = match &failure {
            Some(e) => Err(Error::InvalidArgument(e.to_string())),
            None => Ok(()),
        };
        sync::finish(store, run, &mut s, &outcome)?;
        out.push(s);
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn kind_of(page: &model::Page) -> Stream {
    page.stream()
}
