//! Testbeds and their hosts: a private docker network with SSH client
//! material ([`Testbed`]) and systemd-booted Debian containers on it that are
//! reachable over real SSH with strict host key checking ([`SandboxHost`]).

use super::docker::{
    DIR_PREFIX, LABEL_KEEP, LABEL_PID, LABEL_SCOPE, LABEL_TESTBED, OWNER_FILE, check, docker,
    docker_available, logs_tail, process_scope, run, run_ok, run_quiet, short_tmp, spawn_error,
};
use super::image::ensure_image;
use super::{Result, SandboxError, keep_requested};
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// First address handed to a host in a testbed's /24 (`.1` is the gateway).
const FIRST_HOST: u32 = 11;
/// Default time to wait for sshd; `KEEL_TESTBED_SSH_TIMEOUT` (seconds) overrides it.
const SSH_TIMEOUT: Duration = Duration::from_secs(60);
/// Where each host's ed25519 host key lives.
const HOST_KEY_PATH: &str = "/etc/ssh/ssh_host_ed25519_key.pub";

/// Testbeds created by this process (part of every testbed id).
static TESTBED_COUNTER: AtomicU32 = AtomicU32::new(0);
/// Stale resources are cleaned up once per process.
static CLEANUP: Once = Once::new();

/// A private network for sandbox hosts, plus the SSH client material to reach
/// them: a key pair, a `known_hosts` file and an `ssh_config` using both with
/// `StrictHostKeyChecking yes`.
///
/// Dropping it removes every host started from it, the network and the
/// directory (unless `KEEL_KEEP_TESTBED=1`). It is `Sync`: hosts may be
/// started from several threads at once.
#[derive(Debug)]
pub struct Testbed {
    id: String,
    network: String,
    subnet_octet: u8,
    image: String,
    dir: Option<tempfile::TempDir>,
    dir_path: PathBuf,
    key: PathBuf,
    public_key: String,
    known_hosts: PathBuf,
    ssh_config: PathBuf,
    next_host: AtomicU32,
    known_hosts_lock: Mutex<()>,
    keep: bool,
    persistent: bool,
    labels: Vec<String>,
}

/// One running fresh Debian host of a [`Testbed`]: systemd as PID 1, sshd on
/// port 22 accepting the testbed's key for `root`, its own address.
///
/// Dropping it removes the container and its volume (unless
/// `KEEL_KEEP_TESTBED=1`).
#[derive(Debug)]
pub struct SandboxHost {
    /// Logical name; also the host's hostname.
    pub name: String,
    /// Address on the testbed network.
    pub ip: Ipv4Addr,
    /// Docker container name.
    pub container: String,
    network: String,
    keep: bool,
    persistent: bool,
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError {
    let path = path.to_path_buf();
    move |source| SandboxError::Io {
        action,
        path,
        source,
    }
}

/// Third octets of the 10.231.0.0/16 subnets that docker networks already use.
fn used_octets() -> Vec<u8> {
    let Ok(ids) = run_ok(&mut docker(["network", "ls", "-q"])) else {
        return Vec::new();
    };
    let mut args = vec![
        "network".to_string(),
        "inspect".into(),
        "--format".into(),
        "{{range .IPAM.Config}}{{.Subnet}} {{end}}".into(),
    ];
    args.extend(ids.split_whitespace().map(String::from));
    let Ok(subnets) = run_ok(&mut docker(&args)) else {
        return Vec::new();
    };
    subnets
        .split_whitespace()
        .filter_map(|s| s.strip_prefix("10.231."))
        .filter_map(|s| s.split('.').next()?.parse().ok())
        .collect()
}

fn ssh_timeout() -> Duration {
    std::env::var("KEEL_TESTBED_SSH_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(SSH_TIMEOUT)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `"type base64"` from the content of an OpenSSH `.pub` file.
fn parse_public_key(content: &str) -> Option<String> {
    let mut f = content.split_whitespace();
    let (kind, key) = (f.next()?, f.next()?);
    let plausible = (kind.starts_with("ssh-") || kind.starts_with("ecdsa-"))
        && key.len() > 16
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c));
    plausible.then(|| format!("{kind} {key}"))
}

impl Testbed {
    /// Creates a testbed: ensures the image exists (building it on first use),
    /// makes a key pair, `known_hosts` and `ssh_config` in a fresh temporary
    /// directory, and creates a docker network on a free 10.231.X.0/24.
    ///
    /// Fails with [`SandboxError::DockerUnavailable`] when docker is missing
    /// or not running.
    pub fn new() -> Result<Testbed> {
        Testbed::create(keep_requested(), false, &[])
    }

