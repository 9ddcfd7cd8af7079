//! One `keel apply` at a time on a host: a lock held for the whole run.
//!
//! Two applies on one host would interleave their steps (lines lost from a
//! file both edit, one run's commit-confirmed revert undoing the other's
//! change). So `keel apply` takes an exclusive `flock` on a file on the host
//! (`/run/keel/host.lock` as root; a private folder of the user otherwise)
//! right after connecting, before it reads the live state, and holds it
//! until the run ends. `keel plan` takes no lock: it only reads.
//!
//! The lock is held by a dedicated remote process on the run's multiplexed
//! SSH connection ([`Ssh::hold`]): it takes the lock, writes who holds it
//! into the lock file (keel's `user@machine`, pid, and since when), then
//! waits for its standard input to end. It ends — and the kernel drops the
//! lock — when keel releases it, when keel dies (even by SIGKILL: its end
//! of the pipe closes), or when the connection dies. No stale lock survives
//! its holder, so there is nothing to break by hand.
//!
//! A second run is told who holds the lock and since when, and fails at
//! once or waits up to `--lock-timeout`.

use crate::shell::Script;
use crate::transport::ssh::Ssh;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long to wait for a lock someone else holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Fail at once (the default off a terminal: CI).
    No,
    /// Up to this long.
    Upto(Duration),
    /// Until it is free (the default on a terminal; Ctrl-C stops).
    Forever,
}

impl Wait {
    /// `--lock-timeout` given, or the default: wait on a terminal, fail at
    /// once otherwise (and in CI, where `CI` is set).
    pub fn from_flag(secs: Option<u64>, interactive: bool) -> Wait {
        match secs {
            Some(0) => Wait::No,
            Some(s) => Wait::Upto(Duration::from_secs(s)),
            None if interactive => Wait::Forever,
            None => Wait::No,
        }
    }
}

/// Who this run is, as the lock file records it: `user@machine pid N`.
pub fn holder() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(account_name);
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    printable(&format!("{user}@{machine} pid {}", std::process::id()))
}

/// The name of the account keel runs as, from the user database (CI
/// containers and cron often set no `USER`); `uid N` when it has none.
fn account_name() -> String {
    // SAFETY: getuid cannot fail. getpwuid_r writes into `pw` and `buf`,
    // both alive and sized as passed; `found` is null or points at `pw`,
    // whose `pw_name` points into `buf`, read before either goes away.
    let uid = unsafe { libc::getuid() };
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc == 0 && !found.is_null() && !pw.pw_name.is_null() {
        let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) };
        if let Ok(name) = name.to_str()
            && !name.is_empty()
        {
            return name.to_string();
        }
    }
    format!("uid {uid}")
}

/// Text from the host, safe to print: no control characters, bounded.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LockError {
    #[error(
        "{host} is locked by another keel apply ({holder}); nothing was done. \
         Run again when it has finished, or wait for it with --lock-timeout SECS"
    )]
    Busy { host: String, holder: String },
    #[error(
        "{host} is still locked by another keel apply ({holder}) after waiting {secs} s; nothing was done"
    )]
    Timeout {
        host: String,
        holder: String,
        secs: u64,
    },
    #[error("cannot lock {host} for this run: {message}")]
    Failed { host: String, message: String },
}

/// The remote script: take the lock (or report who holds it), record the
/// holder, hold until stdin ends. Protocol lines start with `keel-lock `.
/// The script ends with an explicit `exit`: `sh -s` would otherwise wait
/// for more script on the stdin keel keeps open.
pub fn script(holder: &str, wait: Wait) -> String {
    let wait = match wait {
        Wait::No => "no".to_string(),
        Wait::Upto(d) => d.as_secs().max(1).to_string(),
        Wait::Forever => "forever".to_string(),
    };
    Script::new(include_str!("lock/hold.sh"))
        .set("keel_holder", holder)
        .set("keel_wait", wait)
        .render()
}

