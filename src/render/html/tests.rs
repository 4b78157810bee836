//! Structure tests of the HTML report over a computed report: sections and charts present,
//! balanced markup, no external reference, and hostile data escaped.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::{render_document, HtmlRenderer, PageChrome};
use crate::metrics::input::{CommitRow, PullRow, RepoData, TraceRow};
use crate::metrics::{self, Freshness, Metadata, Report, ReportOptions};
use crate::render::Renderer;
use crate::stats::calendar::DayWindow;

const HOSTILE_DEV: &str = "<script>alert(1)</script>";
const HOSTILE_MODEL: &str = "\"><img src=\"https://evil.example/x.png\" onerror=alert(2)>";
const HOSTILE_TEAM: &str = "<b onmouseover=alert(3)>\"team\"</b>";

fn at(day: NaiveDate, hour: u32) -> DateTime<Utc> {
    day.and_hms_opt(hour, 10, 0).unwrap().and_utc()
}

fn data(start: NaiveDate, days: i64) -> Vec<RepoData> {
    let mut r = RepoData {
        repo: "acme/api".into(),
        has_github: true,
        ..RepoData::default()
    };
    for i in 0..days {
        let day = start + Duration::days(i);
        let calls = 2 + (i * 7 % 5) as u32;
        for j in 0..calls {
            r.traces.push(TraceRow {
                timestamp: at(day, 9 + j),
                developer: Some(Arc::from(if j % 2 == 0 { HOSTILE_DEV } else { "dev-b" })),
                session: Some(Arc::from(format!("s-{i}-{}", j % 2))),
                model: Some(Arc::from(if j % 3 == 0 { HOSTILE_MODEL } else { "gpt-4o" })),
                tokens: 100 + i64::from(j),
                latency_ms: Some(400.0 + 900.0 * f64::from(j)),
                accepted: Some(j % 2 == 0),
                cost_usd: Some(0.01 * f64::from(j + 1)),
                ..TraceRow::default()
            });
        }
        for c in 0..calls / 2 {
            r.commits.push(CommitRow {
                author: Some("dev-b".into()),
                authored_at: at(day, 10 + c),
            });
        }
        if i % 2 == 1 {
            r.pulls.push(PullRow {
                number: i,
                author: Some("dev-b".into()),
                created_at: at(day, 8) - Duration::hours(3 * i),
                merged_at: Some(at(day, 16)),
            });
        }
    }
    vec![r]
}

fn report() -> Report {
    let start: NaiveDate = "2025-09-01".parse().unwrap();
    let window = DayWindow::new(start, start + Duration::days(13)).unwrap();
    let opts = ReportOptions {
        window,
        tz: chrono_tz::UTC,
        business_days: false,
        lag_days: 1,
        max_lag: 2,
        policy_models: vec!["gpt-*".into()],
        q: 0.05,
        ..ReportOptions::new(window, chrono_tz::UTC)
    };
    let metadata = Metadata {
        repos: vec!["acme/api".into()],
        since: "2025-09-01".into(),
        until: "2025-09-14".into(),
        timezone: "UTC".into(),
        business_days: false,
        lag_days: 1,
        max_lag: 2,
        developer: None,
        team: None,
        model: None,
        mode: "exact".into(),
        generated_at: "2025-09-15T08:00:00Z".into(),
        tool_version: "0.0.0-test".into(),
        freshness: vec![Freshness {
            repo: "acme/api".into(),
            last_trace_ingest: Some("2025-09-15T07:00:00Z".into()),
            latest_trace_day: Some("2025-09-14".into()),
            last_github_sync: None,
        }],
        runtime_profile: vec![],
    };
    let mut r = metrics::compute(&data(start, 14), &opts, metadata).unwrap();
    r.warnings.push(format!("developer {HOSTILE_DEV} & co"));
    let map = crate::privacy::teams::TeamMap::new(
        &[(HOSTILE_DEV.to_string(), HOSTILE_TEAM.to_string())],
        &[],
    );
    for m in r.metrics.values_mut() {
        m.teams = crate::privacy::teams::summarize(&m.developers, &map);
    }
    r.privacy
        .suppressed
        .push(format!("team {HOSTILE_TEAM} folded"));
    r
}

