//! The `keel` binary: parse flags, run one command, map the result to an
//! exit code ([`keel::Exit`]: 0 ok, 1 error, 2 changes with
//! `plan --detailed-exitcode`).
//!
//! A usage error (unknown flag, missing argument) exits 1 like every other
//! error: clap's own code is 2, which `--detailed-exitcode` reserves for
//! drift, so a typo in CI would read as "drift". `--help` and `--version`
//! exit 0.

use clap::Parser;
use keel::Exit;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match keel::Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return Exit::error_if(e.use_stderr()).into();
        }
    };
    keel::run(args).into()
}
