//! One procedure runner: observe → warn about orphans → decide → (print the
//! plan, for `--dry-run`) → announce → execute → update the marker → the exit
//! code. `run.rs` and the SQL transcript tests both call it, so the transcripts
//! exercise the production path. Every line is an event; nothing is printed here.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::emit;
use crate::exit_code;
use crate::lifecycle::decide::{Intent, Refusal, decide};
use crate::lifecycle::error::{ProcedureError, RunError};
use crate::lifecycle::events::EventSink;
use crate::lifecycle::execute::{Concurrency, Executor};
use crate::lifecycle::observe::{Sessions, observe, observe_peers, warn_orphans};
use crate::lifecycle::plan::MarkerChange;
use crate::lifecycle::port::{Backend, Connector};
use crate::lifecycle::state::{Observation, PeerState};
use crate::lifecycle::{marker, render};
use crate::topology::ServerId;

/// What to run, and with what.
#[derive(Clone)]
pub struct Run {
    pub config: Arc<Config>,
    pub backend: Arc<dyn Backend>,
    pub intent: Intent,
    /// The start-completion marker (`/tmp/aku_start_completed`, or `AKU_MARKER_FILE`).
    pub marker: PathBuf,
    /// Observe and decide only; return the plan as text.
    pub dry_run: bool,
    /// Set by SIGTERM/SIGINT.
    pub interrupted: Arc<AtomicBool>,
    pub concurrency: Concurrency,
    pub sink: Arc<dyn EventSink>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run").field("intent", &self.intent).field("dry_run", &self.dry_run).finish_non_exhaustive()
    }
}

/// How a run ended, when it was not refused and did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The plan ran to its end: the exit code ([`exit_code::SUCCESS`], or
    /// [`exit_code::PEER_UNANSWERED`]) and what was done to the marker.
    Completed { code: i32, marker: MarkerChange },
    /// `--dry-run`: the plan as text; nothing was changed.
    Planned { text: String },
}

/// How long a start waits for a peer that resolves but does not answer before it
/// refuses a join (the peer may be running: a join without it would miss its rows).
pub const UNANSWERED_WAIT: Duration = Duration::from_secs(60);

/// Runs `run.intent` on server `me`: observes the cluster through `connector`, then
/// [`run_observed`]. A join that a peer's silence refuses observes that peer again
/// every 2 s for up to [`UNANSWERED_WAIT`] first (a signal ends the wait); after
/// such a wait every server is observed again before the decision.
pub fn run_procedure(run: &Run, connector: &Arc<dyn Connector>, me: ServerId) -> Result<Outcome, RunError> {
    let marker_present = marker::exists(&run.marker);
    let (mut obs, mut sessions) = observe(run, connector, me, marker_present)?;
    let started = Instant::now();
    let mut last_note: Option<Instant> = None;
    let mut waited = false;
    loop {
        let decided = decide(&run.config, run.backend.capabilities(), run.intent, &obs, &run.marker.display().to_string());
        let (server, host, why) = match decided {
            Err(Refusal::PeerUnanswered { server, host, .. }) => (server, host, "to answer"),
            Err(Refusal::PeerAway { server, host }) => (server, host, "to return (it may hold rows the copy source does not have)"),
            _ => break,
        };
        if started.elapsed() >= UNANSWERED_WAIT || run.dry_run || run.interrupted.load(Ordering::SeqCst) {
            // A silent peer keeps the join refused; one that stays down is joined without.
            obs.absent_waited = true;
            if run.interrupted.load(Ordering::SeqCst) {
                return Err(ProcedureError::Interrupted.into());
            }
            break;
        }
        if last_note.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            last_note = Some(Instant::now());
            emit!(
                run.sink,
                Info,
                "akuObserve",
                Some(server),
                None,
                "Waiting for peer {host} {why} before the join (at most {} s).",
                UNANSWERED_WAIT.as_secs()
            );
        }
        waited = true;
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until && !run.interrupted.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let away: Vec<ServerId> = obs.peers.iter().filter(|(_, p)| matches!(p, PeerState::Absent(_))).map(|(id, _)| *id).collect();
        obs.peers.extend(observe_peers(&run.config, &run.backend, connector, &away, &mut sessions, &run.sink));
    }
    if waited {
        // The state read before the wait is up to a minute old: workers started or
        // stopped, positions moved. Decide on what the servers hold now.
        emit!(run.sink, Info, "akuObserve", None, None, "Reading the state of every server again after the wait.");
        let absent_waited = obs.absent_waited;
        drop(sessions);
        (obs, sessions) = observe(run, connector, me, marker_present)?;
        obs.absent_waited = absent_waited;
    }
    run_observed(run, &obs, sessions)
}

/// Decides and executes `run.intent` on an observed cluster, with a session per
/// reachable server.
pub fn run_observed(run: &Run, obs: &Observation, sessions: Sessions) -> Result<Outcome, RunError> {
    warn_orphans(&run.config, obs, run.sink.as_ref());
    let marker_text = run.marker.display().to_string();
    let caps = run.backend.capabilities();
    let plan = decide(&run.config, caps, run.intent, obs, &marker_text)?;
    warn_items_differ(run, caps.item_key, &plan);
    // Steps are translated with the items in force (the MASTER Pod's table set).
    let effective = Arc::new(plan.effective_config(&run.config));
    if run.dry_run {
        return Ok(Outcome::Planned { text: render::render_plan(&effective, run.backend.as_ref(), obs, &plan, &marker_text) });
    }
    emit!(run.sink, Info, plan.procedure.func(), None, None, "{}", plan.announcement);
    let executor =
        Executor::new(effective, Arc::clone(&run.backend), sessions, Arc::clone(&run.sink), run.concurrency, Arc::clone(&run.interrupted));
    executor.run(&plan)?;
    let written = match plan.marker {
        MarkerChange::Write => marker::write(&run.marker),
        MarkerChange::Remove => marker::remove(&run.marker),
        MarkerChange::Keep => Ok(()),
    };
    written.map_err(|source| ProcedureError::Marker { path: marker_text, source })?;
    // A peer that resolved but did not answer kept its side unchanged: say so in the
    // exit code (a start or recovery already planned around it).
    let unanswered = obs.peers.values().any(|p| matches!(p, PeerState::Absent(a) if a.may_be_running()));
    let code = if unanswered && !run.intent.starts_pod() { exit_code::PEER_UNANSWERED } else { exit_code::SUCCESS };
    Ok(Outcome::Completed { code, marker: plan.marker })
}

/// Warns when this pod's REPLICATIONS list other tables than the items in force
/// (the MASTER Pod's): the master's win until it starts with this configuration.
fn warn_items_differ(run: &Run, key: fn(&crate::config::ReplicationItem) -> String, plan: &crate::lifecycle::plan::Plan) {
    for (group, in_force) in run.config.groups.iter().zip(&plan.items) {
        let mine: std::collections::BTreeSet<String> = group.items.iter().map(key).collect();
        let theirs: std::collections::BTreeSet<String> = in_force.iter().map(key).collect();
        if mine == theirs {
            continue;
        }
        let mut diff: Vec<String> = mine.difference(&theirs).map(|k| format!("+{k}")).collect();
        diff.extend(theirs.difference(&mine).map(|k| format!("-{k}")));
        emit!(
            run.sink,
            Warn,
            "akuRun",
            None,
            Some(group.prefix.clone()),
            "REPLICATIONS of this pod's aku.conf differ from the MASTER Pod's replication ({}): the MASTER Pod's tables are \
             replicated until it starts with this configuration.",
            diff.join(" ")
        );
    }
}
