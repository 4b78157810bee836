//! HTML pieces shared by the server's pages: escaping, the head links, the navigation bar and
//! the GET filter form (so every filtered view is a shareable URL).

use std::fmt::Write;

use super::params::Filters;
use crate::stats::calendar::DayWindow;

/// The pages escape data-derived text as the HTML report does.
pub use crate::render::html::escape::esc;

/// Percent-encodes one path segment (developer ids in links).
pub fn path_segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// `<head>` additions of every data page: the stylesheet, the refresh script and the data
/// generation the page shows (the script reloads when the server's differs).
pub fn head_html(generation: u64) -> String {
    format!(
        "<meta name=\"prodlens-generation\" content=\"{generation}\">\n\
         {BASE_HEAD}\
         <script src=\"/static/app.js\" defer></script>\n"
    )
}

/// `<head>` additions of every page: the stylesheet and the icon.
pub const BASE_HEAD: &str = "<link rel=\"stylesheet\" href=\"/static/app.css\">\n\
    <link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">\n";

/// A whole page (for the server's own pages; the report pages use the report renderer).
pub fn document(title: &str, head: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n{head}</head>\n<body>\n{body}</body>\n</html>\n",
        esc(title)
    )
}

/// Which page the navigation marks as current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/`.
    Dashboard,
    /// `/sessions`.
    Sessions,
    /// `/developers/{id}`.
    Developer,
    /// `/prs`.
    Prs,
}

/// The navigation bar; links keep the row filters.
pub fn nav(current: Page, f: &Filters, logout: bool) -> String {
    let q = f.to_query(false);
    let q = if q.is_empty() { q } else { format!("?{q}") };
    let item = |page: Page, href: String, label: &str| {
        let cur = if page == current {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{}\"{cur}>{label}</a>", esc(&href))
    };
    let mut s =
        String::from("<nav class=\"pl-nav\" data-testid=\"nav\">\n<strong>ProdLens</strong>\n");
    s += &item(Page::Dashboard, format!("/{q}"), "Dashboard");
    s += "\n";
    s += &item(Page::Sessions, format!("/sessions{q}"), "Sessions");
    s += "\n";
    s += &item(Page::Prs, format!("/prs{q}"), "Pull requests");
    s += "\n<span id=\"live-status\" class=\"pl-live\" data-testid=\"live-status\">…</span>\n";
    if logout {
        s += "<form method=\"post\" action=\"/logout\" class=\"pl-logout\"><button type=\"submit\">Log out</button></form>\n";
    }
    s += "</nav>\n";
    s
}

/// What the filter form offers besides the filters themselves.
pub struct FormOptions<'a> {
    /// Where the form submits (GET).
    pub action: &'a str,
    /// Every repo of the store, for the repo picker.
    pub repos: &'a [String],
    /// Known developers, suggested in the developer field.
    pub developers: &'a [String],
    /// Known teams, suggested in the team field (shown when there are any or one is chosen).
    pub teams: &'a [String],
    /// Known models, suggested in the model field.
    pub models: &'a [String],
    /// Show the developer field (not on a developer's own page).
    pub developer_field: bool,
    /// Show the lag field (pages showing associations).
    pub lag_field: bool,
    /// Extra parameters kept as hidden fields (sort, order, per_page).
    pub hidden: Vec<(&'static str, String)>,
    /// The resolved window, shown as the default.
    pub window: Option<&'a DayWindow>,
}

fn datalist(id: &str, values: &[String]) -> String {
    let mut s = format!("<datalist id=\"{id}\">");
    for v in values {
        let _ = write!(s, "<option value=\"{}\">", esc(v));
    }
    s + "</datalist>"
}

