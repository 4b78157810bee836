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
    /// A SQLite failure.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    /// JSON (de)serialisation of internal data failed.
    #[error("json error: {0}")]
    Json(#[from] serde_json::Error),
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
