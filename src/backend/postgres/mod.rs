//! The PostgreSQL backend (PostgreSQL 16+ native logical replication), per
//! `spec/postgresql-backend.md`. For group prefix `P` and pair `i<j`, each of the
//! two servers holds:
//! - publication `p` (the group's tables; publishes insert, update, delete —
//!   never truncate, so a local TRUNCATE does not travel);
//! - subscription `p_ij`, pulling from the other server with `origin = none`,
//!   created without connecting (`connect = false`), using slot `p_ij` on the other server;
//! - logical slot `p_ij`, which the other server's subscription consumes (its "sender").
//!
//! Mapping: START = make sure the slot exists on the publisher side and enable the
//! subscription; STOP = disable it; RESET = drop the local slot and clear the
//! subscription's origin progress; FLUSH = wait until the peer has confirmed this
//! server's current WAL position on the slot. This file maps steps to SQL; the
//! builders are in [`sql`], the join protocol in [`join`], catalog reads in
//! [`catalog`], preconditions in [`preconditions`].

mod catalog;
mod join;
mod preconditions;
mod sql;

#[cfg(test)]
mod tests;

use crate::config::Config;
use crate::connection_string::{braced, verbatim};
use crate::lifecycle::port::{Backend, Capabilities, ErrorClass, Op, PairStatus, Severity, Target};
use crate::lifecycle::sql::{Sql, ValueKind, Var};
use crate::lifecycle::{Action, FlushWait, ServerState, Step};
use crate::odbc::{DbError, Session};
use crate::topology::{Pair, ServerId};

use sql::{
    clear_absent_link_note, clear_note, create_publication_sql, create_slot_sql, create_subscription_sql, disable, disabled_watch,
    drop_slot, enable, error_count_sql, failing_workers_watch, ident, lit, name, register_tables, relation_sql, slot_lost_watch, sub_oid,
    worker_gone,
};

/// The PostgreSQL backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct Postgres;

/// START of `pair` on `server`: the peer's slot, the subscription's tables, enable.
fn start(config: &Config, server: ServerId, group: usize, pair: Pair, peer_present: bool) -> Vec<Op> {
    if !peer_present {
        return vec![Op::skip(server, "Peer is absent; the replication will be started by the peer's own start", true)];
    }
    let n = name(&config.groups[group], pair);
    vec![
        Op::exec(pair.other(server), create_slot_sql(&n)),
        register_tables(config, &config.groups[group], pair, server),
        enable(server, &n),
    ]
}

fn flush(config: &Config, server: ServerId, group: usize, pair: Pair, wait: FlushWait) -> Vec<Op> {
    let n = name(&config.groups[group], pair);
    let peer = pair.other(server);
    let lsn = Var::new(ValueKind::Lsn, server, &n, "flush_lsn");
    let errors_before = Var::new(ValueKind::Int, peer, &n, "errors_before_flush");
    let timeout = match wait {
        FlushWait::All => config.query_timeout_s,
        FlushWait::Wait(t) => t,
    };
    let mut wait_op = Op::wait_until(
        server,
        Sql::text("SELECT coalesce((SELECT confirmed_flush_lsn >= ")
            .var(&lsn)
            .then(format!("::pg_lsn FROM pg_replication_slots WHERE slot_name = {}), true)", lit(&n))),
        format!("the peer confirms this server's WAL position on slot {n}"),
        None,
        timeout,
    )
    .watching(server, slot_lost_watch(config, server, &n))
    .watching(peer, failing_workers_watch(config, peer, &n, &errors_before))
    .watching(peer, disabled_watch(config, peer, &n));
    if matches!(wait, FlushWait::Wait(_)) {
        wait_op = wait_op.tolerating(ErrorClass::FlushTimeout, Severity::Warn, "Flush did not complete within its wait time");
    }
    vec![Op::capture(peer, error_count_sql(&n), errors_before), Op::capture(server, "SELECT pg_current_wal_lsn()::text", lsn), wait_op]
}

