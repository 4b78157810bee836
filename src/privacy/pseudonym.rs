//! Stable pseudonyms for developers: a keyed HMAC-SHA256 of the id, so the same person gets the
//! same pseudonym in every output and run, and nobody without the key can compute it back from a
//! guessed e-mail.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Prefix of every pseudonym.
pub const PREFIX: &str = "dev-";

/// Hex digits of the HMAC kept in a pseudonym (32 bits: two of 1 000 developers share one with a
/// chance of about 1 in 9 000).
pub const DIGITS: usize = 8;

/// Shortest key accepted from `PRODLENS_PSEUDONYM_KEY`.
pub const MIN_KEY_LEN: usize = 16;

/// Turns developer ids and logins into pseudonyms such as `dev-3f9a1c07`.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never reaches a log.
        f.write_str("Pseudonymizer(..)")
    }
}

impl Pseudonymizer {
    /// A pseudonymizer keyed with `key` (at least [`MIN_KEY_LEN`] bytes).
    pub fn new(key: &[u8]) -> Result<Self, String> {
        if key.len() < MIN_KEY_LEN {
            return Err(format!(
                "the pseudonym key has {} bytes; use at least {MIN_KEY_LEN}",
                key.len()
            ));
        }
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|e| e.to_string())?;
        Ok(Self { mac })
    }

    /// A new random key, hex-encoded (32 bytes from the operating system).
    pub fn random_key() -> Result<String, String> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| format!("no random key: {e}"))?;
        Ok(hex(&key))
    }

    /// The pseudonym of `id`: ids that differ only in ASCII case or surrounding blanks (one
    /// developer, as the report counts them) get the same one.
    pub fn pseudonym(&self, id: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(id.trim().to_ascii_lowercase().as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut s = String::with_capacity(PREFIX.len() + DIGITS);
        s.push_str(PREFIX);
        s.push_str(&hex(&digest)[..DIGITS]);
        s
    }

    /// Whether `s` has the shape of a pseudonym (to accept one where an id is asked for).
    pub fn looks_like(s: &str) -> bool {
        s.strip_prefix(PREFIX)
            .is_some_and(|h| h.len() == DIGITS && h.bytes().all(|b| b.is_ascii_hexdigit()))
    }
}

/// Lower-case hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equals_hmac_sha256_reference() {
        // Computed with Python: hmac.new(b"0123456789abcdef", b"alice@acme.com",
        // hashlib.sha256).hexdigest() == "8ab3a4e645e1552f…".
        let p = Pseudonymizer::new(b"0123456789abcdef").unwrap();
        assert_eq!(p.pseudonym("alice@acme.com"), "dev-8ab3a4e6");
        assert_eq!(
            p.pseudonym(" Alice@ACME.com "),
            p.pseudonym("alice@acme.com")
        );
        assert_ne!(p.pseudonym("bob@acme.com"), p.pseudonym("alice@acme.com"));
        assert!(Pseudonymizer::looks_like(&p.pseudonym("x")));
        assert!(!Pseudonymizer::looks_like("dev-xyz"));
    }

    #[test]
    fn key_matters_and_short_keys_are_refused() {
        let a = Pseudonymizer::new(b"0123456789abcdef").unwrap();
        let b = Pseudonymizer::new(b"0123456789abcdeX").unwrap();
        assert_ne!(a.pseudonym("alice"), b.pseudonym("alice"));
        assert!(Pseudonymizer::new(b"short").is_err());
        assert_eq!(Pseudonymizer::random_key().unwrap().len(), 64);
        assert!(!format!("{a:?}").contains("0123"));
    }
}
