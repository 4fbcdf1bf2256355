//! The backend trait, in domain words: a backend turns each planned
//! [`Action`] into SQL operations ([`Op`]), reads the replication state of a
//! server, builds connection strings and classifies errors. The backend decides
//! the SQL; the engine decides the order.
//!
//! Adding a backend: implement [`Backend`] in a new module, add a
//! [`BackendKind`] variant and a line to [`for_config`]. See `docs/architecture.md`.

mod altibase;
mod postgres;

pub use altibase::Altibase;
pub use postgres::Postgres;

use crate::config::{BackendKind, Config};
use crate::lifecycle::{Observation, ServerState, Step};
use crate::odbc::{DbError, Session};
use crate::topology::ServerId;

/// What an error means to the engine, decided by error code (never by message text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// The object already exists (Altibase 0x61100).
    DuplicateName,
    /// The object does not exist (Altibase 0x6111B).
    UndefinedName,
    /// The replication is already running (Altibase 0x6100A).
    AlreadyStarted,
    /// The replication is not running (Altibase 0x61027).
    NotStarted,
    /// The peer could not be reached by the replication (Altibase 0x6100D).
    PeerUnreachable,
    /// A bounded flush ran out of time (Altibase 0x61075).
    FlushTimeout,
    /// Worth retrying: connection trouble, statement or lock timeout, serialisation.
    Transient,
    /// Anything else: a permanent failure.
    Other,
}

/// How a tolerated error is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Expected and harmless (idempotent re-run): logged at INFO.
    Info,
    /// Tolerated but worth a look (peer absent, flush timed out): logged at WARN.
    Warn,
}

/// An error class an operation tolerates, with why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tolerance {
    pub class: ErrorClass,
    pub severity: Severity,
    pub note: &'static str,
}

/// What an operation does.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum OpKind {
    /// Run one statement. `{NAME}` placeholders are filled from captured values.
    Exec { sql: String },
    /// Run a query returning one value and keep it as `{var}` for later operations.
    Capture { sql: String, var: String },
    /// Poll `sql` (one boolean value; `t`, `true` or `1` is done) every 0.1 s, then every 0.5 s after 2 s,
    /// until it holds, at most `timeout_s` seconds. `progress_sql`, when given,
    /// returns one line of text logged when the wait begins and then every 5 s.
    WaitUntil { sql: String, what: String, progress_sql: Option<String>, timeout_s: u32 },
    /// Sleep `seconds` (no SQL).
    Sleep { seconds: u32 },
    /// Nothing to run on this backend; `note` says why (logged at INFO, or WARN when `warn`).
    Skip { note: String, warn: bool },
}

/// One operation on one server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Op {
    pub server: ServerId,
    pub kind: OpKind,
    pub tolerate: Vec<Tolerance>,
    /// Runs even when an earlier operation of the same step failed (restores a setting).
    pub finally: bool,
}

impl Op {
    pub fn exec(server: ServerId, sql: impl Into<String>) -> Op {
        Op { server, kind: OpKind::Exec { sql: sql.into() }, tolerate: Vec::new(), finally: false }
    }

    pub fn capture(server: ServerId, sql: impl Into<String>, var: impl Into<String>) -> Op {
        Op { server, kind: OpKind::Capture { sql: sql.into(), var: var.into() }, tolerate: Vec::new(), finally: false }
    }

    pub fn sleep(server: ServerId, seconds: u32) -> Op {
        Op { server, kind: OpKind::Sleep { seconds }, tolerate: Vec::new(), finally: false }
    }

    pub fn skip(server: ServerId, note: impl Into<String>, warn: bool) -> Op {
        Op { server, kind: OpKind::Skip { note: note.into(), warn }, tolerate: Vec::new(), finally: false }
    }

    /// Polls `sql` until it returns true (see [`OpKind::WaitUntil`]).
    pub fn wait_until(
        server: ServerId,
        sql: impl Into<String>,
        what: impl Into<String>,
        progress_sql: Option<String>,
        timeout_s: u32,
    ) -> Op {
        let kind = OpKind::WaitUntil { sql: sql.into(), what: what.into(), progress_sql, timeout_s };
        Op { server, kind, tolerate: Vec::new(), finally: false }
    }

