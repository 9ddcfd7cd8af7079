//! keel: declarative, agentless infrastructure as code.
//!
//! The pipeline, one module per stage:
//! load (`config`) → resolve (`resolve`) → graph (`graph`) →
//! probe (`probe`) → diff and plan (`plan`) → apply and verify (`apply`).
//!
//! The modules are private to the crate: the public surface is only what
//! the `keel` binary, the integration tests and the fuzz targets use,
//! re-exported below, so the compiler reports code nothing reaches. Their
//! documentation: `cargo doc --no-deps --document-private-items`.
// No function outside tests over 120 lines (`clippy.toml`); the lib's
// non-test build is where `cargo clippy --all-targets` enforces it, so
// test code (unit tests, their fixtures) is exempt crate-wide here rather
// than module by module.
#![warn(clippy::too_many_lines)]
#![cfg_attr(test, allow(clippy::too_many_lines))]

mod apply;
mod check;
mod cli;
mod config;
mod confirm;
mod connect;
mod diag;
mod escape;
mod exit;
#[doc(hidden)]
pub mod fuzzing;
mod graph;
mod interrupt;
mod keyed;
mod ledger;
mod loaded;
mod lock;
mod lockout;
mod natural;
mod node;
mod plan;
mod probe;
mod release;
mod report;
mod resolve;
mod resources;
mod schema;
mod secret;
mod session;
mod shell;
mod suggest;
mod template;
mod transport;
mod url;

/// The binary's entry: the parsed flags and the command they name.
pub use cli::{Args, run};
/// The exit code of a run.
pub use exit::Exit;
/// A YAML document as the loader reads it (the schema tests validate it).
pub use node::Node;
/// Every resource kind's name (the fuzz regression test checks each has a target).
pub use resources::kind_names;
/// Quoting for a POSIX shell (the end-to-end tests build remote commands).
pub use shell::q;
/// Running commands on a host: the SSH transport's own tests use it directly.
pub use transport::ssh::{HostKeyPolicy, Ssh, SshTarget, check_fresh_connection};
pub use transport::{Output, Transport, TransportError};