fn reset(config: &Config, server: ServerId, group: usize, pair: Pair) -> Vec<Op> {
    let n = name(&config.groups[group], pair);
    let mut ops = vec![worker_gone(server, &n)];
    ops.extend(drop_slot(server, &n));
    ops.push(Op::exec(
        server,
        format!(
            "SELECT pg_replication_origin_advance(o.external_id, '0/0') FROM pg_replication_origin_status o \
             WHERE o.external_id = 'pg_' || {}",
            sub_oid(&n)
        ),
    ));
    ops.push(clear_absent_link_note(server, &n));
    ops
}

fn drop(config: &Config, server: ServerId, group: usize, pair: Pair) -> Vec<Op> {
    let n = name(&config.groups[group], pair);
    let undefined = |op: Op| op.tolerating(ErrorClass::UndefinedName, Severity::Info, "Subscription already dropped");
    let mut ops = vec![
        undefined(disable(server, &n)),
        worker_gone(server, &n),
        undefined(Op::exec(server, format!("ALTER SUBSCRIPTION {} SET (slot_name = NONE)", ident(&n)))),
        Op::exec(server, format!("DROP SUBSCRIPTION IF EXISTS {}", ident(&n))),
    ];
    ops.extend(drop_slot(server, &n));
    ops
}

impl Backend for Postgres {
    fn capabilities(&self) -> Capabilities {
        Capabilities {
            bookmarks: true,
            absent_bookmarks: true,
            sync_starts_source: false,
            group_objects: true,
            admin_mode: false,
            item_key: sql::item_key,
        }
    }

    /// Braced where psqlODBC removes braces (`PWD`, `pqopt`) and unixODBC does
    /// (`Driver`), bare where psqlODBC reads verbatim; see `connection_string`.
    /// `PWD` in upper case: unixODBC's trace masks only that spelling.
    /// psqlODBC takes any braced password but one with a NUL character (a C string ends there).
    fn check_sendable(&self, password: &str) -> Result<(), crate::connection_string::Unsendable> {
        if password.contains('\0') {
            return Err(crate::connection_string::Unsendable {
                what: "The password",
                driver: "PostgreSQL ODBC driver",
                problem: "it contains a NUL character",
                why: "",
            });
        }
        Ok(())
    }

    fn connection_string(&self, config: &Config, target: &Target, password: &str) -> String {
        format!(
            "Driver={};Server={};Port={};Database={};UID={};PWD={};pqopt={};",
            braced(&config.odbc_driver),
            verbatim(&target.host),
            config.port_no,
            verbatim(&config.database),
            verbatim(&config.sys_user),
            braced(password),
            // TCP keepalives and a user timeout: a peer that vanishes is noticed by the
            // kernel within seconds, not after the statement's own timeout.
            braced(&format!(
                "hostaddr={} application_name=aku keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3 \
                 tcp_user_timeout=15000",
                target.address
            ))
        )
    }

    fn needs_privilege(&self, _error: &DbError) -> bool {
        false
    }

    /// SQLSTATE class 28 (invalid authorization). psqlODBC reports a refused login
    /// as 08001 with libpq's text, which carries the server's message: for that
    /// case the server's (English) messages for 28P01 and 28000 are recognised.
    fn login_refused(&self, error: &DbError) -> bool {
        const REFUSALS: [&str; 4] = ["password authentication failed", "no pg_hba.conf entry", "no password supplied", "does not exist"];
        error.sqlstate.starts_with("28")
            || (error.sqlstate == "08001" && REFUSALS.iter().any(|r| error.message.contains(r)) && error.message.contains("FATAL"))
    }

    fn session_setup(&self, _config: &Config) -> Vec<String> {
        vec!["SET lock_timeout = '60s'".to_owned()]
    }

    fn observe(&self, config: &Config, server: ServerId, session: &mut dyn Session) -> Result<ServerState, DbError> {
        catalog::observe(config, server, session)
    }

