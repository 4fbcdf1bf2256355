//! The executor in process, on recording sessions: retries, `finally`
//! operations, a silent server, interruption, the parallel path and missing values.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::{Concurrency, Executor};
use crate::backend;
use crate::config::{Config, EnvOverrides, Syntax};
use crate::lifecycle::error::ProcedureError;
use crate::lifecycle::events::{CollectingSink, EventSink};
use crate::lifecycle::observe::Sessions;
use crate::lifecycle::plan::{Action, FlushWait, MarkerChange, Phase, Plan, Procedure, Step};
use crate::odbc::recording::{Recording, RecordingSession, Responder};
use crate::odbc::{DbError, Row, Session};
use crate::topology::{Pair, ServerId};

fn config(backend: &str) -> Config {
    let text = format!(
        "AKU_STS_NAME = sts\nAKU_SVC_NAME = svc\nAKU_SYS_PASSWORD = pw\nAKU_BACKEND = {backend}\nAKU_SERVER_COUNT = 2\n\
         AKU_QUERY_RETRY_COUNT = 2\nAKU_QUERY_RETRY_DELAY_MSEC = 0\nAKU_QUERY_TIMEOUT = 1\n\
         REPLICATIONS = ( REPLICATION_NAME_PREFIX = R ( SYS.T1, SYS.T2 ) )\n"
    );
    Config::parse(&text, Syntax::AkuConf, &EnvOverrides::default()).expect("valid test configuration")
}

struct Harness {
    recording: Recording<ServerId>,
    sink: Arc<CollectingSink>,
    executor: Executor,
}

fn harness(
    backend: &str,
    concurrency: Concurrency,
    respond: impl Fn(&ServerId, &str) -> Result<Vec<Row>, DbError> + Send + Sync + 'static,
) -> Harness {
    let respond: Responder<ServerId> = Arc::new(respond);
    let config = Arc::new(config(backend));
    let recording = Recording::default();
    let mut sessions = Sessions::new();
    for id in [0, 1] {
        let session: Box<dyn Session> =
            Box::new(RecordingSession { key: ServerId(id), recording: recording.clone(), responder: Arc::clone(&respond) });
        sessions.insert(ServerId(id), Arc::new(Mutex::new(session)));
    }
    let sink = Arc::new(CollectingSink::default());
    let b = backend::for_config(&config, None);
    let mut executor =
        Executor::new(config, b, sessions, Arc::clone(&sink) as Arc<dyn EventSink>, concurrency, Arc::new(AtomicBool::new(false)));
    executor.client_grace = Duration::from_millis(200);
    Harness { recording, sink, executor }
}

fn plan(steps: Vec<Step>) -> Plan {
    let phase = Phase { begin: "Begin.", end: "End.", steps };
    Plan { procedure: Procedure::End, announcement: "Test.", phases: vec![phase], marker: MarkerChange::Keep, items: Vec::new() }
}

fn step(server: u8, action: Action) -> Step {
    Step { server: ServerId(server), action }
}

fn pair() -> Pair {
    Pair::new(ServerId(0), ServerId(1))
}

#[expect(clippy::unnecessary_wraps, reason = "the shape of a responder's answer")]
fn ok_rows(value: &str) -> Result<Vec<Row>, DbError> {
    Ok(vec![Row::new(vec![Some(value.to_owned())])])
}

fn lines(h: &Harness) -> Vec<String> {
    h.sink.events().iter().map(|e| e.transcript_line("sts")).collect()
}

