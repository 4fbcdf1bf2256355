//! The PostgreSQL join protocol: the copy from the source (`Sync`), and the
//! bookmark / link of every other running peer that closes the join window
//! (`docs/architecture.md`, "Joining while every pod writes"). For new pod `j`,
//! source `s` and running peer `k`:
//! 1. bookmark (on k): make sure s's subscription from k runs, create the slot
//!    `p_kj` that j will consume (at S_k), wait until s confirmed S_k on its slot
//!    from k, note the pause on s's subscription from k, pause it and read its
//!    origin progress L_k;
//! 2. sync (on s): j's subscription from s copies the tables (`copy_data = true`);
//! 3. link (on j): register j's subscription from k's tables, set its origin to
//!    L_k, enable it, resume s's subscription from k and clear its note.

use crate::config::Config;
use crate::lifecycle::port::Op;
use crate::lifecycle::sql::{Sql, ValueKind, Var};
use crate::topology::{self, Pair, ServerId};

use super::sql::{
    clear_note, create_slot_sql, create_subscription_sql, disable, disabled_watch, drop_slot, enable, error_count_sql,
    failing_workers_watch, ident, lit, name, note_absent_link, note_paused, origin_lsn_sql, pod, register_tables, relation,
    slot_lost_watch, sub_oid, text_lit, worker_gone,
};

/// The bookmark of peer `k` for a joiner: the position of k's slot for the joiner.
fn bookmark_var(k: ServerId, to_joiner: &str) -> Var {
    Var::new(ValueKind::Lsn, k, to_joiner, "bookmark_lsn")
}

/// What the copy source had applied of peer k's changes when it was paused.
fn applied_var(source: ServerId, to_source: &str) -> Var {
    Var::new(ValueKind::Lsn, source, to_source, "applied_lsn")
}

/// The copy of group `group`'s tables from `source` to the other server of `pair`.
pub(super) fn sync(config: &Config, source: ServerId, group: usize, pair: Pair) -> Vec<Op> {
    let g = &config.groups[group];
    let n = name(g, pair);
    let target = pair.other(source);
    let old_oid = Var::new(ValueKind::Oid, target, &n, "old_subscription_oid");
    let mut ops = vec![
        // Start from a clean subscription: an earlier interrupted copy is redone.
        Op::capture(target, format!("SELECT coalesce({}, 0::oid)", sub_oid(&n)), old_oid.clone()),
        disable(target, &n),
        worker_gone(target, &n),
        Op::exec(target, format!("ALTER SUBSCRIPTION {} SET (slot_name = NONE)", ident(&n))),
        Op::exec(target, format!("DROP SUBSCRIPTION IF EXISTS {}", ident(&n))),
        // Without tables: they are registered by the copy below (`copy_data = true`).
        Op::exec(target, create_subscription_sql(config, g, pair, target, false)),
        // The table-sync slots an interrupted copy of the old subscription left behind.
        Op::exec(
            source,
            Sql::text("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'pg\\_")
                .var(&old_oid)
                .then("\\_sync\\_%' AND NOT active"),
        ),
    ];
    ops.extend(drop_slot(source, &n));
    ops.push(Op::exec(source, create_slot_sql(&n)));
    let errors_before = Var::new(ValueKind::Int, target, &n, "errors_before_copy");
    ops.push(Op::capture(target, error_count_sql(&n), errors_before.clone()));
    ops.push(Op::exec(target, format!("ALTER SYSTEM SET max_sync_workers_per_subscription = {}", g.sync_parallel_count)));
    ops.push(Op::exec(target, "SELECT pg_reload_conf()"));
    ops.push(enable(target, &n));
    ops.push(Op::exec(target, format!("ALTER SUBSCRIPTION {} REFRESH PUBLICATION WITH (copy_data = true)", ident(&n))));
    ops.push(copy_wait(config, g, target, source, &n, &format!("initial copy of {n}"), &errors_before));
    // The source's side (it pulls the target's own changes) is started by the
    // plan's last step, so that a join interrupted before it is redone.
    ops
}

