//! `prod-lens identities` and identity links in the report, through the real binary on the demo.

mod common;

use common::{run_ok, Work};
use serde_json::Value;

fn demo(w: &Work) {
    run_ok(w.cmd().args(["demo", "--json", "--dir", "demo"]));
}

fn identities(w: &Work, extra: &[&str]) -> Vec<Value> {
    let out = run_ok(
        w.cmd()
            .arg("--db")
            .arg(w.path("demo/cache.db"))
            .args(["identities", "--json"])
            .args(extra),
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn row<'a>(rows: &'a [Value], id: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["developer_id"] == id)
        .unwrap_or_else(|| panic!("no row for {id}"))
}

#[test]
fn ids_link_through_commit_emails_map_files_and_names_and_unmatched_are_listed() {
    let w = Work::new();
    demo(&w);
    let rows = identities(&w, &[]);
    // The proxy's e-mail ids link to logins through the commits' author e-mails.
    let alice = row(&rows, "alice@example.com");
    assert_eq!(alice["github_login"], "dev-alice");
    assert_eq!(alice["rule"], "commit_email");
    assert!(alice["calls"].as_i64().unwrap() > 0 && alice["commits"].as_i64().unwrap() > 0);
    assert_eq!(row(&rows, "dev-bob")["rule"], "same_name");
    // A GitHub no-reply address as a developer id names the login.
    let line = r#"{"id":"chatcmpl-nr","litellm_call_id":"noreply-1","startTime":1758700800.0,"endTime":1758700801.0,"status":"success","call_type":"completion","model":"gpt-4o","prompt_tokens":10,"completion_tokens":2,"total_tokens":12,"metadata":{"requester_metadata":{"repo":"acme/api"},"user_api_key_user_id":"12345+dev-chen@users.noreply.github.com"}}"#;
    let file = w.write("noreply.jsonl", line.as_bytes());
    run_ok(
        w.cmd()
            .arg("--db")
            .arg(w.path("demo/cache.db"))
            .args(["ingest-traces", "--quiet", "--no-parquet"])
            .arg(&file),
    );
    let rows = identities(&w, &[]);
    let nr = row(&rows, "12345+dev-chen@users.noreply.github.com");
    assert_eq!(
        (nr["github_login"].as_str(), nr["rule"].as_str()),
        (Some("dev-chen"), Some("noreply"))
    );
    // Ids no rule links are listed as unmatched.
    let odd = row(&rows, "dev-gus@acme.example");
    assert!(odd["github_login"].is_null() && odd["rule"].is_null());

    // A map file links them, is stored, and wins over every other rule.
    let map = w.write(
        "people.csv",
        b"# who is who\ndeveloper_id,github_login\ndev-gus@acme.example,dev-gus\nbob@example.com,dev-hana\n",
    );
    let rows = identities(&w, &["--identity-map", map.to_str().unwrap()]);
    assert_eq!(row(&rows, "dev-gus@acme.example")["rule"], "map");
    assert_eq!(row(&rows, "bob@example.com")["github_login"], "dev-hana");
    let again = identities(&w, &[]);
    assert_eq!(
        row(&again, "dev-gus@acme.example")["github_login"],
        "dev-gus"
    );

    // A bad map file is refused with its line, and nothing is stored.
    let bad = w.write("bad.csv", b"a,b\nc d\n");
    let out = w
        .cmd()
        .arg("--db")
        .arg(w.path("demo/cache.db"))
        .args(["identities", "--identity-map", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("line 2"), "{err}");
}

#[test]
fn the_report_counts_one_person_under_every_linked_id() {
    let w = Work::new();
    demo(&w);
    let report = |args: &[&str]| -> Value {
        let out = run_ok(
            w.cmd()
                .arg("--db")
                .arg(w.path("demo/cache.db"))
                .args(["report", "--since", "2025-09-01", "--format", "json"])
                .args(args),
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let all = report(&[]);
    let devs = all["metrics"]["acme/api"]["developers"].as_array().unwrap();
    let alice = devs.iter().find(|d| d["developer"] == "dev-alice").unwrap();
    assert!(alice["linked_ids"]
        .as_array()
        .unwrap()
        .contains(&Value::from("alice@example.com")));
    assert!(alice["requests"].as_u64().unwrap() > 0 && alice["commits"].as_u64().unwrap() > 0);
    assert!(
        !devs.iter().any(|d| d["developer"] == "alice@example.com"),
        "the e-mail id is not a person of its own"
    );
    // Velocity counts people too: one per line of the developer table with calls.
    let with_calls = devs
        .iter()
        .filter(|d| d["requests"].as_u64().unwrap() > 0)
        .count() as u64;
    assert_eq!(
        all["metrics"]["acme/api"]["velocity"]["developers"].as_u64(),
        Some(with_calls)
    );
    let cost = all["metrics"]["acme/api"]["cost"]["per_developer"]
        .as_object()
        .unwrap();
    assert!(cost.contains_key("dev-alice") && !cost.contains_key("alice@example.com"));
    // Filtering by the e-mail or by the login gives the same person.
    let by_mail = report(&["--developer", "alice@example.com"]);
    let by_login = report(&["--developer", "DEV-ALICE"]);
    for key in ["velocity", "commit_frequency", "pr_throughput"] {
        assert_eq!(
            by_mail["metrics"]["acme/api"][key], by_login["metrics"]["acme/api"][key],
            "{key}"
        );
    }
    assert_eq!(
        by_login["metrics"]["acme/api"]["velocity"]["requests"],
        alice["requests"]
    );
}
