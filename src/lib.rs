//! keel: declarative, agentless infrastructure as code.
//!
//! The pipeline, one module per stage:
//! load ([`config`]) → resolve ([`resolve`]) → graph ([`graph`]) →
//! probe ([`probe`]) → diff and plan ([`plan`]) → apply and verify ([`apply`]).
pub mod config;
pub mod sandbox;
pub mod diag;
pub mod resources;
pub mod shell;
pub mod transport;
pub mod secret;
pub mod template;
pub mod resolve;
pub mod graph;
pub mod probe;
pub mod plan;
pub mod session;
pub mod apply;
pub mod cli;
