//! Shared helpers for integration tests: [`Keel`], the one runner of the
//! real `keel` binary (clean environment, output captured, time-limited),
//! and [`Host`], a fresh Debian host in a container reachable over real SSH.
// Each test crate uses a part of this module.
#![allow(dead_code, unused_imports)]

mod host;
mod keel;

pub use host::Host;
pub use keel::{Keel, Run, Running, binary};

use std::path::Path;

/// The repository's root (to find examples/).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Assert a run exited with `code`, showing its output otherwise.
pub fn expect(run: &Run, code: i32, what: &str) {
    assert_eq!(
        run.code, code,
        "{what}: expected exit {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
        run.code, run.stdout, run.stderr
    );
}
