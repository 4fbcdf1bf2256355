//! Database sessions: the narrow interface the engine and backends use
//! ([`Session`]), its implementation over odbc-api ([`real`]), and a recording
//! implementation for SQL transcripts ([`recording`]).

pub mod connector;
pub mod real;
pub mod recording;

use std::fmt;

/// One row of a query result, every column as text (`None` = SQL NULL).
pub type Row = Vec<Option<String>>;

/// A database error: SQLSTATE, the driver's native code and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    /// Five-character SQLSTATE, e.g. `08001`, `HY000`, `42P01`.
    pub sqlstate: String,
    /// The native error code (Altibase: the error code such as `0x6100D`; psqlODBC: its own enum).
    pub native: i32,
    pub message: String,
}

impl DbError {
    pub fn new(sqlstate: &str, native: i32, message: impl Into<String>) -> DbError {
        DbError { sqlstate: sqlstate.to_owned(), native, message: message.into() }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SQLSTATE {}, Native error 0x{:X}: {}", self.sqlstate, self.native, self.message.trim_end())
    }
}

impl std::error::Error for DbError {}

/// An open session to one server. Implementations bound every call by
/// `timeout_s` seconds on the server side.
pub trait Session: Send {
    /// Runs one statement.
    fn execute(&mut self, sql: &str, timeout_s: u32) -> Result<(), DbError>;
    /// Runs a query and returns all rows as text.
    fn query(&mut self, sql: &str, timeout_s: u32) -> Result<Vec<Row>, DbError>;
}
