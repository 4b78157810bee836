//! A thin statement over SQLite's C API, for the report's hottest loops and the trace insert.
//!
//! A report on a large window steps through hundreds of thousands of rollup rows of up to 28
//! columns. Through rusqlite each column read costs three C calls (the column count, the type,
//! the value) plus conversion; measured with callgrind, that was a sixth of a realistic
//! report's instructions. [`RawQuery`] reads a counter with one call (`sqlite3_column_int64`)
//! and checks the type only where it matters (text and blobs). Likewise an ingest binds 35
//! values per trace row: [`RawQuery::execute`] binds borrowed text without SQLite copying it.
//! It runs on the same connection as rusqlite and reports errors as rusqlite errors.

use std::ffi::c_int;
use std::marker::PhantomData;
use std::ptr::NonNull;

use rusqlite::{ffi, Connection};

/// One prepared statement on a borrowed connection; finalized when dropped.
pub(in crate::store) struct RawQuery<'c> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    db: *mut ffi::sqlite3,
    /// The database stores text as UTF-8 (as every store ProdLens creates does), so text can
    /// be read in place.
    utf8: bool,
    _conn: PhantomData<&'c Connection>,
}

/// The current row of a [`RawQuery`]: valid until the next step, which the borrow enforces.
pub(in crate::store) struct RawRow<'q> {
    stmt: *mut ffi::sqlite3_stmt,
    utf8: bool,
    _query: PhantomData<&'q mut ()>,
}

