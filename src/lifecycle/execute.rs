//! The *execute* stage: runs a plan's phases in order. Within a phase, the
//! steps of each server form a track; tracks run concurrently (or one after
//! another, for deterministic transcripts). Every statement is retried
//! `AKU_QUERY_RETRY_COUNT` times `AKU_QUERY_RETRY_DELAY_MSEC` apart and bounded
//! by `AKU_QUERY_TIMEOUT` on the server and by a client-side deadline.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::backend::{Backend, ErrorClass, Op, OpKind, Severity};
use crate::config::Config;
use crate::emit;
use crate::lifecycle::events::EventSink;
use crate::lifecycle::observe::Sessions;
use crate::lifecycle::plan::{Phase, Plan, Step};
use crate::lifecycle::state::Observation;
use crate::lifecycle::{ProcedureError, StepFailure};
use crate::odbc::{DbError, Session};
use crate::topology::{self, ServerId};

const FUNC: &str = "akuExecute";

/// Extra client-side time over `AKU_QUERY_TIMEOUT` before a silent server is given up.
const CLIENT_GRACE: Duration = Duration::from_secs(30);

/// How tracks of a phase are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// Tracks on different servers at the same time (normal runs).
    Parallel,
    /// One track after another in plan order (transcripts).
    Sequential,
}

/// Everything the execute stage needs.
#[derive(Clone)]
pub struct Executor {
    pub config: Arc<Config>,
    pub backend: Arc<dyn Backend>,
    pub sessions: Sessions,
    pub sink: Arc<dyn EventSink>,
    pub concurrency: Concurrency,
    /// Set by SIGTERM/SIGINT: finish the current step, then stop.
    pub interrupted: Arc<AtomicBool>,
    /// Values captured by `Capture` operations, shared by all tracks.
    pub vars: Arc<Mutex<HashMap<String, String>>>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").field("concurrency", &self.concurrency).finish_non_exhaustive()
    }
}

impl Executor {
    /// Runs every phase of `plan`. The marker is not touched here.
    pub fn run(&self, plan: &Plan, obs: &Arc<Observation>) -> Result<(), ProcedureError> {
        for phase in &plan.phases {
            emit!(self.sink, Info, "akuRunPhase", None, None, "{}", phase.begin);
            self.run_phase(phase, obs)?;
            emit!(self.sink, Info, "akuRunPhase", None, None, "{}", phase.end);
            if self.interrupted.load(Ordering::SeqCst) {
                return Err(ProcedureError::Interrupted);
            }
        }
        Ok(())
    }

    fn run_phase(&self, phase: &Phase, obs: &Arc<Observation>) -> Result<(), ProcedureError> {
        // Tracks in order of first appearance, each keeping its steps' order.
        let mut order: Vec<ServerId> = Vec::new();
        let mut tracks: BTreeMap<ServerId, Vec<Step>> = BTreeMap::new();
        for step in &phase.steps {
            if !tracks.contains_key(&step.server) {
                order.push(step.server);
            }
            tracks.entry(step.server).or_default().push(step.clone());
        }
        let mut failures = Vec::new();
        let mut interrupted = false;
        let handles: Vec<_> = order
            .iter()
            .map(|server| {
                let steps = tracks.remove(server).unwrap_or_default();
                let handle = self.spawn_track(steps, Arc::clone(obs));
                if self.concurrency == Concurrency::Sequential {
                    let result = handle.wait();
                    (*server, TrackHandle::Done(result))
                } else {
                    (*server, handle)
                }
            })
            .collect();
        for (_, handle) in handles {
            match handle.wait() {
                Ok(()) => {}
                Err(ProcedureError::Interrupted) => interrupted = true,
                Err(e) => failures.push(e),
            }
        }
        if let Some(first) = failures.into_iter().next() {
            return Err(first);
        }
        if interrupted {
            return Err(ProcedureError::Interrupted);
        }
        Ok(())
    }

    fn spawn_track(&self, steps: Vec<Step>, obs: Arc<Observation>) -> TrackHandle {
        let host = steps.first().map(|s| topology::host_of(&self.config, s.server)).unwrap_or_default();
        let (tx, rx) = mpsc::channel();
        let deadline = Arc::new(Mutex::new(None::<Instant>));
        let this = self.clone();
        let track_deadline = Arc::clone(&deadline);
        std::thread::spawn(move || {
            let result = this.run_track(&steps, &obs, &track_deadline);
            let _ = tx.send(result);
        });
        TrackHandle::Running { rx, deadline, host }
    }

