//! Altibase catalog reads: the state of a server's replications
//! (`SYSTEM_.SYS_REPLICATIONS_`, `V$PROPERTY`), their items (`SYS_REPL_ITEMS_`),
//! the definitions of the replicated tables (`SYS_COLUMNS_`, `SYS_CONSTRAINTS_`) and
//! the status of `aku -s` (`V$REPSENDER`, `V$REPGAP`).

use crate::config::{Config, ReplicationItem};
use crate::lifecycle::port::PairStatus;
use crate::lifecycle::schema::TableDef;
use crate::lifecycle::{ReplKey, ReplicationState, ServerState};
use crate::odbc::{DbError, Row, Session};
use crate::topology::{self, ServerId};

/// `SYS_REPLICATIONS_` joined with the sender's live state (`V$REPSENDER`) and its
/// gap (`V$REPGAP`, bytes), for the names in `list` (`'NAME', ...`).
pub fn status_sql(list: &str) -> String {
    format!(
        "SELECT R.REPLICATION_NAME, R.IS_STARTED, R.XSN, S.STATUS, G.REP_GAP_SIZE \
         FROM SYSTEM_.SYS_REPLICATIONS_ R \
         LEFT OUTER JOIN V$REPSENDER S ON S.REP_NAME = R.REPLICATION_NAME \
         LEFT OUTER JOIN V$REPGAP G ON G.REP_NAME = R.REPLICATION_NAME \
         WHERE R.REPLICATION_NAME IN ({list})"
    )
}

/// The meaning of `V$REPSENDER.STATUS` (General Reference, data dictionary).
pub(super) fn sender_status(code: &str) -> &'static str {
    match code {
        "0" => "STOP",
        "1" => "RUN",
        "2" => "RETRY",
        "3" => "FAILBACK NORMAL",
        "4" => "FAILBACK MASTER",
        "5" => "FAILBACK SLAVE",
        "6" => "SYNC",
        "7" => "FAILBACK EAGER",
        "8" => "FAILBACK FLUSH",
        "9" => "IDLE",
        _ => "unknown",
    }
}

/// The type name of a `SYS_COLUMNS_.DATA_TYPE` code with its precision and scale
/// (General Reference, data dictionary, `SYS_COLUMNS_`).
pub(super) fn type_name(code: i64, precision: Option<i64>, scale: Option<i64>) -> String {
    let name = match code {
        1 => "CHAR",
        12 => "VARCHAR",
        -8 => "NCHAR",
        -9 => "NVARCHAR",
        2 => "NUMERIC",
        6 => "FLOAT",
        8 => "DOUBLE",
        7 => "REAL",
        -5 => "BIGINT",
        4 => "INTEGER",
        5 => "SMALLINT",
        9 => "DATE",
        30 => "BLOB",
        40 => "CLOB",
        20001 => "BYTE",
        20002 => "NIBBLE",
        20003 => "VARBYTE",
        -7 => "BIT",
        -100 => "VARBIT",
        10003 => "GEOMETRY",
        60 => "ECHAR",
        61 => "EVARCHAR",
        -2 => "BINARY",
        _ => return format!("TYPE_{code}"),
    };
    match (code, precision, scale) {
        (2 | 6, Some(p), Some(s)) => format!("{name}({p},{s})"),
        (1 | 12 | -8 | -9 | 20001 | 20002 | 20003 | -7 | -100 | 60 | 61 | -2, Some(p), _) => format!("{name}({p})"),
        _ => name.to_owned(),
    }
}

