//! Thin helpers around the `docker` CLI (and other external programs) used by
//! the sandbox: running a command and turning failures into [`SandboxError`]s,
//! checking that the engine is up, and removing resources that a killed test
//! process left behind.

use super::{Result, SandboxError};
use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

/// Label carrying a testbed's id on every container and network it creates.
pub(crate) const LABEL_TESTBED: &str = "keel.testbed";
/// Label carrying the id of the process that created a resource.
pub(crate) const LABEL_PID: &str = "keel.testbed.pid";
/// Label identifying the process's boot and pid namespace (see [`process_scope`]).
pub(crate) const LABEL_SCOPE: &str = "keel.testbed.scope";
/// Label set on resources that were created with `KEEL_KEEP_TESTBED=1`.
pub(crate) const LABEL_KEEP: &str = "keel.testbed.keep";

/// Prefix of testbed directories (in [`short_tmp`]).
pub(crate) const DIR_PREFIX: &str = "ktb";
/// File in a testbed directory naming the owning process: pid, scope, keep flag.
pub(crate) const OWNER_FILE: &str = "owner";

/// A directory for short paths (unix socket paths are limited to ~108 bytes).
pub(crate) fn short_tmp() -> std::path::PathBuf {
    let tmp = std::path::Path::new("/tmp");
    if tmp.is_dir() {
        tmp.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A `docker` command with the given arguments.
pub(crate) fn docker<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new("docker");
    cmd.args(args);
    cmd
}

/// The command line of `cmd`, for error messages.
pub(crate) fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(char::is_whitespace) {
            s.push_str(&format!("{a:?}"));
        } else {
            s.push_str(&a);
        }
    }
    if s.len() > 300 {
        let mut cut = 300;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Maps a spawn error: a missing `docker` binary is [`SandboxError::DockerUnavailable`],
/// a missing other binary is [`SandboxError::ToolMissing`].
pub(crate) fn spawn_error(cmd: &Command, source: std::io::Error) -> SandboxError {
    let program = cmd.get_program().to_string_lossy().into_owned();
    if source.kind() == std::io::ErrorKind::NotFound {
        if program == "docker" {
            return SandboxError::DockerUnavailable {
                detail: "the `docker` command was not found in PATH".into(),
            };
        }
        return SandboxError::ToolMissing {
            why: format!("`{}` could not be started ({source})", describe(cmd)),
            tool: program,
        };
    }
    SandboxError::Spawn {
        command: describe(cmd),
        source,
    }
}

/// Runs `cmd` to completion, capturing its output; only spawn failures are errors.
pub(crate) fn run(cmd: &mut Command) -> Result<Output> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(cmd, e))
}

/// Runs `cmd` and returns its trimmed stdout; a non-zero exit is an error.
pub(crate) fn run_ok(cmd: &mut Command) -> Result<String> {
    let out = run(cmd)?;
    check(cmd, &out)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Turns an unsuccessful `out` of `cmd` into [`SandboxError::CommandFailed`].
pub(crate) fn check(cmd: &Command, out: &Output) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if stderr.is_empty() {
        stderr = String::from_utf8_lossy(&out.stdout).trim().to_string();
    }
    Err(SandboxError::CommandFailed {
        command: describe(cmd),
        status: out.status.to_string(),
        stderr,
    })
}

/// Runs a docker command ignoring every outcome (for clean-up in `Drop`).
pub(crate) fn run_quiet<I, S>(args: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let _ = docker(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Checks that the docker CLI exists and the engine answers.
///
/// Returns the engine's version on success, and a loud
/// [`SandboxError::DockerUnavailable`] (which says how to fix it) otherwise.
pub fn docker_available() -> Result<String> {
    let mut cmd = docker(["version", "--format", "{{.Server.Version}}"]);
    let out = run(&mut cmd)?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && !version.is_empty() {
        return Ok(version);
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    Err(SandboxError::DockerUnavailable {
        detail: if stderr.is_empty() {
            "`docker version` could not reach the docker engine (is dockerd running?)".into()
        } else {
            format!("the docker engine does not answer: {stderr}")
        },
    })
}

/// Last `lines` lines of a container's log (stdout and stderr), or a note why not.
pub(crate) fn logs_tail(container: &str, lines: u32) -> String {
    let lines = lines.to_string();
    match docker(["logs", "--tail", lines.as_str(), container]).output() {
        Ok(out) => {
            let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&out.stderr));
            if s.trim().is_empty() {
                "(empty: systemd logs to the journal, not to the console)".into()
            } else {
                s
            }
        }
        Err(e) => format!("(docker logs failed: {e})"),
    }
}

/// Identifies this process's kernel boot and pid namespace, so that a stale
/// resource's pid is only interpreted where it means something.
pub(crate) fn process_scope() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().chars().take(8).collect::<String>())
        .unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| {
            p.to_string_lossy()
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
        })
        .unwrap_or_default();
    format!("{boot}-{ns}")
}

