//! The *decide* stage: a pure function from (configuration, action, observed
//! state) to a [`Plan`], or a [`Refusal`] before anything is changed.
//! Procedures follow `spec/aku-behaviour.md` section 5 step by step; the
//! deliberate additions are documented in `docs/procedures.md`.

use crate::config::Config;
use crate::exit_code;
use crate::lifecycle::plan::{Action, FlushWait, MarkerChange, Phase, Plan, Procedure, Step, messages};
use crate::lifecycle::port::Capabilities;
use crate::lifecycle::state::Observation;
use crate::topology::{self, Pair, ServerId};

/// What the engine is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Start,
    End,
    Clean,
    /// `reset --peer N`: the pod N is gone for good.
    ResetPeer(ServerId),
    /// `recover --from N`, on the master.
    Recover(ServerId),
}

/// Why a procedure was refused. Nothing was changed on any server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("aku -p start was already run on this pod: {marker} exists (duplicate execution). Run aku -p end first to start again.")]
    DuplicateStart { marker: String },
    #[error("The MASTER server is detected to have failed. Check and perform a manual recovery.")]
    MasterFailure,
    #[error("The SLAVE server is detected to have failed. Check and perform a manual recovery.")]
    SlaveFailure,
    #[error(
        "The MASTER Pod ({host}) is not reachable: a new SLAVE Pod can only be synchronised from it. \
         Nothing was truncated; start the MASTER Pod first, then run aku -p start again."
    )]
    MasterUnreachable { host: String },
    #[error("Server {server} ({host}) does not meet the requirements of aku: {}", problems.join(" "))]
    Precondition { server: ServerId, host: String, problems: Vec<String> },
    #[error(
        "The replicated tables differ between this pod and pod {server} ({host}): {}. Nothing was changed; make the \
         definitions equal on every pod (docs/operations.md, \"Changing a table's definition\"), then run aku -p start again.",
        crate::lifecycle::schema::describe(differences)
    )]
    SchemaMismatch { server: ServerId, host: String, differences: Vec<String> },
    #[error(
        "Pod {server} ({host}) answers: its replications are reset only when it is gone. \
         Use aku -p end on that pod instead. Nothing was changed."
    )]
    PeerReachable { server: ServerId, host: String },
    #[error(
        "Pod {server} ({host}) resolves but did not answer ({detail}): it may be running, and a join now would \
         never receive what it writes. Nothing was changed; run aku -p start again once it answers \
         (if it is gone for good, delete the pod or run aku -p reset --peer {server} from a running pod)."
    )]
    PeerUnanswered { server: ServerId, host: String, detail: String },
    #[error(
        "Pod {server} ({host}) is down, and the copy source still keeps its side of their replication: it may return \
         with rows the copy would not bring. The start waits for it (bounded), then joins without it."
    )]
    PeerAway { server: ServerId, host: String },
    #[error(
        "The local server {host} runs with ADMIN_MODE = 0: aku -p start works on a server started with \
         ADMIN_MODE = 1 and REMOTE_SYSDBA_ENABLE = 1 (altibase.properties) and lowers ADMIN_MODE itself once \
         the pod is ready. Nothing was changed."
    )]
    AdminModeOff { host: String },
    #[error("{what}. Nothing was changed.")]
    NotApplicable { what: String },
}

impl Refusal {
    pub fn exit_code(&self) -> i32 {
        match self {
            Refusal::DuplicateStart { .. } => exit_code::DUPLICATE_START,
            Refusal::MasterFailure | Refusal::SlaveFailure => exit_code::RECOVERY_REQUIRED,
            Refusal::MasterUnreachable { .. }
            | Refusal::PeerReachable { .. }
            | Refusal::PeerUnanswered { .. }
            | Refusal::PeerAway { .. } => exit_code::PEER_REQUIRED,
            Refusal::Precondition { .. }
            | Refusal::SchemaMismatch { .. }
            | Refusal::NotApplicable { .. }
            | Refusal::AdminModeOff { .. } => exit_code::PRECONDITION,
        }
    }
}