/// Every attribute value that could load something (`src`, `href`, `url(…)`, `@import`) and
/// does not point inside the page.
fn external_refs(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in [
        "src=",
        "href=",
        "xlink:href=",
        "action=",
        "poster=",
        "srcset=",
    ] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let value: String = rest
                .trim_start_matches(['"', '\''])
                .chars()
                .take_while(|c| !matches!(c, '"' | '\'' | ' ' | '>'))
                .collect();
            // Escaped text (`src=&quot;…`) is inert; a real attribute starts with a quote.
            if rest.starts_with(['"', '\'']) && !value.starts_with('#') {
                out.push(format!("{attr}{value}"));
            }
        }
    }
    for pat in ["url(", "@import"] {
        for (i, _) in html.match_indices(pat) {
            let rest = &html[i + pat.len()..];
            if !rest.trim_start_matches(['"', '\'']).starts_with('#') {
                out.push(html[i..(i + 40).min(html.len())].to_string());
            }
        }
    }
    out
}

fn balanced(html: &str, tag: &str) {
    let open =
        html.matches(&format!("<{tag} ")).count() + html.matches(&format!("<{tag}>")).count();
    let close = html.matches(&format!("</{tag}>")).count();
    assert_eq!(open, close, "<{tag}> opened {open} times, closed {close}");
}

