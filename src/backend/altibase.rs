//! The Altibase backend: replication objects, `ALTER REPLICATION` and the
//! `SYSTEM_.SYS_REPLICATIONS_` meta table, per `spec/altibase-sql.md`
//! (Replication Manual, General Reference, Error Message Reference).
//!
//! Names: replication names are generated from a validated prefix and written
//! bare (Altibase folds them to upper case, as the original does); user, table
//! and partition names are folded to upper case and double-quoted, which means
//! the same as the original's bare names but can never be read as SQL.

use crate::config::{Config, ReplicationGroup, ReplicationItem};
use crate::connection_string::braced;
use crate::lifecycle::port::{Backend, Capabilities, ErrorClass, Op, PairStatus, Severity, Target};
use crate::lifecycle::schema::TableDef;
use crate::lifecycle::sql::{Sql, ValueKind, Var};
use crate::lifecycle::{Action, FlushWait, ReplKey, ReplicationState, ServerState, Step};
use crate::odbc::{DbError, Row, Session};
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

/// An Altibase identifier folded to upper case and quoted.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.to_ascii_uppercase().replace('"', "\"\""))
}

fn table_ref(item: &ReplicationItem) -> String {
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

fn truncate_sql(item: &ReplicationItem) -> String {
    let table = format!("{}.{}", quote(&item.user), quote(&item.table));
    match &item.partition {
        Some(p) => format!("ALTER TABLE {table} TRUNCATE PARTITION {}", quote(p)),
        None => format!("TRUNCATE TABLE {table}"),
    }
}

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
fn sender_status(code: &str) -> &'static str {
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
fn type_name(code: i64, precision: Option<i64>, scale: Option<i64>) -> String {
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
fn tables(config: &Config, session: &mut dyn Session) -> Result<std::collections::BTreeMap<String, TableDef>, DbError> {
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

/// The item key of an Altibase item: `USER.TABLE` or `USER.TABLE PARTITION P`, upper case.
pub fn item_key(item: &ReplicationItem) -> String {
    let mut key = format!("{}.{}", item.user.to_ascii_uppercase(), item.table.to_ascii_uppercase());
    if let Some(p) = &item.partition {
        key.push_str(" PARTITION ");
        key.push_str(&p.to_ascii_uppercase());
    }
    key
}

/// The items of each replication object (`SYSTEM_.SYS_REPL_ITEMS_`, Replication
/// Manual; one row per table, or per partition), and for each group the items of
/// its first existing object.
fn read_items(config: &Config, session: &mut dyn Session, objects: &[(ReplKey, String)], state: &mut ServerState) -> Result<(), DbError> {
    let names: Vec<String> = objects.iter().map(|(_, n)| format!("'{n}'")).collect();
    let rows = session.query(
        &format!(
            "SELECT REPLICATION_NAME, LOCAL_USER_NAME, LOCAL_TABLE_NAME, LOCAL_PARTITION_NAME, REPLICATION_UNIT \
             FROM SYSTEM_.SYS_REPL_ITEMS_ WHERE REPLICATION_NAME IN ({}) \
             ORDER BY REPLICATION_NAME, LOCAL_USER_NAME, LOCAL_TABLE_NAME, LOCAL_PARTITION_NAME",
            names.join(", ")
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
fn objects(config: &Config, server: ServerId) -> Vec<(ReplKey, String)> {
    let mut out = Vec::new();
    for (group, g) in config.groups.iter().enumerate() {
        for pair in topology::pairs_of(server, config.server_count) {
            out.push((ReplKey { group, pair }, topology::replication_name(&g.prefix, pair).to_ascii_uppercase()));
        }
    }
    out
}

fn find<'a>(rows: &'a [Row], name: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.text(0).is_some_and(|n| n.trim().eq_ignore_ascii_case(name)))
}

/// Items added to and dropped from replication `n` on `s`, one item per statement,
/// with the pair stopped on both sides (Replication Manual, ALTER REPLICATION ... ADD
/// TABLE / DROP TABLE; qcply.y 6990 / 7022).
fn alter_items(n: &str, s: ServerId, add: &[ReplicationItem], drop: &[ReplicationItem]) -> Vec<Op> {
    let item = |i: &ReplicationItem| format!("FROM {t} TO {t}", t = table_ref(i));
    let mut ops: Vec<Op> = add
        .iter()
        .map(|i| {
            Altibase::alter(n, s, &format!("ADD TABLE {}", item(i))).tolerating(
                ErrorClass::DuplicateName,
                Severity::Info,
                "Item already in the replication",
            )
        })
        .collect();
    ops.extend(drop.iter().map(|i| {
        Altibase::alter(n, s, &format!("DROP TABLE {}", item(i))).tolerating(
            ErrorClass::NoSuchItem,
            Severity::Info,
            "Item not in the replication",
        )
    }));
    ops
}

/// On the master: copy the added tables over replication `n` without starting its
/// sender (`SYNC ONLY … TABLE`; the XSN is kept: SQL Reference, ALTER REPLICATION,
/// TABLE clause).
fn sync_items(n: &str, s: ServerId, parallel: u32, items: &[ReplicationItem]) -> Vec<Op> {
    let tables: Vec<String> = items.iter().map(table_ref).collect();
    vec![Altibase::alter(n, s, &format!("SYNC ONLY PARALLEL {parallel} TABLE {}", tables.join(", "))).waiting()]
}

/// TRUNCATE of replicated tables needs REPLICATION_DDL_ENABLE = 1 (Replication
/// Manual): raise it, and restore the value read before, even if a TRUNCATE fails.
fn truncate_ops(s: ServerId, prefix: &str, items: &[ReplicationItem]) -> Vec<Op> {
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

/// The bookmark of running peer `k` for joiner `j`, before the copy from `source`
/// (docs/architecture.md, "The Altibase join"; `spec/altibase-join-window.md`):
/// pin k's start point for j with START then STOP of `P_kj` (START on a reset object
/// sets XSN at the handshake; STOP keeps it: Replication Manual, ALTER REPLICATION),
/// wait until every transaction that was open on k at the pin has ended, then FLUSH
/// `P_0k` (the SN current when FLUSH is issued) so that the source has applied all
/// of k's changes before the pin when its SYNC takes the snapshot. k's later
/// changes are sent by `P_kj` once it is started after the copy.
fn bookmark(config: &Config, k: ServerId, group: usize, joiner: ServerId, source: ServerId) -> Vec<Op> {
    let prefix = &config.groups[group].prefix;
    let to_joiner = topology::replication_name(prefix, Pair::new(k, joiner)).to_ascii_uppercase();
    let to_source = topology::replication_name(prefix, Pair::new(source, k)).to_ascii_uppercase();
    let pinned_at = Var::new(ValueKind::Int, k, &to_joiner, "open_transactions_since");
    let open_before_pin = "FROM V$TRANSACTION WHERE UPDATE_STATUS = 1 AND SESSION_ID <> SESSION_ID()";
    vec![
        Altibase::alter(&to_joiner, k, "START"),
        Op::capture(k, format!("SELECT NVL(MAX(FIRST_UPDATE_TIME), 0) {open_before_pin}"), pinned_at.clone()),
        Altibase::alter(&to_joiner, k, "STOP"),
        Op::wait_until(
            k,
            format!("SELECT CASE WHEN XSN <> -1 THEN 1 ELSE 0 END FROM SYSTEM_.SYS_REPLICATIONS_ WHERE REPLICATION_NAME = '{to_joiner}'"),
            format!("the start point of {to_joiner} is pinned (XSN kept by STOP)"),
            None,
            10,
        ),
        Op::wait_until(
            k,
            Sql::text(format!("SELECT CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END {open_before_pin} AND FIRST_UPDATE_TIME <= "))
                .var(&pinned_at),
            "every transaction open on this peer at the pin has ended",
            None,
            config.query_timeout_s,
        ),
        // Not tolerated: a timeout (0x61075) or a stopped P_0k (0x61027) would leave the
        // source without some of k's rows, so the join stops here.
        Altibase::alter(&to_source, k, &format!("FLUSH WAIT {}", config.query_timeout_s.max(1))).waiting(),
    ]
}

impl Altibase {
    fn alter(name: &str, server: ServerId, what: &str) -> Op {
        Op::exec(server, format!("ALTER REPLICATION {name} {what}"))
    }
}

impl Backend for Altibase {
    fn capabilities(&self) -> Capabilities {
        Capabilities { bookmarks: true, sync_starts_source: true, group_objects: false, admin_mode: true, item_key }
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
        let objects = objects(config, server);
        let list: Vec<String> = objects.iter().map(|(_, n)| format!("'{n}'")).collect();
        let rows = session.query(
            &format!(
                "SELECT REPLICATION_NAME, XSN, IS_STARTED FROM SYSTEM_.SYS_REPLICATIONS_ WHERE REPLICATION_NAME IN ({})",
                list.join(", ")
            ),
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
                let op = Self::alter(&name_of(*group, *pair), s, "START").tolerating(
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
                vec![Self::alter(&name_of(*group, *pair), s, &format!("SYNC PARALLEL {parallel}")).waiting()]
            }
            Action::Flush { group, pair, wait } => {
                let what = match wait {
                    FlushWait::All => "FLUSH ALL".to_owned(),
                    FlushWait::Wait(t) => format!("FLUSH WAIT {t}"),
                };
                vec![
                    Self::alter(&name_of(*group, *pair), s, &what)
                        .waiting()
                        .tolerating(ErrorClass::NotStarted, Severity::Warn, "Replication is not running; nothing to flush")
                        .tolerating(ErrorClass::FlushTimeout, Severity::Warn, "Flush did not complete within its wait time"),
                ]
            }
            Action::Stop { group, pair } => vec![Self::alter(&name_of(*group, *pair), s, "STOP").tolerating(
                ErrorClass::NotStarted,
                Severity::Info,
                "Replication already stopped",
            )],
            Action::Reset { group, pair } => vec![Self::alter(&name_of(*group, *pair), s, "RESET").tolerating(
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
            // Never planned here (no group objects, no bookmarks: see `capabilities`).
            Action::Bookmark { group, joiner, source } => bookmark(config, s, *group, *joiner, *source),
            // The joiner's own side towards the peer; the peer's pinned side resumes with its
            // START after the copy (its XSN was kept by the STOP).
            Action::Link { group, peer, joiner, .. } => {
                vec![Self::alter(&name_of(*group, Pair::new(*peer, *joiner)), *joiner, "START").tolerating(
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
            | Action::Refresh { .. } => Vec::new(),
        }
    }

    fn status(&self, config: &Config, server: ServerId, session: &mut dyn Session) -> Result<Vec<PairStatus>, DbError> {
        let objects = objects(config, server);
        let list: Vec<String> = objects.iter().map(|(_, n)| format!("'{n}'")).collect();
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