/// A value bound by [`RawQuery::execute`], borrowed for that call only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(in crate::store) enum Param<'a> {
    /// SQL NULL.
    Null,
    /// An integer (booleans as 0 and 1).
    Int(i64),
    /// A real.
    Real(f64),
    /// Text.
    Text(&'a str),
    /// A blob.
    Blob(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl From<bool> for Param<'_> {
    fn from(v: bool) -> Self {
        Param::Int(i64::from(v))
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Blob(v)
    }
}

impl From<f64> for Param<'_> {
    fn from(v: f64) -> Self {
        Param::Real(v)
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

/// A value [`RawRow::get`] reads: integers and reals, converted by SQLite as its API does.
pub(in crate::store) trait RawValue: Sized {
    /// Reads column `i` of the current row of `stmt`.
    fn read(stmt: *mut ffi::sqlite3_stmt, i: c_int) -> Self;
}

impl RawValue for i64 {
    fn read(stmt: *mut ffi::sqlite3_stmt, i: c_int) -> Self {
        // SAFETY: `stmt` is a live statement positioned on a row (RawRow exists only then);
        // an out-of-range index reads as NULL, i.e. 0.
        unsafe { ffi::sqlite3_column_int64(stmt, i) }
    }
}

impl RawValue for f64 {
    fn read(stmt: *mut ffi::sqlite3_stmt, i: c_int) -> Self {
        // SAFETY: as for i64.
        unsafe { ffi::sqlite3_column_double(stmt, i) }
    }
}

/// The connection's last error as a rusqlite error.
fn error(db: *mut ffi::sqlite3, code: c_int) -> rusqlite::Error {
    // SAFETY: `db` is the live handle the statement belongs to; errmsg returns a NUL-terminated
    // string owned by SQLite, copied before any other call.
    let msg = unsafe {
        let p = ffi::sqlite3_errmsg(db);
        (!p.is_null()).then(|| std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(code), msg)
}

fn index(i: usize) -> rusqlite::Result<c_int> {
    c_int::try_from(i).map_err(|_| rusqlite::Error::InvalidColumnIndex(i))
}

impl<'c> RawQuery<'c> {
    /// Prepares `sql` (one statement) on `conn`.
    pub(in crate::store) fn prepare(conn: &'c Connection, sql: &str) -> rusqlite::Result<Self> {
        let encoding: String = conn.query_row("PRAGMA encoding", [], |r| r.get(0))?;
        // SAFETY: the handle stays valid while `conn` is borrowed, which 'c ties to the query.
        let db = unsafe { conn.handle() };
        let len = c_int::try_from(sql.len()).map_err(|_| rusqlite::Error::InvalidQuery)?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: `sql` is valid for `len` bytes (no NUL terminator needed with a length);
        // `stmt` receives a statement owned by this value or stays null.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(
                db,
                sql.as_ptr().cast(),
                len,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        let stmt = NonNull::new(stmt).ok_or(rusqlite::Error::InvalidQuery)?;
        Ok(RawQuery {
            stmt,
            db,
            utf8: encoding == "UTF-8",
            _conn: PhantomData,
        })
    }

    fn check(&self, rc: c_int) -> rusqlite::Result<()> {
        if rc == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(error(self.db, rc))
        }
    }

    /// Binds an integer to parameter `i` (1-based).
    pub(in crate::store) fn bind_i64(&mut self, i: usize, v: i64) -> rusqlite::Result<()> {
        let i = index(i)?;
        // SAFETY: live statement, not stepped while binding (&mut self).
        self.check(unsafe { ffi::sqlite3_bind_int64(self.stmt.as_ptr(), i, v) })
    }

    /// Binds text (SQLite copies it) or NULL to parameter `i` (1-based).
    pub(in crate::store) fn bind_text(
        &mut self,
        i: usize,
        v: Option<&str>,
    ) -> rusqlite::Result<()> {
        let i = index(i)?;
        let rc = match v {
            // SAFETY: live statement; `s` is valid for its length and SQLITE_TRANSIENT makes
            // SQLite copy it before returning.
            Some(s) => unsafe {
                ffi::sqlite3_bind_text(
                    self.stmt.as_ptr(),
                    i,
                    s.as_ptr().cast(),
                    c_int::try_from(s.len()).map_err(|_| rusqlite::Error::InvalidQuery)?,
                    ffi::SQLITE_TRANSIENT(),
                )
            },
            // SAFETY: live statement.
            None => unsafe { ffi::sqlite3_bind_null(self.stmt.as_ptr(), i) },
        };
        self.check(rc)
    }

    /// Runs the statement once with `params` bound to ?1, ?2, … and returns the rows it
    /// changed. Text and blobs are bound without a copy (SQLite's `SQLITE_STATIC`): the
    /// statement is reset and its bindings cleared before this returns, so SQLite holds no
    /// pointer into `params` afterwards.
    pub(in crate::store) fn execute(&mut self, params: &[Param<'_>]) -> rusqlite::Result<usize> {
        let stmt = self.stmt.as_ptr();
        // SAFETY: live statement.
        let expected = unsafe { ffi::sqlite3_bind_parameter_count(stmt) };
        if usize::try_from(expected).ok() != Some(params.len()) {
            return Err(rusqlite::Error::InvalidParameterCount(
                params.len(),
                usize::try_from(expected).unwrap_or(0),
            ));
        }
        let out = self.bind_all(params).and_then(|()| {
            // SAFETY: live statement with every parameter bound.
            match unsafe { ffi::sqlite3_step(stmt) } {
                // SAFETY: the handle the statement belongs to.
                ffi::SQLITE_DONE => {
                    Ok(usize::try_from(unsafe { ffi::sqlite3_changes(self.db) }).unwrap_or(0))
                }
                ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults),
                rc => Err(error(self.db, rc)),
            }
        });
        // SAFETY: live statement. After these SQLite keeps no pointer to the bound values.
        unsafe {
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
        }
        out
    }

    fn bind_all(&mut self, params: &[Param<'_>]) -> rusqlite::Result<()> {
        let stmt = self.stmt.as_ptr();
        for (k, p) in params.iter().enumerate() {
            let i = index(k + 1)?;
            let len = |n: usize| c_int::try_from(n).map_err(|_| rusqlite::Error::InvalidQuery);
            // SAFETY: live statement; text and blob pointers are valid for their lengths until
            // `execute` clears the bindings (SQLITE_STATIC: SQLite does not copy or free them).
            let rc = unsafe {
                match *p {
                    Param::Null => ffi::sqlite3_bind_null(stmt, i),
                    Param::Int(v) => ffi::sqlite3_bind_int64(stmt, i, v),
                    Param::Real(v) => ffi::sqlite3_bind_double(stmt, i, v),
                    Param::Text(t) => ffi::sqlite3_bind_text(
                        stmt,
                        i,
                        t.as_ptr().cast(),
                        len(t.len())?,
                        ffi::SQLITE_STATIC(),
                    ),
                    Param::Blob(b) => ffi::sqlite3_bind_blob(
                        stmt,
                        i,
                        b.as_ptr().cast(),
                        len(b.len())?,
                        ffi::SQLITE_STATIC(),
                    ),
                }
            };
            self.check(rc)?;
        }
        Ok(())
    }

    /// Steps to the next row; `None` when there are no more.
    pub(in crate::store) fn next(&mut self) -> rusqlite::Result<Option<RawRow<'_>>> {
        // SAFETY: live statement; the previous row's borrow has ended (&mut self).
        match unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(Some(RawRow {
                stmt: self.stmt.as_ptr(),
                utf8: self.utf8,
                _query: PhantomData,
            })),
            ffi::SQLITE_DONE => Ok(None),
            rc => Err(error(self.db, rc)),
        }
    }
}

impl Drop for RawQuery<'_> {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared by this value and is finalized once, here.
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

impl<'q> RawRow<'q> {
    fn column_type(&self, i: c_int) -> c_int {
        // SAFETY: live statement positioned on a row.
        unsafe { ffi::sqlite3_column_type(self.stmt, i) }
    }

    /// Column `i` (0-based) as an integer or real.
    pub(in crate::store) fn get<T: RawValue>(&self, i: usize) -> rusqlite::Result<T> {
        Ok(T::read(self.stmt, index(i)?))
    }

    /// Column `i` as text, `None` for NULL; any other type is an error. The text is read in
    /// place (no conversion), so it stays valid for the row's lifetime.
    pub(in crate::store) fn text(&self, i: usize) -> rusqlite::Result<Option<&'q str>> {
        let c = index(i)?;
        match self.column_type(c) {
            ffi::SQLITE_NULL => Ok(None),
            ffi::SQLITE_TEXT => {
                // SAFETY: a TEXT value. In a UTF-8 database column_blob returns its bytes as
                // they are (column_text would copy them to add a NUL); otherwise column_text
                // converts them to UTF-8 once. Either is null when empty, column_bytes gives
                // the length, and the bytes stay valid until the next step, which a RawRow
                // cannot outlive (a TEXT value is never converted again by these reads).
                let bytes: &'q [u8] = unsafe {
                    let p = if self.utf8 {
                        ffi::sqlite3_column_blob(self.stmt, c)
                    } else {
                        ffi::sqlite3_column_text(self.stmt, c).cast()
                    };
                    let n = usize::try_from(ffi::sqlite3_column_bytes(self.stmt, c)).unwrap_or(0);
                    if p.is_null() || n == 0 {
                        &[]
                    } else {
                        std::slice::from_raw_parts(p.cast::<u8>(), n)
                    }
                };
                if bytes.is_ascii() {
                    // SAFETY: ASCII is UTF-8. Names and ids are ASCII nearly always, and
                    // checking that is several times cheaper than full validation.
                    return Ok(Some(unsafe { std::str::from_utf8_unchecked(bytes) }));
                }
                std::str::from_utf8(bytes)
                    .map(Some)
                    .map_err(|e| rusqlite::Error::Utf8Error(i, e))
            }
            t => Err(rusqlite::Error::InvalidColumnType(
                i,
                String::new(),
                type_of(t),
            )),
        }
    }

    /// Column `i` as a blob, `None` for NULL; any other type is an error. Read in place, valid
    /// for the row's lifetime.
    pub(in crate::store) fn blob(&self, i: usize) -> rusqlite::Result<Option<&'q [u8]>> {
        let c = index(i)?;
        match self.column_type(c) {
            ffi::SQLITE_NULL => Ok(None),
            ffi::SQLITE_BLOB => {
                // SAFETY: a BLOB value: column_blob returns its bytes without conversion (null
                // for an empty blob) and column_bytes their length, valid until the next step.
                unsafe {
                    let p = ffi::sqlite3_column_blob(self.stmt, c);
                    let n = usize::try_from(ffi::sqlite3_column_bytes(self.stmt, c)).unwrap_or(0);
                    if p.is_null() || n == 0 {
                        Ok(Some(&[]))
                    } else {
                        Ok(Some(std::slice::from_raw_parts(p.cast::<u8>(), n)))
                    }
                }
            }
            t => Err(rusqlite::Error::InvalidColumnType(
                i,
                String::new(),
                type_of(t),
            )),
        }
    }
}

