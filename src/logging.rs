//! Log output: the aku line format of `spec/aku-behaviour.md` section 7, or JSON
//! lines with the same fields (`--log-format json`), both on stdout.
//!
//! `[AKU][YYYY/MM/DD HH:MM:SS.uuuuuu][<thread id>] [LEVEL][<function>:<line>][<pod or ->][<replication or ->] message`
//!
//! Events carry the fields `func`, `pod` and `repl`; a missing one prints `-`
//! (`func` falls back to the innermost span name, then the module path). Any
//! other field is appended as ` key=value` (text) or as a JSON member. This module
//! owns the format only; what is logged is decided by the callers.

use std::fmt::{self, Write as _};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// The original aku line format.
    #[default]
    Aku,
    /// One JSON object per line: `ts`, `tid`, `level`, `func`, `line`, `pod`, `repl`, `msg`, plus extra fields.
    Json,
}

/// The fields of one log line, independent of the output format.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogRecord {
    pub level: String,
    pub func: String,
    pub line: u32,
    pub pod: Option<String>,
    pub repl: Option<String>,
    pub message: String,
    /// Other fields in the order they were recorded.
    pub extra: Vec<(String, String)>,
}

impl LogRecord {
    /// The aku text line for this record at `timestamp` (already formatted as
    /// `YYYY/MM/DD HH:MM:SS.uuuuuu`) on thread `tid`, without a trailing newline.
    pub fn to_aku_line(&self, timestamp: &str, tid: u64) -> String {
        let mut out = format!(
            "[AKU][{timestamp}][{tid}] [{}][{}:{}][{}][{}] {}",
            self.level,
            self.func,
            self.line,
            self.pod.as_deref().unwrap_or("-"),
            self.repl.as_deref().unwrap_or("-"),
            self.message
        );
        for (k, v) in &self.extra {
            let _ = write!(out, " {k}={v}");
        }
        out
    }

    /// The JSON line for this record (same fields as the text line).
    pub fn to_json_line(&self, timestamp: &str, tid: u64) -> String {
        let mut obj = Map::new();
        obj.insert("ts".into(), Value::from(timestamp));
        obj.insert("app".into(), Value::from("AKU"));
        obj.insert("tid".into(), Value::from(tid));
        obj.insert("level".into(), Value::from(self.level.as_str()));
        obj.insert("func".into(), Value::from(self.func.as_str()));
        obj.insert("line".into(), Value::from(self.line));
        obj.insert("pod".into(), self.pod.as_deref().map_or(Value::Null, Value::from));
        obj.insert("repl".into(), self.repl.as_deref().map_or(Value::Null, Value::from));
        obj.insert("msg".into(), Value::from(self.message.as_str()));
        for (k, v) in &self.extra {
            obj.entry(k.clone()).or_insert_with(|| Value::from(v.as_str()));
        }
        Value::Object(obj).to_string()
    }
}

/// The local time as the aku log writes it: `2024/03/18 14:01:59.604647`.
pub fn timestamp_now() -> String {
    chrono::Local::now().format("%Y/%m/%d %H:%M:%S%.6f").to_string()
}

/// The numeric id of the calling thread, the number a C program's `pthread_self()` prints.
pub fn thread_id() -> u64 {
    // SAFETY-free: pthread_self has no preconditions; libc exposes it as a safe-to-call extern.
    #[expect(unsafe_code, reason = "pthread_self is an FFI call without preconditions")]
    let id = unsafe { libc::pthread_self() };
    id as u64
}

/// The level names the original prints.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

#[derive(Default)]
struct FieldCollector {
    func: Option<String>,
    pod: Option<String>,
    repl: Option<String>,
    message: Option<String>,
    line: Option<u32>,
    extra: Vec<(String, String)>,
}

impl FieldCollector {
    fn put(&mut self, field: &Field, value: String) {
        match field.name() {
            "func" => self.func = Some(value),
            "pod" => self.pod = Some(value),
            "repl" => self.repl = Some(value),
            "message" => self.message = Some(value),
            "line" => self.line = value.parse().ok(),
            name if name.starts_with("log.") => {}
            name => self.extra.push((name.to_owned(), value)),
        }
    }
}

impl Visit for FieldCollector {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

/// The `tracing-subscriber` event formatter for both formats.
#[derive(Debug, Clone, Copy)]
pub struct AkuFormatter(pub LogFormat);

impl<S, N> FormatEvent<S, N> for AkuFormatter
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut w: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = FieldCollector::default();
        event.record(&mut fields);
        let span_name = ctx.event_scope().and_then(|mut scope| scope.next().map(|s| s.name()));
        let record = LogRecord {
            level: level_name(*meta.level()).to_owned(),
            func: fields.func.unwrap_or_else(|| span_name.unwrap_or(meta.target()).to_owned()),
            line: fields.line.or(meta.line()).unwrap_or(0),
            pod: fields.pod,
            repl: fields.repl,
            message: fields.message.unwrap_or_default(),
            extra: fields.extra,
        };
        let (ts, tid) = (timestamp_now(), thread_id());
        let line = match self.0 {
            LogFormat::Aku => record.to_aku_line(&ts, tid),
            LogFormat::Json => record.to_json_line(&ts, tid),
        };
        writeln!(w, "{line}")
    }
}

/// Installs the global subscriber writing `format` lines to stdout (through
/// [`crate::output`]: a closed pipe or a full disk never panics). ODBC driver
/// chatter (odbc-api's WARN records) is kept at ERROR; `AKU_LOG` (an `EnvFilter`
/// directive) overrides the filter. Calling it twice is harmless.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AKU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,odbc_api=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(crate::output::LogWriter)
        .event_format(AkuFormatter(format))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> LogRecord {
        LogRecord {
            level: "INFO".into(),
            func: "akuRunStart".into(),
            line: 903,
            pod: None,
            repl: None,
            message: "Start as SLAVE Pod.".into(),
            extra: vec![],
        }
    }

    #[test]
    fn aku_line_matches_the_original() {
        let line = record().to_aku_line("2024/03/18 14:01:59.604647", 140_678_415_444_224);
        assert_eq!(line, "[AKU][2024/03/18 14:01:59.604647][140678415444224] [INFO][akuRunStart:903][-][-] Start as SLAVE Pod.");
    }

    #[test]
    fn pod_replication_and_extra_fields() {
        let mut r = record();
        r.pod = Some("1".into());
        r.repl = Some("AKU_REP_01".into());
        r.extra.push(("elapsed_ms".into(), "12".into()));
        assert_eq!(r.to_aku_line("T", 7), "[AKU][T][7] [INFO][akuRunStart:903][1][AKU_REP_01] Start as SLAVE Pod. elapsed_ms=12");
        let json: Value = serde_json::from_str(&r.to_json_line("T", 7)).unwrap();
        assert_eq!(json["pod"], "1");
        assert_eq!(json["repl"], "AKU_REP_01");
        assert_eq!(json["msg"], "Start as SLAVE Pod.");
        assert_eq!(json["func"], "akuRunStart");
        assert_eq!(json["line"], 903);
        assert_eq!(json["elapsed_ms"], "12");
    }

    #[test]
    fn timestamp_shape() {
        let ts = timestamp_now();
        let re = regex::Regex::new(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{6}$").unwrap();
        assert!(re.is_match(&ts), "{ts}");
    }
}
