//! The lake's Arrow/Parquet schema and a columnar row buffer that fills it from [`TraceRecord`]s.
//!
//! Columns mirror the `traces` table one to one (README, "Parquet lake"): timestamps are UTC
//! microseconds, integers Int64, cost and latencies Float64, flags Boolean, text Utf8, and every
//! column the data can leave empty is nullable. The dedupe key is stored as 32 lowercase hex digits.

use crate::error::{Error, Result};
use crate::record::TraceRecord;
use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use std::sync::{Arc, OnceLock};

/// Rows per Parquet row group: large enough for analytics scans, small enough to stream.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Version of the lake's schema, stored in every file's key-value metadata.
pub const SCHEMA_VERSION: &str = "2";

/// Days from 0001-01-01 (CE) to 1970-01-01, to convert dates to Arrow's Date32.
const UNIX_EPOCH_DAYS_CE: i32 = 719_163;

/// The column list: name, type, nullable.
fn fields() -> Vec<Field> {
    let text = |n: &str| Field::new(n, DataType::Utf8, true);
    let int = |n: &str| Field::new(n, DataType::Int64, false);
    vec![
        Field::new("dedupe_key", DataType::Utf8, false),
        text("call_id"),
        text("response_id"),
        Field::new("source_format", DataType::Utf8, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("event_date", DataType::Date32, false),
        text("repo_slug"),
        text("developer_id"),
        text("session_id"),
        text("trace_id"),
        text("team_id"),
        text("key_alias"),
        text("model"),
        text("provider"),
        text("call_type"),
        int("tokens_in"),
        int("tokens_out"),
        int("cache_read_tokens"),
        int("cache_creation_tokens"),
        Field::new("latency_ms", DataType::Float64, true),
        Field::new("ttft_ms", DataType::Float64, true),
        Field::new("status_code", DataType::Int64, true),
        Field::new("is_error", DataType::Boolean, false),
        text("error_class"),
        Field::new("accepted", DataType::Boolean, true),
        Field::new("diff_ratio", DataType::Float64, true),
        Field::new("accepted_lines", DataType::Int64, true),
        Field::new("cache_hit", DataType::Boolean, true),
        Field::new("cost_usd", DataType::Float64, true),
        Field::new("cost_source", DataType::Utf8, false),
        // Schema version 2: client context (Claude Code logs).
        text("cwd"),
        text("git_branch"),
        Field::new("is_sidechain", DataType::Boolean, true),
        text("client_version"),
    ]
}

/// The Arrow schema of every lake file (built once).
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| Arc::new(Schema::new(fields())))
        .clone()
}

/// Index of the `dedupe_key` column.
pub const DEDUPE_KEY_COLUMN: usize = 0;

/// Files with fewer rows than this are compressed with Snappy, except for
/// [`ZSTD_SMALL_FILE_COLUMNS`]; larger files are zstd throughout.
///
/// zstd builds a compression and a decompression context for every column of every file (38 per
/// file), and each context probes the CPU with `cpuid`, an instruction a virtual machine traps:
/// about 1 ms per file on this project's VM. An ingest spreading its rows over many (repo, day)
/// partitions writes files of a few hundred rows, where that fixed cost was 40 % of the lake's
/// CPU time (20 000 Claude Code sessions: 1 086 files of ~310 rows).
pub const ZSTD_MIN_ROWS: usize = 4096;

/// The columns of small files still compressed with zstd: random identifiers in hex or base64,
/// which Snappy (no entropy coding) leaves at full size and which are most of a file's bytes.
/// Four contexts per file instead of 38; on 1 M LiteLLM lines (2 400 files) the lake is 116 MB
/// against 108 MB all zstd and 144 MB all Snappy.
pub const ZSTD_SMALL_FILE_COLUMNS: [&str; 4] = ["dedupe_key", "call_id", "response_id", "trace_id"];