    fn run_track(&self, steps: &[Step], obs: &Observation, deadline: &Mutex<Option<Instant>>) -> Result<(), ProcedureError> {
        for step in steps {
            if self.interrupted.load(Ordering::SeqCst) {
                return Err(ProcedureError::Interrupted);
            }
            let repl = self.replication_of(step);
            let mut failed = None;
            for op in self.backend.expand(&self.config, obs, step) {
                if failed.is_some() && !op.finally {
                    continue;
                }
                if let Err(e) = self.run_op(&op, repl.as_deref(), deadline) {
                    failed.get_or_insert(e);
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(())
    }

    fn replication_of(&self, step: &Step) -> Option<String> {
        let (group, pair) = step.action.group_pair()?;
        let prefix = &self.config.groups.get(group)?.prefix;
        Some(pair.map_or_else(|| prefix.clone(), |pair| topology::replication_name(prefix, pair)))
    }

    fn fill(&self, sql: &str) -> String {
        let vars = self.vars.lock().expect("vars lock");
        let mut out = sql.to_owned();
        for (k, v) in vars.iter() {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }

    fn run_op(&self, op: &Op, repl: Option<&str>, deadline: &Mutex<Option<Instant>>) -> Result<(), ProcedureError> {
        let timeout_s = self.config.query_timeout_s;
        match &op.kind {
            OpKind::Sleep { seconds } => {
                std::thread::sleep(Duration::from_secs(u64::from(*seconds)));
                return Ok(());
            }
            OpKind::Skip { note, warn } => {
                if *warn {
                    emit!(self.sink, Warn, FUNC, Some(op.server), repl.map(str::to_owned), "{note}");
                } else {
                    emit!(self.sink, Info, FUNC, Some(op.server), repl.map(str::to_owned), "{note}");
                }
                return Ok(());
            }
            OpKind::WaitUntil { sql, what, progress_sql, timeout_s: wait_s } => {
                let progress = progress_sql.as_deref().map(|p| self.fill(p));
                let wait = Wait { sql: &self.fill(sql), what, progress_sql: progress.as_deref(), limit_s: *wait_s };
                return self.wait_until(op, repl, &wait, deadline);
            }
            OpKind::Exec { .. } | OpKind::Capture { .. } => {}
        }
        let sql = self.fill(op.sql().unwrap_or_default());
        if let Some(name) = unfilled_placeholder(&sql) {
            // The statement that reads this value failed before: never send the text.
            let error = DbError::new("HY000", 0, format!("the value {{{name}}} was not read (an earlier statement failed)"));
            if op.finally {
                emit!(self.sink, Warn, FUNC, Some(op.server), repl.map(str::to_owned), "Skipped: {sql} ({error})");
                return Ok(());
            }
            return Err(self.failure(op.server, repl, &sql, error, ErrorClass::Other));
        }
        let session = self.session(op.server, &sql, repl)?;
        let retries = self.config.query_retry_count;
        let mut attempt = 0u32;
        loop {
            *deadline.lock().expect("deadline lock") = Some(Instant::now() + Duration::from_secs(u64::from(timeout_s)) + CLIENT_GRACE);
            let result = {
                let mut s = session.lock().expect("session lock");
                match &op.kind {
                    OpKind::Capture { var, .. } => s.query(&sql, timeout_s).map(|rows| {
                        let value = rows.into_iter().next().and_then(|r| r.into_iter().next()).flatten().unwrap_or_default();
                        self.vars.lock().expect("vars lock").insert(var.clone(), value);
                    }),
                    _ => s.execute(&sql, timeout_s),
                }
            };
            *deadline.lock().expect("deadline lock") = None;
            let Err(error) = result else { return Ok(()) };
            let class = self.backend.classify(&error);
            if let Some(t) = op.tolerate.iter().find(|t| t.class == class) {
                match t.severity {
                    Severity::Info => emit!(self.sink, Info, FUNC, Some(op.server), repl.map(str::to_owned), "{} ({error})", t.note),
                    Severity::Warn => emit!(self.sink, Warn, FUNC, Some(op.server), repl.map(str::to_owned), "{} ({error})", t.note),
                }
                return Ok(());
            }
            if attempt >= retries || self.interrupted.load(Ordering::SeqCst) {
                return Err(self.failure(op.server, repl, &sql, error, class));
            }
            attempt += 1;
            emit!(
                self.sink,
                Warn,
                FUNC,
                Some(op.server),
                repl.map(str::to_owned),
                "Statement failed, retry {attempt}/{retries} in {} ms: {sql} ({error})",
                self.config.query_retry_delay_ms
            );
            std::thread::sleep(Duration::from_millis(u64::from(self.config.query_retry_delay_ms)));
        }
    }

    fn session(&self, server: ServerId, sql: &str, repl: Option<&str>) -> Result<&Arc<Mutex<Box<dyn Session>>>, ProcedureError> {
        self.sessions.get(&server).ok_or_else(|| {
            let error = DbError::new("08003", 0, "no session to this server: it was absent when the plan was decided");
            self.failure(server, repl, sql, error, ErrorClass::Other)
        })
    }

    fn failure(&self, server: ServerId, repl: Option<&str>, sql: &str, error: DbError, class: ErrorClass) -> ProcedureError {
        emit!(self.sink, Error, FUNC, Some(server), repl.map(str::to_owned), "{sql} failed: {error}");
        ProcedureError::StepFailed(Box::new(StepFailure {
            server,
            host: topology::host_of(&self.config, server),
            replication: repl.map(str::to_owned),
            sql: sql.to_owned(),
            error,
            class,
        }))
    }

    fn wait_until(&self, op: &Op, repl: Option<&str>, wait: &Wait<'_>, deadline: &Mutex<Option<Instant>>) -> Result<(), ProcedureError> {
        let (server, sql) = (op.server, wait.sql);
        let session = self.session(server, sql, repl)?;
        let start = Instant::now();
        let limit = Duration::from_secs(u64::from(wait.limit_s));
        // Progress is reported on the first poll that is not done, then every 5 s.
        let mut last_progress: Option<Instant> = None;
        let poll_timeout = self.config.query_timeout_s.min(60);
        loop {
            *deadline.lock().expect("deadline lock") = Some(Instant::now() + Duration::from_secs(u64::from(poll_timeout)) + CLIENT_GRACE);
            let rows = session.lock().expect("session lock").query(sql, poll_timeout);
            *deadline.lock().expect("deadline lock") = None;
            let done = match rows {
                Ok(rows) => {
                    rows.first().and_then(|r| r.first()).cloned().flatten().is_some_and(|v| matches!(v.as_str(), "t" | "true" | "1"))
                }
                Err(error) => {
                    let class = self.backend.classify(&error);
                    return Err(self.failure(server, repl, sql, error, class));
                }
            };
            if done {
                return Ok(());
            }
            if start.elapsed() >= limit {
                let error = DbError::new("57014", 0, format!("{}: not reached within {} s", wait.what, wait.limit_s));
                if let Some(t) = op.tolerate.iter().find(|t| t.class == ErrorClass::FlushTimeout) {
                    emit!(self.sink, Warn, FUNC, Some(server), repl.map(str::to_owned), "{} ({error})", t.note);
                    return Ok(());
                }
                return Err(self.failure(server, repl, sql, error, ErrorClass::FlushTimeout));
            }
            if let Some(progress) = wait.progress_sql {
                if last_progress.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                    last_progress = Some(Instant::now());
                    if let Ok(rows) = session.lock().expect("session lock").query(progress, poll_timeout) {
                        let text = rows.first().and_then(|r| r.first()).cloned().flatten().unwrap_or_default();
                        emit!(self.sink, Info, "akuProgress", Some(server), repl.map(str::to_owned), "{}: {text}", wait.what);
                    }
                }
            }
            // Short waits are common (a release, a feedback round): poll fast first.
            let pause = if start.elapsed() < Duration::from_secs(2) { 100 } else { 500 };
            std::thread::sleep(Duration::from_millis(pause));
        }
    }
}

/// The name of the first `{name}` placeholder left in `sql` (names are letters,
/// digits, `_` and `.`; aku's SQL has no other braces).
fn unfilled_placeholder(sql: &str) -> Option<&str> {
    let mut rest = sql;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let len = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(after.len());
        if len > 0 && after[len..].starts_with('}') {
            return Some(&after[..len]);
        }
        rest = after;
    }
    None
}

/// The fields of a `WaitUntil` operation, with placeholders filled.
struct Wait<'a> {
    sql: &'a str,
    what: &'a str,
    progress_sql: Option<&'a str>,
    limit_s: u32,
}

/// A running (or finished) track.
enum TrackHandle {
    Running { rx: mpsc::Receiver<Result<(), ProcedureError>>, deadline: Arc<Mutex<Option<Instant>>>, host: String },
    Done(Result<(), ProcedureError>),
}

impl TrackHandle {
    /// Waits for the track; gives up on it when its current operation passed
    /// its client-side deadline (a frozen server), leaving the thread behind.
    fn wait(self) -> Result<(), ProcedureError> {
        match self {
            TrackHandle::Done(result) => result,
            TrackHandle::Running { rx, deadline, host } => loop {
                match rx.recv_timeout(Duration::from_millis(200)) {
                    Ok(result) => return result,
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Err(ProcedureError::Internal("a step thread ended without a result".into()));
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let passed = deadline.lock().expect("deadline lock").is_some_and(|d| Instant::now() > d);
                        if passed {
                            return Err(ProcedureError::ServerSilent { host });
                        }
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unfilled_placeholder;

    #[test]
    fn placeholders_left_in_sql_are_found() {
        assert_eq!(unfilled_placeholder("ALTER SYSTEM SET X = {server2.REPLICATION_DDL_ENABLE}"), Some("server2.REPLICATION_DDL_ENABLE"));
        assert_eq!(unfilled_placeholder("SELECT '{}', '{ x }'"), None);
        assert_eq!(unfilled_placeholder("ALTER SYSTEM SET X = 0"), None);
    }
}
