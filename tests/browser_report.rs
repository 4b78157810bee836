//! The HTML report through the real binary: `demo` writes a self-contained page, `report
//! --format html` / `--output x.html` produce one, hostile names stay text, and the page renders
//! in headless Chromium with the numbers of the JSON report of the same data.
//!
//! The browser test drives Debian's Chromium (`$CHROMIUM` or /usr/bin/chromium) with Node and
//! playwright-core from `tests/browser/` (`npm ci --prefix tests/browser`). It skips loudly when
//! one of them is missing, unless `PRODLENS_REQUIRE_EXTERNAL=1`, which makes that a failure (CI
//! sets it and installs them). `PRODLENS_UPDATE_SCREENSHOTS=1` copies its screenshot to
//! `docs/report.png`.

mod common;

use common::{assert_browser_checks, run_ok, Work};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A developer id and a model name that would run script if they reached the page as markup.
const HOSTILE_DEV: &str = "<img src=x onerror=alert(1)>";
const HOSTILE_MODEL: &str = "\"><script>alert(2)</script>";

/// Adds one call by a hostile developer with a hostile model to the demo store.
fn add_hostile_call(w: &Work, db: &Path) {
    let line = serde_json::json!({
        "attributes": {
            "latency_ms": 1500.5, "llm.model_name": HOSTILE_MODEL, "status_code": 200,
            "cost_usd": 0.25
        },
        "metadata": {"developer_id": HOSTILE_DEV, "repo": "acme/api", "session_id": "s-hostile"},
        "timestamp": "2025-09-03T10:00:00Z",
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    });
    let input = w.write("hostile.jsonl", format!("{line}\n").as_bytes());
    let summary = w.ingest(db, &[input.to_str().unwrap(), "--no-parquet"]);
    assert_eq!(summary["inserted"], 1, "{summary}");
}

/// Runs the demo into `<work>/demo` and returns its database.
fn demo(w: &Work) -> PathBuf {
    run_ok(w.cmd().args(["demo", "--json", "--dir", "demo"]));
    w.path("demo/cache.db")
}

/// `report` over the demo window with `extra` flags; returns stdout.
fn report(w: &Work, db: &Path, extra: &[&str]) -> String {
    let out = run_ok(
        w.cmd()
            .arg("--db")
            .arg(db)
            .args([
                "report",
                "--since",
                "2025-09-01",
                "--until",
                "2025-10-12",
                "--policy-model",
                "claude-*",
            ])
            .args(extra),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Attribute values and CSS references that could load something from outside the page.
fn external_refs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=", "href=", "action=", "srcset=", "poster=", "data="] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            // Escaped text (`src=&quot;…`, `src=x` inside text) is inert; attributes are quoted.
            if let Some(q) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let value: String = rest[1..].chars().take_while(|c| *c != q).collect();
                if !value.starts_with('#') {
                    out.push(format!("{attr}{value}"));
                }
            }
        }
    }
    for pat in [
        "url(", "@import", "<link", "<iframe", "<object", "<embed", "<img",
    ] {
        if html.contains(pat) {
            out.push(pat.to_string());
        }
    }
    out
}

