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
//! server's current WAL position on the slot. Identifiers are folded to lower case
//! and quoted; literals only ever hold validated names.

use odbc_api::escape_attribute_value;

use crate::backend::{Backend, ErrorClass, Op, PairStatus, Severity, Target};
use crate::config::{BackendKind, Config, ReplicationGroup, ReplicationItem};
use crate::lifecycle::{Action, FlushWait, Observation, ReplicationState, ServerState, Step};
use crate::odbc::{DbError, Session};
use crate::topology::{self, Pair, ServerId};

/// The PostgreSQL backend.
#[derive(Debug, Clone, Copy, Default)]
pub struct Postgres;

/// Seconds to wait for a worker to exit or a slot to be released.
const RELEASE_WAIT_S: u32 = 60;

/// An identifier folded to lower case (PostgreSQL's rule for unquoted names) and quoted.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.to_ascii_lowercase().replace('"', "\"\""))
}

/// A string literal of a folded name.
pub fn lit(name: &str) -> String {
    format!("'{}'", name.to_ascii_lowercase().replace('\'', "''"))
}

/// The relation an item replicates: the partition itself when one is named.
fn relation(item: &ReplicationItem) -> (String, String) {
    let rel = item.partition.as_deref().unwrap_or(&item.table);
    (item.user.to_ascii_lowercase(), rel.to_ascii_lowercase())
}

fn relation_sql(item: &ReplicationItem) -> String {
    let (schema, rel) = relation(item);
    format!("{}.{}", ident(&schema), ident(&rel))
}

fn name(group: &ReplicationGroup, pair: Pair) -> String {
    topology::replication_name(&group.prefix, pair).to_ascii_lowercase()
}

/// The conninfo of a subscription towards `peer`. No password: the server
/// authenticates with its own passfile (`PGPASSFILE`/`~/.pgpass`) or trust/cert,
/// so no secret is stored in `pg_subscription`.
fn conninfo(config: &Config, peer: ServerId, application_name: &str) -> String {
    format!(
        "host={} port={} dbname={} user={} application_name={application_name} connect_timeout=10",
        topology::host_of(config, peer),
        config.port_no,
        config.database.to_ascii_lowercase(),
        config.sys_user.to_ascii_lowercase()
    )
}

pub(crate) fn sub_oid(n: &str) -> String {
    format!("(SELECT oid FROM pg_subscription WHERE subname = {})", lit(n))
}

/// `CREATE SUBSCRIPTION`, disabled and without a slot of its own. With `connect`,
/// the publisher is asked for the publication's tables, which are registered as
/// ready (nothing copied); without it, the peer may be absent.
fn create_subscription_sql(config: &Config, group: &ReplicationGroup, pair: Pair, server: ServerId, connect: bool) -> String {
    let n = name(group, pair);
    format!(
        "CREATE SUBSCRIPTION {} CONNECTION '{}' PUBLICATION {} WITH (connect = {connect}, enabled = false, create_slot = false, \
         slot_name = {}, copy_data = false, origin = none)",
        ident(&n),
        conninfo(config, pair.other(server), &n),
        ident(&group.prefix),
        lit(&n)
    )
}

/// Makes sure the subscription of `pair` on `server` has the publication's tables
/// registered before it is enabled. An apply worker discards (and confirms!) the
/// changes of tables it does not know yet, and `REFRESH PUBLICATION` needs an
/// enabled subscription: so a subscription without tables is created again with
/// `connect = true`, which registers them as ready, still disabled.
fn register_tables(config: &Config, group: &ReplicationGroup, pair: Pair, server: ServerId) -> Op {
    let n = name(group, pair);
    Op::exec(
        server,
        format!(
            "DO $aku$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_subscription_rel WHERE srsubid = {oid}) THEN \
             ALTER SUBSCRIPTION {id} DISABLE; ALTER SUBSCRIPTION {id} SET (slot_name = NONE); DROP SUBSCRIPTION {id}; \
             {create}; END IF; END $aku$",
            oid = sub_oid(&n),
            id = ident(&n),
            create = create_subscription_sql(config, group, pair, server, true)
        ),
    )
}

