//! Lake files on disk: writing a data file atomically, listing partitions, reading files back.
//!
//! A data file is written under a hidden temporary name in its partition folder, fsynced, and
//! renamed to its final `part-….parquet` name, so readers (and a crash) see either nothing or a
//! complete file. Existing data files are never modified; only `lake compact` removes them, after
//! their rows are safely in the merged file.

use super::partition::{self, Partition};
use super::schema::{self, DEDUPE_KEY_COLUMN};
use crate::error::{Error, Result};
use arrow::array::{AsArray, RecordBatch};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

fn pq(context: impl FnOnce() -> String) -> impl FnOnce(parquet::errors::ParquetError) -> Error {
    move |source| Error::Parquet {
        context: context(),
        source,
    }
}

/// A data file being written: rows go to a hidden temporary file until [`PartWriter::commit`].
/// Dropping it uncommitted removes the temporary file.
pub struct PartWriter {
    temp: PathBuf,
    path: PathBuf,
    writer: Option<ArrowWriter<File>>,
}

impl PartWriter {
    /// Starts the file `name` in folder `dir` (which must exist), of about `rows` rows (which
    /// picks its compression, see [`schema::writer_properties`]; `usize::MAX` when unknown and
    /// large, as for a compaction).
    pub fn create(dir: &Path, name: &str, rows: usize) -> Result<Self> {
        let temp = dir.join(partition::temp_name(name));
        let path = dir.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| Error::io(format!("creating {}", temp.display()), e))?;
        let writer = ArrowWriter::try_new(
            file,
            schema::schema(),
            Some(schema::writer_properties(rows)?),
        )
        .map_err(pq(|| format!("starting {}", temp.display())))?;
        Ok(PartWriter {
            temp,
            path,
            writer: Some(writer),
        })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let temp = &self.temp;
        match self.writer.as_mut() {
            Some(w) => w
                .write(batch)
                .map_err(pq(|| format!("writing {}", temp.display()))),
            None => Err(Error::Lake(format!("{} is already closed", temp.display()))),
        }
    }

    /// Finishes the file, fsyncs it and renames it into place; returns its path and size.
    /// The folder itself is fsynced by the caller ([`fsync_dir`]), once per batch of files.
    pub fn commit(self) -> Result<(PathBuf, u64)> {
        let done = self.finish()?;
        let size = done.size;
        Ok((done.publish()?, size))
    }

    /// Finishes and fsyncs the file under its temporary name, without publishing it yet.
    pub fn finish(self) -> Result<FinishedPart> {
        self.close()?.sync()
    }

    /// Finishes the file under its temporary name without syncing it: the costly `fsync` can
    /// then happen elsewhere ([`ClosedPart::sync`]) while the next file is encoded.
    pub fn close(mut self) -> Result<ClosedPart> {
        let temp = self.temp.clone();
        let writer = self
            .writer
            .take()
            .ok_or_else(|| Error::Lake(format!("{} is already closed", temp.display())))?;
        match writer.into_inner() {
            Ok(file) => Ok(ClosedPart {
                temp,
                path: self.path.clone(),
                file: Some(file),
            }),
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                Err(pq(|| format!("finishing {}", temp.display()))(e))
            }
        }
    }
}

/// A complete data file under its hidden temporary name, written but not yet fsynced. Dropping
/// it unsynced removes it.
pub struct ClosedPart {
    temp: PathBuf,
    path: PathBuf,
    file: Option<File>,
}