/// The definition of every replicated table present on the server, by `USER.TABLE`:
/// the columns of `SYSTEM_.SYS_COLUMNS_` (hidden ones aside) and the primary key
/// (`SYS_CONSTRAINTS_` type 3).
pub(super) fn tables(config: &Config, session: &mut dyn Session) -> Result<std::collections::BTreeMap<String, TableDef>, DbError> {
    let mut wanted: Vec<String> = Vec::new();
    for item in config.groups.iter().flat_map(|g| &g.items) {
        let cond = format!(
            "(U.USER_NAME = '{}' AND T.TABLE_NAME = '{}')",
            item.user.to_ascii_uppercase().replace('\'', "''"),
            item.table.to_ascii_uppercase().replace('\'', "''")
        );
        if !wanted.contains(&cond) {
            wanted.push(cond);
        }
    }
    let rows = session.query(
        &format!(
            "SELECT U.USER_NAME || '.' || T.TABLE_NAME, C.COLUMN_NAME, C.DATA_TYPE, C.PRECISION, C.SCALE, \
             CASE WHEN PK.COLUMN_ID IS NULL THEN 0 ELSE 1 END \
             FROM SYSTEM_.SYS_USERS_ U JOIN SYSTEM_.SYS_TABLES_ T ON T.USER_ID = U.USER_ID \
             JOIN SYSTEM_.SYS_COLUMNS_ C ON C.TABLE_ID = T.TABLE_ID \
             LEFT OUTER JOIN (SELECT CC.TABLE_ID, CC.COLUMN_ID FROM SYSTEM_.SYS_CONSTRAINTS_ K \
             JOIN SYSTEM_.SYS_CONSTRAINT_COLUMNS_ CC ON CC.CONSTRAINT_ID = K.CONSTRAINT_ID WHERE K.CONSTRAINT_TYPE = 3) PK \
             ON PK.TABLE_ID = C.TABLE_ID AND PK.COLUMN_ID = C.COLUMN_ID \
             WHERE T.TABLE_TYPE = 'T' AND C.IS_HIDDEN = 'F' AND ({}) ORDER BY 1, C.COLUMN_ORDER",
            wanted.join(" OR ")
        ),
        config.query_timeout_s,
    )?;
    let mut out: std::collections::BTreeMap<String, TableDef> = std::collections::BTreeMap::new();
    for row in rows {
        let (Some(table), Some(column), Some(code)) = (row.text(0), row.text(1), row.int(2)) else { continue };
        let def = out.entry(table.trim().to_owned()).or_default();
        def.columns.insert(column.trim().to_owned(), type_name(code, row.int(3), row.int(4)));
        if row.int(5) == Some(1) {
            def.key.insert(column.trim().to_owned());
        }
    }
    Ok(out)
}

/// The items of each replication object (`SYSTEM_.SYS_REPL_ITEMS_`, Replication
/// Manual; one row per table, or per partition), and for each group the items of
/// its first existing object.
pub(super) fn read_items(
    config: &Config,
    session: &mut dyn Session,
    objects: &[(ReplKey, String)],
    state: &mut ServerState,
) -> Result<(), DbError> {
    let names: Vec<String> = objects.iter().map(|(_, n)| format!("'{n}'")).collect();
    let rows = session.query(
        &format!(
            "SELECT REPLICATION_NAME, LOCAL_USER_NAME, LOCAL_TABLE_NAME, LOCAL_PARTITION_NAME, REPLICATION_UNIT \
             FROM SYSTEM_.SYS_REPL_ITEMS_ WHERE REPLICATION_NAME IN ({}) \
             ORDER BY REPLICATION_NAME, LOCAL_USER_NAME, LOCAL_TABLE_NAME, LOCAL_PARTITION_NAME",
            in_list(&names)
        ),
        config.query_timeout_s,
    )?;
    for (key, name) in objects {
        let mut items: Vec<ReplicationItem> = Vec::new();
        for r in rows.iter().filter(|r| r.text(0).is_some_and(|n| n.trim().eq_ignore_ascii_case(name))) {
            let (Some(user), Some(table)) = (r.text(1), r.text(2)) else { continue };
            // A whole partitioned table (unit T) is one row per partition: one item.
            let partition = if r.text(4).map(str::trim) == Some("P") { r.text(3).map(|p| p.trim().to_owned()) } else { None };
            let item = ReplicationItem { user: user.trim().to_owned(), table: table.trim().to_owned(), partition };
            if !items.contains(&item) {
                items.push(item);
            }
        }
        if !items.is_empty() {
            state.group_items.entry(key.group).or_insert_with(|| items.clone());
            state.repl_items.insert(*key, items);
        }
    }
    Ok(())
}

