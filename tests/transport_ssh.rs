//! The ssh transport against a real, private sshd on 127.0.0.1.
//!
//! Each test starts its own `/usr/sbin/sshd` on a free port with a fresh host
//! key, a fresh client key in its own `AuthorizedKeysFile`, and a temporary
//! `known_hosts` (through an ssh_config given with `-F`), so nothing of the
//! machine's own ssh setup is read or changed, except that as root sshd needs
//! its privilege separation directory `/run/sshd`, which is created if
//! missing (as the service would).
//!
//! Needs `openssh-server` and `openssh-client` installed (CI: apt-get install
//! openssh-server). Without them the tests FAIL with instructions; they never
//! skip.

use keel::{
    HostKeyPolicy, Output, Ssh, SshTarget, Transport, TransportError, check_fresh_connection,
};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SSHD: &str = "/usr/sbin/sshd";

fn need(program: &str, package: &str) {
    let found = if program.starts_with('/') {
        Path::new(program).is_file()
    } else {
        Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    assert!(
        found,
        "`{program}` is missing: these tests need a local sshd and the ssh client. \
         Install them with `apt-get install -y {package}`."
    );
}

fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .unwrap_or_else(|e| panic!("running `{cmd}`: {e}"));
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A private sshd, killed on drop.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    user: String,
    child: Child,
}

impl Sshd {
    fn start() -> Sshd {
        Sshd::start_with("")
    }

