//! The backend port: what the engine asks of a database backend, in the
//! engine's own types. A backend translates each planned [`Step`] into SQL
//! operations ([`Op`]), reads a server's replication state, builds connection
//! strings and classifies errors; it decides nothing about order or about which
//! steps run. The engine owns this file; backends (`crate::backend`) implement it.

use crate::config::Config;
use crate::lifecycle::plan::Step;
use crate::lifecycle::sql::{Sql, Var};
use crate::lifecycle::state::ServerState;
use crate::odbc::{DbError, Session};
use crate::topology::ServerId;

/// What a backend can do, as far as the *decide* stage must know. Decisions test
/// these, never the backend's kind.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    /// A running peer's changes for a joiner can be pinned at a log position
    /// before the copy, and linked from there after it (PostgreSQL: slots and
    /// origins, the source's replication from the peer held; Altibase: START then
    /// STOP, and a FLUSH towards the source).
    pub bookmarks: bool,
    /// The position from which a joiner must receive an absent (crashed) peer's
    /// changes can be recorded without that peer, from what the copy source applied
    /// of it (PostgreSQL: the source's origin progress, set on the joiner's
    /// subscription, and the joiner's own slot for the peer).
    pub absent_bookmarks: bool,
    /// A copy (`Sync`) also starts the copy source's side of the pair (Altibase
    /// `SYNC`); otherwise the plan starts it as a separate, last step.
    pub sync_starts_source: bool,
    /// The server holds group-wide objects beside the pairwise ones (PostgreSQL:
    /// the publication): they are created before the group's first pair and
    /// dropped after its last.
    pub group_objects: bool,
    /// The server boots in an administrative mode that aku lowers once the pod
    /// is ready (Altibase `ADMIN_MODE`).
    pub admin_mode: bool,
    /// How the backend names a replication item, so that configured items and the
    /// items a server holds compare (PostgreSQL `schema.relation`, lower case;
    /// Altibase `USER.TABLE[ PARTITION P]`, upper case).
    pub item_key: fn(&crate::config::ReplicationItem) -> String,
}

/// What an error means to the engine, decided by error code (never by message text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The object already exists (Altibase 0x61100).
    DuplicateName,
    /// The object does not exist (Altibase 0x6111B).
    UndefinedName,
    /// The item is not in the replication (Altibase 0x6111A, DROP TABLE).
    NoSuchItem,
    /// The replication is already running (Altibase 0x6100A).
    AlreadyStarted,
    /// The replication is not running (Altibase 0x61027).
    NotStarted,
    /// The peer could not be reached by the replication (Altibase 0x6100D).
    PeerUnreachable,
    /// A bounded flush ran out of time (Altibase 0x61075; aku's own bounded waits).
    FlushTimeout,
    /// Worth retrying: connection trouble, statement or lock timeout, serialisation.
    Transient,
    /// Anything else: a permanent failure.
    Other,
}

/// How a tolerated error is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Expected and harmless (idempotent re-run): logged at INFO.
    Info,
    /// Tolerated but worth a look (peer absent, flush timed out): logged at WARN.
    Warn,
}

/// An error class an operation tolerates, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tolerance {
    pub class: ErrorClass,
    pub severity: Severity,
    pub note: &'static str,
}

/// What an operation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpKind {
    /// Run one statement.
    Exec { sql: Sql },
    /// Run a query returning one value (first row, first column) and keep it in
    /// `into`. No row, or NULL, is an error naming the query.
    Capture { sql: Sql, into: Var },
    /// Poll `sql` (one boolean value) every 0.1 s, then every 0.5 s after 2 s,
    /// until it holds, at most `timeout_s` seconds. `progress`, when given,
    /// returns one line of text logged when the wait begins and then every 5 s.
    /// Each poll also runs every `watch`: a wait is never blind.
    WaitUntil { sql: Sql, what: String, progress: Option<Sql>, timeout_s: u32, watch: Vec<Watch> },
    /// Sleep `seconds` (no SQL).
    Sleep { seconds: u32 },
    /// Nothing to run on this backend; `note` says why (logged at INFO, or WARN when `warn`).
    Skip { note: String, warn: bool },
}

/// What makes a wait's success impossible, checked at every poll on `server`:
/// `sql` returns no row (or NULL) while all is well, and otherwise one text that
/// says what went wrong and what to look at (pod, replication, table, server log).
/// A watch that fails to run (the server is gone) ends the wait too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    pub server: ServerId,
    pub sql: Sql,
}

/// One operation on one server (the step's own server, or another it touches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub server: ServerId,
    pub kind: OpKind,
    pub tolerate: Vec<Tolerance>,
    /// Runs even when an earlier operation of the same step failed (restores a setting).
    pub finally: bool,
    /// The statement is itself a wait on the server (Altibase `SYNC`, `FLUSH`): a
    /// signal abandons it at once, as it ends every `WaitUntil`.
    pub waits: bool,
}

impl Op {
    fn of(server: ServerId, kind: OpKind) -> Op {
        let waits = matches!(kind, OpKind::WaitUntil { .. });
        Op { server, kind, tolerate: Vec::new(), finally: false, waits }
    }

    pub fn exec(server: ServerId, sql: impl Into<Sql>) -> Op {
        Op::of(server, OpKind::Exec { sql: sql.into() })
    }

    pub fn capture(server: ServerId, sql: impl Into<Sql>, into: Var) -> Op {
        Op::of(server, OpKind::Capture { sql: sql.into(), into })
    }

    pub fn sleep(server: ServerId, seconds: u32) -> Op {
        Op::of(server, OpKind::Sleep { seconds })
    }

