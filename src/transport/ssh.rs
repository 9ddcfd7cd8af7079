//! The `ssh` transport: runs scripts on a remote host over OpenSSH.
//!
//! Built on the [`openssh`] crate, which drives the system `ssh` client: one
//! ControlMaster connection per host ([`Ssh::connect`]), and every
//! [`Transport::run`] is one more session multiplexed over it (native mux
//! protocol, no extra `ssh` process, no extra TCP handshake or
//! authentication). Because it is the real `ssh`, `~/.ssh/config`,
//! `ProxyJump`, certificates and the agent work as the user expects.
//!
//! Choices, and why:
//! - **Host keys are checked strictly by default** ([`HostKeyPolicy::Strict`],
//!   `StrictHostKeyChecking=yes`). openssh's own default is trust on first
//!   use; here that is an explicit opt-in per host
//!   ([`HostKeyPolicy::AcceptNew`], `accept-new`) for freshly provisioned
//!   servers. A *changed* key is refused under both policies. When the key is
//!   unknown or changed, the error says how to check and add it instead of
//!   inviting the user to turn checking off.
//! - **One host, one key, on every port it is reached on**: a target may set
//!   [`SshTarget::host_key_alias`] (`HostKeyAlias`); [`crate::connect::host_key_alias`] sets it for
//!   hosts with a bootstrap port, so `accept-new` cannot trust a second key
//!   once sshd moves to its new port. keel starts the master `ssh` itself
//!   (openssh's builder has no way to pass that option) and attaches
//!   openssh's native mux client to it.
//! - **Scripts travel on stdin** of `sh -s` (or `sudo -n -- sh -s`), never in
//!   argv, so secrets don't show in any process list, locally or remotely.
//!   stdin is written concurrently with reading stdout and stderr, so
//!   multi-megabyte scripts and outputs cannot deadlock on full pipes.
//! - **At most [`MAX_SESSIONS`] runs at once per host**: sshd's default
//!   `MaxSessions 10` caps sessions on one connection; more would fail with
//!   "Session open refused by peer", so extra runs wait for a permit.
//!   Should a server allow fewer sessions still, a refused session open
//!   (nothing ran yet) is retried with backoff for up to 30 s.
//! - **The control socket lives in a fresh private directory under `/tmp`**
//!   (`/tmp/keel-XXXXXX/.ssh-connectionXXXXXX/master`): unix socket paths are
//!   limited to ~108 bytes, which `$XDG_STATE_HOME` or a long `$TMPDIR` can
//!   exceed.
//! - **A script's non-zero exit is an [`Output`], not an error**; only a
//!   failure to reach or keep the host is a [`TransportError`]. openssh
//!   turns exit status 127 into a "remote command not found" error; for a
//!   script that is a status like any other, so it is mapped back. A run
//!   with no exit status (killed by a signal, or the connection died: the
//!   mux protocol cannot tell) is resolved by asking the master whether it
//!   is still alive.
//!
//! [`check_fresh_connection`] is the exception to multiplexing: a brand-new,
//! stand-alone `ssh` connection, to prove that *new* logins still work after a
//! change to sshd or the firewall ("commit confirmed"); an existing master
//! connection would survive such a change and prove nothing.
//!
//! The master is stopped by [`Transport::close`], or by dropping [`Ssh`]. If
//! keel is killed with SIGKILL the master (ControlPersist) lingers until the
//! server or network drops it.

use super::{Counter, Output, Transport, TransportError, shell_argv};
use async_trait::async_trait;
use openssh::{Session, Stdio};
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::{RwLock, Semaphore};

/// Concurrent runs per host: below sshd's default `MaxSessions 10`.
pub const MAX_SESSIONS: usize = 8;

/// How often the master asks the server whether it is alive
/// (`ServerAliveInterval`); with ssh's default `ServerAliveCountMax 3` a dead
/// server is noticed within 45 s.
const SERVER_ALIVE_INTERVAL: Duration = Duration::from_secs(15);

/// How long a run keeps retrying when the server refuses to open a session.
const SESSION_RETRY_LIMIT: Duration = Duration::from_secs(30);

/// Where the control directory is created: short, so that the socket path
/// fits the unix limit.
const CONTROL_PARENT: &str = "/tmp";

/// In the message of a changed host key (see [`host_key_changed`]).
const HOST_KEY_CHANGED: &str = "has CHANGED since it was recorded";

/// Whether a connection failed because the host presented another key than
/// the one recorded: an alarm, never a reason to try another way in.
pub fn host_key_changed(e: &TransportError) -> bool {
    matches!(e, TransportError::Connect { message, .. } if message.contains(HOST_KEY_CHANGED))
}

/// What to do with a host key that is not in `known_hosts` yet.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Deserialize,
    serde::Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyPolicy {
    /// Connect only to hosts whose key is already in `known_hosts`
    /// (`StrictHostKeyChecking=yes`). The default.
    #[default]
    Strict,
    /// Trust on first use: an unknown key is accepted and added to
    /// `known_hosts`; a changed key is still refused
    /// (`StrictHostKeyChecking=accept-new`). An explicit opt-in, meant for
    /// freshly provisioned servers whose key cannot be known beforehand.
    AcceptNew,
}

