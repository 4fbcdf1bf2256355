//! The Altibase backend: replication objects, `ALTER REPLICATION` and the
//! `SYSTEM_.SYS_REPLICATIONS_` meta table, per `spec/altibase-sql.md`
//! (Replication Manual, General Reference, Error Message Reference).
//!
//! Names: replication names are generated from a validated prefix and written
//! bare (Altibase folds them to upper case, as the original does); user, table
//! and partition names are folded to upper case and double-quoted, which means
//! the same as the original's bare names but can never be read as SQL.
//!
//! This file maps each step to SQL; the statement builders are in [`sql`], the
//! catalog reads (state, status, table definitions, items) in [`catalog`], the
//! join's bookmark in [`join`].

mod catalog;
mod join;
mod sql;

use join::bookmark;
use sql::{alter, alter_items, sync_items, truncate_ops};
pub use sql::{create_sql, item_key};

use crate::config::Config;
use crate::connection_string::braced;
use crate::lifecycle::port::{Backend, Capabilities, ErrorClass, Op, PairStatus, Severity, Target};
use crate::lifecycle::{Action, FlushWait, ServerState, Step};
use crate::odbc::{DbError, Session};
use crate::topology::{self, Pair, ServerId};

/// Error codes (native errors) the engine acts on, from the Error Message Reference.
pub mod codes {
    pub const DUPLICATE_NAME: i32 = 0x61100;
    pub const UNDEFINED_NAME: i32 = 0x6111B;
    pub const ALREADY_STARTED: i32 = 0x6100A;
    pub const NOT_STARTED: i32 = 0x61027;
    pub const HANDSHAKE_FAILED: i32 = 0x6100D;
    pub const FLUSH_TIMEOUT: i32 = 0x61075;
    /// `rpERR_ABORT_RPC_NOT_EXIST_REPL_ITEM` "No replication items found." (DROP TABLE).
    pub const NO_SUCH_ITEM: i32 = 0x6111A;
    /// A unique-index violation (`smERR_ABORT_smnUniqueViolation`): ADD TABLE of an item already present.
    pub const UNIQUE_VIOLATION: i32 = 0x11058;
    pub const QUERY_TIMEOUT: i32 = 0x01044;
    pub const CONNECTION_REFUSED: i32 = 0x50032;
    pub const LINK_FAILURE: i32 = 0x51043;
}

/// The Altibase backend. `nls_use` comes from `ALTIBASE_NLS_USE` when set.
#[derive(Debug, Clone, Default)]
pub struct Altibase {
    pub nls_use: Option<String>,
}

