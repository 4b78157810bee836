//! `prod-lens prs`: evidence per PR and the AI-assisted vs other comparison, through the real
//! binary on the demo store plus calls made on PR branches.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::{run_ok, Work};
use serde_json::Value;

fn prs(w: &Work, args: &[&str]) -> Value {
    let out = run_ok(
        w.cmd()
            .arg("--db")
            .arg(w.path("demo/cache.db"))
            .args([
                "prs",
                "--format",
                "json",
                "--since",
                "2025-09-01",
                "--until",
                "2025-10-12",
            ])
            .args(args),
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A LiteLLM payload line of one call in `repo` on `branch` at `at` costing `cost`.
fn call(id: &str, repo: &str, branch: &str, at: DateTime<Utc>, cost: f64) -> String {
    let t = at.timestamp() as f64;
    format!(
        r#"{{"id":"chatcmpl-{id}","litellm_call_id":"{id}","startTime":{t},"endTime":{},"status":"success","call_type":"completion","model":"gpt-4o","prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"response_cost":{cost},"request_tags":["branch:{branch}"],"metadata":{{"requester_metadata":{{"repo":"{repo}"}}}}}}"#,
        t + 1.0
    )
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn evidence_per_pr_from_branches_and_squash_merge_trailers() {
    let w = Work::new();
    run_ok(w.cmd().args(["demo", "--json", "--dir", "demo"]));
    let before = prs(&w, &["--repo", "acme/api"]);
    let list = before["prs"].as_array().unwrap();
    // The demo's squash merges of Claude Code PRs carry trailers; the others carry none.
    let trailer: Vec<&Value> = list
        .iter()
        .filter(|p| {
            p["evidence"]
                .as_array()
                .unwrap()
                .contains(&"trailer".into())
        })
        .collect();
    assert!(trailer.len() >= 10, "{}", trailer.len());
    assert!(trailer.iter().all(|p| p["ai_assisted"] == true));
    let p = list
        .iter()
        .find(|p| p["state"] == "merged" && p["ai_assisted"] == false)
        .unwrap();
    let (number, head) = (
        p["number"].as_i64().unwrap(),
        p["head_ref"].as_str().unwrap(),
    );
    let (created, merged) = (time(&p["created_at"]), time(&p["merged_at"]));

    let lines = [
        call(
            "in-span",
            "acme/api",
            head,
            created + Duration::hours(1),
            0.5,
        ),
        call(
            "early",
            "acme/api",
            head,
            created - Duration::days(13),
            0.25,
        ),
        call(
            "too-early",
            "acme/api",
            head,
            created - Duration::days(15),
            9.0,
        ),
        call(
            "after-merge",
            "acme/api",
            head,
            merged + Duration::days(2),
            9.0,
        ),
        call(
            "default-branch",
            "acme/api",
            "main",
            created + Duration::hours(1),
            9.0,
        ),
        call(
            "other-repo",
            "acme/other",
            head,
            created + Duration::hours(1),
            9.0,
        ),
    ]
    .join("\n");
    let file = w.write("branch-calls.jsonl", lines.as_bytes());
    run_ok(
        w.cmd()
            .arg("--db")
            .arg(w.path("demo/cache.db"))
            .args(["ingest-traces", "--quiet", "--no-parquet"])
            .arg(&file),
    );
    let after = prs(&w, &["--repo", "acme/api"]);
    let p = after["prs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["number"] == number)
        .unwrap();
    assert!(
        p["evidence"].as_array().unwrap().contains(&"branch".into()),
        "{p}"
    );
    assert_eq!(p["ai_calls"], 2, "{p}");
    assert_eq!(p["ai_cost_usd"].as_f64(), Some(0.75));
    assert_eq!(p["ai_assisted"], true);
    // No other PR of the repo changed: the demo's own branch calls stay where they were.
    let others = |v: &Value| -> Vec<Value> {
        v["prs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| x["number"] != number)
            .cloned()
            .collect()
    };
    assert_eq!(others(&before), others(&after));
    // The demo's proxy calls on Claude Code PR branches give branch evidence too.
    assert!(list
        .iter()
        .any(|x| x["evidence"].as_array().unwrap().contains(&"branch".into())));
    // Cost per AI-assisted merged PR comes from the attributed calls: 0.75 more in total.
    let (c0, c1) = (&before["assisted_cost"][0], &after["assisted_cost"][0]);
    let added =
        c1["attributed_cost_usd"].as_f64().unwrap() - c0["attributed_cost_usd"].as_f64().unwrap();
    assert!((added - 0.75).abs() < 1e-9, "{added}");
    let n = c1["assisted_merged"].as_f64().unwrap();
    let total = c1["attributed_cost_usd"].as_f64().unwrap();
    assert!((c1["per_ai_assisted_merged_pr_usd"].as_f64().unwrap() - total / n).abs() < 1e-12);
}

#[test]
fn the_planted_effect_is_found_within_developers_too_and_csv_lists_every_pr() {
    let w = Work::new();
    run_ok(w.cmd().args(["demo", "--json", "--dir", "demo"]));
    let v = prs(&w, &[]);
    let cohort = |repo: &str, outcome: &str| -> Value {
        v["cohorts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["repo"] == repo && c["outcome"] == outcome)
            .unwrap()
            .clone()
    };
    let all = cohort("all", "merge_hours");
    assert_eq!(all["significant"], true, "{all}");
    assert!(all["assisted"]["median"].as_f64() < all["other"]["median"].as_f64());
    assert!(all["effect"]["hodges_lehmann"]["shift"].as_f64().unwrap() < 0.0);
    assert!(all["within_developer"]["strata"].as_u64().unwrap() >= 5);
    assert!(all["within_developer_adjusted_p"].as_f64().unwrap() < 0.05);
    // Rework was not planted: not significant.
    assert_eq!(cohort("all", "rework")["significant"], false);
    // With --attribution any, author-window evidence also counts.
    let any = prs(&w, &["--attribution", "any"]);
    let count = |v: &Value| {
        v["prs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["ai_assisted"] == true)
            .count()
    };
    assert!(count(&any) > count(&v));
    let out = run_ok(w.cmd().arg("--db").arg(w.path("demo/cache.db")).args([
        "prs",
        "--format",
        "csv",
        "--since",
        "2025-09-01",
        "--until",
        "2025-10-12",
    ]));
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.starts_with("repo,number,author,head_ref,created_at,merged_at,merge_hours,state,reverted,reopened,ai_assisted,evidence,ai_calls,ai_tokens,ai_cost_usd\n"));
    assert_eq!(csv.lines().count(), 1 + v["prs"].as_array().unwrap().len());
    // A bad --ai-trailer names the flag.
    let bad = w
        .cmd()
        .arg("--db")
        .arg(w.path("demo/cache.db"))
        .args(["prs", "--ai-trailer", "("])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--ai-trailer"));
}