#[test]
fn a_transient_error_is_retried_then_the_step_succeeds() {
    let calls = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&calls);
    let h = harness("altibase", Concurrency::Sequential, move |_, sql| {
        if sql.ends_with(" STOP") && seen.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err(DbError::new("08S01", 0x51043, "Communication link failure"));
        }
        ok_rows("1")
    });
    h.executor.run(&plan(vec![step(0, Action::Stop { group: 0, pair: pair() })])).expect("succeeds on the third attempt");
    assert_eq!(h.recording.received(&ServerId(0)), vec!["ALTER REPLICATION R_01 STOP"; 3]);
    let warnings: Vec<String> = lines(&h).into_iter().filter(|l| l.starts_with("[WARN]")).collect();
    assert_eq!(
        warnings,
        vec![
            "[WARN][akuExecute][sts-0][R_01] Statement failed, retry 1/2 in 0 ms: ALTER REPLICATION R_01 STOP (SQLSTATE 08S01, Native error 0x51043: Communication link failure)",
            "[WARN][akuExecute][sts-0][R_01] Statement failed, retry 2/2 in 0 ms: ALTER REPLICATION R_01 STOP (SQLSTATE 08S01, Native error 0x51043: Communication link failure)",
        ]
    );
}

#[test]
fn a_failure_after_the_retries_names_the_statement_and_exits_10() {
    let h = harness("altibase", Concurrency::Sequential, |_, _| Err(DbError::new("HY000", 0x123, "refused")));
    let err = h.executor.run(&plan(vec![step(0, Action::Stop { group: 0, pair: pair() })])).unwrap_err();
    assert_eq!(err.exit_code(), crate::exit_code::STEP_FAILED);
    assert_eq!(h.recording.received(&ServerId(0)).len(), 3, "the first attempt and two retries");
    assert!(err.to_string().starts_with("Step failed on server 0 (sts-0.svc) for R_01: ALTER REPLICATION R_01 STOP -> SQLSTATE HY000"));
}

#[test]
fn a_failed_truncation_still_restores_replication_ddl_enable() {
    let h = harness("altibase", Concurrency::Sequential, |_, sql| {
        if sql.starts_with("TRUNCATE") { Err(DbError::new("HY000", 0x31001, "table is locked")) } else { ok_rows("0") }
    });
    let err = h.executor.run(&plan(vec![step(0, Action::Truncate { group: 0 })])).unwrap_err();
    assert!(matches!(err, ProcedureError::StepFailed(_)));
    assert_eq!(
        h.recording.received(&ServerId(0)),
        vec![
            "SELECT VALUE1 FROM V$PROPERTY WHERE NAME = 'REPLICATION_DDL_ENABLE'",
            "ALTER SYSTEM SET REPLICATION_DDL_ENABLE = 1",
            "ALTER SESSION SET REPLICATION = DEFAULT",
            "TRUNCATE TABLE \"SYS\".\"T1\"",
            "TRUNCATE TABLE \"SYS\".\"T1\"",
            "TRUNCATE TABLE \"SYS\".\"T1\"",
            "ALTER SYSTEM SET REPLICATION_DDL_ENABLE = 0",
        ],
        "the second table is not truncated, the setting is restored to the value read"
    );
}

#[test]
fn a_capture_that_returns_no_row_is_an_error_naming_the_query_and_no_statement_uses_it() {
    let h = harness("altibase", Concurrency::Sequential, |_, sql| if sql.contains("V$PROPERTY") { Ok(Vec::new()) } else { ok_rows("1") });
    let err = h.executor.run(&plan(vec![step(0, Action::Truncate { group: 0 })])).unwrap_err();
    assert_eq!(err.exit_code(), crate::exit_code::STEP_FAILED);
    assert_eq!(
        err.to_string(),
        "The value {server0.R.replication_ddl_enable} needed on server 0 (sts-0.svc) was not read: the query returned no value: \
         SELECT VALUE1 FROM V$PROPERTY WHERE NAME = 'REPLICATION_DDL_ENABLE'. Run the same command again to complete the procedure."
    );
    assert_eq!(h.recording.received(&ServerId(0)), vec!["SELECT VALUE1 FROM V$PROPERTY WHERE NAME = 'REPLICATION_DDL_ENABLE'"]);
    assert!(
        lines(&h).iter().any(|l| l.starts_with(
            "[WARN][akuExecute][sts-0][R] Skipped: ALTER SYSTEM SET REPLICATION_DDL_ENABLE = {server0.R.replication_ddl_enable}"
        )),
        "the restore is skipped with a warning, never sent with a made-up value: {:?}",
        lines(&h)
    );
}