    /// Creates a testbed whose network and hosts outlive this process (for
    /// `keel sandbox up`): nothing is removed when the values are dropped
    /// (only the temporary directory; copy the key and `known_hosts` out
    /// first), and every container and the network carry the `labels`
    /// (`key=value`), so that another process finds them again (see
    /// [`remove_labelled`](crate::remove_labelled)).
    pub fn persistent(labels: &[String]) -> Result<Testbed> {
        Testbed::create(true, true, labels)
    }

    fn create(keep: bool, persistent: bool, labels: &[String]) -> Result<Testbed> {
        docker_available()?;
        CLEANUP.call_once(|| {
            if let Err(e) = super::docker::cleanup_stale() {
                tracing::warn!(error = %e, "could not clean up stale testbed resources");
            }
        });
        let image = ensure_image()?;

        let tmp = short_tmp();
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir_in(&tmp)
            .map_err(io_err("create testbed directory in", &tmp))?;
        let dir_path = dir.path().to_path_buf();
        let owner = dir_path.join(OWNER_FILE);
        let owner_text = format!(
            "{}\n{}\n{}\n",
            std::process::id(),
            process_scope(),
            u8::from(keep)
        );
        fs::write(&owner, owner_text).map_err(io_err("write", &owner))?;
        let key = dir_path.join("id_ed25519");
        let known_hosts = dir_path.join("known_hosts");
        let ssh_config = dir_path.join("ssh_config");

        let mut keygen = Command::new("ssh-keygen");
        keygen
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "keel-testbed", "-f"])
            .arg(&key);
        run_ok(&mut keygen)?;
        let pub_path = key.with_extension("pub");
        let public_key = fs::read_to_string(&pub_path)
            .map_err(io_err("read", &pub_path))?
            .trim()
            .to_string();

        fs::write(&known_hosts, "").map_err(io_err("write", &known_hosts))?;
        let config = format!(
            "# Written by keel's sandbox for one testbed.\n\
             Host *\n\
             \x20 UserKnownHostsFile \"{kh}\"\n\
             \x20 GlobalKnownHostsFile /dev/null\n\
             \x20 StrictHostKeyChecking yes\n\
             \x20 UpdateHostKeys no\n\
             \x20 IdentityFile \"{key}\"\n\
             \x20 IdentitiesOnly yes\n\
             \x20 BatchMode yes\n\
             \x20 PasswordAuthentication no\n\
             \x20 ConnectTimeout 10\n\
             \x20 LogLevel ERROR\n",
            kh = known_hosts.display(),
            key = key.display(),
        );
        fs::write(&ssh_config, config).map_err(io_err("write", &ssh_config))?;

