//! CSV output: the seed's flat `metric,value` rows with dotted names
//! (`ai_outcome_association.pearson.r`, `metrics.acme/api.errors.rate`, …).
//!
//! Arrays of associations and thresholds are keyed by what identifies a row
//! (`associations.<repo>.<ai>.<outcome>.lag<k>.…`, `thresholds.<repo>.<metric>.…`, daily rows by
//! date, developer rows by developer, histogram buckets by label); other arrays by position.
//! Null is an empty value.

use serde_json::Value;

use super::Renderer;
use crate::error::{Error, Result};
use crate::metrics::Report;

/// Flat `metric,value` CSV.
pub struct CsvRenderer;

/// Quotes a CSV field when it holds a comma, a quote or a line break (RFC 4180).
pub fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn element_key(v: &Value, i: usize) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str);
    if let (Some(repo), Some(ai), Some(out), Some(lag)) = (
        s("repo"),
        s("ai_series"),
        s("outcome_series"),
        v.get("lag").and_then(Value::as_u64),
    ) {
        return format!("{repo}.{ai}.{out}.lag{lag}");
    }
    if let (Some(repo), Some(metric)) = (s("repo"), s("metric")) {
        return format!("{repo}.{metric}");
    }
    for key in ["name", "date", "developer", "label"] {
        if let Some(id) = s(key) {
            return id.to_string();
        }
    }
    i.to_string()
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                flatten(&join(k), child, out);
            }
        }
        Value::Array(items) if items.iter().all(|x| !x.is_object()) && !items.is_empty() => {
            let parts: Vec<String> = items.iter().map(scalar).collect();
            out.push((prefix.to_string(), parts.join(";")));
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                flatten(&join(&element_key(child, i)), child, out);
            }
        }
        other => out.push((prefix.to_string(), scalar(other))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Renderer for CsvRenderer {
    fn render(&self, report: &Report) -> Result<String> {
        let value = serde_json::to_value(report)
            .map_err(|e| Error::InvalidArgument(format!("cannot serialise the report: {e}")))?;
        let mut rows = Vec::new();
        flatten("", &value, &mut rows);
        let mut s = String::from("metric,value\n");
        for (k, v) in rows {
            s.push_str(&quote(&k));
            s.push(',');
            s.push_str(&quote(&v));
            s.push('\n');
        }
        Ok(s)
    }
}
