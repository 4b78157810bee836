//! JSON output: the report as one pretty-printed object (stable key names).

use super::Renderer;
use crate::error::{Error, Result};
use crate::metrics::Report;

/// Pretty JSON.
pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn render(&self, report: &Report) -> Result<String> {
        let mut s = serde_json::to_string_pretty(report)
            .map_err(|e| Error::InvalidArgument(format!("cannot serialise the report: {e}")))?;
        s.push('\n');
        Ok(s)
    }
}