fn pid_alive(pid: &str) -> bool {
    match pid.parse::<u32>() {
        Ok(p) => std::path::Path::new(&format!("/proc/{p}")).exists(),
        // Unparseable: not ours to judge, leave it alone.
        Err(_) => true,
    }
}

/// Lists `(name, pid, scope, keep)` of resources of `kind` (`ps -a` or `network ls`).
fn labelled(kind: &[&str]) -> Result<Vec<(String, String, String, String)>> {
    let format = format!(
        "{{{{.Names}}}}\t{{{{.Label \"{LABEL_PID}\"}}}}\t{{{{.Label \"{LABEL_SCOPE}\"}}}}\t{{{{.Label \"{LABEL_KEEP}\"}}}}"
    );
    let format = if kind[0] == "network" {
        format.replacen(".Names", ".Name", 1)
    } else {
        format
    };
    let filter = format!("label={LABEL_PID}");
    let mut args: Vec<&str> = kind.to_vec();
    args.extend(["--filter", filter.as_str(), "--format", format.as_str()]);
    let out = run_ok(&mut docker(&args))?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((
                f.next()?.to_string(),
                f.next()?.to_string(),
                f.next().unwrap_or("").to_string(),
                f.next().unwrap_or("").to_string(),
            ))
        })
        .collect())
}

/// Removes containers (with their anonymous volumes), networks and testbed
/// directories that were created by sandbox processes of this machine which no
/// longer exist (for example test runs killed with Ctrl-C). Resources created
/// with `KEEL_KEEP_TESTBED=1` are left alone. Returns how many were removed.
pub fn cleanup_stale() -> Result<usize> {
    let scope = process_scope();
    let stale = |(_, pid, s, keep): &(String, String, String, String)| {
        *s == scope && keep.is_empty() && !pid_alive(pid)
    };
    let mut removed = 0;
    let containers: Vec<String> = labelled(&["ps", "-a"])?
        .into_iter()
        .filter(stale)
        .map(|r| r.0)
        .collect();
    if !containers.is_empty() {
        let mut args = vec!["rm".to_string(), "-f".into(), "-v".into()];
        args.extend(containers.iter().cloned());
        run_quiet(&args);
        removed += containers.len();
    }
    for (name, ..) in labelled(&["network", "ls"])?.into_iter().filter(stale) {
        run_quiet(["network", "rm", name.as_str()]);
        removed += 1;
    }
    removed += remove_stale_dirs(&scope);
    Ok(removed)
}

/// Removes testbed directories whose owner file names a dead process of this
/// scope (and no keep flag).
fn remove_stale_dirs(scope: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(short_tmp()) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let Ok(owner) = std::fs::read_to_string(e.path().join(OWNER_FILE)) else {
            continue;
        };
        let mut f = owner.lines();
        let (Some(pid), Some(s), Some(keep)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if s == scope && keep == "0" && !pid_alive(pid) && std::fs::remove_dir_all(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Removes every container (with its anonymous volumes) and network that
/// carries `label` (`key=value`), e.g. the hosts of a persistent testbed
/// started by another process. Returns `(containers, networks)` removed.
pub fn remove_labelled(label: &str) -> Result<(usize, usize)> {
    docker_available()?;
    let filter = format!("label={label}");
    let ids = run_ok(&mut docker(["ps", "-aq", "--filter", filter.as_str()]))?;
    let containers: Vec<&str> = ids.split_whitespace().collect();
    if !containers.is_empty() {
        let mut args = vec!["rm", "-f", "-v"];
        args.extend(containers.iter().copied());
        run_ok(&mut docker(&args))?;
    }
    let nets = run_ok(&mut docker([
        "network",
        "ls",
        "-q",
        "--filter",
        filter.as_str(),
    ]))?;
    let networks: Vec<&str> = nets.split_whitespace().collect();
    for n in &networks {
        run_ok(&mut docker(["network", "rm", n]))?;
    }
    Ok((containers.len(), networks.len()))
}
