//! GitHub data in a SQLite file and in a PostgreSQL store side by side: the binary run on
//! either, their `status` and every row of their `gh_*` tables as comparable text, exports in
//! the shape `gh api --paginate` prints, and calls and GitHub data whose ids, logins and e-mails
//! differ only in case.

use super::{base_time, prodlens, sha};
use chrono::Duration;
use postgres::types::Type;
use prod_lens::github::sample::{commit_json, pull_json, PullSpec};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Every GitHub table, compared row by row.
pub const TABLES: [&str; 7] = [
    "gh_pull_requests",
    "gh_commits",
    "gh_issue_events",
    "gh_rework",
    "gh_http_cache",
    "gh_sync_state",
    "gh_repos",
];

/// Columns holding the time of the write (or a reset time the fake server derives from it).
pub const WRITE_TIMES: [&str; 3] = ["fetched_at", "last_sync", "rate_limit_reset"];

/// The URL of database `db` of the test server on `port` (with a password that must never show).
pub fn url(port: u16, db: &str) -> String {
    format!("postgres://postgres:hunter2secret@127.0.0.1:{port}/{db}?sslmode=disable")
}

/// Runs the binary on `db` (a file or a URL), asserts success and parses its JSON output.
pub fn run(db: &str, args: &[&str]) -> Value {
    let out = prodlens(Path::new(db))
        .env("GITHUB_TOKEN", "tkn-pg")
        .args(args)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{args:?} on {db}: {stderr}");
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// `status --json` without what differs by nature between stores: name, run ids and times.
pub fn status(db: &str) -> Value {
    let mut v = run(db, &["status", "--json"]);
    let o = v.as_object_mut().unwrap();
    o.remove("database");
    o.remove("schema_version");
    for r in o["runs"].as_array_mut().unwrap() {
        let r = r.as_object_mut().unwrap();
        for k in ["id", "started_at", "finished_at"] {
            r.remove(k);
        }
    }
    for g in o["github"].as_array_mut().unwrap() {
        assert!(g["last_sync"].is_string(), "{g}");
        g.as_object_mut().unwrap().remove("last_sync");
    }
    v
}

/// A value as text: write times masked, the fake server's address replaced.
pub fn norm(col: &str, v: Option<String>, api: &str) -> String {
    match v {
        None => "NULL".into(),
        Some(_) if WRITE_TIMES.contains(&col) => "<time>".into(),
        Some(s) if api.is_empty() => s,
        Some(s) => s.replace(api, "<api>"),
    }
}

/// Every row of every GitHub table of a SQLite file, sorted, with the column names.
pub fn sqlite_rows(db: &str, api: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for t in TABLES {
        let mut stmt = c.prepare(&format!("SELECT * FROM {t}")).unwrap();
        let cols: Vec<String> = stmt.column_names().map(str::to_string).collect();
        let rows = stmt
            .query_map([], |r| {
                use rusqlite::types::Value as V;
                let vals: Vec<String> = (0..cols.len())
                    .map(|i| {
                        let v = match r.get::<_, V>(i).unwrap() {
                            V::Null => None,
                            V::Integer(n) => Some(n.to_string()),
                            V::Real(f) => Some(format!("{f:?}")),
                            V::Text(s) => Some(s),
                            V::Blob(b) => Some(format!("{b:?}")),
                        };
                        format!("{}={}", cols[i], norm(&cols[i], v, api))
                    })
                    .collect();
                Ok(format!("{t}: {}", vals.join("|")))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out.sort();
    out
}

/// The same of a PostgreSQL store (booleans as SQLite's 0/1).
pub fn pg_rows(db: &str, api: &str) -> Vec<String> {
    let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
    let mut out = Vec::new();
    for t in TABLES {
        for r in c.query(&format!("SELECT * FROM {t}"), &[]).unwrap() {
            let vals: Vec<String> = r
                .columns()
                .iter()
                .enumerate()
                .map(|(i, col)| {
                    let v = match *col.type_() {
                        Type::BOOL => r.get::<_, Option<bool>>(i).map(|b| (b as i64).to_string()),
                        Type::INT8 => r.get::<_, Option<i64>>(i).map(|n| n.to_string()),
                        Type::FLOAT8 => r.get::<_, Option<f64>>(i).map(|f| format!("{f:?}")),
                        _ => r.get::<_, Option<String>>(i),
                    };
                    format!("{}={}", col.name(), norm(col.name(), v, api))
                })
                .collect();
            out.push(format!("{t}: {}", vals.join("|")));
        }
    }
    out.sort();
    out
}

/// Writes `items` as `gh api --paginate` prints them (arrays of up to 100, concatenated).
pub fn write_export(path: &Path, items: &[Value]) {
    let mut text = String::new();
    for chunk in items.chunks(100) {
        text += &serde_json::to_string(chunk).unwrap();
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Every object of a `gh api --paginate` file.
pub fn read_export(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::Deserializer::from_str(&text)
        .into_iter::<Vec<Value>>()
        .flat_map(Result::unwrap)
        .collect()
}

/// A LiteLLM logger line of one call by `developer`.
pub fn call(n: usize, developer: &str) -> String {
    serde_json::json!({
        "id": format!("chatcmpl-{n}"), "litellm_call_id": format!("who-{n}"),
        "startTime": 1_758_700_800.0 + n as f64, "endTime": 1_758_700_801.0 + n as f64,
        "status": "success", "call_type": "completion", "model": "gpt-4o",
        "prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
        "metadata": {"requester_metadata": {"repo": "acme/api"},
                     "user_api_key_user_id": developer}
    })
    .to_string()
}

/// Commits and PRs whose logins and e-mails differ only in case, ASCII or not.
pub fn tricky_github(dir: &Path) -> PathBuf {
    let commit = |j: i64, login: &str, email: &str| {
        let mut c = commit_json(
            "acme/api",
            &sha("tricky", j),
            login,
            base_time() + Duration::minutes(j),
            "Tricky",
        );
        c["commit"]["author"]["email"] = Value::String(email.into());
        c
    };
    let commits = vec![
        commit(1, "Dev-Zed", "zed@example.com"),
        commit(2, "dev-zed", "zed@example.com"),
        commit(3, "dev-arger", "ÄRGER@example.com"),
        commit(4, "dev-aerger", "äRGER@example.com"),
        commit(5, "dev-aerger", "äRGER@example.com"),
        commit(6, "dev-ola", "OLA@Example.com"),
        commit(7, "dev-ola2", "ola@example.com"),
        commit(8, "Dev-Yan", "yan1@corp.example"),
        commit(9, "dev-yan", "yan2@corp.example"),
        commit(10, "dev-yan", "yan2@corp.example"),
        commit(11, "Dev-Wu", "wu1@corp.example"),
        commit(12, "dev-wu", "wu2@corp.example"),
        commit(13, "DEV-WU", "wu3@corp.example"),
        commit(14, "Dev-Vic", "vic1@corp.example"),
        commit(15, "DEV-VIC", "vic2@corp.example"),
        commit(16, "dev-tom", "tom1@corp.example"),
        commit(17, "Dev-Tom", "tom2@corp.example"),
        commit(18, "dev-sam", "sam1@corp.example"),
        commit(19, "Dev-Sam", "sam2@corp.example"),
        commit(20, "dev-rex", "rex1@corp.example"),
        commit(21, "Dev-Rex", "rex2@corp.example"),
        commit(22, "dev-pia", "pia1@corp.example"),
        commit(23, "DEV-PIA", "pia2@corp.example"),
    ];
    let pull = |n: i64, author: &str| {
        pull_json(
            "acme/api",
            &PullSpec {
                number: 9000 + n,
                title: format!("Tricky {n}"),
                body: String::new(),
                author: author.into(),
                created_at: base_time(),
                updated_at: base_time(),
                closed_at: None,
                merged_at: None,
                merge_commit_sha: None,
            },
        )
    };
    let out = dir.join("tricky");
    write_export(&out.join("commits.json"), &commits);
    write_export(
        &out.join("pulls.json"),
        &[
            pull(1, "DEV-ZED"),
            pull(2, "Émile-x"),
            pull(3, "dev-quinn"),
            pull(4, "DEV-YAN"),
            pull(5, "dev-Wu"),
        ],
    );
    out
}
