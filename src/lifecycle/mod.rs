//! The lifecycle engine shared by all backends, in three stages:
//! [`observe`] (connect and read state), [`decide`] (a pure function to a
//! [`Plan`] or a [`Refusal`]) and [`execute`] (run the plan's steps).
//! The engine emits [`Event`]s and never prints.

pub mod decide;
pub mod events;
pub mod execute;
mod join;
pub mod marker;
pub mod observe;
pub mod plan;
pub mod render;
pub mod state;

pub use decide::{Intent, Refusal, decide};
pub use events::{CollectingSink, Event, EventLevel, EventSink};
pub use execute::{Concurrency, Executor};
pub use observe::{Connector, Sessions, observe};
pub use plan::{Action, FlushWait, MarkerChange, Phase, Plan, Procedure, Step};
pub use state::{Absence, Observation, PeerState, ReplicationState, ServerState};

use crate::backend::ErrorClass;
use crate::exit_code;
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
    #[error("Cannot read the replication state of the local server {host}: {error}")]
    LocalUnreadable { host: String, error: DbError },
    #[error(
        "Step failed on server {} ({}){}: {} -> {}. Run the same command again to complete the procedure.",
        .0.server, .0.host, .0.replication.as_deref().map(|r| format!(" for {r}")).unwrap_or_default(), .0.sql, .0.error
    )]
    StepFailed(Box<StepFailure>),
    #[error("Interrupted by a signal after the current step. Run the same command again to complete the procedure.")]
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
            ProcedureError::StepFailed(_) | ProcedureError::Marker { .. } | ProcedureError::ServerSilent { .. } => exit_code::STEP_FAILED,
            ProcedureError::Internal(_) => exit_code::INTERNAL,
            ProcedureError::Interrupted => exit_code::INTERRUPTED,
        }
    }
}