/// Step 1 on running peer `peer`.
pub(super) fn bookmark(config: &Config, peer: ServerId, group: usize, joiner: ServerId, source: ServerId) -> Vec<Op> {
    let g = &config.groups[group];
    let to_joiner = name(g, Pair::new(peer, joiner));
    let to_source = name(g, Pair::new(source, peer));
    let bookmark = bookmark_var(peer, &to_joiner);
    // An interrupted earlier join may have left the source's replication from this
    // peer disabled: it must run for the source to reach the bookmark.
    let errors_before = Var::new(ValueKind::Int, source, &to_source, "errors_before_bookmark");
    let mut ops = vec![
        register_tables(config, g, Pair::new(source, peer), source),
        Op::capture(source, error_count_sql(&to_source), errors_before.clone()),
        enable(source, &to_source),
        clear_note(source, &to_source),
    ];
    ops.extend(drop_slot(peer, &to_joiner));
    ops.push(Op::capture(
        peer,
        format!("SELECT lsn::text FROM pg_create_logical_replication_slot({}, 'pgoutput')", lit(&to_joiner)),
        bookmark.clone(),
    ));
    ops.push(
        Op::wait_until(
            peer,
            Sql::text("SELECT coalesce((SELECT confirmed_flush_lsn >= ")
                .var(&bookmark)
                .then(format!("::pg_lsn FROM pg_replication_slots WHERE slot_name = {}), false)", lit(&to_source))),
            format!("the copy source has received this peer's changes up to the bookmark (slot {to_source})"),
            None,
            config.query_timeout_s,
        )
        .watching(source, failing_workers_watch(config, source, &to_source, &errors_before))
        .watching(source, disabled_watch(config, source, &to_source))
        .watching(peer, slot_lost_watch(config, peer, &to_source)),
    );
    // The pause is recorded first: whatever interrupts the join, the next run of
    // any pod finds it and resumes the subscription once this join is over.
    ops.push(note_paused(source, &to_source, joiner));
    ops.push(disable(source, &to_source));
    ops.push(worker_gone(source, &to_source));
    ops.push(Op::capture(source, origin_lsn_sql(&to_source), applied_var(source, &to_source)));
    ops
}

/// Step 3 for running peer `peer`, on the joiner.
pub(super) fn link(config: &Config, peer: ServerId, group: usize, joiner: ServerId, source: ServerId) -> Vec<Op> {
    let g = &config.groups[group];
    let from_peer = name(g, Pair::new(peer, joiner));
    let to_source = name(g, Pair::new(source, peer));
    vec![
        // Registering may create the subscription again (a new origin): advance after it.
        register_tables(config, g, Pair::new(peer, joiner), joiner),
        Op::exec(
            joiner,
            Sql::text(format!("SELECT pg_replication_origin_advance('pg_' || {}, ", sub_oid(&from_peer)))
                .var(&applied_var(source, &to_source))
                .then(")"),
        ),
        enable(joiner, &from_peer),
        enable(source, &to_source),
        clear_note(source, &to_source),
    ]
}

/// Watch of a copy: a configured table that the subscription did not register
/// after its refresh, because the copy source does not publish it.
fn unpublished_watch(config: &Config, g: &crate::config::ReplicationGroup, source: ServerId, n: &str) -> String {
    let rels: Vec<String> = g
        .items
        .iter()
        .map(|i| {
            let (schema, rel) = relation(i);
            format!("({})", text_lit(&format!("{schema}.{rel}")))
        })
        .collect();
    format!(
        "SELECT {} || string_agg(v.rel, ', ') || {} FROM (VALUES {}) AS v(rel) WHERE NOT EXISTS \
         (SELECT 1 FROM pg_subscription_rel r JOIN pg_class c ON c.oid = r.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE r.srsubid = {} AND n.nspname || '.' || c.relname = v.rel) HAVING count(*) > 0",
        text_lit(&format!("the copy source {} does not publish ", pod(config, source))),
        text_lit(&format!(" (REPLICATIONS lists it; publication {} on the source lacks it)", g.prefix.to_ascii_lowercase())),
        rels.join(", "),
        sub_oid(n)
    )
}

