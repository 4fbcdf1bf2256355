//! Who is a complete member of the replication mesh, as the *decide* stage sees
//! it, and the rules that keep joins from losing rows when they overlap a fault
//! (docs/procedures.md, "Joins that overlap a fault"):
//! - a slave whose link with the master is not complete is **joining** (or its
//!   join was interrupted): no other pod starts, flushes or judges a pair with it;
//!   its own join links those pairs from bookmarks;
//! - a join never starts while a peer that may be running did not answer;
//! - a replication a join paused on the copy source is resumed by the next run of
//!   any pod once that join is no longer in progress;
//! - a pair whose two sides are both reset while both pods are complete members
//!   was never linked: the slave joins again rather than start it from "now".

use crate::lifecycle::decide::{Ctx, Refusal};
use crate::lifecycle::plan::{Action, Step};
use crate::lifecycle::state::{PeerState, ReplicationState};
use crate::topology::{self, Pair, ServerId};

impl Ctx<'_> {
    /// True when `server` is a reachable slave whose link with the master is not
    /// complete in some group (its join is running, or was interrupted). A
    /// complete link has finished its copy (`ready`) and holds both restart
    /// points (`live` and `sending`); the last step of a join creates the latter.
    ///
    /// A slave in the documented SLAVE failure (`slave_failed`) is not joining: its
    /// own start refuses, and a join never leaves that state behind.
    pub(super) fn joining(&self, server: ServerId) -> bool {
        if server.is_master() {
            return false;
        }
        let Some(state) = self.obs.server(server) else { return false };
        let master_pair = Pair::new(ServerId::MASTER, server);
        let incomplete = self.groups().any(|g| {
            let s = state.replication(g, master_pair);
            !(s.live() && s.ready && s.sending)
        });
        incomplete && !self.slave_failed(server)
    }

    /// The documented SLAVE failure of reachable slave `server`: its link with the
    /// master is reset (or missing) and stopped in every group, while another of its
    /// links is live. A link that a peer re-linked in this server's absence after it
    /// had received from that peer does not count: that pair is joined again anyway,
    /// and a join resets it after the link with the master (see `join`), so a join
    /// stopped in between is redone rather than refused.
    pub(super) fn slave_failed(&self, server: ServerId) -> bool {
        let Some(state) = self.obs.server(server) else { return false };
        let master_pair = Pair::new(ServerId::MASTER, server);
        let link_reset = self.groups().all(|g| {
            let s = state.replication(g, master_pair);
            !s.live() && !s.started
        });
        link_reset
            && state.replications.iter().any(|(k, s)| {
                k.pair != master_pair && s.live() && !self.relinked_after_receiving_on(server, k.pair.other(server), k.group, k.pair)
            })
    }

    /// True when `peer` is reachable and a complete member (or the master).
    pub(super) fn member(&self, peer: ServerId) -> bool {
        self.obs.reachable(peer) && !self.joining(peer)
    }

    /// Refuses a join while a peer resolves but does not answer: it may be running,
    /// and the join could neither bookmark it nor reset its side, so what it writes
    /// would never reach this pod.
    pub(super) fn refuse_join_with_unanswered_peer(&self) -> Result<(), Refusal> {
        for (&server, state) in &self.obs.peers {
            if let PeerState::Absent(absence) = state {
                if absence.may_be_running() {
                    let detail = absence.detail().to_owned();
                    return Err(Refusal::PeerUnanswered { server, host: topology::host_of(self.config, server), detail });
                }
            }
        }
        Ok(())
    }

    /// Steps that resume, on every reachable server, each replication an
    /// interrupted join paused, unless that join may still be running (its pod is
    /// reachable and still joining).
    pub(super) fn resume_paused(&self) -> Vec<Step> {
        let mut servers = vec![self.me];
        servers.extend(self.obs.reachable_peers());
        let mut steps = Vec::new();
        for server in servers {
            let Some(state) = self.obs.server(server) else { continue };
            for (key, &joiner) in &state.paused {
                let join_in_progress = joiner != self.me && self.obs.reachable(joiner) && self.joining(joiner);
                if !join_in_progress && state.replication(key.group, key.pair).exists {
                    steps.push(Step { server, action: Action::Resume { group: key.group, pair: key.pair } });
                }
            }
        }
        steps
    }

    /// True when `server`'s replication of `pair` is held (paused at a bookmark) by
    /// the join of another pod that is still joining: only that join releases it.
    pub(super) fn held_by_join(&self, server: ServerId, group: usize, pair: Pair) -> bool {
        self.obs
            .server(server)
            .and_then(|s| s.paused.get(&crate::lifecycle::ReplKey { group, pair }))
            .is_some_and(|&j| j != self.me && self.obs.reachable(j) && self.joining(j))
    }

    /// True when `server`'s side of `pair` was linked by its join while this pod was
    /// absent (see `ServerState::linked_in_absence`).
    pub(super) fn linked_in_absence(&self, server: ServerId, group: usize, pair: Pair) -> bool {
        self.obs.server(server).is_some_and(|s| s.linked_in_absence.contains(&crate::lifecycle::ReplKey { group, pair }))
    }

    /// True when `peer`'s join linked `pair` while this pod was absent, and this pod's
    /// side had received from the peer before: the peer's slot for this pod is newer
    /// than the stream this pod followed, so what the peer wrote in between is missing
    /// here. (A side that never received from the peer loses nothing by resuming.)
    pub(super) fn relinked_after_receiving(&self, peer: ServerId, group: usize, pair: Pair) -> bool {
        self.relinked_after_receiving_on(self.me, peer, group, pair)
    }

    /// `relinked_after_receiving`, judged for reachable `server`'s side of `pair`.
    pub(super) fn relinked_after_receiving_on(&self, server: ServerId, peer: ServerId, group: usize, pair: Pair) -> bool {
        self.linked_in_absence(peer, group, pair)
            && self.obs.server(server).is_some_and(|s| s.received.contains(&crate::lifecycle::ReplKey { group, pair }))
    }

    /// True when a pair of this pod with a complete member is reset on both sides:
    /// it was never linked (a join took the peer for absent, or a pair was reset
    /// by hand), so rows written on either side since may be missing on the other.
    pub(super) fn unlinked_pair(&self) -> bool {
        self.my_objects().into_iter().any(|(g, p)| {
            let peer = p.other(self.me);
            self.member(peer)
                && !self.local(g, p).live()
                && self.state_on(peer, g, p).is_some_and(|s| s.exists && !s.live())
                && !(self.me.is_master() || peer.is_master())
        })
    }

    /// Before a member re-joins (its data is replaced by a copy), every reachable
    /// member that kept its side must have received what this pod's restart points
    /// still hold for it: start both sides of each such pair, then flush this side
    /// (`FLUSH ALL`).
    pub(super) fn drain_steps(&self) -> (Vec<Step>, Vec<Step>) {
        let (mut start, mut flush) = (Vec::new(), Vec::new());
        for (group, pair) in self.my_objects() {
            let peer = pair.other(self.me);
            let local = self.local(group, pair);
            // Only towards a side that kept its restart point: a peer that forgot this pod
            // re-joined from a copy, and replaying this pod's log there would apply rows twice.
            if local.live() && local.sending && self.member(peer) && self.state_on(peer, group, pair).is_some_and(ReplicationState::live) {
                start.push(Self::step(self.me, Action::Start { group, pair, peer_present: true }));
                start.push(Self::step(peer, Action::Start { group, pair, peer_present: true }));
                flush.push(Self::step(self.me, Action::Flush { group, pair, wait: crate::lifecycle::FlushWait::All }));
            }
        }
        (start, flush)
    }
}

#[cfg(test)]
#[path = "membership_tests.rs"]
mod tests;
