//! Ctrl-C, SIGTERM and SIGHUP: stop without leaving a host half-changed
//! or a connection behind.
//!
//! The CLI calls [`watch`] once its runtime is up. What a signal does then
//! depends on the phase:
//!
//! - **Outside an apply** (planning, reading facts, the confirmation
//!   prompt) nothing has been changed: keel stops at once, exit 130
//!   (SIGINT), 143 (SIGTERM) or 129 (SIGHUP), after shutting the SSH
//!   ControlMasters it opened. Killed by the default action instead, a
//!   master would stay up (`ControlPersist`) with its folder in `/tmp`, a
//!   login on the server that nothing ends.
//! - **While hosts are changed** ([`Applying`]), the first signal asks
//!   every host to stop after the steps running now ([`requested`]): no
//!   new step, no new host and no next batch starts; handlers of what
//!   already changed still run (their notification would otherwise be
//!   lost: the next run sees nothing to change); the commit-confirmed
//!   window is confirmed, the ledger and locks handled as in any run, and
//!   the summary names what was not applied; exit 1. A second signal stops
//!   at once, as outside an apply: a step already running on a host ends
//!   there unwatched, and a revert still armed undoes the access changes
//!   it covers when its timer fires.
//!
//! keel's own children (ssh, the local transport's shell) run in process
//! groups of their own, so a Ctrl-C at the terminal reaches keel alone and
//! the steps running finish instead of dying with it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// A stop was asked for while applying.
static REQUESTED: AtomicBool = AtomicBool::new(false);
/// Hosts are being changed: a first signal stops gracefully.
static APPLYING: AtomicBool = AtomicBool::new(false);
/// The ControlMasters open or opening now.
static MASTERS: Mutex<Vec<Master>> = Mutex::new(Vec::new());

/// A ControlMaster keel started.
#[derive(Debug, Clone, PartialEq)]
struct Master {
    /// Its control socket.
    socket: PathBuf,
    /// The folder keel made for the connection, removed with it.
    folder: PathBuf,
    /// The `ssh` still logging in (it forks the master off once in), by pid.
    launching: Option<u32>,
}

/// What a step that did not start because of a stop says.
pub const NOT_STARTED: &str = "not started: keel was interrupted";

/// Whether a graceful stop was asked for.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// The phase in which hosts are changed, for as long as it lives.
pub struct Applying(());

impl Applying {
    pub fn start() -> Applying {
        APPLYING.store(true, Ordering::SeqCst);
        Applying(())
    }
}

impl Drop for Applying {
    fn drop(&mut self) {
        APPLYING.store(false, Ordering::SeqCst);
    }
}

/// A ControlMaster to listen on `socket` is being started by the `ssh`
/// of pid `launching`; `folder` (keel's, made for this connection) is
/// removed with it.
pub fn master_launching(socket: &Path, folder: &Path, launching: Option<u32>) {
    if let Ok(mut m) = MASTERS.lock() {
        m.push(Master {
            socket: socket.to_path_buf(),
            folder: folder.to_path_buf(),
            launching,
        });
    }
}

/// The `ssh` starting the master on `socket` is done logging in.
pub fn master_up(socket: &Path) {
    if let Ok(mut m) = MASTERS.lock() {
        for master in m.iter_mut().filter(|x| x.socket == socket) {
            master.launching = None;
        }
    }
}

/// The ControlMaster on `socket` was shut.
pub fn master_closed(socket: &Path) {
    if let Ok(mut m) = MASTERS.lock() {
        m.retain(|x| x.socket != socket);
    }
}

/// What one signal does; `Some(code)` to exit at once with it.
fn on_signal(code: i32) -> Option<i32> {
    if APPLYING.load(Ordering::SeqCst) && !REQUESTED.swap(true, Ordering::SeqCst) {
        say(
            "\nkeel: interrupted: finishing the steps running now on each host and starting no new \
             ones (handlers of what changed still run). Press Ctrl-C again to stop at once.",
        );
        return None;
    }
    Some(code)
}

/// A line on stderr; never a panic (the terminal may be gone).
fn say(text: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Shut every open ControlMaster and remove its folder (best effort: the
/// process is about to exit).
fn close_masters() {
    let masters = MASTERS.lock().map(|m| m.clone()).unwrap_or_default();
    for m in masters {
        if let Some(pid) = m.launching.and_then(|p| libc::pid_t::try_from(p).ok()) {
            // keel's own child, not reaped yet: the pid cannot be reused.
            // SAFETY: kill(2) with a pid and a signal number has no memory effects.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let _ = std::process::Command::new("ssh")
            .arg("-S")
            .arg(&m.socket)
            .args(["-O", "exit", "keel-master"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&m.folder);
    }
}

/// Watch SIGINT and SIGTERM for the rest of the process (see the module
/// doc). Needs a Tokio runtime entered; a platform without the signals
/// keeps their default action.
pub fn watch() {
    use tokio::signal::unix::{SignalKind, signal};
    // A signal keel was started with ignored (`cmd &` in a script without
    // job control) stays ignored, as the shell meant.
    let watched = |sig, kind| {
        if ignored(sig) {
            return None;
        }
        signal(kind)
            .inspect_err(|e| tracing::debug!("cannot watch signal {sig}: {e}"))
            .ok()
    };
    let mut int = watched(libc::SIGINT, SignalKind::interrupt());
    let mut term = watched(libc::SIGTERM, SignalKind::terminate());
    // The terminal gone (a dropped SSH session to the machine keel runs
    // on): as SIGTERM. Under `nohup` it is ignored, and the run goes on.
    let mut hup = watched(libc::SIGHUP, SignalKind::hangup());
    if int.is_none() && term.is_none() && hup.is_none() {
        return;
    }
    tokio::spawn(async move {
        loop {
            let code = tokio::select! {
                Some(_) = recv(&mut int) => 130,
                Some(_) = recv(&mut term) => 143,
                Some(_) = recv(&mut hup) => 129,
                else => return,
            };
            if let Some(code) = on_signal(code) {
                say("\nkeel: stopped.");
                close_masters();
                std::process::exit(code);
            }
        }
    });
}

/// The next delivery of a watched signal; never, for one not watched.
async fn recv(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

/// Whether `sig` is ignored in this process.
fn ignored(sig: libc::c_int) -> bool {
    // SAFETY: all-zero is a valid sigaction; with a null new action,
    // sigaction(2) only reads the current one into `old`.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    let read = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    read == 0 && old.sa_sigaction == libc::SIG_IGN
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One test for the global state, so no other test sees it half set.
    #[test]
    fn first_signal_while_applying_is_graceful_second_is_not() {
        assert_eq!(on_signal(130), Some(130), "outside an apply: at once");
        assert!(!requested());
        {
            let _a = Applying::start();
            assert_eq!(on_signal(130), None, "first while applying: graceful");
            assert!(requested());
            assert_eq!(on_signal(143), Some(143), "second: at once");
        }
        master_launching(Path::new("/x/a/master"), Path::new("/x/a"), Some(7));
        master_launching(Path::new("/x/b/master"), Path::new("/x/b"), Some(8));
        master_up(Path::new("/x/b/master"));
        master_closed(Path::new("/x/a/master"));
        assert_eq!(
            *MASTERS.lock().unwrap(),
            [Master {
                socket: PathBuf::from("/x/b/master"),
                folder: PathBuf::from("/x/b"),
                launching: None
            }]
        );
        REQUESTED.store(false, Ordering::SeqCst);
        master_closed(Path::new("/x/b/master"));
    }
}
