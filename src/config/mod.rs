//! aku.conf: the validated configuration every other module works from.
//!
//! Two layers (see `../shared/style.md`): [`raw`] mirrors the text of an aku.conf
//! (either generation) or a TOML file with the position of every value, and
//! [`validate`] turns it into a [`Config`] with defaults, ranges and typed values.
//! Nothing downstream sees raw strings. This module never opens a file, reads the
//! environment or touches a database: callers pass text and an [`EnvOverrides`].

mod error;
mod lexer;
mod mask;
mod parser;
mod quote;
mod raw;
mod schema;
mod toml_source;
mod validate;
mod values;

pub use error::{ConfigError, Location, Snippet};
pub(crate) use quote::visible;
pub use raw::{RawConfig, RawGroup, RawItem, RawProperty, RawReplications, RawValue, Span};

use std::fmt;
use std::path::PathBuf;

/// Which database the replications are built on (`AKU_BACKEND`, an extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Altibase replication objects over the Altibase ODBC driver (the original aku).
    Altibase,
    /// `PostgreSQL` 16+ native logical replication over psqlODBC.
    Postgresql,
}

impl BackendKind {
    /// The value as written in aku.conf.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Altibase => "altibase",
            BackendKind::Postgresql => "postgresql",
        }
    }
}

/// A secret string (the SYS password). Only [`Secret::expose`] reveals it:
/// `Debug` prints `********`, and there is deliberately no `Display`,
/// `Serialize`, `Deref` or `AsRef`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The clear text, for building a connection string and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// Where the SYS password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// `AKU_SYS_PASSWORD` (or its 7.1 alias `AKU_SYS_PASWWORD`) in the file.
    Property(Secret),
    /// The environment variable `AKU_SYS_PASSWORD`.
    Environment(Secret),
    /// A file named by `AKU_SYS_PASSWORD_FILE` (environment or property), e.g. a
    /// Kubernetes Secret volume. Read by [`crate::run`], not here; a trailing
    /// newline is stripped.
    File(PathBuf),
}

/// Values from the process environment that take part in validation. Collected
/// once by the caller so that validation stays a pure function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvOverrides {
    /// `AKU_SYS_PASSWORD`: overrides every other password source.
    pub sys_password: Option<String>,
    /// `AKU_SYS_PASSWORD_FILE`: overrides the property of the same name and the
    /// password in the file.
    pub sys_password_file: Option<String>,
    /// `ALTIBASE_HOME`: used for the default Altibase ODBC driver path.
    pub altibase_home: Option<String>,
}

/// One item of a REPLICATIONS group: `USER.TABLE [PARTITION P]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplicationItem {
    /// User (Altibase) or schema (`PostgreSQL`) name as written: a plain identifier
    /// `[A-Za-z_][A-Za-z0-9_$]*` of at most 128 bytes (63 with the postgresql backend).
    pub user: String,
    /// Table name as written; same rule.
    pub table: String,
    /// Partition name as written; same rule.
    pub partition: Option<String>,
}

/// One REPLICATIONS group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplicationGroup {
    /// `REPLICATION_NAME_PREFIX`, 1..37 bytes; replication names are `<prefix>_<i><j>`.
    pub prefix: String,
    /// `SYNC_PARALLEL_COUNT`, 1..100 (default 1).
    pub sync_parallel_count: u32,
    /// The tables (or partitions) replicated by this group, in file order, no duplicates.
    pub items: Vec<ReplicationItem>,
}

