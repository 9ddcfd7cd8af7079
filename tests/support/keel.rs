//! The one way tests run the real `keel` binary: a builder for its
//! arguments, folder and environment, and a [`Run`] with what it printed.
//!
//! Every run starts from the same clean environment: no inherited `KEEL_*`
//! setting, no `COLUMNS` or `RUST_BACKTRACE`, colours off (`NO_COLOR=1`),
//! stdin empty (not a terminal, as in CI). Output goes to files, so a flood
//! cannot block keel on a full pipe, and a run that outlives its time limit
//! is killed: a test fails instead of hanging.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a run may take unless a test says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// At most this much of each stream is kept.
const MAX_OUTPUT: u64 = 16 << 20;

/// A keel command line still to be run.
pub struct Keel {
    cmd: Command,
    shown: Vec<String>,
    timeout: Duration,
    input: Option<Vec<u8>>,
}

/// What one run of keel did.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    /// The exit code; -1 when keel was ended by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// CPU time keel used (user + system): unlike `elapsed`, it does not
    /// grow when the machine is busy, so complexity checks use it.
    pub cpu: Duration,
}

/// A keel started in the background ([`Keel::spawn`]).
pub struct Running {
    child: Child,
    out: tempfile::TempDir,
    start: Instant,
    /// Exit status and CPU time, once reaped.
    done: Option<(ExitStatus, Duration)>,
}

impl Default for Keel {
    fn default() -> Self {
        Keel::new()
    }
}

/// The keel binary this test crate was built with.
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_keel"))
}

impl Keel {
    /// The binary this test crate was built with ([`binary`]).
    pub fn new() -> Keel {
        Keel::at(binary())
    }

