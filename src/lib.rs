//! keel: declarative, agentless infrastructure as code.
//!
//! The pipeline, one module per stage:
//! load ([`config`]) → resolve ([`resolve`]) → graph ([`graph`]) →
//! probe ([`probe`]) → diff and plan ([`plan`]) → apply and verify ([`apply`]).
pub mod apply;
pub mod check;
pub mod cli;
pub mod config;
pub mod confirm;
pub mod diag;
pub mod exit;
#[doc(hidden)]
pub mod fuzzing;
pub mod graph;
pub mod keyed;
pub mod ledger;
pub mod loaded;
pub mod lock;
pub mod lockout;
pub mod plan;
pub mod probe;
pub mod release;
pub mod report;
pub mod resolve;
pub mod resources;
pub mod schema;
pub mod secret;
pub mod session;
pub mod shell;
pub mod template;
pub mod transport;
