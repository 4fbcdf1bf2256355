//! A plan: the procedure the *decide* stage chose and its ordered phases of
//! steps, in domain words. Backends turn each step into SQL
//! ([`crate::lifecycle::port::Backend::expand`]); the *execute* stage runs them.
//!
//! Ordering rules: phases run one after another; within a phase, the steps of
//! each server form a track, tracks run concurrently and a track's steps run in
//! order. A step may also touch other servers (its expansion names them): the
//! executor then holds the sessions of every server the step touches, taken in
//! ascending server order, for the whole step, so that no other step's
//! statements interleave with it on any of them.

use crate::config::{Config, ReplicationItem};
use crate::topology::{Pair, ServerId};

/// The procedure chosen for this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Procedure {
    /// `start` on the master pod (spec 5.1).
    MasterStart,
    /// `start` on a slave pod, first time or after a completed `end` (spec 5.2).
    SlaveStartFresh,
    /// `start` on a slave pod whose replications were not reset (spec 5.3).
    SlaveStartNonReset,
    /// `end` (spec 5.4).
    End,
    /// `clean` (spec 5.5).
    Clean,
    /// `reset --peer N`: stop and reset every reachable pod's replication with a gone pod N.
    ResetPeer,
    /// `recover --from N` on the master: the documented recovery of a failed master (spec 5.6).
    RecoverMaster,
}

impl Procedure {
    /// The function name the original gives the procedure's log lines
    /// (`[INFO][akuRunStart:903]...`, Utilities manual, aku, examples 2 to 4), so that
    /// log filters written for the original keep matching.
    pub fn func(self) -> &'static str {
        match self {
            Procedure::MasterStart | Procedure::SlaveStartFresh | Procedure::SlaveStartNonReset | Procedure::RecoverMaster => "akuRunStart",
            Procedure::End => "akuRunEnd",
            Procedure::Clean => "akuRunClean",
            Procedure::ResetPeer => "akuRunReset",
        }
    }

    /// A short human name, used in dry-run output.
    pub fn title(self) -> &'static str {
        match self {
            Procedure::MasterStart => "start on the MASTER Pod",
            Procedure::SlaveStartFresh => "start on a SLAVE Pod (fresh: truncate and sync from the MASTER)",
            Procedure::SlaveStartNonReset => "start on a SLAVE Pod (replications not reset: no truncation)",
            Procedure::End => "end",
            Procedure::Clean => "clean",
            Procedure::ResetPeer => "reset the replications of a gone pod on every reachable pod",
            Procedure::RecoverMaster => "recover the MASTER Pod from a SLAVE Pod (truncate, sync from the SLAVE, then start)",
        }
    }
}

/// How a FLUSH waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushWait {
    /// `FLUSH ALL`: until everything logged so far is sent (bounded by `AKU_QUERY_TIMEOUT`).
    All,
    /// `FLUSH WAIT n`: at most `n` seconds; running out is a warning, not a failure.
    Wait(u32),
}

/// One step: what to do, and the server whose replication it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub server: ServerId,
    pub action: Action,
}

