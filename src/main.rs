//! The `keel` binary: parse flags, run one command, map the result to an
//! exit code (0 ok, 1 error, 2 changes with `plan --detailed-exitcode`).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = keel::cli::Args::parse();
    ExitCode::from(keel::cli::run(args))
}
