//! The Altibase join's bookmark of a running peer (docs/architecture.md, "The
//! Altibase join: pin, flush, sync").

use crate::config::Config;
use crate::lifecycle::port::Op;
use crate::lifecycle::sql::{Sql, ValueKind, Var};
use crate::topology::{self, Pair, ServerId};

use super::sql::alter;

/// The bookmark of running peer `k` for joiner `j`, before the copy from `source`
/// (docs/architecture.md, "The Altibase join"; `spec/altibase-join-window.md`):
/// pin k's start point for j with START then STOP of `P_kj` (START on a reset object
/// sets XSN at the handshake; STOP keeps it: Replication Manual, ALTER REPLICATION),
/// wait until every transaction that was open on k at the pin has ended, then FLUSH
/// `P_0k` (the SN current when FLUSH is issued) so that the source has applied all
/// of k's changes before the pin when its SYNC takes the snapshot. k's later
/// changes are sent by `P_kj` once it is started after the copy.
pub(super) fn bookmark(config: &Config, k: ServerId, group: usize, joiner: ServerId, source: ServerId) -> Vec<Op> {
    let prefix = &config.groups[group].prefix;
    let to_joiner = topology::replication_name(prefix, Pair::new(k, joiner)).to_ascii_uppercase();
    let to_source = topology::replication_name(prefix, Pair::new(source, k)).to_ascii_uppercase();
    let pinned_at = Var::new(ValueKind::Int, k, &to_joiner, "open_transactions_since");
    let open_before_pin = "FROM V$TRANSACTION WHERE UPDATE_STATUS = 1 AND SESSION_ID <> SESSION_ID()";
    vec![
        alter(&to_joiner, k, "START"),
        Op::capture(k, format!("SELECT NVL(MAX(FIRST_UPDATE_TIME), 0) {open_before_pin}"), pinned_at.clone()),
        alter(&to_joiner, k, "STOP"),
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
        alter(&to_source, k, &format!("FLUSH WAIT {}", config.query_timeout_s.max(1))).waiting(),
    ]
}