/// Writer settings for a file of about `rows` rows: zstd level 1 (fast) from [`ZSTD_MIN_ROWS`]
/// rows, Snappy below (but for [`ZSTD_SMALL_FILE_COLUMNS`]); 128 Ki-row groups, schema version.
///
/// Large files get dictionary encoding and page statistics (a page index). Small files get
/// neither: plain values and one set of statistics per column. A dictionary page and a page
/// index cost a fixed amount of work per column, so in files of a few hundred rows they cost
/// more than they save. On a 20 000-session Claude Code tree (1 086 files of ~310 rows), the lake
/// shrank from 59.0 to 55.6 MB, and the ingest used 13 % less CPU.
pub fn writer_properties(rows: usize) -> Result<WriterProperties> {
    let zstd = Compression::ZSTD(ZstdLevel::try_new(1).map_err(|source| Error::Parquet {
        context: "zstd level".into(),
        source,
    })?);
    let mut b = WriterProperties::builder();
    let compression = if rows >= ZSTD_MIN_ROWS {
        zstd
    } else {
        for c in ZSTD_SMALL_FILE_COLUMNS {
            b = b.set_column_compression(ColumnPath::from(c), zstd);
        }
        b = b.set_dictionary_enabled(false);
        Compression::SNAPPY
    };
    let statistics = if rows >= ZSTD_MIN_ROWS {
        EnabledStatistics::Page
    } else {
        EnabledStatistics::Chunk
    };
    Ok(b.set_compression(compression)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(statistics)
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "prod_lens.schema_version".to_string(),
            SCHEMA_VERSION.to_string(),
        )]))
        .build())
}

/// A dedupe key as the lake's `dedupe_key` column holds it: 32 lowercase hex digits, formatted
/// without allocating (one per lake row).
pub struct KeyHex([u8; 32]);

impl KeyHex {
    /// The digits of `key`, most significant byte first.
    pub fn of(key: &[u8; 16]) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (pair, b) in out.chunks_exact_mut(2).zip(key) {
            pair[0] = DIGITS[usize::from(b >> 4)];
            pair[1] = DIGITS[usize::from(b & 0xf)];
        }
        KeyHex(out)
    }

    /// The digits as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written into it.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// Parses a `dedupe_key` value back into the 128-bit key; None if it is not 32 hex digits.
pub fn parse_key_hex(s: &str) -> Option<u128> {
    if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(s, 16).ok()
}

/// Arrow's Date32 (days since 1970-01-01) for a date.
pub fn date32(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce() - UNIX_EPOCH_DAYS_CE
}

/// Column builders for one batch of lake rows; memory grows with the rows appended only.
pub struct RowBuffer {
    dedupe_key: StringBuilder,
    call_id: StringBuilder,
    response_id: StringBuilder,
    source_format: StringBuilder,
    timestamp: TimestampMicrosecondBuilder,
    event_date: Date32Builder,
    text: [StringBuilder; 9],
    tokens: [Int64Builder; 4],
    latency_ms: Float64Builder,
    ttft_ms: Float64Builder,
    status_code: Int64Builder,
    is_error: BooleanBuilder,
    error_class: StringBuilder,
    accepted: BooleanBuilder,
    diff_ratio: Float64Builder,
    accepted_lines: Int64Builder,
    cache_hit: BooleanBuilder,
    cost_usd: Float64Builder,
    cost_source: StringBuilder,
    client: [StringBuilder; 3],
    is_sidechain: BooleanBuilder,
    rows: usize,
    bytes: usize,
}

fn strings() -> StringBuilder {
    StringBuilder::with_capacity(16, 256)
}

