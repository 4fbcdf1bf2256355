//! One procedure runner: observe → warn about orphans → decide → (print the
//! plan, for `--dry-run`) → announce → execute → update the marker → the exit
//! code. `run.rs` and the SQL transcript tests both call it, so the transcripts
//! exercise the production path. Every line is an event; nothing is printed here.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::config::Config;
use crate::emit;
use crate::exit_code;
use crate::lifecycle::decide::{Intent, decide};
use crate::lifecycle::error::{ProcedureError, RunError};
use crate::lifecycle::events::EventSink;
use crate::lifecycle::execute::{Concurrency, Executor};
use crate::lifecycle::observe::{Sessions, observe, warn_orphans};
use crate::lifecycle::plan::MarkerChange;
use crate::lifecycle::port::{Absence, Backend, Connector};
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

/// Runs `run.intent` on server `me`: observes the cluster through `connector`, then
/// [`run_observed`].
pub fn run_procedure(run: &Run, connector: &Arc<dyn Connector>, me: ServerId) -> Result<Outcome, RunError> {
    let attempts = run.intent.local_attempts(&run.config);
    let marker_present = marker::exists(&run.marker);
    let (obs, sessions) = observe(&run.config, &run.backend, connector, me, marker_present, attempts, &run.sink)?;
    run_observed(run, &obs, sessions)
}

/// Decides and executes `run.intent` on an observed cluster, with a session per
/// reachable server.
pub fn run_observed(run: &Run, obs: &Observation, sessions: Sessions) -> Result<Outcome, RunError> {
    warn_orphans(&run.config, obs, run.sink.as_ref());
    let marker_text = run.marker.display().to_string();
    let plan = decide(&run.config, run.backend.capabilities(), run.intent, obs, &marker_text)?;
    if run.dry_run {
        return Ok(Outcome::Planned { text: render::render_plan(&run.config, run.backend.as_ref(), obs, &plan, &marker_text) });
    }
    emit!(run.sink, Info, "akuRun", None, None, "{}", plan.announcement);
    let executor = Executor::new(
        Arc::clone(&run.config),
        Arc::clone(&run.backend),
        sessions,
        Arc::clone(&run.sink),
        run.concurrency,
        Arc::clone(&run.interrupted),
    );
    executor.run(&plan)?;
    let written = match plan.marker {
        MarkerChange::Write => marker::write(&run.marker),
        MarkerChange::Remove => marker::remove(&run.marker),
        MarkerChange::Keep => Ok(()),
    };
    written.map_err(|source| ProcedureError::Marker { path: marker_text, source })?;
    // A peer that resolved but did not answer kept its side unchanged: say so in the
    // exit code (a start or recovery already planned around it).
    let unanswered = obs.peers.values().any(|p| matches!(p, PeerState::Absent(Absence::Unanswered(_))));
    let code = if unanswered && !run.intent.starts_pod() { exit_code::PEER_UNANSWERED } else { exit_code::SUCCESS };
    Ok(Outcome::Completed { code, marker: plan.marker })
}
