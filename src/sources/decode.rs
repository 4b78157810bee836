//! Decoding one line into a top-level JSON object, skipping bulky fields no source reads.
//!
//! LiteLLM payloads carry the prompt (`messages`), the response, and a copy of the model's price
//! map (`model_map_information`, ~300 keys): most of a line's bytes. They are scanned but never
//! built into values, which makes decoding several times faster and guarantees that prompt and
//! response text cannot reach a record.

use super::fields::{type_name, Obj};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// Top-level keys never read by any source.
const SKIPPED: &[&str] = &[
    "messages",
    "response",
    "model_map_information",
    "model_parameters",
    "standard_built_in_tools_params",
    "guardrail_information",
    "input",
    "output",
    "prompt",
    "completion",
    "content",
    "vector_store_request_metadata",
];

/// What a line decoded to.
pub enum Decoded {
    /// A JSON object (bulky fields left out).
    Object(Obj),
    /// Valid JSON that is not an object; the type name.
    NotObject(&'static str),
}

/// Decodes a line; errors are serde_json's messages.
pub fn decode(text: &str) -> Result<Decoded, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let out = TopSeed.deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(out)
}

struct TopSeed;

impl<'de> DeserializeSeed<'de> for TopSeed {
    type Value = Decoded;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Decoded, D::Error> {
        d.deserialize_any(TopVisitor)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Decoded;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Decoded, A::Error> {
        let mut obj = Obj::new();
        while let Some(key) = map.next_key::<String>()? {
            if SKIPPED.contains(&key.as_str()) {
                map.next_value::<IgnoredAny>()?;
            } else {
                let v: Value = map.next_value()?;
                obj.insert(key, v);
            }
        }
        Ok(Decoded::Object(obj))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Decoded, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Decoded::NotObject("array"))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Decoded, E> {
        Ok(Decoded::NotObject(type_name(&Value::Bool(true))))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Decoded, E> {
        Ok(Decoded::NotObject("number"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Decoded, E> {
        Ok(Decoded::NotObject("number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Decoded, E> {
        Ok(Decoded::NotObject("number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Decoded, E> {
        Ok(Decoded::NotObject("string"))
    }
    fn visit_unit<E>(self) -> Result<Decoded, E> {
        Ok(Decoded::NotObject("null"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_bulky_keys_and_keeps_the_rest() {
        let Decoded::Object(o) = decode(
            r#"{"a": 1, "messages": [{"content": "secret"}], "b": {"c": "d"}, "response": "x"}"#,
        )
        .unwrap() else {
            panic!("not an object")
        };
        assert_eq!(o.len(), 2);
        assert!(o.contains_key("a") && o.contains_key("b"));
    }

    #[test]
    fn non_objects_and_errors() {
        assert!(matches!(decode("[1,2]"), Ok(Decoded::NotObject("array"))));
        assert!(matches!(decode("null"), Ok(Decoded::NotObject("null"))));
        assert!(matches!(decode("\"s\""), Ok(Decoded::NotObject("string"))));
        assert!(decode("{\"a\": 1} trailing").is_err());
        assert!(decode("{\"a\": ").is_err());
        assert!(
            decode("{\"messages\": [1, }").is_err(),
            "skipped values are still validated"
        );
    }
}