impl HostKeyPolicy {
    /// The `ssh -o` option for this policy.
    fn ssh_option(self) -> &'static str {
        match self {
            HostKeyPolicy::Strict => "StrictHostKeyChecking=yes",
            HostKeyPolicy::AcceptNew => "StrictHostKeyChecking=accept-new",
        }
    }
}

/// How to reach one host over SSH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTarget {
    /// The inventory name, for messages.
    pub label: String,
    /// Host name, IP address, or a `Host` alias of the ssh_config.
    pub address: String,
    /// `None`: ssh's default (the ssh_config's `Port`, else 22).
    pub port: Option<u16>,
    /// `None`: ssh's default (the ssh_config's `User`, else the local user).
    pub user: Option<String>,
    /// Use only this key (`-i`, `IdentitiesOnly=yes`); `None`: the agent and
    /// ssh's default keys.
    pub identity_file: Option<PathBuf>,
    pub host_key: HostKeyPolicy,
    /// The name the host key is recorded and checked under in known_hosts
    /// (`HostKeyAlias`), whatever the port. `None`: ssh's default, `address`
    /// on port 22 and `[address]:port` on others, so a key learned on one
    /// port says nothing about another.
    pub host_key_alias: Option<String>,
    /// An ssh_config file (`-F`); `None`: `~/.ssh/config` applies as usual.
    pub ssh_config: Option<PathBuf>,
    /// Run scripts via `sudo -n -- sh -s`.
    pub become_root: bool,
    /// Time allowed for the TCP connection and the SSH handshake
    /// (`ConnectTimeout`, whole seconds, at least 1).
    pub connect_timeout: Duration,
}

impl SshTarget {
    /// A target with defaults: ssh's port and user, strict host keys, no
    /// sudo, a 10 s connect timeout.
    pub fn new(label: impl Into<String>, address: impl Into<String>) -> SshTarget {
        SshTarget {
            label: label.into(),
            address: address.into(),
            port: None,
            user: None,
            identity_file: None,
            host_key: HostKeyPolicy::Strict,
            host_key_alias: None,
            ssh_config: None,
            become_root: false,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// `user@address:port`, leaving out what ssh decides.
    pub fn destination(&self) -> String {
        let mut s = String::new();
        if let Some(user) = &self.user {
            s.push_str(user);
            s.push('@');
        }
        match self.port {
            Some(port) if self.address.contains(':') => {
                s.push_str(&format!("[{}]:{port}", self.address));
            }
            Some(port) => s.push_str(&format!("{}:{port}", self.address)),
            None => s.push_str(&self.address),
        }
        s
    }

    /// The name used in errors: the label, with the destination when they
    /// differ.
    fn host_name(&self) -> String {
        if self.label.is_empty() || self.label == self.address {
            self.destination()
        } else {
            format!("{} ({})", self.label, self.destination())
        }
    }

    fn connect_error(&self, message: impl Into<String>) -> TransportError {
        TransportError::Connect {
            host: self.host_name(),
            message: message.into(),
        }
    }

    /// `ConnectTimeout` in whole seconds; ssh treats 0 as "no timeout".
    fn timeout_secs(&self) -> u64 {
        self.connect_timeout.as_secs().max(1)
    }

    /// An upper bound for a whole connection attempt, in case a server
    /// accepts the handshake and then stalls authentication.
    fn backstop(&self) -> Duration {
        Duration::from_secs(2 * self.timeout_secs() + 30)
    }

    /// Refuse addresses ssh would parse as options or that cannot be a host.
    fn check_address(&self) -> Result<(), TransportError> {
        let a = &self.address;
        if a.is_empty() {
            return Err(self.connect_error("the address is empty"));
        }
        if a.starts_with('-') || a.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.connect_error(format!(
                "`{a}` is not a valid address: it must not start with `-` or contain spaces"
            )));
        }
        Ok(())
    }

    /// Options shared by the master and stand-alone connections.
    fn options(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        let mut opt = |o: String| {
            args.push("-o".into());
            args.push(o.into());
        };
        opt("BatchMode=yes".into());
        opt(self.host_key.ssh_option().into());
        opt(format!("ConnectTimeout={}", self.timeout_secs()));
        opt(format!(
            "ServerAliveInterval={}",
            SERVER_ALIVE_INTERVAL.as_secs()
        ));
        if let Some(alias) = &self.host_key_alias {
            opt(format!("HostKeyAlias={alias}"));
        }
        if let Some(key) = &self.identity_file {
            opt("IdentitiesOnly=yes".into());
            args.push("-i".into());
            args.push(key.into());
        }
        if let Some(port) = self.port {
            args.push("-p".into());
            args.push(port.to_string().into());
        }
        if let Some(user) = &self.user {
            args.push("-l".into());
            args.push(user.into());
        }
        if let Some(config) = &self.ssh_config {
            args.push("-F".into());
            args.push(config.into());
        }
        args
    }

