//! Privacy end to end on the demo store: with pseudonyms on, no developer id, e-mail, login or
//! name from the inputs appears in any output of `report` (every format), `prs`, `identities`,
//! `teams`, `demo` or `serve` (every page and API route); groups under the minimum size are
//! folded or hidden, and that is reported; teams come from a file, else from the calls' team ids.

mod common;
mod serve_support;

use common::{open_db, run_ok, Work};
use serde_json::Value;
use serve_support::{Server, DEMO_SINCE, DEMO_UNTIL};
use std::path::{Path, PathBuf};

/// Every developer id, key alias, login, author name and e-mail the store got from its inputs.
fn raw_ids(db: &Path) -> Vec<String> {
    let c = open_db(db);
    let mut ids = Vec::new();
    for q in [
        "SELECT DISTINCT developer_id FROM traces",
        "SELECT DISTINCT key_alias FROM traces",
        "SELECT DISTINCT author FROM gh_pull_requests",
        "SELECT DISTINCT author_login FROM gh_commits",
        "SELECT DISTINCT author_name FROM gh_commits",
        "SELECT DISTINCT author_email FROM gh_commits",
        "SELECT developer_id FROM identity_map",
        "SELECT github_login FROM identity_map",
    ] {
        let mut stmt = c.prepare(q).unwrap();
        let rows = stmt
            .query_map([], |r| r.get::<_, Option<String>>(0))
            .unwrap();
        ids.extend(rows.filter_map(|r| r.unwrap()).filter(|s| !s.is_empty()));
    }
    ids.sort();
    ids.dedup();
    assert!(ids.len() >= 30, "the demo names its developers: {ids:?}");
    ids
}

/// Where `id` occurs in `text` as a whole token (ASCII case ignored): not inside a longer word,
/// so `eli` does not match `deliver`.
fn occurs(text: &str, id: &str) -> bool {
    let (t, i) = (text.to_ascii_lowercase(), id.to_ascii_lowercase());
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    t.match_indices(&i).any(|(at, _)| {
        !word(t[..at].chars().next_back()) && !word(t[at + i.len()..].chars().next())
    })
}

/// Asserts that no raw id occurs in `text` (named `what` in the failure).
fn assert_clean(what: &str, text: &str, ids: &[String]) {
    let found: Vec<&String> = ids.iter().filter(|id| occurs(text, id)).collect();
    let at = found
        .first()
        .and_then(|id| text.to_ascii_lowercase().find(&id.to_ascii_lowercase()))
        .unwrap_or(0);
    let context: String = text[at.saturating_sub(200).min(text.len())..]
        .chars()
        .take(300)
        .collect();
    assert!(
        found.is_empty(),
        "{what} shows raw ids {found:?}: …{context}…"
    );
}