fn create_publication_sql(group: &ReplicationGroup) -> String {
    let tables: Vec<String> = group.items.iter().map(relation_sql).collect();
    format!(
        "DO $aku$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = {}) THEN \
         CREATE PUBLICATION {} FOR TABLE {} WITH (publish = 'insert, update, delete'); END IF; END $aku$",
        lit(&group.prefix),
        ident(&group.prefix),
        tables.join(", ")
    )
}

fn create_slot_sql(n: &str) -> String {
    format!(
        "SELECT pg_create_logical_replication_slot({l}, 'pgoutput') WHERE NOT EXISTS \
         (SELECT 1 FROM pg_replication_slots WHERE slot_name = {l})",
        l = lit(n)
    )
}

fn worker_gone(server: ServerId, n: &str) -> Op {
    Op::wait_until(
        server,
        format!("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_subscription WHERE subname = {} AND pid IS NOT NULL)", lit(n)),
        format!("apply worker of subscription {n} exits"),
        None,
        RELEASE_WAIT_S,
    )
}

/// Ends the walsender holding slot `n` (a peer that went away may hold it until
/// `wal_sender_timeout`), waits until it is released, then drops it.
fn drop_slot(server: ServerId, n: &str) -> Vec<Op> {
    let l = lit(n);
    vec![
        Op::exec(
            server,
            format!("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = {l} AND active_pid IS NOT NULL"),
        ),
        Op::wait_until(
            server,
            format!("SELECT NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = {l} AND active)"),
            format!("slot {n} is released"),
            None,
            RELEASE_WAIT_S,
        ),
        Op::exec(server, format!("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = {l}")),
    ]
}

fn enable(server: ServerId, n: &str) -> Op {
    Op::exec(server, format!("ALTER SUBSCRIPTION {} ENABLE", ident(n)))
}

fn var(group: usize, peer: ServerId, what: &str) -> String {
    format!("g{group}.peer{peer}.{what}")
}

/// One row per replication name in `values` (`('name'), ...`): subscription
/// exists/enabled/running, slot present, origin progress, unconfirmed and retained
/// bytes of the local slot, replay lag (s) of the peer's walsender, error counters.
pub fn status_sql(values: &str) -> String {
    format!(
        "SELECT n.name, s.oid IS NOT NULL, coalesce(s.subenabled, false), \
         EXISTS (SELECT 1 FROM pg_stat_subscription st WHERE st.subid = s.oid AND st.pid IS NOT NULL), \
         sl.slot_name IS NOT NULL, \
         coalesce((SELECT o.remote_lsn <> '0/0' FROM pg_replication_origin_status o WHERE o.external_id = 'pg_' || s.oid), false), \
         pg_wal_lsn_diff(pg_current_wal_lsn(), sl.confirmed_flush_lsn)::bigint, \
         (SELECT round(extract(epoch FROM r.replay_lag)::numeric, 3) FROM pg_stat_replication r WHERE r.application_name = n.name LIMIT 1), \
         pg_wal_lsn_diff(pg_current_wal_lsn(), sl.restart_lsn)::bigint, \
         (SELECT format('apply errors %s, sync errors %s, conflicts %s', ss.apply_error_count, ss.sync_error_count, \
                 (SELECT coalesce(sum(e.value::bigint), 0) FROM jsonb_each_text(to_jsonb(ss)) e WHERE e.key LIKE 'confl\\_%')) \
            FROM pg_stat_subscription_stats ss WHERE ss.subid = s.oid) \
         FROM (VALUES {values}) AS n(name) \
         LEFT JOIN pg_subscription s ON s.subname = n.name \
         AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         LEFT JOIN pg_replication_slots sl ON sl.slot_name = n.name"
    )
}

impl Postgres {
    fn start(config: &Config, obs: &Observation, server: ServerId, group: usize, pair: Pair, peer_present: bool) -> Vec<Op> {
        let n = name(&config.groups[group], pair);
        let peer = pair.other(server);
        if !peer_present || !obs.reachable(peer) {
            return vec![Op::skip(server, "Peer is absent; the replication will be started by the peer's own start", true)];
        }
        vec![Op::exec(peer, create_slot_sql(&n)), register_tables(config, &config.groups[group], pair, server), enable(server, &n)]
    }

