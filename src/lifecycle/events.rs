//! Events: what the engine reports, as log records in domain terms. The engine
//! never prints; the CLI turns events into log lines (`logging.rs`), the
//! transcript tests collect them.

use std::sync::Mutex;

use crate::topology::ServerId;

/// Severity of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventLevel {
    Info,
    Warn,
    Error,
}

impl EventLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            EventLevel::Info => "INFO",
            EventLevel::Warn => "WARN",
            EventLevel::Error => "ERROR",
        }
    }
}

/// One event. `func` and `line` name the emitting code, as the original's
/// `[function:line]` field does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub level: EventLevel,
    pub func: &'static str,
    pub line: u32,
    /// The server the event concerns (the log's pod field).
    pub pod: Option<ServerId>,
    /// The replication the event concerns.
    pub repl: Option<String>,
    pub message: String,
}

impl Event {
    /// The pod field: the pod name `<sts>-<id>`, or `-`.
    pub fn pod_name(&self, sts: &str) -> String {
        self.pod.map_or_else(|| "-".to_owned(), |p| format!("{sts}-{p}"))
    }

    /// `[LEVEL][func][pod][repl] message`: the log line without time, thread and
    /// source line, as transcripts show it.
    pub fn transcript_line(&self, sts: &str) -> String {
        format!(
            "[{}][{}][{}][{}] {}",
            self.level.as_str(),
            self.func,
            self.pod_name(sts),
            self.repl.as_deref().unwrap_or("-"),
            self.message
        )
    }
}

/// Receives events. Called from several threads.
pub trait EventSink: Send + Sync {
    fn emit(&self, event: Event);
}

/// Builds and emits an event: `emit!(sink, Info, "akuRunStart", pod, repl, "text {}", x)`.
#[macro_export]
macro_rules! emit {
    ($sink:expr, $level:ident, $func:expr, $pod:expr, $repl:expr, $($fmt:tt)+) => {
        $sink.emit($crate::lifecycle::Event {
            level: $crate::lifecycle::EventLevel::$level,
            func: $func,
            line: line!(),
            pod: $pod,
            repl: $repl,
            message: format!($($fmt)+),
        })
    };
}

/// A sink that keeps every event (tests, transcripts).
#[derive(Debug, Default)]
pub struct CollectingSink(pub Mutex<Vec<Event>>);

impl CollectingSink {
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().expect("event list lock").clone()
    }
}

impl EventSink for CollectingSink {
    fn emit(&self, event: Event) {
        self.0.lock().expect("event list lock").push(event);
    }
}