impl Default for RowBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl RowBuffer {
    /// An empty buffer with small initial allocations (many partitions may be open at once).
    pub fn new() -> Self {
        RowBuffer {
            dedupe_key: strings(),
            call_id: strings(),
            response_id: strings(),
            source_format: strings(),
            timestamp: TimestampMicrosecondBuilder::with_capacity(16).with_timezone("UTC"),
            event_date: Date32Builder::with_capacity(16),
            text: std::array::from_fn(|_| strings()),
            tokens: std::array::from_fn(|_| Int64Builder::with_capacity(16)),
            latency_ms: Float64Builder::with_capacity(16),
            ttft_ms: Float64Builder::with_capacity(16),
            status_code: Int64Builder::with_capacity(16),
            is_error: BooleanBuilder::with_capacity(16),
            error_class: strings(),
            accepted: BooleanBuilder::with_capacity(16),
            diff_ratio: Float64Builder::with_capacity(16),
            accepted_lines: Int64Builder::with_capacity(16),
            cache_hit: BooleanBuilder::with_capacity(16),
            cost_usd: Float64Builder::with_capacity(16),
            cost_source: strings(),
            client: std::array::from_fn(|_| strings()),
            is_sidechain: BooleanBuilder::with_capacity(16),
            rows: 0,
            bytes: 0,
        }
    }

    /// Rows appended since the last [`RowBuffer::take_batch`].
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rough size of the buffered data in bytes (text lengths plus fixed-width columns).
    pub fn approx_bytes(&self) -> usize {
        self.bytes
    }

    /// Appends one record.
    pub fn push(&mut self, r: &TraceRecord) {
        let texts = [
            &r.repo_slug,
            &r.developer_id,
            &r.session_id,
            &r.trace_id,
            &r.team_id,
            &r.key_alias,
            &r.model,
            &r.provider,
            &r.call_type,
        ];
        let mut bytes = 32 + 8 * 16;
        for (b, v) in self.text.iter_mut().zip(texts) {
            bytes += v.as_deref().map_or(0, str::len) + 4;
            b.append_option(v.as_deref());
        }
        for v in [&r.call_id, &r.response_id, &r.error_class] {
            bytes += v.as_deref().map_or(0, str::len) + 4;
        }
        self.dedupe_key
            .append_value(KeyHex::of(&r.dedupe_key).as_str());
        self.call_id.append_option(r.call_id.as_deref());
        self.response_id.append_option(r.response_id.as_deref());
        self.source_format.append_value(r.source_format.name());
        self.timestamp.append_value(r.timestamp.timestamp_micros());
        self.event_date.append_value(date32(r.event_date));
        for (b, v) in self.tokens.iter_mut().zip([
            r.tokens_in,
            r.tokens_out,
            r.cache_read_tokens,
            r.cache_creation_tokens,
        ]) {
            b.append_value(v);
        }
        self.latency_ms.append_option(r.latency_ms);
        self.ttft_ms.append_option(r.ttft_ms);
        self.status_code.append_option(r.status_code);
        self.is_error.append_value(r.is_error);
        self.error_class.append_option(r.error_class.as_deref());
        self.accepted.append_option(r.accepted);
        self.diff_ratio.append_option(r.diff_ratio);
        self.accepted_lines.append_option(r.accepted_lines);
        self.cache_hit.append_option(r.cache_hit);
        self.cost_usd.append_option(r.cost_usd);
        self.cost_source.append_value(r.cost_source.name());
        for (b, v) in self
            .client
            .iter_mut()
            .zip([&r.cwd, &r.git_branch, &r.client_version])
        {
            bytes += v.as_deref().map_or(0, str::len) + 4;
            b.append_option(v.as_deref());
        }
        self.is_sidechain.append_option(r.is_sidechain);
        self.rows += 1;
        self.bytes += bytes;
    }

