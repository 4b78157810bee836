//! Escaping of data-derived text for HTML/SVG, and safe `id` fragments.

/// Escapes `s` for HTML text and quoted attribute values (`& < > " '`).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters have no business in a page; keep tabs and newlines.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// A fragment usable in `id` and `data-testid` values: ASCII letters, digits, `-`, `_` and `.`
/// stay, `/` becomes `__` (as in `RepoSlug::path_component`: `acme/api` → `acme__api`), every
/// other character `_`.
pub fn id_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') => out.push(c),
            '/' => out.push_str("__"),
            _ => out.push('_'),
        }
    }
    if out.is_empty() {
        "_".into()
    } else {
        out
    }
}

/// A full-precision number for a `data-value` attribute (`""` for no data), so checks can
/// compare with the JSON report exactly.
pub fn data_num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(esc("a\u{0}b\nc"), "a\u{FFFD}b\nc");
        assert_eq!(esc("dev-ünï"), "dev-ünï");
    }

    #[test]
    fn ids_are_plain_ascii() {
        assert_eq!(id_part("acme/api"), "acme__api");
        assert_eq!(id_part("a\"><b c"), "a___b_c");
        assert_eq!(
            id_part("velocity.latency_median_ms"),
            "velocity.latency_median_ms"
        );
        assert_eq!(id_part(""), "_");
        assert_eq!(id_part("cost_usd-1"), "cost_usd-1");
    }

    #[test]
    fn data_numbers_round_trip() {
        assert_eq!(data_num(Some(0.1 + 0.2)), "0.30000000000000004");
        assert_eq!(data_num(Some(3.0)), "3");
        assert_eq!(data_num(None), "");
        assert_eq!(data_num(Some(f64::NAN)), "");
    }
}
