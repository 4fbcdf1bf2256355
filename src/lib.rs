//! aku: keeps the database servers of a Kubernetes `StatefulSet` replicated as pods
//! come and go. A re-implementation of Altibase's `aku` utility, with a PostgreSQL
//! backend. `main.rs` only calls [`run::run`]; everything else lives here so that
//! tests can drive it in-process.

pub mod backend;
pub mod cli;
pub mod config;
pub mod connect;
pub mod connection_string;
pub mod error;
pub mod exit_code;
pub mod help;
pub mod info;
pub mod input_file;
pub mod lifecycle;
pub mod logging;
pub mod odbc;
pub mod output;
pub mod run;
pub mod status;
pub mod topology;

pub use run::run;