    /// Adds a tolerated error class.
    #[must_use]
    pub fn tolerating(mut self, class: ErrorClass, severity: Severity, note: &'static str) -> Op {
        self.tolerate.push(Tolerance { class, severity, note });
        self
    }

    /// The SQL text of the operation, if it has one.
    pub fn sql(&self) -> Option<&str> {
        match &self.kind {
            OpKind::Exec { sql } | OpKind::Capture { sql, .. } | OpKind::WaitUntil { sql, .. } => Some(sql),
            OpKind::Sleep { .. } | OpKind::Skip { .. } => None,
        }
    }
}

/// Where and how to connect to one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub server: ServerId,
    /// `<sts>-<i>.<svc>`.
    pub host: String,
    /// The address the name resolved to (so the driver does no DNS look-up of its own).
    pub address: String,
    /// Connect with elevated privilege (Altibase `PRIVILEGE=SYSDBA`).
    pub privileged: bool,
}

/// The status of one replication (pair) on one server, for `aku --status`.
/// `None` means the backend cannot tell.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct PairStatus {
    /// Replication name `<PREFIX>_<i><j>`.
    pub replication: String,
    /// The other server of the pair.
    pub peer: ServerId,
    pub exists: bool,
    /// Started as persisted intent (Altibase IS_STARTED; PostgreSQL subscription enabled).
    pub started: bool,
    /// Actually running now (Altibase V$REPSENDER STATUS = 1; PostgreSQL apply worker alive).
    pub running: Option<bool>,
    /// No restart point (XSN = -1; PostgreSQL: no slot and no origin progress).
    pub reset: bool,
    /// Log this server wrote that the peer has not confirmed yet, in bytes.
    pub lag_bytes: Option<i64>,
    /// Replay lag in seconds, where the backend can tell.
    pub lag_s: Option<f64>,
    /// Log this server retains for the peer, in bytes.
    pub retained_bytes: Option<i64>,
    /// Error and conflict counters or the sender's state, as text.
    pub errors: Option<String>,
}

/// A database backend.
pub trait Backend: Send + Sync {
    fn kind(&self) -> BackendKind;

    /// The ODBC connection string for `target`, password included (never logged).
    fn connection_string(&self, config: &Config, target: &Target, password: &str) -> String;

    /// The same string with the password masked, for logs and `--dry-run`.
    fn redacted_connection_string(&self, config: &Config, target: &Target) -> String {
        self.connection_string(config, target, "********")
    }

    /// Whether a failed unprivileged login should be retried with privilege
    /// (Altibase: the server is still in `ADMIN_MODE` = 1).
    fn needs_privilege(&self, error: &DbError) -> bool;

    /// Statements run once after connecting (session settings), bounded by `query_timeout_s`.
    fn session_setup(&self, config: &Config) -> Vec<String>;

    /// Reads the state of every replication of `server`'s pairs, plus the
    /// preconditions this backend needs on the server (in `problems`).
    fn observe(&self, config: &Config, server: ServerId, session: &mut dyn Session) -> Result<ServerState, DbError>;

    /// The operations that realise `step`, in order. `obs` is the state the plan was decided on.
    fn expand(&self, config: &Config, obs: &Observation, step: &Step) -> Vec<Op>;

    /// Reads the status of every replication of `server`'s pairs.
    fn status(&self, config: &Config, server: ServerId, session: &mut dyn Session) -> Result<Vec<PairStatus>, DbError>;

    /// The class of a statement error.
    fn classify(&self, error: &DbError) -> ErrorClass;
}

/// The backend named by the configuration. `nls_use` is Altibase's `NLS_USE`
/// (from `ALTIBASE_NLS_USE`), ignored by other backends.
pub fn for_config(config: &Config, nls_use: Option<String>) -> std::sync::Arc<dyn Backend> {
    match config.backend {
        BackendKind::Altibase => std::sync::Arc::new(Altibase { nls_use }),
        BackendKind::Postgresql => std::sync::Arc::new(Postgres),
    }
}