        let (id, network, subnet_octet) = create_network(keep, labels)?;
        Ok(Testbed {
            id,
            network,
            subnet_octet,
            image,
            dir: Some(dir),
            dir_path,
            key,
            public_key,
            known_hosts,
            ssh_config,
            next_host: AtomicU32::new(FIRST_HOST),
            known_hosts_lock: Mutex::new(()),
            keep,
            persistent,
            labels: labels.to_vec(),
        })
    }

    /// Unique id of this testbed (part of its docker names and labels).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The testbed's temporary directory (key pair, `known_hosts`, `ssh_config`).
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// Private key (ed25519, no passphrase) that every host accepts for root.
    pub fn key_path(&self) -> &Path {
        &self.key
    }

    /// The public key line installed in each host's `/root/.ssh/authorized_keys`.
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The `known_hosts` file that lists the host key of every started host.
    pub fn known_hosts_path(&self) -> &Path {
        &self.known_hosts
    }

    /// An `ssh_config` using this testbed's key and `known_hosts`, with
    /// `StrictHostKeyChecking yes` and `BatchMode yes` (for `ssh -F`).
    pub fn ssh_config_path(&self) -> &Path {
        &self.ssh_config
    }

    /// Docker network name.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The testbed's subnet, `10.231.X.0/24`.
    pub fn subnet(&self) -> String {
        format!("10.231.{}.0/24", self.subnet_octet)
    }

    /// The docker image the hosts run.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// Boots a fresh host called `name` (lowercase letters, digits, `-`),
    /// installs the testbed key for root, waits until sshd answers and records
    /// its host key in [`known_hosts_path`](Self::known_hosts_path).
    pub fn start_host(&self, name: &str) -> Result<SandboxHost> {
        if !valid_name(name) {
            return Err(SandboxError::InvalidName(name.to_string()));
        }
        let n = self.next_host.fetch_add(1, Ordering::SeqCst);
        if n > 254 {
            return Err(SandboxError::AddressesExhausted {
                network: self.network.clone(),
            });
        }
        let ip = Ipv4Addr::new(10, 231, self.subnet_octet, n as u8);
        let container = format!("keel-tb-{}-{name}", self.id);
        let ip_s = ip.to_string();
        let labels = [
            format!("{LABEL_TESTBED}={}", self.id),
            format!("{LABEL_PID}={}", std::process::id()),
            format!("{LABEL_SCOPE}={}", process_scope()),
        ];
        let mut args: Vec<String> = vec![
            "run".into(),
            "-d".into(),
            "--name".into(),
            container.clone(),
            "--hostname".into(),
            name.into(),
        ];
        for l in &labels {
            args.extend(["--label".into(), l.clone()]);
        }
        if self.keep {
            args.extend(["--label".into(), format!("{LABEL_KEEP}=1")]);
        }
        for l in &self.labels {
            args.extend(["--label".into(), l.clone()]);
        }
        for cap in ["NET_ADMIN", "SYS_ADMIN", "NET_RAW", "MKNOD"] {
            args.extend(["--cap-add".into(), cap.into()]);
        }
        args.extend(
            [
                "--security-opt",
                "seccomp=unconfined",
                "--security-opt",
                "apparmor=unconfined",
                "--cgroupns=host",
                "-v",
                "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                "--tmpfs",
                "/run",
                "--tmpfs",
                "/run/lock",
                // Per-container (anonymous) volume, removed with `docker rm -v`.
                "-v",
                "/var/lib/docker",
                // systemd shuts down cleanly on SIGRTMIN+3 (it re-executes on SIGTERM).
                "--stop-signal",
                "SIGRTMIN+3",
                "--network",
            ]
            .map(String::from),
        );
        args.extend([
            self.network.clone(),
            "--ip".into(),
            ip_s.clone(),
            self.image.clone(),
            "/sbin/init".into(),
        ]);
        run_ok(&mut docker(&args))?;

        // From here on, dropping `host` removes the container.
        let host = SandboxHost {
            name: name.to_string(),
            ip,
            container,
            network: self.network.clone(),
            keep: self.keep,
            persistent: self.persistent,
        };
        host.install_authorized_key(&self.public_key)?;
        host.wait_for_ssh(22, ssh_timeout())?;
        self.add_known_host_port(&host, 22)?;
        tracing::debug!(host = %host.name, ip = %host.ip, container = %host.container, "sandbox host ready");
        Ok(host)
    }

    /// Records `host`'s ed25519 host key for `port` in the testbed's
    /// `known_hosts` (`ip key` for 22, `[ip]:port key` otherwise), e.g. after
    /// a test moved sshd to port 2222.
    pub fn add_known_host_port(&self, host: &SandboxHost, port: u16) -> Result<()> {
        let key = host.host_public_key()?;
        let pattern = if port == 22 {
            host.ip.to_string()
        } else {
            format!("[{}]:{port}", host.ip)
        };
        self.add_known_host(&pattern, &key)
    }

    /// Appends `pattern key` (e.g. `10.231.7.11 ssh-ed25519 AAAA…`) to the
    /// testbed's `known_hosts`.
    pub fn add_known_host(&self, pattern: &str, key: &str) -> Result<()> {
        let _guard = self
            .known_hosts_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut f = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.known_hosts)
            .map_err(io_err("open", &self.known_hosts))?;
        f.write_all(format!("{pattern} {key}\n").as_bytes())
            .map_err(io_err("append to", &self.known_hosts))
    }
}