/// `prod-lens --db db <args>` output (stdout and stderr), exit 0 asserted.
fn run(w: &Work, db: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = run_ok(
        w.cmd()
            .arg("--db")
            .arg(db)
            .args(args)
            .envs(env.iter().copied()),
    );
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `prod-lens --db db <args>`: exit code and stderr.
fn refused(w: &Work, db: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = w.cmd().arg("--db").arg(db).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A demo made in `w` (`demo/cache.db`), with pseudonyms kept on when asked; returns the store
/// and what the demo printed.
fn demo(w: &Work, pseudonymize: bool) -> (PathBuf, String) {
    let mut cmd = w.cmd();
    cmd.args(["demo", "--dir", "demo"]);
    if pseudonymize {
        cmd.arg("--pseudonymize");
    }
    let out = run_ok(&mut cmd);
    let printed = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (w.path("demo/cache.db"), printed)
}

const WINDOW: [&str; 4] = ["--since", DEMO_SINCE, "--until", DEMO_UNTIL];

#[test]
fn pseudonyms_leave_no_raw_id_in_any_output() {
    let w = Work::new();
    let (db, printed) = demo(&w, true);
    let ids = raw_ids(&db);
    assert_clean("demo's output", &printed, &ids);
    let html = std::fs::read_to_string(w.path("demo/report.html")).unwrap();
    assert_clean("demo/report.html", &html, &ids);

    let mut outputs: Vec<(String, String)> = Vec::new();
    for format in ["json", "csv", "table", "md", "html"] {
        for extra in [
            &[][..],
            &["--show-developers"][..],
            &["--team", "platform"][..],
        ] {
            let mut args = vec!["report", "--format", format];
            args.extend(WINDOW);
            args.extend(extra);
            outputs.push((args.join(" "), run(&w, &db, &args, &[])));
        }
    }
    let file = w.path("report.md");
    run(
        &w,
        &db,
        &["report", "--output", file.to_str().unwrap()],
        &[],
    );
    outputs.push((
        "report --output".into(),
        std::fs::read_to_string(&file).unwrap(),
    ));
    for format in ["json", "csv", "table"] {
        let args = [
            "prs", "--format", format, "--since", DEMO_SINCE, "--until", DEMO_UNTIL,
        ];
        outputs.push((args.join(" "), run(&w, &db, &args, &[])));
        let args = [&args[..], &["--show-developers"]].concat();
        outputs.push((args.join(" "), run(&w, &db, &args, &[])));
    }
    for args in [
        &["identities", "--show-developers"][..],
        &["identities", "--show-developers", "--json"],
        &["teams"],
        &["teams", "--json"],
        &["privacy", "--json"],
        &["status"],
        &["status", "--json"],
    ] {
        outputs.push((args.join(" "), run(&w, &db, args, &[])));
    }
    for (what, text) in &outputs {
        assert_clean(what, text, &ids);
    }

    // The per-developer lines are there with --show-developers, under pseudonyms that
    // `--developer` accepts back.
    let shown: Value = serde_json::from_str(
        report_text(&w, &db, &["--format", "json", "--show-developers"]).trim(),
    )
    .unwrap();
    let devs = shown["metrics"]["acme/api"]["developers"]
        .as_array()
        .unwrap();
    assert_eq!(devs.len(), 8);
    let alias = devs[0]["developer"].as_str().unwrap().to_string();
    assert!(alias.starts_with("dev-") && alias.len() == 12, "{alias}");
    let one: Value = serde_json::from_str(
        run(
            &w,
            &db,
            &[
                &[
                    "report",
                    "--format",
                    "json",
                    "--show-developers",
                    "--developer",
                    &alias,
                ][..],
                &WINDOW,
            ]
            .concat(),
            &[],
        )
        .trim(),
    )
    .unwrap();
    assert_eq!(one["metadata"]["developer"], alias.as_str());
    assert_eq!(
        one["metrics"]["acme/api"]["velocity"]["requests"], devs[0]["requests"],
        "the pseudonym narrows to that developer's calls"
    );
    // A per-developer view is refused below the group size; an unknown pseudonym is named.
    let (code, err) = refused(
        &w,
        &db,
        &[&["report", "--developer", &alias][..], &WINDOW].concat(),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--show-developers"), "{err}");
    let (code, err) = refused(
        &w,
        &db,
        &["report", "--show-developers", "--developer", "dev-00000000"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("pseudonym"), "{err}");

    // The same pseudonyms with the same key; another key gives others.
    let again = report_text(&w, &db, &["--format", "json", "--show-developers"]);
    assert!(again.contains(&alias));
    let other_key = run(
        &w,
        &db,
        &[
            &["report", "--format", "json", "--show-developers"][..],
            &WINDOW,
        ]
        .concat(),
        &[("PRODLENS_PSEUDONYM_KEY", "another key of enough length")],
    );
    assert!(!other_key.contains(&alias));
    assert_clean("report under an environment key", &other_key, &ids);

    // Every page and API route of the dashboard, with and without per-developer views.
    for server_args in [&[][..], &["--show-developers"][..]] {
        let s = Server::start(&w, &db, server_args, &[]);
        let mut paths: Vec<String> = [
            "/",
            "/sessions",
            "/prs",
            "/api/status",
            "/api/report",
            "/api/daily",
            "/api/sessions",
            "/api/prs",
            "/?team=platform",
            "/api/report?team=platform",
            "/sessions?sort=cost&order=desc&per_page=200",
        ]
        .iter()
        .map(|p| p.to_string())
        .collect();
        paths.push(format!("/developers/{alias}"));
        paths.push(format!("/api/developers/{alias}"));
        paths.push(format!("/api/sessions?developer={alias}"));
        for p in &paths {
            let r = s.get(p);
            let allowed = if server_args.is_empty() && p.contains(&alias) {
                403
            } else {
                200
            };
            assert_eq!(r.status, allowed, "{p}: {}", r.body);
            assert_clean(&format!("serve {server_args:?} {p}"), &r.body, &ids);
        }
        if !server_args.is_empty() {
            let prof = s.json(&format!("/api/developers/{alias}"));
            assert_eq!(prof["developer"], alias.as_str());
            assert!(prof["totals"]["requests"].as_u64().unwrap() > 0);
            let sessions = s.json(&format!("/api/sessions?developer={alias}"));
            assert!(sessions["total"].as_u64().unwrap() > 0);
            assert!(sessions["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["developer"] == alias.as_str()));
        } else {
            let sessions = s.json("/api/sessions");
            assert!(sessions["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["developer"].is_null()));
        }
        let ended = s.terminate(std::time::Duration::from_secs(10));
        assert_clean(
            "serve's own output",
            &format!("{}{}", ended.stdout, ended.stderr),
            &ids,
        );
    }
}

#[test]
fn the_grep_finds_raw_ids_when_pseudonyms_are_off() {
    // The check above can fail: without pseudonyms the same outputs name the developers.
    let w = Work::new();
    let (db, _) = demo(&w, false);
    let ids = raw_ids(&db);
    let text = report_text(&w, &db, &["--format", "html", "--show-developers"]);
    assert!(ids.iter().any(|id| occurs(&text, id)), "{text}");
    let prs = run(
        &w,
        &db,
        &[
            "prs", "--format", "csv", "--since", DEMO_SINCE, "--until", DEMO_UNTIL,
        ],
        &[],
    );
    assert!(ids.iter().any(|id| occurs(&prs, id)));
    assert!(occurs("by eli.", "eli") && !occurs("deliver", "eli"));
}

/// `report` over the demo's window with `args`, as printed.
fn report_text(w: &Work, db: &Path, args: &[&str]) -> String {
    run(w, db, &[&["report"][..], &WINDOW, args].concat(), &[])
}

fn report(w: &Work, db: &Path, args: &[&str]) -> Value {
    let text = run(
        w,
        db,
        &[&["report", "--format", "json"][..], &WINDOW, args].concat(),
        &[],
    );
    serde_json::from_str(text.trim()).unwrap()
}

fn teams(r: &Value, repo: &str) -> Vec<(String, u64)> {
    r["metrics"][repo]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["team"].as_str().unwrap().to_string(),
                t["developers"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn small_groups_are_folded_and_the_report_says_so() {
    let w = Work::new();
    let (db, _) = demo(&w, false);
    // No privacy: every team and developer line.
    let all = report(&w, &db, &[]);
    assert_eq!(
        teams(&all, "acme/api"),
        vec![("platform".into(), 5), ("web".into(), 3)]
    );
    assert_eq!(
        all["metrics"]["acme/api"]["developers"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert_eq!(all["privacy"]["suppressed"], serde_json::json!([]));
    // The team lines add up to the developer lines (calls without a developer id are in
    // neither).
    for repo in ["acme/api", "acme/web"] {
        let m = &all["metrics"][repo];
        let sum = |key: &str, lines: &str| -> f64 {
            m[lines]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t[key].as_f64().unwrap())
                .sum()
        };
        for key in ["requests", "sessions", "tokens", "commits", "merged_prs"] {
            assert_eq!(sum(key, "teams"), sum(key, "developers"), "{repo} {key}");
        }
        assert!((sum("cost_usd", "teams") - sum("cost_usd", "developers")).abs() < 1e-9);
        assert!(sum("requests", "teams") > 0.9 * m["velocity"]["requests"].as_f64().unwrap());
    }

    // K = 3: both teams stay, developers hidden.
    let k3 = report(&w, &db, &["--min-group-size", "3"]);
    assert_eq!(
        teams(&k3, "acme/api"),
        vec![("platform".into(), 5), ("web".into(), 3)]
    );
    assert!(k3["metrics"]["acme/api"]["developers"]
        .as_array()
        .unwrap()
        .is_empty());
    let said = k3["privacy"]["suppressed"].to_string();
    assert!(
        said.contains("per-developer table (8 developers)"),
        "{said}"
    );
    // K = 4: web (3) folds into other, which has 3 too and is left out.
    let k4 = report(&w, &db, &["--min-group-size", "4"]);
    assert_eq!(teams(&k4, "acme/api"), vec![("platform".into(), 5)]);
    let said = k4["privacy"]["suppressed"].to_string();
    assert!(
        said.contains("folded into `other`") && said.contains("web") && said.contains("left out"),
        "{said}"
    );
    // With --show-developers the table is back (no pseudonyms asked: stored ids).
    let shown = report(&w, &db, &["--min-group-size", "4", "--show-developers"]);
    assert_eq!(
        shown["metrics"]["acme/api"]["developers"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    for format in ["table", "md", "html"] {
        let text = report_text(&w, &db, &["--format", format, "--min-group-size", "4"]);
        assert!(text.contains("Privacy"), "{format}");
        assert!(
            text.contains("per-developer table") || text.contains("per-developer tables hidden"),
            "{format}"
        );
        assert!(text.contains("left out"), "{format}");
    }

    // A team filter narrows to its developers; a team under K is refused, an unknown one named.
    let platform = report(&w, &db, &["--team", "platform", "--show-developers"]);
    assert_eq!(platform["metadata"]["team"], "platform");
    let line = |r: &Value, team: &str| {
        r["metrics"]["acme/api"]["teams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["team"] == team)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        platform["metrics"]["acme/api"]["velocity"]["requests"],
        line(&all, "platform")["requests"]
    );
    assert_eq!(
        platform["metrics"]["acme/api"]["commit_frequency"]["commits"],
        line(&all, "platform")["commits"]
    );
    let (code, err) = refused(
        &w,
        &db,
        &[
            &["report", "--team", "web", "--min-group-size", "5"][..],
            &WINDOW,
        ]
        .concat(),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("below the minimum group size 5"), "{err}");
    let (code, err) = refused(&w, &db, &["report", "--team", "nope"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("platform") && err.contains("web"), "{err}");

    // The dashboard: sessions without developers, per-developer routes refused, team filter.
    let s = Server::start(&w, &db, &["--min-group-size", "4"], &[]);
    let sessions = s.json(&format!(
        "/api/sessions?since={DEMO_SINCE}&until={DEMO_UNTIL}"
    ));
    assert!(sessions["total"].as_u64().unwrap() > 0);
    assert!(sessions["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["developer"].is_null()));
    assert_eq!(s.get("/api/developers/dev-alice").status, 403);
    assert_eq!(s.get("/developers/dev-alice").status, 403);
    assert_eq!(s.get("/api/sessions?developer=dev-alice").status, 403);
    let api = s.json(&format!(
        "/api/report?team=platform&since={DEMO_SINCE}&until={DEMO_UNTIL}"
    ));
    assert_eq!(
        api["metrics"]["acme/api"]["velocity"]["requests"],
        line(&all, "platform")["requests"]
    );
    let page = s.get("/");
    assert!(
        page.body.contains("data-testid=\"filter-team\""),
        "team filter on the dashboard"
    );
    assert!(page.body.contains("data-testid=\"privacy\""));
    s.terminate(std::time::Duration::from_secs(10));
}

#[test]
fn litellm_team_ids_name_the_teams_no_file_names() {
    let w = Work::new();
    let (db, _) = demo(&w, false);
    // Replace the demo's teams with one that names a single developer.
    let file = w.write("teams.csv", b"# member,team\ndev-alice,Payments\n");
    run(&w, &db, &["teams", file.to_str().unwrap()], &[]);
    let r = report(&w, &db, &[]);
    let got = teams(&r, "acme/api");
    assert!(got.contains(&("Payments".into(), 1)), "{got:?}");
    // The demo's LiteLLM calls carry user_api_key_team_id team-platform (its Claude Code
    // telemetry an organization id): the other seven developers get the one on most of their
    // calls.
    let teams_of = r["metrics"]["acme/api"]["teams"].as_array().unwrap();
    let by_traces: Vec<&Value> = teams_of
        .iter()
        .filter(|t| t["sources"] == serde_json::json!(["traces"]))
        .collect();
    assert!(
        by_traces.iter().any(|t| t["team"] == "team-platform"),
        "{got:?}"
    );
    let n: u64 = by_traces
        .iter()
        .map(|t| t["developers"].as_u64().unwrap())
        .sum();
    assert_eq!(n, 7, "{got:?}");
    let listed: Value =
        serde_json::from_str(run(&w, &db, &["teams", "--json"], &[]).trim()).unwrap();
    assert_eq!(listed[0]["team"], "Payments");
    assert_eq!(listed[0]["file_members"], 1);
    let traced: u64 = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trace_developers"].as_u64().unwrap())
        .sum();
    assert!(traced >= 7, "{listed}");
    // A bad teams file is refused with its line, and nothing stored changes.
    let bad = w.write("bad.csv", b"dev-bob,web\ndev-chen\n");
    let (code, err) = refused(&w, &db, &["teams", bad.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(err.contains("line 2") && err.contains("bad.csv"), "{err}");
    let listed: Value =
        serde_json::from_str(run(&w, &db, &["teams", "--json"], &[]).trim()).unwrap();
    assert_eq!(listed[0]["team"], "Payments");
}

#[test]
fn the_privacy_setting_is_kept_with_the_store() {
    let w = Work::new();
    let (db, _) = demo(&w, false);
    let ids = raw_ids(&db);
    let before = report_text(&w, &db, &["--format", "json", "--show-developers"]);
    assert!(ids.iter().any(|id| occurs(&before, id)));
    let set = run(
        &w,
        &db,
        &[
            "privacy",
            "--pseudonymize",
            "--min-group-size",
            "2",
            "--json",
        ],
        &[],
    );
    let v: Value = serde_json::from_str(set.trim()).unwrap();
    assert_eq!(v["pseudonymize"], true);
    assert_eq!(v["min_group_size"], 2);
    assert_eq!(v["key"], "store");
    assert!(
        !set.contains("\"key\": \"0") && set.len() < 400,
        "the key is never printed: {set}"
    );
    let after = report_text(&w, &db, &["--format", "json", "--show-developers"]);
    assert_clean("report after prod-lens privacy", &after, &ids);
    assert!(after.contains("\"min_group_size\": 2"), "{after}");
    // A running dashboard follows the stored setting too.
    let s = Server::start(&w, &db, &["--show-developers"], &[]);
    assert_clean("/api/report", &s.get("/api/report").body, &ids);
    s.terminate(std::time::Duration::from_secs(10));
    // Off again: ids are back; on again: the same pseudonyms (the key stayed).
    let on = report_text(&w, &db, &["--format", "json", "--show-developers"]);
    run(
        &w,
        &db,
        &["privacy", "--no-pseudonymize", "--min-group-size", "0"],
        &[],
    );
    let off = report_text(&w, &db, &["--format", "json", "--show-developers"]);
    assert!(ids.iter().any(|id| occurs(&off, id)));
    run(&w, &db, &["privacy", "--pseudonymize"], &[]);
    let again = report_text(&w, &db, &["--format", "json", "--show-developers"]);
    let devs = |t: &str| {
        let v: Value = serde_json::from_str(t.trim()).unwrap();
        v["metrics"]["acme/api"]["developers"].clone()
    };
    assert_eq!(devs(&on), devs(&again));
    // Pseudonyms without any key are refused with what to do.
    let w2 = Work::new();
    let (db2, _) = demo(&w2, false);
    let (code, err) = refused(&w2, &db2, &["report", "--pseudonymize"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("PRODLENS_PSEUDONYM_KEY"), "{err}");
}
