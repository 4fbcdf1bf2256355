//! Altibase statement builders: quoting, `CREATE REPLICATION`, `ALTER REPLICATION`,
//! truncation under `REPLICATION_DDL_ENABLE`, and the items of a replication.

use crate::config::{Config, ReplicationGroup, ReplicationItem};
use crate::lifecycle::port::{ErrorClass, Op, Severity};
use crate::lifecycle::sql::{Sql, ValueKind, Var};
use crate::topology::{self, Pair, ServerId};

/// An Altibase identifier folded to upper case and quoted.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.to_ascii_uppercase().replace('"', "\"\""))
}

pub(super) fn table_ref(item: &ReplicationItem) -> String {
    let mut s = format!("{}.{}", quote(&item.user), quote(&item.table));
    if let Some(p) = &item.partition {
        s.push_str(" PARTITION ");
        s.push_str(&quote(p));
    }
    s
}

/// `CREATE REPLICATION` of `pair` on `server`, towards the other server's host
/// and replication port, with every item of the group.
pub fn create_sql(config: &Config, group: &ReplicationGroup, pair: Pair, server: ServerId) -> String {
    let peer = pair.other(server);
    let items: Vec<String> = group.items.iter().map(|i| format!("FROM {t} TO {t}", t = table_ref(i))).collect();
    format!(
        "CREATE REPLICATION {} WITH '{}', {} {}",
        topology::replication_name(&group.prefix, pair).to_ascii_uppercase(),
        topology::host_of(config, peer),
        config.replication_port_no,
        items.join(", ")
    )
}

pub(super) fn truncate_sql(item: &ReplicationItem) -> String {
    let table = format!("{}.{}", quote(&item.user), quote(&item.table));
    match &item.partition {
        Some(p) => format!("ALTER TABLE {table} TRUNCATE PARTITION {}", quote(p)),
        None => format!("TRUNCATE TABLE {table}"),
    }
}

/// The item key of an Altibase item: `USER.TABLE` or `USER.TABLE PARTITION P`, upper case.
pub fn item_key(item: &ReplicationItem) -> String {
    let mut key = format!("{}.{}", item.user.to_ascii_uppercase(), item.table.to_ascii_uppercase());
    if let Some(p) = &item.partition {
        key.push_str(" PARTITION ");
        key.push_str(&p.to_ascii_uppercase());
    }
    key
}

/// `ALTER REPLICATION <name> <what>` on `server`.
pub(super) fn alter(name: &str, server: ServerId, what: &str) -> Op {
    Op::exec(server, format!("ALTER REPLICATION {name} {what}"))
}

/// Items added to and dropped from replication `n` on `s`, one item per statement,
/// with the pair stopped on both sides (Replication Manual, ALTER REPLICATION ... ADD
/// TABLE / DROP TABLE; qcply.y 6990 / 7022).
pub(super) fn alter_items(n: &str, s: ServerId, add: &[ReplicationItem], drop: &[ReplicationItem]) -> Vec<Op> {
    let item = |i: &ReplicationItem| format!("FROM {t} TO {t}", t = table_ref(i));
    let mut ops: Vec<Op> = add
        .iter()
        .map(|i| {
            alter(n, s, &format!("ADD TABLE {}", item(i))).tolerating(
                ErrorClass::DuplicateName,
                Severity::Info,
                "Item already in the replication",
            )
        })
        .collect();
    ops.extend(drop.iter().map(|i| {
        alter(n, s, &format!("DROP TABLE {}", item(i))).tolerating(ErrorClass::NoSuchItem, Severity::Info, "Item not in the replication")
    }));
    ops
}

/// On the master: copy the added tables over replication `n` without starting its
/// sender (`SYNC ONLY … TABLE`; the XSN is kept: SQL Reference, ALTER REPLICATION,
/// TABLE clause).
pub(super) fn sync_items(n: &str, s: ServerId, parallel: u32, items: &[ReplicationItem]) -> Vec<Op> {
    let tables: Vec<String> = items.iter().map(table_ref).collect();
    vec![alter(n, s, &format!("SYNC ONLY PARALLEL {parallel} TABLE {}", tables.join(", "))).waiting()]
}

/// TRUNCATE of replicated tables needs REPLICATION_DDL_ENABLE = 1 (Replication
/// Manual): raise it, and restore the value read before, even if a TRUNCATE fails.
pub(super) fn truncate_ops(s: ServerId, prefix: &str, items: &[ReplicationItem]) -> Vec<Op> {
    let var = Var::new(ValueKind::Int, s, prefix, "replication_ddl_enable");
    let mut ops = vec![
        Op::capture(s, "SELECT VALUE1 FROM V$PROPERTY WHERE NAME = 'REPLICATION_DDL_ENABLE'", var.clone()),
        Op::exec(s, "ALTER SYSTEM SET REPLICATION_DDL_ENABLE = 1"),
        Op::exec(s, "ALTER SESSION SET REPLICATION = DEFAULT"),
    ];
    ops.extend(items.iter().map(|i| Op::exec(s, truncate_sql(i))));
    ops.push(Op::exec(s, Sql::text("ALTER SYSTEM SET REPLICATION_DDL_ENABLE = ").var(&var)).finally());
    ops
}