/// The domain actions a backend knows how to perform. `group` indexes
/// [`crate::config::Config::groups`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create the group-level objects of `server` before the group's first pair
    /// (PostgreSQL: the publication). Planned only for backends with group objects.
    CreateGroup { group: usize },
    /// Create the replication object of `pair` on `server` (skip if it exists).
    Create { group: usize, pair: Pair },
    /// Start the replication of `pair` on `server`. `peer_present` tells whether
    /// the other server answered; starting towards an absent peer fails
    /// harmlessly (it is started later by that peer's own start).
    Start { group: usize, pair: Pair, peer_present: bool },
    /// On the copy source `server` (the master, or the chosen slave of a master
    /// recovery): copy the group's tables to the other server of `pair` and start
    /// the replication (Altibase `SYNC PARALLEL n`).
    Sync { group: usize, pair: Pair },
    /// Before a join's copy, on running peer `server`: record the position from
    /// which `joiner` must receive `server`'s changes and hold the copy source's
    /// replication from `server` at a known point (closes the join window; see
    /// `docs/architecture.md`). Only planned for backends that support it.
    Bookmark { group: usize, joiner: ServerId, source: ServerId },
    /// After a join's copy, for running peer `peer`: start `joiner`'s replication
    /// from `peer` at the bookmark and release the source's replication from `peer`.
    Link { group: usize, peer: ServerId, joiner: ServerId, source: ServerId },
    /// Resume the replication of `pair` on `server` that a join paused with a
    /// bookmark and did not release (the join was interrupted).
    Resume { group: usize, pair: Pair },
    /// Before a join's copy, on the copy source `server`: hold its replication from
    /// the absent (crashed) peer `absent` and record what it applied of it, so that
    /// the joiner can receive that peer's later changes when it returns. Planned only
    /// for backends with absent bookmarks.
    BookmarkAbsent { group: usize, joiner: ServerId, absent: ServerId, source: ServerId },
    /// After the copy, on the joiner: start its replication with the absent peer
    /// from the recorded position (its own side too), to be enabled when the peer
    /// returns, and release the source's replication from that peer.
    LinkAbsent { group: usize, absent: ServerId, joiner: ServerId, source: ServerId },
    /// Flush the replication of `pair` on `server` (send what it has not sent).
    Flush { group: usize, pair: Pair, wait: FlushWait },
    /// Stop the replication of `pair` on `server`.
    Stop { group: usize, pair: Pair },
    /// Reset the replication of `pair` on `server` (forget its restart point).
    Reset { group: usize, pair: Pair },
    /// Drop the replication object of `pair` on `server`.
    Drop { group: usize, pair: Pair },
    /// Drop the group-level objects of `server` once none of its pairs remain
    /// (PostgreSQL: the publication). Planned only for backends with group objects.
    DropGroup { group: usize },
    /// Empty the group's target tables on `server`, without replicating the deletion.
    Truncate { group: usize },
    /// Set the tables of the group-level object of `server` to the items in force
    /// (PostgreSQL `ALTER PUBLICATION … SET TABLE`). Only for backends with group objects.
    SetItems { group: usize },
    /// Make the replication of `pair` on `server` pick up its peer's current table
    /// set (PostgreSQL `REFRESH PUBLICATION`); with `copy`, the added tables are
    /// copied (from the master) and the step waits until they are ready.
    Refresh { group: usize, pair: Pair, copy: bool },
    /// Add and drop items of the replication of `pair` on `server`, which is stopped
    /// on both sides (Altibase `ALTER REPLICATION … ADD TABLE` / `DROP TABLE`).
    AlterItems { group: usize, pair: Pair, add: Vec<ReplicationItem>, drop: Vec<ReplicationItem> },
    /// Empty these tables of the group on `server` before they are copied in.
    TruncateItems { group: usize, items: Vec<ReplicationItem> },
    /// On the master: copy these added tables over the replication of `pair`,
    /// without starting it (Altibase `SYNC ONLY TABLE`).
    SyncItems { group: usize, pair: Pair, items: Vec<ReplicationItem> },
    /// Let applications in (Altibase `ALTER SYSTEM SET ADMIN_MODE = 0`).
    OpenForApplications,
    /// Wait `seconds` (`AKU_DELAY_START_COMPLETE_TIME`).
    Delay { seconds: u32 },
}

impl Action {
    /// The group and pair the action concerns, if any (for log fields).
    pub fn group_pair(&self) -> Option<(usize, Option<Pair>)> {
        match self {
            Action::Create { group, pair }
            | Action::Start { group, pair, .. }
            | Action::Sync { group, pair }
            | Action::Flush { group, pair, .. }
            | Action::Stop { group, pair }
            | Action::Reset { group, pair }
            | Action::Resume { group, pair }
            | Action::Refresh { group, pair, .. }
            | Action::AlterItems { group, pair, .. }
            | Action::SyncItems { group, pair, .. }
            | Action::Drop { group, pair } => Some((*group, Some(*pair))),
            Action::Bookmark { group, .. }
            | Action::Link { group, .. }
            | Action::BookmarkAbsent { group, .. }
            | Action::LinkAbsent { group, .. }
            | Action::CreateGroup { group }
            | Action::DropGroup { group }
            | Action::SetItems { group }
            | Action::TruncateItems { group, .. }
            | Action::Truncate { group } => Some((*group, None)),
            Action::OpenForApplications | Action::Delay { .. } => None,
        }
    }
}

/// A phase: steps that may run concurrently across servers, framed by the log
/// lines of the original (`Flush replications.` / `Replication flush has ended.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub begin: &'static str,
    pub end: &'static str,
    pub steps: Vec<Step>,
}