    fn sync(config: &Config, source: ServerId, group: usize, pair: Pair) -> Vec<Op> {
        let g = &config.groups[group];
        let n = name(g, pair);
        let target = pair.other(source);
        let old_oid = var(group, target, "old_subscription_oid");
        let tables = g.items.len();
        let mut ops = vec![
            // Start from a clean subscription: an earlier interrupted copy is redone.
            Op::capture(target, format!("SELECT coalesce({}::text, '')", sub_oid(&n)), old_oid.clone()),
            Op::exec(target, format!("ALTER SUBSCRIPTION {} DISABLE", ident(&n))),
            worker_gone(target, &n),
            Op::exec(target, format!("ALTER SUBSCRIPTION {} SET (slot_name = NONE)", ident(&n))),
            Op::exec(target, format!("DROP SUBSCRIPTION IF EXISTS {}", ident(&n))),
            // Without tables: they are registered by the copy below (`copy_data = true`).
            Op::exec(target, create_subscription_sql(config, g, pair, target, false)),
            Op::exec(
                source,
                format!(
                    "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                     WHERE slot_name LIKE 'pg\\_{{{old_oid}}}\\_sync\\_%' AND NOT active"
                ),
            ),
        ];
        ops.extend(drop_slot(source, &n));
        ops.push(Op::exec(source, create_slot_sql(&n)));
        ops.push(Op::exec(target, format!("ALTER SYSTEM SET max_sync_workers_per_subscription = {}", g.sync_parallel_count)));
        ops.push(Op::exec(target, "SELECT pg_reload_conf()"));
        ops.push(Op::exec(target, format!("ALTER SUBSCRIPTION {} ENABLE", ident(&n))));
        ops.push(Op::exec(target, format!("ALTER SUBSCRIPTION {} REFRESH PUBLICATION WITH (copy_data = true)", ident(&n))));
        let rels = format!("FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = {}", lit(&n));
        ops.push(Op::wait_until(
            target,
            format!("SELECT count(*) = {tables} AND bool_and(r.srsubstate = 'r') {rels}"),
            format!("initial copy of {n}"),
            Some(format!(
                "SELECT format('%s/%s tables ready, %s rows (%s) in copies running now', \
                 count(*) FILTER (WHERE r.srsubstate IN ('r', 's')), {tables}, \
                 coalesce((SELECT sum(tuples_processed) FROM pg_stat_progress_copy), 0), \
                 pg_size_pretty(coalesce((SELECT sum(bytes_processed) FROM pg_stat_progress_copy), 0))) {rels}"
            )),
            config.query_timeout_s,
        ));
        // The source's side (it pulls the target's own changes) is started by the
        // plan's last step, so that a join interrupted before it is redone.
        ops
    }

    fn bookmark(config: &Config, peer: ServerId, group: usize, joiner: ServerId, source: ServerId) -> Vec<Op> {
        let g = &config.groups[group];
        let to_joiner = name(g, Pair::new(peer, joiner));
        let to_source = name(g, Pair::new(source, peer));
        let s_var = var(group, peer, "bookmark_lsn");
        let l_var = var(group, peer, "source_applied_lsn");
        // An interrupted earlier join may have left the source's replication from this
        // peer disabled: it must run for the source to reach the bookmark.
        let mut ops = vec![register_tables(config, g, Pair::new(source, peer), source), enable(source, &to_source)];
        ops.extend(drop_slot(peer, &to_joiner));
        ops.push(Op::capture(
            peer,
            format!("SELECT lsn::text FROM pg_create_logical_replication_slot({}, 'pgoutput')", lit(&to_joiner)),
            s_var.clone(),
        ));
        ops.push(Op::wait_until(
            peer,
            format!(
                "SELECT coalesce((SELECT confirmed_flush_lsn >= '{{{s_var}}}'::pg_lsn FROM pg_replication_slots WHERE slot_name = {}), false)",
                lit(&to_source)
            ),
            format!("the copy source has received this peer's changes up to the bookmark (slot {to_source})"),
            None,
            config.query_timeout_s,
        ));
        ops.push(Op::exec(source, format!("ALTER SUBSCRIPTION {} DISABLE", ident(&to_source))));
        ops.push(worker_gone(source, &to_source));
        ops.push(Op::capture(
            source,
            format!(
                "SELECT coalesce((SELECT o.remote_lsn::text FROM pg_replication_origin_status o WHERE o.external_id = 'pg_' || {}), '0/0')",
                sub_oid(&to_source)
            ),
            l_var,
        ));
        ops
    }

