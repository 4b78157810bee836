//! `prod-lens serve`'s pull request page and API over a real demo store: the same listing as
//! `prod-lens prs`, the AI-assisted filter, the merge-time chart of both groups, 400s.

mod common;
mod serve_support;

use common::{run_ok, Work};
use serde_json::Value;
use serve_support::*;

#[test]
fn pr_page_and_api_list_the_prs_with_their_evidence() {
    let w = Work::new();
    let db = demo_copy(&w);
    let s = Server::start(&w, &db, &[], &[]);
    let q = format!("since={DEMO_SINCE}&until={DEMO_UNTIL}");
    let api = s.json(&format!("/api/prs?{q}"));
    let out = run_ok(w.cmd().arg("--db").arg(&db).args([
        "prs", "--format", "json", "--since", DEMO_SINCE, "--until", DEMO_UNTIL,
    ]));
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(api["prs"], cli["prs"]);
    assert_eq!(api["cohorts"], cli["cohorts"]);
    let all = api["prs"].as_array().unwrap().len();
    let ai = s.json(&format!("/api/prs?{q}&assisted=true"));
    let ai = ai["prs"].as_array().unwrap();
    assert!(!ai.is_empty() && ai.len() < all);
    assert!(ai.iter().all(|p| p["ai_assisted"] == true));

    let page = s.get(&format!("/prs?{q}"));
    assert_eq!(page.status, 200);
    let html = &page.body;
    assert!(html.contains(r#"data-testid="merge-time-groups""#));
    assert!(html.contains(r#"data-testid="prs-table""#));
    assert_eq!(html.matches("<tr data-number=").count(), all);
    assert!(html.contains("trailer"));
    assert!(html.contains(r#"aria-current="page">Pull requests"#));
    let only_ai = s.get(&format!("/prs?{q}&assisted=true"));
    assert_eq!(only_ai.body.matches(r#"data-assisted="false""#).count(), 0);

    s.get("/api/prs?assisted=maybe").assert_bad("assisted");
    s.get("/api/prs?attribution=loose")
        .assert_bad("attribution");
    s.get("/api/prs?frobnicate=1").assert_bad("frobnicate");
}
