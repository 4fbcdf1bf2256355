//! The *observe* stage: connect to this pod's server (retrying) and to every
//! peer in parallel, each under its own deadline, and read the replication state
//! of every reachable server. An absent peer is a normal outcome.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::emit;
use crate::lifecycle::ProcedureError;
use crate::lifecycle::events::EventSink;
use crate::lifecycle::port::{Absence, Backend, Connector};
use crate::lifecycle::state::{Observation, PeerState, ServerState};
use crate::odbc::Session;
use crate::topology::{self, ServerId};

/// A session shared between the steps that run on one server (one at a time).
pub type SharedSession = Arc<Mutex<Box<dyn Session>>>;

/// Open sessions by server.
pub type Sessions = BTreeMap<ServerId, SharedSession>;

/// Client-side time allowed over `AKU_QUERY_TIMEOUT` to read the local server's state.
const OBSERVE_GRACE: Duration = Duration::from_secs(5);

/// Client-side deadline for connecting to and observing one peer.
pub const PEER_DEADLINE: Duration = Duration::from_secs(30);

/// Observes the cluster from server `me` for `run`, trying this pod's own server
/// as many times as the intent allows (`Intent::local_attempts`), one second apart. Fails only when this pod's own server
/// cannot be reached or read.
pub fn observe(
    run: &crate::lifecycle::procedure::Run,
    connector: &Arc<dyn Connector>,
    me: ServerId,
    marker_present: bool,
) -> Result<(Observation, Sessions), ProcedureError> {
    let (config, backend, sink, interrupted) = (run.config.as_ref(), &run.backend, &run.sink, run.interrupted.as_ref());
    let local_attempts = run.intent.local_attempts(config);
    let mut sessions = Sessions::new();
    let local_host = topology::host_of(config, me);
    let local = connect_local(connector, me, &local_host, local_attempts, interrupted, sink.as_ref())?;
    let (local, local_state) = observe_local(config, backend, me, &local_host, local, interrupted)?;
    sessions.insert(me, Arc::new(Mutex::new(local)));

    let peers = topology::peers_of(me, config.server_count);
    let results = observe_peers(config, backend, connector, &peers, &mut sessions, sink);
    let obs = Observation { me, marker_present, local: local_state, peers: results, absent_waited: false };
    Ok((obs, sessions))
}

/// Connects to and reads every server of `peers` at once (each under
/// [`PEER_DEADLINE`]), logs how each answered, and keeps the sessions of those
/// that answered in `sessions`.
pub fn observe_peers(
    config: &Config,
    backend: &Arc<dyn Backend>,
    connector: &Arc<dyn Connector>,
    peers: &[ServerId],
    sessions: &mut Sessions,
    sink: &Arc<dyn EventSink>,
) -> BTreeMap<ServerId, PeerState> {
    const FUNC: &str = "akuObserve";
    let (cfg, be, co) = (config.clone(), Arc::clone(backend), Arc::clone(connector));
    let answers = in_parallel(peers, PEER_DEADLINE, move |peer| {
        let mut session = co.connect(peer, &topology::host_of(&cfg, peer))?;
        match be.observe(&cfg, peer, session.as_mut()) {
            Ok(state) => Ok((session, state)),
            Err(e) => Err(Absence::ConnectFailed(format!("connected, but reading its state failed: {e}"))),
        }
    });
    let mut results: BTreeMap<ServerId, PeerState> = BTreeMap::new();
    for (peer, answer) in answers {
        let state = match answer {
            Ok((session, state)) => {
                sessions.insert(peer, Arc::new(Mutex::new(session)));
                PeerState::Reachable(state)
            }
            Err(absence) => PeerState::Absent(absence),
        };
        results.insert(peer, state);
    }
    for (&peer, state) in &results {
        let host = topology::host_of(config, peer);
        match state {
            PeerState::Reachable(_) => emit!(sink, Info, FUNC, Some(peer), None, "Connected to peer {host}."),
            PeerState::Absent(a @ Absence::Unanswered(_)) => {
                emit!(sink, Warn, FUNC, Some(peer), None, "Peer {host} did not answer: {}. Treated as absent.", a.detail());
            }
            PeerState::Absent(a @ (Absence::LoginRefused(_) | Absence::DriverUnavailable(_))) => {
                emit!(sink, Warn, FUNC, Some(peer), None, "Peer {host} answered but aku cannot log in: {}. Treated as absent.", a.detail());
            }
            PeerState::Absent(a) => emit!(sink, Info, FUNC, Some(peer), None, "Peer {host} is absent: {}.", a.detail()),
        }
    }
    results
}

/// Runs `work` for every server concurrently, each on its own thread, and
/// collects the answers that arrive within `deadline`; a server whose work did not
/// finish in time is reported as unanswered (its thread is left behind).
pub fn in_parallel<T: Send + 'static>(
    servers: &[ServerId],
    deadline: Duration,
    work: impl Fn(ServerId) -> Result<T, Absence> + Send + Sync + 'static,
) -> BTreeMap<ServerId, Result<T, Absence>> {
    let work = Arc::new(work);
    let (tx, rx) = mpsc::channel();
    for &server in servers {
        let (tx, work) = (tx.clone(), Arc::clone(&work));
        std::thread::spawn(move || {
            let _ = tx.send((server, work(server)));
        });
    }
    drop(tx);
    let until = Instant::now() + deadline;
    let mut answers = BTreeMap::new();
    while answers.len() < servers.len() {
        let Ok((server, answer)) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) else { break };
        answers.insert(server, answer);
    }
    for &server in servers {
        answers.entry(server).or_insert_with(|| Err(Absence::Unanswered(format!("no answer within {} s", deadline.as_secs()))));
    }
    answers
}

