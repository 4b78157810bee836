//! Reads a `usage` object in any of the spellings the sources use.

use super::fields::Obj;
use super::scope::Scope;
use crate::normalise::{self, TokenInputs, Tokens};

/// Reads token counts from a usage object.
///
/// Input: `input_tokens | prompt_tokens`; output: `output_tokens | completion_tokens`; total:
/// `total_tokens`; cache reads: `cache_read_input_tokens | cache_read_tokens |
/// prompt_tokens_details.cached_tokens | input_tokens_details.cached_tokens`; cache writes:
/// `cache_creation_input_tokens | cache_creation_tokens | cache_write_tokens`.
/// Cache tokens count as reported apart from input (Anthropic convention) when the input is
/// spelled `input_tokens` and the cache with Anthropic's `cache_*_input_tokens` names; with
/// `prompt_tokens` (OpenAI / LiteLLM) they are already part of the input.
pub fn read(usage: &Obj) -> Result<Tokens, String> {
    let objs = [usage];
    let s = Scope::new(&objs);
    let anthropic_cache = usage.contains_key("cache_read_input_tokens")
        || usage.contains_key("cache_creation_input_tokens");
    let input_is_anthropic =
        usage.contains_key("input_tokens") && !usage.contains_key("prompt_tokens");
    normalise::tokens(TokenInputs {
        input: s.count(&["input_tokens", "prompt_tokens"])?,
        output: s.count(&["output_tokens", "completion_tokens"])?,
        total: s.count(&["total_tokens"])?,
        cache_read: s.count(&[
            "cache_read_input_tokens",
            "cache_read_tokens",
            "prompt_tokens_details.cached_tokens",
            "input_tokens_details.cached_tokens",
        ])?,
        cache_creation: s.count(&[
            "cache_creation_input_tokens",
            "cache_creation_tokens",
            "cache_write_tokens",
        ])?,
        cache_apart: anthropic_cache && input_is_anthropic,
    })
}

/// True when the usage object holds at least one token field.
pub fn has_tokens(usage: &Obj) -> bool {
    [
        "input_tokens",
        "prompt_tokens",
        "output_tokens",
        "completion_tokens",
        "total_tokens",
    ]
    .iter()
    .any(|k| usage.get(*k).is_some_and(|v| !v.is_null()))
}
