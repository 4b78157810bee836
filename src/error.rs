//! Library error types: one enum per failure domain, all convertible into [`Error`].

use std::path::PathBuf;

/// Any error the ProdLens library returns to its caller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A repository slug failed validation (`owner/name` with `[A-Za-z0-9._-]` parts).
    #[error(
        "invalid repo slug: {0:?} (expected owner/name using letters, digits, '.', '_' or '-')"
    )]
    InvalidSlug(String),
    /// An input path could not be read.
    #[error("cannot read {path}: {source}")]
    Input {
        /// The path that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// Any other I/O failure, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What the library was doing.
        context: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A PostgreSQL failure (`ingest-litellm`); the message never holds the password.
    #[error("PostgreSQL error: {0}")]
    Postgres(String),
    /// A failure of the store's database, whichever backend it is.
    #[error("database error: {0}")]
    Store(StoreError),
    /// The database was written by a newer ProdLens.
    #[error("database schema version {found} is newer than this ProdLens understands ({supported}); upgrade prod-lens")]
    SchemaTooNew {
        /// Version found in the file.
        found: i64,
        /// Highest version this build knows.
        supported: i64,
    },
    /// A price table could not be parsed.
    #[error("invalid price table {origin}: {reason}")]
    Pricing {
        /// Where the table came from (file path or "bundled").
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A user-supplied value (flag, option) is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// GitHub rejected the credentials (HTTP 401).
    #[error("GitHub rejected the credentials while syncing {repo} (HTTP 401 {detail}): the token is invalid, expired or revoked — check GITHUB_TOKEN / --token")]
    GitHubUnauthorized {
        /// The repo being synced.
        repo: String,
        /// GitHub's message.
        detail: String,
    },
    /// GitHub refused a request for a reason a retry cannot fix (404, 403, 3xx, 4xx).
    #[error("{repo}: GitHub answered HTTP {status} for {url}: {hint}")]
    GitHubRefused {
        /// The repo being synced.
        repo: String,
        /// HTTP status.
        status: u16,
        /// The page URL (never holds a token).
        url: String,
        /// The likely cause and what to do.
        hint: String,
    },
    /// The primary rate limit is exhausted and resets later than `--max-wait` allows.
    #[error("GitHub rate limit exhausted while syncing {repo}: it resets at {reset_at} (in {wait}, beyond --max-wait {max_wait}); re-run after {reset_at}. Everything fetched so far is stored and the next run resumes from there")]
    RateLimited {
        /// The repo being synced.
        repo: String,
        /// When the limit resets (RFC 3339 UTC).
        reset_at: String,
        /// How long until then.
        wait: String,
        /// The configured maximum wait.
        max_wait: String,
    },
    /// A page from GitHub (or an imported file) is not what its kind should look like.
    #[error("malformed page for {repo} at {url}: {reason} (everything before it is stored)")]
    MalformedPage {
        /// The repo being synced.
        repo: String,
        /// The page URL or file.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A request failed for good after its retries (network errors, 5xx).
    #[error("request to {url} failed after {attempts} attempt(s): {reason}")]
    Http {
        /// The page URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// JSON (de)serialisation of internal data failed.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
    /// A Parquet lake file could not be written or read.
    #[error("parquet lake: {context}: {source}")]
    Parquet {
        /// What the lake was doing (names the file).
        context: String,
        /// The underlying Parquet error.
        source: parquet::errors::ParquetError,
    },
    /// Arrow data for the Parquet lake could not be assembled.
    #[error("parquet lake: {context}: {source}")]
    Arrow {
        /// What the lake was doing.
        context: String,
        /// The underlying Arrow error.
        source: arrow::error::ArrowError,
    },
    /// The Parquet lake is inconsistent in a way that needs attention (message says how).
    #[error("parquet lake: {0}")]
    Lake(String),
    /// Input to a statistic was rejected.
    #[error("statistics: {0}")]
    Stats(#[from] crate::stats::StatsError),
}

impl Error {
    /// Wraps an I/O error with a description of what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A store backend's own error, kept opaque so that no backend's type is part of the library's
/// API; it shows as the backend's message and keeps the backend's causes as its source.
#[derive(Debug)]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync + 'static>);

impl StoreError {
    /// Wraps a backend's error.
    pub(crate) fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError(Box::new(e))
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
