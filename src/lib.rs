//! aku: keeps the database servers of a Kubernetes `StatefulSet` replicated as pods
//! come and go. A re-implementation of Altibase's `aku` utility, with a `PostgreSQL`
//! backend. `main.rs` only calls [`run`]; everything else lives here so that tests
//! can drive it in-process.

pub mod config;