    /// Turns the buffered rows into a record batch and empties the buffer.
    pub fn take_batch(&mut self) -> Result<RecordBatch> {
        let [repo, dev, session, trace, team, key_alias, model, provider, call_type] =
            &mut self.text;
        let [tin, tout, cread, ccreate] = &mut self.tokens;
        let [cwd, git_branch, client_version] = &mut self.client;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.dedupe_key.finish()),
            Arc::new(self.call_id.finish()),
            Arc::new(self.response_id.finish()),
            Arc::new(self.source_format.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.event_date.finish()),
            Arc::new(repo.finish()),
            Arc::new(dev.finish()),
            Arc::new(session.finish()),
            Arc::new(trace.finish()),
            Arc::new(team.finish()),
            Arc::new(key_alias.finish()),
            Arc::new(model.finish()),
            Arc::new(provider.finish()),
            Arc::new(call_type.finish()),
            Arc::new(tin.finish()),
            Arc::new(tout.finish()),
            Arc::new(cread.finish()),
            Arc::new(ccreate.finish()),
            Arc::new(self.latency_ms.finish()),
            Arc::new(self.ttft_ms.finish()),
            Arc::new(self.status_code.finish()),
            Arc::new(self.is_error.finish()),
            Arc::new(self.error_class.finish()),
            Arc::new(self.accepted.finish()),
            Arc::new(self.diff_ratio.finish()),
            Arc::new(self.accepted_lines.finish()),
            Arc::new(self.cache_hit.finish()),
            Arc::new(self.cost_usd.finish()),
            Arc::new(self.cost_source.finish()),
            Arc::new(cwd.finish()),
            Arc::new(git_branch.finish()),
            Arc::new(self.is_sidechain.finish()),
            Arc::new(client_version.finish()),
        ];
        self.rows = 0;
        self.bytes = 0;
        RecordBatch::try_new(schema(), columns).map_err(|source| Error::Arrow {
            context: "assembling a batch".into(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::tests::record;
    use crate::record::CostSource;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
    use chrono::{TimeZone, Utc};

    #[test]
    fn batch_matches_schema_and_values() {
        let mut b = RowBuffer::new();
        b.push(&record(1, Some("acme/api")));
        b.push(&record(2, None));
        assert_eq!(b.rows(), 2);
        let batch = b.take_batch().unwrap();
        assert_eq!(b.rows(), 0);
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(batch.schema(), schema());
        let keys = batch.column(DEDUPE_KEY_COLUMN).as_string::<i32>();
        assert_eq!(keys.value(0), "01".repeat(16));
        let repo = batch.column(6).as_string::<i32>();
        assert_eq!(repo.value(0), "acme/api");
        assert!(repo.is_null(1));
        let ts = batch.column(4).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(
            ts.value(0),
            Utc.with_ymd_and_hms(2025, 10, 12, 19, 0, 0)
                .unwrap()
                .timestamp_micros()
        );
        let tin = batch.column(15).as_primitive::<Int64Type>();
        assert_eq!(tin.value(1), 100);
    }

    #[test]
    fn key_hex_round_trips_and_rejects_garbage() {
        let k = [0xab; 16];
        assert_eq!(
            parse_key_hex(KeyHex::of(&k).as_str()),
            Some(u128::from_be_bytes(k))
        );
        for k in [
            [0u8; 16],
            [0xff; 16],
            std::array::from_fn(|i| (i * 17) as u8),
        ] {
            assert_eq!(
                KeyHex::of(&k).as_str(),
                format!("{:032x}", u128::from_be_bytes(k))
            );
        }
        assert_eq!(parse_key_hex("xyz"), None);
        assert_eq!(parse_key_hex(&"g".repeat(32)), None);
        assert_eq!(parse_key_hex(&format!("+{}", "0".repeat(31))), None);
    }

    #[test]
    fn dates_convert_to_days_since_epoch() {
        assert_eq!(date32(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()), 0);
        assert_eq!(date32(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()), 1);
        assert_eq!(date32(NaiveDate::from_ymd_opt(1969, 12, 31).unwrap()), -1);
    }

    #[test]
    fn cost_source_names_round_trip() {
        for c in [
            CostSource::Reported,
            CostSource::Estimated,
            CostSource::Unknown,
        ] {
            assert_eq!(CostSource::from_name(c.name()), Some(c));
        }
        assert_eq!(CostSource::from_name("free"), None);
    }
}