    /// The `ssh` arguments that start the ControlMaster: authenticate, fork
    /// to the background once logged in (`-f`), serve sessions on `socket`.
    fn master_args(&self, socket: &Path, log: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "-E".into(),
            log.into(),
            "-S".into(),
            socket.into(),
            "-M".into(),
            "-f".into(),
            "-N".into(),
            "-o".into(),
            "ControlPersist=yes".into(),
        ];
        args.extend(self.options());
        args.push("--".into());
        args.push((&self.address).into());
        args
    }

    /// The `ssh` arguments of a stand-alone connection that runs `command`:
    /// the same options as the master, minus multiplexing.
    fn fresh_args(&self, command: &str) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "-o".into(),
            "ControlMaster=no".into(),
            "-o".into(),
            "ControlPath=none".into(),
        ];
        args.extend(self.options());
        args.push("-T".into());
        args.push("--".into());
        args.push((&self.address).into());
        args.push(command.into());
        args
    }
}

/// An open connection (a ControlMaster) to one host.
#[derive(Debug)]
pub struct Ssh {
    target: SshTarget,
    /// `None` once closed. Runs hold a read lock; `close` takes the write
    /// lock, so it waits for runs in flight. Declared before `_control_dir`:
    /// fields drop in order, so the master is shut down before its
    /// directory is removed.
    session: RwLock<Option<Session>>,
    permits: Semaphore,
    counter: Counter,
    _control_dir: tempfile::TempDir,
}

/// A slot on an open connection, held while one remote process runs.
struct Turn<'a> {
    _permit: tokio::sync::SemaphorePermit<'a>,
    session: tokio::sync::RwLockReadGuard<'a, Session>,
}

/// A remote shell with its stdio taken out, ready to be fed and read.
struct Piped<'s> {
    child: openssh::Child<&'s Session>,
    stdin: Option<openssh::ChildStdin>,
    stdout: Option<openssh::ChildStdout>,
    stderr: Option<openssh::ChildStderr>,
}

impl Ssh {
    /// Start the ControlMaster: connect and authenticate once.
    ///
    /// Bounded by `ConnectTimeout` for the TCP connection and handshake, and
    /// by a backstop of twice that plus 30 s for the whole login (then the
    /// `ssh` is killed).
    pub async fn connect(target: SshTarget) -> Result<Ssh, TransportError> {
        target.check_address()?;
        let control_dir = tempfile::Builder::new()
            .prefix("keel-")
            .tempdir_in(CONTROL_PARENT)
            .map_err(|e| {
                target.connect_error(format!(
                    "cannot create a control directory in {CONTROL_PARENT}: {e}"
                ))
            })?;
        tracing::debug!(host = %target.host_name(), "starting ssh master");
        let session = launch_master(&target, control_dir.path()).await?;
        note_master_log(&target, &session).await;
        Ok(Ssh {
            target,
            session: RwLock::new(Some(session)),
            permits: Semaphore::new(MAX_SESSIONS),
            counter: Counter::default(),
            _control_dir: control_dir,
        })
    }

