//! [`Session`] over odbc-api and the system's ODBC driver manager (unixODBC).
//!
//! One ODBC environment per process (`odbc_api::environment()`); connections
//! are opened with an explicit login timeout; every statement carries a query
//! timeout. Connection strings hold the password: they are never logged.

use odbc_api::{ConnectionOptions, Cursor, ResultSetMetadata};

use super::{DbError, Row, Session};

/// A live ODBC connection.
pub struct OdbcSession {
    conn: odbc_api::Connection<'static>,
}

impl std::fmt::Debug for OdbcSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OdbcSession")
    }
}

fn to_db_error(error: &odbc_api::Error) -> DbError {
    match error {
        odbc_api::Error::Diagnostics { record, .. } => DbError {
            sqlstate: record.state.as_str().to_owned(),
            native: record.native_error,
            message: String::from_utf8_lossy(&record.message).into_owned(),
        },
        other => DbError::new("", 0, other.to_string()),
    }
}

/// Connects with `connection_string`, waiting at most `login_timeout_s` seconds
/// for the login (psqlODBC passes it to libpq as `connect_timeout`, at least 2 s;
/// DNS is not covered: resolve the name first).
pub fn connect(connection_string: &str, login_timeout_s: u32) -> Result<OdbcSession, DbError> {
    let env = odbc_api::environment().map_err(|e| to_db_error(&e))?;
    let options = ConnectionOptions { login_timeout_sec: Some(login_timeout_s), packet_size: None };
    let conn = env.connect_with_connection_string(connection_string, options).map_err(|e| to_db_error(&e))?;
    Ok(OdbcSession { conn })
}

fn timeout(timeout_s: u32) -> usize {
    usize::try_from(timeout_s).unwrap_or(usize::MAX)
}

impl Session for OdbcSession {
    fn execute(&mut self, sql: &str, timeout_s: u32) -> Result<(), DbError> {
        // A statement that returns a result set (SELECT ..., e.g. a function call) is fine too.
        self.conn.execute(sql, (), Some(timeout(timeout_s))).map(|_| ()).map_err(|e| to_db_error(&e))
    }

    fn query(&mut self, sql: &str, timeout_s: u32) -> Result<Vec<Row>, DbError> {
        let Some(mut cursor) = self.conn.execute(sql, (), Some(timeout(timeout_s))).map_err(|e| to_db_error(&e))? else {
            return Ok(Vec::new());
        };
        let columns = cursor.num_result_cols().map_err(|e| to_db_error(&e))?;
        let columns = u16::try_from(columns).unwrap_or(0);
        let mut rows = Vec::new();
        let mut buf = Vec::new();
        while let Some(mut row) = cursor.next_row().map_err(|e| to_db_error(&e))? {
            let mut out = Vec::with_capacity(usize::from(columns));
            for col in 1..=columns {
                let not_null = row.get_text(col, &mut buf).map_err(|e| to_db_error(&e))?;
                out.push(not_null.then(|| String::from_utf8_lossy(&buf).into_owned()));
            }
            rows.push(Row(out));
        }
        Ok(rows)
    }
}
