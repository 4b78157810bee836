//! The dashboard in a real browser: `prod-lens serve` on the demo store, opened in Debian's
//! headless Chromium by `tests/browser/check_dashboard.mjs` (Node + playwright-core), which
//! checks charts and tables against the API, uses the filter form, follows links, sorts the
//! sessions page, sees the page reload after an ingest, and saves `dashboard.png` under
//! `CARGO_TARGET_TMPDIR/serve_browser` (copied to `docs/dashboard.png` when
//! `PRODLENS_UPDATE_SCREENSHOTS=1`).
//!
//! Skips loudly when node, `tests/browser/node_modules` or Chromium are missing, unless
//! `PRODLENS_REQUIRE_EXTERNAL=1`, which makes that a failure.

mod common;
mod serve_support;

use common::{assert_browser_checks, Work};
use serve_support::{demo_copy, Server};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[test]
fn dashboard_renders_filters_and_refreshes_in_chromium() {
    let dir = match common::browser_tools() {
        Ok(d) => d,
        Err(why) => {
            common::skip_or_fail("dashboard browser test", &why);
            return;
        }
    };
    let w = Work::new();
    let db = demo_copy(&w);
    // One call on the newest demo day, ingested while the page is open.
    let line = serde_json::json!({
        "timestamp": "2025-10-12T18:30:00Z",
        "usage": {"input_tokens": 300, "output_tokens": 40},
        "attributes": {"llm.model_name": "gpt-4o", "latency_ms": 1200, "status_code": 200},
        "metadata": {"repo": "acme/api", "session_id": "s-browser", "developer_id": "dev-alice"}
    });
    let new_traces = w.write("new.jsonl", format!("{line}\n").as_bytes());
    let s = Server::start(&w, &db, &[], &[]);
    let outdir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve_browser");
    let _ = std::fs::remove_file(outdir.join("dashboard.png"));
    let out = Command::new("node")
        .arg(dir.join("check_dashboard.mjs"))
        .arg(&s.base)
        .arg(&outdir)
        .arg(env!("CARGO_BIN_EXE_prod-lens"))
        .arg(&db)
        .arg(&new_traces)
        .env_remove("PRODLENS_DB")
        .output()
        .unwrap();
    assert_browser_checks(
        &out,
        "dashboard checks",
        &[
            "acme/api total requests",
            "acme/web daily requests values",
            "acme/api first developer row",
            "live status",
            "the page changed",
            "acme/web requests",
            "profile requests",
            "most requests first",
            "requests after the ingest",
            "requests to other origins",
            "page errors",
        ],
    );
    let png = std::fs::read(outdir.join("dashboard.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG screenshot");
    assert!(png.len() > 50_000, "a real page, {} bytes", png.len());
    if std::env::var("PRODLENS_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("dashboard.png"), &png).unwrap();
    }
    let ended = s.terminate(Duration::from_secs(20));
    assert!(ended.status.success(), "{}", ended.stderr);
}
