//! Splits a byte stream into chunks of whole lines, numbered, with bounded memory.
//!
//! A chunk holds complete lines only (the tail of a read is carried to the next chunk). A line
//! longer than [`MAX_LINE`] is not buffered whole: its first bytes are kept for the dead letter
//! and the rest is discarded up to the next newline.

use std::io::{self, Read};

/// Longest line accepted (16 MiB); longer lines are dead-lettered.
pub const MAX_LINE: usize = 16 << 20;
/// Bytes of an oversized line kept for its dead letter.
const OVERSIZED_KEEP: usize = 4096;
/// Target chunk size.
const CHUNK: usize = 1 << 20;
/// The UTF-8 byte-order mark some editors put before a file's first line.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A run of complete lines.
#[derive(Debug)]
pub struct Chunk {
    /// Position of the chunk in the run (0, 1, 2, …).
    pub seq: u64,
    /// Which input of the run it comes from.
    pub input: usize,
    /// Byte offset in the (decoded) stream just after `data`.
    pub end_offset: u64,
    /// 1-based number of the first line in `data`.
    pub first_line: u64,
    /// Newline-terminated lines in `data`.
    pub lines: u64,
    /// Complete lines, each ending in `\n` (the last may lack it at end of stream).
    pub data: Vec<u8>,
    /// A line that exceeded [`MAX_LINE`]: its number and first bytes.
    pub oversized: Option<(u64, Vec<u8>)>,
}

/// Reads chunks from a stream.
pub struct ChunkReader<R> {
    inner: R,
    carry: Vec<u8>,
    next_line: u64,
    seq: u64,
    eof: bool,
    /// A read error held back until the complete lines read before it have been handed out.
    failed: Option<io::Error>,
    /// True once the start of the stream was checked for a byte-order mark.
    bom_checked: bool,
    /// Bytes taken from `inner` so far, plus the offset the stream started at.
    consumed: u64,
    /// Bytes asked for per read: [`CHUNK`], or less for a stream known to be small (the read
    /// buffer is zeroed before each read, which would cost more than the read for small files).
    read_size: usize,
    /// Where the stream is expected to end (from the size hint): the read after it is only a
    /// probe for the end, made with a small buffer instead of zeroing another `read_size`.
    expected_end: Option<u64>,
}

/// Bytes asked for by the read that probes for the end of a stream read up to its hinted size.
const END_PROBE: usize = 512;