impl ClosedPart {
    /// Fsyncs the file; it may then be published. On error the file is removed (by `Drop`).
    pub fn sync(mut self) -> Result<FinishedPart> {
        let file = self
            .file
            .as_ref()
            .ok_or_else(|| Error::Lake(format!("{} is already synced", self.temp.display())))?;
        file.sync_all()
            .map_err(|e| Error::io(format!("syncing {}", self.temp.display()), e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io(format!("reading size of {}", self.temp.display()), e))?
            .len();
        self.file = None;
        Ok(FinishedPart {
            temp: self.temp.clone(),
            path: self.path.clone(),
            size,
            published: false,
        })
    }
}

impl Drop for ClosedPart {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// A complete, fsynced data file still under its hidden temporary name. Dropping it unpublished
/// removes it.
pub struct FinishedPart {
    temp: PathBuf,
    path: PathBuf,
    size: u64,
    published: bool,
}

impl FinishedPart {
    /// The final path the file will have.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Renames the file to its final, visible name (atomic within the folder).
    pub fn publish(mut self) -> Result<PathBuf> {
        std::fs::rename(&self.temp, &self.path).map_err(|e| {
            Error::io(
                format!(
                    "renaming {} to {}",
                    self.temp.display(),
                    self.path.display()
                ),
                e,
            )
        })?;
        self.published = true;
        Ok(self.path.clone())
    }
}

impl Drop for FinishedPart {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

impl Drop for PartWriter {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Writes one batch as a complete data file `name` in `dir`; returns its path and size.
pub fn write_part(dir: &Path, name: &str, batch: &RecordBatch) -> Result<(PathBuf, u64)> {
    let mut w = PartWriter::create(dir, name, batch.num_rows())?;
    w.write(batch)?;
    w.commit()
}

pub use crate::sinks::fsync_dir;

/// What one partition folder holds.
#[derive(Clone, Debug)]
pub struct PartitionDir {
    /// The partition.
    pub partition: Partition,
    /// Its folder.
    pub path: PathBuf,
    /// Visible data files, sorted by name.
    pub parts: Vec<PathBuf>,
    /// Hidden temporary files (being written, or abandoned by a crash).
    pub temps: Vec<PathBuf>,
    /// Journals of compactions (see `compact`).
    pub journals: Vec<PathBuf>,
    /// Anything else that is not hidden (not written by ProdLens).
    pub foreign: Vec<PathBuf>,
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<(String, PathBuf, std::fs::FileType)>> {
    let mut out = Vec::new();
    let rd =
        std::fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", dir.display()), e))?;
        // file_type() does not follow symlinks: a symlink is never taken for a folder or file.
        let ft = entry
            .file_type()
            .map_err(|e| Error::io(format!("inspecting {}", entry.path().display()), e))?;
        if let Ok(name) = entry.file_name().into_string() {
            out.push((name, entry.path(), ft));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Lists every partition folder of the lake at `root` (none if the lake does not exist yet).
/// Symlinks are never followed.
pub fn list_partitions(root: &Path) -> Result<Vec<PartitionDir>> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (repo_name, repo_path, ft) in read_dir_sorted(root)? {
        if !ft.is_dir() || !repo_name.starts_with("repo=") {
            continue;
        }
        for (date_name, date_path, ft) in read_dir_sorted(&repo_path)? {
            let Some(partition) = Partition::from_dir_names(&repo_name, &date_name) else {
                continue;
            };
            if !ft.is_dir() {
                continue;
            }
            let mut pd = PartitionDir {
                partition,
                path: date_path.clone(),
                parts: Vec::new(),
                temps: Vec::new(),
                journals: Vec::new(),
                foreign: Vec::new(),
            };
            for (name, path, ft) in read_dir_sorted(&date_path)? {
                if partition::is_temp_name(&name) {
                    pd.temps.push(path);
                } else if super::compact::is_journal_name(&name) {
                    pd.journals.push(path);
                } else if ft.is_file() && partition::is_part_name(&name) {
                    pd.parts.push(path);
                } else if !name.starts_with('.') {
                    pd.foreign.push(path);
                }
            }
            out.push(pd);
        }
    }
    Ok(out)
}

/// Opens a data file for reading (all columns, or only the dedupe key).
pub fn open_reader(path: &Path, keys_only: bool) -> Result<ParquetRecordBatchReader> {
    let file = File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(pq(|| format!("reading footer of {}", path.display())))?;
    if builder.schema().fields() != schema::schema().fields() {
        return Err(Error::Lake(format!(
            "{} does not have the lake schema",
            path.display()
        )));
    }
    if keys_only {
        let mask = ProjectionMask::roots(builder.parquet_schema(), [DEDUPE_KEY_COLUMN]);
        builder = builder.with_projection(mask);
    }
    builder
        .with_batch_size(8192)
        .build()
        .map_err(pq(|| format!("reading {}", path.display())))
}

/// Reads every dedupe key of a data file into `keys`; returns (rows, rows whose key was already
/// in `keys`).
pub fn read_keys(path: &Path, keys: &mut HashSet<u128>) -> Result<(u64, u64)> {
    let (mut rows, mut dupes) = (0u64, 0u64);
    for batch in open_reader(path, true)? {
        let batch = batch.map_err(|source| Error::Arrow {
            context: format!("decoding {}", path.display()),
            source,
        })?;
        let col = batch
            .column(0)
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::Lake(format!("{}: dedupe_key is not text", path.display())))?;
        for v in col.iter() {
            rows += 1;
            let k = v.and_then(schema::parse_key_hex).ok_or_else(|| {
                Error::Lake(format!("{}: malformed dedupe_key {v:?}", path.display()))
            })?;
            if !keys.insert(k) {
                dupes += 1;
            }
        }
    }
    Ok((rows, dupes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::schema::RowBuffer;

    #[test]
    fn committed_file_reads_back_and_temp_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = RowBuffer::new();
        for k in 1..=3u8 {
            b.push(&crate::lake::tests::record(k, Some("acme/api")));
        }
        let (path, size) =
            write_part(dir.path(), "part-x.parquet", &b.take_batch().unwrap()).unwrap();
        assert!(size > 0);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["part-x.parquet"]);
        let mut keys = HashSet::new();
        assert_eq!(read_keys(&path, &mut keys).unwrap(), (3, 0));
        assert_eq!(read_keys(&path, &mut keys).unwrap(), (3, 3));
    }

    /// The codec of each column of the file at `path` (the same in every row group), by name,
    /// with ",dict" when the column has a dictionary page and ",pageindex" when it has a
    /// column index.
    fn codecs(path: &Path) -> std::collections::BTreeMap<String, String> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let r = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        let md = r.metadata();
        let mut out = std::collections::BTreeMap::new();
        for g in 0..md.num_row_groups() {
            for c in md.row_group(g).columns() {
                let mut codec = format!("{:?}", c.compression());
                if c.dictionary_page_offset().is_some() {
                    codec.push_str(",dict");
                }
                if c.column_index_offset().is_some() {
                    codec.push_str(",pageindex");
                }
                let seen = out.insert(c.column_path().string(), codec.clone());
                assert!(seen.is_none_or(|s| s == codec));
            }
        }
        out
    }

