//! PostgreSQL SQL builders: quoting, names, and the statements that create,
//! enable, release and drop aku's publications, subscriptions and slots.
//! Identifiers are folded to lower case and quoted; literals only ever hold
//! validated names.

use crate::config::{Config, ReplicationGroup, ReplicationItem};
use crate::lifecycle::port::Op;
use crate::topology::{self, Pair, ServerId};

/// Seconds to wait for a worker to exit or a slot to be released.
pub(super) const RELEASE_WAIT_S: u32 = 60;

/// An identifier folded to lower case (PostgreSQL's rule for unquoted names) and quoted.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.to_ascii_lowercase().replace('"', "\"\""))
}

/// A string literal of a folded name.
pub fn lit(name: &str) -> String {
    format!("'{}'", name.to_ascii_lowercase().replace('\'', "''"))
}

/// The relation an item replicates: the partition itself when one is named
/// (schema, relation), folded.
pub(super) fn relation(item: &ReplicationItem) -> (String, String) {
    let rel = item.partition.as_deref().unwrap_or(&item.table);
    (item.user.to_ascii_lowercase(), rel.to_ascii_lowercase())
}

pub(super) fn relation_sql(item: &ReplicationItem) -> String {
    let (schema, rel) = relation(item);
    format!("{}.{}", ident(&schema), ident(&rel))
}