    fn link(config: &Config, peer: ServerId, group: usize, joiner: ServerId, source: ServerId) -> Vec<Op> {
        let g = &config.groups[group];
        let from_peer = name(g, Pair::new(peer, joiner));
        let to_source = name(g, Pair::new(source, peer));
        let l_var = var(group, peer, "source_applied_lsn");
        vec![
            // Registering may create the subscription again (a new origin): advance after it.
            register_tables(config, g, Pair::new(peer, joiner), joiner),
            Op::exec(joiner, format!("SELECT pg_replication_origin_advance('pg_' || {}, '{{{l_var}}}')", sub_oid(&from_peer))),
            enable(joiner, &from_peer),
            enable(source, &to_source),
        ]
    }

    fn flush(config: &Config, server: ServerId, group: usize, pair: Pair, wait: FlushWait) -> Vec<Op> {
        let n = name(&config.groups[group], pair);
        let lsn = format!("flush_lsn.{n}.server{server}");
        let timeout = match wait {
            FlushWait::All => config.query_timeout_s,
            FlushWait::Wait(t) => t,
        };
        let mut wait_op = Op::wait_until(
            server,
            format!(
                "SELECT coalesce((SELECT confirmed_flush_lsn >= '{{{lsn}}}'::pg_lsn FROM pg_replication_slots WHERE slot_name = {}), true)",
                lit(&n)
            ),
            format!("the peer confirms this server's WAL position on slot {n}"),
            None,
            timeout,
        );
        if matches!(wait, FlushWait::Wait(_)) {
            wait_op = wait_op.tolerating(ErrorClass::FlushTimeout, Severity::Warn, "Flush did not complete within its wait time");
        }
        vec![Op::capture(server, "SELECT pg_current_wal_lsn()::text", lsn), wait_op]
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
        ops
    }

    fn drop(config: &Config, server: ServerId, group: usize, pair: Pair) -> Vec<Op> {
        let n = name(&config.groups[group], pair);
        let undefined = |op: Op| op.tolerating(ErrorClass::UndefinedName, Severity::Info, "Subscription already dropped");
        let mut ops = vec![
            undefined(Op::exec(server, format!("ALTER SUBSCRIPTION {} DISABLE", ident(&n)))),
            worker_gone(server, &n),
            undefined(Op::exec(server, format!("ALTER SUBSCRIPTION {} SET (slot_name = NONE)", ident(&n)))),
            Op::exec(server, format!("DROP SUBSCRIPTION IF EXISTS {}", ident(&n))),
        ];
        ops.extend(drop_slot(server, &n));
        ops
    }

    fn problems(config: &Config, server: ServerId, session: &mut dyn Session) -> Result<Vec<String>, DbError> {
        let mut problems = Vec::new();
        let t = config.query_timeout_s;
        let wal = session.query("SELECT current_setting('wal_level')", t)?;
        let wal = wal.first().and_then(|r| r.first()).cloned().flatten().unwrap_or_default();
        if wal != "logical" {
            problems.push(format!("wal_level is {wal}, it must be logical (set wal_level = logical and restart the server)."));
        }
        let mut values = Vec::new();
        for group in &config.groups {
            for item in &group.items {
                let (schema, rel) = relation(item);
                values.push(format!("({}, {}, {})", values.len(), lit(&schema), lit(&rel)));
            }
        }
        let rows = session.query(
            &format!(
                "SELECT v.s, v.r, c.oid IS NOT NULL, coalesce(c.relreplident::text, ''), \
                 coalesce((SELECT bool_or(i.indisprimary) FROM pg_index i WHERE i.indrelid = c.oid), false) \
                 FROM (VALUES {}) AS v(o, s, r) LEFT JOIN pg_namespace n ON n.nspname = v.s \
                 LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = v.r AND c.relkind IN ('r', 'p') \
                 ORDER BY v.o",
                values.join(", ")
            ),
            t,
        )?;
        for row in rows {
            let col = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
            let table = format!("{}.{}", col(0), col(1));
            if col(2) != "1" && col(2) != "t" {
                problems.push(format!("Table {table} does not exist on server {server} (create it on every pod before aku runs)."));
                continue;
            }
            let has_pk = col(4) == "1" || col(4) == "t";
            let identity_ok = match col(3).as_str() {
                "d" => has_pk,
                "f" | "i" => true,
                _ => false,
            };
            if !identity_ok {
                problems.push(format!("Table {table} has no primary key or replica identity (UPDATE and DELETE could not be replicated)."));
            }
        }
        Ok(problems)
    }
}