impl Intent {
    /// Attempts to reach this pod's own server: `AKU_ADDRESS_CHECK_COUNT` for start
    /// and recover, when the local server may still be coming up (spec 3.2); at end,
    /// clean and reset it is up or gone, so a few tries do.
    pub fn local_attempts(self, config: &Config) -> u32 {
        match self {
            Intent::Start | Intent::Recover(_) => config.address_check_count,
            Intent::End | Intent::Clean | Intent::ResetPeer(_) => config.address_check_count.min(3),
        }
    }

    /// True for procedures that bring this pod up (a peer that did not answer is
    /// then part of the plan's decision, not a separate outcome).
    pub fn starts_pod(self) -> bool {
        matches!(self, Intent::Start | Intent::Recover(_))
    }
}

/// Decides the procedure for `intent` on server `obs.me`, planning only what the
/// backend's `caps` allow.
pub fn decide(config: &Config, caps: Capabilities, intent: Intent, obs: &Observation, marker: &str) -> Result<Plan, Refusal> {
    let ctx = Ctx { config, caps, obs, me: obs.me };
    if matches!(intent, Intent::Start | Intent::Recover(_)) {
        if obs.marker_present {
            return Err(Refusal::DuplicateStart { marker: marker.to_owned() });
        }
        // The original reads ADMIN_MODE first (BUG-50259): a server that booted in normal
        // mode may already serve applications that a truncate or copy would disturb.
        if caps.admin_mode && intent == Intent::Start && obs.local.admin_mode == Some(false) {
            return Err(Refusal::AdminModeOff { host: topology::host_of(config, obs.me) });
        }
        ctx.check_preconditions()?;
        ctx.check_schema(intent)?;
    }
    let mut plan = match intent {
        Intent::Start if ctx.me.is_master() => ctx.master_start()?,
        Intent::Start => ctx.slave_start()?,
        Intent::End => ctx.end(),
        Intent::Clean => ctx.clean(),
        Intent::ResetPeer(peer) => ctx.reset_peer(peer)?,
        Intent::Recover(source) => ctx.recover(source)?,
    };
    plan.items = ctx.groups().map(|g| ctx.items_in_force(g)).collect();
    // What an interrupted join paused on a copy source is resumed by the next run of any pod.
    let resume = ctx.resume_paused();
    if !resume.is_empty() {
        let (begin, end) = messages::RESUME;
        plan.phases.insert(0, crate::lifecycle::plan::Phase { begin, end, steps: resume });
    }
    Ok(plan)
}

pub(super) struct Ctx<'a> {
    pub(super) config: &'a Config,
    pub(super) caps: Capabilities,
    pub(super) obs: &'a Observation,
    pub(super) me: ServerId,
}

/// Builds phases, dropping empty ones.
#[derive(Default)]
pub(super) struct PhaseList(pub(super) Vec<Phase>);

impl PhaseList {
    pub(super) fn push(&mut self, (begin, end): (&'static str, &'static str), steps: Vec<Step>) {
        if !steps.is_empty() {
            self.0.push(Phase { begin, end, steps });
        }
    }
}

