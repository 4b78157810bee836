//! Token accounting.
//!
//! Definition: `tokens_in` counts every prompt token, cache reads and writes included (as OpenAI's
//! and LiteLLM's `prompt_tokens` do); `cache_read_tokens` and `cache_creation_tokens` are also kept
//! in their own columns as the parts of it that are priced differently. Sources that report cache
//! tokens apart from input (Anthropic, Claude Code) have them summed into `tokens_in`.

/// Raw token fields as a source found them (already type-checked, non-negative).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct TokenInputs {
    /// Prompt / input tokens, as reported.
    pub input: Option<i64>,
    /// Completion / output tokens.
    pub output: Option<i64>,
    /// Total tokens.
    pub total: Option<i64>,
    /// Cache-read tokens.
    pub cache_read: Option<i64>,
    /// Cache-creation tokens.
    pub cache_creation: Option<i64>,
    /// True when the source reports cache tokens apart from `input` (Anthropic convention).
    pub cache_apart: bool,
}

/// Normalised token counts of one call.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    /// All prompt tokens, cache included.
    pub tokens_in: i64,
    /// Completion tokens.
    pub tokens_out: i64,
    /// Cache-read part of `tokens_in`.
    pub cache_read: i64,
    /// Cache-creation part of `tokens_in`.
    pub cache_creation: i64,
}

/// Token rule: a missing input is `total − output` (≥ 0), else `total`; a missing output is
/// `total − input` (≥ 0); nothing is ever negative. Then cache tokens reported apart are added to
/// the input, and an input smaller than its own cache parts is raised to their sum.
pub fn tokens(t: TokenInputs) -> Result<Tokens, String> {
    let (input, output) = match (t.input, t.output, t.total) {
        (Some(i), Some(o), _) => (i, o),
        (None, Some(o), Some(tot)) => ((tot - o).max(0), o),
        (None, None, Some(tot)) => (tot, 0),
        (Some(i), None, Some(tot)) => (i, (tot - i).max(0)),
        (Some(i), None, None) => (i, 0),
        (None, Some(o), None) => (0, o),
        (None, None, None) => (0, 0),
    };
    let cache_read = t.cache_read.unwrap_or(0);
    let cache_creation = t.cache_creation.unwrap_or(0);
    let cache = cache_read
        .checked_add(cache_creation)
        .ok_or("cache token counts overflow")?;
    let tokens_in = if t.cache_apart {
        input
            .checked_add(cache)
            .ok_or("input token count overflows")?
    } else {
        input.max(cache)
    };
    Ok(Tokens {
        tokens_in,
        tokens_out: output.max(0),
        cache_read,
        cache_creation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(input: Option<i64>, output: Option<i64>, total: Option<i64>) -> Tokens {
        tokens(TokenInputs {
            input,
            output,
            total,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn both_present_are_kept() {
        assert_eq!(
            (
                t(Some(10), Some(5), Some(99)).tokens_in,
                t(Some(10), Some(5), None).tokens_out
            ),
            (10, 5)
        );
    }

    #[test]
    fn missing_input_is_total_minus_output_else_total() {
        assert_eq!(t(None, Some(30), Some(100)).tokens_in, 70);
        assert_eq!(t(None, None, Some(100)).tokens_in, 100);
        assert_eq!(t(None, Some(120), Some(100)).tokens_in, 0, "never negative");
    }

    #[test]
    fn missing_output_is_total_minus_input() {
        assert_eq!(t(Some(60), None, Some(100)).tokens_out, 40);
        assert_eq!(
            t(Some(160), None, Some(100)).tokens_out,
            0,
            "never negative"
        );
        assert_eq!(t(Some(60), None, None).tokens_out, 0);
    }

    #[test]
    fn cache_apart_is_summed_into_input() {
        let r = tokens(TokenInputs {
            input: Some(10),
            output: Some(5),
            cache_read: Some(1000),
            cache_creation: Some(200),
            cache_apart: true,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            r,
            Tokens {
                tokens_in: 1210,
                tokens_out: 5,
                cache_read: 1000,
                cache_creation: 200
            }
        );
    }

    #[test]
    fn cache_included_is_not_double_counted() {
        let r = tokens(TokenInputs {
            input: Some(1210),
            output: Some(5),
            cache_read: Some(1000),
            cache_creation: Some(200),
            cache_apart: false,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.tokens_in, 1210);
        let low = tokens(TokenInputs {
            input: Some(3),
            cache_read: Some(50),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(low.tokens_in, 50, "input is at least its cache parts");
    }

    #[test]
    fn overflow_is_an_error() {
        assert!(tokens(TokenInputs {
            input: Some(i64::MAX),
            cache_read: Some(1),
            cache_apart: true,
            ..Default::default()
        })
        .is_err());
    }
}
