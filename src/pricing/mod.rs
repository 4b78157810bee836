//! Cost: use a credible reported cost, else estimate from a price table, else say "unknown".
//!
//! Rules:
//! * A reported cost (`response_cost`, `cost_usd`, `spend`) is used when credible. A reported 0 for
//!   a successful call with tokens that was not a cache hit is not credible (LiteLLM writes 0.0 for
//!   models it cannot price) and is estimated instead.
//! * Estimate = uncached input × input price + cache reads × cache-read price + cache writes ×
//!   cache-creation price + output × output price (cache prices fall back to the input price).
//! * Model lookup: the exact name, then without a provider prefix (`anthropic/…`), then without a
//!   date suffix (`-20250514`, `-2024-08-06`, `@20240620`), then both.
//! * An unknown model gets no invented price: `cost_usd` is null and `cost_source = unknown`, unless
//!   `--default-price IN,OUT` (USD per million tokens) opts in to a fallback.
//! * A call with no tokens at all costs 0.

use crate::error::Error;
use crate::record::{CostSource, TraceRecord};
use serde_json::Value;
use std::collections::HashMap;

/// The bundled table (LiteLLM format).
const BUNDLED: &str = include_str!("prices.json");

/// USD-per-token prices of one model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Price {
    /// Per uncached input token.
    pub input: f64,
    /// Per output token.
    pub output: f64,
    /// Per cache-read input token.
    pub cache_read: Option<f64>,
    /// Per cache-creation input token.
    pub cache_creation: Option<f64>,
}

impl Price {
    /// Cost of a call under this price.
    pub fn cost(&self, r: &TraceRecord) -> f64 {
        let uncached = (r.tokens_in - r.cache_read_tokens - r.cache_creation_tokens).max(0) as f64;
        uncached * self.input
            + r.cache_read_tokens as f64 * self.cache_read.unwrap_or(self.input)
            + r.cache_creation_tokens as f64 * self.cache_creation.unwrap_or(self.input)
            + r.tokens_out as f64 * self.output
    }
}

/// A model → price table.
#[derive(Clone, Debug, Default)]
pub struct PriceTable {
    prices: HashMap<String, Price>,
}

impl PriceTable {
    /// The table bundled with ProdLens.
    pub fn bundled() -> Self {
        // The bundled file is part of the build and covered by a test; an error here is a bug.
        Self::from_litellm_json(BUNDLED, "bundled").unwrap_or_default()
    }

    /// Parses a table in LiteLLM's `model_prices_and_context_window.json` format. Entries without
    /// input and output prices (images, `sample_spec`, …) are ignored.
    pub fn from_litellm_json(text: &str, origin: &str) -> Result<Self, Error> {
        let err = |reason: String| Error::Pricing {
            origin: origin.to_string(),
            reason,
        };
        let root: Value = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        let Value::Object(map) = root else {
            return Err(err("top level is not a JSON object".into()));
        };
        let num = |e: &serde_json::Map<String, Value>, k: &str| {
            e.get(k)
                .and_then(|v| match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.parse().ok(),
                    _ => None,
                })
                .filter(|x: &f64| x.is_finite() && *x >= 0.0)
        };
        let mut prices = HashMap::new();
        for (name, entry) in &map {
            let Value::Object(e) = entry else { continue };
            let (Some(input), Some(output)) = (
                num(e, "input_cost_per_token"),
                num(e, "output_cost_per_token"),
            ) else {
                continue;
            };
            prices.insert(
                name.to_ascii_lowercase(),
                Price {
                    input,
                    output,
                    cache_read: num(e, "cache_read_input_token_cost"),
                    cache_creation: num(e, "cache_creation_input_token_cost"),
                },
            );
        }
        if prices.is_empty() {
            return Err(err(
                "no entry has input_cost_per_token and output_cost_per_token".into(),
            ));
        }
        Ok(PriceTable { prices })
    }

    /// Number of priced models.
    pub fn len(&self) -> usize {
        self.prices.len()
    }

    /// True when the table has no prices.
    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }

    /// Finds a model's price: exact, without provider prefix, without date suffix, both.
    pub fn lookup(&self, model: &str) -> Option<Price> {
        let m = model.trim().to_ascii_lowercase();
        let bare = m.rsplit('/').next().unwrap_or(&m);
        let found = [m.as_str(), bare]
            .into_iter()
            .flat_map(|n| [n, strip_date(n)])
            .find_map(|n| self.prices.get(n).copied());
        found
    }
}

