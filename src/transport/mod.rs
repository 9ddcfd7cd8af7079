//! Transports: how keel runs scripts on a host.
//!
//! One small trait, [`Transport`]: run a POSIX shell script on the host and
//! return what it printed. The script always travels on the standard input of
//! `sh -s` (or `sudo -n sh -s` when the host uses `become`), never in argv, so
//! secrets and file contents don't show in the host's process list.
//! Implementations: [`local`] (the machine keel runs on) and [`ssh`]
//! (openssh, ControlMaster multiplexing, strict host keys by default).
//! Every call to [`Transport::run`] is one round trip, and is counted.

use async_trait::async_trait;
use std::sync::atomic::{AtomicU64, Ordering};

pub mod local;
pub mod sim;
pub mod ssh;

/// What a script printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Exit status; `None` when killed by a signal.
    pub status: Option<i32>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// A failure to reach or talk to the host (not a script's non-zero exit).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {host}: {message}")]
    Connect { host: String, message: String },
    #[error("lost the connection to {host}: {message}")]
    Io { host: String, message: String },
}

/// Runs scripts on one host.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Run `script` with `sh -s` (through `sudo -n` when the host uses
    /// `become`), sending the script on stdin. One round trip.
    async fn run(&self, script: &str) -> Result<Output, TransportError>;

    /// How many round trips [`run`](Transport::run) has made.
    fn round_trips(&self) -> u64;

    /// A short description for logs: `ssh root@10.0.0.5:22`, `local`.
    fn describe(&self) -> String;

    /// Close connections (ControlMaster) cleanly.
    async fn close(&self) {}
}

/// A round-trip counter shared by transports.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Wrap a script so the shell reads all of it before running any of it,
/// with the script's own stdin at /dev/null: a command in it that reads
/// stdin (`cat`, a prompt) then sees end of file instead of swallowing the
/// rest of the script.
pub fn read_whole_first(script: &str) -> String {
    format!("keel_script() {{\n:\n{script}\n}}\nkeel_script </dev/null\n")
}

/// The command line that runs a script from stdin, with or without sudo.
pub fn shell_argv(become_root: bool) -> Vec<&'static str> {
    if become_root {
        vec!["sudo", "-n", "--", "sh", "-s"]
    } else {
        vec!["sh", "-s"]
    }
}