#[test]
fn a_server_that_stops_answering_ends_the_step_within_its_client_deadline() {
    let h = harness("altibase", Concurrency::Parallel, |_, _| {
        std::thread::sleep(Duration::from_secs(5));
        ok_rows("1")
    });
    let started = Instant::now();
    let err = h.executor.run(&plan(vec![step(1, Action::Stop { group: 0, pair: pair() })])).unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(&err, ProcedureError::ServerSilent { host } if host == "sts-1.svc"), "{err}");
    assert_eq!(err.exit_code(), crate::exit_code::STEP_FAILED);
    assert!(elapsed < Duration::from_secs(3), "AKU_QUERY_TIMEOUT (1 s) + grace (0.2 s), took {elapsed:?}");
}

#[test]
fn a_signal_mid_phase_ends_the_track_after_the_current_step() {
    let flag = Arc::new(AtomicBool::new(false));
    let set = Arc::clone(&flag);
    let mut h = harness("altibase", Concurrency::Sequential, move |_, sql| {
        if sql.ends_with(" STOP") {
            set.store(true, Ordering::SeqCst);
        }
        ok_rows("1")
    });
    h.executor.interrupted = flag;
    let steps = vec![step(0, Action::Stop { group: 0, pair: pair() }), step(0, Action::Reset { group: 0, pair: pair() })];
    let err = h.executor.run(&plan(steps)).unwrap_err();
    assert!(matches!(err, ProcedureError::Interrupted));
    assert_eq!(err.exit_code(), crate::exit_code::INTERRUPTED);
    assert_eq!(h.recording.received(&ServerId(0)), vec!["ALTER REPLICATION R_01 STOP"], "the RESET step does not run");
    assert!(!lines(&h).iter().any(|l| l.ends_with("End.")), "the phase does not report its end");
}

#[test]
fn tracks_on_two_servers_run_at_the_same_time() {
    // Server 0's statement returns only once server 1's statement has arrived:
    // one track after the other would time out here.
    let (tx, rx) = mpsc::channel::<()>();
    let (tx, rx) = (Mutex::new(tx), Mutex::new(rx));
    let h = harness("altibase", Concurrency::Parallel, move |server, _| {
        if server.0 == 1 {
            let _ = tx.lock().unwrap().send(());
            return ok_rows("1");
        }
        match rx.lock().unwrap().recv_timeout(Duration::from_secs(5)) {
            Ok(()) => ok_rows("1"),
            Err(_) => Err(DbError::new("HY000", 1, "server 1 was not reached while server 0 ran")),
        }
    });
    let mut h = h;
    h.executor.interrupted = Arc::new(AtomicBool::new(false));
    let steps = vec![
        step(0, Action::Flush { group: 0, pair: pair(), wait: FlushWait::All }),
        step(1, Action::Flush { group: 0, pair: pair(), wait: FlushWait::All }),
    ];
    h.executor.run(&plan(steps)).expect("both tracks complete");
    assert_eq!(h.recording.received(&ServerId(0)), vec!["ALTER REPLICATION R_01 FLUSH ALL"]);
    assert_eq!(h.recording.received(&ServerId(1)), vec!["ALTER REPLICATION R_01 FLUSH ALL"]);
}

