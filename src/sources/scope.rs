//! A [`Scope`]: an ordered list of JSON objects in which a source looks fields up.
//!
//! The seed's normaliser read each field from several places (attributes, metadata, the top
//! level) under several names; a scope encodes that precedence once, and its typed getters return
//! the dead-letter reason (naming the key) when a present value has the wrong type.

use super::fields::{self, Obj};
use serde_json::Value;

/// Objects of a scope that get a [`KeyFilter`]; a scope over more searches the rest unfiltered.
const FILTERED: usize = 6;

/// Which first segments (the text before the first `.`) an object's keys have, as bits of a
/// 128-bit hash set. A lookup of `a.b.c` can only succeed in an object with a key whose first
/// segment is `a` (the literal key `a.b.c`, or `a` holding `{"b": …}`), so an object whose filter
/// lacks that bit is skipped without searching it. Most lookups of a source's many alternative
/// key names miss; this makes a miss a bit test instead of several string comparisons.
#[derive(Clone, Copy)]
struct KeyFilter(u128);

impl KeyFilter {
    /// Every bit set: searches everything.
    const ALL: KeyFilter = KeyFilter(u128::MAX);

    fn of(obj: &Obj) -> Self {
        KeyFilter(obj.keys().fold(0, |bits, k| bits | segment_bit(k)))
    }

    fn may_hold(self, bit: u128) -> bool {
        self.0 & bit != 0
    }
}

/// The filter bit of a key's first segment (FNV-1a, folded to 7 bits).
fn segment_bit(key: &str) -> u128 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in key.as_bytes() {
        if b == b'.' {
            break;
        }
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    1u128 << ((h ^ (h >> 7) ^ (h >> 14)) & 127)
}

/// Ordered objects searched for a field: keys first, then objects (first key found anywhere wins).
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    objs: &'a [&'a Obj],
    filters: [KeyFilter; FILTERED],
}

impl<'a> Scope<'a> {
    /// A scope over `objs`, searched in that order.
    pub fn new(objs: &'a [&'a Obj]) -> Self {
        let mut filters = [KeyFilter::ALL; FILTERED];
        for (f, o) in filters.iter_mut().zip(objs) {
            *f = KeyFilter::of(o);
        }
        Scope { objs, filters }
    }

    /// The objects that may hold `key`, in order, each with the key.
    fn candidates<'k>(
        &self,
        keys: &'k [&'k str],
    ) -> impl Iterator<Item = (&'a Obj, &'k str)> + use<'a, 'k, '_> {
        keys.iter().flat_map(move |k| {
            let bit = segment_bit(k);
            self.objs.iter().enumerate().filter_map(move |(i, o)| {
                let f = self.filters.get(i).copied().unwrap_or(KeyFilter::ALL);
                f.may_hold(bit).then_some((*o, *k))
            })
        })
    }

    /// The raw value of the first key present.
    pub fn value(&self, keys: &[&str]) -> Option<(&'a Value, String)> {
        self.candidates(keys)
            .find_map(|(o, k)| fields::lookup(o, k).map(|v| (v, k.to_string())))
    }

    /// A non-empty string.
    pub fn string(&self, keys: &[&str]) -> Result<Option<String>, String> {
        match self.value(keys) {
            Some((v, k)) => fields::string(v, &k),
            None => Ok(None),
        }
    }

    /// A string, with non-string values (objects, bools) ignored rather than rejected: for
    /// identity fields that some producers fill with structured values.
    pub fn lenient_string(&self, keys: &[&str]) -> Option<String> {
        self.candidates(keys).find_map(|(o, k)| {
            fields::lookup(o, k).and_then(|v| fields::string(v, k).ok().flatten())
        })
    }

    /// A non-negative whole count.
    pub fn count(&self, keys: &[&str]) -> Result<Option<i64>, String> {
        match self.value(keys) {
            Some((v, k)) => fields::count(v, &k),
            None => Ok(None),
        }
    }

    /// A finite non-negative number.
    pub fn number(&self, keys: &[&str]) -> Result<Option<f64>, String> {
        match self.value(keys) {
            Some((v, k)) => fields::non_negative_f64(v, &k),
            None => Ok(None),
        }
    }

    /// A boolean signal.
    pub fn boolean(&self, keys: &[&str]) -> Result<Option<bool>, String> {
        match self.value(keys) {
            Some((v, k)) => fields::boolean(v, &k),
            None => Ok(None),
        }
    }

    /// An HTTP status code: an integer (or numeric string) in 100..=599.
    pub fn status_code(&self, keys: &[&str]) -> Result<Option<i64>, String> {
        match self.value(keys) {
            Some((v, k)) => match fields::count(v, &k)? {
                Some(c) if (100..=599).contains(&c) => Ok(Some(c)),
                Some(c) => Err(format!("{k} is not an HTTP status code ({c})")),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Obj {
        match v {
            Value::Object(o) => o,
            _ => unreachable!(),
        }
    }

    /// The unfiltered search: keys in order, then objects.
    fn first<'a>(objs: &[&'a Obj], keys: &[&str]) -> Option<(&'a Value, String)> {
        keys.iter().find_map(|k| {
            objs.iter()
                .find_map(|o| fields::lookup(o, k).map(|v| (v, (*k).to_string())))
        })
    }

    #[test]
    fn filtered_lookups_find_what_an_unfiltered_search_finds() {
        let objs = [
            obj(json!({"llm.model_name": "flat", "llm": {"provider": "p"}, "usage": {"a": 1}})),
            obj(json!({"model": "m", "metadata": {"repo": "o/r", "x.y": 2}, "status_code": 200})),
            obj(json!({"gen_ai": {"request": {"model": "g"}}, "a": null, "": 3})),
        ];
        let refs: Vec<&Obj> = objs.iter().collect();
        let keys = [
            "llm.model_name",
            "llm.provider",
            "llm",
            "usage.a",
            "usage.b",
            "model",
            "metadata.repo",
            "metadata.x.y",
            "gen_ai.request.model",
            "gen_ai.request",
            "a",
            "",
            "nope",
            "nope.deeper",
            "status_code",
        ];
        // Every single key and every ordered pair: the same value and key as `first`.
        let mut lists: Vec<Vec<&str>> = keys.iter().map(|k| vec![*k]).collect();
        for a in keys {
            for b in keys {
                lists.push(vec![a, b]);
            }
        }
        for n in 1..=refs.len() {
            let scope = Scope::new(&refs[..n]);
            for list in &lists {
                assert_eq!(
                    scope.value(list),
                    first(&refs[..n], list),
                    "{list:?} over {n} objects"
                );
            }
        }
        // More objects than are filtered: the rest are searched without a filter.
        let many: Vec<&Obj> = std::iter::repeat_n(&objs[0], FILTERED)
            .chain([&objs[2]])
            .collect();
        assert_eq!(
            Scope::new(&many)
                .value(&["gen_ai.request.model"])
                .map(|(v, _)| v.clone()),
            Some(json!("g"))
        );
    }
}