/// Every replication of `server`: its key and its name, upper case as Altibase stores it.
pub(super) fn objects(config: &Config, server: ServerId) -> Vec<(ReplKey, String)> {
    let mut out = Vec::new();
    for (group, g) in config.groups.iter().enumerate() {
        for pair in topology::pairs_of(server, config.server_count) {
            out.push((ReplKey { group, pair }, topology::replication_name(&g.prefix, pair).to_ascii_uppercase()));
        }
    }
    out
}

pub(super) fn find<'a>(rows: &'a [Row], name: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.text(0).is_some_and(|n| n.trim().eq_ignore_ascii_case(name)))
}

pub(super) fn observe(config: &Config, server: ServerId, session: &mut dyn Session) -> Result<ServerState, DbError> {
    let objects = objects(config, server);
    let list: Vec<String> = objects.iter().map(|(_, n)| format!("'{n}'")).collect();
    let rows = session.query(
        &format!("SELECT REPLICATION_NAME, XSN, IS_STARTED FROM SYSTEM_.SYS_REPLICATIONS_ WHERE REPLICATION_NAME IN ({})", in_list(&list)),
        config.query_timeout_s,
    )?;
    // ADMIN_MODE first: `start` refuses a server that did not boot with ADMIN_MODE = 1
    // (patch notes 7.1.0.8.6, BUG-50259).
    let properties = session
        .query("SELECT NAME, VALUE1 FROM V$PROPERTY WHERE NAME IN ('ADMIN_MODE', 'REMOTE_SYSDBA_ENABLE')", config.query_timeout_s)?;
    let property = |name: &str| find(&properties, name).and_then(|r| r.int(1)).map(|v| v == 1);
    let mut state = ServerState {
        admin_mode: property("ADMIN_MODE"),
        remote_sysdba: property("REMOTE_SYSDBA_ENABLE"),
        tables: tables(config, session)?,
        ..ServerState::default()
    };
    read_items(config, session, &objects, &mut state)?;
    if state.remote_sysdba == Some(false) {
        state.problems.push(format!(
            "REMOTE_SYSDBA_ENABLE is 0 on server {server}: aku logs in to its own and its peers' servers over the \
             network as SYSDBA while they are in ADMIN_MODE = 1; set REMOTE_SYSDBA_ENABLE = 1 in altibase.properties."
        ));
    }
    for (key, name) in objects {
        let repl = match find(&rows, &name) {
            None => ReplicationState::MISSING,
            Some(r) => {
                let reset = r.int(1) == Some(-1);
                ReplicationState { exists: true, started: r.int(2) == Some(1), reset, sending: !reset, ready: true }
            }
        };
        state.replications.insert(key, repl);
    }
    Ok(state)
}

pub(super) fn status(config: &Config, server: ServerId, session: &mut dyn Session) -> Result<Vec<PairStatus>, DbError> {
    let objects = objects(config, server);
    let list: Vec<String> = objects.iter().map(|(_, n)| format!("'{n}'")).collect();
    if list.is_empty() {
        return Ok(Vec::new());
    }
    let rows = session.query(&status_sql(&list.join(", ")), config.query_timeout_s)?;
    Ok(objects
        .into_iter()
        .map(|(key, replication)| {
            let peer = key.pair.other(server);
            let Some(r) = find(&rows, &replication) else {
                return PairStatus { replication, peer, reset: true, ..PairStatus::default() };
            };
            let sender = r.text(3).map(str::to_owned);
            PairStatus {
                peer,
                exists: true,
                started: r.int(1) == Some(1),
                running: Some(r.int(3) == Some(1)),
                reset: r.int(2) == Some(-1),
                lag_bytes: r.int(4),
                lag_s: None,
                retained_bytes: r.int(4),
                errors: sender.map(|s| format!("sender status {s} ({})", sender_status(&s))),
                paused_for_join_of: None,
                items: None,
                replication,
            }
        })
        .collect())
}

/// The items of an SQL `IN (…)` list; `NULL` (matching nothing) when there is none
/// (a StatefulSet of one server has no pairs).
fn in_list(items: &[String]) -> String {
    if items.is_empty() { "NULL".to_owned() } else { items.join(", ") }
}
