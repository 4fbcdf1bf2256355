//! One test per ordering rule of the PostgreSQL steps and join protocol, on the
//! operations a step expands to (server, statement template), in order.

use super::Postgres;
use crate::config::{Config, EnvOverrides, Syntax};
use crate::lifecycle::port::{Backend, Op, OpKind};
use crate::lifecycle::{Action, Step};
use crate::topology::{Pair, ServerId};

fn config() -> Config {
    let text = "AKU_STS_NAME = sts\nAKU_SVC_NAME = svc\nAKU_SYS_PASSWORD = pw\nAKU_BACKEND = postgresql\nAKU_SERVER_COUNT = 3\n\
                REPLICATIONS = ( REPLICATION_NAME_PREFIX = P ( PUBLIC.T1 ) )\n";
    Config::parse(text, Syntax::AkuConf, &EnvOverrides::default()).expect("valid")
}

fn ops(server: u8, action: Action) -> Vec<(u8, String)> {
    Postgres
        .expand(&config(), &Step { server: ServerId(server), action })
        .iter()
        .map(|op: &Op| {
            let text = match &op.kind {
                OpKind::Exec { sql } | OpKind::Capture { sql, .. } | OpKind::WaitUntil { sql, .. } => sql.template(),
                OpKind::Sleep { .. } | OpKind::Skip { .. } => String::new(),
            };
            (op.server.0, text)
        })
        .collect()
}

/// The index of the first operation on `server` whose statement contains `needle`
/// (an `ALTER SUBSCRIPTION` needle must be the whole statement, not part of a `DO` block).
fn at(ops: &[(u8, String)], server: u8, needle: &str) -> usize {
    let matches = |t: &String| if needle.starts_with("ALTER SUBSCRIPTION") { t == needle } else { t.contains(needle) };
    ops.iter().position(|(s, t)| *s == server && matches(t)).unwrap_or_else(|| panic!("no `{needle}` on server {server}: {ops:#?}"))
}

fn pair(a: u8, b: u8) -> Pair {
    Pair::new(ServerId(a), ServerId(b))
}

#[test]
fn start_creates_the_peers_slot_and_registers_the_tables_before_enabling() {
    let ops = ops(1, Action::Start { group: 0, pair: pair(0, 1), peer_present: true });
    let slot = at(&ops, 0, "pg_create_logical_replication_slot('p_01'");
    let register = at(&ops, 1, "IF NOT EXISTS (SELECT 1 FROM pg_subscription_rel");
    let enable = at(&ops, 1, "ALTER SUBSCRIPTION \"p_01\" ENABLE");
    assert!(slot < enable && register < enable, "{ops:#?}");
}

#[test]
fn start_towards_an_absent_peer_sends_nothing() {
    let ops = ops(1, Action::Start { group: 0, pair: pair(1, 2), peer_present: false });
    assert_eq!(ops, vec![(1, String::new())], "one skip note, no statement");
}

#[test]
fn bookmark_pins_the_slot_before_waiting_and_pauses_the_source_only_after_it_reached_the_bookmark() {
    // Peer 2, joiner 1, source 0.
    let ops = ops(2, Action::Bookmark { group: 0, joiner: ServerId(1), source: ServerId(0) });
    let resume = at(&ops, 0, "ALTER SUBSCRIPTION \"p_02\" ENABLE");
    let drop_old = at(&ops, 2, "pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'p_12'");
    let pin = at(&ops, 2, "SELECT lsn::text FROM pg_create_logical_replication_slot('p_12'");
    let reached = at(&ops, 2, "confirmed_flush_lsn >= {server2.p_12.bookmark_lsn}::pg_lsn");
    let pause = at(&ops, 0, "ALTER SUBSCRIPTION \"p_02\" DISABLE");
    let gone = at(&ops, 0, "FROM pg_stat_subscription WHERE subname");
    let applied = at(&ops, 0, "remote_lsn::text");
    assert!(resume < pin && drop_old < pin && pin < reached && reached < pause && pause < gone && gone < applied, "{ops:#?}");
}

#[test]
fn link_registers_then_advances_the_origin_then_enables_then_resumes_the_source() {
    let ops = ops(1, Action::Link { group: 0, peer: ServerId(2), joiner: ServerId(1), source: ServerId(0) });
    let register = at(&ops, 1, "IF NOT EXISTS (SELECT 1 FROM pg_subscription_rel");
    let advance = at(
        &ops,
        1,
        "pg_replication_origin_advance('pg_' || (SELECT oid FROM pg_subscription WHERE subname = 'p_12'), {server0.p_02.applied_lsn})",
    );
    let enable = at(&ops, 1, "ALTER SUBSCRIPTION \"p_12\" ENABLE");
    let resume = at(&ops, 0, "ALTER SUBSCRIPTION \"p_02\" ENABLE");
    assert!(register < advance && advance < enable && enable < resume, "{ops:#?}");
}

#[test]
fn sync_recreates_the_subscription_and_the_source_slot_before_copying_and_waits_last() {
    let ops = ops(0, Action::Sync { group: 0, pair: pair(0, 1) });
    let drop_sub = at(&ops, 1, "DROP SUBSCRIPTION IF EXISTS \"p_01\"");
    let create_sub = at(&ops, 1, "CREATE SUBSCRIPTION \"p_01\"");
    let old_sync_slots = at(&ops, 0, "LIKE 'pg\\_{server1.p_01.old_subscription_oid}\\_sync\\_%'");
    let new_slot = at(&ops, 0, "pg_create_logical_replication_slot('p_01'");
    let enable = at(&ops, 1, "ALTER SUBSCRIPTION \"p_01\" ENABLE");
    let copy = at(&ops, 1, "REFRESH PUBLICATION WITH (copy_data = true)");
    let wait = at(&ops, 1, "bool_and(r.srsubstate = 'r')");
    assert!(drop_sub < create_sub && create_sub < enable && old_sync_slots < new_slot && new_slot < enable, "{ops:#?}");
    assert!(enable < copy && copy < wait && wait == ops.len() - 1, "{ops:#?}");
    assert!(!ops.iter().any(|(s, t)| *s == 0 && t.contains("ALTER SUBSCRIPTION")), "the source's own side is started by a later step");
}

#[test]
fn reset_waits_for_the_worker_before_dropping_the_slot_and_clearing_the_origin() {
    let ops = ops(1, Action::Reset { group: 0, pair: pair(0, 1) });
    let gone = at(&ops, 1, "FROM pg_stat_subscription WHERE subname");
    let drop = at(&ops, 1, "pg_drop_replication_slot");
    let origin = at(&ops, 1, "pg_replication_origin_advance(o.external_id, '0/0')");
    assert!(gone < drop && drop < origin, "{ops:#?}");
}

#[test]
fn flush_reads_the_position_before_waiting_for_it() {
    let ops = ops(1, Action::Flush { group: 0, pair: pair(0, 1), wait: crate::lifecycle::FlushWait::All });
    let read = at(&ops, 1, "SELECT pg_current_wal_lsn()::text");
    let wait = at(&ops, 1, "confirmed_flush_lsn >= {server1.p_01.flush_lsn}::pg_lsn");
    let baseline = at(&ops, 0, "apply_error_count + sync_error_count");
    assert!(baseline < wait && read < wait, "{ops:#?}");
}