impl Backend for Postgres {
    fn kind(&self) -> BackendKind {
        BackendKind::Postgresql
    }

    fn connection_string(&self, config: &Config, target: &Target, password: &str) -> String {
        format!(
            "Driver={{{}}};Server={};Port={};Database={};Uid={};Pwd={};pqopt={{hostaddr={} application_name=aku}};",
            config.odbc_driver.replace('}', "}}"),
            target.host,
            config.port_no,
            escape_attribute_value(&config.database),
            escape_attribute_value(&config.sys_user),
            escape_attribute_value(password),
            target.address
        )
    }

    fn needs_privilege(&self, _error: &DbError) -> bool {
        false
    }

    fn session_setup(&self, _config: &Config) -> Vec<String> {
        vec!["SET lock_timeout = '60s'".to_owned()]
    }

    fn observe(&self, config: &Config, server: ServerId, session: &mut dyn Session) -> Result<ServerState, DbError> {
        let t = config.query_timeout_s;
        let mut names = Vec::new();
        for group in &config.groups {
            for pair in topology::pairs_of(server, config.server_count) {
                names.push((topology::replication_name(&group.prefix, pair), group.items.len()));
            }
        }
        let list: Vec<String> = names.iter().map(|(n, _)| lit(n)).collect();
        let list = list.join(", ");
        let subs = session.query(
            &format!(
                "SELECT s.subname, s.subenabled, \
                 (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid), \
                 (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate = 'r'), \
                 coalesce((SELECT o.remote_lsn <> '0/0' FROM pg_replication_origin_status o WHERE o.external_id = 'pg_' || s.oid), false) \
                 FROM pg_subscription s WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND s.subname IN ({list})"
            ),
            t,
        )?;
        let slots = session.query(
            &format!(
                "SELECT slot_name, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint \
                 FROM pg_replication_slots WHERE slot_name IN ({list})"
            ),
            t,
        )?;
        let truthy = |v: Option<&Option<String>>| v.cloned().flatten().is_some_and(|v| v == "1" || v == "t");
        let mut state = ServerState { problems: Self::problems(config, server, session)?, ..ServerState::default() };
        for (n, tables) in names {
            let lower = n.to_ascii_lowercase();
            let slot = slots.iter().find(|r| r.first().cloned().flatten().as_deref() == Some(lower.as_str()));
            let has_slot = slot.is_some();
            if let Some(bytes) = slot.and_then(|r| r.get(1).cloned().flatten()).and_then(|v| v.parse().ok()) {
                state.retained_bytes.insert(n.clone(), bytes);
            }
            let sub = subs.iter().find(|r| r.first().cloned().flatten().as_deref() == Some(lower.as_str()));
            let repl = match sub {
                None => ReplicationState { reset: !has_slot, sending: has_slot, ..ReplicationState::MISSING },
                Some(r) => {
                    let count = |i: usize| r.get(i).cloned().flatten().and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
                    ReplicationState {
                        exists: true,
                        started: truthy(r.get(1)),
                        reset: !has_slot && !truthy(r.get(4)),
                        sending: has_slot,
                        ready: count(2) == tables && count(3) == tables,
                    }
                }
            };
            state.replications.insert(n, repl);
        }
        Ok(state)
    }