fn connect_local(
    connector: &Arc<dyn Connector>,
    me: ServerId,
    host: &str,
    attempts: u32,
    interrupted: &AtomicBool,
    sink: &dyn EventSink,
) -> Result<Box<dyn Session>, ProcedureError> {
    let attempts = attempts.max(1);
    let mut last = None;
    for attempt in 1..=attempts {
        // On a helper thread, so that a signal ends the login at once (the
        // connector bounds it anyway).
        let (tx, rx) = mpsc::channel();
        let (co, name) = (Arc::clone(connector), host.to_owned());
        std::thread::spawn(move || {
            let _ = tx.send(co.connect(me, &name));
        });
        let answer = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(answer) => break answer,
                Err(mpsc::RecvTimeoutError::Timeout) if interrupted.load(Ordering::SeqCst) => return Err(ProcedureError::Interrupted),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break Err(Absence::ConnectFailed("the connection thread ended".into())),
            }
        };
        match answer {
            Ok(session) => {
                emit!(sink, Info, "akuObserve", Some(me), None, "Connected to the local server {host}.");
                return Ok(session);
            }
            // Retrying cannot help: the password, the user or the driver is wrong.
            Err(Absence::LoginRefused(detail)) => return Err(ProcedureError::LoginRefused { host: host.to_owned(), detail }),
            Err(Absence::DriverUnavailable(detail)) => return Err(ProcedureError::DriverUnavailable { detail }),
            Err(absence) => {
                emit!(
                    sink,
                    Info,
                    "akuObserve",
                    Some(me),
                    None,
                    "Local server {host} not reachable yet (attempt {attempt}/{attempts}): {}.",
                    absence.detail()
                );
                last = Some(absence);
                if attempt < attempts {
                    let until = Instant::now() + Duration::from_secs(1);
                    while Instant::now() < until {
                        if interrupted.load(Ordering::SeqCst) {
                            return Err(ProcedureError::Interrupted);
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
        }
    }
    Err(ProcedureError::LocalUnreachable {
        host: host.to_owned(),
        attempts,
        reason: last.map(|a| a.detail().to_owned()).unwrap_or_default(),
    })
}

/// Reads the local server's state under a client-side deadline (`AKU_QUERY_TIMEOUT`
/// plus 5 s): a server that logged in and then went silent ends
/// the run as unreachable instead of holding it. Returns the session with the state.
fn observe_local(
    config: &Config,
    backend: &Arc<dyn Backend>,
    me: ServerId,
    host: &str,
    mut session: Box<dyn Session>,
    interrupted: &AtomicBool,
) -> Result<(Box<dyn Session>, ServerState), ProcedureError> {
    let (tx, rx) = mpsc::channel();
    let (cfg, be) = (config.clone(), Arc::clone(backend));
    std::thread::spawn(move || {
        let state = be.observe(&cfg, me, session.as_mut());
        let _ = tx.send(state.map(|s| (session, s)));
    });
    let limit = Duration::from_secs(u64::from(config.query_timeout_s)) + OBSERVE_GRACE;
    let until = Instant::now() + limit;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(error)) => return Err(ProcedureError::LocalUnreadable { host: host.to_owned(), error }),
            Err(mpsc::RecvTimeoutError::Timeout) if interrupted.load(Ordering::SeqCst) => return Err(ProcedureError::Interrupted),
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() > until => {
                return Err(ProcedureError::LocalUnreachable {
                    host: host.to_owned(),
                    attempts: 1,
                    reason: format!("it logged in, then reading its state took longer than {} s", limit.as_secs()),
                });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Err(ProcedureError::Internal("the observe thread ended".into())),
        }
    }
}

/// Warns, for every reachable server, about each replication whose peer is absent
/// but which still holds a restart point: that server keeps log for a pod that
/// may be gone for good (spec 5.7). `aku -p reset --peer N` clears it.
pub fn warn_orphans(config: &Config, obs: &Observation, sink: &dyn EventSink) {
    let mut servers = vec![obs.me];
    servers.extend(obs.reachable_peers());
    for server in servers {
        let Some(state) = obs.server(server) else { continue };
        for (key, repl) in &state.replications {
            let peer = key.pair.other(server);
            if repl.live() && !obs.reachable(peer) {
                let name = topology::replication_name(&config.groups[key.group].prefix, key.pair);
                let retained = state.retained_bytes.get(key).map_or_else(|| "log".to_owned(), |b| format!("{b} bytes of log"));
                if peer.is_master() {
                    // The master's end keeps the restart points on purpose: its next start catches up.
                    emit!(
                        sink,
                        Info,
                        "akuObserve",
                        Some(server),
                        Some(name),
                        "The MASTER Pod is absent; this replication keeps its restart point: {retained} retained until it returns."
                    );
                    continue;
                }
                emit!(
                    sink,
                    Warn,
                    "akuObserve",
                    Some(server),
                    Some(name),
                    "Pod {peer} is absent but this replication was not reset: {retained} retained for it. \
                     If the pod is gone for good, run aku -p reset --peer {peer}."
                );
            }
        }
    }
}
