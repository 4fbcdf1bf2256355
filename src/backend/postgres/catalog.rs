//! PostgreSQL catalog reads: the replication state of a server for the *observe*
//! stage (`pg_subscription`, `pg_subscription_rel`, `pg_replication_slots`,
//! `pg_replication_origin_status`) and the per-pair status of `aku -s`.

use crate::config::{Config, ReplicationItem};
use crate::lifecycle::port::PairStatus;
use crate::lifecycle::state::{ReplKey, ReplicationState, ServerState};
use crate::odbc::{DbError, Row, Session};
use crate::topology::{self, ServerId};

use super::preconditions::{problems, tables};
use super::sql::{linked_in_absence, lit, paused_for};

/// Every replication of `server`: its key, folded name and number of tables.
fn objects(config: &Config, server: ServerId) -> Vec<(ReplKey, String, usize)> {
    let mut out = Vec::new();
    for (group, g) in config.groups.iter().enumerate() {
        for pair in topology::pairs_of(server, config.server_count) {
            out.push((ReplKey { group, pair }, topology::replication_name(&g.prefix, pair).to_ascii_lowercase(), g.items.len()));
        }
    }
    out
}

fn find<'a>(rows: &'a [Row], name: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.text(0) == Some(name))
}

/// The replication state of `server`, with its preconditions.
pub(super) fn observe(config: &Config, server: ServerId, session: &mut dyn Session) -> Result<ServerState, DbError> {
    let t = config.query_timeout_s;
    let objects = objects(config, server);
    let list: Vec<String> = objects.iter().map(|(_, n, _)| lit(n)).collect();
    let list = in_list(&list);
    let subs = session.query(
        &format!(
            "SELECT s.subname, s.subenabled, \
             (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid), \
             (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = s.oid AND r.srsubstate = 'r'), \
             coalesce((SELECT o.remote_lsn <> '0/0' FROM pg_replication_origin_status o WHERE o.external_id = 'pg_' || s.oid), false), \
             obj_description(s.oid, 'pg_subscription') \
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
    let mut state =
        ServerState { problems: problems(config, server, session)?, tables: tables(config, session)?, ..ServerState::default() };
    read_items(config, session, &objects, &mut state)?;
    for (key, n, _) in objects {
        let slot = find(&slots, &n);
        let has_slot = slot.is_some();
        if let Some(bytes) = slot.and_then(|r| r.int(1)) {
            state.retained_bytes.insert(key, bytes);
        }
        let sub = find(&subs, &n);
        let note = sub.and_then(|r| r.text(5));
        if let Some(joiner) = note.and_then(paused_for) {
            state.paused.insert(key, joiner);
        }
        if note.is_some_and(linked_in_absence) {
            state.linked_in_absence.insert(key);
        }
        // Column 4: the subscription's origin progress is not 0/0.
        let received = sub.is_some_and(|r| r.flag(4));
        if received {
            state.received.insert(key);
        }
        let repl = match sub {
            None => ReplicationState { reset: !has_slot, sending: has_slot, ..ReplicationState::MISSING },
            Some(r) => {
                let count = |i: usize| r.int(i).and_then(|v| usize::try_from(v).ok()).unwrap_or(0);
                ReplicationState {
                    exists: true,
                    started: r.flag(1),
                    reset: !has_slot && !received,
                    sending: has_slot,
                    // Every registered table finished its copy (the set itself is compared
                    // with the items in force by the decide stage).
                    ready: count(2) > 0 && count(3) == count(2),
                }
            }
        };
        state.replications.insert(key, repl);
    }
    Ok(state)
}

/// One row per replication name in `values` (`('name'), ...`): subscription
/// exists/enabled/running, slot present, origin progress, unconfirmed and retained
/// bytes of the local slot, replay lag (s) of the peer's walsender, error counters,
/// the pause note of a join.
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
            FROM pg_stat_subscription_stats ss WHERE ss.subid = s.oid), \
         obj_description(s.oid, 'pg_subscription'), \
         (SELECT string_agg(rn.nspname || '.' || rc.relname, ',' ORDER BY rn.nspname, rc.relname) FROM pg_subscription_rel rr \
            JOIN pg_class rc ON rc.oid = rr.srrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE rr.srsubid = s.oid) \
         FROM (VALUES {values}) AS n(name) \
         LEFT JOIN pg_subscription s ON s.subname = n.name \
         AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         LEFT JOIN pg_replication_slots sl ON sl.slot_name = n.name"
    )
}

