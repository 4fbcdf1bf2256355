//! The *execute* stage: runs a plan's phases in order. Within a phase, the
//! steps of each server form a track; tracks run concurrently (or one after
//! another, for deterministic transcripts). A step holds the sessions of every
//! server its operations touch, taken in ascending server order before any
//! deadline is armed. Every statement is retried `AKU_QUERY_RETRY_COUNT` times
//! `AKU_QUERY_RETRY_DELAY_MSEC` apart and bounded by `AKU_QUERY_TIMEOUT` on the
//! server and by a client-side deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::emit;
use crate::lifecycle::error::{ProcedureError, StepFailure};
use crate::lifecycle::events::EventSink;
use crate::lifecycle::observe::Sessions;
use crate::lifecycle::plan::{Phase, Plan, Step};
use crate::lifecycle::port::{Backend, ErrorClass, Op, OpKind, Severity, Tolerance};
use crate::lifecycle::sql::{Captures, Sql, Value};
use crate::odbc::{DbError, Session};
use crate::topology::{self, ServerId};

const FUNC: &str = "akuExecute";

/// Extra client-side time over a statement's own timeout before a silent server is given up.
pub const CLIENT_GRACE: Duration = Duration::from_secs(30);

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
    pub captures: Arc<Captures>,
    /// Client-side time allowed over a statement's own timeout ([`CLIENT_GRACE`]).
    pub client_grace: Duration,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").field("concurrency", &self.concurrency).finish_non_exhaustive()
    }
}

/// The sessions a step holds, by server.
type Held<'a> = BTreeMap<ServerId, MutexGuard<'a, Box<dyn Session>>>;

/// What a track is doing now, as its watcher (`TrackHandle::wait`) sees it.
#[derive(Debug, Default)]
struct TrackState {
    /// The client-side deadline of the statement running now, and its server's host.
    deadline: Option<(Instant, String)>,
    /// The operation running now is a wait, which a signal ends at once.
    waiting: bool,
}

type Deadline = Arc<Mutex<TrackState>>;

impl Executor {
    /// An executor with no captured value yet and the default client grace.
    pub fn new(
        config: Arc<Config>,
        backend: Arc<dyn Backend>,
        sessions: Sessions,
        sink: Arc<dyn EventSink>,
        concurrency: Concurrency,
        interrupted: Arc<AtomicBool>,
    ) -> Executor {
        Executor { config, backend, sessions, sink, concurrency, interrupted, captures: Arc::default(), client_grace: CLIENT_GRACE }
    }

    /// Runs every phase of `plan`. The marker is not touched here.
    pub fn run(&self, plan: &Plan) -> Result<(), ProcedureError> {
        for phase in &plan.phases {
            let func = if phase.original() { plan.procedure.func() } else { "akuRunPhase" };
            emit!(self.sink, Info, func, None, None, "{}", phase.begin);
            self.run_phase(phase)?;
            emit!(self.sink, Info, func, None, None, "{}", phase.end);
            if self.interrupted.load(Ordering::SeqCst) {
                return Err(ProcedureError::Interrupted);
            }
        }
        Ok(())
    }