/// The structure every HTML report has.
fn assert_report_page(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>"), "{}", &html[..80]);
    assert!(html.trim_end().ends_with("</html>"));
    assert_eq!(external_refs(html), Vec::<String>::new());
    // The only URL on the page is the SVG namespace name (never fetched).
    let no_ns = html.replace(r#"xmlns="http://www.w3.org/2000/svg""#, "");
    assert!(!no_ns.contains("http://") && !no_ns.contains("https://"));
    assert_eq!(html.matches("<script").count(), 1, "only the inline sorter");
    for id in [
        "report-header",
        "thresholds",
        "threshold-acme__api-velocity.latency_median_ms",
        "repo-acme__api",
        "repo-acme__web",
        "daily-acme__api-requests",
        "cost-model-acme__web",
        "latency-hist-acme__api",
        "merge-time-acme__web",
        "throughput-acme__api",
        "developers-acme__api",
        "associations-table",
        "lag-acme__web-tokens-merged_prs",
        "warnings",
        "definitions",
    ] {
        assert!(
            html.contains(&format!("data-testid=\"{id}\"")),
            "no element {id}"
        );
    }
}

#[test]
fn demo_writes_a_self_contained_html_report_and_says_how_to_open_it() {
    let w = Work::new();
    let out = run_ok(w.cmd().args(["demo", "--dir", "demo"]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("HTML report: demo/report.html"), "{text}");
    assert!(text.contains("file:///"), "{text}");
    assert!(
        text.contains("prod-lens serve --db demo/cache.db"),
        "{text}"
    );
    let html = std::fs::read_to_string(w.path("demo/report.html")).unwrap();
    assert_report_page(&html);
    assert!(html.contains("<title>ProdLens report 2025-09-01 → 2025-10-12</title>"));

    // `--json` names the file too.
    let out = run_ok(w.cmd().args(["demo", "--json", "--dir", "demo"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        Path::new(v["report_html"].as_str().unwrap()),
        Path::new("demo").join("report.html")
    );
    assert_report_page(&std::fs::read_to_string(w.path("demo/report.html")).unwrap());
}

#[test]
fn report_format_html_and_html_by_extension_escape_hostile_names() {
    let w = Work::new();
    let db = demo(&w);
    add_hostile_call(&w, &db);
    let stdout = report(&w, &db, &["--format", "html"]);
    assert_report_page(&stdout);
    for raw in [HOSTILE_DEV, HOSTILE_MODEL, "alert(1)>", "<script>alert"] {
        assert!(!stdout.contains(raw), "{raw} reached the page unescaped");
    }
    assert!(stdout.contains("<td>&lt;img src=x onerror=alert(1)&gt;</td>"));
    assert!(stdout.contains("&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"));

    // `--output x.html` (and .htm) picks HTML by extension; stdout keeps the JSON.
    for name in ["pilot.html", "pilot.HTM"] {
        let json = report(&w, &db, &["--output", name]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["schema_version"], 1);
        let page = std::fs::read_to_string(w.path(name)).unwrap();
        assert_report_page(&page);
        let requests = v["metrics"]["acme/api"]["velocity"]["requests"]
            .as_u64()
            .unwrap();
        assert!(page.contains(&format!(r#"data-testid="kpi-requests">{requests}<"#)));
    }
}

#[test]
fn report_renders_in_chromium_with_the_numbers_of_the_json_report() {
    let dir = match common::browser_tools() {
        Ok(d) => d,
        Err(why) => {
            common::skip_or_fail("HTML report browser test", &why);
            return;
        }
    };
    let w = Work::new();
    let db = demo(&w);
    let outdir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser_report");
    // The demo data as it is (its screenshot goes to the README), then with a hostile call.
    let clean = check_in_browser(&w, &db, &dir, "clean", &outdir);
    add_hostile_call(&w, &db);
    let hostile = check_in_browser(&w, &db, &dir, "hostile", &outdir.join("hostile"));
    assert!(
        hostile.contains("ok   acme/api hostile developer name shown as text"),
        "{hostile}"
    );
    assert!(!clean.contains("hostile developer"), "{clean}");
    let png = std::fs::read(outdir.join("report.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG screenshot");
    assert!(png.len() > 50_000, "a real page, {} bytes", png.len());
    if std::env::var("PRODLENS_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("report.png"), &png).unwrap();
    }
}

/// Writes the HTML and JSON reports of the store (one run: HTML to `--output`, JSON on stdout),
/// runs `check_report.mjs` on them and returns its output, asserting every check passed.
fn check_in_browser(w: &Work, db: &Path, dir: &Path, name: &str, outdir: &Path) -> String {
    let html = w.path(&format!("{name}.html"));
    let json = report(w, db, &["--output", html.to_str().unwrap()]);
    let json_path = w.write(&format!("{name}.json"), json.as_bytes());
    let _ = std::fs::remove_file(outdir.join("report.png"));
    let out = Command::new("node")
        .arg(dir.join("check_report.mjs"))
        .arg(&html)
        .arg(&json_path)
        .arg(outdir)
        .output()
        .unwrap();
    // The checks that matter most all ran.
    let stdout = assert_browser_checks(
        &out,
        &format!("browser checks of the {name} report"),
        &[
            "acme/api total requests",
            "acme/api daily requests values",
            "acme/api the chart changed",
            "acme/api first developer row",
            "acme/api sorted by commits, first",
            "threshold acme/api velocity.latency_median_ms value",
            "association acme/api|requests|commits|1 r",
            "requests outside the file",
            "dialogs opened",
        ],
    );
    assert!(outdir.join("report.png").is_file(), "no screenshot");
    stdout
}