fn type_of(t: c_int) -> rusqlite::types::Type {
    use rusqlite::types::Type;
    match t {
        ffi::SQLITE_INTEGER => Type::Integer,
        ffi::SQLITE_FLOAT => Type::Real,
        ffi::SQLITE_TEXT => Type::Text,
        ffi::SQLITE_BLOB => Type::Blob,
        _ => Type::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE t (k INTEGER, r REAL, s TEXT, b BLOB);
             INSERT INTO t VALUES (1, 1.5, 'ana', x'0102'), (2, 2.0, NULL, NULL),
                                  (3, 3, '', x''), (4, 0.25, 'bö', x'ff');",
        )
        .unwrap();
        c
    }

    /// One row of the test table: integer, real, text, blob.
    type Row = (i64, f64, Option<String>, Option<Vec<u8>>);

    #[test]
    fn reads_what_rusqlite_reads() {
        let c = conn();
        let mut q = RawQuery::prepare(
            &c,
            "SELECT k, r, s, b FROM t WHERE k >= ?1 AND (?2 IS NULL OR s = ?2) ORDER BY k",
        )
        .unwrap();
        q.bind_i64(1, 1).unwrap();
        q.bind_text(2, None).unwrap();
        let mut got: Vec<Row> = Vec::new();
        while let Some(r) = q.next().unwrap() {
            got.push((
                r.get::<i64>(0).unwrap(),
                r.get::<f64>(1).unwrap(),
                r.text(2).unwrap().map(str::to_string),
                r.blob(3).unwrap().map(<[u8]>::to_vec),
            ));
        }
        let mut stmt = c.prepare("SELECT k, r, s, b FROM t ORDER BY k").unwrap();
        let want: Vec<Row> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(got, want);
        // Bound text narrows; the statement can be dropped mid-way.
        let mut q = RawQuery::prepare(&c, "SELECT k FROM t WHERE s = ?1").unwrap();
        q.bind_text(1, Some("bö")).unwrap();
        assert_eq!(q.next().unwrap().unwrap().get::<i64>(0).unwrap(), 4);
        assert!(q.next().unwrap().is_none());
    }

    #[test]
    fn text_of_a_utf16_database_is_converted() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "PRAGMA encoding = 'UTF-16le'; CREATE TABLE t (s TEXT); INSERT INTO t VALUES ('bö'), ('');",
        )
        .unwrap();
        let mut q = RawQuery::prepare(&c, "SELECT s FROM t ORDER BY s DESC").unwrap();
        assert!(!q.utf8);
        assert_eq!(q.next().unwrap().unwrap().text(0).unwrap(), Some("bö"));
        assert_eq!(q.next().unwrap().unwrap().text(0).unwrap(), Some(""));
    }

    #[test]
    fn wrong_types_and_bad_sql_are_errors_not_crashes() {
        let c = conn();
        assert!(RawQuery::prepare(&c, "SELECT nope FROM t").is_err());
        assert!(RawQuery::prepare(&c, "SELEC").is_err());
        let mut q = RawQuery::prepare(&c, "SELECT k, s, b FROM t WHERE k = 1").unwrap();
        let r = q.next().unwrap().unwrap();
        assert!(r.text(0).is_err());
        assert!(r.blob(1).is_err());
        assert!(r.text(2).is_err());
        // Non-ASCII text is validated, not taken as is (invalid TEXT below).
        let mut q = RawQuery::prepare(&c, "SELECT CAST(x'c3b6' AS TEXT)").unwrap();
        assert_eq!(q.next().unwrap().unwrap().text(0).unwrap(), Some("ö"));
        // Out of range reads as NULL.
        assert_eq!(r.get::<i64>(7).unwrap(), 0);
        assert_eq!(r.text(7).unwrap(), None);
        let mut q = RawQuery::prepare(&c, "SELECT CAST(x'ff' AS TEXT)").unwrap();
        assert!(q.next().unwrap().unwrap().text(0).is_err());
        let mut q = RawQuery::prepare(&c, "SELECT ?1").unwrap();
        assert!(q.bind_i64(3, 1).is_err());
    }

    #[test]
    fn execute_binds_borrowed_values_and_can_run_again() {
        let c = conn();
        c.execute_batch("CREATE UNIQUE INDEX t_k ON t(k)").unwrap();
        let mut ins = RawQuery::prepare(
            &c,
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4) ON CONFLICT(k) DO NOTHING",
        )
        .unwrap();
        for k in 10..13i64 {
            // Each value is dropped right after the call that bound it.
            let text = format!("row {k}");
            let blob = vec![k as u8; 3];
            let n = ins
                .execute(&[
                    k.into(),
                    (k as f64 / 2.0).into(),
                    text.as_str().into(),
                    blob.as_slice().into(),
                ])
                .unwrap();
            assert_eq!(n, 1);
        }
        // A duplicate changes nothing; NULLs and booleans bind as rusqlite binds them.
        assert_eq!(
            ins.execute(&[10i64.into(), Param::Null, Param::Null, Param::Null])
                .unwrap(),
            0
        );
        let none: Option<&str> = None;
        assert_eq!(
            ins.execute(&[true.into(), Some(0.5).into(), none.into(), Param::Null])
                .unwrap(),
            0
        );
        assert_eq!(
            ins.execute(&[
                20i64.into(),
                None::<f64>.into(),
                "".into(),
                Param::Blob(&[])
            ])
            .unwrap(),
            1
        );
        let rows: Vec<Row> = c
            .prepare("SELECT k, coalesce(r, -1), s, b FROM t WHERE k >= 10 ORDER BY k")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows[0], (10, 5.0, Some("row 10".into()), Some(vec![10; 3])));
        assert_eq!(rows[2], (12, 6.0, Some("row 12".into()), Some(vec![12; 3])));
        assert_eq!(rows[3], (20, -1.0, Some(String::new()), Some(Vec::new())));
        // Wrong counts and failures are errors; the statement still runs after one.
        assert!(matches!(
            ins.execute(&[1i64.into()]),
            Err(rusqlite::Error::InvalidParameterCount(1, 4))
        ));
        let mut strict = RawQuery::prepare(&c, "INSERT INTO t (k) VALUES (?1)").unwrap();
        assert!(strict.execute(&[10i64.into()]).is_err());
        assert_eq!(strict.execute(&[30i64.into()]).unwrap(), 1);
        let mut select = RawQuery::prepare(&c, "SELECT ?1").unwrap();
        assert!(matches!(
            select.execute(&[1i64.into()]),
            Err(rusqlite::Error::ExecuteReturnedResults)
        ));
    }
}
