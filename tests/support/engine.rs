//! Engine harness for transcripts: a scripted observation, a recording session
//! per reachable server, the production runner (`lifecycle::run_observed`), and a
//! text rendering of what every server received plus the log lines and outcome.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use aku::backend;
use aku::config::{BackendKind, Config, EnvOverrides, ReplicationGroup, ReplicationItem, Syntax};
use aku::lifecycle::{
    self, Absence, Backend, CollectingSink, Concurrency, EventSink, Intent, MarkerChange, Observation, Outcome, PeerState, ReplKey,
    ReplicationState, Run, RunError, ServerState, Sessions,
};
use aku::odbc::recording::{Recording, RecordingSession, Responder};
use aku::odbc::{DbError, Row, Session};
use aku::topology::{self, Pair, ServerId};

pub fn item(user: &str, table: &str, partition: Option<&str>) -> ReplicationItem {
    ReplicationItem { user: user.into(), table: table.into(), partition: partition.map(Into::into) }
}

pub fn group(prefix: &str, sync_parallel_count: u32, items: Vec<ReplicationItem>) -> ReplicationGroup {
    ReplicationGroup { prefix: prefix.into(), sync_parallel_count, items }
}

/// The configuration of the scenarios: 4 servers, one group AKU_REP with SYS.T1 and
/// SYS.T2, every other property at its default; parsed from aku.conf text.
pub fn config(backend: BackendKind) -> Config {
    let text = match backend {
        BackendKind::Altibase => {
            "AKU_STS_NAME = altibase-sts\nAKU_SVC_NAME = altibase-svc\n\
             AKU_ODBC_DRIVER = \"/opt/altibase/lib/libaltibase_odbc-64bit-ul64.so\"\n"
        }
        BackendKind::Postgresql => {
            "AKU_STS_NAME = pg-sts\nAKU_SVC_NAME = pg-svc\nAKU_BACKEND = postgresql\n\
             AKU_PORT_NO = 5432\nAKU_REPLICATION_PORT_NO = 5432\n"
        }
    };
    let text = format!("{text}AKU_SYS_PASSWORD = manager\nREPLICATIONS = ( REPLICATION_NAME_PREFIX = AKU_REP ( SYS.T1, SYS.T2 ) )\n");
    Config::parse(&text, Syntax::AkuConf, &EnvOverrides::default()).expect("the scenario configuration is valid")
}

/// The state of a pair's object on one server, in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obj {
    /// No object.
    Missing,
    /// Created (or ended): exists, stopped, reset.
    Reset,
    /// Running: exists, started, restart point held, copy finished.
    Running,
    /// Stopped but not reset (ended with AKU_REPLICATION_RESET_AT_END = 0).
    StoppedLive,
    /// Copy interrupted (PostgreSQL): exists, started, restart point held, not ready.
    Copying,
}

impl Obj {
    pub fn state(self) -> ReplicationState {
        let live = |started, ready| ReplicationState { exists: true, started, reset: false, sending: ready, ready };
        match self {
            Obj::Missing => ReplicationState::MISSING,
            Obj::Reset => ReplicationState { exists: true, started: false, reset: true, sending: false, ready: true },
            Obj::Running => live(true, true),
            Obj::StoppedLive => live(false, true),
            Obj::Copying => live(true, false),
        }
    }
}

/// A scripted cluster, seen from `me`.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub title: String,
    pub config: Config,
    pub me: u8,
    pub marker: bool,
    /// Per reachable server: the state of each of its pairs (by the other server), all groups alike.
    pub servers: BTreeMap<u8, BTreeMap<u8, Obj>>,
    /// Servers that resolve but do not answer.
    pub unanswered: Vec<u8>,
    /// (server, peer, joiner): the server's replication with the peer was paused by the join of `joiner`.
    pub paused: Vec<(u8, u8, u8)>,
    /// (server, peer): the server's join linked its replication with the peer while the peer was absent.
    pub linked_in_absence: Vec<(u8, u8)>,
    /// (server, peer): the server's live replication with the peer never applied a
    /// change from it (others that are live have).
    pub received_nothing: Vec<(u8, u8)>,
    /// This pod's server booted with ADMIN_MODE = 0 (Altibase).
    pub admin_mode_off: bool,
    /// Servers whose objects hold these items (every group alike); others are not read.
    pub holding: BTreeMap<u8, Vec<ReplicationItem>>,
}