/// Creates the testbed network on a free 10.231.X.0/24. Returns `(id, network, X)`.
fn create_network(keep: bool, labels: &[String]) -> Result<(String, String, u8)> {
    let pid = std::process::id();
    let scope = process_scope();
    let used = used_octets();
    let mut last = String::new();
    let mut tried = 0u32;
    let mut attempt = 0u32;
    while tried < 256 && attempt < 300 {
        attempt += 1;
        let counter = TESTBED_COUNTER.fetch_add(1, Ordering::SeqCst);
        let nonce = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            & 0xffff;
        let id = format!("{pid}-{counter}-{nonce:04x}");
        let network = format!("keel-tb-{id}");
        // Spread concurrent processes over the range, then walk it.
        let start = pid.wrapping_mul(37).wrapping_add(counter.wrapping_mul(11)) % 256;
        let Some(octet) = (0..256u32)
            .map(|i| ((start + i + tried) % 256) as u8)
            .find(|o| !used.contains(o))
        else {
            break;
        };
        let subnet = format!("10.231.{octet}.0/24");
        let mut cmd = docker([
            "network",
            "create",
            "--driver",
            "bridge",
            "--subnet",
            subnet.as_str(),
            "--label",
            format!("{LABEL_TESTBED}={id}").as_str(),
            "--label",
            format!("{LABEL_PID}={pid}").as_str(),
            "--label",
            format!("{LABEL_SCOPE}={scope}").as_str(),
        ]);
        if keep {
            cmd.args(["--label", &format!("{LABEL_KEEP}=1")]);
        }
        for l in labels {
            cmd.args(["--label", l]);
        }
        cmd.arg(&network);
        let out = run(&mut cmd)?;
        if out.status.success() {
            return Ok((id, network, octet));
        }
        last = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let lower = last.to_lowercase();
        if lower.contains("overlap") {
            tried += 1;
        } else if lower.contains("already exists") {
            // Name clash with a leftover; a new id is picked on the next turn.
        } else {
            check(&cmd, &out)?;
        }
    }
    Err(SandboxError::NoFreeSubnet { tried, last })
}

impl Drop for Testbed {
    fn drop(&mut self) {
        if self.persistent {
            if let Some(d) = self.dir.take() {
                let _ = d.close();
            }
            return;
        }
        if self.keep {
            if let Some(d) = self.dir.take() {
                let _ = d.keep();
            }
            eprintln!(
                "keel sandbox: KEEL_KEEP_TESTBED=1, keeping testbed {id}: network {net} ({subnet}), \
                 containers `docker ps --filter label={LABEL_TESTBED}={id}`, \
                 ssh with `ssh -F {cfg} root@<ip>`",
                id = self.id,
                net = self.network,
                subnet = self.subnet(),
                cfg = self.ssh_config.display(),
            );
            return;
        }
        let filter = format!("label={LABEL_TESTBED}={}", self.id);
        if let Ok(ids) = run_ok(&mut docker(["ps", "-aq", "--filter", filter.as_str()]))
            && !ids.is_empty()
        {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.split_whitespace());
            run_quiet(&args);
        }
        run_quiet(["network", "rm", self.network.as_str()]);
        if let Some(d) = self.dir.take() {
            let _ = d.close();
        }
    }
}