    pub fn skip(server: ServerId, note: impl Into<String>, warn: bool) -> Op {
        Op::of(server, OpKind::Skip { note: note.into(), warn })
    }

    /// Polls `sql` until it returns true (see [`OpKind::WaitUntil`]).
    pub fn wait_until(server: ServerId, sql: impl Into<Sql>, what: impl Into<String>, progress: Option<Sql>, timeout_s: u32) -> Op {
        Op::of(server, OpKind::WaitUntil { sql: sql.into(), what: what.into(), progress, timeout_s, watch: Vec::new() })
    }

    /// Adds a watch to a wait (see [`Watch`]); no effect on other operations.
    #[must_use]
    pub fn watching(mut self, server: ServerId, sql: impl Into<Sql>) -> Op {
        if let OpKind::WaitUntil { watch, .. } = &mut self.kind {
            watch.push(Watch { server, sql: sql.into() });
        }
        self
    }

    /// Every server the operation runs a statement on (its own, and those of its watches).
    pub fn servers(&self) -> Vec<ServerId> {
        let mut out = Vec::new();
        if self.sql().is_some() {
            out.push(self.server);
        }
        if let OpKind::WaitUntil { watch, .. } = &self.kind {
            out.extend(watch.iter().map(|w| w.server));
        }
        out
    }

    /// Adds a tolerated error class.
    #[must_use]
    pub fn tolerating(mut self, class: ErrorClass, severity: Severity, note: &'static str) -> Op {
        self.tolerate.push(Tolerance { class, severity, note });
        self
    }

    /// Marks the statement as a wait on the server, which a signal abandons at once.
    #[must_use]
    pub fn waiting(mut self) -> Op {
        self.waits = true;
        self
    }

    /// Marks the operation as one that runs even after an earlier failure of its step.
    #[must_use]
    pub fn finally(mut self) -> Op {
        self.finally = true;
        self
    }

    /// The statement of the operation, if it has one.
    pub fn sql(&self) -> Option<&Sql> {
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
    /// The login timeout, in seconds.
    pub login_timeout_s: u32,
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
    /// The items the replication holds, by the backend's item names, where it can tell.
    pub items: Option<Vec<String>>,
    /// The server whose join paused this replication and has not released it.
    pub paused_for_join_of: Option<ServerId>,
}

/// A database backend.
pub trait Backend: Send + Sync {
    /// What the *decide* stage may plan for this backend.
    fn capabilities(&self) -> Capabilities;

    /// Refuses, before any connection, a password (or another value the backend
    /// sends) that its driver could not receive exactly.
    fn check_sendable(&self, password: &str) -> Result<(), crate::connection_string::Unsendable>;

    /// The ODBC connection string for `target`, password included (never logged).
    fn connection_string(&self, config: &Config, target: &Target, password: &str) -> String;

    /// Whether a failed unprivileged login should be retried with privilege
    /// (Altibase: the server is still in `ADMIN_MODE` = 1).
    fn needs_privilege(&self, error: &DbError) -> bool;

    /// Whether a failed login was refused by the server because of the user or
    /// the password (not retried; its own exit code).
    fn login_refused(&self, error: &DbError) -> bool;

    /// Statements run once after connecting (session settings).
    fn session_setup(&self, config: &Config) -> Vec<String>;

    /// Reads the state of every replication of `server`'s pairs, plus the
    /// preconditions this backend needs on the server (in `problems`).
    fn observe(&self, config: &Config, server: ServerId, session: &mut dyn Session) -> Result<ServerState, DbError>;

    /// The operations that realise `step`, in order. Everything the translation
    /// needs was decided into the step; operations may run on other servers than
    /// the step's own (the executor holds all their sessions for the step).
    fn expand(&self, config: &Config, step: &Step) -> Vec<Op>;

    /// Reads the status of every replication of `server`'s pairs.
    fn status(&self, config: &Config, server: ServerId, session: &mut dyn Session) -> Result<Vec<PairStatus>, DbError>;

    /// The class of a statement error.
    fn classify(&self, error: &DbError) -> ErrorClass;
}

/// Why a server is absent. Absence is a normal outcome for a peer (not created
/// yet, or gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Absence {
    /// The name does not resolve (the pod does not exist).
    NotResolved(String),
    /// The name resolves but the server refused or failed the connection.
    ConnectFailed(String),
    /// The name resolves but nothing answered within the deadline (or the server
    /// logged in and then stopped answering).
    Unanswered(String),
    /// The server answered and refused aku's login (wrong password or user:
    /// SQLSTATE class 28). Not retried.
    LoginRefused(String),
    /// The ODBC driver (`AKU_ODBC_DRIVER`) is missing or cannot be loaded (SQLSTATE
    /// class IM, from the driver manager). Not retried.
    DriverUnavailable(String),
}

impl Absence {
    /// True when the server may be running although aku could not use it (it
    /// resolved, and did not answer or refused the login): a join must not take it
    /// for gone.
    pub fn may_be_running(&self) -> bool {
        matches!(self, Absence::Unanswered(_) | Absence::LoginRefused(_))
    }

    pub fn detail(&self) -> &str {
        match self {
            Absence::NotResolved(d)
            | Absence::ConnectFailed(d)
            | Absence::Unanswered(d)
            | Absence::LoginRefused(d)
            | Absence::DriverUnavailable(d) => d,
        }
    }
}

/// Opens sessions. The real connector (`crate::connect`) resolves the name under
/// a deadline and connects through ODBC; tests script it.
pub trait Connector: Send + Sync {
    /// Connects to `server` at `host`, or says why it is absent. Must return
    /// within a bounded time (name resolution and login are both bounded).
    fn connect(&self, server: ServerId, host: &str) -> Result<Box<dyn Session>, Absence>;
}
