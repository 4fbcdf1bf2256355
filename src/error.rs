//! The top-level error of a run: one variant per layer, each mapped to its exit
//! code (`exit_code.rs`). The CLI renders them once; lower layers keep typed
//! fields (pod, replication, SQLSTATE, native code), not prose.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::exit_code;
use crate::lifecycle::{ProcedureError, Refusal, RunError};
use crate::topology::IdentityError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No configuration path could be determined.
    #[error("No configuration file: pass --config PATH, set AKU_CONF, or set ALTIBASE_HOME (aku then reads $ALTIBASE_HOME/conf/aku.conf).")]
    NoConfigPath,
    /// A command-line value is wrong for this configuration (`--peer`, `--from`).
    #[error("{0}")]
    Usage(String),
    /// The hostname could not be read.
    #[error("Cannot read this pod's hostname: {0}")]
    Hostname(std::io::Error),
    /// The configuration (or password) file could not be read.
    #[error("Cannot read {what} {path}: {source}")]
    Read { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A password (or NLS_USE) the ODBC driver could not receive exactly.
    #[error("{0}")]
    Unsendable(#[from] crate::connection_string::Unsendable),
    #[error("{0}")]
    Identity(#[from] IdentityError),
    /// The engine refused to run the procedure; nothing was changed.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The procedure failed part-way (or could not reach the local server).
    #[error("{0}")]
    Procedure(#[from] ProcedureError),
}

impl From<RunError> for Error {
    fn from(e: RunError) -> Error {
        match e {
            RunError::Refused(r) => Error::Refused(r),
            RunError::Failed(f) => Error::Procedure(f),
        }
    }
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NoConfigPath | Error::Read { .. } | Error::Config(_) | Error::Unsendable(_) => exit_code::CONFIG,
            Error::Usage(_) => exit_code::USAGE,
            Error::Identity(_) | Error::Hostname(_) => exit_code::IDENTITY,
            Error::Refused(r) => r.exit_code(),
            Error::Procedure(p) => p.exit_code(),
        }
    }
}