impl<R: Read> ChunkReader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        Self::resume(inner, 0, 0)
    }

    /// Wraps a reader positioned at byte `offset` of a stream, after `lines` complete lines
    /// (resuming a file that grew). Only a stream read from its start may begin with a BOM.
    pub fn resume(inner: R, offset: u64, lines: u64) -> Self {
        ChunkReader {
            inner,
            carry: Vec::new(),
            next_line: lines + 1,
            seq: 0,
            eof: false,
            failed: None,
            bom_checked: offset > 0,
            consumed: offset,
            read_size: CHUNK,
            expected_end: None,
        }
    }

    /// Tells the reader about how many bytes the stream holds, so that small streams are read
    /// with small buffers; a stream that turns out larger is still read whole.
    pub fn with_size_hint(mut self, bytes: u64) -> Self {
        self.read_size = (bytes.saturating_add(1) as usize).clamp(4096, CHUNK);
        self.expected_end = Some(self.consumed.saturating_add(bytes));
        self
    }

    fn emit(&mut self, data: Vec<u8>, oversized: Option<(u64, Vec<u8>)>) -> Chunk {
        let first_line = self.next_line;
        let lines = memchr::memchr_iter(b'\n', &data).count() as u64;
        self.next_line += lines;
        if oversized.is_some() {
            self.next_line += 1;
        }
        let seq = self.seq;
        self.seq += 1;
        Chunk {
            seq,
            input: 0,
            end_offset: self.consumed - self.carry.len() as u64,
            first_line,
            lines,
            data,
            oversized,
        }
    }

    /// The next chunk, or None at end of stream.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        loop {
            if self.eof {
                if self.carry.is_empty() {
                    return Ok(None);
                }
                let data = std::mem::take(&mut self.carry);
                return Ok(Some(self.emit(data, None)));
            }
            let start = self.carry.len();
            let probe = self.expected_end.is_some_and(|end| self.consumed >= end);
            let want = if probe { END_PROBE } else { self.read_size };
            self.carry.resize(start + want, 0);
            let n = loop {
                match self.inner.read(&mut self.carry[start..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.carry.truncate(start);
                        // Complete lines before the break are kept; the error comes next call.
                        if let Some(pos) = memchr::memrchr(b'\n', &self.carry) {
                            self.failed = Some(e);
                            let rest = self.carry.split_off(pos + 1);
                            let data = std::mem::replace(&mut self.carry, rest);
                            return Ok(Some(self.emit(data, None)));
                        }
                        return Err(e);
                    }
                }
            };
            self.carry.truncate(start + n);
            self.consumed += n as u64;
            if probe && n > 0 {
                // The stream is longer than hinted (it grew): full-size reads again.
                self.expected_end = None;
            }
            // A UTF-8 byte-order mark before the first line is not part of it.
            if !self.bom_checked && (self.carry.len() >= BOM.len() || n == 0) {
                self.bom_checked = true;
                if self.carry.starts_with(BOM) {
                    self.carry.drain(..BOM.len());
                }
            }
            if n == 0 {
                self.eof = true;
                continue;
            }
            if self.carry.len() > MAX_LINE
                && memchr::memchr(b'\n', &self.carry[..=MAX_LINE]).is_none()
            {
                return self.skip_oversized().map(Some);
            }
            match memchr::memrchr(b'\n', &self.carry) {
                Some(pos) if self.carry.len() >= CHUNK || pos + 1 == self.carry.len() => {
                    let rest = self.carry.split_off(pos + 1);
                    let data = std::mem::replace(&mut self.carry, rest);
                    return Ok(Some(self.emit(data, None)));
                }
                _ => continue,
            }
        }
    }

    /// Discards the rest of an oversized line and reports it.
    fn skip_oversized(&mut self) -> io::Result<Chunk> {
        let head = self.carry[..OVERSIZED_KEEP].to_vec();
        if let Some(pos) = memchr::memchr(b'\n', &self.carry) {
            self.carry.drain(..=pos);
        } else {
            self.carry.clear();
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match self.inner.read(&mut buf) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                self.consumed += n as u64;
                if let Some(pos) = memchr::memchr(b'\n', &buf[..n]) {
                    self.carry.extend_from_slice(&buf[pos + 1..n]);
                    break;
                }
            }
        }
        let line = self.next_line;
        Ok(self.emit(Vec::new(), Some((line, head))))
    }
}

impl<R> ChunkReader<R> {
    /// Number of the next line to be read (for errors mid-stream).
    pub fn next_line_number(&self) -> u64 {
        self.next_line + memchr::memchr_iter(b'\n', &self.carry).count() as u64
    }
}

impl Chunk {
    /// Where its complete (newline-terminated) lines end, and how many lines precede that
    /// point; None when it holds no complete line. An oversized line counts as complete.
    pub fn complete_end(&self) -> Option<(u64, u64)> {
        if self.oversized.is_some() && self.data.is_empty() {
            return Some((self.end_offset, self.first_line));
        }
        let last = memchr::memrchr(b'\n', &self.data)?;
        let tail = (self.data.len() - last - 1) as u64;
        Some((self.end_offset - tail, self.first_line - 1 + self.lines))
    }
}