    #[test]
    fn small_files_use_snappy_but_for_their_ids_and_large_ones_zstd() {
        // Small files also go without dictionaries and page indexes (plain values, statistics
        // per column); large ones have both.
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, rows: usize| {
            let mut b = RowBuffer::new();
            for k in 0..rows {
                let mut r = crate::lake::tests::record(0, Some("acme/api"));
                r.dedupe_key[..8].copy_from_slice(&(k as u64).to_be_bytes());
                b.push(&r);
            }
            let (path, _) = write_part(dir.path(), name, &b.take_batch().unwrap()).unwrap();
            let mut keys = HashSet::new();
            assert_eq!(read_keys(&path, &mut keys).unwrap(), (rows as u64, 0));
            codecs(&path)
        };
        let small = write("part-s.parquet", schema::ZSTD_MIN_ROWS - 1);
        assert_eq!(small.len(), schema::schema().fields().len());
        for (col, codec) in &small {
            let want_zstd = schema::ZSTD_SMALL_FILE_COLUMNS.contains(&col.as_str());
            assert_eq!(codec.starts_with("ZSTD"), want_zstd, "{col}: {codec}");
            assert!(want_zstd || codec == "SNAPPY", "{col}: {codec}");
        }
        let large = write("part-l.parquet", schema::ZSTD_MIN_ROWS);
        assert!(large.values().all(|c| c.starts_with("ZSTD")), "{large:?}");
        assert!(
            large.values().all(|c| c.ends_with(",pageindex")),
            "{large:?}"
        );
        assert!(large["model"].contains(",dict"), "{large:?}");
    }

    #[test]
    fn a_closed_file_stays_hidden_until_synced_and_published() {
        let dir = tempfile::tempdir().unwrap();
        let names = || -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        let closed = |name: &str| {
            let mut w = PartWriter::create(dir.path(), name, 1).unwrap();
            let mut b = RowBuffer::new();
            b.push(&crate::lake::tests::record(7, None));
            w.write(&b.take_batch().unwrap()).unwrap();
            w.close().unwrap()
        };
        // Dropped before its sync: nothing is left.
        drop(closed("part-a.parquet"));
        assert!(names().is_empty());
        // Closed and synced: still hidden; dropped unpublished: gone.
        let done = closed("part-b.parquet").sync().unwrap();
        assert_eq!(names().len(), 1);
        assert!(names()[0].starts_with('.'), "{:?}", names());
        drop(done);
        assert!(names().is_empty());
        // Published: visible under its name, complete.
        let done = closed("part-c.parquet").sync().unwrap();
        let size = done.size();
        let path = done.publish().unwrap();
        assert_eq!(names(), ["part-c.parquet"]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
        assert_eq!(read_keys(&path, &mut HashSet::new()).unwrap(), (1, 0));
    }

    #[test]
    fn abandoned_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = PartWriter::create(dir.path(), "part-y.parquet", 1).unwrap();
        let mut b = RowBuffer::new();
        b.push(&crate::lake::tests::record(1, None));
        w.write(&b.take_batch().unwrap()).unwrap();
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_truncated_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = RowBuffer::new();
        b.push(&crate::lake::tests::record(1, None));
        let (path, size) =
            write_part(dir.path(), "part-z.parquet", &b.take_batch().unwrap()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..(size as usize) / 2]).unwrap();
        assert!(read_keys(&path, &mut HashSet::new()).is_err());
    }
}
