//! Why a procedure did not complete, once it was decided: typed variants for the
//! engine's own conditions (no session, a wait that ran out, a value never read,
//! a silent server, a signal), and [`StepFailure`] for a statement the server
//! refused after its retries. No engine condition is dressed as a database error.

use crate::exit_code;
use crate::lifecycle::decide::Refusal;
use crate::lifecycle::port::ErrorClass;
use crate::odbc::DbError;
use crate::topology::ServerId;

/// A statement that failed after its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepFailure {
    pub server: ServerId,
    pub host: String,
    pub replication: Option<String>,
    pub sql: String,
    pub error: DbError,
    pub class: ErrorClass,
}

/// Why a procedure did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ProcedureError {
    #[error("The local server {host} did not answer after {attempts} attempts (AKU_ADDRESS_CHECK_COUNT): {reason}")]
    LocalUnreachable { host: String, attempts: u32, reason: String },
    #[error(
        "The local server {host} refused aku's login: {detail}. Check AKU_SYS_USER and the password \
         (AKU_SYS_PASSWORD, AKU_SYS_PASSWORD_FILE); nothing was changed."
    )]
    LoginRefused { host: String, detail: String },
    #[error("The ODBC driver cannot be used: {detail}. Check AKU_ODBC_DRIVER and the driver's installation; nothing was changed.")]
    DriverUnavailable { detail: String },
    #[error("Cannot read the replication state of the local server {host}: {error}")]
    LocalUnreadable { host: String, error: DbError },
    #[error(
        "Step failed on server {} ({}){}: {} -> {}. Run the same command again to complete the procedure.",
        .0.server, .0.host, .0.replication.as_deref().map(|r| format!(" for {r}")).unwrap_or_default(), .0.sql, .0.error
    )]
    StepFailed(Box<StepFailure>),
    #[error(
        "Wait on server {server} ({host}){}: {what}: not reached within {limit_s} s (polling: {sql}). \
         Run the same command again to complete the procedure.",
        replication.as_deref().map(|r| format!(" for {r}")).unwrap_or_default()
    )]
    WaitTimedOut { server: ServerId, host: String, replication: Option<String>, what: String, limit_s: u32, sql: String },
    #[error(
        "Wait on server {server} ({host}){}: {what}: it cannot complete: {cause}",
        replication.as_deref().map(|r| format!(" for {r}")).unwrap_or_default()
    )]
    WaitImpossible { server: ServerId, host: String, replication: Option<String>, what: String, cause: String },
    #[error(
        "No session to server {server} ({host}) for {sql}: it was absent when the plan was decided. \
         Run the same command again."
    )]
    NoSession { server: ServerId, host: String, sql: String },
    #[error(
        "The value {var} needed on server {server} ({host}) was not read: {reason}. \
         Run the same command again to complete the procedure."
    )]
    MissingValue { server: ServerId, host: String, var: String, reason: String },
    #[error(
        "Interrupted by a signal: the running statements finished and the running waits were ended. \
         Run the same command again to complete the procedure."
    )]
    Interrupted,
    #[error("Cannot update the marker file {path}: {source}")]
    Marker { path: String, source: std::io::Error },
    #[error(
        "A server stopped answering during a step ({host}): its client-side deadline \
         (AKU_QUERY_TIMEOUT + 30 s) passed. Run the same command again once it answers."
    )]
    ServerSilent { host: String },
    #[error("Internal error: {0}")]
    Internal(String),
}

impl ProcedureError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ProcedureError::LocalUnreachable { .. } | ProcedureError::LocalUnreadable { .. } => exit_code::LOCAL_UNREACHABLE,
            ProcedureError::LoginRefused { .. } => exit_code::LOGIN_REFUSED,
            ProcedureError::DriverUnavailable { .. } => exit_code::DRIVER_UNAVAILABLE,
            ProcedureError::StepFailed(_)
            | ProcedureError::WaitTimedOut { .. }
            | ProcedureError::WaitImpossible { .. }
            | ProcedureError::NoSession { .. }
            | ProcedureError::MissingValue { .. }
            | ProcedureError::Marker { .. }
            | ProcedureError::ServerSilent { .. } => exit_code::STEP_FAILED,
            ProcedureError::Internal(_) => exit_code::INTERNAL,
            ProcedureError::Interrupted => exit_code::INTERRUPTED,
        }
    }
}

/// Why a run of a procedure ended without completing it.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Refused before anything was changed.
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// Failed part-way (or could not reach the local server).
    #[error("{0}")]
    Failed(#[from] ProcedureError),
}

impl RunError {
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Refused(r) => r.exit_code(),
            RunError::Failed(f) => f.exit_code(),
        }
    }
}
