//! The lifecycle engine shared by all backends, in three stages:
//! [`observe`] (connect and read state), [`decide`] (a pure function to a
//! [`Plan`] or a [`Refusal`]) and [`execute`] (run the plan's steps), tied
//! together by [`procedure::run_procedure`]. The engine owns the backend port
//! ([`port`]); it emits [`Event`]s and never prints.

pub mod decide;
pub mod error;
pub mod events;
pub mod execute;
mod join;
pub mod marker;
mod membership;
pub mod observe;
pub mod plan;
pub mod port;
pub mod procedure;
pub mod render;
pub mod schema;
pub mod sql;
pub mod state;
mod tableset;

pub use decide::{Intent, Refusal, decide};
pub use error::{ProcedureError, RunError, StepFailure};
pub use events::{CollectingSink, Event, EventLevel, EventSink};
pub use execute::{Concurrency, Executor};
pub use observe::{Sessions, observe};
pub use plan::{Action, FlushWait, MarkerChange, Phase, Plan, Procedure, Step};
pub use port::{Absence, Backend, Capabilities, Connector, ErrorClass, Op, OpKind, PairStatus, Severity, Target, Tolerance};
pub use procedure::{Outcome, Run, run_observed, run_procedure};
pub use state::{Observation, PeerState, ReplKey, ReplicationState, ServerState};
