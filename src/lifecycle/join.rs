//! Decisions that bring a server's data in from another server (a slave's fresh
//! start from the master, spec 5.2; the master's recovery from a slave, spec 5.6)
//! and the reset of a gone pod's replications on the survivors (spec 5.7).
//!
//! A join: create what is missing, truncate, have every reachable peer's side of
//! its pair with the joiner start from scratch, then copy from exactly one source.
//! On backends with bookmarks (both) every other running member is
//! bookmarked before the copy and linked from its bookmark after it, so writes on
//! those peers during the copy are neither lost nor duplicated.

use crate::lifecycle::decide::{Ctx, PhaseList, Refusal};
use crate::lifecycle::plan::{Action, MarkerChange, Plan, Procedure, Step, messages};
use crate::topology::{self, Pair, ServerId};

impl Ctx<'_> {
    /// This server joins from `source`. With `drain`, this pod was a complete member:
    /// before anything is reset, every reachable member receives what this pod's
    /// restart points still hold for it.
    pub(super) fn join(&self, source: ServerId, procedure: Procedure, announcement: &'static str, drain: bool) -> Result<Plan, Refusal> {
        self.refuse_join_with_unanswered_peer()?;
        self.refuse_join_before_absent_peers_returned(source)?;
        let joiner = self.me;
        let source_pair = Pair::new(source, joiner);
        let bookmarks = self.caps.bookmarks;
        // Peers that are joining themselves are not bookmarked: their own join links the pair.
        let running: Vec<ServerId> = self.obs.reachable_peers().into_iter().filter(|&k| k != source && self.member(k)).collect();
        let mut phases = PhaseList::default();
        // The pairs the drain starts (on both sides): they are stopped below like
        // those observed started, else a reset would wait for their workers forever.
        let mut drained = Vec::new();
        if drain {
            let (start, flush) = self.drain_steps();
            drained.extend(start.iter().filter_map(|s| match s.action {
                Action::Start { group, pair, .. } => Some((group, pair)),
                _ => None,
            }));
            phases.push(messages::DRAIN_START, start);
            phases.push(messages::DRAIN, flush);
        }

        // Repair what an interrupted earlier attempt left running on this pod, and stop
        // every reachable peer's side of its pair with this pod, before any reset: a
        // peer's subscription that still runs reconnects at once to the slot this pod's
        // reset drops (terminating its walsender is not enough), and the drop would
        // wait for the slot's release until its limit.
        let mut stop: Vec<Step> = self
            .my_objects()
            .into_iter()
            .filter(|&(g, p)| self.local(g, p).started || drained.contains(&(g, p)))
            .map(|(group, pair)| Self::step(joiner, Action::Stop { group, pair }))
            .collect();
        // Every reachable peer's side of its pair with this pod starts from scratch:
        // the copy replaces whatever this pod had, so nothing older may be replayed.
        let mut reset_peers = Vec::new();
        for group in self.groups() {
            for peer in self.obs.reachable_peers() {
                let pair = Pair::new(peer, joiner);
                if let Some(state) = self.state_on(peer, group, pair) {
                    if state.started || drained.contains(&(group, pair)) {
                        stop.push(Self::step(peer, Action::Stop { group, pair }));
                    }
                    if state.live() {
                        reset_peers.push(Self::step(peer, Action::Reset { group, pair }));
                    }
                }
            }
        }
        phases.push(messages::STOP, stop);
        // And forget this pod's own restart points: its data is replaced by the copy,
        // so nothing it logged before may be sent to its peers. Ordered so that a join
        // that fails or is killed part-way through leaves a state its next start joins
        // again from: the link with the source after the other links (never reset and
        // stopped beside another live link: a SLAVE failure), and after it the links a
        // peer re-linked in this pod's absence (they keep this pod re-joining).
        let mut live: Vec<(usize, Pair)> = self.my_objects().into_iter().filter(|&(g, p)| self.local(g, p).live()).collect();
        live.sort_by_key(|&(g, p)| if self.relinked_after_receiving(p.other(joiner), g, p) { 2 } else { u8::from(p == source_pair) });
        phases.push(messages::RESET, live.into_iter().map(|(group, pair)| Self::step(joiner, Action::Reset { group, pair })).collect());
        phases.push(messages::CREATE, self.create_missing());
        phases.push(messages::RESET, reset_peers);

        if bookmarks {
            let mut steps: Vec<Step> = self
                .groups()
                .flat_map(|group| {
                    running
                        .iter()
                        .filter(move |&&k| self.has_object(k, group, Pair::new(k, joiner)))
                        .map(move |&k| Self::step(k, Action::Bookmark { group, joiner, source }))
                })
                .collect();
            for group in self.groups() {
                for absent in self.absent_live(source, group) {
                    steps.push(Self::step(source, Action::BookmarkAbsent { group, joiner, absent, source }));
                }
            }
            phases.push(messages::BOOKMARK, steps);
        }
        // Truncated after the bookmarks: on Altibase a bookmark's pin (START then STOP)
        // may deliver a few rows here, which the copy replaces.
        phases.push(messages::TRUNCATE, self.groups().map(|group| Self::step(joiner, Action::Truncate { group })).collect());
        let sync = if procedure == Procedure::RecoverMaster { messages::SYNC_FROM_SLAVE } else { messages::SYNC };
        phases.push(sync, self.groups().map(|group| Self::step(source, Action::Sync { group, pair: source_pair })).collect());

        let (mut start, mut link, mut last) = (Vec::new(), Vec::new(), Vec::new());
        for group in self.groups() {
            start.push(Self::step(joiner, Action::Start { group, pair: source_pair, peer_present: true }));
            if !self.caps.sync_starts_source {
                // The source's side of the pair (this pod's own "sender") starts last:
                // its existence marks the join complete (see `slave_start`).
                last.push(Self::step(source, Action::Start { group, pair: source_pair, peer_present: true }));
            }
            for pair in self.my_pairs().into_iter().filter(|&p| p != source_pair) {
                let peer = pair.other(joiner);
                if bookmarks && running.contains(&peer) && self.has_object(peer, group, pair) {
                    link.push(Self::step(joiner, Action::Link { group, peer, joiner, source }));
                    start.push(Self::step(peer, Action::Start { group, pair, peer_present: true }));
                } else {
                    self.start_both_sides(group, pair, &mut start);
                }
            }
        }
        for group in self.groups() {
            for absent in self.absent_live(source, group) {
                link.push(Self::step(joiner, Action::LinkAbsent { group, absent, joiner, source }));
            }
        }
        phases.push(messages::LINK, link);
        phases.push(messages::START, start);
        phases.push(messages::START_SOURCE, last);
        self.finish_start(&mut phases, procedure == Procedure::SlaveStartFresh);
        Ok(Plan { procedure, announcement, phases: phases.0, marker: MarkerChange::Write, items: Vec::new() })
    }

    /// `recover --from source` on the master (spec 5.6, automated): refused unless the
    /// master is detected as failed and `source` is a reachable slave holding live
    /// replication with it.
    pub(super) fn recover(&self, source: ServerId) -> Result<Plan, Refusal> {
        let not = |what: String| Err(Refusal::NotApplicable { what });
        if !self.me.is_master() {
            return not(format!("aku -p recover runs on the MASTER Pod (server 0); this is server {}", self.me));
        }
        if source == self.me || source.0 >= self.config.server_count {
            return not(format!("--from {source} must name a SLAVE Pod (1..{})", self.config.server_count - 1));
        }
        let failed = self.my_objects().into_iter().any(|(g, p)| {
            self.state_on(p.other(self.me), g, p).is_some_and(crate::lifecycle::ReplicationState::live) && !self.local(g, p).live()
        });
        // A recovery interrupted after it reset the slaves' side leaves no failure to
        // detect, only the master's unfinished link with its source: run it again.
        let pair = Pair::new(self.me, source);
        let unfinished = !self.obs.marker_present
            && self.groups().all(|g| {
                let s = self.local(g, pair);
                s.exists && !(s.live() && s.ready && s.sending)
            })
            && self.obs.server(source).is_some_and(|st| self.groups().all(|g| !st.replication(g, pair).live()));
        if !failed && !unfinished {
            return not("The MASTER server is not detected to have failed (no reachable SLAVE holds replication \
                        that the MASTER lost); use aku -p start"
                .to_owned());
        }
        let host = topology::host_of(self.config, source);
        let Some(state) = self.obs.server(source) else {
            return not(format!("Pod {source} ({host}) is not reachable: it cannot be the source of the recovery"));
        };
        if !state.problems.is_empty() {
            return Err(Refusal::Precondition { server: source, host, problems: state.problems.clone() });
        }
        // After an interrupted recovery the source's side is reset on purpose (and, on
        // PostgreSQL, bookmarks may have made other slaves' sides live again).
        if failed && !unfinished && !self.groups().all(|g| state.replication(g, pair).live()) {
            return not(format!(
                "Pod {source} ({host}) does not hold live replication with the MASTER: choose a SLAVE that was running with it"
            ));
        }
        self.join(source, Procedure::RecoverMaster, messages::RECOVER, false)
    }

    /// `reset --peer gone` (spec 5.7): stop and reset every reachable pod's
    /// replication with the gone pod, so that nobody keeps log for it. Refused
    /// while the pod answers.
    pub(super) fn reset_peer(&self, gone: ServerId) -> Result<Plan, Refusal> {
        if gone.is_master() {
            return Err(Refusal::NotApplicable {
                what: "The MASTER Pod's replications are not reset while it is away: when it returns it would \
                       resume without what the SLAVE Pods wrote meanwhile. Start it again (or recover it with \
                       aku -p recover)"
                    .to_owned(),
            });
        }
        if gone.0 >= self.config.server_count {
            return Err(Refusal::NotApplicable {
                what: format!("--peer {gone} is not a server ID below AKU_SERVER_COUNT = {}", self.config.server_count),
            });
        }
        if self.obs.reachable(gone) {
            return Err(Refusal::PeerReachable { server: gone, host: topology::host_of(self.config, gone) });
        }
        let mut servers = vec![self.me];
        servers.extend(self.obs.reachable_peers());
        let (mut stop, mut reset) = (Vec::new(), Vec::new());
        for group in self.groups() {
            for &server in &servers {
                let pair = Pair::new(server, gone);
                if self.has_object(server, group, pair) {
                    stop.push(Step { server, action: Action::Stop { group, pair } });
                    reset.push(Step { server, action: Action::Reset { group, pair } });
                }
            }
        }
        let mut phases = PhaseList::default();
        phases.push(messages::STOP, stop);
        phases.push(messages::RESET, reset);
        Ok(Plan {
            procedure: Procedure::ResetPeer,
            announcement: messages::RESET_PEER,
            phases: phases.0,
            marker: MarkerChange::Keep,
            items: Vec::new(),
        })
    }
}

impl Ctx<'_> {
    /// The absent peers whose pair with `source` the source still keeps (`group`):
    /// they may return with rows the copy does not bring, so the join bookmarks them
    /// on the source and links them on this pod (backends with `absent_bookmarks`).
    fn absent_live(&self, source: ServerId, group: usize) -> Vec<ServerId> {
        if !self.caps.absent_bookmarks {
            return Vec::new();
        }
        topology::peers_of(self.me, self.config.server_count)
            .into_iter()
            .filter(|&j| j != source && !self.obs.reachable(j))
            .filter(|&j| self.state_on(source, group, Pair::new(source, j)).is_some_and(crate::lifecycle::ReplicationState::live))
            .collect()
    }

    /// A pod that crashed may return at once (its container restarts): the start
    /// waits for it first (bounded, see `procedure.rs`), so that the join bookmarks
    /// it rather than join without it.
    fn refuse_join_before_absent_peers_returned(&self, source: ServerId) -> Result<(), Refusal> {
        if self.obs.absent_waited {
            return Ok(());
        }
        match self.groups().flat_map(|group| self.absent_live(source, group)).next() {
            Some(server) => Err(Refusal::PeerAway { server, host: topology::host_of(self.config, server) }),
            None => Ok(()),
        }
    }
}