    /// The prologue of every remote process: wait for a free session
    /// slot, count the round trip, and hold the connection open (a read
    /// lock `close` waits for) for as long as the turn lives.
    async fn turn(&self) -> Result<Turn<'_>, TransportError> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| self.io_error("the connection was closed"))?;
        self.counter.bump();
        let session =
            tokio::sync::RwLockReadGuard::try_map(self.session.read().await, |s| s.as_ref())
                .map_err(|_| self.io_error("the connection was closed"))?;
        Ok(Turn {
            _permit: permit,
            session,
        })
    }

    /// Open a session running `sh -s` (through sudo with become), with
    /// every stdio piped and taken out of the child.
    async fn spawn_shell<'s>(&self, session: &'s Session) -> Result<Piped<'s>, TransportError> {
        let argv = shell_argv(self.target.become_root);
        let mut delay = Duration::from_millis(50);
        let mut waited = Duration::ZERO;
        let child = loop {
            let mut command = session.command(argv[0]);
            command
                .args(&argv[1..])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            match command.spawn().await {
                Ok(child) => break child,
                // The server would not open one more session (a MaxSessions
                // below ours, or sessions of other users of this master):
                // nothing ran, so wait for one to end and try again.
                Err(e) if session_refused(&e) && waited < SESSION_RETRY_LIMIT => {
                    tracing::debug!(host = %self.target.host_name(), "session refused; retrying");
                    tokio::time::sleep(delay).await;
                    waited += delay;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Err(e) if session_refused(&e) => {
                    return Err(self.io_error(format!(
                        "the server keeps refusing to open another session on this \
                         connection; is sshd's MaxSessions below {MAX_SESSIONS} on this host? \
                         ({})",
                        error_chain(&e)
                    )));
                }
                Err(e) => return Err(self.run_error(&e)),
            }
        };
        let mut child = child;
        Ok(Piped {
            stdin: child.stdin().take(),
            stdout: child.stdout().take(),
            stderr: child.stderr().take(),
            child,
        })
    }

    /// How a remote process ended.
    async fn exit_status(
        &self,
        session: &Session,
        child: openssh::Child<&Session>,
    ) -> Result<Option<i32>, TransportError> {
        Ok(match child.wait().await {
            Ok(status) => status.code(),
            // openssh reports exit status 127 as "remote command not found";
            // for a script that is just its exit status (the shell has printed
            // why on stderr).
            Err(openssh::Error::Remote(e)) if e.kind() == io::ErrorKind::NotFound => Some(127),
            // No exit status: killed by a signal, or the connection died.
            // The mux protocol cannot tell them apart; ask the master.
            Err(openssh::Error::RemoteProcessTerminated) => match session.check().await {
                Ok(()) => None,
                Err(e) => return Err(self.run_error(&e)),
            },
            Err(e) => return Err(self.run_error(&e)),
        })
    }

    /// Run `script` as a long-lived process: its stdout is sent line by
    /// line to `lines` as it comes, and its stdin stays open (the script
    /// can wait on it) until `release` fires or is dropped — or keel dies:
    /// the pipe then closes and the host sees end of file. For holding
    /// something on the host for the length of a run (the host lock, `crate::lock`).
    pub async fn hold(
        &self,
        script: &str,
        lines: tokio::sync::mpsc::UnboundedSender<String>,
        release: tokio::sync::oneshot::Receiver<()>,
    ) -> Result<Output, TransportError> {
        let turn = self.turn().await?;
        let session = &*turn.session;
        let Piped {
            child,
            stdin,
            stdout,
            stderr,
        } = self.spawn_shell(session).await?;
        let write = feed(stdin, script, async {
            let _ = release.await;
        });
        let read_lines = async move {
            let mut all = Vec::new();
            if let Some(stdout) = stdout {
                // The same bound as every other read of what a host prints
                // (a line without end included).
                let mut reader = tokio::io::BufReader::new(stdout.take(MAX_OUTPUT_BYTES + 1));
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match tokio::io::AsyncBufReadExt::read_until(&mut reader, b'\n', &mut line)
                        .await
                    {
                        Ok(0) => break,
                        Ok(_) => {
                            all.extend_from_slice(&line);
                            let text = String::from_utf8_lossy(&line);
                            let _ = lines.send(text.trim_end_matches('\n').to_string());
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            if all.len() as u64 > MAX_OUTPUT_BYTES {
                return Err(too_much_output(MAX_OUTPUT_BYTES));
            }
            Ok(all)
        };
        let reads = async { tokio::join!(read_lines, read_all(stderr)) };
        tokio::pin!(write);
        tokio::pin!(reads);
        let mut written = false;
        // The process may end before it is released (it could not take
        // what it holds): then stop waiting to release it.
        let (out, err) = loop {
            tokio::select! {
                r = &mut reads => break r,
                () = &mut write, if !written => written = true,
            }
        };
        let out = out.map_err(|e| self.io_error(format!("reading stdout: {e}")))?;
        let err = err.map_err(|e| self.io_error(format!("reading stderr: {e}")))?;
        let status = self.exit_status(session, child).await?;
        Ok(Output {
            stdout: out,
            stderr: err,
            status,
        })
    }

    /// The target this connection was made to.
    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    fn io_error(&self, message: impl Into<String>) -> TransportError {
        TransportError::Io {
            host: self.target.host_name(),
            message: message.into(),
        }
    }

    /// Map an openssh error of a run to a [`TransportError::Io`].
    fn run_error(&self, e: &openssh::Error) -> TransportError {
        let message = match e {
            openssh::Error::Disconnected => {
                "the SSH connection is gone (server rebooted, network down, or sshd \
                 restarted with the connection dropped)"
                    .to_string()
            }
            other => error_chain(other),
        };
        self.io_error(message)
    }
}

/// Write `script` to the process's stdin, then keep the pipe open until
/// `until` completes; dropping the pipe then sends end of file. The script
/// may exit before reading all of its input: the broken pipe that follows
/// is not an error of the transport.
async fn feed(
    stdin: Option<openssh::ChildStdin>,
    script: &str,
    until: impl std::future::Future<Output = ()>,
) {
    if let Some(mut stdin) = stdin {
        if let Err(e) = stdin.write_all(script.as_bytes()).await {
            tracing::debug!("writing the script to stdin stopped: {e}");
        }
        let _ = stdin.flush().await;
        until.await;
        drop(stdin);
    }
}

#[async_trait]
impl Transport for Ssh {
    async fn run(&self, script: &str) -> Result<Output, TransportError> {
        let turn = self.turn().await?;
        let session = &*turn.session;
        let Piped {
            child,
            stdin,
            stdout,
            stderr,
        } = self.spawn_shell(session).await?;

        let script = super::read_whole_first(script);
        let write = feed(stdin, &script, async {});
        let ((), out, err) = tokio::join!(write, read_all(stdout), read_all(stderr));
        let out = out.map_err(|e| self.io_error(format!("reading stdout: {e}")))?;
        let err = err.map_err(|e| self.io_error(format!("reading stderr: {e}")))?;

        let status = self.exit_status(session, child).await?;
        Ok(Output {
            stdout: out,
            stderr: err,
            status,
        })
    }

    fn round_trips(&self) -> u64 {
        self.counter.get()
    }

    fn describe(&self) -> String {
        let sudo = if self.target.become_root {
            " (sudo)"
        } else {
            ""
        };
        format!("ssh {}{sudo}", self.target.destination())
    }

    async fn close(&self) {
        // Runs waiting for a permit fail from now on.
        self.permits.close();
        let session = self.session.write().await.take();
        let Some(session) = session else { return };
        crate::interrupt::master_closed(session.control_socket());
        match session.close().await {
            Ok(()) => {}
            // Already gone: nothing to close.
            Err(openssh::Error::Disconnected) => {}
            Err(e) => tracing::warn!(
                host = %self.target.host_name(),
                "closing the ssh master: {}",
                error_chain(&e)
            ),
        }
    }
}

/// Whether the server refused to open a session channel (sshd's
/// `MaxSessions` reached). ssh's mux reports it as text only.
fn session_refused(e: &openssh::Error) -> bool {
    error_chain(e).contains("open refused")
}

/// The most a host may print on one stream of one script. What a host
/// prints is untrusted: a broken or hostile host printing without end must
/// not run keel out of memory. Probes print file contents base64-encoded,
/// so this leaves room for many files at `source:`'s 64 MiB limit.
pub const MAX_OUTPUT_BYTES: u64 = 512 * 1024 * 1024;

/// Read a pipe to its end, refusing more than [`MAX_OUTPUT_BYTES`].
async fn read_all<R: AsyncRead + Unpin>(pipe: Option<R>) -> io::Result<Vec<u8>> {
    read_bounded(pipe, MAX_OUTPUT_BYTES).await
}

fn too_much_output(limit: u64) -> io::Error {
    io::Error::other(format!(
        "the host printed more than {} MiB on one stream: refusing the rest (a broken or hostile host)",
        limit / (1024 * 1024)
    ))
}

async fn read_bounded<R: AsyncRead + Unpin>(pipe: Option<R>, limit: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    if let Some(pipe) = pipe {
        pipe.take(limit + 1).read_to_end(&mut buf).await?;
        if buf.len() as u64 > limit {
            return Err(too_much_output(limit));
        }
    }
    Ok(buf)
}

/// Open a brand-new, stand-alone (not multiplexed) SSH connection to
/// `target`, with the same options as [`Ssh::connect`], and run `true`.
///
/// For "commit confirmed" checks after changing sshd or the firewall: a
/// ControlMaster survives such changes, a new login does not.
pub async fn check_fresh_connection(target: &SshTarget) -> Result<(), TransportError> {
    target.check_address()?;
    let child = tokio::process::Command::new("ssh")
        // Its own process group: a Ctrl-C at the terminal is keel's to
        // handle (crate::interrupt), not a failed login's.
        .process_group(0)
        .args(target.fresh_args(if target.become_root {
            "sudo -n true"
        } else {
            "true"
        }))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| target.connect_error(spawn_message(&e)))?;
    let out = match tokio::time::timeout(target.backstop(), child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return Err(target.connect_error(format!("running ssh: {e}"))),
        Err(_) => {
            return Err(target.connect_error(format!(
                "a new SSH login did not complete within {} s",
                target.backstop().as_secs()
            )));
        }
    };
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        // ssh's own failure.
        Some(255) | None => Err(target.connect_error(diagnose(target, &stderr))),
        Some(code) => Err(target.connect_error(format!(
            "a new SSH login worked, but its check (`true`, or `sudo -n true` with become) exited with status {code} \
             (no sudo rights, a nologin shell or a ForceCommand?){}",
            said(&stderr)
        ))),
    }
}

