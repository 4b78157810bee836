//! Input discovery and opening: files, folders (every `*.jsonl` / `*.jsonl.gz` below them), stdin.
//!
//! Gzip is recognised by its magic bytes, not its name, so `*.jsonl.gz` files and gzipped stdin
//! both work; concatenated gzip members are read through. Bytes are counted before
//! decompression so progress reflects the file on disk.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One input to ingest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file on disk.
    File(PathBuf),
}

impl Input {
    /// How the input is named in dead letters, runs and messages.
    pub fn display(&self) -> String {
        match self {
            Input::Stdin => "-".to_string(),
            Input::File(p) => p.display().to_string(),
        }
    }

    /// The stem used for this input's dead-letter file: the file name without `.gz`, `.jsonl`,
    /// `.json`; `stdin` for standard input. Always a single safe path component.
    pub fn stem(&self) -> String {
        let name = match self {
            Input::Stdin => return "stdin".to_string(),
            Input::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let mut s = name.as_str();
        for ext in [".gz", ".jsonl", ".json", ".ndjson", ".log"] {
            // Case-insensitive, like folder discovery (`C.JSONL.GZ` → `C`).
            let cut = s.len().saturating_sub(ext.len());
            if s.is_char_boundary(cut) && s[cut..].eq_ignore_ascii_case(ext) {
                s = &s[..cut];
            }
        }
        let clean: String = s
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let clean = clean.trim_start_matches('.');
        if clean.is_empty() {
            "input".to_string()
        } else {
            clean.to_string()
        }
    }

    /// Size on disk, when known (for progress).
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::Stdin => None,
            Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
        }
    }
}

/// True for file names ingested from folders.
fn is_trace_file(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".jsonl") || name.ends_with(".jsonl.gz")
}

/// Expands command-line arguments into inputs: `-` is stdin, a file is itself, a folder is every
/// trace file below it (sorted, symlinked folders not followed). A missing path is an error.
pub fn discover(args: &[PathBuf]) -> Result<Vec<Input>> {
    let mut out = Vec::new();
    for a in args {
        if a.as_os_str() == "-" {
            out.push(Input::Stdin);
            continue;
        }
        let meta = std::fs::metadata(a).map_err(|source| Error::Input {
            path: a.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(a, &mut found)?;
            found.sort();
            out.extend(found.into_iter().map(Input::File));
        } else {
            out.push(Input::File(a.clone()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Input {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| Error::Input {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let ft = entry.file_type().map_err(|source| Error::Input {
            path: path.clone(),
            source,
        })?;
        if ft.is_dir() {
            walk(&path, out)?;
        } else if (ft.is_file() || ft.is_symlink()) && is_trace_file(&path) && path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// Counts bytes read through it (shared with the progress reporter).
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input for reading decompressed bytes; `counter` receives the raw bytes read.
pub fn open(input: &Input, counter: Arc<AtomicU64>) -> Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = match input {
        Input::Stdin => Box::new(io::stdin()),
        Input::File(p) => Box::new(File::open(p).map_err(|source| Error::Input {
            path: p.clone(),
            source,
        })?),
    };
    decode(input, raw, counter, 1 << 20)
}

/// Wraps raw bytes of `input` (already open) for reading decompressed lines, through a buffer
/// of `capacity` bytes (sized to small files, so that each does not cost a large allocation).
pub fn decode(
    input: &Input,
    raw: Box<dyn Read + Send>,
    counter: Arc<AtomicU64>,
    capacity: usize,
) -> Result<Box<dyn Read + Send>> {
    let mut buffered = BufReader::with_capacity(
        capacity,
        CountingReader {
            inner: raw,
            count: counter,
        },
    );
    let head = buffered.fill_buf().map_err(|source| Error::Input {
        path: PathBuf::from(input.display()),
        source,
    })?;
    let decoded: Box<dyn Read + Send> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    array_as_lines(decoded).map_err(|source| Error::Input {
        path: PathBuf::from(input.display()),
        source,
    })
}

/// Opens a plain (not gzip, not array) file to read from byte `offset` on (resuming a file that
/// grew); `counter` receives the bytes read.
pub fn open_at(
    file: File,
    offset: u64,
    counter: Arc<AtomicU64>,
) -> io::Result<Box<dyn Read + Send>> {
    use std::io::{Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(offset))?;
    Ok(Box::new(BufReader::with_capacity(
        1 << 20,
        CountingReader {
            inner: file,
            count: counter,
        },
    )))
}

/// Turns a file holding one top-level JSON array (LiteLLM's `/spend/logs` API answer, a
/// pretty-printed export) into one line per element; anything else passes through untouched.
///
/// An array is read whole into memory (API pages and exports are bounded; JSONL streams). An
/// array that does not parse passes through as-is, so its lines are dead-lettered with reasons.
pub fn array_as_lines(reader: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let head = buffered.fill_buf()?;
    let first = head
        .iter()
        .position(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF));
    if first.and_then(|i| head.get(i)) != Some(&b'[') {
        return Ok(Box::new(buffered));
    }
    let mut all = Vec::new();
    buffered.read_to_end(&mut all)?;
    let text = all.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&all);
    match serde_json::from_slice::<Vec<serde_json::Value>>(text) {
        Ok(items) => {
            let mut out = Vec::with_capacity(all.len());
            for item in items {
                serde_json::to_writer(&mut out, &item).map_err(io::Error::other)?;
                out.push(b'\n');
            }
            Ok(Box::new(io::Cursor::new(out)))
        }
        Err(_) => Ok(Box::new(io::Cursor::new(all))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> String {
        let mut s = String::new();
        array_as_lines(Box::new(io::Cursor::new(bytes.to_vec())))
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    }

    #[test]
    fn top_level_arrays_become_lines() {
        assert_eq!(
            read_all(b"  [\n {\"a\": 1},\n {\"b\": [2, 3]}\n]\n"),
            "{\"a\":1}\n{\"b\":[2,3]}\n"
        );
        assert_eq!(
            read_all(b"{\"a\":1}\n{\"b\":2}\n"),
            "{\"a\":1}\n{\"b\":2}\n"
        );
        assert_eq!(
            read_all(b"[{\"a\":1},\n"),
            "[{\"a\":1},\n",
            "broken arrays pass through"
        );
        assert_eq!(read_all(b""), "");
    }

    #[test]
    fn stems_are_single_safe_components() {
        assert_eq!(Input::File("/x/traces.jsonl.gz".into()).stem(), "traces");
        assert_eq!(Input::File("a b.jsonl".into()).stem(), "a_b");
        assert_eq!(Input::File("..jsonl".into()).stem(), "input");
        assert_eq!(Input::File("C.JSONL.GZ".into()).stem(), "C");
        assert_eq!(Input::File("é.jsonl".into()).stem(), "_");
        assert_eq!(Input::Stdin.stem(), "stdin");
    }

    #[test]
    fn discovers_trace_files_recursively_sorted() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("sub")).unwrap();
        for f in ["b.jsonl", "a.jsonl.gz", "sub/c.jsonl", "notes.txt"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let got = discover(&[d.path().to_path_buf()]).unwrap();
        let names: Vec<String> = got.iter().map(|i| i.stem()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(discover(&[d.path().join("missing.jsonl")]).is_err());
    }
}
