//! The rules that keep joins from losing rows when they overlap a fault
//! (issue 13's reproductions, as decisions).

use std::collections::BTreeMap;

use crate::backend;
use crate::config::{Config, EnvOverrides, Syntax};
use crate::lifecycle::decide::{Intent, Refusal, decide};
use crate::lifecycle::plan::{Action, Plan, Procedure, messages};
use crate::lifecycle::port::Absence;
use crate::lifecycle::state::{Observation, PeerState, ReplKey, ReplicationState, ServerState};
use crate::topology::{self, Pair, ServerId};

fn config() -> Config {
    let text = "AKU_STS_NAME = sts\nAKU_SVC_NAME = svc\nAKU_SYS_PASSWORD = pw\nAKU_BACKEND = postgresql\nAKU_SERVER_COUNT = 4\n\
                REPLICATIONS = ( REPLICATION_NAME_PREFIX = P ( PUBLIC.T1 ) )\n";
    Config::parse(text, Syntax::AkuConf, &EnvOverrides::default()).expect("valid")
}

const LIVE: ReplicationState = ReplicationState { exists: true, started: true, reset: false, sending: true, ready: true };
const RESET: ReplicationState = ReplicationState { exists: true, started: false, reset: true, sending: false, ready: true };

/// A server whose every pair is `rest`, except those in `pairs` (by peer).
fn server(id: u8, rest: ReplicationState, pairs: &[(u8, ReplicationState)]) -> ServerState {
    let mut s = ServerState::default();
    for pair in topology::pairs_of(ServerId(id), 4) {
        let peer = pair.other(ServerId(id)).0;
        let state = pairs.iter().find(|(p, _)| *p == peer).map_or(rest, |(_, st)| *st);
        s.replications.insert(ReplKey { group: 0, pair }, state);
    }
    s
}

fn observation(me: u8, servers: Vec<(u8, ServerState)>, unanswered: &[u8]) -> Observation {
    let mut map: BTreeMap<u8, ServerState> = servers.into_iter().collect();
    let local = map.remove(&me).expect("this pod's state");
    let peers = topology::peers_of(ServerId(me), 4)
        .into_iter()
        .map(|p| {
            let state = match map.remove(&p.0) {
                Some(s) => PeerState::Reachable(s),
                None if unanswered.contains(&p.0) => PeerState::Absent(Absence::Unanswered("no answer within 5 s".into())),
                None => PeerState::Absent(Absence::NotResolved("gone".into())),
            };
            (p, state)
        })
        .collect();
    Observation { me: ServerId(me), marker_present: false, local, peers, absent_waited: true }
}

fn decide_start(obs: &Observation) -> Result<Plan, Refusal> {
    let config = config();
    let caps = backend::for_config(&config, None).capabilities();
    decide(&config, caps, Intent::Start, obs, "m")
}

fn steps_on(plan: &Plan, server: u8) -> Vec<Action> {
    plan.phases.iter().flat_map(|p| p.steps.iter()).filter(|s| s.server.0 == server).map(|s| s.action.clone()).collect()
}

fn pair(a: u8, b: u8) -> Pair {
    Pair::new(ServerId(a), ServerId(b))
}

#[test]
fn a_join_waits_for_a_peer_that_resolves_but_does_not_answer_and_changes_nothing() {
    // Reproduction 1: pod 1 is cut off the network while pod 2 joins.
    let obs = observation(2, vec![(2, server(2, ReplicationState::MISSING, &[])), (0, server(0, LIVE, &[(2, RESET)]))], &[1]);
    let refusal = decide_start(&obs).unwrap_err();
    assert!(matches!(refusal, Refusal::PeerUnanswered { server: ServerId(1), .. }), "{refusal:?}");
    assert_eq!(refusal.exit_code(), crate::exit_code::PEER_REQUIRED);
    assert!(refusal.to_string().starts_with("Pod 1 (sts-1.svc) resolves but did not answer (no answer within 5 s): it may be running"));
}

#[test]
fn a_restarted_slave_starts_nothing_with_a_pod_that_is_joining() {
    // Reproduction 2: pod 1 restarts (not reset) while pod 2's join has truncated and
    // reset its own sides: pod 1 neither starts, flushes nor re-joins because of pair 12.
    let joining = server(2, RESET, &[]);
    let obs = observation(1, vec![(1, server(1, LIVE, &[(2, LIVE)])), (0, server(0, LIVE, &[(2, RESET)])), (2, joining)], &[]);
    let plan = decide_start(&obs).unwrap();
    assert_eq!(plan.procedure, Procedure::SlaveStartNonReset);
    for server in [1, 2] {
        assert!(
            steps_on(&plan, server).iter().all(|a| a.group_pair().and_then(|(_, p)| p) != Some(pair(1, 2))),
            "nothing concerns pair 12 on server {server}: {plan:#?}"
        );
    }
}