/// Removes a trailing date (`-20250514`, `-2024-08-06`, `@20240620`) and a trailing `-latest`.
pub fn strip_date(name: &str) -> &str {
    let n = name.strip_suffix("-latest").unwrap_or(name);
    let b = n.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if b.len() > 9 && matches!(b[b.len() - 9], b'-' | b'@') && digits(&b[b.len() - 8..]) {
        return &n[..n.len() - 9];
    }
    if b.len() > 11 && b[b.len() - 11] == b'-' {
        let d = &b[b.len() - 10..];
        if digits(&d[..4]) && d[4] == b'-' && digits(&d[5..7]) && d[7] == b'-' && digits(&d[8..]) {
            return &n[..n.len() - 11];
        }
    }
    n
}

/// Resolves costs for records, caching model lookups.
#[derive(Debug)]
pub struct Pricer {
    table: PriceTable,
    default: Option<Price>,
    cache: HashMap<String, Option<Price>>,
}

impl Pricer {
    /// A pricer over `table`, with an optional `--default-price` fallback.
    pub fn new(table: PriceTable, default: Option<Price>) -> Self {
        Pricer {
            table,
            default,
            cache: HashMap::new(),
        }
    }

    /// Sets `cost_usd` and `cost_source` on a record by the rules in the module docs.
    pub fn apply(&mut self, r: &mut TraceRecord) {
        let no_tokens = r.tokens_in == 0 && r.tokens_out == 0;
        if let Some(c) = r.reported_cost {
            let incredible_zero =
                c == 0.0 && !r.is_error && !no_tokens && r.cache_hit != Some(true);
            if !incredible_zero {
                r.cost_usd = Some(c);
                r.cost_source = CostSource::Reported;
                return;
            }
        }
        if no_tokens {
            r.cost_usd = Some(0.0);
            r.cost_source = CostSource::Estimated;
            return;
        }
        let price = match r.model.as_deref() {
            Some(m) => {
                if !self.cache.contains_key(m) {
                    self.cache.insert(m.to_string(), self.table.lookup(m));
                }
                self.cache.get(m).copied().flatten()
            }
            None => None,
        };
        match price.or(self.default) {
            Some(p) => {
                r.cost_usd = Some(p.cost(r));
                r.cost_source = CostSource::Estimated;
            }
            None => {
                r.cost_usd = None;
                r.cost_source = CostSource::Unknown;
            }
        }
    }
}