#[test]
fn every_section_and_chart_is_there_with_stable_ids() {
    let html = HtmlRenderer.render(&report()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    for id in [
        r#"id="report-header""#,
        r#"data-testid="freshness""#,
        r#"id="thresholds""#,
        r#"data-testid="threshold-acme__api-velocity.latency_median_ms""#,
        r#"data-testid="threshold-acme__api-acceptance.rate""#,
        r#"id="repo-acme__api""#,
        r#"data-testid="daily-acme__api""#,
        r#"id="daily-acme__api-requests""#,
        r#"id="daily-acme__api-sessions""#,
        r#"id="daily-acme__api-tokens""#,
        r#"id="daily-acme__api-cost_usd""#,
        r#"id="cost-day-acme__api""#,
        r#"id="cost-model-acme__api""#,
        r#"id="latency-day-acme__api""#,
        r#"id="latency-hist-acme__api""#,
        r#"id="merge-time-acme__api""#,
        r#"id="throughput-acme__api""#,
        r#"data-testid="developers-acme__api""#,
        r#"data-testid="daily-table-acme__api""#,
        r#"id="associations""#,
        r#"data-testid="associations-table""#,
        r#"id="lag-acme__api-requests-commits""#,
        r#"id="lag-acme__api-cost_usd-median_merge_hours""#,
        r#"id="warnings""#,
        r#"id="definitions""#,
    ] {
        assert!(html.contains(id), "missing {id}");
    }
    for tag in [
        "svg", "table", "section", "figure", "div", "details", "dl", "tr", "td", "th", "g", "text",
    ] {
        balanced(&html, tag);
    }
    // Four AI tabs per repo, the first checked, each with its own chart.
    assert_eq!(html.matches(r#"class="tab-panel"#).count(), 4);
    assert_eq!(html.matches(r#"type="radio""#).count(), 4);
    assert_eq!(html.matches(" checked>").count(), 1);
    // 4 AI series x 3 outcomes lag charts for the one repo.
    assert_eq!(
        html.matches(r#"class="chart" id="lag-acme__api-"#).count(),
        12
    );
    // The page is the same through the trait and through the dashboard's entry point.
    let r = report();
    assert_eq!(
        HtmlRenderer.render(&r).unwrap(),
        render_document(&r, &PageChrome::standalone(&r))
    );
}

#[test]
fn no_external_reference_and_no_url_but_the_svg_namespace() {
    let html = HtmlRenderer.render(&report()).unwrap();
    assert_eq!(external_refs(&html), Vec::<String>::new());
    // Outside the escaped hostile model name, the only URL is the SVG namespace.
    let cleaned = html
        .replace("xmlns=\"http://www.w3.org/2000/svg\"", "")
        // (also where a long label is cut short)
        .replace("https://evil.exam", "");
    if let Some(i) = cleaned.find("http") {
        panic!("an URL left: {}", &cleaned[i.saturating_sub(80)..i + 40]);
    }
    assert!(!cleaned.contains("https:"), "an URL left");
    assert!(!html.contains("<link") && !html.contains("<img") && !html.contains("<iframe"));
    assert!(!html.contains("<script src") && !html.contains("@font-face"));
    // The checker itself finds what it looks for.
    assert_eq!(
        external_refs(r##"<img src="https://x.test/a.png"><a href="#top">t</a>"##),
        vec!["src=https://x.test/a.png".to_string()]
    );
    assert_eq!(external_refs("p{background:url(x.png)}").len(), 1);
}

#[test]
fn hostile_names_are_escaped_everywhere() {
    let html = HtmlRenderer.render(&report()).unwrap();
    // One inline script (the sorter) and no markup from data.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(!html.contains("alert(1)</script>"));
    assert!(!html.contains("<img"));
    assert!(!html.contains("onerror=alert(2)>"));
    let dev = "&lt;script&gt;alert(1)&lt;/script&gt;";
    assert!(html.contains(&format!("<td>{dev}</td>")), "developer row");
    assert!(html.contains(&format!(r#"data-developer="{dev}""#)));
    assert!(html.contains(&format!("<li>developer {dev} &amp; co</li>")));
    let model = "&quot;&gt;&lt;img src=&quot;https://evil.example/x.png&quot; onerror=alert(2)&gt;";
    assert!(html.contains(model), "model bar label escaped");
    assert!(!html.contains("<b onmouseover"));
    let team = "&lt;b onmouseover=alert(3)&gt;&quot;team&quot;&lt;/b&gt;";
    assert!(html.contains(&format!("<td>{team}</td>")), "team row");
    assert!(html.contains(&format!(r#"data-team="{team}""#)));
    assert!(
        html.contains(&format!("<li>team {team} folded</li>")),
        "privacy section"
    );
}

#[test]
fn numbers_come_from_the_report() {
    let r = report();
    let html = HtmlRenderer.render(&r).unwrap();
    let m = &r.metrics["acme/api"];
    let kpi = format!(r#"data-testid="kpi-requests">{}<"#, m.velocity.requests);
    assert!(html.contains(&kpi), "{kpi}");
    // Each day of the daily series is a mark with its exact value.
    let first = &m.daily[0];
    assert!(html.contains(&format!(
        r#"data-day="{}" data-value="{}""#,
        first.date, first.requests
    )));
    assert_eq!(
        html.matches(r#"<circle"#).count(),
        // requests/sessions/tokens/cost tabs x (AI + commits + merged) + cost + p50 + p95
        m.daily.len() * (4 * 3 + 1)
            + m.daily
                .iter()
                .filter(|p| p.latency_p50_ms.is_some())
                .count()
            + m.daily
                .iter()
                .filter(|p| p.latency_p95_ms.is_some())
                .count()
    );
    for t in &r.thresholds {
        let card = format!(
            r#"data-testid="threshold-acme__api-{}" data-status="#,
            t.metric
        );
        assert!(html.contains(&card), "{card}");
    }
    let a = &r.associations[0];
    assert!(html.contains(&format!(
        r#"data-key="acme/api|{}|{}|{}""#,
        a.ai_series, a.outcome_series, a.lag
    )));
    assert!(html.contains(&crate::render::human(a.pearson.r)));
}

#[test]
fn chrome_is_placed_and_its_title_escaped() {
    let r = report();
    let chrome = PageChrome {
        title: "Dashboard <acme>".into(),
        head_html: "<meta name=\"x-test\" content=\"1\">".into(),
        top_html: "<nav id=\"dash-nav\">nav</nav>".into(),
    };
    let html = render_document(&r, &chrome);
    assert!(html.contains("<title>Dashboard &lt;acme&gt;</title>"));
    let head_end = html.find("</head>").unwrap();
    assert!(html.find("x-test").unwrap() < head_end);
    let nav = html.find("dash-nav").unwrap();
    assert!(nav > html.find("<body>").unwrap() && nav < html.find("<main").unwrap());
    assert_eq!(
        PageChrome::standalone(&r).title,
        "ProdLens report 2025-09-01 → 2025-09-14"
    );
}

#[test]
fn an_empty_report_still_renders() {
    let mut r = report();
    r.metrics.clear();
    r.associations.clear();
    r.thresholds.clear();
    r.metadata.repos.clear();
    r.warnings.clear();
    let html = HtmlRenderer.render(&r).unwrap();
    assert!(html.contains("No associations"));
    assert!(html.contains("<p>None.</p>"));
    for tag in ["svg", "table", "section", "div"] {
        balanced(&html, tag);
    }
}
