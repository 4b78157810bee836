//! Self-contained HTML report: one file with inline CSS, SVG charts and a tiny sorting script,
//! no external URL of any kind, readable without JavaScript and printable.
//!
//! - [`escape`]: escaping of data-derived text and `id` fragments.
//! - [`svg`]: chart primitives (palette, axes, legend) and the daily time chart.
//! - [`bars`]: bar charts (histograms, weekly counts, cost per model, lag charts).
//! - [`sections`]: header, threshold cards, warnings and definitions.
//! - [`repo`]: one repo's charts and tables.
//! - [`assoc`]: the association table and the lag charts.
//!
//! The dashboard wraps the same document with its own page furniture through
//! [`render_document`] and [`PageChrome`].

pub mod assoc;
pub mod bars;
pub mod cohorts;
pub mod escape;
pub mod repo;
pub mod sections;
pub mod svg;

#[cfg(test)]
mod tests;

use super::Renderer;
use crate::error::Result;
use crate::metrics::Report;
use escape::esc;

/// The stylesheet (screen and print), inlined into every page.
pub const STYLE: &str = include_str!("style.css");
/// The table-sorting script, inlined into every page (the page is complete without it).
pub const SORT_SCRIPT: &str = include_str!("sort.js");

/// Page furniture the dashboard adds around the report (trusted HTML fragments).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageChrome {
    /// Text of the `<title>` element (escaped when written).
    pub title: String,
    /// Trusted HTML appended to `<head>` (extra styles or scripts).
    pub head_html: String,
    /// Trusted HTML placed at the top of `<body>`, before the report (navigation, filters).
    pub top_html: String,
}

impl PageChrome {
    /// The chrome of a standalone report file: a title naming the window, nothing else.
    pub fn standalone(report: &Report) -> Self {
        let m = &report.metadata;
        PageChrome {
            title: format!("ProdLens report {} → {}", m.since, m.until),
            head_html: String::new(),
            top_html: String::new(),
        }
    }
}

/// Renders one complete HTML document for `report` with `chrome`.
pub fn render_document(report: &Report, chrome: &PageChrome) -> String {
    let mut s = String::with_capacity(256 * 1024);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    s.push_str("<meta name=\"generator\" content=\"prod-lens\">\n");
    s.push_str(&format!("<title>{}</title>\n", esc(&chrome.title)));
    s.push_str("<style>\n");
    s.push_str(STYLE);
    s.push_str("</style>\n");
    s.push_str(&chrome.head_html);
    s.push_str("\n</head>\n<body>\n");
    s.push_str(&chrome.top_html);
    s.push_str("\n<main id=\"report\" data-testid=\"report\">\n");
    s.push_str(&sections::header(report));
    s.push_str(&assoc::primary_block(report));
    s.push_str(&sections::thresholds(report));
    for (name, m) in &report.metrics {
        s.push_str(&repo::section(name, m, report.privacy.developers_shown));
    }
    s.push_str(&cohorts::section(report));
    s.push_str(&assoc::section(report));
    s.push_str(&sections::privacy(report));
    s.push_str(&sections::warnings(report));
    s.push_str(&sections::definitions(report));
    s.push_str("</main>\n<script>\n");
    s.push_str(SORT_SCRIPT);
    s.push_str("</script>\n</body>\n</html>\n");
    s
}

/// One self-contained HTML file (`--format html`).
pub struct HtmlRenderer;

impl Renderer for HtmlRenderer {
    fn render(&self, report: &Report) -> Result<String> {
        Ok(render_document(report, &PageChrome::standalone(report)))
    }
}