/// The subscription and slot name of `pair` in `group`, folded: `p_ij`.
pub(super) fn name(group: &ReplicationGroup, pair: Pair) -> String {
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

/// The OID of subscription `n`, as a subquery.
pub(crate) fn sub_oid(n: &str) -> String {
    format!("(SELECT oid FROM pg_subscription WHERE subname = {})", lit(n))
}

/// `CREATE SUBSCRIPTION`, disabled and without a slot of its own. With `connect`,
/// the publisher is asked for the publication's tables, which are registered as
/// ready (nothing copied); without it, the peer may be absent.
pub(super) fn create_subscription_sql(config: &Config, group: &ReplicationGroup, pair: Pair, server: ServerId, connect: bool) -> String {
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
/// `connect = true`, which registers them as ready, still disabled. Its origin
/// progress (a position recorded for it, e.g. by a join for an absent peer) is
/// carried over to the new subscription.
pub(super) fn register_tables(config: &Config, group: &ReplicationGroup, pair: Pair, server: ServerId) -> Op {
    let n = name(group, pair);
    Op::exec(
        server,
        format!(
            "DO $aku$ DECLARE l pg_lsn; BEGIN IF NOT EXISTS (SELECT 1 FROM pg_subscription_rel WHERE srsubid = {oid}) THEN \
             SELECT o.remote_lsn INTO l FROM pg_replication_origin_status o WHERE o.external_id = 'pg_' || {oid}; \
             ALTER SUBSCRIPTION {id} DISABLE; ALTER SUBSCRIPTION {id} SET (slot_name = NONE); DROP SUBSCRIPTION {id}; \
             {create}; IF l IS NOT NULL AND l <> '0/0' THEN PERFORM pg_replication_origin_advance('pg_' || {oid}, l); END IF; \
             END IF; END $aku$",
            oid = sub_oid(&n),
            id = ident(&n),
            create = create_subscription_sql(config, group, pair, server, true)
        ),
    )
}

pub(super) fn create_publication_sql(group: &ReplicationGroup) -> String {
    let tables: Vec<String> = group.items.iter().map(relation_sql).collect();
    format!(
        "DO $aku$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = {}) THEN \
         CREATE PUBLICATION {} FOR TABLE {} WITH (publish = 'insert, update, delete'); END IF; END $aku$",
        lit(&group.prefix),
        ident(&group.prefix),
        tables.join(", ")
    )
}

pub(super) fn create_slot_sql(n: &str) -> String {
    format!(
        "SELECT pg_create_logical_replication_slot({l}, 'pgoutput') WHERE NOT EXISTS \
         (SELECT 1 FROM pg_replication_slots WHERE slot_name = {l})",
        l = lit(n)
    )
}

pub(super) fn enable(server: ServerId, n: &str) -> Op {
    Op::exec(server, format!("ALTER SUBSCRIPTION {} ENABLE", ident(n)))
}

pub(super) fn disable(server: ServerId, n: &str) -> Op {
    Op::exec(server, format!("ALTER SUBSCRIPTION {} DISABLE", ident(n)))
}

/// Waits until the apply worker of subscription `n` has exited.
pub(super) fn worker_gone(server: ServerId, n: &str) -> Op {
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
pub(super) fn drop_slot(server: ServerId, n: &str) -> Vec<Op> {
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

/// `SELECT` of the origin progress of subscription `n` (its `remote_lsn`), `0/0` when none.
pub(super) fn origin_lsn_sql(n: &str) -> String {
    format!(
        "SELECT coalesce((SELECT o.remote_lsn::text FROM pg_replication_origin_status o WHERE o.external_id = 'pg_' || {}), '0/0')",
        sub_oid(n)
    )
}

/// The note on a subscription a join paused on the copy source: `aku: paused for
/// the join of server <j>`. Observe reads it back; the link (or the next run of any
/// pod, once that join is over) clears it.
pub(super) const PAUSE_NOTE: &str = "aku: paused for the join of server ";

/// Records on `server` that subscription `n` is paused for the join of `joiner`.
pub(super) fn note_paused(server: ServerId, n: &str, joiner: ServerId) -> Op {
    Op::exec(server, format!("COMMENT ON SUBSCRIPTION {} IS '{PAUSE_NOTE}{joiner}'", ident(n)))
}

/// The note on a joiner's subscription from a peer that was absent during the join
/// (`aku: linked in the absence of server <k>`): the joiner's slot for that peer is
/// new, so a restart point the peer kept for the joiner's older stream is stale.
/// The next start of the subscription clears it.
pub(super) const ABSENT_LINK_NOTE: &str = "aku: linked in the absence of server ";

/// Records on `server` that its subscription `n` was linked while `absent` was away.
pub(super) fn note_absent_link(server: ServerId, n: &str, absent: ServerId) -> Op {
    Op::exec(server, format!("COMMENT ON SUBSCRIPTION {} IS '{ABSENT_LINK_NOTE}{absent}'", ident(n)))
}

/// Clears the absent-link note of subscription `n` on `server`, and no other note
/// (a reset makes it moot: no restart point is kept for either stream).
pub(super) fn clear_absent_link_note(server: ServerId, n: &str) -> Op {
    Op::exec(
        server,
        format!(
            "DO $aku$ BEGIN IF obj_description((SELECT oid FROM pg_subscription WHERE subname = {}), 'pg_subscription') \
             LIKE '{ABSENT_LINK_NOTE}%' THEN COMMENT ON SUBSCRIPTION {} IS NULL; END IF; END $aku$",
            lit(n),
            ident(n)
        ),
    )
}

/// True when a subscription's note says it was linked in its peer's absence.
pub(super) fn linked_in_absence(note: &str) -> bool {
    note.starts_with(ABSENT_LINK_NOTE)
}

/// Clears the note (pause or absent link) of subscription `n` on `server`.
pub(super) fn clear_note(server: ServerId, n: &str) -> Op {
    Op::exec(server, format!("COMMENT ON SUBSCRIPTION {} IS NULL", ident(n)))
}

/// The joiner a pause note names.
pub(super) fn paused_for(note: &str) -> Option<ServerId> {
    note.strip_prefix(PAUSE_NOTE).and_then(|n| n.trim().parse().ok()).map(ServerId)
}

/// `pod N (host)`, for messages built in SQL.
pub(super) fn pod(config: &Config, server: ServerId) -> String {
    format!("pod {server} ({})", topology::host_of(config, server))
}

/// A string literal of free text (`'` doubled).
pub(super) fn text_lit(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The errors counted for subscription `n` so far (apply and table-sync workers).
pub(super) fn error_count_sql(n: &str) -> String {
    format!("SELECT coalesce((SELECT apply_error_count + sync_error_count FROM pg_stat_subscription_stats WHERE subname = {}), 0)", lit(n))
}

/// Watch: the workers of subscription `n` on `on` failed twice more since `baseline`.
pub(super) fn failing_workers_watch(
    config: &Config,
    on: ServerId,
    n: &str,
    baseline: &crate::lifecycle::sql::Var,
) -> crate::lifecycle::sql::Sql {
    crate::lifecycle::sql::Sql::text(format!(
        "SELECT format('the workers of subscription %s keep failing (%s errors since this wait began; tables not ready: %s): \
         see the server log of {}', ss.subname, ss.apply_error_count + ss.sync_error_count, \
         coalesce((SELECT string_agg(n.nspname || '.' || c.relname, ', ' ORDER BY n.nspname, c.relname) FROM pg_subscription_rel r \
         JOIN pg_class c ON c.oid = r.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE r.srsubid = ss.subid AND r.srsubstate <> 'r'), 'none')) \
         FROM pg_stat_subscription_stats ss WHERE ss.subname = {} AND ss.apply_error_count + ss.sync_error_count >= ",
        pod(config, on).replace('\'', "''"),
        lit(n)
    ))
    .var(baseline)
    .then(" + 2")
}

/// Watch: subscription `n` on `on` is disabled while a wait needs it to run.
pub(super) fn disabled_watch(config: &Config, on: ServerId, n: &str) -> String {
    format!(
        "SELECT {} FROM pg_subscription WHERE subname = {} AND NOT subenabled",
        text_lit(&format!("subscription {n} on {} is disabled (see its server log)", pod(config, on))),
        lit(n)
    )
}

/// Watch: slot `n` on `on` was invalidated: its consumer can never catch up.
pub(super) fn slot_lost_watch(config: &Config, on: ServerId, n: &str) -> String {
    format!(
        "SELECT {} FROM pg_replication_slots WHERE slot_name = {} AND wal_status = 'lost'",
        text_lit(&format!(
            "slot {n} on {} was invalidated (wal_status = lost, max_slot_wal_keep_size): its peer must join again",
            pod(config, on)
        )),
        lit(n)
    )
}

/// The item key of a PostgreSQL item: `schema.relation`, lower case (the partition
/// itself when one is named).
pub fn item_key(item: &ReplicationItem) -> String {
    let (schema, rel) = relation(item);
    format!("{schema}.{rel}")
}