    /// An sshd with extra `sshd_config` lines.
    fn start_with(extra: &str) -> Sshd {
        need(SSHD, "openssh-server");
        need("ssh", "openssh-client");
        need("ssh-keygen", "openssh-client");
        let root = sh("id -u") == "0";
        if root {
            std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        }
        let user = sh("id -un");
        let dir = tempfile::Builder::new()
            .prefix("keel-sshd-")
            .tempdir_in("/tmp")
            .expect("tempdir");
        let d = dir.path().display().to_string();
        sh(&format!(
            "ssh-keygen -q -t ed25519 -N '' -C host -f {d}/host_key && \
             ssh-keygen -q -t ed25519 -N '' -C client -f {d}/client_key && \
             ssh-keygen -q -t ed25519 -N '' -C stranger -f {d}/stranger_key && \
             ssh-keygen -q -t ed25519 -N '' -C other_host -f {d}/other_host_key && \
             cp {d}/client_key.pub {d}/authorized_keys && chmod 600 {d}/authorized_keys && \
             : > {d}/known_hosts"
        ));
        std::fs::write(
            dir.path().join("ssh_config"),
            format!(
                "Host *\n  UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n"
            ),
        )
        .expect("write ssh_config");

        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("a free port");
            std::fs::write(
                dir.path().join("sshd_config"),
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
                     AuthorizedKeysFile {d}/authorized_keys\nPidFile none\nUsePAM no\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                     PermitRootLogin prohibit-password\nStrictModes no\nLogLevel INFO\n{extra}"
                ),
            )
            .expect("write sshd_config");
            let log = std::fs::File::create(dir.path().join("sshd.log")).expect("log file");
            let child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(dir.path().join("sshd_config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("spawn sshd");
            let mut child = child;
            if wait_ready(&mut child, port) {
                return Sshd {
                    dir,
                    port,
                    user,
                    child,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_log = std::fs::read_to_string(dir.path().join("sshd.log")).unwrap_or_default();
        }
        panic!("sshd did not start; its log:\n{last_log}");
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }

    fn logins(&self) -> usize {
        self.log().matches("Accepted publickey").count()
    }

    fn target(&self, host_key: HostKeyPolicy) -> SshTarget {
        let mut t = SshTarget::new("testhost", "127.0.0.1");
        t.port = Some(self.port);
        t.user = Some(self.user.clone());
        t.identity_file = Some(self.path("client_key"));
        t.ssh_config = Some(self.path("ssh_config"));
        t.host_key = host_key;
        t.connect_timeout = Duration::from_secs(5);
        t
    }

    fn known_hosts(&self) -> String {
        std::fs::read_to_string(self.path("known_hosts")).unwrap_or_default()
    }

    /// Record `key_file`'s public key as this server's in known_hosts.
    fn trust(&self, key_file: &str) {
        let public = std::fs::read_to_string(self.path(&format!("{key_file}.pub")))
            .expect("read public key");
        let mut fields = public.split_whitespace();
        let (Some(kind), Some(key)) = (fields.next(), fields.next()) else {
            panic!("bad public key {public}");
        };
        std::fs::write(
            self.path("known_hosts"),
            format!("[127.0.0.1]:{} {kind} {key}\n", self.port),
        )
        .expect("write known_hosts");
    }

    fn host_key_field(&self) -> String {
        let public = std::fs::read_to_string(self.path("host_key.pub")).unwrap_or_default();
        public
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }
}

/// Wait for sshd's banner on the port; false if sshd died.
fn wait_ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut buf = [0u8; 8];
            if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"SSH-2.0") {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(sshd: &Sshd) -> Ssh {
    match Ssh::connect(sshd.target(HostKeyPolicy::Strict)).await {
        Ok(ssh) => ssh,
        Err(e) => panic!("connect failed: {e}\nsshd log:\n{}", sshd.log()),
    }
}

async fn run(ssh: &Ssh, script: &str) -> Output {
    ssh.run(script)
        .await
        .unwrap_or_else(|e| panic!("run {script:?}: {e}"))
}

fn connect_message(r: Result<impl Sized, TransportError>) -> String {
    match r {
        Ok(_) => panic!("expected a connect error, it connected"),
        Err(TransportError::Connect { host, message }) => {
            assert_eq!(host, format!("testhost ({})", host_dest(&host)));
            message
        }
        Err(e) => panic!("expected a connect error, got {e}"),
    }
}

fn host_dest(host: &str) -> String {
    host.trim_start_matches("testhost (")
        .trim_end_matches(')')
        .to_string()
}

/// Processes on this machine whose command line contains `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) {
                found.push(text);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_scripts_over_one_master() {
    let sshd = Sshd::start();
    sshd.trust("host_key");
    let ssh = connect(&sshd).await;
    assert_eq!(
        ssh.describe(),
        format!("ssh {}@127.0.0.1:{}", sshd.user, sshd.port)
    );

    // stdout, stderr and exit statuses; non-zero is not an error.
    let out = run(&ssh, "echo \"$((1+2))\"; echo err >&2; exit 3").await;
    assert_eq!(
        (
            out.stdout_text().as_str(),
            out.stderr_text().as_str(),
            out.status
        ),
        ("3\n", "err\n", Some(3))
    );
    assert_eq!(run(&ssh, "true").await.status, Some(0));
    assert_eq!(run(&ssh, "exit 255").await.status, Some(255));
    // openssh reports 127 as "command not found": it must stay a status.
    let out = run(&ssh, "no_such_command_keel").await;
    assert_eq!(out.status, Some(127));
    assert!(out.stderr_text().contains("not found"), "{out:?}");
    // Killed by a signal: no status, and the connection lives on.
    assert_eq!(run(&ssh, "kill -9 $$").await.status, None);
    assert_eq!(run(&ssh, "echo alive").await.stdout_text(), "alive\n");

    // The script travels on stdin: argv is only `sh -s`, and no process on
    // this machine (client and server alike) shows the secret.
    let secret = format!("s3cr3t-{}", std::process::id());
    let script = format!(
        "SECRET='{secret}'\ntr '\\0' ' ' < /proc/$$/cmdline\necho\nsleep 2\necho \"${{#SECRET}}\"\n"
    );
    let probe = {
        let secret = secret.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1000)).await;
            processes_with(&secret)
        })
    };
    let out = run(&ssh, &script).await;
    assert_eq!(
        out.stdout_text(),
        format!("sh -s \n{}\n", secret.len()),
        "{out:?}"
    );
    let leaks = probe.await.expect("probe");
    assert!(leaks.is_empty(), "secret visible in: {leaks:?}");

    // A 5 MB script that also prints 5 MB: no deadlock, nothing lost.
    let line = format!("echo {}\n", "x".repeat(93));
    let lines = 5 * 1024 * 1024 / line.len() + 1;
    let big = format!("{}echo done >&2\n", line.repeat(lines));
    assert!(big.len() >= 5 * 1024 * 1024);
    let t = Instant::now();
    let out = run(&ssh, &big).await;
    eprintln!("5 MB script in {:.2?}", t.elapsed());
    assert_eq!(out.status, Some(0));
    assert_eq!(out.stdout.len(), lines * 94);
    assert_eq!(out.stderr_text(), "done\n");

    // 20 runs at once: all succeed, never more than 8 sessions at a time
    // (sshd's MaxSessions is 10).
    let ssh = Arc::new(ssh);
    let slots = sshd.path("slots");
    std::fs::create_dir(&slots).expect("slots dir");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let ssh = ssh.clone();
        let script = format!(
            "touch {s}/{i}; sleep 1; ls {s} | wc -l; rm {s}/{i}; echo {i} >&2",
            s = slots.display()
        );
        tasks.push(tokio::spawn(async move { ssh.run(&script).await }));
    }
    let mut most = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        let out = task
            .await
            .expect("join")
            .unwrap_or_else(|e| panic!("parallel run {i}: {e}"));
        assert_eq!(out.status, Some(0), "{out:?}");
        assert_eq!(out.stderr_text(), format!("{i}\n"));
        let n: usize = out.stdout_text().trim().parse().expect("a count");
        most = most.max(n);
    }
    eprintln!("at most {most} sessions at once");
    assert!((1..=8).contains(&most), "{most} sessions at once");

    // Every run above went over the one master: a single login.
    assert_eq!(ssh.round_trips(), 28);
    assert_eq!(sshd.logins(), 1, "{}", sshd.log());

    // A fresh connection is a new login, not the master.
    check_fresh_connection(&sshd.target(HostKeyPolicy::Strict))
        .await
        .unwrap_or_else(|e| panic!("fresh connection: {e}"));
    assert_eq!(sshd.logins(), 2, "{}", sshd.log());

    // After close, runs fail with an I/O error.
    ssh.close().await;
    match ssh.run("true").await {
        Err(TransportError::Io { message, .. }) => assert!(message.contains("closed"), "{message}"),
        other => panic!("run after close: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_when_the_server_allows_fewer_sessions() {
    let sshd = Sshd::start_with("MaxSessions 2\n");
    sshd.trust("host_key");
    let ssh = Arc::new(connect(&sshd).await);
    let mut tasks = Vec::new();
    for i in 0..6 {
        let ssh = ssh.clone();
        tasks.push(tokio::spawn(async move {
            ssh.run(&format!("sleep 0.5; echo {i}")).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let out = task
            .await
            .expect("join")
            .unwrap_or_else(|e| panic!("run {i} with MaxSessions 2: {e}"));
        assert_eq!(out.stdout_text(), format!("{i}\n"));
    }
    ssh.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn become_root_runs_through_sudo() {
    let sshd = Sshd::start();
    sshd.trust("host_key");
    let mut target = sshd.target(HostKeyPolicy::Strict);
    target.become_root = true;
    let ssh = Ssh::connect(target).await.expect("connect");
    assert!(ssh.describe().ends_with(" (sudo)"));
    let out = run(&ssh, "tr '\\0' ' ' < /proc/$$/cmdline; echo; id -u").await;
    if Path::new("/usr/bin/sudo").exists() {
        // As root (CI), sudo -n needs no password; elsewhere it may refuse.
        let refused = out.stderr_text().contains("password is required");
        assert!(refused || out.stdout_text() == "sh -s \n0\n", "{out:?}");
    } else {
        // No sudo on this machine: the shell says so, as a status.
        assert_eq!(out.status, Some(127), "{out:?}");
        assert!(out.stderr_text().contains("sudo"), "{out:?}");
    }
    ssh.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_key_policies() {
    let sshd = Sshd::start();
    let port = sshd.port;

    // Unknown key, strict: refused with instructions.
    let m = connect_message(Ssh::connect(sshd.target(HostKeyPolicy::Strict)).await);
    eprintln!("unknown key:\n{m}\n");
    assert!(m.contains("is unknown"), "{m}");
    assert!(
        m.contains(&format!(
            "ssh-keyscan -p {port} 127.0.0.1 >> ~/.ssh/known_hosts"
        )),
        "{m}"
    );
    assert!(m.contains("host_key: accept-new"), "{m}");
    assert!(m.contains("ssh said:"), "{m}");
    assert!(m.contains("Host key verification failed"), "{m}");
    let m = connect_message(check_fresh_connection(&sshd.target(HostKeyPolicy::Strict)).await);
    assert!(m.contains("is unknown"), "{m}");
    assert_eq!(sshd.known_hosts(), "");

    // Accept-new: trusted on first use and recorded.
    let ssh = Ssh::connect(sshd.target(HostKeyPolicy::AcceptNew))
        .await
        .unwrap_or_else(|e| panic!("accept-new: {e}"));
    assert_eq!(run(&ssh, "echo hi").await.stdout_text(), "hi\n");
    ssh.close().await;
    let known = sshd.known_hosts();
    assert!(known.contains(&format!("[127.0.0.1]:{port}")), "{known}");
    assert!(known.contains(&sshd.host_key_field()), "{known}");

    // Now strict works, both ways.
    let ssh = connect(&sshd).await;
    ssh.close().await;
    check_fresh_connection(&sshd.target(HostKeyPolicy::Strict))
        .await
        .expect("fresh, strict, known key");

    // A changed key is refused by both policies.
    sshd.trust("other_host_key");
    for policy in [HostKeyPolicy::Strict, HostKeyPolicy::AcceptNew] {
        let m = connect_message(Ssh::connect(sshd.target(policy)).await);
        eprintln!("changed key ({policy:?}):\n{m}\n");
        assert!(m.contains("has CHANGED"), "{m}");
        assert!(
            m.contains(&format!("ssh-keygen -R '[127.0.0.1]:{port}'")),
            "{m}"
        );
        let m = connect_message(check_fresh_connection(&sshd.target(policy)).await);
        assert!(m.contains("has CHANGED"), "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_and_network_errors() {
    let sshd = Sshd::start();
    sshd.trust("host_key");

    let mut stranger = sshd.target(HostKeyPolicy::Strict);
    stranger.identity_file = Some(sshd.path("stranger_key"));
    let m = connect_message(Ssh::connect(stranger.clone()).await);
    eprintln!("wrong key:\n{m}\n");
    assert!(m.contains("refused to log in"), "{m}");
    assert!(m.contains("stranger_key"), "{m}");
    assert!(m.contains("Permission denied"), "{m}");
    let m = connect_message(check_fresh_connection(&stranger).await);
    assert!(m.contains("refused to log in"), "{m}");

    let closed_port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut nobody = sshd.target(HostKeyPolicy::Strict);
    nobody.port = Some(closed_port);
    let m = connect_message(Ssh::connect(nobody).await);
    eprintln!("closed port:\n{m}\n");
    assert!(
        m.contains(&format!("refused the connection on port {closed_port}")),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connection_is_an_io_error() {
    let sshd = Sshd::start();
    sshd.trust("host_key");
    let ssh = connect(&sshd).await;
    // Kill this connection's sshd process (the parent of `sh -s`).
    match ssh.run("kill -9 $PPID").await {
        Err(TransportError::Io { .. }) => {}
        other => panic!("expected an I/O error, got {other:?}"),
    }
    match ssh.run("true").await {
        Err(TransportError::Io { message, .. }) => {
            assert!(message.contains("connection is gone"), "{message}")
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    let t = Instant::now();
    ssh.close().await;
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_without_close_stops_the_master() {
    let sshd = Sshd::start();
    sshd.trust("host_key");
    let ssh = connect(&sshd).await;
    assert_eq!(run(&ssh, "echo ok").await.stdout_text(), "ok\n");
    let marker = format!("{}", sshd.port);
    let masters = || {
        processes_with(&format!("-p {marker}"))
            .into_iter()
            .filter(|p| p.starts_with("ssh ") && p.contains(" -M "))
            .count()
    };
    assert_eq!(masters(), 1);
    let t = Instant::now();
    drop(ssh);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "drop took {:?}",
        t.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while masters() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(masters(), 0, "the master outlived the drop");
}

#[tokio::test(flavor = "multi_thread")]
async fn hold_streams_lines_and_keeps_stdin_open_until_released() {
    let sshd = Sshd::start();
    sshd.trust("host_key");
    let ssh = Arc::new(connect(&sshd).await);
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    let (release, rx) = tokio::sync::oneshot::channel();
    let held = ssh.clone();
    let task = tokio::spawn(async move {
        held.hold("echo taken\ncat >/dev/null\necho released\n", tx, rx)
            .await
    });
    let first = tokio::time::timeout(Duration::from_secs(20), lines.recv()).await;
    assert_eq!(first.ok().flatten().as_deref(), Some("taken"));
    // Still held: nothing more comes until it is released.
    let more = tokio::time::timeout(Duration::from_millis(500), lines.recv()).await;
    assert!(more.is_err(), "{more:?}");
    release.send(()).unwrap();
    let out = tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("ends once released")
        .unwrap()
        .expect("held");
    assert_eq!(out.stdout_text(), "taken\nreleased\n");
    assert_eq!(out.status, Some(0));
    ssh.close().await;
}