/// Iterates the lines of a chunk as `(line number, bytes without \n or \r\n)`.
pub fn lines(chunk: &Chunk) -> impl Iterator<Item = (u64, &[u8])> {
    let mut n = chunk.first_line;
    chunk.data.split_inclusive(|b| *b == b'\n').map(move |l| {
        let line = n;
        n += 1;
        let l = l.strip_suffix(b"\n").unwrap_or(l);
        (line, l.strip_suffix(b"\r").unwrap_or(l))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut r = ChunkReader::new(input);
        let mut out = Vec::new();
        while let Some(c) = r.next_chunk().unwrap() {
            if let Some((n, head)) = &c.oversized {
                out.push((*n, head[..3].to_vec()));
            }
            out.extend(lines(&c).map(|(n, l)| (n, l.to_vec())));
        }
        out
    }

    #[test]
    fn a_byte_order_mark_before_the_first_line_is_dropped() {
        let got = all(b"\xEF\xBB\xBF{\"a\":1}\n{\"b\":2}\n");
        assert_eq!(got[0], (1, b"{\"a\":1}".to_vec()));
        assert_eq!(got.len(), 2);
        // Only at the very start: a mark inside the stream is data.
        let got = all(b"x\n\xEF\xBB\xBFy\n");
        assert_eq!(got[1], (2, b"\xEF\xBB\xBFy".to_vec()));
        assert!(all(b"\xEF\xBB\xBF").is_empty());
    }

    #[test]
    fn numbers_lines_and_keeps_unterminated_tail() {
        let got = all(b"a\r\nb\n\nc");
        assert_eq!(
            got,
            vec![
                (1, b"a".to_vec()),
                (2, b"b".to_vec()),
                (3, vec![]),
                (4, b"c".to_vec())
            ]
        );
    }

    #[test]
    fn numbering_is_continuous_across_chunks() {
        let mut data = Vec::new();
        for i in 0..300_000 {
            data.extend_from_slice(format!("line{i}\n").as_bytes());
        }
        let got = all(&data);
        assert_eq!(got.len(), 300_000);
        assert!(got
            .iter()
            .enumerate()
            .all(|(i, (n, l))| *n == i as u64 + 1 && l == format!("line{i}").as_bytes()));
    }

    /// Yields its bytes in small reads, then fails.
    struct Breaks(&'static [u8]);

    impl Read for Breaks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "cut"));
            }
            let n = buf.len().min(3).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn lines_before_a_read_error_are_kept() {
        let mut r = ChunkReader::new(Breaks(b"one\ntwo\nthr"));
        let c = r.next_chunk().unwrap().unwrap();
        let got: Vec<(u64, &[u8])> = lines(&c).collect();
        assert_eq!(got, vec![(1, &b"one"[..]), (2, &b"two"[..])]);
        assert!(r.next_chunk().is_err());
        assert_eq!(r.next_line_number(), 3, "the broken line");
    }

    #[test]
    fn chunks_know_where_their_complete_lines_end() {
        let data = b"\xEF\xBB\xBFone\ntwo\nthr";
        let mut r = ChunkReader::new(&data[..]);
        let mut ends = Vec::new();
        while let Some(c) = r.next_chunk().unwrap() {
            ends.push((c.end_offset, c.complete_end()));
        }
        // The BOM counts as bytes of the file; "thr" has no newline yet.
        assert_eq!(ends.last(), Some(&(14, Some((11, 2)))));
        // Resuming at the end of line 2 numbers the rest from 3 and keeps counting offsets.
        let mut r = ChunkReader::resume(&b"three\nfour\n"[..], 11, 2);
        let c = r.next_chunk().unwrap().unwrap();
        assert_eq!(lines(&c).next(), Some((3, &b"three"[..])));
        assert_eq!(c.complete_end(), Some((22, 4)));
        // A resumed stream does not strip a BOM-like start: it is data.
        let mut r = ChunkReader::resume(&b"\xEF\xBB\xBFx\n"[..], 5, 1);
        let c = r.next_chunk().unwrap().unwrap();
        assert_eq!(lines(&c).next(), Some((2, &b"\xEF\xBB\xBFx"[..])));
    }

    #[test]
    fn a_size_hint_that_is_wrong_loses_nothing() {
        // Longer than hinted (the file grew after it was planned), shorter, and exact.
        let data: Vec<u8> = (0..3000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        for hint in [10, 700, data.len() as u64, data.len() as u64 * 3] {
            let mut r = ChunkReader::new(&data[..]).with_size_hint(hint);
            let mut got = Vec::new();
            let mut last = None;
            while let Some(c) = r.next_chunk().unwrap() {
                got.extend_from_slice(&c.data);
                last = c.complete_end().or(last);
            }
            assert_eq!(got, data, "hint {hint}");
            assert_eq!(last, Some((data.len() as u64, 3000)), "hint {hint}");
        }
    }

    #[test]
    fn oversized_line_is_reported_and_skipped() {
        let mut data = b"first\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        data.extend_from_slice(b"\nlast\n");
        let got = all(&data);
        assert_eq!(
            got,
            vec![
                (1, b"first".to_vec()),
                (2, b"xxx".to_vec()),
                (3, b"last".to_vec())
            ]
        );
    }
}