impl SandboxHost {
    /// `ip:port`, for connecting.
    pub fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::from((self.ip, port))
    }

    /// Runs `cmd` with `sh -c` inside the host through `docker exec` (not SSH):
    /// for tests to inspect or prepare the host directly.
    pub fn exec(&self, cmd: &str) -> Result<Output> {
        run(&mut docker([
            "exec",
            self.container.as_str(),
            "sh",
            "-c",
            cmd,
        ]))
    }

    /// Like [`exec`](Self::exec) but fails unless `cmd` exits 0; returns its
    /// stdout without trailing whitespace.
    pub fn exec_ok(&self, cmd: &str) -> Result<String> {
        let mut c = docker(["exec", self.container.as_str(), "sh", "-c", cmd]);
        let out = run(&mut c)?;
        check(&c, &out)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// A `ssh -F <testbed ssh_config> -p <port> root@<ip>` command to which
    /// the caller appends the remote command (real SSH, strict host keys).
    pub fn ssh_command(&self, testbed: &Testbed, port: u16) -> Command {
        let mut c = Command::new("ssh");
        c.arg("-F")
            .arg(testbed.ssh_config_path())
            .arg("-p")
            .arg(port.to_string())
            .arg(format!("root@{}", self.ip))
            .stdin(Stdio::null());
        c
    }

    /// Runs `cmd` on the host over real SSH (port 22) as root.
    pub fn ssh(&self, testbed: &Testbed, cmd: &str) -> Result<Output> {
        self.ssh_port(testbed, 22, cmd)
    }

    /// Runs `cmd` on the host over real SSH on `port` as root.
    pub fn ssh_port(&self, testbed: &Testbed, port: u16, cmd: &str) -> Result<Output> {
        let mut c = self.ssh_command(testbed, port);
        c.arg("--").arg(cmd);
        c.output().map_err(|e| spawn_error(&c, e))
    }

    /// Like [`ssh`](Self::ssh) but fails unless `cmd` exits 0; returns its
    /// stdout without trailing whitespace.
    pub fn ssh_ok(&self, testbed: &Testbed, cmd: &str) -> Result<String> {
        let mut c = self.ssh_command(testbed, 22);
        c.arg("--").arg(cmd);
        let out = c.output().map_err(|e| spawn_error(&c, e))?;
        check(&c, &out)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// The host's ed25519 host key as `"ssh-ed25519 AAAA…"`.
    pub fn host_public_key(&self) -> Result<String> {
        let content = self.exec_ok(&format!("cat {HOST_KEY_PATH}"))?;
        parse_public_key(&content).ok_or_else(|| SandboxError::BadHostKey {
            name: self.name.clone(),
            path: HOST_KEY_PATH.into(),
            content,
        })
    }

    /// Cuts the host off the testbed network (`docker network disconnect`).
    pub fn disconnect(&self) -> Result<()> {
        run_ok(&mut docker([
            "network",
            "disconnect",
            "--force",
            self.network.as_str(),
            self.container.as_str(),
        ]))
        .map(drop)
    }

    /// Reconnects the host to the testbed network with its address.
    pub fn connect(&self) -> Result<()> {
        let ip = self.ip.to_string();
        run_ok(&mut docker([
            "network",
            "connect",
            "--ip",
            ip.as_str(),
            self.network.as_str(),
            self.container.as_str(),
        ]))
        .map(drop)
    }

    /// Shuts the host down cleanly (systemd shutdown; `docker stop`).
    pub fn stop(&self) -> Result<()> {
        run_ok(&mut docker(["stop", "-t", "20", self.container.as_str()])).map(drop)
    }

    /// Pulls the plug (`docker kill`).
    pub fn kill(&self) -> Result<()> {
        run_ok(&mut docker(["kill", self.container.as_str()])).map(drop)
    }

    /// Boots a stopped or killed host again (same disk, address and host keys)
    /// and waits for sshd on port 22.
    pub fn start(&self) -> Result<()> {
        run_ok(&mut docker(["start", self.container.as_str()]))?;
        self.wait_for_ssh(22, ssh_timeout())
    }

    /// True while the container runs.
    pub fn is_running(&self) -> bool {
        run_ok(&mut docker([
            "inspect",
            "--format",
            "{{.State.Running}}",
            self.container.as_str(),
        ]))
        .map(|s| s == "true")
        .unwrap_or(false)
    }

    fn install_authorized_key(&self, public_key: &str) -> Result<()> {
        let script = "umask 077 && mkdir -p /root/.ssh && chmod 700 /root/.ssh \
                      && printf '%s\\n' \"$1\" > /root/.ssh/authorized_keys \
                      && chmod 600 /root/.ssh/authorized_keys";
        run_ok(&mut docker([
            "exec",
            self.container.as_str(),
            "sh",
            "-c",
            script,
            "sh",
            public_key,
        ]))
        .map(drop)
    }

    /// Polls until sshd sends its banner on `port` (from this machine, over
    /// the docker network), failing after `timeout` with diagnostics.
    pub fn wait_for_ssh(&self, port: u16, timeout: Duration) -> Result<()> {
        let addr = self.addr(port);
        let started = Instant::now();
        let mut last = String::from("not tried");
        let mut polls = 0u32;
        while started.elapsed() < timeout {
            match ssh_banner(addr) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            polls += 1;
            if polls.is_multiple_of(10) && !self.is_running() {
                return Err(SandboxError::HostDied {
                    name: self.name.clone(),
                    container: self.container.clone(),
                    logs: logs_tail(&self.container, 40),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut diagnostics = format!(
            "last attempt: {last}\n--- last lines of `docker logs {}` ---\n{}",
            self.container,
            logs_tail(&self.container, 40)
        );
        if let Ok(out) = self.exec(
            "systemctl is-system-running; systemctl --failed --no-pager; \
             systemctl status --no-pager -n 15 ssh.service keel-testbed-ssh-keygen.service",
        ) {
            diagnostics.push_str("\n--- systemd inside the host ---\n");
            diagnostics.push_str(&String::from_utf8_lossy(&out.stdout));
            diagnostics.push_str(&String::from_utf8_lossy(&out.stderr));
        }
        Err(SandboxError::SshTimeout {
            name: self.name.clone(),
            addr: addr.to_string(),
            secs: timeout.as_secs(),
            diagnostics,
        })
    }
}

/// Connects to `addr` and checks that an SSH server greets us.
fn ssh_banner(addr: SocketAddr) -> std::result::Result<(), String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while got.len() < 4 {
        let n = s
            .read(&mut buf)
            .map_err(|e| format!("read banner from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    if got.starts_with(b"SSH-") {
        Ok(())
    } else {
        Err(format!(
            "{addr} answered without an SSH banner: {:?}",
            String::from_utf8_lossy(&got)
        ))
    }
}

impl Drop for SandboxHost {
    fn drop(&mut self) {
        if self.persistent {
            return;
        }
        if self.keep {
            eprintln!(
                "keel sandbox: KEEL_KEEP_TESTBED=1, keeping host {} ({}) in container {}",
                self.name, self.ip, self.container
            );
            return;
        }
        run_quiet(["rm", "-f", "-v", self.container.as_str()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("web1"));
        assert!(valid_name("db-primary"));
        assert!(!valid_name(""));
        assert!(!valid_name("-x"));
        assert!(!valid_name("Web"));
        assert!(!valid_name("a b"));
        assert!(!valid_name(&"a".repeat(41)));
    }

    #[test]
    fn public_keys() {
        assert_eq!(
            parse_public_key("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOx root@web1\n").as_deref(),
            Some("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOx")
        );
        assert_eq!(parse_public_key("cat: no such file"), None);
        assert_eq!(parse_public_key(""), None);
    }
}