    /// Another keel binary (an older build, say), run the same way.
    pub fn at(binary: &Path) -> Keel {
        let mut cmd = Command::new(binary);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("KEEL_") {
                cmd.env_remove(name);
            }
        }
        cmd.env("NO_COLOR", "1")
            .env_remove("COLUMNS")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null());
        Keel {
            cmd,
            shown: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            input: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Keel {
        self.shown.push(arg.as_ref().to_string_lossy().into_owned());
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(self, args: I) -> Keel
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        args.into_iter().fold(self, Keel::arg)
    }

    /// The folder keel runs in.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Keel {
        self.cmd.current_dir(dir);
        self
    }

    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Keel {
        self.cmd.env(name, value);
        self
    }

    /// Each `(name, value)` of `vars` in keel's environment.
    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(mut self, vars: &[(K, V)]) -> Keel {
        for (k, v) in vars {
            self.cmd.env(k, v);
        }
        self
    }

    /// Start keel with each signal of `sigs` at `action` (`libc::SIG_DFL`
    /// or `libc::SIG_IGN`), whatever this test inherited: a suite started
    /// in the background by a script has SIGINT ignored, and keel keeps an
    /// ignored signal ignored.
    #[allow(dead_code)] // only the tests of signals use it
    pub fn signals(mut self, sigs: &'static [libc::c_int], action: libc::sighandler_t) -> Keel {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec only signal(2), which is
        // async-signal-safe, on constants.
        unsafe {
            self.cmd.pre_exec(move || {
                for &sig in sigs {
                    libc::signal(sig, action);
                }
                Ok(())
            });
        }
        self
    }

    /// Give keel `input` on stdin (still not a terminal).
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Keel {
        self.input = Some(input.into());
        self
    }

    /// The prepared command, for a test that must wire its streams itself
    /// (a closed stdout, say).
    pub fn into_command(self) -> Command {
        self.cmd
    }

    /// Kill keel and fail when it has not ended after `limit`.
    pub fn timeout(mut self, limit: Duration) -> Keel {
        self.timeout = limit;
        self
    }

    /// `keel ARGS` as a line for messages and transcripts.
    pub fn command_line(&self) -> String {
        format!("keel {}", self.shown.join(" "))
    }

    /// Run keel to its end; panics when it cannot start or does not end in
    /// time.
    pub fn run(self) -> Run {
        self.try_run().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Keel::run`], returning a start failure or a hang as an error.
    pub fn try_run(self) -> Result<Run, String> {
        let (line, limit) = (self.command_line(), self.timeout);
        let mut running = self.try_spawn()?;
        while !running.poll()? {
            if running.start.elapsed() > limit {
                running.kill();
                return Err(format!(
                    "hung: `{line}` did not end within {}s",
                    limit.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(running.wait())
    }

    /// Start keel in the background.
    pub fn spawn(self) -> Running {
        self.try_spawn().unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_spawn(mut self) -> Result<Running, String> {
        let out = tempfile::tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
        let file = |name: &str| {
            std::fs::File::create(out.path().join(name))
                .map_err(|e| format!("cannot create {name}: {e}"))
        };
        self.cmd.stdout(file("stdout")?).stderr(file("stderr")?);
        if let Some(input) = &self.input {
            let path = out.path().join("stdin");
            std::fs::write(&path, input).map_err(|e| format!("cannot write stdin: {e}"))?;
            let stdin =
                std::fs::File::open(&path).map_err(|e| format!("cannot read stdin: {e}"))?;
            self.cmd.stdin(stdin);
        }
        let start = Instant::now();
        let child = self
            .cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.command_line()))?;
        Ok(Running {
            child,
            out,
            start,
            done: None,
        })
    }
}

impl Running {
    /// What keel has printed so far (stdout then stderr), while it runs.
    #[allow(dead_code)] // not every test binary watches a running keel
    pub fn printed(&self) -> String {
        let mut all = String::new();
        for name in ["stdout", "stderr"] {
            if let Ok(text) = std::fs::read(self.out.path().join(name)) {
                all.push_str(&String::from_utf8_lossy(&text));
            }
        }
        all
    }

    /// Wait for keel to end and collect what it printed.
    pub fn wait(mut self) -> Run {
        let (status, cpu) = match self.done {
            Some(done) => done,
            None => self.reap(0).expect("wait for keel").expect("keel ended"),
        };
        let read = |name: &str| -> String {
            let mut bytes = Vec::new();
            if let Ok(f) = std::fs::File::open(self.out.path().join(name)) {
                let _ = f.take(MAX_OUTPUT).read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Run {
            status,
            code: status.code().unwrap_or(-1),
            stdout: read("stdout"),
            stderr: read("stderr"),
            elapsed: self.start.elapsed(),
            cpu,
        }
    }

    /// Whether keel has ended (reaping it, with its CPU time, if so).
    fn poll(&mut self) -> Result<bool, String> {
        if self.done.is_none() {
            self.done = self.reap(libc::WNOHANG)?;
        }
        Ok(self.done.is_some())
    }

    /// `wait4` on keel: its status and the CPU time it used, or `None`
    /// with `WNOHANG` while it runs.
    fn reap(&mut self, flags: libc::c_int) -> Result<Option<(ExitStatus, Duration)>, String> {
        use std::os::unix::process::ExitStatusExt;
        let mut status = 0;
        // SAFETY: all-zero is a valid rusage; wait4 fills it in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: our own child, not reaped yet (`done` is None); valid pointers.
        let pid = unsafe {
            libc::wait4(
                self.child.id() as libc::pid_t,
                &mut status,
                flags,
                &mut usage,
            )
        };
        match pid {
            0 => Ok(None),
            p if p < 0 => Err(format!("wait4: {}", std::io::Error::last_os_error())),
            _ => {
                let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
                let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
                Ok(Some((ExitStatus::from_raw(status), cpu)))
            }
        }
    }

    /// SIGKILL keel (and reap it).
    pub fn kill(&mut self) {
        if self.done.is_none() {
            let _ = self.child.kill();
            self.done = self.reap(0).ok().flatten();
        }
    }

    /// keel's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether keel has ended.
    pub fn has_ended(&mut self) -> bool {
        self.poll().unwrap_or(true)
    }

    /// Wait (at most 120 s, checking every 50 ms) until `cond` holds;
    /// fails naming `what` and showing what keel printed.
    #[allow(dead_code)] // only the tests of a running keel use it
    pub fn wait_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let start = Instant::now();
        while !cond() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{what} did not happen within 120 s; keel printed:\n{}",
                self.printed()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait (at most 120 s) for keel to end, without reaping its output.
    #[allow(dead_code)]
    pub fn wait_for_end(&mut self) {
        let start = Instant::now();
        while !self.has_ended() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "keel did not end within 120 s; it printed:\n{}",
                self.printed()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Send keel signal `sig`.
    #[allow(dead_code)]
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child, not reaped yet (`done` is None
        // until it has ended, and a test signals a keel still running).
        let r = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
    }
}

impl Run {
    /// Both streams, labelled, for assertion messages.
    pub fn all(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }

    /// `(code, stdout, stderr)`, for tests that match on the three.
    pub fn parts(self) -> (i32, String, String) {
        (self.code, self.stdout, self.stderr)
    }
}