impl Backend for Altibase {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            bookmarks: true,
            absent_bookmarks: false,
            sync_starts_source: true,
            group_objects: false,
            admin_mode: true,
            item_key,
        }
    }

    /// The Altibase driver has no quoting: its values must be bare-safe
    /// (`connection_string::bare_problem`), the password and `NLS_USE` alike.
    fn check_sendable(&self, password: &str) -> Result<(), crate::connection_string::Unsendable> {
        const NO_QUOTING: &str = " (its connection strings have no quoting); change it";
        let unsendable =
            |what, problem| crate::connection_string::Unsendable { what, driver: "Altibase ODBC driver", problem, why: NO_QUOTING };
        if let Some(problem) = crate::connection_string::bare_problem(password) {
            return Err(unsendable("The password", problem));
        }
        match self.nls_use.as_deref().and_then(crate::connection_string::bare_problem) {
            Some(problem) => Err(unsendable("ALTIBASE_NLS_USE", problem)),
            None => Ok(()),
        }
    }

    fn connection_string(&self, config: &Config, target: &Target, password: &str) -> String {
        // The Altibase driver knows no quoting: values go bare (the password and
        // NLS_USE are checked before, see `connection_string`); DRIVER is read by unixODBC.
        let mut s = format!(
            "DRIVER={};DSN={};PORT_NO={};UID={};PWD={password};CONNTYPE=1;LOGIN_TIMEOUT={}",
            braced(&config.odbc_driver),
            target.address,
            config.port_no,
            config.sys_user,
            target.login_timeout_s
        );
        if let Some(nls) = &self.nls_use {
            s.push_str(";NLS_USE=");
            s.push_str(nls);
        }
        if target.privileged {
            s.push_str(";PRIVILEGE=SYSDBA");
        }
        s
    }

    fn needs_privilege(&self, error: &DbError) -> bool {
        // A login refused for any reason other than the network (ADMIN_MODE = 1 admits
        // only SYSDBA) is retried with PRIVILEGE=SYSDBA.
        !error.sqlstate.starts_with("08") && error.native != codes::CONNECTION_REFUSED && error.native != codes::LINK_FAILURE
    }

    /// SQLSTATE class 28 (invalid authorization, as the Altibase ODBC driver reports
    /// a wrong user or password).
    fn login_refused(&self, error: &DbError) -> bool {
        error.sqlstate.starts_with("28")
    }

    fn session_setup(&self, config: &Config) -> Vec<String> {
        vec![
            format!("ALTER SESSION SET QUERY_TIMEOUT = {}", config.query_timeout_s),
            format!("ALTER SESSION SET DDL_TIMEOUT = {}", config.query_timeout_s),
        ]
    }

    fn observe(&self, config: &Config, server: ServerId, session: &mut dyn Session) -> Result<ServerState, DbError> {
        catalog::observe(config, server, session)
    }

    fn expand(&self, config: &Config, step: &Step) -> Vec<Op> {
        let s = step.server;
        let name_of = |group: usize, pair: Pair| topology::replication_name(&config.groups[group].prefix, pair).to_ascii_uppercase();
        match &step.action {
            Action::Create { group, pair } => vec![Op::exec(s, create_sql(config, &config.groups[*group], *pair, s)).tolerating(
                ErrorClass::DuplicateName,
                Severity::Info,
                "Replication already exists; kept as is",
            )],
            Action::Start { group, pair, peer_present } => {
                let op = alter(&name_of(*group, *pair), s, "START").tolerating(
                    ErrorClass::AlreadyStarted,
                    Severity::Info,
                    "Replication already started",
                );
                if *peer_present {
                    vec![op]
                } else {
                    vec![op.tolerating(
                        ErrorClass::PeerUnreachable,
                        Severity::Warn,
                        "Peer is absent; the replication will be started by the peer's own start",
                    )]
                }
            }
            Action::Sync { group, pair } => {
                let parallel = config.groups[*group].sync_parallel_count;
                vec![alter(&name_of(*group, *pair), s, &format!("SYNC PARALLEL {parallel}")).waiting()]
            }
            Action::Flush { group, pair, wait } => {
                let what = match wait {
                    FlushWait::All => "FLUSH ALL".to_owned(),
                    FlushWait::Wait(t) => format!("FLUSH WAIT {t}"),
                };
                vec![
                    alter(&name_of(*group, *pair), s, &what)
                        .waiting()
                        .tolerating(ErrorClass::NotStarted, Severity::Warn, "Replication is not running; nothing to flush")
                        .tolerating(ErrorClass::FlushTimeout, Severity::Warn, "Flush did not complete within its wait time"),
                ]
            }
            Action::Stop { group, pair } => vec![alter(&name_of(*group, *pair), s, "STOP").tolerating(
                ErrorClass::NotStarted,
                Severity::Info,
                "Replication already stopped",
            )],
            Action::Reset { group, pair } => vec![alter(&name_of(*group, *pair), s, "RESET").tolerating(
                ErrorClass::UndefinedName,
                Severity::Info,
                "Replication does not exist; nothing to reset",
            )],
            Action::Drop { group, pair } => vec![Op::exec(s, format!("DROP REPLICATION {}", name_of(*group, *pair))).tolerating(
                ErrorClass::UndefinedName,
                Severity::Info,
                "Replication already dropped",
            )],
            Action::TruncateItems { group, items } => truncate_ops(s, &config.groups[*group].prefix, items),
            Action::AlterItems { group, pair, add, drop } => alter_items(&name_of(*group, *pair), s, add, drop),
            Action::SyncItems { group, pair, items } => {
                sync_items(&name_of(*group, *pair), s, config.groups[*group].sync_parallel_count, items)
            }
            Action::Truncate { group } => truncate_ops(s, &config.groups[*group].prefix, &config.groups[*group].items),
            Action::OpenForApplications => vec![Op::exec(s, "ALTER SYSTEM SET ADMIN_MODE = 0")],
            Action::Delay { seconds } => vec![Op::sleep(s, *seconds)],
            // The pin of a running peer before a join's copy (`join.rs`).
            Action::Bookmark { group, joiner, source } => bookmark(config, s, *group, *joiner, *source),
            // The joiner's own side towards the peer; the peer's pinned side resumes with its
            // START after the copy (its XSN was kept by the STOP).
            Action::Link { group, peer, joiner, .. } => {
                vec![alter(&name_of(*group, Pair::new(*peer, *joiner)), *joiner, "START").tolerating(
                    ErrorClass::AlreadyStarted,
                    Severity::Info,
                    "Replication already started",
                )]
            }
            // Never planned here (no group objects; a bookmark pauses nothing on the source).
            Action::CreateGroup { .. }
            | Action::DropGroup { .. }
            | Action::Resume { .. }
            | Action::SetItems { .. }
            | Action::Refresh { .. }
            | Action::BookmarkAbsent { .. }
            | Action::LinkAbsent { .. } => Vec::new(),
        }
    }

    fn status(&self, config: &Config, server: ServerId, session: &mut dyn Session) -> Result<Vec<PairStatus>, DbError> {
        catalog::status(config, server, session)
    }

    fn classify(&self, error: &DbError) -> ErrorClass {
        match error.native {
            codes::DUPLICATE_NAME | codes::UNIQUE_VIOLATION => ErrorClass::DuplicateName,
            codes::UNDEFINED_NAME => ErrorClass::UndefinedName,
            codes::ALREADY_STARTED => ErrorClass::AlreadyStarted,
            codes::NOT_STARTED => ErrorClass::NotStarted,
            codes::HANDSHAKE_FAILED => ErrorClass::PeerUnreachable,
            codes::FLUSH_TIMEOUT => ErrorClass::FlushTimeout,
            codes::NO_SUCH_ITEM => ErrorClass::NoSuchItem,
            codes::QUERY_TIMEOUT | codes::CONNECTION_REFUSED | codes::LINK_FAILURE => ErrorClass::Transient,
            _ if error.sqlstate.starts_with("08") => ErrorClass::Transient,
            _ => ErrorClass::Other,
        }
    }
}
