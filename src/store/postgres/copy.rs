//! Copied rows into a PostgreSQL store (`migrate-store`): each row is inserted unless a row
//! with its key is there already, so a copy can be repeated.

use postgres::types::ToSql;

use super::PgStore;
use crate::error::{Error, Result};
use crate::store::copy::{Cell, CopyTable, Kind, TableTarget};

/// A copied cell as the parameter its column's type takes.
fn param(table: &str, column: &str, kind: Kind, cell: &Cell) -> Result<Box<dyn ToSql + Sync>> {
    let bad = || {
        Error::InvalidArgument(format!(
            "{table}.{column}: a stored value has another type ({cell:?})"
        ))
    };
    Ok(match (kind, cell) {
        (Kind::Int, Cell::Null) => Box::new(None::<i64>),
        (Kind::Int, Cell::Int(v)) => Box::new(Some(*v)),
        (Kind::Real, Cell::Null) => Box::new(None::<f64>),
        (Kind::Real, Cell::Real(v)) => Box::new(Some(*v)),
        (Kind::Real, Cell::Int(v)) => Box::new(Some(*v as f64)),
        (Kind::Text, Cell::Null) => Box::new(None::<String>),
        (Kind::Text, Cell::Text(v)) => Box::new(Some(v.clone())),
        (Kind::Blob, Cell::Null) => Box::new(None::<Vec<u8>>),
        (Kind::Blob, Cell::Blob(v)) => Box::new(Some(v.clone())),
        (Kind::Bool, Cell::Null) => Box::new(None::<bool>),
        (Kind::Bool, Cell::Int(v)) => Box::new(Some(*v != 0)),
        _ => return Err(bad()),
    })
}

/// The PostgreSQL type of a copied column.
fn sql_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Int => "BIGINT",
        Kind::Real => "DOUBLE PRECISION",
        Kind::Text => "TEXT",
        Kind::Blob => "BYTEA",
        Kind::Bool => "BOOLEAN",
    }
}

impl TableTarget for PgStore {
    fn copy_rows(&mut self, table: &CopyTable, rows: &[Vec<Cell>]) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let cols: Vec<String> = table
            .columns
            .iter()
            .map(|(c, _)| format!("\"{c}\""))
            .collect();
        let values: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, kind))| format!("${}::{}", i + 1, sql_type(*kind)))
            .collect();
        let matches: Vec<String> = table
            .key
            .iter()
            .map(|k| {
                let i = table.columns.iter().position(|(c, _)| c == k).unwrap_or(0) + 1;
                format!(
                    "t.\"{k}\" IS NOT DISTINCT FROM ${i}::{}",
                    sql_type(table.columns[i - 1].1)
                )
            })
            .collect();
        // `table.name` and the columns are constants of `store::copy::TABLES`.
        let sql = format!(
            "INSERT INTO {name} ({cols}) SELECT {values}
             WHERE NOT EXISTS (SELECT 1 FROM {name} t WHERE {matches})
             ON CONFLICT DO NOTHING",
            name = table.name,
            cols = cols.join(", "),
            values = values.join(", "),
            matches = matches.join(" AND ")
        );
        let mut c = self.client();
        let mut tx = c.transaction()?;
        let stmt = tx.prepare(&sql)?;
        let mut new = 0;
        for row in rows {
            let params = table
                .columns
                .iter()
                .zip(row)
                .map(|((name, kind), cell)| param(table.name, name, *kind, cell))
                .collect::<Result<Vec<_>>>()?;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
            new += tx.execute(&stmt, &refs)?;
        }
        tx.batch_execute("NOTIFY prodlens_changes")?;
        tx.commit()?;
        Ok(new)
    }
}