/// Start `ssh` as a ControlMaster in a fresh folder of `control_dir` and
/// attach to it. keel starts it itself (not through openssh's builder) to
/// pass every option it needs, `HostKeyAlias` included.
async fn launch_master(target: &SshTarget, control_dir: &Path) -> Result<Session, TransportError> {
    let dir = tempfile::Builder::new()
        .prefix(".ssh-connection")
        .tempdir_in(control_dir)
        .map_err(|e| target.connect_error(format!("cannot create a control directory: {e}")))?;
    let log = dir.path().join("log");
    let socket = dir.path().join("master");
    let child = tokio::process::Command::new("ssh")
        // Its own process group: a Ctrl-C at the terminal is keel's to
        // handle (crate::interrupt), which shuts the masters it knows of.
        .process_group(0)
        .args(target.master_args(&socket, &log))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| target.connect_error(spawn_message(&e)))?;
    crate::interrupt::master_launching(&socket, control_dir, child.id());
    let logged_in = log_in(target, child, &log).await;
    crate::interrupt::master_up(&socket);
    if logged_in.is_err() {
        crate::interrupt::master_closed(&socket);
    }
    logged_in.map(|()| Session::new_native_mux(dir))
}

/// Wait for the `ssh` starting a master to log in: it exits once in (the
/// master forks off), or on failure (its words are in `log`).
async fn log_in(
    target: &SshTarget,
    mut child: tokio::process::Child,
    log: &Path,
) -> Result<(), TransportError> {
    let status = match tokio::time::timeout(target.backstop(), child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(target.connect_error(format!("running ssh: {e}"))),
        Err(_) => {
            let _ = child.kill().await;
            return Err(target.connect_error(format!(
                "no SSH session after {} s (the server accepted the connection but \
                 did not finish authentication); check the server's sshd and load",
                target.backstop().as_secs()
            )));
        }
    };
    if !status.success() {
        let said = std::fs::read_to_string(log).unwrap_or_default();
        return Err(target.connect_error(diagnose(target, &said)));
    }
    Ok(())
}