#[test]
fn a_step_that_touches_two_servers_holds_both_sessions_and_sends_in_order() {
    // PostgreSQL START on server 1 creates the slot on server 0 first.
    let h = harness("postgresql", Concurrency::Parallel, |_, _| ok_rows("t"));
    h.executor.run(&plan(vec![step(1, Action::Start { group: 0, pair: pair(), peer_present: true })])).expect("runs");
    let on0 = h.recording.received(&ServerId(0));
    let on1 = h.recording.received(&ServerId(1));
    assert_eq!(on0.len(), 1);
    assert!(on0[0].starts_with("SELECT pg_create_logical_replication_slot('r_01', 'pgoutput')"), "{on0:?}");
    assert_eq!(on1.last().map(String::as_str), Some("ALTER SUBSCRIPTION \"r_01\" ENABLE"));
}

#[test]
fn a_signal_ends_a_wait_at_once() {
    // PostgreSQL FLUSH: the peer never confirms; the first SIGTERM ends the wait.
    let flag = Arc::new(AtomicBool::new(false));
    let mut h = harness("postgresql", Concurrency::Parallel, |_, sql| {
        if sql.contains("confirmed_flush_lsn") {
            ok_rows("f")
        } else if sql.starts_with("SELECT '") || sql.starts_with("SELECT format(") {
            Ok(Vec::new()) // the watches: all is well
        } else if sql.contains("error_count") {
            ok_rows("0")
        } else {
            ok_rows("0/1800")
        }
    });
    h.executor.interrupted = Arc::clone(&flag);
    let set = Arc::clone(&flag);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        set.store(true, Ordering::SeqCst);
    });
    let started = Instant::now();
    let err = h.executor.run(&plan(vec![step(1, Action::Flush { group: 0, pair: pair(), wait: FlushWait::All })])).unwrap_err();
    assert!(matches!(err, ProcedureError::Interrupted), "{err}");
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
}

#[test]
fn a_signal_abandons_a_statement_that_waits_on_the_server() {
    // Altibase FLUSH ALL blocks in the server: the signal does not wait for it.
    let flag = Arc::new(AtomicBool::new(false));
    let mut h = harness("altibase", Concurrency::Parallel, |_, _| {
        std::thread::sleep(Duration::from_secs(5));
        ok_rows("1")
    });
    h.executor.interrupted = Arc::clone(&flag);
    let set = Arc::clone(&flag);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        set.store(true, Ordering::SeqCst);
    });
    let started = Instant::now();
    let err = h.executor.run(&plan(vec![step(1, Action::Flush { group: 0, pair: pair(), wait: FlushWait::All })])).unwrap_err();
    assert!(matches!(err, ProcedureError::Interrupted), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
}

#[test]
fn a_watch_that_reports_a_cause_ends_the_wait_with_it() {
    // The peer's apply worker keeps failing while this server waits for its confirmation.
    let h = harness("postgresql", Concurrency::Parallel, |server, sql| {
        if sql.contains("confirmed_flush_lsn") {
            ok_rows("f")
        } else if sql.starts_with("SELECT format('the workers") && server.0 == 0 {
            ok_rows(
                "the workers of subscription r_01 keep failing (7 errors since this wait began; tables not ready: none): see the server log of pod 0 (sts-0.svc)",
            )
        } else if sql.starts_with("SELECT '") || sql.starts_with("SELECT format(") {
            Ok(Vec::new())
        } else if sql.contains("error_count") {
            ok_rows("5")
        } else {
            ok_rows("0/1800")
        }
    });
    let started = Instant::now();
    let err = h.executor.run(&plan(vec![step(1, Action::Flush { group: 0, pair: pair(), wait: FlushWait::All })])).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        err.to_string(),
        "Wait on server 1 (sts-1.svc) for R_01: the peer confirms this server's WAL position on slot r_01: it cannot complete: \
         the workers of subscription r_01 keep failing (7 errors since this wait began; tables not ready: none): see the server log of pod 0 (sts-0.svc)"
    );
    assert!(h.recording.received(&ServerId(0)).iter().any(|q| q.contains("ss.apply_error_count + ss.sync_error_count >= 5 + 2")));
}
