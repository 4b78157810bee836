//! The dead-letter queue: one JSONL file per input, `<dir>/<input-stem>.deadletter.jsonl`, each
//! line `{"source", "line", "reason", "raw"}`.
//!
//! Files are opened in append mode and every entry is written with a single `write` of a whole
//! line, so concurrent runs never interleave inside an entry. Raw lines longer than 64 KiB are cut
//! (`raw_truncated: true`); invalid UTF-8 is kept with replacement characters.

use crate::error::{Error, Result};
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Longest raw text kept in a dead letter.
const MAX_RAW: usize = 64 << 10;

#[derive(Serialize)]
struct Entry<'a> {
    source: &'a str,
    line: u64,
    reason: &'a str,
    raw: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    raw_truncated: bool,
}

/// Writes dead letters of one input; the file is created on the first entry.
pub struct DeadLetterWriter {
    path: PathBuf,
    source: String,
    file: Option<File>,
    written: u64,
}

impl DeadLetterWriter {
    /// A writer for input `source` (shown in entries) with file stem `stem` under `dir`.
    /// `stem` must be a single safe path component (see `Input::stem`).
    pub fn new(dir: &Path, stem: &str, source: &str) -> Self {
        DeadLetterWriter {
            path: dir.join(format!("{stem}.deadletter.jsonl")),
            source: source.to_string(),
            file: None,
            written: 0,
        }
    }

    /// The dead-letter file path (it exists once an entry was written).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Entries written by this writer.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends one entry.
    pub fn write(&mut self, line: u64, reason: &str, raw: &[u8]) -> Result<()> {
        let cut = raw.len() > MAX_RAW;
        let raw = String::from_utf8_lossy(&raw[..raw.len().min(MAX_RAW)]);
        let mut text = serde_json::to_vec(&Entry {
            source: &self.source,
            line,
            reason,
            raw: &raw,
            raw_truncated: cut,
        })?;
        text.push(b'\n');
        let file = match &mut self.file {
            Some(f) => f,
            None => {
                if let Some(dir) = self.path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        Error::io(
                            format!("cannot create dead-letter folder {}", dir.display()),
                            e,
                        )
                    })?;
                }
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .map_err(|e| {
                        Error::io(
                            format!("cannot open dead-letter file {}", self.path.display()),
                            e,
                        )
                    })?;
                self.file.insert(f)
            }
        };
        file.write_all(&text).map_err(|e| {
            Error::io(
                format!("cannot write dead-letter file {}", self.path.display()),
                e,
            )
        })?;
        self.written += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_entries_with_line_and_reason() {
        let d = tempfile::tempdir().unwrap();
        let mut w = DeadLetterWriter::new(d.path(), "t", "in/t.jsonl");
        w.write(3, "invalid JSON", b"{oops").unwrap();
        w.write(9, "bad", &[0xff, b'a']).unwrap();
        let text = std::fs::read_to_string(w.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["line"], 3);
        assert_eq!(lines[0]["reason"], "invalid JSON");
        assert_eq!(lines[0]["raw"], "{oops");
        assert_eq!(lines[0]["source"], "in/t.jsonl");
        assert_eq!(lines[1]["raw"], "\u{fffd}a");
        assert_eq!(w.written(), 2);
    }

    #[test]
    fn no_file_without_entries() {
        let d = tempfile::tempdir().unwrap();
        let w = DeadLetterWriter::new(&d.path().join("dl"), "t", "x");
        assert!(!w.path().exists());
    }
}