fn spawn_message(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::NotFound {
        "cannot run the local `ssh` client: it is not installed or not on PATH \
         (install OpenSSH's client, e.g. `apt-get install openssh-client`)"
            .to_string()
    } else {
        format!("cannot run the local `ssh` client: {e}")
    }
}

/// `\nssh said: ...` with ssh's own words, or nothing.
fn said(stderr: &str) -> String {
    let text = stderr.replace('\r', "");
    let text = text.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!("\nssh said:\n  {}", text.replace('\n', "\n  "))
    }
}

/// The name of a host in `known_hosts`: `host`, or `[host]:port` off port 22.
pub fn known_hosts_name(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_string()
    } else {
        format!("[{address}]:{port}")
    }
}

/// Turn ssh's error output into a message that says what to do.
fn diagnose(target: &SshTarget, stderr: &str) -> String {
    let addr = &target.address;
    let port = target.port.unwrap_or(22);
    let secs = target.timeout_secs();
    // The name the key is recorded under, and how to record it there.
    let (entry, keyscan, add) = match &target.host_key_alias {
        Some(alias) => (
            alias.clone(),
            format!("ssh-keyscan -p {port} {addr}"),
            format!(
                "ssh-keyscan -p {port} {addr} | sed 's/^[^ ]*/{alias}/' >> ~/.ssh/known_hosts` \
                 (keel checks this host's key under the name `{alias}` on every port, so the key \
                 learned on the bootstrap port is the one accepted after sshd moves)"
            ),
        ),
        None => {
            let scan = format!("ssh-keyscan -p {port} {addr}");
            let add = format!("{scan} >> ~/.ssh/known_hosts`");
            (known_hosts_name(addr, port), scan, add)
        }
    };
    let known_hosts = match &target.ssh_config {
        Some(cfg) => format!(
            "~/.ssh/known_hosts (or the UserKnownHostsFile of {})",
            cfg.display()
        ),
        None => "~/.ssh/known_hosts".to_string(),
    };
    let has = |s: &str| stderr.contains(s);
    let advice = if has("REMOTE HOST IDENTIFICATION HAS CHANGED") || has("has changed and you have")
    {
        format!(
            "the host key of {addr} port {port} {HOST_KEY_CHANGED} in \
             {known_hosts}: the server was reinstalled or re-keyed, or someone is \
             intercepting the connection. keel refuses to connect (accept-new does not \
             override a changed key). If the change is expected, verify the new \
             fingerprint (`{keyscan} | ssh-keygen -lf -` against \
             `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the server's console), \
             remove the old entry with `ssh-keygen -R '{entry}'` and add the new one with \
             `{add}."
        )
    } else if has("Host key verification failed") || has("host key is known for") {
        format!(
            "the host key of {addr} port {port} is unknown: it is not in {known_hosts}, \
             and this host uses strict host key checking. Verify the server's \
             fingerprint (`{keyscan} | ssh-keygen -lf -` against \
             `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the server's console) \
             and add it with `{add}; or, for a freshly \
             provisioned server, set `host_key: accept-new` on this host in the \
             inventory (trust on first use)."
        )
    } else if has("Too many authentication failures") {
        "the server closed the connection after too many authentication attempts: \
         ssh-agent offers many keys. Set `identity_file:` on this host in the inventory \
         so that only that key is offered."
            .to_string()
    } else if has("Permission denied (") {
        let user = match &target.user {
            Some(u) => format!("as user `{u}`"),
            None => {
                "as the default user (ssh_config `User`, else your local user name)".to_string()
            }
        };
        let key = match &target.identity_file {
            Some(k) => format!(
                "that the key `{}` is the right one (and readable, with its \
                 passphrase loaded into ssh-agent if it has one)",
                k.display()
            ),
            None => "the keys offered: ssh-agent (SSH_AUTH_SOCK) and ~/.ssh/id_*, or set \
                     `identity_file:`"
                .to_string(),
        };
        format!(
            "the server refused to log in {user}. Check `user:` in the inventory, \
             {key}, and that its public key is in the user's ~/.ssh/authorized_keys on \
             the server. keel runs ssh in batch mode: no password or passphrase prompts."
        )
    } else if has("timed out") {
        format!(
            "no answer from {addr} port {port} within {secs} s: check the address and \
             port, that the server is up, and that no firewall (on the host or the \
             provider's security group) drops SSH."
        )
    } else if has("Connection refused") {
        format!(
            "{addr} refused the connection on port {port}: sshd is not running or \
             listens on another port (check `port:` in the inventory), or a firewall \
             rejects it."
        )
    } else if has("Could not resolve hostname") || has("Name or service not known") {
        format!("cannot resolve the host name `{addr}`: check `address:` in the inventory and DNS.")
    } else if has("No route to host") || has("Network is unreachable") {
        format!(
            "{addr} is unreachable (no route): check the address, the network and \
             firewalls between here and there."
        )
    } else if has("Connection closed by")
        || has("Connection reset by")
        || has("kex_exchange_identification")
    {
        format!(
            "{addr} port {port} closed the connection before login: sshd may still be \
             starting, be rate limiting (MaxStartups, fail2ban), or not be an SSH server."
        )
    } else {
        "ssh failed.".to_string()
    };
    format!("{advice}{}", said(stderr))
}

