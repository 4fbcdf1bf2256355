//! The decision function over every combination of: role (master, slave, last
//! slave), marker present or not, each peer absent / reset / live, this pod's
//! objects missing / reset / live, and the flags on and off. Each combination is
//! checked against the rules of `spec/aku-behaviour.md` section 5.

use super::*;
use crate::config::BackendKind;
use crate::lifecycle::port::{Absence, Capabilities};
use crate::lifecycle::state::{PeerState, ReplKey, ReplicationState, ServerState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    Absent,
    Reset,
    Live,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Local {
    Missing,
    Reset,
    Live,
}

const COUNT: u8 = 4;

/// Four servers, one group `P` with `SYS.T1`; `flags` bits switch AKU_FLUSH_AT_START (1),
/// AKU_FLUSH_AT_END (2), AKU_REPLICATION_RESET_AT_END (4) and a 2 s start delay (8).
fn config(backend: BackendKind, flags: u8) -> Config {
    let text = format!(
        "AKU_STS_NAME = sts\nAKU_SVC_NAME = svc\nAKU_SYS_PASSWORD = x\nAKU_BACKEND = {}\n\
         AKU_FLUSH_AT_START = {}\nAKU_FLUSH_AT_END = {}\nAKU_REPLICATION_RESET_AT_END = {}\n\
         AKU_DELAY_START_COMPLETE_TIME = {}\nREPLICATIONS = ( REPLICATION_NAME_PREFIX = P ( SYS.T1 ) )\n",
        backend.as_str(),
        flags & 1,
        (flags >> 1) & 1,
        (flags >> 2) & 1,
        if flags & 8 != 0 { 2 } else { 0 }
    );
    Config::parse(&text, crate::config::Syntax::AkuConf, &crate::config::EnvOverrides::default()).unwrap()
}

/// The capabilities of the configured backend.
fn caps(config: &Config) -> Capabilities {
    crate::backend::for_config(config, None).capabilities()
}

fn state(exists: bool, live: bool) -> ReplicationState {
    ReplicationState { exists, started: live, reset: !live, sending: live, ready: exists }
}

fn server_state(id: ServerId, f: impl Fn(ServerId) -> ReplicationState) -> ServerState {
    let mut s = ServerState::default();
    for pair in topology::pairs_of(id, COUNT) {
        s.replications.insert(ReplKey { group: 0, pair }, f(pair.other(id)));
    }
    s
}

/// Builds an observation: this pod's objects are `local`; each peer's object of
/// its pair with this pod is `peers[i]`, its other objects live.
fn observation(me: ServerId, marker: bool, local: Local, peers: &[Peer]) -> Observation {
    let local_state = server_state(me, |_| match local {
        Local::Missing => ReplicationState::MISSING,
        Local::Reset => state(true, false),
        Local::Live => state(true, true),
    });
    let others = topology::peers_of(me, COUNT);
    let peers =
        others
            .iter()
            .zip(peers)
            .map(|(&id, &p)| {
                let ps =
                    match p {
                        Peer::Absent => PeerState::Absent(Absence::NotResolved("gone".into())),
                        Peer::Reset | Peer::Live => PeerState::Reachable(server_state(id, |other| {
                            if other == me { state(true, p == Peer::Live) } else { state(true, true) }
                        })),
                    };
                (id, ps)
            })
            .collect();
    Observation { me, marker_present: marker, local: local_state, peers, absent_waited: true }
}

fn all_peer_combinations() -> Vec<Vec<Peer>> {
    let kinds = [Peer::Absent, Peer::Reset, Peer::Live];
    let mut out = vec![vec![]];
    for _ in 0..COUNT - 1 {
        out = out.into_iter().flat_map(|v| kinds.iter().map(move |k| [v.clone(), vec![*k]].concat())).collect();
    }
    out
}

fn phases_named(plan: &Plan, begin: &str) -> usize {
    plan.phases.iter().filter(|p| p.begin == begin).count()
}

fn actions(plan: &Plan) -> impl Iterator<Item = &Step> {
    plan.phases.iter().flat_map(|p| p.steps.iter())
}

#[test]
fn every_combination_follows_the_procedures() {
    let mut checked = 0;
    for backend in [BackendKind::Altibase, BackendKind::Postgresql] {
        for flags in 0..16u8 {
            let config = config(backend, flags);
            for me in [0u8, 1, 3] {
                let me = ServerId(me);
                for marker in [false, true] {
                    for local in [Local::Missing, Local::Reset, Local::Live] {
                        for peers in all_peer_combinations() {
                            let obs = observation(me, marker, local, &peers);
                            for intent in [Intent::Start, Intent::End, Intent::Clean] {
                                check(&config, &obs, intent, local, &peers);
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 2 * 16 * 3 * 2 * 3 * 27 * 3);
}

#[expect(clippy::too_many_lines, reason = "one rule per paragraph, read top to bottom")]
fn check(config: &Config, obs: &Observation, intent: Intent, local: Local, peers: &[Peer]) {
    let me = obs.me;
    let ctx = format!("{intent:?} on {me}, marker {}, local {local:?}, peers {peers:?}, {config:?}", obs.marker_present);
    let peer_of = |id: ServerId| topology::peers_of(me, COUNT).iter().position(|&p| p == id).map(|i| peers[i]);
    let master_peer = peer_of(ServerId::MASTER);
    let result = decide(config, caps(config), intent, obs, "/tmp/aku_start_completed");

    // Refusals, checked before anything else.
    if intent == Intent::Start && obs.marker_present {
        assert!(matches!(result, Err(Refusal::DuplicateStart { .. })), "{ctx}");
        return;
    }
    if intent == Intent::Start && me.is_master() && peers.contains(&Peer::Live) && local != Local::Live {
        assert_eq!(result, Err(Refusal::MasterFailure), "{ctx}");
        return;
    }
    if intent == Intent::Start
        && !me.is_master()
        && (local != Local::Live || peers.contains(&Peer::Reset))
        && master_peer == Some(Peer::Absent)
    {
        assert!(matches!(result, Err(Refusal::MasterUnreachable { .. })), "{ctx}");
        return;
    }
    let plan = result.unwrap_or_else(|e| panic!("unexpected refusal {e:?}: {ctx}"));

    // No step ever runs on an absent server; steps on a peer concern its pair with this pod.
    for step in actions(&plan) {
        assert!(obs.reachable(step.server), "step on absent server {}: {ctx}", step.server);
        if let Some((_, Some(pair))) = step.action.group_pair() {
            assert!(pair.contains(me), "{ctx}");
        }
    }
    let truncates = actions(&plan).filter(|s| matches!(s.action, Action::Truncate { .. })).count();
    let syncs: Vec<&Step> = actions(&plan).filter(|s| matches!(s.action, Action::Sync { .. })).collect();
    match intent {
        Intent::Start => {
            assert_eq!(plan.marker, MarkerChange::Write, "{ctx}");
            // A slave resumes only when no reachable peer forgot its side of their pair.
            let fresh_slave = !me.is_master() && (local != Local::Live || peers.contains(&Peer::Reset));
            let expected = match (me.is_master(), fresh_slave) {
                (true, _) => Procedure::MasterStart,
                (false, true) => Procedure::SlaveStartFresh,
                (false, false) => Procedure::SlaveStartNonReset,
            };
            assert_eq!(plan.procedure, expected, "{ctx}");
            // Only a fresh slave truncates, and it then syncs from the master.
            assert_eq!(truncates, usize::from(fresh_slave), "{ctx}");
            assert_eq!(syncs.len(), usize::from(fresh_slave), "{ctx}");
            assert!(syncs.iter().all(|s| s.server == ServerId::MASTER), "{ctx}");
            // Objects are created only when missing.
            let creates = actions(&plan).filter(|s| matches!(s.action, Action::Create { .. })).count();
            assert_eq!(creates, if local == Local::Missing { usize::from(COUNT) - 1 } else { 0 }, "{ctx}");
            // Every own replication is started here (or linked from a bookmark); a re-join's
            // drain may start some before the join as well.
            let own_starts = plan
                .phases
                .iter()
                .filter(|p| p.begin != messages::DRAIN_START.0)
                .flat_map(|p| p.steps.iter())
                .filter(|s| s.server == me && matches!(s.action, Action::Start { .. } | Action::Link { .. }))
                .count();
            assert_eq!(own_starts, usize::from(COUNT) - 1, "{ctx}");
            // The last step lets applications in; a slave's fresh start may delay it.
            let last = plan.phases.last().unwrap();
            assert_eq!(last.steps, vec![Step { server: me, action: Action::OpenForApplications }], "{ctx}");
            let delays = phases_named(&plan, messages::DELAY.0);
            assert_eq!(delays, usize::from(fresh_slave && config.delay_start_complete_s > 0), "{ctx}");
            // Flushing at start: only when restarting with live state and the flag is on.
            let in_phases = |drain: bool| {
                plan.phases
                    .iter()
                    .filter(move |p| (p.begin == messages::DRAIN.0) == drain)
                    .flat_map(|p| p.steps.iter())
                    .filter(|s| matches!(s.action, Action::Flush { .. }))
                    .count()
            };
            let flushes = in_phases(false);
            // A complete member that re-joins first flushes towards every reachable peer
            // that kept its side.
            let drains = if fresh_slave && local == Local::Live { peers.iter().filter(|p| **p == Peer::Live).count() } else { 0 };
            assert_eq!(in_phases(true), drains, "{ctx}");
            if !config.flush_at_start || fresh_slave {
                assert_eq!(flushes, 0, "{ctx}");
            }
            if config.flush_at_start && !me.is_master() && !fresh_slave {
                let connected = peers.iter().filter(|p| **p != Peer::Absent).count();
                assert_eq!(flushes, 2 * connected, "local FLUSH ALL plus the peer's flush per connected peer: {ctx}");
            }
            // One bookmark per running non-master peer (both backends have bookmarks).
            let bookmarks = actions(&plan).filter(|s| matches!(s.action, Action::Bookmark { .. })).count();
            if fresh_slave {
                let running =
                    topology::peers_of(me, COUNT).into_iter().filter(|&p| !p.is_master() && peer_of(p) != Some(Peer::Absent)).count();
                assert_eq!(bookmarks, running, "{ctx}");
            } else {
                assert_eq!(bookmarks, 0, "{ctx}");
            }
        }
        Intent::End => {
            assert_eq!(plan.procedure, Procedure::End, "{ctx}");
            assert_eq!(plan.marker, MarkerChange::Remove, "{ctx}");
            assert_eq!(truncates + syncs.len(), 0, "{ctx}");
            let exists = local != Local::Missing;
            let reachable_with_object = peers.iter().filter(|p| **p != Peer::Absent).count();
            let stops = actions(&plan).filter(|s| matches!(s.action, Action::Stop { .. })).count();
            let own = if exists { usize::from(COUNT) - 1 } else { 0 };
            assert_eq!(stops, own + reachable_with_object, "{ctx}");
            let resets = actions(&plan).filter(|s| matches!(s.action, Action::Reset { .. })).count();
            // AKU_REPLICATION_RESET_AT_END applies to slaves only: the master keeps its restart points.
            let reset = config.replication_reset_at_end && !me.is_master();
            assert_eq!(resets, if reset { own + reachable_with_object } else { 0 }, "{ctx}");
            let flushes = actions(&plan).filter(|s| matches!(s.action, Action::Flush { .. })).count();
            let expect_flush = if config.flush_at_end && local == Local::Live { reachable_with_object } else { 0 };
            assert_eq!(flushes, expect_flush, "{ctx}");
            // Flush before stop before reset.
            let order: Vec<&str> = plan.phases.iter().map(|p| p.begin).collect();
            let mut sorted = order.clone();
            sorted.sort_by_key(|b| [messages::FLUSH.0, messages::STOP.0, messages::RESET.0].iter().position(|x| x == b));
            assert_eq!(order, sorted, "{ctx}");
        }
        Intent::Clean => {
            assert_eq!(plan.procedure, Procedure::Clean, "{ctx}");
            assert_eq!(plan.marker, MarkerChange::Remove, "{ctx}");
            let drops = actions(&plan).filter(|s| matches!(s.action, Action::Drop { .. })).count();
            assert_eq!(drops, if local == Local::Missing { 0 } else { usize::from(COUNT) - 1 }, "{ctx}");
            // Peers are stopped and reset, never dropped.
            assert!(
                actions(&plan).filter(|s| s.server != me).all(|s| matches!(s.action, Action::Stop { .. } | Action::Reset { .. })),
                "{ctx}"
            );
        }
        Intent::ResetPeer(_) | Intent::Recover(_) => unreachable!("not generated here"),
    }
}

#[test]
fn slave_with_master_link_reset_and_other_links_live_is_a_slave_failure() {
    let config = config(BackendKind::Altibase, 0b111);
    let me = ServerId(2);
    let mut obs = observation(me, false, Local::Live, &[Peer::Live, Peer::Live, Peer::Absent]);
    obs.local.replications.insert(ReplKey { group: 0, pair: Pair::new(ServerId(0), ServerId(2)) }, state(true, false));
    assert_eq!(decide(&config, caps(&config), Intent::Start, &obs, "m"), Err(Refusal::SlaveFailure));
    assert_eq!(Refusal::SlaveFailure.to_string(), "The SLAVE server is detected to have failed. Check and perform a manual recovery.");
    assert_eq!(Refusal::MasterFailure.to_string(), "The MASTER server is detected to have failed. Check and perform a manual recovery.");
}

#[test]
fn an_unfinished_copy_is_redone_not_taken_for_finished() {
    let config = config(BackendKind::Postgresql, 0b111);
    let me = ServerId(1);
    let mut obs = observation(me, false, Local::Reset, &[Peer::Live, Peer::Absent, Peer::Absent]);
    obs.local.replications.insert(
        ReplKey { group: 0, pair: Pair::new(ServerId(0), ServerId(1)) },
        ReplicationState { exists: true, started: true, reset: false, sending: false, ready: false },
    );
    let plan = decide(&config, caps(&config), Intent::Start, &obs, "m").unwrap();
    assert_eq!(plan.procedure, Procedure::SlaveStartFresh);
    // The running copy is stopped first, and the master's side is reset before the new copy.
    assert_eq!(plan.phases[0].steps[0], Step { server: me, action: Action::Stop { group: 0, pair: Pair::new(ServerId(0), me) } });
    assert!(actions(&plan).any(|s| s.server == ServerId(0) && matches!(s.action, Action::Reset { .. })));
}

#[test]
fn reset_of_a_gone_peer_touches_every_reachable_pod_and_only_its_pairs() {
    let config = config(BackendKind::Postgresql, 0b111);
    let me = ServerId(1);
    // Peers of 1: 0 live, 2 absent (gone), 3 live.
    let obs = observation(me, true, Local::Live, &[Peer::Live, Peer::Absent, Peer::Live]);
    let plan = decide(&config, caps(&config), Intent::ResetPeer(ServerId(2)), &obs, "m").unwrap();
    assert_eq!(plan.procedure, Procedure::ResetPeer);
    assert_eq!(plan.marker, MarkerChange::Keep);
    let steps: Vec<(u8, &Action)> = actions(&plan).map(|s| (s.server.0, &s.action)).collect();
    for server in [1u8, 0, 3] {
        let pair = Pair::new(ServerId(server), ServerId(2));
        assert!(steps.contains(&(server, &Action::Stop { group: 0, pair })), "{steps:?}");
        assert!(steps.contains(&(server, &Action::Reset { group: 0, pair })), "{steps:?}");
    }
    assert_eq!(steps.len(), 6);
    // Refused while pod 2 answers, and for ourselves.
    let up = observation(me, true, Local::Live, &[Peer::Live, Peer::Live, Peer::Live]);
    assert!(matches!(decide(&config, caps(&config), Intent::ResetPeer(ServerId(2)), &up, "m"), Err(Refusal::PeerReachable { .. })));
    assert!(matches!(decide(&config, caps(&config), Intent::ResetPeer(me), &obs, "m"), Err(Refusal::PeerReachable { .. })));
    assert!(matches!(decide(&config, caps(&config), Intent::ResetPeer(ServerId(9)), &obs, "m"), Err(Refusal::NotApplicable { .. })));
    // The master is never reset away: it would resume without the slaves' writes.
    let no_master = observation(me, true, Local::Live, &[Peer::Absent, Peer::Live, Peer::Live]);
    assert!(matches!(decide(&config, caps(&config), Intent::ResetPeer(ServerId(0)), &no_master, "m"), Err(Refusal::NotApplicable { .. })));
}

#[test]
fn recovery_needs_a_failed_master_and_a_live_source() {
    let config = config(BackendKind::Postgresql, 0b111);
    let master = ServerId(0);
    let failed = observation(master, false, Local::Missing, &[Peer::Live, Peer::Live, Peer::Absent]);
    let plan = decide(&config, caps(&config), Intent::Recover(ServerId(1)), &failed, "m").unwrap();
    assert_eq!(plan.procedure, Procedure::RecoverMaster);
    assert_eq!(plan.marker, MarkerChange::Write);
    // The copy comes from pod 1; pod 2 is bookmarked against pod 1 and linked after.
    let syncs: Vec<&Step> = actions(&plan).filter(|s| matches!(s.action, Action::Sync { .. })).collect();
    assert_eq!(syncs, [&Step { server: ServerId(1), action: Action::Sync { group: 0, pair: Pair::new(master, ServerId(1)) } }]);
    assert!(
        actions(&plan).any(|s| s.server == ServerId(2) && s.action == Action::Bookmark { group: 0, joiner: master, source: ServerId(1) })
    );
    assert!(actions(&plan).any(|s| s.action == Action::Link { group: 0, peer: ServerId(2), joiner: master, source: ServerId(1) }));
    // The slaves' live sides with the master are reset before the copy.
    for slave in [1u8, 2] {
        assert!(actions(&plan).any(|s| s.server == ServerId(slave) && matches!(s.action, Action::Reset { .. })));
    }
    let not_failed = observation(master, false, Local::Live, &[Peer::Live, Peer::Live, Peer::Absent]);
    assert!(matches!(decide(&config, caps(&config), Intent::Recover(ServerId(1)), &not_failed, "m"), Err(Refusal::NotApplicable { .. })));
    assert!(matches!(decide(&config, caps(&config), Intent::Recover(ServerId(3)), &failed, "m"), Err(Refusal::NotApplicable { .. })));
    let on_slave = observation(ServerId(1), false, Local::Live, &[Peer::Live, Peer::Live, Peer::Absent]);
    assert!(matches!(decide(&config, caps(&config), Intent::Recover(ServerId(2)), &on_slave, "m"), Err(Refusal::NotApplicable { .. })));
    let reset_source = observation(master, false, Local::Missing, &[Peer::Reset, Peer::Live, Peer::Absent]);
    assert!(matches!(decide(&config, caps(&config), Intent::Recover(ServerId(1)), &reset_source, "m"), Err(Refusal::NotApplicable { .. })));
    // A recovery interrupted after it reset the slaves' side: the master's link with
    // its source exists but is unfinished, nobody holds live state: run it again.
    let interrupted = observation(master, false, Local::Reset, &[Peer::Reset, Peer::Reset, Peer::Absent]);
    let again = decide(&config, caps(&config), Intent::Recover(ServerId(1)), &interrupted, "m").unwrap();
    assert_eq!(again.procedure, Procedure::RecoverMaster);
    // Also when bookmarks had made another slave's side live again.
    let bookmarked = observation(master, false, Local::Reset, &[Peer::Reset, Peer::Live, Peer::Absent]);
    assert_eq!(decide(&config, caps(&config), Intent::Recover(ServerId(1)), &bookmarked, "m").unwrap().procedure, Procedure::RecoverMaster);
    // But not on a master that completed its start (marker present).
    let mut started = interrupted.clone();
    started.marker_present = true;
    assert!(decide(&config, caps(&config), Intent::Recover(ServerId(1)), &started, "m").is_err());
}

/// Runs `obs`'s start (a join that resets this pod's live links), then, for every
/// prefix of its own reset phase that ran before it failed or was killed, the next
/// start: it must join again. Returns the order of the resets.
fn every_reset_prefix_joins_again(config: &Config, obs: &Observation) -> Vec<Pair> {
    let me = obs.me;
    let plan = decide(config, caps(config), Intent::Start, obs, "m").unwrap();
    assert_eq!(plan.procedure, Procedure::SlaveStartFresh);
    let reset_phase = plan.phases.iter().find(|p| p.begin == messages::RESET.0).expect("a reset phase");
    let resets: Vec<Pair> = reset_phase
        .steps
        .iter()
        .filter_map(|s| match s.action {
            Action::Reset { pair, .. } if s.server == me => Some(pair),
            _ => None,
        })
        .collect();
    for done in 0..=resets.len() {
        let mut after = obs.clone();
        for state in after.local.replications.values_mut() {
            state.started = false;
        }
        for pair in &resets[..done] {
            let key = ReplKey { group: 0, pair: *pair };
            after.local.replications.insert(key, state(true, false));
            after.local.received.remove(&key);
        }
        let next = decide(config, caps(config), Intent::Start, &after, "m");
        assert_eq!(next.map(|p| p.procedure), Ok(Procedure::SlaveStartFresh), "{done} of the resets {resets:?} done");
    }
    resets
}

/// Slave 2 with every link live (and started) whose side the master reset: it joins again.
fn slave_2_forgotten_by_the_master(backend: BackendKind) -> (Config, ServerId, Observation) {
    let me = ServerId(2);
    (config(backend, 0b111), me, observation(me, false, Local::Live, &[Peer::Reset, Peer::Live, Peer::Live]))
}

#[test]
fn a_join_stopped_anywhere_in_its_own_reset_phase_is_joined_again_not_refused() {
    // Slave 2 returns with every link live but must join again: the master reset its
    // side. The link with the master is reset last, so it is never found reset and
    // stopped beside another live link (the SLAVE failure).
    for backend in [BackendKind::Altibase, BackendKind::Postgresql] {
        let (config, me, obs) = slave_2_forgotten_by_the_master(backend);
        let resets = every_reset_prefix_joins_again(&config, &obs);
        assert_eq!(resets, [Pair::new(ServerId(1), me), Pair::new(me, ServerId(3)), Pair::new(ServerId::MASTER, me)], "{backend:?}");
    }
    // Slave 2 had received from pod 3, which re-joined in its absence: that link keeps
    // the next start re-joining, so it is reset after the link with the master.
    let config = config(BackendKind::Postgresql, 0b111);
    let me = ServerId(2);
    let mut obs = observation(me, false, Local::Live, &[Peer::Live, Peer::Live, Peer::Live]);
    let relinked = ReplKey { group: 0, pair: Pair::new(me, ServerId(3)) };
    obs.local.received = obs.local.replications.keys().copied().collect();
    if let Some(PeerState::Reachable(s3)) = obs.peers.get_mut(&ServerId(3)) {
        s3.linked_in_absence.insert(relinked);
    }
    let resets = every_reset_prefix_joins_again(&config, &obs);
    assert_eq!(resets, [Pair::new(ServerId(1), me), Pair::new(ServerId::MASTER, me), relinked.pair]);
}

#[test]
fn a_join_stops_its_peers_sides_before_it_resets_its_own() {
    // A peer's subscription that still runs reconnects at once to the slot the
    // joiner's reset drops: every Stop of a join (on the joiner and on its peers)
    // comes in a phase before the joiner's first Reset.
    for backend in [BackendKind::Altibase, BackendKind::Postgresql] {
        let (config, me, obs) = slave_2_forgotten_by_the_master(backend);
        let plan = decide(&config, caps(&config), Intent::Start, &obs, "m").unwrap();
        let phase_of = |want: &dyn Fn(&Step) -> bool| -> Vec<usize> {
            plan.phases.iter().enumerate().filter(|(_, p)| p.steps.iter().any(want)).map(|(i, _)| i).collect()
        };
        let stops = phase_of(&|s| matches!(s.action, Action::Stop { .. }));
        let peer_stops = phase_of(&|s| s.server != me && matches!(s.action, Action::Stop { .. }));
        let local_resets = phase_of(&|s| s.server == me && matches!(s.action, Action::Reset { .. }));
        assert!(!peer_stops.is_empty() && !local_resets.is_empty(), "{backend:?}: {plan:?}");
        assert!(stops.iter().all(|&i| i < local_resets[0]), "{backend:?}: stops {stops:?}, local resets {local_resets:?}");
    }
}
