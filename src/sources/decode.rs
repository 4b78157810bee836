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
    // Claude Code: what a tool returned (file contents, command output) on user lines.
    "toolUseResult",
];

/// Keys skipped inside a top-level `message` object (Claude Code's transcript text; its `id`,
/// `model` and `usage` are kept).
const SKIPPED_IN_MESSAGE: &[&str] = &["content"];

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
            } else if key == "message" {
                let v = map.next_value_seed(MessageSeed)?;
                obj.insert(key, v);
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

/// Decodes a `message` value: an object loses its [`SKIPPED_IN_MESSAGE`] keys, anything else is
/// kept as it is.
struct MessageSeed;

impl<'de> DeserializeSeed<'de> for MessageSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(MessageVisitor)
    }
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if SKIPPED_IN_MESSAGE.contains(&key.as_str()) {
                map.next_value::<IgnoredAny>()?;
            } else {
                obj.insert(key, map.next_value()?);
            }
        }
        Ok(Value::Object(obj))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
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
    fn claude_code_transcript_text_is_left_out() {
        let Decoded::Object(o) = decode(
            r#"{"type":"assistant","toolUseResult":{"stdout":"x"},"message":{"id":"m","content":[{"type":"text","text":"secret"}],"usage":{"input_tokens":1}}}"#,
        )
        .unwrap() else {
            panic!("not an object")
        };
        assert!(!o.contains_key("toolUseResult"));
        let m = o["message"].as_object().unwrap();
        assert_eq!((m.len(), m["id"].as_str()), (2, Some("m")));
        assert_eq!(m["usage"]["input_tokens"], 1);
        // Any other `message` is kept as it is.
        for text in [
            r#"{"message":"hi"}"#,
            r#"{"message":[1,{"a":null}]}"#,
            r#"{"message":2.5}"#,
        ] {
            let Decoded::Object(o) = decode(text).unwrap() else {
                panic!("not an object")
            };
            let want: Value = serde_json::from_str(text).unwrap();
            assert_eq!(o["message"], want["message"], "{text}");
        }
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