    fn run_phase(&self, phase: &Phase) -> Result<(), ProcedureError> {
        // Tracks in order of first appearance, each keeping its steps' order.
        let mut order: Vec<ServerId> = Vec::new();
        let mut tracks: BTreeMap<ServerId, Vec<Step>> = BTreeMap::new();
        for step in &phase.steps {
            if !tracks.contains_key(&step.server) {
                order.push(step.server);
            }
            tracks.entry(step.server).or_default().push(step.clone());
        }
        let handles: Vec<TrackHandle> = order
            .iter()
            .map(|server| {
                let handle = self.spawn_track(tracks.remove(server).unwrap_or_default());
                if self.concurrency == Concurrency::Sequential { TrackHandle::Done(handle.wait()) } else { handle }
            })
            .collect();
        let mut failures = Vec::new();
        let mut interrupted = false;
        for handle in handles {
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

    fn spawn_track(&self, steps: Vec<Step>) -> TrackHandle {
        let (tx, rx) = mpsc::channel();
        let deadline: Deadline = Arc::default();
        let (this, track_deadline) = (self.clone(), Arc::clone(&deadline));
        std::thread::spawn(move || {
            let _ = tx.send(this.run_track(&steps, &track_deadline));
        });
        TrackHandle::Running { rx, deadline, interrupted: Arc::clone(&self.interrupted) }
    }

    fn run_track(&self, steps: &[Step], deadline: &Deadline) -> Result<(), ProcedureError> {
        for step in steps {
            if self.interrupted.load(Ordering::SeqCst) {
                return Err(ProcedureError::Interrupted);
            }
            self.run_step(step, deadline)?;
        }
        Ok(())
    }

    /// Runs one step: takes the sessions of every server its operations touch (in
    /// ascending order), then runs the operations; after a failure only the
    /// `finally` operations still run.
    fn run_step(&self, step: &Step, deadline: &Deadline) -> Result<(), ProcedureError> {
        let repl = self.replication_of(step);
        let ops = self.backend.expand(&self.config, step);
        let servers: BTreeSet<ServerId> = ops.iter().flat_map(Op::servers).collect();
        let mut held = Held::new();
        for server in servers {
            let Some(session) = self.sessions.get(&server) else {
                let sql = ops.iter().find(|o| o.server == server).and_then(Op::sql).map(Sql::template).unwrap_or_default();
                emit!(self.sink, Error, FUNC, Some(server), repl.clone(), "{sql} not sent: no session to this server");
                return Err(ProcedureError::NoSession { server, host: self.host(server), sql });
            };
            held.insert(server, session.lock().expect("session lock"));
        }
        let mut failed = None;
        for op in &ops {
            if failed.is_some() && !op.finally {
                continue;
            }
            deadline.lock().expect("track state lock").waiting = op.waits;
            let result = self.run_op(op, &mut held, repl.as_deref(), deadline);
            deadline.lock().expect("track state lock").waiting = false;
            if let Err(e) = result {
                failed.get_or_insert(e);
            }
        }
        failed.map_or(Ok(()), Err)
    }

    fn replication_of(&self, step: &Step) -> Option<String> {
        let (group, pair) = step.action.group_pair()?;
        let prefix = &self.config.groups.get(group)?.prefix;
        Some(pair.map_or_else(|| prefix.clone(), |pair| topology::replication_name(prefix, pair)))
    }

    fn host(&self, server: ServerId) -> String {
        topology::host_of(&self.config, server)
    }

    fn note(&self, server: ServerId, repl: Option<&str>, severity: Severity, text: &str) {
        match severity {
            Severity::Info => emit!(self.sink, Info, FUNC, Some(server), repl.map(str::to_owned), "{text}"),
            Severity::Warn => emit!(self.sink, Warn, FUNC, Some(server), repl.map(str::to_owned), "{text}"),
        }
    }

    fn run_op(&self, op: &Op, held: &mut Held<'_>, repl: Option<&str>, deadline: &Deadline) -> Result<(), ProcedureError> {
        let sql = match &op.kind {
            OpKind::Sleep { seconds } => {
                self.sleep(Duration::from_secs(u64::from(*seconds)));
                return Ok(());
            }
            OpKind::Skip { note, warn } => {
                self.note(op.server, repl, if *warn { Severity::Warn } else { Severity::Info }, note);
                return Ok(());
            }
            OpKind::Exec { sql } | OpKind::Capture { sql, .. } | OpKind::WaitUntil { sql, .. } => sql,
        };
        let text = match sql.render(&self.captures) {
            Ok(text) => text,
            Err(var) => {
                // The statement that reads this value failed before: never send the text.
                let reason = "an earlier statement failed";
                if op.finally {
                    let note = format!("Skipped: {} (the value {var} was not read: {reason})", sql.template());
                    self.note(op.server, repl, Severity::Warn, &note);
                    return Ok(());
                }
                return Err(self.missing(op.server, repl, &var.to_string(), reason.to_owned()));
            }
        };
        if let OpKind::WaitUntil { what, progress, timeout_s, watch, .. } = &op.kind {
            let missing =
                |var: crate::lifecycle::sql::Var| self.missing(op.server, repl, &var.to_string(), "an earlier statement failed".into());
            let progress = progress.as_ref().map(|p| p.render(&self.captures)).transpose().map_err(missing)?;
            let watch = watch
                .iter()
                .map(|w| w.sql.render(&self.captures).map(|sql| (w.server, sql)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(missing)?;
            let wait = Wait { sql: &text, what, progress: progress.as_deref(), limit_s: *timeout_s, watch: &watch };
            return self.wait_until(op, held, repl, &wait, deadline);
        }
        let session = held.get_mut(&op.server).expect("the step holds a session to every server it touches");
        match &op.kind {
            OpKind::Capture { into, .. } => {
                let rows = self.with_retries(op, session.as_mut(), repl, &text, deadline, |s, t| s.query(&text, t))?;
                let Some(rows) = rows else { return Ok(()) };
                let Some(found) = rows.first().and_then(|r| r.text(0)) else {
                    return Err(self.missing(op.server, repl, &into.to_string(), format!("the query returned no value: {text}")));
                };
                let value = Value::parse(into.kind, found).map_err(|e| self.missing(op.server, repl, &into.to_string(), e))?;
                self.captures.set(into, value);
                Ok(())
            }
            _ => self.with_retries(op, session.as_mut(), repl, &text, deadline, |s, t| s.execute(&text, t)).map(|_| ()),
        }
    }

    /// Runs `call` with the retries and tolerances of `op`. `Ok(None)` means an
    /// error the operation tolerates (logged).
    fn with_retries<T>(
        &self,
        op: &Op,
        session: &mut dyn Session,
        repl: Option<&str>,
        sql: &str,
        deadline: &Deadline,
        call: impl Fn(&mut dyn Session, u32) -> Result<T, DbError>,
    ) -> Result<Option<T>, ProcedureError> {
        let timeout_s = self.config.query_timeout_s;
        let retries = self.config.query_retry_count;
        let mut attempt = 0u32;
        loop {
            let result = self.bounded(deadline, op.server, timeout_s, || call(session, timeout_s));
            let error = match result {
                Ok(value) => return Ok(Some(value)),
                Err(error) => error,
            };
            let class = self.backend.classify(&error);
            if let Some(t) = tolerance(&op.tolerate, class) {
                self.note(op.server, repl, t.severity, &format!("{} ({error})", t.note));
                return Ok(None);
            }
            if attempt >= retries || self.interrupted.load(Ordering::SeqCst) {
                return Err(self.failure(op.server, repl, sql, error, class));
            }
            attempt += 1;
            let delay = self.config.query_retry_delay_ms;
            let note = format!("Statement failed, retry {attempt}/{retries} in {delay} ms: {sql} ({error})");
            self.note(op.server, repl, Severity::Warn, &note);
            self.sleep(Duration::from_millis(u64::from(delay)));
        }
    }

    /// Runs `call` with the track's client-side deadline armed (the call's own
    /// timeout plus the client grace).
    fn bounded<T>(&self, deadline: &Deadline, server: ServerId, timeout_s: u32, call: impl FnOnce() -> T) -> T {
        let until = Instant::now() + Duration::from_secs(u64::from(timeout_s)) + self.client_grace;
        deadline.lock().expect("track state lock").deadline = Some((until, self.host(server)));
        let result = call();
        deadline.lock().expect("track state lock").deadline = None;
        result
    }

    /// Sleeps `duration`; a signal ends the sleep early.
    fn sleep(&self, duration: Duration) {
        let until = Instant::now() + duration;
        while !self.interrupted.load(Ordering::SeqCst) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    fn failure(&self, server: ServerId, repl: Option<&str>, sql: &str, error: DbError, class: ErrorClass) -> ProcedureError {
        emit!(self.sink, Error, FUNC, Some(server), repl.map(str::to_owned), "{sql} failed: {error}");
        let replication = repl.map(str::to_owned);
        ProcedureError::StepFailed(Box::new(StepFailure {
            server,
            host: self.host(server),
            replication,
            sql: sql.to_owned(),
            error,
            class,
        }))
    }

    fn missing(&self, server: ServerId, repl: Option<&str>, var: &str, reason: String) -> ProcedureError {
        emit!(self.sink, Error, FUNC, Some(server), repl.map(str::to_owned), "The value {var} was not read: {reason}");
        ProcedureError::MissingValue { server, host: self.host(server), var: var.to_owned(), reason }
    }

    fn wait_until(
        &self,
        op: &Op,
        held: &mut Held<'_>,
        repl: Option<&str>,
        wait: &Wait<'_>,
        deadline: &Deadline,
    ) -> Result<(), ProcedureError> {
        let (server, sql) = (op.server, wait.sql);
        let start = Instant::now();
        let limit = Duration::from_secs(u64::from(wait.limit_s));
        // Progress is reported on the first poll that is not done, then every 5 s.
        let mut last_progress: Option<Instant> = None;
        let poll_timeout = self.config.query_timeout_s.min(60);
        loop {
            let session = held.get_mut(&server).expect("the step holds a session to every server it touches");
            let rows = self.bounded(deadline, server, poll_timeout, || session.query(sql, poll_timeout));
            let done = match rows {
                Ok(rows) => rows.first().is_some_and(|r| r.flag(0)),
                Err(error) => {
                    let class = self.backend.classify(&error);
                    return Err(self.failure(server, repl, sql, error, class));
                }
            };
            if done {
                return Ok(());
            }
            self.check_watches(op, held, repl, wait, deadline)?;
            if start.elapsed() >= limit {
                let message = format!("{}: not reached within {} s", wait.what, wait.limit_s);
                if let Some(t) = tolerance(&op.tolerate, ErrorClass::FlushTimeout) {
                    self.note(server, repl, t.severity, &format!("{} ({message})", t.note));
                    return Ok(());
                }
                emit!(self.sink, Error, FUNC, Some(server), repl.map(str::to_owned), "{message}");
                return Err(ProcedureError::WaitTimedOut {
                    server,
                    host: self.host(server),
                    replication: repl.map(str::to_owned),
                    what: wait.what.to_owned(),
                    limit_s: wait.limit_s,
                    sql: sql.to_owned(),
                });
            }
            if let Some(progress) = wait.progress {
                if last_progress.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
                    last_progress = Some(Instant::now());
                    let session = held.get_mut(&server).expect("the step holds a session to every server it touches");
                    if let Ok(rows) = self.bounded(deadline, server, poll_timeout, || session.query(progress, poll_timeout)) {
                        let text = rows.first().and_then(|r| r.text(0)).unwrap_or_default().to_owned();
                        emit!(self.sink, Info, "akuProgress", Some(server), repl.map(str::to_owned), "{}: {text}", wait.what);
                    }
                }
            }
            // Short waits are common (a release, a feedback round): poll fast first.
            let pause = if start.elapsed() < Duration::from_secs(2) { 100 } else { 500 };
            self.sleep(Duration::from_millis(pause));
            if self.interrupted.load(Ordering::SeqCst) {
                emit!(self.sink, Warn, FUNC, Some(server), repl.map(str::to_owned), "{}: wait ended by a signal", wait.what);
                return Err(ProcedureError::Interrupted);
            }
        }
    }

    /// Runs the watches of a wait: the first that reports a cause (or cannot run:
    /// its server is gone) ends the wait.
    fn check_watches(
        &self,
        op: &Op,
        held: &mut Held<'_>,
        repl: Option<&str>,
        wait: &Wait<'_>,
        deadline: &Deadline,
    ) -> Result<(), ProcedureError> {
        let poll_timeout = self.config.query_timeout_s.min(60);
        for (watched, query) in wait.watch {
            let session = held.get_mut(watched).expect("the step holds a session to every server it touches");
            let cause = match self.bounded(deadline, *watched, poll_timeout, || session.query(query, poll_timeout)) {
                Ok(rows) => rows.first().and_then(|r| r.text(0)).map(str::to_owned),
                Err(error) => Some(format!("server {watched} ({}) failed while watched: {error}", self.host(*watched))),
            };
            if let Some(cause) = cause {
                emit!(self.sink, Error, FUNC, Some(op.server), repl.map(str::to_owned), "{}: it cannot complete: {cause}", wait.what);
                return Err(ProcedureError::WaitImpossible {
                    server: op.server,
                    host: self.host(op.server),
                    replication: repl.map(str::to_owned),
                    what: wait.what.to_owned(),
                    cause,
                });
            }
        }
        Ok(())
    }
}

fn tolerance(tolerate: &[Tolerance], class: ErrorClass) -> Option<&Tolerance> {
    tolerate.iter().find(|t| t.class == class)
}

/// The fields of a `WaitUntil` operation, with variables rendered.
struct Wait<'a> {
    sql: &'a str,
    what: &'a str,
    progress: Option<&'a str>,
    limit_s: u32,
    /// (server, query) of each watch.
    watch: &'a [(ServerId, String)],
}

/// A running (or finished) track.
enum TrackHandle {
    Running { rx: mpsc::Receiver<Result<(), ProcedureError>>, deadline: Deadline, interrupted: Arc<AtomicBool> },
    Done(Result<(), ProcedureError>),
}

impl TrackHandle {
    /// Waits for the track; gives up on it when its current operation passed
    /// its client-side deadline (a frozen server), or when a signal arrived while
    /// it waits, leaving the thread behind.
    fn wait(self) -> Result<(), ProcedureError> {
        match self {
            TrackHandle::Done(result) => result,
            TrackHandle::Running { rx, deadline, interrupted } => loop {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(result) => return result,
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        return Err(ProcedureError::Internal("a step thread ended without a result".into()));
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let state = deadline.lock().expect("track state lock");
                        if let Some((_, host)) = state.deadline.as_ref().filter(|(d, _)| Instant::now() > *d) {
                            return Err(ProcedureError::ServerSilent { host: host.clone() });
                        }
                        if state.waiting && interrupted.load(Ordering::SeqCst) {
                            return Err(ProcedureError::Interrupted);
                        }
                    }
                }
            },
        }
    }
}

#[cfg(test)]
#[path = "execute_tests.rs"]
mod tests;