/// The GET filter form.
pub fn filter_form(f: &Filters, o: &FormOptions) -> String {
    let mut s = format!(
        "<form method=\"get\" action=\"{}\" id=\"filters\" class=\"pl-filters\" data-testid=\"filters\">\n",
        esc(o.action)
    );
    let size = o.repos.len().clamp(1, 4);
    let _ = write!(
        s,
        "<label>Repo <select name=\"repo\" multiple size=\"{size}\" data-testid=\"filter-repo\">"
    );
    for r in o.repos {
        let sel = if f.repos.contains(r) { " selected" } else { "" };
        let _ = write!(s, "<option value=\"{0}\"{sel}>{0}</option>", esc(r));
    }
    s += "</select></label>\n";
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let (dsince, duntil) = o
        .window
        .map(|w| (w.since().to_string(), w.until().to_string()))
        .unwrap_or_default();
    let _ = write!(
        s,
        "<label>Since <input type=\"date\" name=\"since\" value=\"{}\" data-default=\"{}\" data-testid=\"filter-since\"></label>\n\
         <label>Until <input type=\"date\" name=\"until\" value=\"{}\" data-default=\"{}\" data-testid=\"filter-until\"></label>\n",
        day(f.since),
        esc(&dsince),
        day(f.until),
        esc(&duntil)
    );
    if o.developer_field {
        let _ = writeln!(
            s,
            "<label>Developer <input type=\"text\" name=\"developer\" list=\"pl-developers\" value=\"{}\" data-testid=\"filter-developer\">{}</label>",
            esc(f.developer.as_deref().unwrap_or("")),
            datalist("pl-developers", o.developers)
        );
    }
    if !o.teams.is_empty() || f.team.is_some() {
        let _ = writeln!(
            s,
            "<label>Team <input type=\"text\" name=\"team\" list=\"pl-teams\" value=\"{}\" data-testid=\"filter-team\">{}</label>",
            esc(f.team.as_deref().unwrap_or("")),
            datalist("pl-teams", o.teams)
        );
    }
    let _ = write!(
        s,
        "<label>Model <input type=\"text\" name=\"model\" list=\"pl-models\" value=\"{}\" data-testid=\"filter-model\">{}</label>\n\
         <label>Timezone <input type=\"text\" name=\"timezone\" value=\"{}\" size=\"16\" data-testid=\"filter-timezone\"></label>\n",
        esc(f.model.as_deref().unwrap_or("")),
        datalist("pl-models", o.models),
        esc(f.tz.name())
    );
    if o.lag_field {
        let _ = writeln!(
            s,
            "<label>Lag (days) <input type=\"number\" name=\"lag\" min=\"0\" max=\"{}\" value=\"{}\" data-testid=\"filter-lag\"></label>",
            crate::report::MAX_LAG,
            f.lag
        );
        // Options without a field here survive a submit.
        if f.max_lag != Filters::default().max_lag {
            let _ = write!(
                s,
                "<input type=\"hidden\" name=\"max_lag\" value=\"{}\">",
                f.max_lag
            );
        }
        for g in &f.policy_models {
            let _ = write!(
                s,
                "<input type=\"hidden\" name=\"policy_model\" value=\"{}\">",
                esc(g)
            );
        }
        if f.business_days {
            s += "<input type=\"hidden\" name=\"business_days\" value=\"true\">";
        }
        if f.exact {
            s += "<input type=\"hidden\" name=\"exact\" value=\"true\">";
        }
    }
    for (k, v) in &o.hidden {
        let _ = write!(
            s,
            "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
            esc(v)
        );
    }
    let _ = write!(
        s,
        "<button type=\"submit\" data-testid=\"apply-filters\">Apply</button>\n\
         <a href=\"{}\" class=\"pl-reset\">Reset</a>\n",
        esc(o.action)
    );
    if let Some(w) = o.window {
        let _ = writeln!(
            s,
            "<p class=\"pl-window\" data-testid=\"filter-window\">Showing {} to {} ({})</p>",
            w.since(),
            w.until(),
            esc(f.tz.name())
        );
    }
    s += "</form>\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_encodes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(path_segment("a b/c?d"), "a%20b%2Fc%3Fd");
    }

    #[test]
    fn form_escapes_every_value() {
        let hostile = "<script>alert(1)</script>".to_string();
        let f = Filters {
            developer: Some(hostile.clone()),
            model: Some(hostile.clone()),
            policy_models: vec![hostile.clone()],
            ..Filters::default()
        };
        let repos = ["acme/api".to_string()];
        let html = filter_form(
            &f,
            &FormOptions {
                action: "/",
                repos: &repos,
                developers: std::slice::from_ref(&hostile),
                teams: &[],
                models: &[],
                developer_field: true,
                lag_field: true,
                hidden: vec![("sort", hostile.clone())],
                window: None,
            },
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        let n = nav(Page::Sessions, &f, true);
        assert!(!n.contains("<script>"));
        assert!(n.contains("aria-current"));
    }
}
