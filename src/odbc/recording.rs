//! A recording [`Session`]: keeps every statement each server receives, in
//! order, and answers from a script. Used by the SQL transcript tests and by
//! anyone who wants to see what a procedure would send without a database.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use super::{DbError, Row, Session};
use crate::topology::ServerId;

/// Answers a statement: rows for a query, `Err` to simulate a failure.
pub type Responder = Arc<dyn Fn(ServerId, &str) -> Result<Vec<Row>, DbError> + Send + Sync>;

/// The statements received per server, in order.
#[derive(Debug, Clone, Default)]
pub struct Recording(pub Arc<Mutex<BTreeMap<ServerId, Vec<String>>>>);

impl Recording {
    /// Statements received by `server`.
    pub fn statements(&self, server: ServerId) -> Vec<String> {
        self.0.lock().expect("recording lock").get(&server).cloned().unwrap_or_default()
    }

    /// Every server's statements as text: a `-- server N (host)` header, then one
    /// statement per line.
    pub fn render(&self, host_of: impl Fn(ServerId) -> String) -> String {
        let mut out = String::new();
        for (server, statements) in self.0.lock().expect("recording lock").iter() {
            let _ = writeln!(out, "-- server {server} ({})", host_of(*server));
            for s in statements {
                let _ = writeln!(out, "{s};");
            }
            out.push('\n');
        }
        out
    }
}

/// A session that records and answers from a [`Responder`].
pub struct RecordingSession {
    pub server: ServerId,
    pub recording: Recording,
    pub responder: Responder,
}

impl std::fmt::Debug for RecordingSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingSession").field("server", &self.server).finish_non_exhaustive()
    }
}

impl RecordingSession {
    fn record(&self, sql: &str) {
        self.recording.0.lock().expect("recording lock").entry(self.server).or_default().push(sql.to_owned());
    }
}

impl Session for RecordingSession {
    fn execute(&mut self, sql: &str, _timeout_s: u32) -> Result<(), DbError> {
        self.record(sql);
        (self.responder)(self.server, sql).map(|_| ())
    }

    fn query(&mut self, sql: &str, _timeout_s: u32) -> Result<Vec<Row>, DbError> {
        self.record(sql);
        (self.responder)(self.server, sql)
    }
}
