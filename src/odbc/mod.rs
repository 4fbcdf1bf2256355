//! Database sessions, a leaf module: the narrow interface the engine and the
//! backends use ([`Session`]), rows as text ([`Row`]), database errors
//! ([`DbError`]), the implementation over odbc-api ([`real`]) and a recording
//! implementation for SQL transcripts and executor tests ([`recording`]).
//! It knows nothing of servers, plans or backends.

pub mod real;
pub mod recording;

use std::fmt;

/// One row of a query result, every column as text (`None` = SQL NULL).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row(pub Vec<Option<String>>);

impl Row {
    /// A row of the given column texts (`None` = NULL).
    pub fn new(columns: Vec<Option<String>>) -> Row {
        Row(columns)
    }

    /// Column `i` (from 0) as text, trimmed of trailing blanks (Altibase pads CHAR
    /// columns); `None` when NULL or absent.
    pub fn text(&self, i: usize) -> Option<&str> {
        self.0.get(i).and_then(Option::as_deref).map(str::trim_end)
    }

    /// Column `i` as a boolean: `t`, `true` or `1` (PostgreSQL and Altibase spellings) is true;
    /// anything else, NULL included, is false.
    pub fn flag(&self, i: usize) -> bool {
        self.text(i).is_some_and(|v| matches!(v.trim(), "t" | "true" | "1"))
    }

    /// Column `i` as an integer; `None` when NULL, absent or not an integer.
    pub fn int(&self, i: usize) -> Option<i64> {
        self.text(i).and_then(|v| v.trim().parse().ok())
    }
}

/// A database error: SQLSTATE, the driver's native code and the message, as the
/// driver reported them. `sqlstate` is empty when the error carried no diagnostic
/// record (odbc-api reports some failures without one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    /// Five-character SQLSTATE, e.g. `08001`, `42P01`; empty when none was reported.
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
        // Driver messages may span lines: one log line each.
        let message = self.message.trim_end().replace(['\r', '\n'], " ");
        if self.sqlstate.is_empty() {
            write!(f, "{message}")
        } else {
            write!(f, "SQLSTATE {}, Native error 0x{:X}: {message}", self.sqlstate, self.native)
        }
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
