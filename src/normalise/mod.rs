//! Normalisation rules shared by every source: session, developer, tokens, status, dedupe key.
//!
//! Each rule is a pure function, unit-tested one by one, so that every source module applies the
//! same definitions.

mod identity;
mod tokens;

pub use identity::{developer_id, session_id, SessionInputs};
pub use tokens::{tokens, TokenInputs, Tokens};

use crate::record::TraceRecord;

/// Status of a call: the HTTP code when present; a reported failure without a code is an error.
///
/// Returns `(status_code, is_error)`.
pub fn status(status_code: Option<i64>, failure: bool) -> (Option<i64>, bool) {
    let is_error = failure || status_code.is_some_and(|c| c >= 400);
    (status_code, is_error)
}

/// Computes the 16-byte dedupe key of a record.
///
/// With a source call id (LiteLLM `litellm_call_id`) the key is a hash of that id alone, so the
/// same call logged twice, in two files or two formats, is one row. Otherwise it is a hash of the
/// normalised key fields (format, timestamp, repo, developer, session, trace, response id, model,
/// tokens, latency, status), so re-ingesting a file inserts nothing while distinct calls differ.
pub fn dedupe_key(r: &TraceRecord) -> [u8; 16] {
    let mut h = blake3::Hasher::new();
    if let Some(id) = &r.call_id {
        h.update(b"call-id\0");
        h.update(id.as_bytes());
    } else {
        h.update(b"fields\0");
        let opt = |h: &mut blake3::Hasher, s: &Option<String>| {
            match s {
                Some(s) => {
                    h.update(&(s.len() as u64).to_le_bytes());
                    h.update(s.as_bytes())
                }
                None => h.update(&u64::MAX.to_le_bytes()),
            };
        };
        h.update(r.source_format.name().as_bytes());
        h.update(&r.timestamp.timestamp_micros().to_le_bytes());
        for s in [
            &r.repo_slug,
            &r.developer_id,
            &r.session_id,
            &r.trace_id,
            &r.response_id,
            &r.model,
            &r.call_type,
        ] {
            opt(&mut h, s);
        }
        for n in [
            r.tokens_in,
            r.tokens_out,
            r.cache_read_tokens,
            r.cache_creation_tokens,
        ] {
            h.update(&n.to_le_bytes());
        }
        h.update(
            &r.latency_ms
                .map(f64::to_bits)
                .unwrap_or(u64::MAX)
                .to_le_bytes(),
        );
        h.update(&r.status_code.unwrap_or(-1).to_le_bytes());
        h.update(&[r.is_error as u8]);
    }
    let mut out = [0u8; 16];
    out.copy_from_slice(&h.finalize().as_bytes()[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_code_decides_when_present() {
        assert_eq!(status(Some(200), false), (Some(200), false));
        assert_eq!(status(Some(429), false), (Some(429), true));
        assert_eq!(status(Some(500), false), (Some(500), true));
        assert_eq!(status(Some(399), false), (Some(399), false));
    }

    #[test]
    fn failure_without_code_is_an_error() {
        assert_eq!(status(None, true), (None, true));
        assert_eq!(status(None, false), (None, false));
    }
}
