//! An independent reader (pyarrow, from PyPI) reads the lake with Hive partitioning and finds
//! the same row count, column types and sums of tokens and cost as SQLite — before and after
//! `lake compact`.
//!
//! Skips loudly when python3 or pyarrow is missing, unless `PRODLENS_REQUIRE_EXTERNAL=1`, which
//! makes that a failure (CI sets it and installs pyarrow).

mod lake_support;

use lake_support::*;
use std::path::Path;
use std::process::Command;

const READER: &str = r#"
import json, sys
try:
    import pyarrow.dataset as ds
    import pyarrow.compute as pc
except ImportError as e:
    print(json.dumps({"missing": str(e)}))
    sys.exit(0)
t = ds.dataset(sys.argv[1], format="parquet", partitioning="hive").to_table()
sums = {c: pc.sum(t[c]).as_py() for c in
        ["tokens_in", "tokens_out", "cache_read_tokens", "cache_creation_tokens", "cost_usd"]}
print(json.dumps({
    "rows": t.num_rows,
    "distinct": pc.count_distinct(t["dedupe_key"]).as_py(),
    "types": {f.name: str(f.type) for f in t.schema},
    "sums": sums,
    "repos": sorted(set(t["repo"].to_pylist())),
    "costless": t.filter(pc.is_null(t["cost_usd"])).num_rows,
}))
"#;

/// Runs the reader; None (after a loud message) when pyarrow is unavailable and not required.
fn pyarrow_read(lake: &Path) -> Option<serde_json::Value> {
    let required = std::env::var("PRODLENS_REQUIRE_EXTERNAL").as_deref() == Ok("1");
    let skip = |why: String| {
        assert!(!required, "PRODLENS_REQUIRE_EXTERNAL=1 but {why}");
        // Written to the real stderr (not the captured one) so the skip shows in every run.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "\n!!!!!!!! SKIPPED: independent Parquet reader test — {why}; \
                 `pip install pyarrow` to run it !!!!!!!!\n\n"
            )
            .as_bytes(),
        );
    };
    let out = match Command::new("python3")
        .arg("-c")
        .arg(READER)
        .arg(lake)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            skip(format!("python3 cannot run ({e})"));
            return None;
        }
    };
    assert!(
        out.status.success(),
        "reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    if let Some(m) = v.get("missing") {
        skip(format!("pyarrow is not installed ({m})"));
        return None;
    }
    Some(v)
}

struct StoreFigures {
    rows: i64,
    tokens: [i64; 4],
    cost: f64,
    costless: i64,
}

fn store_figures(db: &Path) -> StoreFigures {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(
        "SELECT COUNT(*), SUM(tokens_in), SUM(tokens_out), SUM(cache_read_tokens),
                SUM(cache_creation_tokens), SUM(cost_usd), SUM(cost_usd IS NULL) FROM traces",
        [],
        |r| {
            Ok(StoreFigures {
                rows: r.get(0)?,
                tokens: [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?],
                cost: r.get(5)?,
                costless: r.get(6)?,
            })
        },
    )
    .unwrap()
}

fn assert_matches_store(v: &serde_json::Value, db: &Path) {
    let s = store_figures(db);
    assert!(s.rows > 1000 && s.costless > 0, "sample too thin");
    assert_eq!(v["rows"], s.rows);
    assert_eq!(v["distinct"], s.rows);
    assert_eq!(v["costless"], s.costless);
    for (col, want) in [
        "tokens_in",
        "tokens_out",
        "cache_read_tokens",
        "cache_creation_tokens",
    ]
    .iter()
    .zip(s.tokens)
    {
        assert_eq!(v["sums"][col], want, "{col}");
    }
    let cost = v["sums"]["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - s.cost).abs() <= 1e-9 * s.cost.abs().max(1.0),
        "{cost} vs {}",
        s.cost
    );
    let types = &v["types"];
    for (col, ty) in [
        ("dedupe_key", "string"),
        ("call_id", "string"),
        ("source_format", "string"),
        ("timestamp", "timestamp[us, tz=UTC]"),
        ("event_date", "date32[day]"),
        ("repo_slug", "string"),
        ("model", "string"),
        ("tokens_in", "int64"),
        ("tokens_out", "int64"),
        ("cache_read_tokens", "int64"),
        ("cache_creation_tokens", "int64"),
        ("latency_ms", "double"),
        ("ttft_ms", "double"),
        ("status_code", "int64"),
        ("is_error", "bool"),
        ("accepted", "bool"),
        ("diff_ratio", "double"),
        ("accepted_lines", "int64"),
        ("cache_hit", "bool"),
        ("cost_usd", "double"),
        ("cost_source", "string"),
    ] {
        assert_eq!(types[col], ty, "type of {col}");
    }
    // The Hive partition columns come from the folder names.
    assert_eq!(types["repo"], "string");
    assert!(types.get("date").is_some());
    assert_eq!(v["repos"], serde_json::json!(["acme__api", "acme__web"]));
}

#[test]
fn pyarrow_reads_the_lake_with_hive_partitioning_like_sqlite() {
    let tmp = tempfile::tempdir().unwrap();
    let (lines, _) = sample_lines(6_000, 21);
    let db = tmp.path().join("cache.db");
    let lake = tmp.path().join("parquet");
    for (i, chunk) in lines.chunks(2_000).enumerate() {
        let f = tmp.path().join(format!("part{i}.jsonl"));
        write_lines(&f, chunk);
        let out = Command::new(bin())
            .arg("--db")
            .arg(&db)
            .arg("ingest-traces")
            .arg(&f)
            .args(["--parquet-buffer-rows", "300", "--quiet"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(
        lake.is_dir(),
        "the default lake is parquet/ next to the database"
    );
    let Some(before) = pyarrow_read(&lake) else {
        return;
    };
    assert_matches_store(&before, &db);

    let out = Command::new(bin())
        .arg("--db")
        .arg(&db)
        .args(["lake", "compact", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = pyarrow_read(&lake).unwrap();
    assert_matches_store(&after, &db);
}
