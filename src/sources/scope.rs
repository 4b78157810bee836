//! A [`Scope`]: an ordered list of JSON objects in which a source looks fields up.
//!
//! The seed's normaliser read each field from several places (attributes, metadata, the top
//! level) under several names; a scope encodes that precedence once, and its typed getters return
//! the dead-letter reason (naming the key) when a present value has the wrong type.

use super::fields::{self, Obj};
use serde_json::Value;

/// Ordered objects searched for a field: keys first, then objects (first key found anywhere wins).
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    objs: &'a [&'a Obj],
}

impl<'a> Scope<'a> {
    /// A scope over `objs`, searched in that order.
    pub fn new(objs: &'a [&'a Obj]) -> Self {
        Scope { objs }
    }

    /// The raw value of the first key present.
    pub fn value(&self, keys: &[&str]) -> Option<(&'a Value, String)> {
        fields::first(self.objs, keys)
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
        keys.iter().find_map(|k| {
            self.objs.iter().find_map(|o| {
                fields::lookup(o, k).and_then(|v| fields::string(v, k).ok().flatten())
            })
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