/// The refresh of subscription `pair` on `server` after its peer's publication
/// changed: the added tables are registered (and with `copy`, copied from the peer
/// and waited for, with the copy's watches); dropped tables are unregistered.
pub(super) fn refresh(config: &Config, server: ServerId, group: usize, pair: Pair, copy: bool) -> Vec<Op> {
    let g = &config.groups[group];
    let n = name(g, pair);
    let peer = pair.other(server);
    let mut ops = Vec::new();
    let errors_before = Var::new(ValueKind::Int, server, &n, "errors_before_refresh");
    ops.push(Op::capture(server, error_count_sql(&n), errors_before.clone()));
    ops.push(Op::exec(server, format!("ALTER SUBSCRIPTION {} REFRESH PUBLICATION WITH (copy_data = {copy})", ident(&n))));
    if copy {
        ops.push(copy_wait(config, g, server, peer, &n, &format!("copy of the added tables of {n}"), &errors_before));
    }
    ops
}

/// The wait of a copy into subscription `n` on `target` from `source`: every table
/// of the group registered and ready, with its progress line and its watches
/// (failing workers since `errors_before`, a disabled subscription, a table the
/// source does not publish, the source's slot invalidated or the source gone).
fn copy_wait(
    config: &Config,
    g: &crate::config::ReplicationGroup,
    target: ServerId,
    source: ServerId,
    n: &str,
    what: &str,
    errors_before: &Var,
) -> Op {
    let tables = g.items.len();
    let rels = format!("FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = {}", lit(n));
    Op::wait_until(
        target,
        format!("SELECT count(*) = {tables} AND bool_and(r.srsubstate = 'r') {rels}"),
        what,
        Some(Sql::text(format!(
            "SELECT format('%s/%s tables ready, %s rows (%s) in copies running now', \
             count(*) FILTER (WHERE r.srsubstate IN ('r', 's')), {tables}, \
             coalesce((SELECT sum(tuples_processed) FROM pg_stat_progress_copy), 0), \
             pg_size_pretty(coalesce((SELECT sum(bytes_processed) FROM pg_stat_progress_copy), 0))) {rels}"
        ))),
        config.query_timeout_s,
    )
    .watching(target, failing_workers_watch(config, target, n, errors_before))
    .watching(target, disabled_watch(config, target, n))
    .watching(target, unpublished_watch(config, g, source, n))
    .watching(source, slot_lost_watch(config, source, n))
}

/// The bookmark of an absent peer `absent`, on the copy source: note and hold the
/// source's subscription from it, and read what it applied of it (L).
pub(super) fn bookmark_absent(config: &Config, source: ServerId, group: usize, joiner: ServerId, absent: ServerId) -> Vec<Op> {
    let to_source = name(&config.groups[group], Pair::new(source, absent));
    let warning = format!(
        "Peer {} did not return: joining without it. What {} applied of it comes with the copy; rows it wrote that {} had not received before it went down will not reach this pod",
        topology::host_of(config, absent),
        topology::host_of(config, source),
        topology::host_of(config, source),
    );
    vec![
        Op::skip(source, warning, true),
        note_paused(source, &to_source, joiner),
        disable(source, &to_source),
        worker_gone(source, &to_source),
        Op::capture(source, origin_lsn_sql(&to_source), applied_var(source, &to_source)),
    ]
}

/// The link of an absent peer, on the joiner: its subscription from the peer starts
/// after L (set as its origin progress, kept when its tables are registered later),
/// its own slot for the peer exists from now (before this pod takes writes), and the
/// source's subscription from the peer is released. The subscription stays disabled:
/// the peer's own start enables it when it returns.
pub(super) fn link_absent(config: &Config, joiner: ServerId, group: usize, absent: ServerId, source: ServerId) -> Vec<Op> {
    let g = &config.groups[group];
    let from_absent = name(g, Pair::new(absent, joiner));
    let to_source = name(g, Pair::new(source, absent));
    vec![
        Op::exec(joiner, create_slot_sql(&from_absent)),
        Op::exec(
            joiner,
            Sql::text(format!("SELECT pg_replication_origin_advance('pg_' || {}, ", sub_oid(&from_absent)))
                .var(&applied_var(source, &to_source))
                .then(")"),
        ),
        note_absent_link(joiner, &from_absent, absent),
        enable(source, &to_source),
        clear_note(source, &to_source),
    ]
}