#[test]
fn the_master_starts_nothing_with_a_pod_that_is_joining() {
    let obs = observation(0, vec![(0, server(0, LIVE, &[(2, RESET)])), (1, server(1, LIVE, &[])), (2, server(2, RESET, &[]))], &[]);
    let plan = decide_start(&obs).unwrap();
    assert_eq!(plan.procedure, Procedure::MasterStart);
    assert!(steps_on(&plan, 2).is_empty(), "{plan:#?}");
    assert!(!steps_on(&plan, 0).iter().any(|a| a.group_pair().and_then(|(_, p)| p) == Some(pair(0, 2))), "{plan:#?}");
}

#[test]
fn a_join_does_not_bookmark_a_peer_that_is_joining_itself() {
    let obs = observation(
        3,
        vec![
            (3, server(3, ReplicationState::MISSING, &[])),
            (0, server(0, LIVE, &[(3, RESET)])),
            (1, server(1, LIVE, &[(3, RESET)])),
            (2, server(2, RESET, &[])),
        ],
        &[],
    );
    let plan = decide_start(&obs).unwrap();
    assert_eq!(plan.procedure, Procedure::SlaveStartFresh);
    let bookmarked: Vec<u8> = plan
        .phases
        .iter()
        .flat_map(|p| p.steps.iter())
        .filter(|s| matches!(s.action, Action::Bookmark { .. }))
        .map(|s| s.server.0)
        .collect();
    assert_eq!(bookmarked, vec![1]);
}

#[test]
fn a_replication_paused_by_an_interrupted_join_is_resumed_by_the_next_run_of_any_pod() {
    // Reproduction 2, continued: pod 2's join paused the master's subscription from pod 1 and failed.
    let mut master = server(0, LIVE, &[(2, RESET)]);
    master.paused.insert(ReplKey { group: 0, pair: pair(0, 1) }, ServerId(2));
    // Pod 2 is gone: pod 1's start resumes it first.
    let obs = observation(1, vec![(1, server(1, LIVE, &[(2, RESET)])), (0, master.clone())], &[]);
    let plan = decide_start(&obs).unwrap();
    assert_eq!(plan.phases[0].begin, messages::RESUME.0);
    assert_eq!(plan.phases[0].steps.len(), 1);
    assert_eq!(plan.phases[0].steps[0].server, ServerId(0));
    assert_eq!(plan.phases[0].steps[0].action, Action::Resume { group: 0, pair: pair(0, 1) });
    // Pod 2 is still joining (its join may be running): left to pod 2's join.
    let obs = observation(1, vec![(1, server(1, LIVE, &[(2, RESET)])), (0, master), (2, server(2, RESET, &[]))], &[]);
    let plan = decide_start(&obs).unwrap();
    assert!(plan.phases.iter().all(|p| p.begin != messages::RESUME.0), "{plan:#?}");
}

#[test]
fn a_pair_reset_on_both_sides_between_two_members_makes_the_slave_join_again() {
    // Reproduction 1, after the fact: pair 12 was never linked.
    let obs =
        observation(1, vec![(1, server(1, LIVE, &[(2, RESET)])), (0, server(0, LIVE, &[])), (2, server(2, LIVE, &[(1, RESET)]))], &[]);
    assert_eq!(decide_start(&obs).unwrap().procedure, Procedure::SlaveStartFresh);
}

#[test]
fn a_member_that_joins_again_first_drains_what_its_slots_hold_for_its_peers() {
    // Reproduction 3: pod 3 was forgotten by pod 1; pod 2 has not received pod 3's last rows.
    let obs = observation(
        3,
        vec![(3, server(3, LIVE, &[])), (0, server(0, LIVE, &[])), (1, server(1, LIVE, &[(3, RESET)])), (2, server(2, LIVE, &[]))],
        &[],
    );
    let plan = decide_start(&obs).unwrap();
    assert_eq!(plan.procedure, Procedure::SlaveStartFresh);
    let order: Vec<&str> = plan.phases.iter().map(|p| p.begin).collect();
    assert_eq!(&order[..3], &[messages::DRAIN_START.0, messages::DRAIN.0, messages::STOP.0], "{order:?}");
    let drained: Vec<Pair> = plan.phases[1].steps.iter().filter_map(|s| s.action.group_pair().and_then(|(_, p)| p)).collect();
    assert_eq!(drained, vec![pair(0, 3), pair(2, 3)], "every member that keeps its side, not pod 1");
    let truncate = order.iter().position(|b| *b == messages::TRUNCATE.0).unwrap();
    let reset_local = order.iter().position(|b| *b == messages::RESET.0).unwrap();
    assert!(1 < reset_local && reset_local < truncate);
}