/// The validated configuration. Field docs give the property, unit and range;
/// ranges and defaults follow `spec/aku-behaviour.md` section 3.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `AKU_STS_NAME`: `StatefulSet` name, 1..63 bytes.
    pub sts_name: String,
    /// `AKU_SVC_NAME`: headless Service name, 1..63 bytes.
    pub svc_name: String,
    /// `AKU_SERVER_COUNT`: pods that take part, 1..6 (default 4).
    pub server_count: u8,
    /// `AKU_SYS_USER` (extension): default `SYS` (altibase) or `postgres` (postgresql).
    pub sys_user: String,
    /// `AKU_SYS_PASSWORD` and its other sources.
    pub password: PasswordSource,
    /// `AKU_PORT_NO`: database service port, 1024..65535 (default 20300).
    pub port_no: u16,
    /// `AKU_REPLICATION_PORT_NO`: replication port, 1024..65535 (default 20301).
    pub replication_port_no: u16,
    /// `AKU_QUERY_TIMEOUT`: seconds a statement may run (default 3600), 1..2^32-1.
    /// 0 is refused: to ODBC it would mean "no timeout", and every statement is bounded.
    pub query_timeout_s: u32,
    /// `AKU_QUERY_RETRY_COUNT`: retries of a failed statement (default 5; 0 = none).
    pub query_retry_count: u32,
    /// `AKU_QUERY_RETRY_DELAY_MSEC`: milliseconds between retries (default 1000).
    pub query_retry_delay_ms: u32,
    /// `AKU_ADDRESS_CHECK_COUNT`: attempts, one second apart, to reach this pod's
    /// own server at start (default 30), 1..2^32-1.
    pub address_check_count: u32,
    /// `AKU_FLUSH_AT_START`: 0/1 (default 1).
    pub flush_at_start: bool,
    /// `AKU_FLUSH_TIMEOUT_AT_START`: seconds for FLUSH WAIT; 0 = FLUSH ALL (default 300).
    pub flush_timeout_at_start_s: u32,
    /// `AKU_DELAY_START_COMPLETE_TIME`: seconds to wait on a slave before `ADMIN_MODE` 0 (default 0).
    pub delay_start_complete_s: u32,
    /// `AKU_FLUSH_AT_END`: 0/1 (default 1).
    pub flush_at_end: bool,
    /// `AKU_REPLICATION_RESET_AT_END`: 0/1 (default 1).
    pub replication_reset_at_end: bool,
    /// `AKU_BACKEND` (extension): default altibase.
    pub backend: BackendKind,
    /// `AKU_DATABASE` (extension, postgresql): database name, default `postgres`.
    pub database: String,
    /// `AKU_ODBC_DRIVER` (extension): driver name or library path. Defaults:
    /// `$ALTIBASE_HOME/lib/libaltibase_odbc-64bit-ul64.so` (altibase),
    /// `PostgreSQL Unicode` (postgresql).
    pub odbc_driver: String,
    /// `REPLICATIONS`: at least one group; prefixes unique across groups.
    pub groups: Vec<ReplicationGroup>,
}

/// The syntax of a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// aku.conf, either generation (7.1 or 7.3+).
    AkuConf,
    /// The same properties written as TOML (extension).
    Toml,
}

impl Syntax {
    /// TOML for a path ending in `.toml`, aku.conf otherwise.
    pub fn for_path(path: &std::path::Path) -> Syntax {
        if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml")) { Syntax::Toml } else { Syntax::AkuConf }
    }
}

impl Config {
    /// Parses and validates configuration text. Pure: the environment comes in
    /// `env`. Errors name the property or the line:column.
    pub fn parse(text: &str, syntax: Syntax, env: &EnvOverrides) -> Result<Config, ConfigError> {
        let raw = match syntax {
            Syntax::AkuConf => parser::parse(text)?,
            Syntax::Toml => toml_source::parse(text)?,
        };
        validate::validate(&raw, env)
    }

    /// Parses bytes that may not be UTF-8; invalid UTF-8 is a configuration error
    /// naming the line and column of the first bad byte.
    pub fn parse_bytes(bytes: &[u8], syntax: Syntax, env: &EnvOverrides) -> Result<Config, ConfigError> {
        let text = error::decode_utf8(bytes)?;
        Config::parse(text, syntax, env)
    }
}