impl Scenario {
    pub fn new(title: &str, config: Config, me: u8) -> Scenario {
        Scenario {
            title: title.into(),
            config,
            me,
            marker: false,
            servers: BTreeMap::new(),
            unanswered: Vec::new(),
            paused: Vec::new(),
            linked_in_absence: Vec::new(),
            received_nothing: Vec::new(),
            admin_mode_off: false,
            holding: BTreeMap::new(),
        }
    }

    /// Server `id` is reachable; `pairs` gives its objects by peer (others: uniform `rest`).
    pub fn server(mut self, id: u8, rest: Obj, pairs: &[(u8, Obj)]) -> Scenario {
        let mut map = BTreeMap::new();
        for peer in topology::peers_of(ServerId(id), self.config.server_count) {
            map.insert(peer.0, rest);
        }
        for &(peer, obj) in pairs {
            map.insert(peer, obj);
        }
        self.servers.insert(id, map);
        self
    }

    /// Server `id` resolves but does not answer.
    pub fn unanswered(mut self, id: u8) -> Scenario {
        self.unanswered.push(id);
        self
    }

    /// On `server`, the replication with `peer` was paused by the join of `joiner`.
    pub fn paused(mut self, server: u8, peer: u8, joiner: u8) -> Scenario {
        self.paused.push((server, peer, joiner));
        self
    }

    /// On `server`, the replication with `peer` was linked by a join while `peer` was absent.
    pub fn linked_in_absence(mut self, server: u8, peer: u8) -> Scenario {
        self.linked_in_absence.push((server, peer));
        self
    }

    /// On `server`, the live replication with `peer` never applied a change from it.
    pub fn received_nothing(mut self, server: u8, peer: u8) -> Scenario {
        self.received_nothing.push((server, peer));
        self
    }

    /// The objects of server `id` (its group objects and every existing pair) hold `items`.
    pub fn holding(mut self, id: u8, items: Vec<ReplicationItem>) -> Scenario {
        self.holding.insert(id, items);
        self
    }

    /// This pod's server booted with ADMIN_MODE = 0.
    pub fn admin_mode_off(mut self) -> Scenario {
        self.admin_mode_off = true;
        self
    }

    pub fn with_marker(mut self) -> Scenario {
        self.marker = true;
        self
    }

    fn server_state(&self, id: u8) -> ServerState {
        let mut state = ServerState::default();
        for group in 0..self.config.groups.len() {
            for (&peer, &obj) in &self.servers[&id] {
                let key = ReplKey { group, pair: Pair::new(ServerId(id), ServerId(peer)) };
                state.replications.insert(key, obj.state());
                if obj.state().live() && !self.received_nothing.contains(&(id, peer)) {
                    state.received.insert(key);
                }
            }
            if let Some(items) = self.holding.get(&id) {
                state.group_items.insert(group, items.clone());
                for (&peer, &obj) in &self.servers[&id] {
                    if obj.state().exists {
                        state.repl_items.insert(ReplKey { group, pair: Pair::new(ServerId(id), ServerId(peer)) }, items.clone());
                    }
                }
            }
            for &(server, peer, joiner) in self.paused.iter().filter(|p| p.0 == id) {
                state.paused.insert(ReplKey { group, pair: Pair::new(ServerId(server), ServerId(peer)) }, ServerId(joiner));
            }
            for &(server, peer) in self.linked_in_absence.iter().filter(|p| p.0 == id) {
                state.linked_in_absence.insert(ReplKey { group, pair: Pair::new(ServerId(server), ServerId(peer)) });
            }
        }
        state
    }

    pub fn observation(&self) -> Observation {
        let me = ServerId(self.me);
        let peers = topology::peers_of(me, self.config.server_count)
            .into_iter()
            .map(|p| {
                let state = if self.servers.contains_key(&p.0) {
                    PeerState::Reachable(self.server_state(p.0))
                } else if self.unanswered.contains(&p.0) {
                    PeerState::Absent(Absence::Unanswered("no answer within 5 s".to_owned()))
                } else {
                    PeerState::Absent(Absence::NotResolved(format!("{} does not resolve", topology::host_of(&self.config, p))))
                };
                (p, state)
            })
            .collect();
        let mut local = self.server_state(self.me);
        if self.config.backend == aku::config::BackendKind::Altibase {
            local.admin_mode = Some(!self.admin_mode_off);
            local.remote_sysdba = Some(true);
        }
        Observation { me, marker_present: self.marker, local, peers, absent_waited: true }
    }
}