impl Phase {
    /// True when the original prints these framing lines (they then carry the
    /// procedure's function name; aku's additional lines keep `akuRunPhase`).
    pub fn original(&self) -> bool {
        messages::ORIGINAL.contains(&(self.begin, self.end))
    }
}

/// What happens to `/tmp/aku_start_completed` after the last phase succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerChange {
    Write,
    Remove,
    /// Left as it is (procedures that do not change this pod's readiness).
    Keep,
}

/// The decided procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub procedure: Procedure,
    /// The first log line (`Start as MASTER Pod.`, ...).
    pub announcement: &'static str,
    pub phases: Vec<Phase>,
    pub marker: MarkerChange,
    /// The items in force for each group (the MASTER Pod's, or this pod's
    /// configuration): steps are translated with these.
    pub items: Vec<Vec<ReplicationItem>>,
}

impl Plan {
    /// `config` with each group's items replaced by the items in force.
    pub fn effective_config(&self, config: &Config) -> Config {
        let mut effective = config.clone();
        for (group, items) in effective.groups.iter_mut().zip(&self.items) {
            group.items.clone_from(items);
        }
        effective
    }
}

/// The framing lines of every phase kind.
pub mod messages {
    pub const CREATE: (&str, &str) = ("Create replications.", "Replication creation has ended.");
    pub const TRUNCATE: (&str, &str) = ("Truncate tables for replications.", "Table truncation has ended.");
    pub const BOOKMARK: (&str, &str) = ("Bookmark running peers for the join.", "Peer bookmarking has ended.");
    pub const SYNC: (&str, &str) = ("Sync tables from MASTER Server.", "Replication sync has ended.");
    pub const START: (&str, &str) = ("Start replications.", "Replication start has ended.");
    pub const SYNC_FROM_SLAVE: (&str, &str) = ("Sync tables from the SLAVE Server.", "Replication sync has ended.");
    pub const START_SOURCE: (&str, &str) =
        ("Start the copy source's replication from this Pod.", "The copy source's replication has started.");
    pub const LINK: (&str, &str) = ("Link running peers from their bookmarks.", "Peer linking has ended.");
    pub const FLUSH: (&str, &str) = ("Flush replications.", "Replication flush has ended.");
    pub const ITEMS: (&str, &str) = ("Change the replicated tables.", "The replicated tables have been changed.");
    pub const ITEMS_STOP: (&str, &str) = ("Stop replications to change their tables.", "Replication stop has ended.");
    pub const ITEMS_TRUNCATE: (&str, &str) = ("Truncate the tables added to the replications.", "Table truncation has ended.");
    pub const ITEMS_SYNC: (&str, &str) = ("Sync the added tables from MASTER Server.", "Replication sync has ended.");
    pub const ITEMS_START: (&str, &str) = ("Start the changed replications.", "Replication start has ended.");
    pub const REFRESH: (&str, &str) = ("Refresh replications.", "Replication refresh has ended.");
    pub const RESUME: (&str, &str) = ("Resume replications paused by an interrupted join.", "Replication resume has ended.");
    pub const DRAIN_START: (&str, &str) =
        ("Start replications to send what this Pod still holds for its peers.", "Replication start has ended.");
    pub const DRAIN: (&str, &str) = ("Flush replications before this Pod's data is replaced.", "Replication flush has ended.");
    pub const STOP: (&str, &str) = ("Stop replications.", "Replication stop has ended.");
    pub const RESET: (&str, &str) = ("Reset replications.", "Replication reset has ended.");
    pub const DROP: (&str, &str) = ("Drop replications.", "Replication drop has ended.");
    pub const DELAY: (&str, &str) = ("Delay start completion.", "Start completion delay has ended.");
    pub const OPEN: (&str, &str) = ("Open the server to applications.", "Server is open to applications.");

    /// The framing lines the original prints (spec section 5, the manual's examples).
    pub const ORIGINAL: [(&str, &str); 4] = [TRUNCATE, SYNC, FLUSH, RESET];

    pub const MASTER_START: &str = "Start as MASTER Pod.";
    pub const SLAVE_START: &str = "Start as SLAVE Pod.";
    pub const CLEAN: &str = "Clean replications of this Pod.";
    pub const RESET_PEER: &str = "Reset the replications of a gone Pod.";
    pub const RECOVER: &str = "Recover the MASTER Pod from a SLAVE Pod.";
}