    fn expand(&self, config: &Config, obs: &Observation, step: &Step) -> Vec<Op> {
        let s = step.server;
        match &step.action {
            Action::Create { group, pair } => {
                let g = &config.groups[*group];
                let mut ops = Vec::new();
                // The group's publication, created with the first pair that needs it.
                let first_missing = topology::pairs_of(s, config.server_count)
                    .into_iter()
                    .find(|p| !obs.server(s).is_some_and(|st| st.replication(&topology::replication_name(&g.prefix, *p)).exists));
                if first_missing == Some(*pair) {
                    ops.push(Op::exec(s, create_publication_sql(g)));
                }
                ops.push(Op::exec(s, create_subscription_sql(config, g, *pair, s, false)).tolerating(
                    ErrorClass::DuplicateName,
                    Severity::Info,
                    "Subscription already exists; kept as is",
                ));
                ops
            }
            Action::Start { group, pair, peer_present } => Self::start(config, obs, s, *group, *pair, *peer_present),
            Action::Sync { group, pair } => Self::sync(config, s, *group, *pair),
            Action::Bookmark { group, joiner, source } => Self::bookmark(config, s, *group, *joiner, *source),
            Action::Link { group, peer, joiner, source } => Self::link(config, *peer, *group, *joiner, *source),
            Action::Flush { group, pair, wait } => Self::flush(config, s, *group, *pair, *wait),
            Action::Stop { group, pair } => {
                vec![Op::exec(s, format!("ALTER SUBSCRIPTION {} DISABLE", ident(&name(&config.groups[*group], *pair)))).tolerating(
                    ErrorClass::UndefinedName,
                    Severity::Info,
                    "Subscription does not exist; nothing to stop",
                )]
            }
            Action::Reset { group, pair } => Self::reset(config, s, *group, *pair),
            Action::Drop { group, pair } => Self::drop(config, s, *group, *pair),
            Action::DropGroup { group } => {
                vec![Op::exec(s, format!("DROP PUBLICATION IF EXISTS {}", ident(&config.groups[*group].prefix)))]
            }
            Action::Truncate { group } => {
                let tables: Vec<String> = config.groups[*group].items.iter().map(relation_sql).collect();
                vec![Op::exec(s, format!("TRUNCATE {}", tables.join(", ")))]
            }
            Action::OpenForApplications => {
                vec![Op::skip(s, "PostgreSQL has no ADMIN_MODE: applications reach this pod once its marker file makes it ready", false)]
            }
            Action::Delay { seconds } => vec![Op::sleep(s, *seconds)],
        }
    }

    fn status(&self, config: &Config, server: ServerId, session: &mut dyn Session) -> Result<Vec<PairStatus>, DbError> {
        let mut names = Vec::new();
        for group in &config.groups {
            for pair in topology::pairs_of(server, config.server_count) {
                names.push((topology::replication_name(&group.prefix, pair), pair.other(server)));
            }
        }
        let values: Vec<String> = names.iter().map(|(n, _)| format!("({})", lit(n))).collect();
        let rows = session.query(&status_sql(&values.join(", ")), config.query_timeout_s)?;
        let text = |r: &Vec<Option<String>>, i: usize| r.get(i).cloned().flatten();
        let flag = |r: &Vec<Option<String>>, i: usize| text(r, i).is_some_and(|v| v == "1" || v == "t");
        Ok(names
            .into_iter()
            .map(|(replication, peer)| {
                let lower = replication.to_ascii_lowercase();
                let row = rows.iter().find(|r| text(r, 0).as_deref() == Some(lower.as_str()));
                let Some(r) = row else { return PairStatus { replication, peer, reset: true, ..PairStatus::default() } };
                PairStatus {
                    replication,
                    peer,
                    exists: flag(r, 1),
                    started: flag(r, 2),
                    running: Some(flag(r, 3)),
                    reset: !flag(r, 4) && !flag(r, 5),
                    lag_bytes: text(r, 6).and_then(|v| v.parse().ok()),
                    lag_s: text(r, 7).and_then(|v| v.parse().ok()),
                    retained_bytes: text(r, 8).and_then(|v| v.parse().ok()),
                    errors: text(r, 9),
                }
            })
            .collect())
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