/// The marker path transcripts show.
const MARKER: &str = "/tmp/aku_start_completed";

/// Scripted answers: captures and waits succeed with fixed values; an Altibase
/// START towards a server that is not reachable fails with 0x6100D.
fn responder(reachable: Vec<u8>) -> Responder<ServerId> {
    Arc::new(move |server: &ServerId, sql: &str| -> Result<Vec<Row>, DbError> {
        let one = |v: &str| Ok(vec![Row::new(vec![Some(v.to_owned())])]);
        if sql.starts_with("ALTER REPLICATION") && sql.ends_with(" START") {
            let name = sql.split_whitespace().nth(2).unwrap_or_default();
            let digits: Vec<u8> = name.rsplit('_').next().unwrap_or_default().bytes().map(|b| b - b'0').collect();
            let peer = if digits[0] == server.0 { digits[1] } else { digits[0] };
            if !reachable.contains(&peer) {
                return Err(DbError::new("HY000", 0x6100D, "[Sender] Failed to handshake with the peer server (Handshake Process Error)"));
            }
        }
        if sql.contains("V$PROPERTY") {
            return one("0");
        }
        // Watches of waits: no row while all is well.
        if sql.starts_with("SELECT '") || sql.starts_with("SELECT format('the workers") {
            return Ok(Vec::new());
        }
        if sql.contains("apply_error_count + sync_error_count FROM pg_stat_subscription_stats") {
            return one("0");
        }
        if sql.contains("MAX(FIRST_UPDATE_TIME)") {
            return one("1764640800");
        }
        if sql.contains("pg_create_logical_replication_slot") && sql.starts_with("SELECT lsn") {
            return one(&format!("0/{}000", server.0 + 1));
        }
        if sql.contains("pg_current_wal_lsn") {
            return one(&format!("0/{}800", server.0 + 1));
        }
        if sql.contains("remote_lsn") {
            return one(&format!("0/{}900", server.0 + 5));
        }
        if sql.contains("SELECT coalesce(") && sql.contains("oid FROM pg_subscription") && sql.contains("0::oid)") {
            return one("16400");
        }
        Ok(vec![Row::new(vec![Some("t".to_owned())])])
    })
}