/// The status of every replication of `server`.
pub(super) fn status(config: &Config, server: ServerId, session: &mut dyn Session) -> Result<Vec<PairStatus>, DbError> {
    let objects = objects(config, server);
    let values: Vec<String> = objects.iter().map(|(_, n, _)| format!("({})", lit(n))).collect();
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let rows = session.query(&status_sql(&values.join(", ")), config.query_timeout_s)?;
    Ok(objects
        .into_iter()
        .map(|(key, n, _)| {
            let replication = topology::replication_name(&config.groups[key.group].prefix, key.pair);
            let peer = key.pair.other(server);
            let Some(r) = find(&rows, &n) else { return PairStatus { replication, peer, reset: true, ..PairStatus::default() } };
            PairStatus {
                replication,
                peer,
                exists: r.flag(1),
                started: r.flag(2),
                running: Some(r.flag(3)),
                reset: !r.flag(4) && !r.flag(5),
                lag_bytes: r.int(6),
                lag_s: r.text(7).and_then(|v| v.parse().ok()),
                retained_bytes: r.int(8),
                errors: r.text(9).map(str::to_owned),
                paused_for_join_of: r.text(10).and_then(paused_for),
                // None until tables are registered (a replication never started yet).
                items: r.text(11).map(|t| t.split(',').map(str::to_owned).collect()),
            }
        })
        .collect())
}

/// A table as an item: `schema.relation`.
fn item(schema: &str, rel: &str) -> ReplicationItem {
    ReplicationItem { user: schema.to_owned(), table: rel.to_owned(), partition: None }
}

/// The tables of each group's publication, and the tables registered in each
/// subscription (in name order).
fn read_items(
    config: &Config,
    session: &mut dyn Session,
    objects: &[(ReplKey, String, usize)],
    state: &mut ServerState,
) -> Result<(), DbError> {
    let t = config.query_timeout_s;
    let pubs: Vec<String> = config.groups.iter().map(|g| lit(&g.prefix)).collect();
    let rows = session.query(
        &format!(
            "SELECT p.pubname, n.nspname, c.relname FROM pg_publication p LEFT JOIN pg_publication_rel pr ON pr.prpubid = p.oid \
             LEFT JOIN pg_class c ON c.oid = pr.prrelid LEFT JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE p.pubname IN ({}) ORDER BY 1, 2, 3",
            pubs.join(", ")
        ),
        t,
    )?;
    for (group, g) in config.groups.iter().enumerate() {
        let prefix = g.prefix.to_ascii_lowercase();
        let mine: Vec<&Row> = rows.iter().filter(|r| r.text(0) == Some(prefix.as_str())).collect();
        if !mine.is_empty() {
            let items = mine.iter().filter_map(|r| Some(item(r.text(1)?, r.text(2)?))).collect();
            state.group_items.insert(group, items);
        }
    }
    let subs: Vec<String> = objects.iter().map(|(_, n, _)| lit(n)).collect();
    let rows = session.query(
        &format!(
            "SELECT s.subname, n.nspname, c.relname FROM pg_subscription s JOIN pg_subscription_rel r ON r.srsubid = s.oid \
             JOIN pg_class c ON c.oid = r.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND s.subname IN ({}) ORDER BY 1, 2, 3",
            in_list(&subs)
        ),
        t,
    )?;
    for (key, n, _) in objects {
        let items: Vec<ReplicationItem> =
            rows.iter().filter(|r| r.text(0) == Some(n.as_str())).filter_map(|r| Some(item(r.text(1)?, r.text(2)?))).collect();
        if !items.is_empty() {
            state.repl_items.insert(*key, items);
        }
    }
    Ok(())
}

/// The items of an SQL `IN (…)` list; `NULL` (matching nothing) when there is none
/// (a StatefulSet of one server has no pairs).
fn in_list(items: &[String]) -> String {
    if items.is_empty() { "NULL".to_owned() } else { items.join(", ") }
}