/// Parses `--default-price IN,OUT` (USD per million input and output tokens).
pub fn parse_default_price(s: &str) -> Result<Price, Error> {
    let bad = || {
        Error::InvalidArgument(format!(
            "--default-price {s:?}: expected IN,OUT in USD per million tokens, e.g. 3,15"
        ))
    };
    let (a, b) = s.split_once(',').ok_or_else(bad)?;
    let p = |x: &str| {
        x.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let (i, o) = (p(a).ok_or_else(bad)?, p(b).ok_or_else(bad)?);
    Ok(Price {
        input: i / 1e6,
        output: o / 1e6,
        cache_read: None,
        cache_creation: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SourceFormat;

    fn rec(model: &str, tin: i64, tout: i64) -> TraceRecord {
        let ts = chrono::DateTime::from_timestamp(1_760_295_600, 0).unwrap();
        let mut r = crate::sources::blank(SourceFormat::LitellmLogger, ts);
        r.model = Some(model.into());
        r.tokens_in = tin;
        r.tokens_out = tout;
        r
    }

    #[test]
    fn bundled_table_parses_and_has_the_seed_models() {
        let t = PriceTable::bundled();
        assert!(t.len() >= 25);
        for m in [
            "claude-3-opus",
            "claude-3-sonnet",
            "claude-3-haiku",
            "gpt-4",
            "gpt-3.5-turbo",
        ] {
            assert!(t.lookup(m).is_some(), "{m}");
        }
    }

    #[test]
    fn lookup_order() {
        let t = PriceTable::bundled();
        let sonnet = t.lookup("claude-sonnet-4").unwrap();
        assert_eq!(t.lookup("anthropic/claude-sonnet-4-20250514"), Some(sonnet));
        assert_eq!(t.lookup("claude-sonnet-4-20250514"), Some(sonnet));
        assert_eq!(t.lookup("gpt-4o-2024-08-06"), t.lookup("gpt-4o"));
        assert_eq!(
            t.lookup("claude-3-5-sonnet@20240620"),
            t.lookup("claude-3-5-sonnet")
        );
        assert_eq!(t.lookup("Claude-3-Haiku"), t.lookup("claude-3-haiku"));
        assert!(t.lookup("my-internal-model").is_none());
    }

    #[test]
    fn strip_date_forms() {
        assert_eq!(strip_date("claude-sonnet-4-20250514"), "claude-sonnet-4");
        assert_eq!(strip_date("gpt-4o-2024-08-06"), "gpt-4o");
        assert_eq!(strip_date("claude-3-5-sonnet-latest"), "claude-3-5-sonnet");
        assert_eq!(strip_date("gpt-4"), "gpt-4");
    }

    #[test]
    fn credible_reported_cost_is_kept() {
        let mut p = Pricer::new(PriceTable::bundled(), None);
        let mut r = rec("gpt-4o", 1000, 100);
        r.reported_cost = Some(0.5);
        p.apply(&mut r);
        assert_eq!(
            (r.cost_usd, r.cost_source),
            (Some(0.5), CostSource::Reported)
        );
    }

    #[test]
    fn zero_reported_for_successful_call_is_estimated() {
        let mut p = Pricer::new(PriceTable::bundled(), None);
        let mut r = rec("gpt-4o", 1_000_000, 100_000);
        r.reported_cost = Some(0.0);
        p.apply(&mut r);
        assert_eq!(r.cost_source, CostSource::Estimated);
        assert!((r.cost_usd.unwrap() - (2.5 + 1.0)).abs() < 1e-9);
        // A cache hit or a failure may really cost 0.
        let mut hit = rec("gpt-4o", 10, 10);
        hit.reported_cost = Some(0.0);
        hit.cache_hit = Some(true);
        p.apply(&mut hit);
        assert_eq!(
            (hit.cost_usd, hit.cost_source),
            (Some(0.0), CostSource::Reported)
        );
    }

    #[test]
    fn cache_tokens_use_their_prices() {
        let mut p = Pricer::new(PriceTable::bundled(), None);
        let mut r = rec("claude-sonnet-4-5", 1_200_000, 0);
        r.cache_read_tokens = 1_000_000;
        r.cache_creation_tokens = 100_000;
        p.apply(&mut r);
        let want = 100_000.0 * 3e-6 + 1_000_000.0 * 3e-7 + 100_000.0 * 3.75e-6;
        assert!((r.cost_usd.unwrap() - want).abs() < 1e-9);
    }

    #[test]
    fn unknown_model_is_unknown_unless_default_price() {
        let mut p = Pricer::new(PriceTable::bundled(), None);
        let mut r = rec("my-internal-model", 10, 10);
        p.apply(&mut r);
        assert_eq!((r.cost_usd, r.cost_source), (None, CostSource::Unknown));
        let mut p = Pricer::new(
            PriceTable::bundled(),
            Some(parse_default_price("3,15").unwrap()),
        );
        p.apply(&mut r);
        assert_eq!(r.cost_source, CostSource::Estimated);
        assert!((r.cost_usd.unwrap() - (10.0 * 3e-6 + 10.0 * 15e-6)).abs() < 1e-12);
    }

    #[test]
    fn default_price_parsing() {
        assert!(parse_default_price("3,15").is_ok());
        for bad in ["3", "a,b", "-1,2", "1,inf"] {
            assert!(parse_default_price(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn litellm_file_format() {
        let t = PriceTable::from_litellm_json(
            r#"{"sample_spec": {"input_cost_per_token": "0"}, "m": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6, "mode": "chat"}}"#,
            "x",
        )
        .unwrap();
        assert_eq!(t.len(), 1);
        assert!(PriceTable::from_litellm_json("[]", "x").is_err());
        assert!(PriceTable::from_litellm_json("{}", "x").is_err());
    }
}
