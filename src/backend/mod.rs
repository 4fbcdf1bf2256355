//! The database backends: each implements the engine's port
//! ([`crate::lifecycle::port::Backend`]) in its own module, translating planned
//! steps into SQL and reading its catalog. The engine decides the order; a
//! backend decides only the SQL.
//!
//! Adding a backend: see `docs/architecture.md`, "Adding a backend".

mod altibase;
mod postgres;

use std::sync::Arc;

pub use altibase::Altibase;
pub use postgres::Postgres;

use crate::config::{BackendKind, Config};
use crate::lifecycle::port::Backend;

/// The backend named by the configuration. `nls_use` is Altibase's `NLS_USE`
/// (from `ALTIBASE_NLS_USE`), ignored by other backends.
pub fn for_config(config: &Config, nls_use: Option<String>) -> Arc<dyn Backend> {
    match config.backend {
        BackendKind::Altibase => Arc::new(Altibase { nls_use }),
        BackendKind::Postgresql => Arc::new(Postgres),
    }
}