    fn expand(&self, config: &Config, step: &Step) -> Vec<Op> {
        let s = step.server;
        match &step.action {
            Action::CreateGroup { group } => vec![Op::exec(s, create_publication_sql(&config.groups[*group]))],
            Action::Create { group, pair } => {
                vec![Op::exec(s, create_subscription_sql(config, &config.groups[*group], *pair, s, false)).tolerating(
                    ErrorClass::DuplicateName,
                    Severity::Info,
                    "Subscription already exists; kept as is",
                )]
            }
            Action::Start { group, pair, peer_present } => start(config, s, *group, *pair, *peer_present),
            Action::Sync { group, pair } => join::sync(config, s, *group, *pair),
            Action::Bookmark { group, joiner, source } => join::bookmark(config, s, *group, *joiner, *source),
            Action::Link { group, peer, joiner, source } => join::link(config, *peer, *group, *joiner, *source),
            Action::BookmarkAbsent { group, joiner, absent, .. } => join::bookmark_absent(config, s, *group, *joiner, *absent),
            Action::LinkAbsent { group, absent, joiner, source } => join::link_absent(config, *joiner, *group, *absent, *source),
            Action::Resume { group, pair } => {
                let n = name(&config.groups[*group], *pair);
                vec![register_tables(config, &config.groups[*group], *pair, s), enable(s, &n), clear_note(s, &n)]
            }
            Action::Flush { group, pair, wait } => flush(config, s, *group, *pair, *wait),
            Action::Stop { group, pair } => vec![disable(s, &name(&config.groups[*group], *pair)).tolerating(
                ErrorClass::UndefinedName,
                Severity::Info,
                "Subscription does not exist; nothing to stop",
            )],
            Action::Reset { group, pair } => reset(config, s, *group, *pair),
            Action::Drop { group, pair } => drop(config, s, *group, *pair),
            Action::DropGroup { group } => {
                vec![Op::exec(s, format!("DROP PUBLICATION IF EXISTS {}", ident(&config.groups[*group].prefix)))]
            }
            Action::Truncate { group } => {
                let tables: Vec<String> = config.groups[*group].items.iter().map(relation_sql).collect();
                vec![Op::exec(s, format!("TRUNCATE {}", tables.join(", ")))]
            }
            Action::TruncateItems { items, .. } => {
                let tables: Vec<String> = items.iter().map(relation_sql).collect();
                vec![Op::exec(s, format!("TRUNCATE {}", tables.join(", ")))]
            }
            Action::SetItems { group } => {
                let g = &config.groups[*group];
                let tables: Vec<String> = g.items.iter().map(relation_sql).collect();
                vec![Op::exec(s, format!("ALTER PUBLICATION {} SET TABLE {}", ident(&g.prefix), tables.join(", ")))]
            }
            Action::Refresh { group, pair, copy } => join::refresh(config, s, *group, *pair, *copy),
            // Pairwise item changes and table syncs are Altibase's; never planned here.
            Action::AlterItems { .. } | Action::SyncItems { .. } => Vec::new(),
            Action::OpenForApplications => {
                vec![Op::skip(s, "PostgreSQL has no ADMIN_MODE: applications reach this pod once its marker file makes it ready", false)]
            }
            Action::Delay { seconds } => vec![Op::sleep(s, *seconds)],
        }
    }

    fn status(&self, config: &Config, server: ServerId, session: &mut dyn Session) -> Result<Vec<PairStatus>, DbError> {
        catalog::status(config, server, session)
    }

    fn classify(&self, error: &DbError) -> ErrorClass {
        match error.sqlstate.as_str() {
            "42710" => ErrorClass::DuplicateName,
            "42704" => ErrorClass::UndefinedName,
            "57014" | "55P03" | "55006" | "40001" | "40P01" | "57P01" | "53300" => ErrorClass::Transient,
            s if s.starts_with("08") => ErrorClass::Transient,
            _ => ErrorClass::Other,
        }
    }
}