/// Runs `intent` on the scenario through the production runner
/// (`lifecycle::run_observed`: orphan warnings, decide, execute, marker, exit code)
/// and renders the transcript: the scenario, the procedure, each server's
/// statements in order, the log lines and the outcome.
pub fn transcript(scenario: &Scenario, intent: Intent) -> String {
    let config = Arc::new(scenario.config.clone());
    let backend: Arc<dyn Backend> = backend::for_config(&config, None);
    let obs = scenario.observation();
    let mut out = String::new();
    let _ = writeln!(out, "# {}", scenario.title);
    let _ = writeln!(
        out,
        "# backend {}, AKU_SERVER_COUNT = {}, this pod: server {}",
        config.backend.as_str(),
        config.server_count,
        scenario.me
    );
    for (id, objs) in &scenario.servers {
        let desc: Vec<String> = objs
            .iter()
            .map(|(p, o)| format!("{}:{o:?}", topology::replication_name("P", Pair::new(ServerId(*id), ServerId(*p)))))
            .collect();
        let _ = writeln!(out, "# server {id} reachable: {}", desc.join(" "));
    }
    for id in &scenario.unanswered {
        let _ = writeln!(out, "# server {id} resolves but does not answer");
    }
    for (server, peer) in &scenario.linked_in_absence {
        let _ = writeln!(out, "# server {server}: its join linked its replication with server {peer} while server {peer} was absent");
    }
    for (server, peer) in &scenario.received_nothing {
        let _ = writeln!(out, "# server {server}: its replication with server {peer} never applied a change from it");
    }
    for (server, peer, joiner) in &scenario.paused {
        let _ = writeln!(out, "# server {server}: its replication with server {peer} was paused by the join of server {joiner}");
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let marker_path = dir.path().join("aku_start_completed");
    if scenario.marker {
        std::fs::write(&marker_path, "").expect("marker written");
    }
    let redact = |text: String| text.replace(&marker_path.display().to_string(), MARKER);
    // The title only: the runner decides again, on the same observation.
    if let Ok(plan) = lifecycle::decide(&config, backend.capabilities(), intent, &obs, MARKER) {
        let _ = writeln!(out, "# procedure: {}\n", plan.procedure.title());
    }

    let recording = Recording::default();
    let reachable: Vec<u8> = scenario.servers.keys().copied().collect();
    let respond = responder(reachable.clone());
    let mut sessions = Sessions::new();
    for id in &reachable {
        let session: Box<dyn Session> =
            Box::new(RecordingSession { key: ServerId(*id), recording: recording.clone(), responder: Arc::clone(&respond) });
        sessions.insert(ServerId(*id), Arc::new(Mutex::new(session)));
    }
    let sink = Arc::new(CollectingSink::default());
    let run = Run {
        config: Arc::clone(&config),
        backend,
        intent,
        marker: marker_path.clone(),
        dry_run: false,
        interrupted: Arc::new(AtomicBool::new(false)),
        concurrency: Concurrency::Sequential,
        sink: Arc::clone(&sink) as Arc<dyn EventSink>,
    };
    let result = lifecycle::run_observed(&run, &obs, sessions);
    if let Err(RunError::Refused(refusal)) = &result {
        let _ = writeln!(
            out,
            "\nREFUSED (exit code {}): {}\n\nNo statement was sent to any server.",
            refusal.exit_code(),
            redact(refusal.to_string())
        );
        assert!(recording.0.lock().unwrap().is_empty(), "a refusal sends nothing");
        return out;
    }
    out.push_str(&recording.render(|s| format!("server {s} ({})", topology::host_of(&config, *s))));
    let _ = writeln!(out, "-- log");
    for e in sink.events() {
        let _ = writeln!(out, "{}", redact(e.transcript_line(&config.sts_name)));
    }
    let marker_now = marker_path.exists();
    match result {
        Err(e) => {
            let _ = writeln!(out, "FAILED (exit code {}): {}", e.exit_code(), redact(e.to_string()));
        }
        Ok(Outcome::Completed { code, marker }) => {
            let change = match marker {
                MarkerChange::Write => format!("create {MARKER}"),
                MarkerChange::Remove => format!("remove {MARKER}"),
                MarkerChange::Keep => format!("{MARKER} left as it is"),
            };
            let _ = writeln!(out, "-- then: {change} (exit code {code}; marker now {})", if marker_now { "present" } else { "absent" });
        }
        Ok(Outcome::Planned { .. }) => unreachable!("not a dry run"),
    }
    out
}

/// `aku -s` from pod 1 with pods 0 and 1 reachable (pod 0's sender to pod 1 in
/// RUN with a 2048-byte gap; its replication with gone pod 2 not reset), pods 2 and 3 absent.
pub fn status_transcript(backend: BackendKind) -> String {
    let config = config(backend);
    let b = backend::for_config(&config, None);
    let recording = Recording::default();
    let respond: Responder<ServerId> = Arc::new(|server: &ServerId, _sql: &str| {
        let row = |v: &[&str]| Row::new(v.iter().map(|x| (!x.is_empty()).then(|| (*x).to_owned())).collect());
        Ok(match server.0 {
            0 => vec![
                row(&["AKU_REP_01", "1", "1234", "1", "2048"]),
                row(&["AKU_REP_02", "1", "999", "2", ""]),
                row(&["AKU_REP_03", "0", "-1", "", ""]),
            ],
            _ => vec![
                row(&["AKU_REP_01", "1", "777", "1", "0"]),
                row(&["AKU_REP_12", "0", "-1", "", ""]),
                row(&["AKU_REP_13", "0", "-1", "", ""]),
            ],
        })
    });
    let mut answers = BTreeMap::new();
    for id in 0..config.server_count {
        let server = ServerId(id);
        let answer = if id < 2 {
            let mut session = RecordingSession { key: server, recording: recording.clone(), responder: Arc::clone(&respond) };
            Ok(b.status(&config, server, &mut session).unwrap())
        } else {
            Err(Absence::NotResolved(format!("{} does not resolve", topology::host_of(&config, server))))
        };
        answers.insert(server, answer);
    }
    let own = Some(aku::status::OwnPod { server: ServerId(1), marker_present: true });
    let report = aku::status::build(&config, &answers, own, aku::status::DEFAULT_LAG_THRESHOLD, b.capabilities().item_key);
    let mut out = recording.render(|s| format!("server {s} ({})", topology::host_of(&config, *s)));
    out.push_str("-- report\n");
    out.push_str(&aku::status::render_text(&report));
    out
}
