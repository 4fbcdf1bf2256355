//! The observed state of the cluster, as the *observe* stage reads it and the
//! *decide* stage consumes it. Backend-neutral: each backend maps its catalog
//! (Altibase `SYS_REPLICATIONS_`, PostgreSQL subscriptions/slots/origins) onto
//! these fields.

use std::collections::{BTreeMap, BTreeSet};

use crate::lifecycle::port::Absence;
use crate::topology::{Pair, ServerId};

/// A replication object of a server: its group (index into
/// [`crate::config::Config::groups`]) and its pair. The name is
/// `topology::replication_name(prefix, pair)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplKey {
    pub group: usize,
    pub pair: Pair,
}

/// The state of one replication object on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerState {
    /// Every aku replication of this server's pairs (all groups), present or not.
    pub replications: BTreeMap<ReplKey, ReplicationState>,
    /// Log retained for the peer of a replication, in bytes, where the backend can
    /// tell (PostgreSQL: the slot's distance from the current WAL position).
    pub retained_bytes: BTreeMap<ReplKey, i64>,
    /// Replications of this server that a join paused (with a bookmark) and did not
    /// release, with the joining server (PostgreSQL: a note on the subscription).
    pub paused: BTreeMap<ReplKey, ServerId>,
    /// Replications of this server that a join linked while their peer was absent
    /// (PostgreSQL: a note on the subscription): this server's slot for the peer
    /// is newer than any restart point the peer kept for it.
    pub linked_in_absence: BTreeSet<ReplKey>,
    /// Replications of this server that have applied changes from their peer since
    /// they were last reset, where the backend tells (PostgreSQL: the subscription's
    /// origin progress is not `0/0`). Only read together with `linked_in_absence`.
    pub received: BTreeSet<ReplKey>,
    /// The server's administrative mode, where the backend has one (Altibase
    /// `ADMIN_MODE = 1`: only SYSDBA may connect); `None` when it has none.
    pub admin_mode: Option<bool>,
    /// Whether SYSDBA may log in over the network (Altibase `REMOTE_SYSDBA_ENABLE`).
    pub remote_sysdba: Option<bool>,
    /// The items each group's group-level object holds (PostgreSQL: the tables of
    /// publication `p`); a group is absent when the object does not exist. Backends
    /// without group objects report the items of the group's first existing object.
    pub group_items: BTreeMap<usize, Vec<crate::config::ReplicationItem>>,
    /// The items each replication object holds (PostgreSQL: the tables registered
    /// in the subscription; Altibase: `SYS_REPL_ITEMS_`).
    pub repl_items: BTreeMap<ReplKey, Vec<crate::config::ReplicationItem>>,
    /// The definition of each replicated table present on this server, by the
    /// backend's name for it (`public.t1`, `SYS.T1`).
    pub tables: BTreeMap<String, crate::lifecycle::schema::TableDef>,
    /// Backend preconditions that are not met (missing table, no primary key,
    /// `wal_level`), each a complete sentence. Any of them refuses a procedure.
    pub problems: Vec<String>,
}

impl ServerState {
    /// The state of the replication of `pair` in `group` (missing when the server does not have it).
    pub fn replication(&self, group: usize, pair: Pair) -> ReplicationState {
        self.replications.get(&ReplKey { group, pair }).copied().unwrap_or(ReplicationState::MISSING)
    }
}

/// A peer as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerState {
    Reachable(ServerState),
    Absent(Absence),
}

/// Everything the *decide* stage needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// This pod's server ID.
    pub me: ServerId,
    /// `/tmp/aku_start_completed` exists.
    pub marker_present: bool,
    /// This pod's own server.
    pub local: ServerState,
    /// Every other server of the `StatefulSet`.
    pub peers: BTreeMap<ServerId, PeerState>,
    /// The start already waited (bounded) for the absent peers that may return with
    /// their data: a join now proceeds without them (see `membership.rs`).
    pub absent_waited: bool,
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
