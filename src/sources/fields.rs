//! Typed, defensive reads of JSON fields shared by every source module.
//!
//! Each reader returns `Ok(None)` when the field is absent or null and `Err(reason)` when it is
//! present with a wrong type or an impossible value, so that the caller can dead-letter the line
//! with a precise reason instead of guessing.

use serde_json::{Map, Value};

/// A JSON object.
pub type Obj = Map<String, Value>;

/// Human name of a JSON value's type, for error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Looks `key` up in `obj`: first as a literal key (flat OTel-style `"llm.model_name"`), then as a
/// dotted path through nested objects (`{"llm": {"model_name": …}}`). Null counts as absent.
pub fn lookup<'a>(obj: &'a Obj, key: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(key) {
        return (!v.is_null()).then_some(v);
    }
    let mut rest = key;
    let mut offset = 0;
    while let Some(i) = rest.find('.') {
        let (head, tail) = key.split_at(offset + i);
        if let Some(Value::Object(inner)) = obj.get(head) {
            if let Some(v) = lookup(inner, &tail[1..]) {
                return Some(v);
            }
        }
        offset += i + 1;
        rest = &key[offset..];
    }
    None
}

/// A string field's text: trimmed, None when that leaves nothing.
pub fn trimmed(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// A non-empty trimmed string; numbers are rendered as text. Other types are an error.
pub fn string(v: &Value, name: &str) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(trimmed(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        other => Err(format!("{name} must be a string, got {}", type_name(other))),
    }
}

/// A finite, non-negative number (numeric strings allowed).
pub fn non_negative_f64(v: &Value, name: &str) -> Result<Option<f64>, String> {
    let x = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        other => return Err(format!("{name} must be a number, got {}", type_name(other))),
    };
    match x {
        Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
        Some(x) if x.is_finite() => Err(format!("{name} is negative ({x})")),
        Some(x) => Err(format!("{name} is not finite ({x})")),
        None => Err(format!("{name} is not a number ({v})")),
    }
}

/// Largest token count accepted for one call; beyond it a value is corrupt, not usage.
pub const MAX_TOKENS: i64 = 1 << 40;

/// A non-negative whole count (tokens, lines): integers, integral floats or numeric strings.
pub fn count(v: &Value, name: &str) -> Result<Option<i64>, String> {
    let out = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i)
            } else if n.as_u64().is_some() {
                return Err(format!("{name} overflows ({n})"));
            } else {
                float_count(n.as_f64().unwrap_or(f64::NAN), name)?
            }
        }
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => Some(i),
            Err(_) => float_count(s.trim().parse::<f64>().unwrap_or(f64::NAN), name)?,
        },
        other => {
            return Err(format!(
                "{name} must be a non-negative integer, got {}",
                type_name(other)
            ))
        }
    };
    match out {
        Some(i) if i < 0 => Err(format!("{name} is negative ({i})")),
        Some(i) if i > MAX_TOKENS => Err(format!("{name} overflows ({i})")),
        other => Ok(other),
    }
}

fn float_count(x: f64, name: &str) -> Result<Option<i64>, String> {
    if !x.is_finite() {
        return Err(format!("{name} is not a finite number"));
    }
    if x.fract() != 0.0 {
        return Err(format!("{name} is not a whole number ({x})"));
    }
    if x.abs() > MAX_TOKENS as f64 {
        return Err(format!("{name} overflows ({x})"));
    }
    Ok(Some(x as i64))
}

/// A boolean signal: JSON bools, `"true"/"1"/"yes"/"y"/"accepted"` (and their negatives), numbers
/// (non-zero is true). Unrecognised strings are an error.
pub fn boolean(v: &Value, name: &str) -> Result<Option<bool>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(Some(x != 0.0)),
            _ => Err(format!("{name} is not a finite number")),
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" | "yes" | "y" | "t" | "accepted" | "accept" => Ok(Some(true)),
            "false" | "0" | "no" | "n" | "f" | "rejected" | "reject" => Ok(Some(false)),
            other => Err(format!("{name} is not a boolean ({other:?})")),
        },
        other => Err(format!(
            "{name} must be a boolean, got {}",
            type_name(other)
        )),
    }
}

/// An object given either inline or as a JSON-encoded string (as OTel exporters flatten it).
pub fn object_or_json_string(v: &Value, name: &str) -> Result<Option<Obj>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => Ok(Some(m.clone())),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Ok(Some(m)),
            Ok(Value::Null) => Ok(None),
            Ok(other) => Err(format!(
                "{name} JSON string holds a {}, not an object",
                type_name(&other)
            )),
            Err(e) => Err(format!("{name} is a string but not JSON: {e}")),
        },
        other => Err(format!(
            "{name} must be an object, got {}",
            type_name(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Obj {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn lookup_flat_then_nested() {
        let o = obj(
            json!({"llm.model_name": "a", "llm": {"model": "b"}, "x": {"y": {"z": 1}}, "n": null}),
        );
        assert_eq!(lookup(&o, "llm.model_name"), Some(&json!("a")));
        assert_eq!(lookup(&o, "llm.model"), Some(&json!("b")));
        assert_eq!(lookup(&o, "x.y.z"), Some(&json!(1)));
        assert_eq!(lookup(&o, "n"), None);
        assert_eq!(lookup(&o, "x.q"), None);
    }

    #[test]
    fn counts_reject_bad_values() {
        assert_eq!(count(&json!(5), "t"), Ok(Some(5)));
        assert_eq!(count(&json!(5.0), "t"), Ok(Some(5)));
        assert_eq!(count(&json!("7"), "t"), Ok(Some(7)));
        assert!(count(&json!(-1), "t").is_err());
        assert!(count(&json!(1.5), "t").is_err());
        assert!(count(&json!("abc"), "t").is_err());
        assert!(count(&json!(u64::MAX), "t").is_err());
        assert!(count(&json!(1e300), "t").is_err());
        assert!(count(&json!([1]), "t").is_err());
    }

    #[test]
    fn booleans_accept_seed_spellings() {
        for t in [
            json!(true),
            json!("true"),
            json!("1"),
            json!("yes"),
            json!(1),
            json!(2.5),
        ] {
            assert_eq!(boolean(&t, "a"), Ok(Some(true)), "{t}");
        }
        for f in [
            json!(false),
            json!("false"),
            json!("0"),
            json!("no"),
            json!(0),
        ] {
            assert_eq!(boolean(&f, "a"), Ok(Some(false)), "{f}");
        }
        assert_eq!(boolean(&json!(""), "a"), Ok(None));
        assert!(boolean(&json!("maybe"), "a").is_err());
    }

    #[test]
    fn metadata_may_be_a_json_string() {
        let m = object_or_json_string(&json!("{\"repo\":\"acme/api\"}"), "metadata").unwrap();
        assert_eq!(m.unwrap()["repo"], json!("acme/api"));
        assert!(object_or_json_string(&json!("nope"), "metadata").is_err());
        assert!(object_or_json_string(&json!("[1]"), "metadata").is_err());
    }

    #[test]
    fn non_negative_numbers() {
        assert_eq!(non_negative_f64(&json!("12.5"), "l"), Ok(Some(12.5)));
        assert!(non_negative_f64(&json!(-3), "l").is_err());
        assert!(non_negative_f64(&json!({}), "l").is_err());
    }
}