impl Ctx<'_> {
    pub(super) fn groups(&self) -> std::ops::Range<usize> {
        0..self.config.groups.len()
    }

    pub(super) fn my_pairs(&self) -> Vec<Pair> {
        topology::pairs_of(self.me, self.config.server_count)
    }

    /// Every (group, pair) of this server, group by group.
    pub(super) fn my_objects(&self) -> Vec<(usize, Pair)> {
        self.groups().flat_map(|g| self.my_pairs().into_iter().map(move |p| (g, p))).collect()
    }

    pub(super) fn state_on(&self, server: ServerId, group: usize, pair: Pair) -> Option<crate::lifecycle::ReplicationState> {
        self.obs.server(server).map(|s| s.replication(group, pair))
    }

    pub(super) fn local(&self, group: usize, pair: Pair) -> crate::lifecycle::ReplicationState {
        self.obs.local.replication(group, pair)
    }

    /// True when `server` is reachable and holds the object.
    pub(super) fn has_object(&self, server: ServerId, group: usize, pair: Pair) -> bool {
        self.state_on(server, group, pair).is_some_and(|s| s.exists)
    }

    pub(super) fn step(server: ServerId, action: Action) -> Step {
        Step { server, action }
    }

    pub(super) fn check_preconditions(&self) -> Result<(), Refusal> {
        // The local server, and the master for a slave (it is the copy source).
        let mut servers = vec![self.me];
        if !self.me.is_master() {
            servers.push(ServerId::MASTER);
        }
        for server in servers {
            if let Some(state) = self.obs.server(server) {
                if !state.problems.is_empty() {
                    return Err(Refusal::Precondition {
                        server,
                        host: topology::host_of(self.config, server),
                        problems: state.problems.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Every replicated table has the same definition here as on the copy source and
    /// on every reachable peer this start links with (members; for a recovery, its
    /// source). Servers whose tables the backend did not read are not compared.
    pub(super) fn check_schema(&self, intent: Intent) -> Result<(), Refusal> {
        let local = &self.obs.local;
        if local.tables.is_empty() {
            return Ok(());
        }
        let mut others: Vec<ServerId> = self.obs.reachable_peers().into_iter().filter(|&p| self.member(p)).collect();
        if let Intent::Recover(source) = intent {
            others.retain(|&p| p == source);
        }
        for other in others {
            let Some(state) = self.obs.server(other) else { continue };
            if state.tables.is_empty() {
                continue;
            }
            let names: std::collections::BTreeSet<&String> = local.tables.keys().chain(state.tables.keys()).collect();
            let mut differences = Vec::new();
            let empty = crate::lifecycle::schema::TableDef::default();
            for name in names {
                let here = local.tables.get(name).unwrap_or(&empty);
                let there = state.tables.get(name).unwrap_or(&empty);
                differences.extend(crate::lifecycle::schema::differences(name, (self.me, here), (other, there)));
            }
            if !differences.is_empty() {
                return Err(Refusal::SchemaMismatch { server: other, host: topology::host_of(self.config, other), differences });
            }
        }
        Ok(())
    }

    pub(super) fn flush_wait_at_start(&self) -> FlushWait {
        match self.config.flush_timeout_at_start_s {
            0 => FlushWait::All,
            t => FlushWait::Wait(t),
        }
    }

    /// Create each missing local object; on backends with group objects, the
    /// group's objects first, before its first missing pair.
    pub(super) fn create_missing(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        for group in self.groups() {
            let missing: Vec<Pair> = self.my_pairs().into_iter().filter(|&p| !self.local(group, p).exists).collect();
            if self.caps.group_objects && !missing.is_empty() {
                steps.push(Self::step(self.me, Action::CreateGroup { group }));
            }
            steps.extend(missing.into_iter().map(|pair| Self::step(self.me, Action::Create { group, pair })));
        }
        steps
    }

    /// Start `pair` here (always; tolerated when the peer is absent) and on the peer
    /// when it holds the object. Nothing is started with a peer that is joining: its
    /// own join links the pair from a bookmark.
    pub(super) fn start_both_sides(&self, group: usize, pair: Pair, out: &mut Vec<Step>) {
        let peer = pair.other(self.me);
        if self.joining(peer) {
            return;
        }
        let peer_present = self.obs.reachable(peer);
        // A side a running join holds at its bookmark is left to that join.
        if !self.held_by_join(self.me, group, pair) {
            out.push(Self::step(self.me, Action::Start { group, pair, peer_present }));
        }
        if self.has_object(peer, group, pair) && !self.held_by_join(peer, group, pair) {
            out.push(Self::step(peer, Action::Start { group, pair, peer_present: true }));
            // The peer's join linked this pair in this pod's absence, and this pod's
            // own side kept nothing stale (else it joins again): the pair is whole now.
            if self.linked_in_absence(peer, group, pair) {
                out.push(Self::step(peer, Action::Resume { group, pair }));
            }
        }
    }

    pub(super) fn finish_start(&self, phases: &mut PhaseList, delay: bool) {
        if delay && self.config.delay_start_complete_s > 0 {
            let seconds = self.config.delay_start_complete_s;
            phases.push(messages::DELAY, vec![Self::step(self.me, Action::Delay { seconds })]);
        }
        phases.push(messages::OPEN, vec![Self::step(self.me, Action::OpenForApplications)]);
    }

    /// Spec 5.1.
    fn master_start(&self) -> Result<Plan, Refusal> {
        // Step 6 first: refuse before changing anything.
        for (group, pair) in self.my_objects() {
            let peer_live = self.state_on(pair.other(self.me), group, pair).is_some_and(super::state::ReplicationState::live);
            if peer_live && !self.local(group, pair).live() {
                return Err(Refusal::MasterFailure);
            }
        }
        let mut phases = self.create_and_start_all();
        if self.config.flush_at_start {
            let wait = self.flush_wait_at_start();
            let flush = self
                .my_objects()
                .into_iter()
                .filter(|&(g, p)| self.local(g, p).live() && self.member(p.other(self.me)))
                .map(|(group, pair)| Self::step(self.me, Action::Flush { group, pair, wait }))
                .collect();
            phases.push(messages::FLUSH, flush);
        }
        self.finish_start(&mut phases, false);
        Ok(Plan {
            procedure: Procedure::MasterStart,
            announcement: messages::MASTER_START,
            phases: phases.0,
            marker: MarkerChange::Write,
            items: Vec::new(),
        })
    }

    /// Spec 5.2 / 5.3: choose between a fresh and a non-reset start. The link
    /// to the master counts as complete only when its copy finished (`ready`) and
    /// this pod's own side towards the master exists (`sending`, created last by a
    /// join): an interrupted join is redone, never taken for finished. A link to the
    /// master that was reset while other links are live is a slave failure.
    fn slave_start(&self) -> Result<Plan, Refusal> {
        let master_pair = Pair::new(ServerId::MASTER, self.me);
        let master_link_complete = self.groups().all(|g| {
            let s = self.local(g, master_pair);
            s.live() && s.ready && s.sending
        });
        // A reachable member no longer keeps its side of a pair that is live here (reset
        // by `reset --peer`, or by its own `end` while this pod was down): resuming
        // would miss what was written meanwhile, so the pod joins again from a copy.
        // (A peer that is joining reset its side on purpose and links it itself.) So
        // does a member that re-joined while this pod was away, when this pod had
        // received from it before: its slot for this pod is new, and what it wrote
        // before its re-join never reached this pod. (A peer this pod never received
        // from, one that joined for the first time, is linked by a resume.)
        let forgotten = self.my_objects().into_iter().any(|(g, p)| {
            let peer = p.other(self.me);
            self.local(g, p).live()
                && self.member(peer)
                && (self.state_on(peer, g, p).is_some_and(|s| !s.live()) || self.relinked_after_receiving(peer, g, p))
        });
        if master_link_complete && !forgotten && !self.unlinked_pair() {
            Ok(self.slave_start_non_reset())
        } else if self.slave_failed(self.me) {
            // Reset and stopped beside a live link: what a `clean` of the master (or a reset
            // by hand) leaves on this pod's side.
            Err(Refusal::SlaveFailure)
        } else {
            let master = ServerId::MASTER;
            if !self.obs.reachable(master) {
                return Err(Refusal::MasterUnreachable { host: topology::host_of(self.config, master) });
            }
            // A complete member that re-joins first sends its peers what they have not received.
            self.join(master, Procedure::SlaveStartFresh, messages::SLAVE_START, master_link_complete)
        }
    }

    /// Create what is missing here, then start every replication of this server
    /// on both sides (a start that keeps the local data: master, non-reset slave).
    /// A start that keeps the local data also brings the replicated tables to the
    /// items in force (`tableset.rs`): on backends with group objects after the
    /// start (their refresh needs running replications), otherwise before it (their
    /// items change only while a pair is stopped on both sides).
    fn create_and_start_all(&self) -> PhaseList {
        let mut phases = PhaseList::default();
        phases.push(messages::CREATE, self.create_missing());
        if !self.caps.group_objects {
            self.reconcile_items(&mut phases);
        }
        let mut start = Vec::new();
        for (group, pair) in self.my_objects() {
            self.start_both_sides(group, pair, &mut start);
        }
        phases.push(messages::START, start);
        if self.caps.group_objects {
            self.reconcile_items(&mut phases);
        }
        phases
    }

    /// Spec 5.3.
    fn slave_start_non_reset(&self) -> Plan {
        let mut phases = self.create_and_start_all();
        if self.config.flush_at_start {
            let connected: Vec<(usize, Pair)> = self.my_objects().into_iter().filter(|&(_, p)| self.member(p.other(self.me))).collect();
            let local =
                connected.iter().map(|&(group, pair)| Self::step(self.me, Action::Flush { group, pair, wait: FlushWait::All })).collect();
            phases.push(messages::FLUSH, local);
            let wait = self.flush_wait_at_start();
            let peers = connected
                .iter()
                .filter(|&&(g, p)| self.has_object(p.other(self.me), g, p))
                .map(|&(group, pair)| Self::step(pair.other(self.me), Action::Flush { group, pair, wait }))
                .collect();
            phases.push(messages::FLUSH, peers);
        }
        self.finish_start(&mut phases, false);
        Plan {
            procedure: Procedure::SlaveStartNonReset,
            announcement: messages::SLAVE_START,
            phases: phases.0,
            marker: MarkerChange::Write,
            items: Vec::new(),
        }
    }

    /// Steps of `action` on this server for each existing local object, and on
    /// each reachable peer that holds the object.
    fn both_sides(&self, make: impl Fn(usize, Pair) -> Action) -> Vec<Step> {
        let mut steps = Vec::new();
        for (group, pair) in self.my_objects() {
            if self.local(group, pair).exists {
                steps.push(Self::step(self.me, make(group, pair)));
            }
            let peer = pair.other(self.me);
            if self.has_object(peer, group, pair) {
                steps.push(Self::step(peer, make(group, pair)));
            }
        }
        steps
    }

    /// Spec 5.4.
    fn end(&self) -> Plan {
        let mut phases = PhaseList::default();
        if self.config.flush_at_end {
            let flush = self
                .my_objects()
                .into_iter()
                .filter(|&(g, p)| self.local(g, p).started && self.obs.reachable(p.other(self.me)))
                .map(|(group, pair)| Self::step(self.me, Action::Flush { group, pair, wait: FlushWait::All }))
                .collect();
            phases.push(messages::FLUSH, flush);
        }
        phases.push(messages::STOP, self.both_sides(|group, pair| Action::Stop { group, pair }));
        // The MASTER Pod never resets at end (patch notes 7.1.0.8.6, BUG-50259; 7.1.0.9.0,
        // BUG-50503): its restart points and the slaves' stay, so its next start resumes and
        // receives what the slaves wrote meanwhile.
        if self.config.replication_reset_at_end && !self.me.is_master() {
            phases.push(messages::RESET, self.both_sides(|group, pair| Action::Reset { group, pair }));
        }
        // The original's `end` announces the role, as its start does (manual, example 4).
        let announcement = if self.me.is_master() { messages::MASTER_START } else { messages::SLAVE_START };
        Plan { procedure: Procedure::End, announcement, phases: phases.0, marker: MarkerChange::Remove, items: Vec::new() }
    }

    /// Spec 5.5. Peers are reset as well as stopped, so that they stop retaining
    /// log for this pod (a stopped but not reset replication keeps its restart point).
    fn clean(&self) -> Plan {
        let mut phases = PhaseList::default();
        phases.push(messages::STOP, self.both_sides(|group, pair| Action::Stop { group, pair }));
        let peer_reset = self.both_sides(|group, pair| Action::Reset { group, pair }).into_iter().filter(|s| s.server != self.me).collect();
        phases.push(messages::RESET, peer_reset);
        let mut drop: Vec<Step> = self
            .my_objects()
            .into_iter()
            .filter(|&(g, p)| self.local(g, p).exists)
            .map(|(group, pair)| Self::step(self.me, Action::Drop { group, pair }))
            .collect();
        if self.caps.group_objects {
            drop.extend(self.groups().map(|group| Self::step(self.me, Action::DropGroup { group })));
        }
        phases.push(messages::DROP, drop);
        Plan {
            procedure: Procedure::Clean,
            announcement: messages::CLEAN,
            phases: phases.0,
            marker: MarkerChange::Remove,
            items: Vec::new(),
        }
    }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