/// An error and its sources, joined: openssh's `Display` alone is vague.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// Log what the master wrote on connecting (e.g. a host key just trusted on
/// first use). openssh keeps ssh's log next to the control socket.
async fn note_master_log(target: &SshTarget, session: &Session) {
    let Some(dir) = session.control_socket().parent() else {
        return;
    };
    let Ok(log) = tokio::fs::read_to_string(dir.join("log")).await else {
        return;
    };
    for line in log.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("Warning: Permanently added") {
            tracing::warn!(
                host = %target.host_name(),
                "trusting the host key on first use (host_key: accept-new): {line}"
            );
        } else {
            tracing::debug!(host = %target.host_name(), "ssh: {line}");
        }
    }
}

#[cfg(test)]
mod tests {

    #[tokio::test]
    async fn endless_output_from_a_host_is_refused_not_buffered() {
        let big = vec![b'x'; 4096];
        let err = super::read_bounded(Some(&big[..]), 1000).await.unwrap_err();
        assert!(err.to_string().contains("printed more than"), "{err}");
        let ok = super::read_bounded(Some(&big[..]), 4096).await.unwrap();
        assert_eq!(ok.len(), 4096);
        assert!(
            super::read_bounded::<&[u8]>(None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    use super::*;

    fn target() -> SshTarget {
        SshTarget {
            label: "web1".into(),
            address: "203.0.113.10".into(),
            port: Some(2222),
            user: Some("deploy".into()),
            identity_file: Some("/keys/id".into()),
            host_key: HostKeyPolicy::Strict,
            host_key_alias: None,
            ssh_config: Some("/cfg/ssh_config".into()),
            become_root: true,
            connect_timeout: Duration::from_millis(7500),
        }
    }

    fn strings(args: &[OsString]) -> Vec<String> {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn default_policy_is_strict() {
        assert_eq!(HostKeyPolicy::default(), HostKeyPolicy::Strict);
        assert_eq!(SshTarget::new("a", "b").host_key, HostKeyPolicy::Strict);
        assert_eq!(
            HostKeyPolicy::Strict.ssh_option(),
            "StrictHostKeyChecking=yes"
        );
        assert_eq!(
            HostKeyPolicy::AcceptNew.ssh_option(),
            "StrictHostKeyChecking=accept-new"
        );
    }

    #[test]
    fn fresh_connection_args() {
        let args = strings(&target().fresh_args("true"));
        let expected = [
            "-o",
            "ControlMaster=no",
            "-o",
            "ControlPath=none",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=7",
            "-o",
            "ServerAliveInterval=15",
            "-o",
            "IdentitiesOnly=yes",
            "-i",
            "/keys/id",
            "-p",
            "2222",
            "-l",
            "deploy",
            "-F",
            "/cfg/ssh_config",
            "-T",
            "--",
            "203.0.113.10",
            "true",
        ];
        assert_eq!(args, expected);

        let mut t = SshTarget::new("x", "example.org");
        t.host_key = HostKeyPolicy::AcceptNew;
        t.connect_timeout = Duration::from_millis(200);
        let args = strings(&t.fresh_args("true"));
        assert!(args.contains(&"StrictHostKeyChecking=accept-new".to_string()));
        assert!(args.contains(&"ConnectTimeout=1".to_string()), "{args:?}");
        for absent in ["-i", "-p", "-l", "-F"] {
            assert!(!args.contains(&absent.to_string()), "{absent} in {args:?}");
        }
        assert_eq!(args[args.len() - 2..], ["example.org", "true"]);
    }

    #[test]
    fn master_args_carry_every_option() {
        let mut t = target();
        t.host_key_alias = Some("203.0.113.10".into());
        let args = strings(&t.master_args(Path::new("/c/master"), Path::new("/c/log")));
        assert_eq!(
            args[..9],
            [
                "-E",
                "/c/log",
                "-S",
                "/c/master",
                "-M",
                "-f",
                "-N",
                "-o",
                "ControlPersist=yes"
            ]
        );
        for want in [
            "StrictHostKeyChecking=yes",
            "HostKeyAlias=203.0.113.10",
            "BatchMode=yes",
            "IdentitiesOnly=yes",
        ] {
            assert!(args.contains(&want.to_string()), "{want} in {args:?}");
        }
        assert_eq!(args[args.len() - 2..], ["--", "203.0.113.10"]);
        let fresh = strings(&t.fresh_args("true"));
        assert!(fresh.contains(&"HostKeyAlias=203.0.113.10".to_string()));
        let plain = strings(&target().master_args(Path::new("/m"), Path::new("/l")));
        assert!(!plain.iter().any(|a| a.starts_with("HostKeyAlias")));
    }

    #[test]
    fn destinations_and_names() {
        let t = target();
        assert_eq!(t.destination(), "deploy@203.0.113.10:2222");
        assert_eq!(t.host_name(), "web1 (deploy@203.0.113.10:2222)");
        let mut v6 = SshTarget::new("v6", "2001:db8::1");
        v6.port = Some(22);
        assert_eq!(v6.destination(), "[2001:db8::1]:22");
        let plain = SshTarget::new("h.example", "h.example");
        assert_eq!(plain.host_name(), "h.example");
        assert_eq!(known_hosts_name("h", 22), "h");
        assert_eq!(known_hosts_name("h", 2222), "[h]:2222");
    }

    #[test]
    fn rejects_option_like_addresses() {
        for bad in ["", "-oProxyCommand=evil", "a b", "a\nb"] {
            let t = SshTarget::new("x", bad);
            let err = t.check_address().err().map(|e| e.to_string());
            assert!(err.is_some(), "{bad:?} accepted");
        }
        assert!(
            SshTarget::new("x", "host-1.example")
                .check_address()
                .is_ok()
        );
    }

    #[tokio::test]
    async fn connect_refuses_bad_address_without_running_ssh() {
        let err = Ssh::connect(SshTarget::new("x", "-oProxyCommand=touch /tmp/pwned"))
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not a valid address"), "{err}");
    }

    // Messages as OpenSSH 9.2 prints them.
    const UNKNOWN: &str = "No ED25519 host key is known for [127.0.0.1]:2299 and you have requested strict checking.\r\nHost key verification failed.\r\n";
    const CHANGED: &str = "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\r\nIT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\r\nHost key for [127.0.0.1]:2299 has changed and you have requested strict checking.\r\nHost key verification failed.\r\n";
    const DENIED: &str = "root@127.0.0.1: Permission denied (publickey).\r\n";
    const TIMEOUT: &str = "ssh: connect to host 10.255.255.1 port 22: Connection timed out\r\n";
    const REFUSED: &str = "ssh: connect to host 127.0.0.1 port 2299: Connection refused\r\n";
    const RESOLVE: &str =
        "ssh: Could not resolve hostname nope.invalid: Name or service not known\r\n";

    #[test]
    fn diagnoses_unknown_host_key() {
        let mut t = target();
        t.ssh_config = None;
        let m = diagnose(&t, UNKNOWN);
        assert!(
            m.contains("host key of 203.0.113.10 port 2222 is unknown"),
            "{m}"
        );
        assert!(
            m.contains("ssh-keyscan -p 2222 203.0.113.10 >> ~/.ssh/known_hosts"),
            "{m}"
        );
        assert!(m.contains("host_key: accept-new"), "{m}");
        assert!(m.contains("ssh said:\n  No ED25519 host key"), "{m}");
        assert!(!m.contains('\r'));
    }

    #[test]
    fn diagnoses_changed_host_key() {
        let m = diagnose(&target(), CHANGED);
        assert!(m.contains("has CHANGED"), "{m}");
        assert!(m.contains("ssh-keygen -R '[203.0.113.10]:2222'"), "{m}");
        assert!(m.contains("UserKnownHostsFile of /cfg/ssh_config"), "{m}");
        assert!(!m.contains("set `host_key: accept-new`"), "{m}");
    }

    #[test]
    fn diagnoses_auth_and_network() {
        let m = diagnose(&target(), DENIED);
        assert!(m.contains("as user `deploy`"), "{m}");
        assert!(m.contains("/keys/id"), "{m}");
        let m = diagnose(&SshTarget::new("x", "h"), DENIED);
        assert!(m.contains("ssh-agent"), "{m}");
        assert!(m.contains("identity_file"), "{m}");

        let m = diagnose(&target(), TIMEOUT);
        assert!(m.contains("within 7 s"), "{m}");
        assert!(m.contains("firewall"), "{m}");
        let m = diagnose(&target(), REFUSED);
        assert!(m.contains("refused the connection on port 2222"), "{m}");
        let m = diagnose(&target(), RESOLVE);
        assert!(m.contains("cannot resolve"), "{m}");
        let m = diagnose(&target(), "something odd\n");
        assert!(
            m.starts_with("ssh failed.\nssh said:\n  something odd"),
            "{m}"
        );
    }
}