/// A held lock; released by [`HostLock::release`], or when dropped.
#[derive(Debug)]
pub struct HostLock {
    host: String,
    released: Arc<AtomicBool>,
    release: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl HostLock {
    /// Let go of the lock and wait (briefly) until the host has.
    pub async fn release(&self) {
        self.released.store(true, Ordering::SeqCst);
        if let Some(tx) = self.release.lock().ok().and_then(|mut g| g.take()) {
            let _ = tx.send(());
        }
        let task = self.task.lock().ok().and_then(|mut g| g.take());
        if let Some(task) = task
            && tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .is_err()
        {
            tracing::warn!(host = %self.host, "the host lock did not report its release in time");
        }
    }
}

impl Drop for HostLock {
    /// Dropping the lock lets go of it (the pipe that holds it closes).
    fn drop(&mut self) {
        self.released.store(true, Ordering::SeqCst);
    }
}

/// Take the lock of `host` over `ssh`. `waiting` is told once when someone
/// else holds it and this run waits.
pub async fn acquire(
    ssh: Arc<Ssh>,
    host: &str,
    wait: Wait,
    waiting: impl Fn(&str),
) -> Result<HostLock, LockError> {
    let (lines_tx, mut lines) = mpsc::unbounded_channel();
    let (release_tx, release_rx) = oneshot::channel();
    let script = script(&holder(), wait);
    let ended = lines_tx.clone();
    let taken = Arc::new(AtomicBool::new(false));
    let released = Arc::new(AtomicBool::new(false));
    let (was_taken, was_released, name) = (taken.clone(), released.clone(), host.to_string());
    let task = tokio::spawn(async move {
        let end = match ssh.hold(&script, lines_tx, release_rx).await {
            Ok(out) if out.stderr.is_empty() => format!("exit status {:?}", out.status),
            Ok(out) => printable(&out.stderr_text()),
            Err(e) => e.to_string(),
        };
        if was_taken.load(Ordering::SeqCst) && !was_released.load(Ordering::SeqCst) {
            tracing::warn!(
                host = %name,
                "the host lock was lost before the run ended ({end}): another keel apply may now start on this host"
            );
        }
        let _ = ended.send(format!("keel-lock ended {end}"));
    });
    let failed = |message: String| LockError::Failed {
        host: host.to_string(),
        message,
    };
    let mut holder = String::new();
    while let Some(line) = lines.recv().await {
        let Some(rest) = line.strip_prefix("keel-lock ") else {
            continue;
        };
        let (what, text) = rest.split_once(' ').unwrap_or((rest, ""));
        let text = printable(text);
        match what {
            "acquired" => {
                tracing::info!(host, "took the host lock");
                taken.store(true, Ordering::SeqCst);
                return Ok(HostLock {
                    host: host.to_string(),
                    released,
                    release: Mutex::new(Some(release_tx)),
                    task: Mutex::new(Some(task)),
                });
            }
            "busy" => {
                holder = if text.is_empty() {
                    "holder unknown: the lock file is empty".into()
                } else {
                    text
                };
                if wait != Wait::No {
                    waiting(&holder);
                }
            }
            "timeout" => {
                return Err(LockError::Timeout {
                    host: host.to_string(),
                    holder: if text.is_empty() { holder } else { text },
                    secs: match wait {
                        Wait::Upto(d) => d.as_secs(),
                        _ => 0,
                    },
                });
            }
            "error" => return Err(failed(text)),
            "ended" if !holder.is_empty() && wait == Wait::No => {
                return Err(LockError::Busy {
                    host: host.to_string(),
                    holder,
                });
            }
            "ended" => return Err(failed(format!("the lock process ended: {text}"))),
            _ => {}
        }
    }
    Err(failed("the lock process ended without a word".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::testing::assert_sh_syntax;

    #[test]
    fn account_name_is_the_user_database_entry() {
        let name = account_name();
        let uid = unsafe { libc::getuid() };
        let expected = std::process::Command::new("id")
            .arg("-un")
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map_or_else(
                || format!("uid {uid}"),
                |o| String::from_utf8_lossy(&o.stdout).trim().to_string(),
            );
        assert_eq!(name, expected);
    }

    #[test]
    fn scripts_are_valid_sh_and_quote_the_holder() {
        for wait in [Wait::No, Wait::Upto(Duration::from_secs(30)), Wait::Forever] {
            let s = script("me@box pid 1; rm -rf /", wait);
            assert_sh_syntax(&s);
            assert!(s.contains("'me@box pid 1; rm -rf /'"), "{s}");
        }
        let s = script("h", Wait::Upto(Duration::from_secs(30)));
        assert!(s.contains("\nkeel_wait=30\n") && s.contains("flock -w \"$keel_wait\" 9"));
    }

    #[test]
    fn waiting_defaults_follow_the_terminal() {
        assert_eq!(Wait::from_flag(None, false), Wait::No);
        assert_eq!(Wait::from_flag(None, true), Wait::Forever);
        assert_eq!(Wait::from_flag(Some(0), true), Wait::No);
        assert_eq!(
            Wait::from_flag(Some(5), false),
            Wait::Upto(Duration::from_secs(5))
        );
    }

    #[test]
    fn host_text_is_made_printable() {
        assert_eq!(printable("a\x1b[31mb\x07 c\n"), "a[31mb c");
        assert_eq!(printable(&"x".repeat(1000)).len(), 300);
        let h = holder();
        assert!(h.contains('@') && h.contains(" pid "), "{h}");
    }
}
