//! Helpers of the rollup tests: reading the rollup tables of a real SQLite file and comparing
//! two readings (integers and text exactly, sums of floats to 1e-9 relative, sketches by what
//! they answer).

#![allow(dead_code)]

use prod_lens::stats::sketch::QuantileSketch;
use rusqlite::types::Value;
use rusqlite::Connection;

/// Every row of the three rollup tables, in key order.
pub type Snapshot = Vec<(&'static str, Vec<Vec<Value>>)>;

/// Reads the rollup tables (optionally one repo).
pub fn snapshot(c: &Connection, repo: Option<&str>) -> Snapshot {
    [
        ("rollup_cells", "repo, hour, developer, model"),
        (
            "rollup_errors",
            "repo, hour, developer, model, status, error_class",
        ),
        ("rollup_sessions", "repo, day, developer, session"),
        (
            "rollup_session_models",
            "repo, day, developer, session, model",
        ),
    ]
    .into_iter()
    .map(|(table, key)| {
        let sql = format!("SELECT * FROM {table} WHERE ?1 IS NULL OR repo = ?1 ORDER BY {key}");
        let mut stmt = c.prepare(&sql).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([repo], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
            .unwrap()
            .collect::<Result<Vec<Vec<Value>>, _>>()
            .unwrap();
        (table, rows)
    })
    .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12
}

fn same_sketch(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (
        QuantileSketch::from_bytes(a).unwrap(),
        QuantileSketch::from_bytes(b).unwrap(),
    );
    a.count() == b.count()
        && a.min() == b.min()
        && a.max() == b.max()
        && [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]
            .iter()
            .all(|&q| a.quantile(q) == b.quantile(q))
}

/// Panics, naming the first difference, unless the two readings hold the same rollups.
pub fn assert_same(got: &Snapshot, want: &Snapshot) {
    for ((table, g), (_, w)) in got.iter().zip(want) {
        assert_eq!(g.len(), w.len(), "{table}: row count");
        for (gr, wr) in g.iter().zip(w) {
            for (i, (a, b)) in gr.iter().zip(wr).enumerate() {
                let same = match (a, b) {
                    (Value::Real(x), Value::Real(y)) => close(*x, *y),
                    (Value::Blob(x), Value::Blob(y)) => same_sketch(x, y),
                    _ => a == b,
                };
                assert!(
                    same,
                    "{table} column {i}: {a:?} != {b:?}\n got {gr:?}\nwant {wr:?}"
                );
            }
        }
    }
}

/// Total of a column over a table (for quick sanity checks).
pub fn total(c: &Connection, table: &str, column: &str) -> i64 {
    c.query_row(&format!("SELECT TOTAL({column}) FROM {table}"), [], |r| {
        r.get::<_, f64>(0)
    })
    .unwrap() as i64
}
