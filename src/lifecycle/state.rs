//! The observed state of the cluster, as the *observe* stage reads it and the
//! *decide* stage consumes it. Backend-neutral: each backend maps its catalog
//! (Altibase `SYS_REPLICATIONS_`, PostgreSQL subscriptions/slots/origins) onto
//! these fields.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::topology::ServerId;

/// The state of one replication object (by name) on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ReplicationState {
    /// The object exists (Altibase: a `SYS_REPLICATIONS_` row; PostgreSQL: the subscription).
    pub exists: bool,
    /// Started as persisted intent (Altibase `IS_STARTED = 1`; PostgreSQL: subscription enabled).
    pub started: bool,
    /// Reset: no restart point (Altibase `XSN = -1`; PostgreSQL: no slot for the
    /// pair on this server and no origin progress for its subscription).
    pub reset: bool,
    /// This server's side keeps its own restart point towards the peer (Altibase
    /// `XSN <> -1`; PostgreSQL: the local slot the peer consumes exists). On
    /// PostgreSQL it is created last by a join, so a join is complete only with it.
    pub sending: bool,
    /// Every table of the object has finished its initial copy (PostgreSQL:
    /// every `pg_subscription_rel` row in state `r` and one row per table;
    /// Altibase: always true once the object exists).
    pub ready: bool,
}

impl ReplicationState {
    /// An object that does not exist (reads as reset).
    pub const MISSING: ReplicationState = ReplicationState { exists: false, started: false, reset: true, sending: false, ready: false };

    /// True when the object holds a restart point: it exists and is not reset.
    pub fn live(self) -> bool {
        self.exists && !self.reset
    }
}

/// What one reachable server holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ServerState {
    /// Every aku replication name of this server's pairs (all groups), present or not.
    pub replications: BTreeMap<String, ReplicationState>,
    /// Log retained for the peer of a replication, in bytes, where the backend can
    /// tell (PostgreSQL: the slot's distance from the current WAL position).
    pub retained_bytes: BTreeMap<String, i64>,
    /// Backend preconditions that are not met (missing table, no primary key,
    /// `wal_level`), each a complete sentence. Any of them refuses a procedure.
    pub problems: Vec<String>,
}

impl ServerState {
    /// The state of `name` (missing when the server does not have it).
    pub fn replication(&self, name: &str) -> ReplicationState {
        self.replications.get(name).copied().unwrap_or(ReplicationState::MISSING)
    }
}

/// Why a peer is absent. Absence is a normal outcome (not created yet, or gone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum Absence {
    /// The name does not resolve (the pod does not exist).
    NotResolved(String),
    /// The name resolves but the server refused or failed the connection.
    ConnectFailed(String),
    /// The name resolves but nothing answered within the deadline.
    Unanswered(String),
}

impl Absence {
    pub fn detail(&self) -> &str {
        match self {
            Absence::NotResolved(d) | Absence::ConnectFailed(d) | Absence::Unanswered(d) => d,
        }
    }
}

/// A peer as observed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PeerState {
    Reachable(ServerState),
    Absent(Absence),
}

/// Everything the *decide* stage needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Observation {
    /// This pod's server ID.
    pub me: ServerId,
    /// `/tmp/aku_start_completed` exists.
    pub marker_present: bool,
    /// This pod's own server.
    pub local: ServerState,
    /// Every other server of the `StatefulSet`.
    pub peers: BTreeMap<ServerId, PeerState>,
}

impl Observation {
    /// The state of a reachable server (this pod or a peer), `None` when absent.
    pub fn server(&self, id: ServerId) -> Option<&ServerState> {
        if id == self.me {
            return Some(&self.local);
        }
        match self.peers.get(&id) {
            Some(PeerState::Reachable(state)) => Some(state),
            _ => None,
        }
    }

    /// True when `id` is this pod or a reachable peer.
    pub fn reachable(&self, id: ServerId) -> bool {
        self.server(id).is_some()
    }

    /// Reachable peers, in order.
    pub fn reachable_peers(&self) -> Vec<ServerId> {
        self.peers.iter().filter(|(_, p)| matches!(p, PeerState::Reachable(_))).map(|(id, _)| *id).collect()
    }
}
