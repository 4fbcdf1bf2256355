//! A recording [`Session`]: keeps every statement each session receives, in
//! order, keyed by a label of the caller's choice (the engine uses server IDs),
//! and answers from a script. Used by the SQL transcript tests, the executor
//! tests, and by anyone who wants to see what a procedure would send without a
//! database.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use super::{DbError, Row, Session};

/// Answers a statement: rows for a query, `Err` to simulate a failure. It may
/// also block (a silent server).
pub type Responder<K> = Arc<dyn Fn(&K, &str) -> Result<Vec<Row>, DbError> + Send + Sync>;

/// The statements received per label, in order.
#[derive(Debug)]
pub struct Recording<K>(pub Arc<Mutex<BTreeMap<K, Vec<String>>>>);

impl<K> Clone for Recording<K> {
    fn clone(&self) -> Self {
        Recording(Arc::clone(&self.0))
    }
}

impl<K> Default for Recording<K> {
    fn default() -> Self {
        Recording(Arc::new(Mutex::new(BTreeMap::new())))
    }
}

impl<K: Ord + Clone> Recording<K> {
    /// The statements `key` received, in order.
    pub fn received(&self, key: &K) -> Vec<String> {
        self.0.lock().expect("recording lock").get(key).cloned().unwrap_or_default()
    }

    /// Every session's statements as text: a `-- <header>` line, then one
    /// statement per line.
    pub fn render(&self, header: impl Fn(&K) -> String) -> String {
        let mut out = String::new();
        for (key, statements) in self.0.lock().expect("recording lock").iter() {
            let _ = writeln!(out, "-- {}", header(key));
            for s in statements {
                let _ = writeln!(out, "{s};");
            }
            out.push('\n');
        }
        out
    }
}

/// A session that records under `key` and answers from a [`Responder`].
pub struct RecordingSession<K> {
    pub key: K,
    pub recording: Recording<K>,
    pub responder: Responder<K>,
}

impl<K: std::fmt::Debug> std::fmt::Debug for RecordingSession<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingSession").field("key", &self.key).finish_non_exhaustive()
    }
}

impl<K: Ord + Clone> RecordingSession<K> {
    fn record(&self, sql: &str) {
        self.recording.0.lock().expect("recording lock").entry(self.key.clone()).or_default().push(sql.to_owned());
    }
}

impl<K: Ord + Clone + Send> Session for RecordingSession<K> {
    fn execute(&mut self, sql: &str, _timeout_s: u32) -> Result<(), DbError> {
        self.record(sql);
        (self.responder)(&self.key, sql).map(|_| ())
    }

    fn query(&mut self, sql: &str, _timeout_s: u32) -> Result<Vec<Row>, DbError> {
        self.record(sql);
        (self.responder)(&self.key, sql)
    }
}
